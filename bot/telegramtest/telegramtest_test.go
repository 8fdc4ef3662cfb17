package telegramtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/penahbot/penah/bot/telegramtest"
)

// newBot returns a go-telegram/bot client of srv. Its getMe check runs against the fake.
func newBot(t *testing.T, srv *telegramtest.Server, opts ...bot.Option) *bot.Bot {
	t.Helper()
	opts = append([]bot.Option{
		bot.WithServerURL(srv.URL()),
		bot.WithHTTPClient(2*time.Second, &http.Client{Timeout: 5 * time.Second}),
		bot.WithErrorsHandler(func(error) {}),
	}, opts...)
	b, err := bot.New(srv.Token(), opts...)
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	return b
}

// poll starts the library's own polling loop (handlers in order) and returns the updates it decodes.
func poll(t *testing.T, srv *telegramtest.Server, opts ...bot.Option) (*bot.Bot, <-chan *models.Update) {
	t.Helper()
	updates := make(chan *models.Update, 100)
	b := newBot(t, srv, append(opts, bot.WithNotAsyncHandlers(), bot.WithDefaultHandler(func(_ context.Context, _ *bot.Bot, u *models.Update) {
		updates <- u
	}))...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return b, updates
}

func next(t *testing.T, updates <-chan *models.Update) *models.Update {
	t.Helper()
	select {
	case u := <-updates:
		return u
	case <-time.After(5 * time.Second):
		t.Fatal("no update within 5 s")
		return nil
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// envelope is the Bot API's answer.
type envelope struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
}

// raw calls method with fields encoded as go-telegram/bot encodes them (multipart/form-data), for the
// methods the library does not expose (getUpdates).
func raw(t *testing.T, srv *telegramtest.Server, method string, fields map[string]string) envelope {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = w.WriteField(k, v) // writes to a bytes.Buffer cannot fail
	}
	_ = w.Close()
	resp, err := http.Post(srv.URL()+"/bot"+srv.Token()+"/"+method, w.FormDataContentType(), &body)
	if err != nil {
		t.Errorf("%s: %v", method, err) // not Fatal: raw may run in a goroutine of its own
		return envelope{}
	}
	defer resp.Body.Close()
	var e envelope
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Errorf("%s: decoding answer: %v", method, err)
	}
	if !e.OK && resp.StatusCode != e.ErrorCode {
		t.Errorf("%s: HTTP status %d, error_code %d", method, resp.StatusCode, e.ErrorCode)
	}
	return e
}

func getUpdates(t *testing.T, srv *telegramtest.Server, fields map[string]string) []models.Update {
	t.Helper()
	e := raw(t, srv, "getUpdates", fields)
	if !e.OK {
		t.Fatalf("getUpdates: %d %s", e.ErrorCode, e.Description)
	}
	var us []models.Update
	if err := json.Unmarshal(e.Result, &us); err != nil {
		t.Fatal(err)
	}
	return us
}

func keyboard(rows ...[]string) *models.InlineKeyboardMarkup {
	kb := &models.InlineKeyboardMarkup{}
	for _, row := range rows {
		var r []models.InlineKeyboardButton
		for _, label := range row {
			r = append(r, models.InlineKeyboardButton{Text: label, CallbackData: "cb:" + label})
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, r)
	}
	return kb
}

func TestSendMessageWithKeyboardIsInTranscript(t *testing.T) {
	srv := telegramtest.New(t)
	b := newBot(t, srv)
	srv.User(42)

	sent, err := b.SendMessage(ctx(t), &bot.SendMessageParams{
		ChatID:         42,
		Text:           "<b>Are you safe</b> to talk? 😀 &amp; more",
		ParseMode:      models.ParseModeHTML,
		ProtectContent: true,
		ReplyMarkup:    keyboard([]string{"Yes", "No"}, []string{"Exit"}),
	})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if sent.ID != 1 || sent.Chat.ID != 42 || sent.Chat.Type != "private" || !sent.From.IsBot || !sent.HasProtectedContent {
		t.Errorf("returned message = %+v", sent)
	}
	if sent.Text != "Are you safe to talk? 😀 & more" {
		t.Errorf("returned text = %q", sent.Text)
	}
	if len(sent.Entities) != 1 || sent.Entities[0].Type != models.MessageEntityTypeBold || sent.Entities[0].Length != 12 {
		t.Errorf("returned entities = %+v", sent.Entities)
	}
	if sent.ReplyMarkup == nil || len(sent.ReplyMarkup.InlineKeyboard) != 2 || sent.ReplyMarkup.InlineKeyboard[1][0].CallbackData != "cb:Exit" {
		t.Errorf("returned keyboard = %+v", sent.ReplyMarkup)
	}

	tr := srv.Transcript(42)
	if len(tr) != 1 {
		t.Fatalf("transcript has %d messages, want 1", len(tr))
	}
	m := tr[0]
	if !m.FromBot || m.ParseMode != "HTML" || !m.ProtectContent || m.Source != "<b>Are you safe</b> to talk? 😀 &amp; more" {
		t.Errorf("transcript message = %+v", m)
	}
	if got := strings.Join(m.Buttons(), ","); got != "Yes,No,Exit" {
		t.Errorf("buttons = %s", got)
	}
	if bt, ok := m.Button("No"); !ok || bt.CallbackData != "cb:No" {
		t.Errorf("Button(No) = %+v, %v", bt, ok)
	}
	if calls := srv.CallsTo("sendMessage", 42); len(calls) != 1 || !calls[0].OK() || calls[0].Params.Get("protect_content") != "true" {
		t.Errorf("sendMessage calls = %+v", calls)
	}
}

func TestPressDeliversCallbackQueryTheLibraryDecodes(t *testing.T) {
	srv := telegramtest.New(t)
	b, updates := poll(t, srv)
	u := srv.User(7, telegramtest.WithLanguageCode("ar"), telegramtest.WithName("Layla", ""))

	sent, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 7, Text: "Pick", ReplyMarkup: keyboard([]string{"A", "B"})})
	if err != nil {
		t.Fatal(err)
	}
	id, err := u.Press("B")
	if err != nil {
		t.Fatalf("Press: %v", err)
	}
	up := next(t, updates)
	cq := up.CallbackQuery
	if cq == nil {
		t.Fatalf("update %+v has no callback_query", up)
	}
	if cq.ID != id || cq.Data != "cb:B" || cq.From.ID != 7 || cq.From.LanguageCode != "ar" || cq.ChatInstance == "" {
		t.Errorf("callback query = %+v", cq)
	}
	if cq.Message.Message == nil || cq.Message.Message.ID != sent.ID || cq.Message.Message.Chat.ID != 7 {
		t.Errorf("callback message = %+v", cq.Message)
	}

	if ok, err := b.AnswerCallbackQuery(ctx(t), &bot.AnswerCallbackQueryParams{CallbackQueryID: id, Text: "ok"}); !ok || err != nil {
		t.Fatalf("AnswerCallbackQuery = %v, %v", ok, err)
	}
	if a, ok := srv.CallbackAnswer(id); !ok || a.Text != "ok" {
		t.Errorf("CallbackAnswer = %+v, %v", a, ok)
	}
	_, err = b.AnswerCallbackQuery(ctx(t), &bot.AnswerCallbackQueryParams{CallbackQueryID: id})
	if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "query is too old") {
		t.Errorf("second answer: %v", err)
	}

	if _, err := u.Press("nope"); err == nil {
		t.Error("pressing a missing button succeeded")
	}
	// A press on an old message is still possible while it is visible.
	if _, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 7, Text: "Next"}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.PressOn(sent.ID, "A"); err != nil {
		t.Errorf("PressOn old message: %v", err)
	}
	if up := next(t, updates); up.CallbackQuery == nil || up.CallbackQuery.Data != "cb:A" {
		t.Errorf("old press update = %+v", up)
	}
}

func TestUserMessagesAsTelegramSendsThem(t *testing.T) {
	srv := telegramtest.New(t)
	_, updates := poll(t, srv)
	u := srv.User(99, telegramtest.WithUsername("layla"))

	u.SendText("سلام /help")
	m := next(t, updates).Message
	if m == nil || m.Text != "سلام /help" || m.Chat.Type != models.ChatTypePrivate || m.From.Username != "layla" || m.Date == 0 {
		t.Fatalf("message = %+v", m)
	}
	// "سلام " is 5 UTF-16 code units; the library's own command matching slices bytes and misses it.
	if len(m.Entities) != 1 || m.Entities[0].Type != models.MessageEntityTypeBotCommand || m.Entities[0].Offset != 5 || m.Entities[0].Length != 5 {
		t.Errorf("entities = %+v", m.Entities)
	}
	u.SendText("😀 /start@penah_test_bot x/no")
	m = next(t, updates).Message
	if len(m.Entities) != 1 || m.Entities[0].Offset != 3 || m.Entities[0].Length != 21 {
		t.Errorf("entities = %+v", m.Entities)
	}

	first := u.SendText("before").Message
	if _, err := u.Edit(first.ID, "after"); err != nil {
		t.Fatal(err)
	}
	next(t, updates)
	if e := next(t, updates).EditedMessage; e == nil || e.Text != "after" || e.ID != first.ID || e.EditDate == 0 {
		t.Errorf("edited message = %+v", e)
	}

	u.SendSticker("🙂")
	u.SendPhoto()
	u.SendVoice(3)
	u.SendDocument("a.pdf")
	u.SendLocation(36.86, 42.99)
	u.SendContact("+964", "Ali")
	if m := next(t, updates).Message; m.Sticker == nil || m.Sticker.Emoji != "🙂" {
		t.Errorf("sticker = %+v", m)
	}
	if m := next(t, updates).Message; len(m.Photo) != 2 {
		t.Errorf("photo = %+v", m)
	}
	if m := next(t, updates).Message; m.Voice == nil || m.Voice.Duration != 3 {
		t.Errorf("voice = %+v", m)
	}
	if m := next(t, updates).Message; m.Document == nil || m.Document.FileName != "a.pdf" {
		t.Errorf("document = %+v", m)
	}
	if m := next(t, updates).Message; m.Location == nil || m.Location.Latitude != 36.86 {
		t.Errorf("location = %+v", m)
	}
	if m := next(t, updates).Message; m.Contact == nil || m.Contact.PhoneNumber != "+964" {
		t.Errorf("contact = %+v", m)
	}

	g := srv.GroupMember(-100, 5, telegramtest.WithGroupTitle("Camp"))
	g.SendText("hi")
	if m := next(t, updates).Message; m.Chat.ID != -100 || m.Chat.Type != models.ChatTypeGroup || m.Chat.Title != "Camp" || m.From.ID != 5 {
		t.Errorf("group message = %+v", m)
	}

	// Message ids are per chat and shared by both sides.
	ids := []int{}
	for _, m := range srv.Transcript(99) {
		ids = append(ids, m.ID)
	}
	if fmt.Sprint(ids) != "[1 2 3 4 5 6 7 8 9]" {
		t.Errorf("ids = %v", ids)
	}
}

func TestLongPollBlocksUntilAnUpdateArrives(t *testing.T) {
	srv := telegramtest.New(t)
	u := srv.User(1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		u.SendText("hello")
	}()
	start := time.Now()
	us := getUpdates(t, srv, map[string]string{"timeout": "5"})
	if waited := time.Since(start); waited < 250*time.Millisecond || waited > 4*time.Second {
		t.Errorf("long poll returned after %v", waited)
	}
	if len(us) != 1 || us[0].Message.Text != "hello" {
		t.Fatalf("updates = %+v", us)
	}

	start = time.Now()
	if us := getUpdates(t, srv, map[string]string{"offset": fmt.Sprint(us[0].ID + 1), "timeout": "1"}); len(us) != 0 {
		t.Errorf("after ack: %+v", us)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("empty long poll returned after %v, want the 1 s timeout", waited)
	}
}

func TestOffsetAcknowledgesAndLimitBounds(t *testing.T) {
	srv := telegramtest.New(t)
	u := srv.User(1)
	for i := range 3 {
		u.SendText(fmt.Sprint("m", i))
	}
	us := getUpdates(t, srv, map[string]string{"limit": "2"})
	if len(us) != 2 || us[1].ID != us[0].ID+1 {
		t.Fatalf("limit 2: %+v", us)
	}
	// Without an offset nothing is confirmed: the same updates come again.
	if again := getUpdates(t, srv, nil); len(again) != 3 || again[0].ID != us[0].ID {
		t.Fatalf("redelivery: %+v", again)
	}
	rest := getUpdates(t, srv, map[string]string{"offset": fmt.Sprint(us[1].ID + 1)})
	if len(rest) != 1 || rest[0].Message.Text != "m2" {
		t.Fatalf("after offset: %+v", rest)
	}
	if srv.PendingUpdates() != 1 {
		t.Errorf("pending = %d, want 1", srv.PendingUpdates())
	}
	getUpdates(t, srv, map[string]string{"offset": fmt.Sprint(rest[0].ID + 1), "allowed_updates": `["message","callback_query"]`})
	if srv.PendingUpdates() != 0 {
		t.Errorf("pending = %d, want 0", srv.PendingUpdates())
	}
	if got := srv.AllowedUpdates(); fmt.Sprint(got) != "[message callback_query]" {
		t.Errorf("allowed updates = %v", got)
	}
	// edited_message is not allowed now: Telegram does not even queue it.
	sent := u.SendText("x")
	if s, _ := u.Edit(sent.Message.ID, "y"); s.UpdateID != 0 {
		t.Errorf("disallowed edit got update %d", s.UpdateID)
	}
}

func TestSecondPollerEndsTheFirstWithConflict(t *testing.T) {
	srv := telegramtest.New(t)
	first := make(chan envelope, 1)
	go func() { first <- raw(t, srv, "getUpdates", map[string]string{"timeout": "5"}) }()
	for !srv.Polling() {
		select {
		case <-ctx(t).Done():
			t.Fatal("the first getUpdates never started")
		case <-time.After(5 * time.Millisecond):
		}
	}
	getUpdates(t, srv, nil)
	e := <-first
	if e.OK || e.ErrorCode != http.StatusConflict || !strings.Contains(e.Description, "terminated by other getUpdates") {
		t.Errorf("first poller got %+v", e)
	}
}

func TestWebhookDeliveryWithSecretAndRetry(t *testing.T) {
	var (
		mu      sync.Mutex
		secrets []string
		bodies  []models.Update
		calls   atomic.Int32
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u models.Update
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &u)
		mu.Lock()
		secrets = append(secrets, r.Header.Get("X-Telegram-Bot-Api-Secret-Token"))
		bodies = append(bodies, u)
		mu.Unlock()
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer hook.Close()

	srv := telegramtest.New(t, telegramtest.WithWebhookBackoff(10*time.Millisecond, 50*time.Millisecond))
	b := newBot(t, srv)
	u := srv.User(3)
	u.SendText("dropped")
	ok, err := b.SetWebhook(ctx(t), &bot.SetWebhookParams{URL: hook.URL, SecretToken: "s3cr-et_", DropPendingUpdates: true, AllowedUpdates: []string{"message"}})
	if !ok || err != nil {
		t.Fatalf("SetWebhook = %v, %v", ok, err)
	}
	sent := u.SendText("via webhook")

	for srv.PendingUpdates() > 0 || calls.Load() < 3 {
		select {
		case <-ctx(t).Done():
			t.Fatalf("not delivered: %+v", srv.WebhookAttempts())
		case <-time.After(10 * time.Millisecond):
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 3 {
		t.Fatalf("webhook called %d times, want 3 (two 500s, one 200)", len(bodies))
	}
	for i, bd := range bodies {
		if secrets[i] != "s3cr-et_" || bd.ID != sent.UpdateID || bd.Message == nil || bd.Message.Text != "via webhook" {
			t.Errorf("delivery %d: secret %q, update %+v", i, secrets[i], bd)
		}
	}
	at := srv.WebhookAttempts()
	if len(at) != 3 || at[0].Status != 500 || at[2].Status != 200 {
		t.Errorf("attempts = %+v", at)
	}
	info, err := b.GetWebhookInfo(ctx(t))
	if err != nil || info.URL != hook.URL || info.PendingUpdateCount != 0 || !strings.Contains(info.LastErrorMessage, "500") {
		t.Errorf("GetWebhookInfo = %+v, %v", info, err)
	}
	if e := raw(t, srv, "getUpdates", nil); e.ErrorCode != http.StatusConflict || !strings.Contains(e.Description, "webhook is active") {
		t.Errorf("getUpdates with a webhook: %+v", e)
	}
	if ok, err := b.DeleteWebhook(ctx(t), &bot.DeleteWebhookParams{}); !ok || err != nil {
		t.Fatalf("DeleteWebhook = %v, %v", ok, err)
	}
	if srv.WebhookURL() != "" {
		t.Error("webhook still set")
	}
	getUpdates(t, srv, nil)
}

func TestTooManyRequestsSurfacesRetryAfter(t *testing.T) {
	srv := telegramtest.New(t)
	b := newBot(t, srv)
	srv.User(5)
	srv.User(6)
	in := srv.Inject(telegramtest.TooManyRequests("sendMessage", 5, 3, 2))

	for range 2 {
		_, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 5, Text: "x"})
		var tm *bot.TooManyRequestsError
		if !errors.As(err, &tm) || tm.RetryAfter != 3 {
			t.Fatalf("err = %v, want TooManyRequestsError with RetryAfter 3", err)
		}
	}
	if _, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 6, Text: "other chat"}); err != nil {
		t.Errorf("other chat: %v", err)
	}
	if _, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 5, Text: "x"}); err != nil {
		t.Errorf("after the 2 faults: %v", err)
	}
	if in.Hits() != 2 {
		t.Errorf("hits = %d", in.Hits())
	}
	c := srv.CallsTo("sendMessage", 5)
	if len(c) != 3 || !c[0].Injected || c[0].ErrorCode != 429 || !c[2].OK() {
		t.Errorf("calls = %+v", c)
	}
	if n := len(srv.BotMessages(5)); n != 1 {
		t.Errorf("chat 5 has %d messages, want 1", n)
	}
}

func TestFloodWaitWindowCountsDown(t *testing.T) {
	clock := telegramtest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := telegramtest.New(t, telegramtest.WithClock(clock))
	b := newBot(t, srv)
	srv.User(5)
	srv.Inject(telegramtest.FloodWait("", 5, 3*time.Second))

	var tm *bot.TooManyRequestsError
	_, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 5, Text: "x"})
	if !errors.As(err, &tm) || tm.RetryAfter != 3 {
		t.Fatalf("err = %v", err)
	}
	clock.Advance(1500 * time.Millisecond)
	_, err = b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 5, Text: "x"})
	if !errors.As(err, &tm) || tm.RetryAfter != 2 {
		t.Fatalf("err = %v, want retry_after 2", err)
	}
	clock.Advance(1500 * time.Millisecond)
	if _, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 5, Text: "x"}); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestServerErrorsSlowAndDroppedConnections(t *testing.T) {
	srv := telegramtest.New(t)
	b := newBot(t, srv)
	srv.User(5)

	srv.Inject(telegramtest.ServerError("sendMessage", http.StatusBadGateway, 1))
	_, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 5, Text: "x"})
	if err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("5xx: %v", err)
	}

	srv.Inject(telegramtest.Slow("sendMessage", 300*time.Millisecond, 1))
	start := time.Now()
	if _, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 5, Text: "x"}); err != nil {
		t.Errorf("slow: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("slow call took %v", d)
	}

	srv.Inject(telegramtest.DropConnection("sendMessage", 1))
	if _, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 5, Text: "x"}); err == nil || !strings.Contains(err.Error(), "error do request") {
		t.Errorf("dropped: %v", err)
	}
	if got := len(srv.BotMessages(5)); got != 1 {
		t.Errorf("messages = %d, want only the slow one", got)
	}
}

func TestAuthUnknownMethodsAndChats(t *testing.T) {
	srv := telegramtest.New(t)
	_, err := bot.New("123:wrong", bot.WithServerURL(srv.URL()))
	if !errors.Is(err, bot.ErrorUnauthorized) {
		t.Errorf("wrong token: %v", err)
	}
	if e := raw(t, srv, "sendPigeon", nil); e.ErrorCode != http.StatusNotFound || e.Description != "Not Found" {
		t.Errorf("unknown method: %+v", e)
	}
	b := newBot(t, srv)
	if me, err := b.GetMe(ctx(t)); err != nil || me.ID != b.ID() || !me.IsBot || me.Username != "penah_test_bot" {
		t.Errorf("GetMe = %+v, %v", me, err)
	}
	if _, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 404, Text: "x"}); !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "chat not found") {
		t.Errorf("unknown chat: %v", err)
	}
	u := srv.User(8)
	u.Block()
	if _, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 8, Text: "x"}); !errors.Is(err, bot.ErrorForbidden) {
		t.Errorf("blocked: %v", err)
	}
	u.Unblock()
	if _, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 8, Text: "x"}); err != nil {
		t.Errorf("unblocked: %v", err)
	}
}

func TestDeleteRefusesMessagesOlderThanTheWindow(t *testing.T) {
	clock := telegramtest.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	srv := telegramtest.New(t, telegramtest.WithClock(clock))
	b := newBot(t, srv)
	u := srv.User(10)

	old := u.SendText("old").Message
	clock.Advance(2 * time.Hour)
	mine, _ := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 10, Text: "reply"})
	theirs := u.SendText("newer").Message
	clock.Advance(telegramtest.DeleteWindow - time.Hour) // old is now 49 h old, the others 47 h

	_, err := b.DeleteMessage(ctx(t), &bot.DeleteMessageParams{ChatID: 10, MessageID: old.ID})
	if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "message can't be deleted") {
		t.Errorf("old message: %v", err)
	}
	if ok, err := b.DeleteMessage(ctx(t), &bot.DeleteMessageParams{ChatID: 10, MessageID: mine.ID}); !ok || err != nil {
		t.Errorf("own message: %v, %v", ok, err)
	}
	if _, err := b.DeleteMessage(ctx(t), &bot.DeleteMessageParams{ChatID: 10, MessageID: mine.ID}); !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "not found") {
		t.Errorf("deleted twice: %v", err)
	}
	if ok, err := b.DeleteMessages(ctx(t), &bot.DeleteMessagesParams{ChatID: 10, MessageIDs: []int{old.ID, theirs.ID, 77}}); !ok || err != nil {
		t.Errorf("DeleteMessages: %v, %v", ok, err)
	}
	vis := srv.Visible(10)
	if len(vis) != 1 || vis[0].ID != old.ID {
		t.Errorf("visible = %+v, want only the old message", vis)
	}
	if m, _ := srv.Message(10, theirs.ID); !m.Deleted || !m.DeletedAt.Equal(clock.Now()) {
		t.Errorf("their message = %+v", m)
	}
	calls := srv.CallsTo("deleteMessage", 10)
	if len(calls) != 3 || calls[0].Params.Get("message_id") != fmt.Sprint(old.ID) || calls[0].OK() || !calls[1].OK() {
		t.Errorf("deleteMessage calls = %+v", calls)
	}
	if c := srv.CallsTo("deleteMessages", 10); len(c) != 1 || c[0].Params.Get("message_ids") != fmt.Sprintf("[%d,%d,77]", old.ID, theirs.ID) {
		t.Errorf("deleteMessages calls = %+v", c)
	}
	ids := make([]int, telegramtest.MaxDeleteMessages+1)
	if _, err := b.DeleteMessages(ctx(t), &bot.DeleteMessagesParams{ChatID: 10, MessageIDs: ids}); !errors.Is(err, bot.ErrorBadRequest) {
		t.Errorf("%d ids: %v", len(ids), err)
	}
}

func TestEdits(t *testing.T) {
	srv := telegramtest.New(t)
	b := newBot(t, srv)
	u := srv.User(11)
	sent, _ := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 11, Text: "one", ReplyMarkup: keyboard([]string{"A"})})

	_, err := b.EditMessageReplyMarkup(ctx(t), &bot.EditMessageReplyMarkupParams{ChatID: 11, MessageID: sent.ID, ReplyMarkup: keyboard([]string{"A"})})
	if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "message is not modified") {
		t.Errorf("same markup: %v", err)
	}
	if _, err := b.EditMessageReplyMarkup(ctx(t), &bot.EditMessageReplyMarkupParams{ChatID: 11, MessageID: sent.ID, ReplyMarkup: keyboard([]string{"B"})}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Press("A"); err == nil {
		t.Error("pressed a button that was edited away")
	}
	// editMessageText without reply_markup removes the keyboard, as on Telegram.
	ed, err := b.EditMessageText(ctx(t), &bot.EditMessageTextParams{ChatID: 11, MessageID: sent.ID, Text: "<i>two</i>", ParseMode: models.ParseModeHTML})
	if err != nil || ed.Text != "two" || ed.EditDate == 0 || ed.ReplyMarkup != nil {
		t.Fatalf("EditMessageText = %+v, %v", ed, err)
	}
	m, _ := srv.Message(11, sent.ID)
	if m.Text != "two" || m.Edits != 2 || len(m.Keyboard) != 0 {
		t.Errorf("edited = %+v", m)
	}
	theirs := u.SendText("mine").Message
	if _, err := b.EditMessageText(ctx(t), &bot.EditMessageTextParams{ChatID: 11, MessageID: theirs.ID, Text: "x"}); !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "can't be edited") {
		t.Errorf("editing the user's message: %v", err)
	}
	if _, err := b.EditMessageText(ctx(t), &bot.EditMessageTextParams{ChatID: 11, MessageID: 999, Text: "x"}); !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "message to edit not found") {
		t.Errorf("editing a missing message: %v", err)
	}
}

func TestSetMyCommands(t *testing.T) {
	srv := telegramtest.New(t)
	b := newBot(t, srv)
	cmds := []models.BotCommand{{Command: "start", Description: "Start"}, {Command: "exit", Description: "Clear this chat"}}
	if ok, err := b.SetMyCommands(ctx(t), &bot.SetMyCommandsParams{Commands: cmds, Scope: &models.BotCommandScopeAllPrivateChats{}, LanguageCode: "ar"}); !ok || err != nil {
		t.Fatalf("SetMyCommands = %v, %v", ok, err)
	}
	if got := srv.Commands("all_private_chats", "ar"); len(got) != 2 || got[1].Command != "exit" {
		t.Errorf("commands = %+v", got)
	}
	_, err := b.SetMyCommands(ctx(t), &bot.SetMyCommandsParams{Commands: []models.BotCommand{{Command: "Bad-Name", Description: "x"}}})
	if !errors.Is(err, bot.ErrorBadRequest) {
		t.Errorf("invalid command: %v", err)
	}
}

func TestWaitMessage(t *testing.T) {
	srv := telegramtest.New(t)
	b := newBot(t, srv)
	u := srv.User(12)
	go func() {
		for _, s := range []string{"a", "b", "c"} {
			time.Sleep(20 * time.Millisecond)
			_, _ = b.SendMessage(context.Background(), &bot.SendMessageParams{ChatID: 12, Text: s})
		}
	}()
	ms, err := u.WaitMessages(ctx(t), 3)
	if err != nil || len(ms) != 3 || ms[0].Text != "a" || ms[2].Text != "c" {
		t.Fatalf("WaitMessages = %+v, %v", ms, err)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := u.WaitMessage(short); !errors.Is(err, telegramtest.ErrNoMessage) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitMessage with nothing sent: %v", err)
	}
	if last, ok := u.LastMessage(); !ok || last.Text != "c" {
		t.Errorf("LastMessage = %+v", last)
	}
}

// TestConcurrentChats drives many chats through the library at once; run with -race.
func TestConcurrentChats(t *testing.T) {
	srv := telegramtest.New(t)
	b, updates := poll(t, srv)
	const chats, each = 20, 5
	var wg sync.WaitGroup
	for c := range chats {
		u := srv.User(int64(1000 + c))
		wg.Go(func() {
			for i := range each {
				u.SendText(fmt.Sprint(i))
				if _, err := b.SendMessage(context.Background(), &bot.SendMessageParams{ChatID: u.ChatID(), Text: "ack"}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for range chats * each {
		u := next(t, updates)
		if seen[u.ID] {
			t.Fatalf("update %d delivered twice", u.ID)
		}
		seen[u.ID] = true
	}
	if n := srv.CallCount("sendMessage"); n != chats*each {
		t.Errorf("sendMessage calls = %d", n)
	}
	for c := range chats {
		tr := srv.Transcript(int64(1000 + c))
		for i, m := range tr {
			if m.ID != i+1 {
				t.Fatalf("chat %d: ids %v not dense and increasing", c, tr)
			}
		}
	}
}
