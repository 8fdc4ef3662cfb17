package bot

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penahbot/penah/bot/telegramtest"
	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
)

// senderRig is a Sender wired to the fake Bot API and a real bbolt outbox.
type senderRig struct {
	t     *testing.T
	srv   *telegramtest.Server
	store *dropCounter
	s     *Sender
	turns int
}

// dropCounter records DropChat calls on the real store.
type dropCounter struct {
	*boltstore.Store
	mu    sync.Mutex
	drops []intake.SessionKey
}

func (d *dropCounter) DropChat(ctx context.Context, chat intake.SessionKey) (int, error) {
	d.mu.Lock()
	d.drops = append(d.drops, chat)
	d.mu.Unlock()
	return d.Store.DropChat(ctx, chat)
}

func (d *dropCounter) dropped() []intake.SessionKey {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]intake.SessionKey(nil), d.drops...)
}

func newSenderRig(t *testing.T) *senderRig {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "penah.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := telegramtest.New(t)
	store := &dropCounter{Store: st}
	return &senderRig{t: t, srv: srv, store: store, s: &Sender{
		APIURL:       srv.URL(),
		Token:        srv.Token(),
		Store:        store,
		Open:         outboxOpen,
		Pacing:       50 * time.Millisecond,
		Idle:         10 * time.Millisecond,
		RetryInitial: 100 * time.Millisecond,
	}}
}

// testSeal and outboxOpen stand in for the vault: bodies are not stored as plain JSON.
func outboxSeal(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) }

func outboxOpen(_ intake.OutboxID, sealed []byte) ([]byte, error) {
	return base64.StdEncoding.DecodeString(string(sealed))
}

func chatKey(chatID int64) intake.SessionKey { return intake.SessionKey(fmt.Sprint("chat-", chatID)) }

// enqueue commits requests to the outbox in one turn, in order.
func (r *senderRig) enqueue(reqs ...OutboundRequest) {
	r.t.Helper()
	var msgs []intake.OutboxMessage
	for _, q := range reqs {
		body, err := EncodeRequest(q)
		if err != nil {
			r.t.Fatal(err)
		}
		msgs = append(msgs, r.message(q.ChatID, body))
	}
	r.commit(msgs)
}

func (r *senderRig) message(chatID int64, plain []byte) intake.OutboxMessage {
	r.t.Helper()
	id, err := intake.NewOutboxID()
	if err != nil {
		r.t.Fatal(err)
	}
	return intake.OutboxMessage{ID: id, Chat: chatKey(chatID), Body: outboxSeal(plain), Due: time.Now()}
}

func (r *senderRig) commit(msgs []intake.OutboxMessage) {
	r.t.Helper()
	r.turns++
	_, err := r.store.Commit(context.Background(), intake.Commit{
		Key:     intake.SessionKey(fmt.Sprint("turn-", r.turns)),
		Session: []byte("s"),
		Outbox:  msgs,
		Now:     time.Now(),
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

// run starts the sender and stops it (checking it returned nil) when the test ends.
func (r *senderRig) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.s.Run(ctx) }()
	r.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				r.t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			r.t.Error("Run did not stop after cancel")
		}
	})
}

// waitFor polls cond until it holds or 5 s pass.
func (r *senderRig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitEmpty waits until the outbox has nothing due, even far in the future.
func (r *senderRig) waitEmpty() {
	r.t.Helper()
	r.waitFor("empty outbox", func() bool {
		due, err := r.store.DueMessages(context.Background(), time.Now().Add(time.Hour), 10)
		return err == nil && len(due) == 0
	})
}

func text(chatID int64, s string) OutboundRequest {
	return OutboundRequest{Method: MethodSendMessage, ChatID: chatID, HTML: s, Protect: true}
}

func botSources(srv *telegramtest.Server, chatID int64) []string {
	var out []string
	for _, m := range srv.BotMessages(chatID) {
		out = append(out, m.Source)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSenderSendsInOrderWithMarkup(t *testing.T) {
	r := newSenderRig(t)
	r.srv.User(1)
	first := SendMessageRequest(1, Outgoing{HTML: "<b>one</b> &amp; more", Protect: true})
	second := SendMessageRequest(1, Outgoing{
		HTML:     "two",
		Keyboard: [][]engine.Button{{{Label: "Yes", Data: "y"}, {Label: "No", Data: "n"}}, {{Label: "Exit", Data: "x"}}},
		Protect:  true,
	})
	third := OutboundRequest{Method: MethodSendMessage, ChatID: 1, HTML: "three"} // not protected
	r.enqueue(first, second, third)

	// The stored bodies are sealed, not the plain request.
	due, err := r.store.DueMessages(context.Background(), time.Now(), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("DueMessages = %d, %v; want the chat's head", len(due), err)
	}
	if json.Valid(due[0].Body) {
		t.Fatalf("outbox body is plain JSON: %s", due[0].Body)
	}

	r.run()
	r.waitFor("three messages", func() bool { return len(r.srv.BotMessages(1)) == 3 })
	r.waitEmpty()

	msgs := r.srv.BotMessages(1)
	if got, want := botSources(r.srv, 1), []string{first.HTML, second.HTML, third.HTML}; !equalStrings(got, want) {
		t.Fatalf("messages = %q, want %q", got, want)
	}
	if msgs[0].Text != "one & more" {
		t.Errorf("first message text = %q, want HTML parsed", msgs[0].Text)
	}
	for i, m := range msgs {
		if m.ParseMode != "HTML" {
			t.Errorf("message %d parse mode = %q, want HTML", i, m.ParseMode)
		}
		if want := i < 2; m.ProtectContent != want {
			t.Errorf("message %d protect_content = %v, want %v", i, m.ProtectContent, want)
		}
	}
	if len(msgs[0].Keyboard) != 0 || len(msgs[2].Keyboard) != 0 {
		t.Errorf("keyboard on a message without one")
	}
	kb := msgs[1].Keyboard
	if len(kb) != 2 || len(kb[0]) != 2 || len(kb[1]) != 1 ||
		kb[0][0].Text != "Yes" || kb[0][0].CallbackData != "y" ||
		kb[0][1].Text != "No" || kb[0][1].CallbackData != "n" ||
		kb[1][0].Text != "Exit" || kb[1][0].CallbackData != "x" {
		t.Errorf("keyboard = %+v", kb)
	}
	if n := len(r.srv.CallsTo("sendMessage", 1)); n != 3 {
		t.Errorf("sendMessage calls = %d, want 3", n)
	}
}

func TestSenderPacesEachChat(t *testing.T) {
	const pacing = 200 * time.Millisecond
	const tolerance = 50 * time.Millisecond
	r := newSenderRig(t)
	r.s.Pacing = pacing
	for _, id := range []int64{1, 2, 3} {
		r.srv.User(id)
	}
	r.enqueue(text(1, "a1"), text(1, "a2"), text(2, "b"), text(3, "c"))
	r.run()
	r.waitFor("all messages", func() bool {
		return len(r.srv.BotMessages(1)) == 2 && len(r.srv.BotMessages(2)) == 1 && len(r.srv.BotMessages(3)) == 1
	})
	a := r.srv.CallsTo("sendMessage", 1)
	if len(a) != 2 {
		t.Fatalf("calls to chat 1 = %d, want 2", len(a))
	}
	if gap := a[1].At.Sub(a[0].At); gap < pacing-tolerance {
		t.Errorf("two messages to one chat %v apart, want ≥ %v", gap, pacing)
	}
	for _, id := range []int64{2, 3} {
		c := r.srv.CallsTo("sendMessage", id)[0]
		if !c.At.Before(a[1].At) || c.At.Sub(a[0].At) >= pacing-tolerance {
			t.Errorf("chat %d waited for chat 1's pacing: %v after its first message", id, c.At.Sub(a[0].At))
		}
	}
	if got := botSources(r.srv, 1); !equalStrings(got, []string{"a1", "a2"}) {
		t.Errorf("chat 1 got %q", got)
	}
}

func TestSenderHonoursRetryAfter(t *testing.T) {
	const x, y = 10, 20
	r := newSenderRig(t)
	r.srv.User(x)
	r.srv.User(y)
	flood := r.srv.Inject(telegramtest.FloodWait("sendMessage", x, time.Second))
	r.enqueue(text(x, "x1"), text(x, "x2"), text(x, "x3"), text(y, "y1"), text(y, "y2"))
	start := time.Now()
	r.run()
	r.waitFor("chat y's messages", func() bool { return len(r.srv.BotMessages(y)) == 2 })
	if d := time.Since(start); d >= time.Second {
		t.Errorf("chat y waited %v for chat x's flood wait", d)
	}
	r.waitFor("chat x's messages", func() bool { return len(r.srv.BotMessages(x)) == 3 })
	r.waitEmpty()

	if flood.Hits() == 0 {
		t.Fatal("the flood wait was never hit")
	}
	calls := r.srv.CallsTo("sendMessage", x)
	for i, c := range calls {
		if c.ErrorCode != 429 {
			continue
		}
		// The fake's FloodWait answers with the seconds left in its window, here 1.
		free := c.At.Add(time.Second)
		for _, later := range calls[i+1:] {
			if later.At.Before(free.Add(-20 * time.Millisecond)) {
				t.Errorf("sendMessage to chat x %v after a 429 with retry_after 1", later.At.Sub(c.At))
			}
		}
	}
	if got := botSources(r.srv, x); !equalStrings(got, []string{"x1", "x2", "x3"}) {
		t.Errorf("chat x got %q, want each message once in order", got)
	}
	if got := botSources(r.srv, y); !equalStrings(got, []string{"y1", "y2"}) {
		t.Errorf("chat y got %q", got)
	}
}

func TestSenderDropsBlockedChat(t *testing.T) {
	const blocked, other = 30, 31
	r := newSenderRig(t)
	r.srv.User(blocked).Block()
	r.srv.User(other)
	var told atomic.Value
	r.s.Blocked = func(chat intake.SessionKey) { told.Store(chat) }
	r.enqueue(text(blocked, "b1"), text(blocked, "b2"), text(blocked, "b3"), text(other, "o1"))
	r.run()
	r.waitFor("Blocked callback", func() bool { return told.Load() != nil })
	r.waitFor("the other chat's message", func() bool { return len(r.srv.BotMessages(other)) == 1 })
	r.waitEmpty()
	time.Sleep(150 * time.Millisecond) // several more loop rounds: nothing more may go to the chat

	if got := told.Load().(intake.SessionKey); got != chatKey(blocked) {
		t.Errorf("Blocked(%q), want %q", got, chatKey(blocked))
	}
	if d := r.store.dropped(); len(d) != 1 || d[0] != chatKey(blocked) {
		t.Errorf("DropChat calls = %q, want one for the blocked chat", d)
	}
	if calls := r.srv.CallsTo("sendMessage", blocked); len(calls) != 1 || calls[0].ErrorCode != 403 {
		t.Errorf("sendMessage calls to the blocked chat = %+v, want one 403", calls)
	}
}

func TestSenderRetriesServerError(t *testing.T) {
	r := newSenderRig(t)
	r.srv.User(40)
	r.srv.Inject(telegramtest.ServerError("sendMessage", 502, 1))
	r.enqueue(text(40, "hello"))
	r.run()
	r.waitFor("the message", func() bool { return len(r.srv.BotMessages(40)) == 1 })
	r.waitEmpty()
	calls := r.srv.CallsTo("sendMessage", 40)
	if len(calls) != 2 || calls[0].ErrorCode != 502 || !calls[1].OK() {
		t.Fatalf("calls = %+v, want a 502 then a success", calls)
	}
	if gap := calls[1].At.Sub(calls[0].At); gap < r.s.RetryInitial-20*time.Millisecond {
		t.Errorf("retried after %v, want ≥ %v", gap, r.s.RetryInitial)
	}
	if got := botSources(r.srv, 40); !equalStrings(got, []string{"hello"}) {
		t.Errorf("got %q, want the message once", got)
	}
}

func TestSenderDropsPermanentFailures(t *testing.T) {
	r := newSenderRig(t)
	r.srv.User(50)
	unknown, err := json.Marshal(OutboundRequest{Method: "sendPhoto", ChatID: 50})
	if err != nil {
		t.Fatal(err)
	}
	badEdit, err := EncodeRequest(OutboundRequest{Method: MethodEditMessageText, ChatID: 50, MessageID: 999, HTML: "x"})
	if err != nil {
		t.Fatal(err)
	}
	after, err := EncodeRequest(text(50, "after"))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := r.message(50, nil)
	corrupt.Body = []byte("not base64!")
	r.commit([]intake.OutboxMessage{
		r.message(50, unknown), // unknown method: never called
		corrupt,                // cannot be opened
		r.message(50, badEdit), // 400: the message to edit does not exist
		r.message(50, after),
	})
	r.run()
	r.waitFor("the last message", func() bool { return len(r.srv.BotMessages(50)) == 1 })
	r.waitEmpty()
	if n := r.srv.CallCount("sendPhoto"); n != 0 {
		t.Errorf("sendPhoto called %d times", n)
	}
	if calls := r.srv.CallsTo("editMessageText", 50); len(calls) != 1 || calls[0].ErrorCode != 400 {
		t.Errorf("editMessageText calls = %+v, want one 400", calls)
	}
}

func TestEncodeRequestRejects(t *testing.T) {
	for name, req := range map[string]OutboundRequest{
		"unknown method":       {Method: "sendPhoto", ChatID: 1},
		"no chat":              {Method: MethodSendMessage, HTML: "x"},
		"edit without id":      {Method: MethodEditMessageText, ChatID: 1, HTML: "x"},
		"delete without id":    {Method: MethodDeleteMessage, ChatID: 1},
		"answer without query": {Method: MethodAnswerCallbackQuery},
	} {
		if _, err := EncodeRequest(req); err == nil {
			t.Errorf("%s: EncodeRequest accepted %+v", name, req)
		}
	}
	if _, err := EncodeRequest(OutboundRequest{Method: "x", ChatID: 1}); !errors.Is(err, ErrUnknownMethod) {
		t.Errorf("unknown method: err = %v, want ErrUnknownMethod", err)
	}
	in := OutboundRequest{Method: MethodSendMessage, ChatID: 7, HTML: "<i>hi</i>", Protect: true,
		Keyboard: [][]OutButton{{{Label: "A", Data: "a"}}}}
	data, err := EncodeRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeRequest(data)
	if err != nil || out.HTML != in.HTML || out.ChatID != 7 || !out.Protect || out.Keyboard[0][0] != in.Keyboard[0][0] {
		t.Errorf("round trip = %+v, %v", out, err)
	}
}

func TestSenderRetryDelay(t *testing.T) {
	var s Sender
	for _, c := range []struct {
		attempts int
		want     time.Duration
	}{{0, time.Second}, {1, 2 * time.Second}, {2, 4 * time.Second}, {8, 256 * time.Second}, {9, RetryMax}, {1000, RetryMax}} {
		if got := s.retryDelay(c.attempts); got != c.want {
			t.Errorf("retryDelay(%d) = %v, want %v", c.attempts, got, c.want)
		}
	}
}
