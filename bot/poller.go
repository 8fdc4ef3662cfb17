package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/penahbot/penah/internal/intake"
)

// Limits and delays of the getUpdates loop.
const (
	// PollTimeout is the long-poll timeout sent to getUpdates: Telegram holds the request open this
	// long when no update is waiting. 25 s stays under the 30 s idle timeouts common in proxies.
	PollTimeout = 25 * time.Second
	// PollLimit is how many updates one getUpdates call may return (Telegram's maximum).
	PollLimit = 100
	// BackoffInitial is the first wait after a network error, a 5xx or a failed inbox write; each
	// further failure in a row doubles it, up to BackoffMax.
	BackoffInitial = 500 * time.Millisecond
	// BackoffMax caps the wait between retries.
	BackoffMax = 30 * time.Second
	// pollRequestMargin is added to the long-poll timeout to make the HTTP client's timeout, so a
	// slow answer is not cut off but a hung connection is.
	pollRequestMargin = 10 * time.Second
	// MaxPollResponseBytes bounds the body of one getUpdates answer that is read: 100 updates of
	// at most a few KiB each are far below it.
	MaxPollResponseBytes = 32 << 20
)

// AllowedUpdates are the update types Penah asks Telegram for; others are not delivered.
var AllowedUpdates = []string{"message", "edited_message", "callback_query"}

// ErrUnauthorized is returned by Poller.Run when the Bot API rejects the token (401): retrying
// cannot help, so the poller stops at once.
var ErrUnauthorized = errors.New("telegram: bot token rejected (401 Unauthorized)")

// PollStore is what the Poller needs of the inbox (intake.Inbox): store an update, and keep the
// getUpdates offset across restarts.
type PollStore interface {
	PutUpdate(ctx context.Context, u intake.Update) (dup bool, err error)
	PutUpdates(ctx context.Context, us []intake.Update) (dups []bool, err error)
	Offset(ctx context.Context) (int64, error)
	SetOffset(ctx context.Context, offset int64) error
}

// Poller is Penah's own getUpdates loop (DESIGN.md §3, "nothing is acknowledged before it is
// durable"). go-telegram/bot's loop confirms updates (asks for the next offset) before they are
// processed, so Penah calls getUpdates itself: every update of a batch is sealed and written to the
// inbox, and only then is the offset advanced (persisted, and sent with the next request, which is
// how Telegram learns the updates were received). When a write fails, the offset stays, the same
// updates come again and the inbox's dedupe by update_id makes that harmless.
//
// Updates without a chat (kinds Penah does not handle) are not stored, but the offset moves past
// them with their batch. Nothing of an update's content is logged: only update ids and error
// classes.
//
// In production Seal and ChatKey are closures over internal/vault:
//
//	Seal: func(id int64, raw []byte) ([]byte, error) {
//		return v.Keyring().SealSecret(seal.PurposeSession, "update:"+strconv.FormatInt(id, 10), raw)
//	},
//	ChatKey: func(chat int64) intake.SessionKey {
//		return intake.SessionKey(v.Index("tg-chat", strconv.FormatInt(chat, 10)))
//	},
type Poller struct {
	// APIURL is the Bot API server, such as https://api.telegram.org (no trailing slash needed).
	APIURL string
	// Token is the bot token. It is never logged nor put in a returned error.
	Token string
	// Store is the inbox.
	Store PollStore
	// Seal encrypts an update's raw JSON before it is stored; it holds what the person typed.
	Seal func(updateID int64, raw []byte) ([]byte, error)
	// ChatKey turns a chat id into its blind index, the inbox's key.
	ChatKey func(chatID int64) intake.SessionKey

	// Timeout is the long-poll timeout, in whole seconds (0: PollTimeout).
	Timeout time.Duration
	// Client makes the requests (nil: a client whose timeout is Timeout plus a margin).
	Client *http.Client
	// Logger receives the poller's logs, with comp=poller (nil: slog.Default()).
	Logger *slog.Logger
	// Now reads the time stamped on stored updates (nil: time.Now).
	Now func() time.Time
	// Sleep waits d or until ctx is done (nil: a timer); tests may replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Stored, if set, is called after a batch was written (the Dispatcher's Notify).
	Stored func()
	// DeadLetter, if set, keeps an update that cannot be decoded.
	DeadLetter DeadLetterFunc
	// Leases and Owner, if set, make this poller poll only while it holds the poller lease:
	// Telegram allows one getUpdates consumer per bot, so other replicas stand by.
	Leases intake.Leases
	Owner  string
}

// pollEnvelope is the Bot API's answer.
type pollEnvelope struct {
	OK          bool              `json:"ok"`
	Result      []json.RawMessage `json:"result"`
	ErrorCode   int               `json:"error_code"`
	Description string            `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// pollError is a failed getUpdates call, classified.
type pollError struct {
	class      string // "network", "decode", "http"
	status     int    // HTTP status or error_code, 0 for network and decode errors
	retryAfter time.Duration
	err        error
}

func (e *pollError) Error() string {
	if e.status != 0 {
		return fmt.Sprintf("getUpdates: %s %d: %v", e.class, e.status, e.err)
	}
	return fmt.Sprintf("getUpdates: %s: %v", e.class, e.err)
}

func (e *pollError) Unwrap() error { return e.err }

// Run polls until ctx is done (it then returns nil) or the token is rejected (ErrUnauthorized).
// Every other failure is retried: after retry_after on a 429, with exponential backoff otherwise.
// An error reading the stored offset at start is returned, so a broken store fails fast.
func (p *Poller) Run(ctx context.Context) error {
	log := p.logger()
	offset, err := p.Store.Offset(ctx)
	if err != nil {
		return fmt.Errorf("poller: reading offset: %w", err)
	}
	log.Info("polling", "offset", offset)
	saver := p.startSaver(ctx)
	defer saver.close()
	lease := &singleton{leases: p.Leases, key: PollerLease, owner: p.Owner}
	defer lease.release()
	failures := 0
	for {
		if ctx.Err() != nil {
			return nil
		}
		if ok, err := lease.hold(ctx); !ok {
			if err != nil && ctx.Err() == nil {
				log.Warn("poller lease failed", "err", err)
			}
			if p.sleep(ctx, LeaseTTL/3) != nil {
				return nil
			}
			// Another replica may have moved the offset meanwhile.
			if o, err := p.Store.Offset(ctx); err == nil && o > offset {
				offset = o
			}
			continue
		}
		batch, err := p.getUpdates(ctx, offset)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var pe *pollError
			if !errors.As(err, &pe) {
				pe = &pollError{class: "unknown", err: err}
			}
			switch {
			case pe != nil && pe.status == http.StatusUnauthorized:
				log.Error("token rejected", "status", pe.status)
				return ErrUnauthorized
			case pe != nil && pe.status == http.StatusTooManyRequests && pe.retryAfter > 0:
				log.Warn("rate limited", "retry_after", pe.retryAfter)
				if p.sleep(ctx, pe.retryAfter) != nil {
					return nil
				}
				continue
			}
			d := backoff(failures)
			failures++
			log.Warn("getUpdates failed", "class", pe.class, "status", pe.status, "err", pe.err, "backoff", d)
			if p.sleep(ctx, d) != nil {
				return nil
			}
			continue
		}
		if len(batch) == 0 {
			failures = 0
			continue
		}
		next, err := p.store(ctx, batch)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d := backoff(failures)
			failures++
			log.Warn("inbox write failed; offset not advanced", "offset", offset, "err", err, "backoff", d)
			if p.sleep(ctx, d) != nil {
				return nil
			}
			continue
		}
		failures = 0
		if next > offset {
			offset = next
			saver.save(offset)
		}
	}
}

// offsetSaver persists the offset in the background, latest value first. The batch an offset
// confirms is durable before the offset exists, so the next getUpdates may confirm it at once;
// persisting only spares a restart from fetching the batch again (the inbox drops the copies),
// and it need not hold up the next poll.
type offsetSaver struct {
	p       *Poller
	latest  chan int64
	stopped chan struct{}
}

func (p *Poller) startSaver(ctx context.Context) *offsetSaver {
	s := &offsetSaver{p: p, latest: make(chan int64, 1), stopped: make(chan struct{})}
	go func() {
		defer close(s.stopped)
		for off := range s.latest {
			// The poller's context may be over at shutdown: the last offset is still written.
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := p.Store.SetOffset(wctx, off); err != nil {
				p.logger().Warn("persisting offset failed", "offset", off, "err", err)
			}
			cancel()
		}
	}()
	return s
}

// save queues off, replacing a value not yet written.
func (s *offsetSaver) save(off int64) {
	for {
		select {
		case s.latest <- off:
			return
		default:
		}
		select {
		case old := <-s.latest:
			off = max(off, old)
		default:
		}
	}
}

// close writes what is queued and stops.
func (s *offsetSaver) close() {
	close(s.latest)
	<-s.stopped
}

// store seals and writes every update of batch and returns the offset that confirms the batch
// (its highest update_id + 1). Each chat's updates are written with one PutUpdates, in order,
// so a chat's later update is never pending before its earlier one; chats are written in
// parallel, so a store that groups concurrent writes (bbolt's batches) makes one durable write
// of a whole batch. Any failure fails the batch: nothing may be confirmed then.
func (p *Poller) store(ctx context.Context, batch []json.RawMessage) (int64, error) {
	log := p.logger()
	var next int64
	type item struct {
		u   *models.Update
		raw []byte
	}
	var order []int64
	byChat := map[int64][]item{}
	for _, raw := range batch {
		var u models.Update
		if err := json.Unmarshal(raw, &u); err != nil || u.ID <= 0 {
			// Unreadable even for its id: it cannot be stored nor told apart from the others.
			// The offset still moves past it with the batch, or it would block the inbox forever.
			var head struct {
				UpdateID int64 `json:"update_id"`
			}
			_ = json.Unmarshal(raw, &head)
			log.Error("skipping undecodable update", "update_id", head.UpdateID, "err_class", "decode")
			if p.DeadLetter != nil {
				if err := p.DeadLetter(ctx, "poll", "json", raw); err != nil {
					return 0, fmt.Errorf("keeping dead letter: %w", err)
				}
			}
			next = max(next, head.UpdateID+1)
			continue
		}
		next = max(next, u.ID+1)
		chat, ok := updateChat(&u)
		if !ok {
			log.Debug("skipping update without a chat", "update_id", u.ID)
			continue
		}
		if _, ok := byChat[chat]; !ok {
			order = append(order, chat)
		}
		byChat[chat] = append(byChat[chat], item{&u, raw})
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for _, chat := range order {
		wg.Add(1)
		go func(chat int64, items []item) {
			defer wg.Done()
			fail := func(err error) {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			us := make([]intake.Update, 0, len(items))
			for _, it := range items {
				body, err := p.Seal(it.u.ID, it.raw)
				if err != nil {
					fail(fmt.Errorf("sealing update %d: %w", it.u.ID, err))
					return
				}
				us = append(us, intake.Update{ID: it.u.ID, Chat: p.ChatKey(chat), Body: body, Received: p.now()})
			}
			dups, err := p.Store.PutUpdates(ctx, us)
			if err != nil {
				fail(fmt.Errorf("storing updates: %w", err))
				return
			}
			for i, dup := range dups {
				if dup {
					log.Debug("duplicate update", "update_id", us[i].ID)
				}
			}
		}(chat, byChat[chat])
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	if p.Stored != nil {
		p.Stored()
	}
	return next, nil
}

// putUpdate seals one decoded update and writes it to the inbox. An update without a chat (a kind
// Penah does not handle) is not stored and is not an error.
func putUpdate(ctx context.Context, store PollStore, seal func(int64, []byte) ([]byte, error), chatKey func(int64) intake.SessionKey, now time.Time, u *models.Update, raw []byte) (dup bool, err error) {
	chat, ok := updateChat(u)
	if !ok {
		return false, nil
	}
	body, err := seal(u.ID, raw)
	if err != nil {
		return false, fmt.Errorf("sealing update %d: %w", u.ID, err)
	}
	dup, err = store.PutUpdate(ctx, intake.Update{ID: u.ID, Chat: chatKey(chat), Body: body, Received: now})
	if err != nil {
		return false, fmt.Errorf("storing update %d: %w", u.ID, err)
	}
	return dup, nil
}

// updateChat returns the chat an update belongs to, for the kinds Penah asks for.
func updateChat(u *models.Update) (int64, bool) {
	switch {
	case u.Message != nil:
		return u.Message.Chat.ID, u.Message.Chat.ID != 0
	case u.EditedMessage != nil:
		return u.EditedMessage.Chat.ID, u.EditedMessage.Chat.ID != 0
	case u.CallbackQuery != nil:
		// A press on a message older than 48 h comes with an InaccessibleMessage, which still
		// names the chat. A press on an inline-mode message has no chat at all.
		m := u.CallbackQuery.Message
		switch {
		case m.Message != nil:
			return m.Message.Chat.ID, m.Message.Chat.ID != 0
		case m.InaccessibleMessage != nil:
			return m.InaccessibleMessage.Chat.ID, m.InaccessibleMessage.Chat.ID != 0
		}
	}
	return 0, false
}

// getUpdates makes one getUpdates call.
func (p *Poller) getUpdates(ctx context.Context, offset int64) ([]json.RawMessage, error) {
	body, err := json.Marshal(struct {
		Offset         int64    `json:"offset"`
		Timeout        int      `json:"timeout"`
		Limit          int      `json:"limit"`
		AllowedUpdates []string `json:"allowed_updates"`
	}{offset, int(p.timeout() / time.Second), PollLimit, AllowedUpdates})
	if err != nil {
		return nil, &pollError{class: "encode", err: err}
	}
	endpoint := strings.TrimSuffix(p.APIURL, "/") + "/bot" + p.Token + "/getUpdates"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, &pollError{class: "request", err: errors.New("bad API URL")}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client().Do(req)
	if err != nil {
		return nil, &pollError{class: "network", err: stripURL(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxPollResponseBytes))
	if err != nil {
		return nil, &pollError{class: "network", err: stripURL(err)}
	}
	var env pollEnvelope
	if err := json.Unmarshal(data, &env); err != nil {
		if resp.StatusCode != http.StatusOK {
			return nil, &pollError{class: "http", status: resp.StatusCode, err: errors.New(http.StatusText(resp.StatusCode))}
		}
		return nil, &pollError{class: "decode", err: err}
	}
	if !env.OK || resp.StatusCode != http.StatusOK {
		status := env.ErrorCode
		if status == 0 {
			status = resp.StatusCode
		}
		return nil, &pollError{
			class:      "http",
			status:     status,
			retryAfter: time.Duration(env.Parameters.RetryAfter) * time.Second,
			err:        errors.New(env.Description),
		}
	}
	return env.Result, nil
}

// stripURL drops the request URL, which holds the token, from a transport error.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// backoff is the wait after failures failed attempts in a row.
func backoff(failures int) time.Duration {
	d := BackoffInitial
	for i := 0; i < failures && d < BackoffMax; i++ {
		d *= 2
	}
	return min(d, BackoffMax)
}

func (p *Poller) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return PollTimeout
}

func (p *Poller) client() *http.Client {
	if p.Client != nil {
		return p.Client
	}
	return &http.Client{Timeout: p.timeout() + pollRequestMargin}
}

func (p *Poller) logger() *slog.Logger { return componentLogger(p.Logger, "poller") }

func (p *Poller) now() time.Time { return nowOr(p.Now) }

func (p *Poller) sleep(ctx context.Context, d time.Duration) error { return sleepOr(ctx, p.Sleep, d) }
