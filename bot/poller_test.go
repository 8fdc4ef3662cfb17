package bot

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/penahbot/penah/bot/telegramtest"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
)

// testTimeout is the long-poll timeout of the tests: short, so a test never waits long for one.
const testTimeout = time.Second

const sealPrefix = "sealed:"

// testSeal stands in for the vault: it hides the raw bytes (base64) behind a prefix, so a test can
// both check that the plain text is not stored and recover the update.
func testSeal(_ int64, raw []byte) ([]byte, error) {
	return []byte(sealPrefix + base64.StdEncoding.EncodeToString(raw)), nil
}

func testUnseal(t *testing.T, body []byte) []byte {
	t.Helper()
	enc, ok := strings.CutPrefix(string(body), sealPrefix)
	if !ok {
		t.Fatalf("stored body is not sealed: %.40q", body)
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("stored body: %v", err)
	}
	return raw
}

func testChatKey(chat int64) intake.SessionKey {
	return intake.SessionKey("k" + strconv.FormatInt(chat, 10))
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t *testing.T) (*boltstore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "penah.db")
	st, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

func newPoller(srv *telegramtest.Server, st PollStore) *Poller {
	return &Poller{
		APIURL:  srv.URL(),
		Token:   srv.Token(),
		Store:   st,
		Seal:    testSeal,
		ChatKey: testChatKey,
		Timeout: testTimeout,
		Logger:  quietLogger(),
	}
}

// start runs p until the test ends or stop is called; stop returns Run's error.
func start(t *testing.T, p *Poller) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				err = errors.New("Run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func offsetIs(t *testing.T, st PollStore, want int64) func() bool {
	return func() bool {
		got, err := st.Offset(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return got == want
	}
}

// drain takes the pending updates of a chat from the inbox, in order.
func drain(t *testing.T, st *boltstore.Store, chat intake.SessionKey) []intake.Update {
	t.Helper()
	ctx := context.Background()
	var out []intake.Update
	for {
		u, err := st.NextUpdate(ctx, chat)
		if err != nil {
			t.Fatal(err)
		}
		if u == nil {
			return out
		}
		out = append(out, *u)
		if err := st.DoneUpdate(ctx, chat, u.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// storedText unseals an update and returns its update_id and the text it carries.
func storedText(t *testing.T, u intake.Update) (int64, string) {
	t.Helper()
	var m models.Update
	if err := json.Unmarshal(testUnseal(t, u.Body), &m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Message != nil:
		return m.ID, m.Message.Text
	case m.EditedMessage != nil:
		return m.ID, m.EditedMessage.Text
	case m.CallbackQuery != nil:
		return m.ID, m.CallbackQuery.Data
	}
	return m.ID, ""
}

// countingStore counts PutUpdate calls and can fail the first failFirst of them.
type countingStore struct {
	PollStore
	mu        sync.Mutex
	puts      int
	failFirst int
}

func (s *countingStore) PutUpdate(ctx context.Context, u intake.Update) (bool, error) {
	s.mu.Lock()
	s.puts++
	fail := s.puts <= s.failFirst
	s.mu.Unlock()
	if fail {
		return false, fmt.Errorf("test: disk hiccup: %w", intake.ErrUnavailable)
	}
	return s.PollStore.PutUpdate(ctx, u)
}

// PutUpdates counts each update as a put; a call that reaches into the first failFirst puts fails.
func (s *countingStore) PutUpdates(ctx context.Context, us []intake.Update) ([]bool, error) {
	s.mu.Lock()
	fail := s.puts < s.failFirst
	s.puts += len(us)
	s.mu.Unlock()
	if fail {
		return nil, fmt.Errorf("test: disk hiccup: %w", intake.ErrUnavailable)
	}
	return s.PollStore.PutUpdates(ctx, us)
}

func (s *countingStore) Puts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

func offsetParam(t *testing.T, c telegramtest.Call) int64 {
	t.Helper()
	n, err := strconv.ParseInt(c.Params.Get("offset"), 10, 64)
	if err != nil {
		t.Fatalf("getUpdates offset %q: %v", c.Params.Get("offset"), err)
	}
	return n
}

func TestPollerStoresSealedUpdatesInOrder(t *testing.T) {
	srv := telegramtest.New(t)
	st, path := openStore(t)
	alice, bob := srv.User(101), srv.User(202)
	a1 := alice.SendText("first secret from alice")
	b1 := bob.SendText("bob's only secret")
	a2 := alice.SendText("second secret from alice")

	start(t, newPoller(srv, st))
	waitFor(t, "the offset to pass the batch", offsetIs(t, st, a2.UpdateID+1))

	type got struct {
		id   int64
		text string
	}
	check := func(chat int64, want []got) {
		t.Helper()
		us := drain(t, st, testChatKey(chat))
		if len(us) != len(want) {
			t.Fatalf("chat %d: %d updates stored, want %d", chat, len(us), len(want))
		}
		for i, u := range us {
			if u.Chat != testChatKey(chat) || u.Received.IsZero() {
				t.Errorf("chat %d update %d: chat key %q, received %v", chat, i, u.Chat, u.Received)
			}
			id, text := storedText(t, u)
			if u.ID != want[i].id || id != want[i].id || text != want[i].text {
				t.Errorf("chat %d update %d: id %d (body %d) %q, want %d %q", chat, i, u.ID, id, text, want[i].id, want[i].text)
			}
		}
	}
	check(alice.ChatID(), []got{{a1.UpdateID, "first secret from alice"}, {a2.UpdateID, "second secret from alice"}})
	check(bob.ChatID(), []got{{b1.UpdateID, "bob's only secret"}})

	// What people typed never reaches the database file in the clear.
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"first secret", "bob's only secret", "second secret"} {
		if bytes.Contains(file, []byte(s)) {
			t.Errorf("the store's file holds %q in plain text", s)
		}
	}

	// The request asks only for what Penah handles.
	calls := srv.CallsTo("getUpdates", 0)
	if len(calls) == 0 {
		t.Fatal("no getUpdates call")
	}
	if got := calls[0].Params.Get("allowed_updates"); got != `["message","edited_message","callback_query"]` {
		t.Errorf("allowed_updates = %s", got)
	}
	if got := calls[0].Params.Get("limit"); got != strconv.Itoa(PollLimit) {
		t.Errorf("limit = %s", got)
	}
}

func TestPollerRestartFetchesNothingTwice(t *testing.T) {
	srv := telegramtest.New(t)
	st, _ := openStore(t)
	p := srv.User(7)
	var last int64
	for _, s := range []string{"one", "two", "three"} {
		last = p.SendText(s).UpdateID
	}

	first := &countingStore{PollStore: st}
	stop := start(t, newPoller(srv, first))
	waitFor(t, "the first poller's offset", offsetIs(t, st, last+1))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if first.Puts() != 3 {
		t.Fatalf("first poller stored %d updates, want 3", first.Puts())
	}

	before := len(srv.CallsTo("getUpdates", 0))
	second := &countingStore{PollStore: st}
	start(t, newPoller(srv, second))
	calls, err := srv.WaitCalls(context.Background(), "getUpdates", 0, before+1)
	if err != nil {
		t.Fatal(err)
	}
	if got := offsetParam(t, calls[before]); got != last+1 {
		t.Fatalf("restarted poller asked from offset %d, want %d", got, last+1)
	}
	four := p.SendText("four").UpdateID
	waitFor(t, "the new update's offset", offsetIs(t, st, four+1))
	if second.Puts() != 1 {
		t.Fatalf("restarted poller stored %d updates, want only the new one", second.Puts())
	}
	if us := drain(t, st, testChatKey(7)); len(us) != 4 {
		t.Fatalf("%d updates in the inbox, want 4", len(us))
	}
}

func TestPollerDoesNotConfirmWhatItCouldNotStore(t *testing.T) {
	srv := telegramtest.New(t)
	st, _ := openStore(t)
	p := srv.User(9)
	id := p.SendText("please keep me").UpdateID

	flaky := &countingStore{PollStore: st, failFirst: 1}
	start(t, newPoller(srv, flaky))
	waitFor(t, "the offset after the retry", offsetIs(t, st, id+1))

	calls := srv.CallsTo("getUpdates", 0)
	if len(calls) < 2 {
		t.Fatalf("%d getUpdates calls, want the failed round and its retry", len(calls))
	}
	// The round after the failed write asks for the same updates again (not confirming them).
	if a, b := offsetParam(t, calls[0]), offsetParam(t, calls[1]); a != b || b > id {
		t.Errorf("offsets %d then %d after a failed write; want the same, at most %d", a, b, id)
	}
	if gap := calls[1].At.Sub(calls[0].At); gap < BackoffInitial*9/10 {
		t.Errorf("retried after %v, want a backoff of about %v", gap, BackoffInitial)
	}
	us := drain(t, st, testChatKey(9))
	if len(us) != 1 || us[0].ID != id {
		t.Fatalf("inbox holds %v, want update %d", us, id)
	}
	if _, text := storedText(t, us[0]); text != "please keep me" {
		t.Errorf("stored text %q", text)
	}
}

func TestPollerHonoursRetryAfter(t *testing.T) {
	srv := telegramtest.New(t)
	st, _ := openStore(t)
	inj := srv.Inject(telegramtest.TooManyRequests("getUpdates", 0, 1, 1))
	id := srv.User(5).SendText("after the wait").UpdateID

	start(t, newPoller(srv, st))
	waitFor(t, "the offset after the 429", offsetIs(t, st, id+1))

	calls := srv.CallsTo("getUpdates", 0)
	if inj.Hits() != 1 || len(calls) < 2 || calls[0].ErrorCode != http.StatusTooManyRequests || !calls[1].OK() {
		t.Fatalf("want a 429 then a success; calls: %+v", calls)
	}
	if gap := calls[1].At.Sub(calls[0].At); gap < 900*time.Millisecond {
		t.Errorf("next getUpdates %v after a 429 with retry_after=1", gap)
	}
}

func TestPollerStopsOnBadToken(t *testing.T) {
	srv := telegramtest.New(t)
	st, _ := openStore(t)
	p := newPoller(srv, st)
	p.Token = "123456:definitely-wrong"
	// The fake does not record calls it rejects for their token, so count them on the way out.
	var requests countingTransport
	p.Client = &http.Client{Transport: &requests}

	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("Run returned %v, want ErrUnauthorized", err)
		}
		if strings.Contains(err.Error(), p.Token) {
			t.Errorf("the error shows the token: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Run kept going with a rejected token")
	}
	if n := requests.n.Load(); n != 1 {
		t.Errorf("%d requests with a rejected token, want 1", n)
	}
}

// countingTransport counts the requests it passes to http.DefaultTransport.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestPollerBacksOffOnServerErrors(t *testing.T) {
	srv := telegramtest.New(t)
	st, _ := openStore(t)
	srv.Inject(telegramtest.ServerError("getUpdates", http.StatusBadGateway, 2))
	id := srv.User(3).SendText("through the outage").UpdateID

	var mu sync.Mutex
	var waits []time.Duration
	p := newPoller(srv, st)
	p.Sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	start(t, p)
	waitFor(t, "the offset after the outage", offsetIs(t, st, id+1))
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 2 || waits[0] != BackoffInitial || waits[1] != 2*BackoffInitial {
		t.Errorf("waits %v, want %v then %v", waits, BackoffInitial, 2*BackoffInitial)
	}
}

func TestBackoffIsCapped(t *testing.T) {
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{{0, BackoffInitial}, {1, 2 * BackoffInitial}, {5, 32 * BackoffInitial}, {6, BackoffMax}, {1000, BackoffMax}} {
		if got := backoff(tc.failures); got != tc.want {
			t.Errorf("backoff(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}

func TestPollerStoresCallbacksAndEdits(t *testing.T) {
	srv := telegramtest.New(t)
	st, _ := openStore(t)
	p := srv.User(11)
	sent := p.SendText("hello")
	// The bot's message with a button, sent straight to the fake.
	body := `{"chat_id":11,"text":"Continue?","reply_markup":{"inline_keyboard":[[{"text":"Yes","callback_data":"c:yes"}]]}}`
	resp, err := http.Post(srv.URL()+"/bot"+srv.Token()+"/sendMessage", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sendMessage: %s", resp.Status)
	}
	if _, err := p.Press("Yes"); err != nil {
		t.Fatal(err)
	}
	edit, err := p.Edit(sent.Message.ID, "hello again")
	if err != nil {
		t.Fatal(err)
	}

	start(t, newPoller(srv, st))
	waitFor(t, "the offset after the edit", offsetIs(t, st, edit.UpdateID+1))
	var texts []string
	for _, u := range drain(t, st, testChatKey(11)) {
		_, text := storedText(t, u)
		texts = append(texts, text)
	}
	if want := []string{"hello", "c:yes", "hello again"}; strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("stored %q, want %q", texts, want)
	}
}

func TestUpdateChat(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		chat int64
		ok   bool
	}{
		{"message", `{"update_id":1,"message":{"message_id":1,"date":5,"chat":{"id":42,"type":"private"}}}`, 42, true},
		{"edited", `{"update_id":1,"edited_message":{"message_id":1,"date":5,"chat":{"id":43,"type":"private"}}}`, 43, true},
		{"callback", `{"update_id":1,"callback_query":{"id":"x","chat_instance":"c","message":{"message_id":1,"date":5,"chat":{"id":44,"type":"private"}}}}`, 44, true},
		{"callback on an inaccessible message", `{"update_id":1,"callback_query":{"id":"x","chat_instance":"c","message":{"message_id":1,"date":0,"chat":{"id":45,"type":"private"}}}}`, 45, true},
		{"inline callback", `{"update_id":1,"callback_query":{"id":"x","chat_instance":"c","inline_message_id":"m"}}`, 0, false},
		{"other kind", `{"update_id":1,"poll":{"id":"p"}}`, 0, false},
	} {
		var u models.Update
		if err := json.Unmarshal([]byte(tc.json), &u); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		chat, ok := updateChat(&u)
		if chat != tc.chat || ok != tc.ok {
			t.Errorf("%s: updateChat = %d, %v; want %d, %v", tc.name, chat, ok, tc.chat, tc.ok)
		}
	}
}

// TestPollerDeadLettersUndecodableUpdates: an update that does not decode is kept as a dead
// letter (sealed), the rest of its batch is stored, and the offset moves past the batch.
func TestPollerDeadLettersUndecodableUpdates(t *testing.T) {
	st, _ := openStore(t)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			fmt.Fprint(w, `{"ok":true,"result":[{"update_id":5,"message":"not an object"},`+
				`{"update_id":6,"message":{"message_id":1,"date":1700000000,"text":"hi","chat":{"id":42,"type":"private"}}}]}`)
			return
		}
		time.Sleep(50 * time.Millisecond)
		fmt.Fprint(w, `{"ok":true,"result":[]}`)
	}))
	defer srv.Close()
	var dead []string
	var mu sync.Mutex
	p := &Poller{APIURL: srv.URL, Token: "1:x", Store: st, Seal: testSeal, ChatKey: testChatKey, Timeout: testTimeout, Logger: quietLogger(),
		DeadLetter: func(_ context.Context, source, reason string, raw []byte) error {
			mu.Lock()
			defer mu.Unlock()
			dead = append(dead, source+"/"+reason+"/"+string(raw))
			return nil
		}}
	stop := start(t, p)
	waitFor(t, "offset 7", offsetIs(t, st, 7))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dead) != 1 || !strings.HasPrefix(dead[0], `poll/json/{"update_id":5`) {
		t.Fatalf("dead letters %q, want update 5 from the poll", dead)
	}
	if got := drain(t, st, testChatKey(42)); len(got) != 1 || got[0].ID != 6 {
		t.Fatalf("stored %v, want update 6", got)
	}
}
