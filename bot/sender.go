package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/penahbot/penah/internal/intake"
)

// Limits and delays of the outbox sender (DESIGN.md §3, "Outbox").
const (
	// SendRate is the default global rate, in requests per second. Telegram allows about 30
	// messages per second to different chats; 25 leaves headroom for the poller and retries.
	SendRate = 25
	// ChatPacing is the default least time between two messages (sendMessage, editMessageText) to
	// the same chat: Telegram allows about one per second in a private chat.
	ChatPacing = time.Second
	// SendBatch is how many due messages one DueMessages call asks for (at most one per chat).
	// It must exceed SendRate×ChatPacing, the most chats that can be waiting for their pacing at
	// once, or paced chats could fill a batch and hold the others back.
	SendBatch = 100
	// SendIdle is how long the sender waits before asking the outbox again when nothing was
	// sendable.
	SendIdle = 100 * time.Millisecond
	// RetryInitial is the wait before the first retry of a message after a network error or a
	// 5xx; each further attempt doubles it, up to RetryMax. Transient errors are retried without
	// limit: a reply must not vanish during an outage, and a chat's later messages wait for it.
	RetryInitial = time.Second
	// RetryMax caps the wait between two attempts of one message.
	RetryMax = 5 * time.Minute
	// SendTimeout bounds one request to the Bot API.
	SendTimeout = 30 * time.Second
	// SendWorkers is how many requests of one batch are in flight at once. A batch holds one
	// message per chat, so parallel sends never reorder a chat's messages.
	SendWorkers = 8
)

// Methods of the Bot API an OutboundRequest may name.
const (
	MethodSendMessage         = "sendMessage"
	MethodEditMessageText     = "editMessageText"
	MethodDeleteMessage       = "deleteMessage"
	MethodAnswerCallbackQuery = "answerCallbackQuery"
	// MethodClearChat is Penah's own: delete every tracked message of the chat that Telegram still
	// lets a bot delete (DeleteWindow), in deleteMessages calls of up to MaxDeleteBatch ids, then
	// send HTML (if any) as the one line left, with Partial under it when older messages remained.
	MethodClearChat = "clearChat"
)

// Keys of the replica-wide leases (the store's lease keys are otherwise chats' blind indexes,
// which never start with "~").
const (
	SenderLease intake.SessionKey = "~sender"
	PollerLease intake.SessionKey = "~poller"
)

// Telegram's limits on deleting messages.
const (
	// DeleteWindow is how long after sending a message a bot may delete it in a private chat.
	DeleteWindow = 48 * time.Hour
	// deleteMargin keeps a deletion clear of the window's end, so a request in flight does not
	// cross it.
	deleteMargin = time.Minute
	// MaxDeleteBatch is the most message ids one deleteMessages call takes.
	MaxDeleteBatch = 100
)

// ErrUnknownMethod is returned by EncodeRequest for a method the sender does not implement.
var ErrUnknownMethod = errors.New("outbox: unknown Bot API method")

// OutboundRequest is the plaintext of an outbox message's Body: one Bot API call. Producers build
// it, encode it with EncodeRequest, seal the bytes and enqueue them in the same Commit as the state
// they belong to; the Sender opens, decodes and makes the call. As JSON:
//
//	{"method": "sendMessage" | "editMessageText" | "deleteMessage" | "answerCallbackQuery" | "clearChat",
//	 "chat_id": 42,                  // the raw chat id (the outbox key is only its blind index)
//	 "html": "<b>…</b>",             // sendMessage, editMessageText: text in HTML parse mode
//	 "keyboard": [[{"label": "…", "data": "…"}]], // inline keyboard (sendMessage, editMessageText)
//	 "protect": true,                // sendMessage: protect_content
//	 "message_id": 7,                // editMessageText, deleteMessage
//	 "callback_query_id": "…",       // answerCallbackQuery
//	 "text": "…",                    // answerCallbackQuery: plain notification text, optional
//	 "partial": "…"}                 // clearChat: HTML line added when old messages remained
type OutboundRequest struct {
	Method          string        `json:"method"`
	ChatID          int64         `json:"chat_id,omitempty"`
	HTML            string        `json:"html,omitempty"`
	Keyboard        [][]OutButton `json:"keyboard,omitempty"`
	Protect         bool          `json:"protect,omitempty"`
	MessageID       int64         `json:"message_id,omitempty"`
	CallbackQueryID string        `json:"callback_query_id,omitempty"`
	Text            string        `json:"text,omitempty"`
	Partial         string        `json:"partial,omitempty"`
}

// OutButton is one inline keyboard button of an OutboundRequest.
type OutButton struct {
	Label string `json:"label"`
	Data  string `json:"data"`
}

// SendMessageRequest is the request that sends one rendered message (see Render) to chatID.
func SendMessageRequest(chatID int64, o Outgoing) OutboundRequest {
	r := OutboundRequest{Method: MethodSendMessage, ChatID: chatID, HTML: o.HTML, Protect: o.Protect}
	for _, row := range o.Keyboard {
		out := make([]OutButton, 0, len(row))
		for _, b := range row {
			out = append(out, OutButton{Label: b.Label, Data: b.Data})
		}
		r.Keyboard = append(r.Keyboard, out)
	}
	return r
}

// EncodeRequest checks r and encodes it for an outbox Body (to be sealed by the caller).
func EncodeRequest(r OutboundRequest) ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(r)
}

// decodeRequest is EncodeRequest's inverse.
func decodeRequest(data []byte) (OutboundRequest, error) {
	var r OutboundRequest
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("outbox: decoding request: %w", err)
	}
	return r, r.validate()
}

func (r OutboundRequest) validate() error {
	switch r.Method {
	case MethodSendMessage, MethodEditMessageText, MethodDeleteMessage, MethodClearChat:
		if r.ChatID == 0 {
			return fmt.Errorf("outbox: %s without chat_id", r.Method)
		}
		if (r.Method == MethodEditMessageText || r.Method == MethodDeleteMessage) && r.MessageID == 0 {
			return fmt.Errorf("outbox: %s without message_id", r.Method)
		}
	case MethodAnswerCallbackQuery:
		if r.CallbackQueryID == "" {
			return errors.New("outbox: answerCallbackQuery without callback_query_id")
		}
	default:
		return fmt.Errorf("%w: %q", ErrUnknownMethod, r.Method)
	}
	return nil
}

// paced reports whether the request shows a message in the chat, so per-chat pacing applies.
// Deletions and callback answers are not messages: /exit deletes many at once and a button press
// must be answered quickly, so they pass only the global rate.
func (r OutboundRequest) paced() bool {
	return r.Method == MethodSendMessage || r.Method == MethodEditMessageText || r.Method == MethodClearChat
}

func (r OutboundRequest) markup() models.ReplyMarkup {
	if len(r.Keyboard) == 0 {
		return nil
	}
	kb := make([][]models.InlineKeyboardButton, 0, len(r.Keyboard))
	for _, row := range r.Keyboard {
		out := make([]models.InlineKeyboardButton, 0, len(row))
		for _, b := range row {
			out = append(out, models.InlineKeyboardButton{Text: b.Label, CallbackData: b.Data})
		}
		kb = append(kb, out)
	}
	return &models.InlineKeyboardMarkup{InlineKeyboard: kb}
}

// Sender sends the outbox to Telegram (DESIGN.md §3, "Outbox"). It takes each chat's next due
// message from the store, opens it, and makes the call through go-telegram/bot while keeping
// Telegram's limits: a global rate (Rate, default SendRate) and a least gap between messages to
// one chat (Pacing, default ChatPacing). The outcome decides the message's fate:
//
//   - success: MarkSent;
//   - 429: Retry at exactly now + retry_after, and nothing goes to that chat before then;
//   - network error, 5xx or another unexpected answer: Retry after RetryInitial doubled per
//     attempt, up to RetryMax;
//   - 403 (the person blocked the bot, or the bot cannot write to the chat any more): DropChat,
//     and the Blocked callback is told;
//   - 400 (bad request, such as a message to edit that is gone), a body that cannot be opened or
//     decoded, or an unknown method: MarkFailed, since retrying cannot help;
//   - 401 (token rejected): Retry with backoff, and Run returns ErrUnauthorized.
//
// Nothing of a message's content is logged: only outbox ids, methods and error classes. The token
// is never logged.
type Sender struct {
	// APIURL is the Bot API server, such as https://api.telegram.org.
	APIURL string
	// Token is the bot token.
	Token string
	// Store is the outbox.
	Store intake.Outbox
	// Open decrypts a message's Body into an encoded OutboundRequest.
	Open func(id intake.OutboxID, sealed []byte) ([]byte, error)
	// Blocked, if set, is called after the messages of a chat that answered 403 were dropped.
	Blocked func(chat intake.SessionKey)
	// Leases and Owner, if set, make this sender run only while it holds the outbox lease, so
	// with several replicas one of them sends and the global rate holds for the bot as a whole.
	Leases intake.Leases
	Owner  string
	// Tracker, if set, remembers the id of every message sent, and serves clearChat (DESIGN.md
	// §6, quick exit). Without it clearChat only sends its line.
	Tracker intake.Tracker

	// Rate is the global rate in requests per second (0: SendRate).
	Rate float64
	// Pacing is the least time between two messages to one chat (0: ChatPacing).
	Pacing time.Duration
	// Batch is the DueMessages limit (0: SendBatch).
	Batch int
	// Workers is how many requests are in flight at once (0: SendWorkers).
	Workers int
	// Idle is the wait when nothing is sendable (0: SendIdle).
	Idle time.Duration
	// RetryInitial and RetryMax shape the backoff of transient errors (0: the package constants).
	RetryInitial, RetryMax time.Duration

	// Logger receives the sender's logs, with comp=sender (nil: slog.Default()).
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// TelegramNow is the clock Telegram's DeleteWindow is measured on, against message dates
	// Telegram stamped (nil: Now). Tests give the fake Bot API's clock.
	TelegramNow func() time.Time
	// Sleep waits d or until ctx is done (nil: a timer).
	Sleep func(ctx context.Context, d time.Duration) error

	once     sync.Once
	wake     chan struct{}
	mu       sync.Mutex
	nextSlot time.Time                       // the global bucket's next free slot
	chatNext map[intake.SessionKey]time.Time // per chat, when the next paced message may go
}

// outcome is what a send attempt decided, for Run's bookkeeping.
type outcome int

const (
	outcomeSent outcome = iota
	outcomeRetry
	outcomeFailed
	outcomeDropped
	outcomeUnauthorized
	outcomeStoreError
)

// Wake tells the sender that messages were enqueued, so it does not wait out its idle time.
func (s *Sender) Wake() {
	s.once.Do(func() { s.wake = make(chan struct{}, 1) })
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// idleWait waits d, or until Wake is called or ctx is done.
func (s *Sender) idleWait(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	s.once.Do(func() { s.wake = make(chan struct{}, 1) })
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.wake:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Run sends until ctx is done (it then returns nil) or the token is rejected (ErrUnauthorized).
// A batch's messages, one per chat, are sent in parallel; the next batch is read only when the
// whole batch is settled, so a chat's head is never sent twice at once. A failing store is logged
// and retried after Idle.
func (s *Sender) Run(ctx context.Context) error {
	log := s.logger()
	client, err := tgbot.New(s.Token,
		tgbot.WithServerURL(strings.TrimSuffix(s.APIURL, "/")),
		tgbot.WithSkipGetMe(),
		tgbot.WithErrorsHandler(func(err error) {
			// The library reports here only failures of its own plumbing; they may quote a URL.
			log.Debug("client error", "err_class", "client")
		}))
	if err != nil {
		return fmt.Errorf("sender: %w", err)
	}
	s.mu.Lock()
	if s.chatNext == nil {
		s.chatNext = map[intake.SessionKey]time.Time{}
	}
	s.mu.Unlock()
	log.Info("sending", "rate", s.rate(), "pacing", s.pacing())
	lease := &singleton{leases: s.Leases, key: SenderLease, owner: s.Owner}
	defer lease.release()
	for {
		if ctx.Err() != nil {
			return nil
		}
		if ok, err := lease.hold(ctx); !ok {
			if err != nil && ctx.Err() == nil {
				log.Warn("outbox lease failed", "err", err)
			}
			if s.sleep(ctx, LeaseTTL/3) != nil {
				return nil
			}
			continue
		}
		now := s.now()
		msgs, err := s.Store.DueMessages(ctx, now, s.batch())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("reading outbox failed", "err", err)
			if s.sleep(ctx, s.idle()) != nil {
				return nil
			}
			continue
		}
		ready, wake := s.ready(msgs, now)
		if len(ready) == 0 {
			d := s.idle()
			if !wake.IsZero() {
				d = min(d, max(wake.Sub(now), time.Millisecond))
			}
			if s.idleWait(ctx, d) != nil {
				return nil
			}
			continue
		}
		if s.sendAll(ctx, client, ready) {
			return ErrUnauthorized
		}
	}
}

// ready keeps the messages whose chat is not waiting (for its pacing or a retry_after) and returns
// the earliest time a waiting chat is free again (zero when none waits). It also forgets chats
// whose wait is over.
func (s *Sender) ready(msgs []intake.OutboxMessage, now time.Time) ([]intake.OutboxMessage, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for chat, t := range s.chatNext {
		if !t.After(now) {
			delete(s.chatNext, chat)
		}
	}
	var out []intake.OutboxMessage
	var wake time.Time
	for _, m := range msgs {
		if t, ok := s.chatNext[m.Chat]; ok && t.After(now) {
			if wake.IsZero() || t.Before(wake) {
				wake = t
			}
			continue
		}
		out = append(out, m)
	}
	return out, wake
}

// sendAll sends a batch with up to SendWorkers in flight and reports whether the token was
// rejected.
func (s *Sender) sendAll(ctx context.Context, client *tgbot.Bot, msgs []intake.OutboxMessage) bool {
	var (
		wg           sync.WaitGroup
		sem          = make(chan struct{}, s.workers())
		mu           sync.Mutex
		unauthorized bool
	)
	for _, m := range msgs {
		if s.take(ctx) != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			defer func() {
				if r := recover(); r != nil {
					// A bug must not take the bot down: the message is retried later. Never the
					// panic value, which may quote a message.
					log := s.logger().With("outbox_id", string(m.ID))
					log.Error("send panicked", "alert", true, "stack", string(debug.Stack()))
					s.settle(ctx, log, m, outcomeRetry, s.now().Add(s.retryDelay(m.Attempts)))
				}
			}()
			if s.send(ctx, client, m) == outcomeUnauthorized {
				mu.Lock()
				unauthorized = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return unauthorized
}

// take waits for a slot of the global token bucket (burst 1: slots are 1/Rate apart).
func (s *Sender) take(ctx context.Context) error {
	interval := time.Duration(float64(time.Second) / s.rate())
	s.mu.Lock()
	now := s.now()
	slot := s.nextSlot
	if slot.Before(now) {
		slot = now
	}
	s.nextSlot = slot.Add(interval)
	s.mu.Unlock()
	if d := slot.Sub(now); d > 0 {
		return s.sleep(ctx, d)
	}
	return ctx.Err()
}

// holdChat keeps chat waiting until t (it never shortens a wait already set).
func (s *Sender) holdChat(chat intake.SessionKey, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.chatNext[chat]; !ok || t.After(cur) {
		s.chatNext[chat] = t
	}
}

// send makes one message's call and settles it in the store.
func (s *Sender) send(ctx context.Context, client *tgbot.Bot, m intake.OutboxMessage) outcome {
	log := s.logger().With("outbox_id", string(m.ID), "attempts", m.Attempts)
	plain, err := s.Open(m.ID, m.Body)
	if err != nil {
		log.Error("cannot open outbox message; dropping it", "err_class", "open")
		return s.settle(ctx, log, m, outcomeFailed, time.Time{})
	}
	req, err := decodeRequest(plain)
	if err != nil {
		log.Error("undecodable or unknown outbox request; dropping it", "err_class", "decode")
		return s.settle(ctx, log, m, outcomeFailed, time.Time{})
	}
	log = log.With("method", req.Method)
	start := s.now()
	if req.paced() {
		s.holdChat(m.Chat, start.Add(s.pacing()))
	}
	cctx, cancel := context.WithTimeout(ctx, SendTimeout)
	err = s.call(cctx, client, m.Chat, req)
	cancel()
	if req.paced() {
		// Held again from the end of the call: arrivals at Telegram trail the starts by each
		// request's transit, so pacing counted from the start alone can land two messages to
		// one chat closer than Pacing.
		s.holdChat(m.Chat, s.now().Add(s.pacing()))
	}
	if err == nil {
		return s.settle(ctx, log, m, outcomeSent, time.Time{})
	}
	if ctx.Err() != nil {
		// Shutting down: the message stays due and goes out after a restart.
		return outcomeRetry
	}
	now := s.now()
	var tooMany *tgbot.TooManyRequestsError
	var migrate *tgbot.MigrateError
	switch {
	case errors.As(err, &tooMany):
		at := now.Add(time.Duration(tooMany.RetryAfter) * time.Second)
		s.holdChat(m.Chat, at)
		log.Warn("rate limited", "err_class", "429", "retry_after", tooMany.RetryAfter)
		return s.settle(ctx, log, m, outcomeRetry, at)
	case errors.Is(err, tgbot.ErrorForbidden):
		log.Warn("chat refuses the bot; dropping its messages", "err_class", "403")
		return s.settle(ctx, log, m, outcomeDropped, time.Time{})
	case errors.Is(err, tgbot.ErrorBadRequest), errors.As(err, &migrate):
		log.Error("request rejected; dropping it", "err_class", "400")
		return s.settle(ctx, log, m, outcomeFailed, time.Time{})
	case errors.Is(err, tgbot.ErrorUnauthorized):
		log.Error("token rejected", "err_class", "401")
		s.settle(ctx, log, m, outcomeRetry, now.Add(s.retryDelay(m.Attempts)))
		return outcomeUnauthorized
	default:
		d := s.retryDelay(m.Attempts)
		log.Warn("send failed; will retry", "err_class", "transient", "backoff", d)
		return s.settle(ctx, log, m, outcomeRetry, now.Add(d))
	}
}

// settle records an outcome in the store.
func (s *Sender) settle(ctx context.Context, log *slog.Logger, m intake.OutboxMessage, o outcome, at time.Time) outcome {
	var err error
	switch o {
	case outcomeSent:
		err = s.Store.MarkSent(ctx, m.ID)
	case outcomeRetry:
		err = s.Store.Retry(ctx, m.ID, at)
	case outcomeFailed:
		err = s.Store.MarkFailed(ctx, m.ID)
	case outcomeDropped:
		var n int
		n, err = s.Store.DropChat(ctx, m.Chat)
		if err == nil {
			log.Info("chat dropped", "chat", string(m.Chat), "messages", n)
			if s.Blocked != nil {
				s.Blocked(m.Chat)
			}
		}
	}
	if err != nil {
		// A sent message that could not be marked will be sent again: Telegram offers no
		// idempotency key, so this at-least-once gap is accepted and logged.
		log.Error("settling outbox message failed", "outcome", int(o), "err", err)
		return outcomeStoreError
	}
	return o
}

// call makes the Bot API call of r.
func (s *Sender) call(ctx context.Context, client *tgbot.Bot, chat intake.SessionKey, r OutboundRequest) error {
	var err error
	switch r.Method {
	case MethodSendMessage:
		err = s.sendTracked(ctx, client, chat, r)
	case MethodClearChat:
		err = s.clear(ctx, client, chat, r)
	case MethodEditMessageText:
		_, err = client.EditMessageText(ctx, &tgbot.EditMessageTextParams{
			ChatID:      r.ChatID,
			MessageID:   int(r.MessageID),
			Text:        r.HTML,
			ParseMode:   models.ParseModeHTML,
			ReplyMarkup: r.markup(),
		})
	case MethodDeleteMessage:
		_, err = client.DeleteMessage(ctx, &tgbot.DeleteMessageParams{ChatID: r.ChatID, MessageID: int(r.MessageID)})
	case MethodAnswerCallbackQuery:
		_, err = client.AnswerCallbackQuery(ctx, &tgbot.AnswerCallbackQueryParams{
			CallbackQueryID: r.CallbackQueryID,
			Text:            r.Text,
		})
	default:
		err = fmt.Errorf("%w: %q", ErrUnknownMethod, r.Method)
	}
	return err
}

// sendTracked sends a message and remembers its id for a later clear.
func (s *Sender) sendTracked(ctx context.Context, client *tgbot.Bot, chat intake.SessionKey, r OutboundRequest) error {
	msg, err := client.SendMessage(ctx, &tgbot.SendMessageParams{
		ChatID:         r.ChatID,
		Text:           r.HTML,
		ParseMode:      models.ParseModeHTML,
		ProtectContent: r.Protect,
		ReplyMarkup:    r.markup(),
	})
	if err != nil || s.Tracker == nil || msg == nil {
		return err
	}
	t := intake.TrackedMessage{ID: int64(msg.ID), At: time.Unix(int64(msg.Date), 0)}
	if msg.Date == 0 {
		t.At = s.now() // a Bot API answer without a date: count the window from now
	}
	if err := s.Tracker.TrackMessages(ctx, chat, []intake.TrackedMessage{t}); err != nil {
		// Sent but not tracked: a later /exit cannot delete it. Retrying would send it twice.
		s.logger().Error("tracking a sent message failed", "chat", string(chat), "err", err)
	}
	return nil
}

// clear deletes a chat's tracked messages that are still deletable and sends the request's line.
// It is safe to repeat: ids are untracked as soon as their deletion succeeded.
func (s *Sender) clear(ctx context.Context, client *tgbot.Bot, chat intake.SessionKey, r OutboundRequest) error {
	remained, first := false, true
	if s.Tracker != nil {
		tracked, err := s.Tracker.TrackedMessages(ctx, chat)
		if err != nil {
			return err
		}
		tgNow := s.now()
		if s.TelegramNow != nil {
			tgNow = s.TelegramNow()
		}
		cutoff := tgNow.Add(-DeleteWindow + deleteMargin)
		var ids []int
		var old []int64
		for _, t := range tracked {
			if t.At.After(cutoff) {
				ids = append(ids, int(t.ID))
			} else {
				old = append(old, t.ID)
			}
		}
		// The first call of a clear spends the token sendAll took for it; every other call
		// takes its own, so a clear keeps the global rate.
		for len(ids) > 0 {
			if !first {
				if err := s.take(ctx); err != nil {
					return err
				}
			}
			first = false
			n := min(len(ids), MaxDeleteBatch)
			chunk := ids[:n]
			_, err := client.DeleteMessages(ctx, &tgbot.DeleteMessagesParams{ChatID: r.ChatID, MessageIDs: chunk})
			if errors.Is(err, tgbot.ErrorBadRequest) {
				// None of the chunk could be deleted (gone already, or too old by Telegram's
				// clock): tell the person some may remain.
				remained = true
			} else if err != nil {
				return err
			}
			done := make([]int64, 0, n)
			for _, id := range chunk {
				done = append(done, int64(id))
			}
			if err := s.Tracker.UntrackMessages(ctx, chat, done); err != nil {
				return err
			}
			ids = ids[n:]
		}
		if len(old) > 0 {
			remained = true
			if err := s.Tracker.UntrackMessages(ctx, chat, old); err != nil {
				return err
			}
		}
	}
	if r.HTML == "" {
		return nil
	}
	if !first {
		// The closing line is one more call: it takes its own token of the global rate.
		if err := s.take(ctx); err != nil {
			return err
		}
	}
	text := r.HTML
	if remained && r.Partial != "" {
		text += "\n" + r.Partial
	}
	return s.sendTracked(ctx, client, chat, OutboundRequest{Method: MethodSendMessage, ChatID: r.ChatID, HTML: text, Protect: r.Protect})
}

// retryDelay is the wait before the next attempt of a message that failed attempts times before.
func (s *Sender) retryDelay(attempts int) time.Duration {
	initial, limit := RetryInitial, RetryMax
	if s.RetryInitial > 0 {
		initial = s.RetryInitial
	}
	if s.RetryMax > 0 {
		limit = s.RetryMax
	}
	d := initial
	for i := 0; i < attempts && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func (s *Sender) rate() float64 {
	if s.Rate > 0 {
		return s.Rate
	}
	return SendRate
}

func (s *Sender) pacing() time.Duration {
	if s.Pacing > 0 {
		return s.Pacing
	}
	return ChatPacing
}

func (s *Sender) workers() int {
	if s.Workers > 0 {
		return s.Workers
	}
	return SendWorkers
}

func (s *Sender) batch() int {
	if s.Batch > 0 {
		return intake.ClampLimit(s.Batch)
	}
	return SendBatch
}

func (s *Sender) idle() time.Duration {
	if s.Idle > 0 {
		return s.Idle
	}
	return SendIdle
}

func (s *Sender) logger() *slog.Logger { return componentLogger(s.Logger, "sender") }

func (s *Sender) now() time.Time { return nowOr(s.Now) }

func (s *Sender) sleep(ctx context.Context, d time.Duration) error { return sleepOr(ctx, s.Sleep, d) }
