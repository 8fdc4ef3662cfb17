package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/locales"
)

// Limits and delays of the dispatcher.
const (
	// DispatchWorkers is the default number of chats worked on at once (each chat by one worker).
	DispatchWorkers = 32
	// LeaseTTL is how long a replica holds a lease without renewing it. A holder renews it once a
	// third of it has passed, so only a replica that stalls this long can lose a chat to another
	// (even then Commit.Done makes each update's effects happen once); a replica that dies holds
	// its chats this long at most.
	LeaseTTL = 10 * time.Second
	// DispatchIdle is how long the dispatcher waits for a wake-up before it asks the inbox again.
	DispatchIdle = 250 * time.Millisecond
	// TurnTimeout bounds one turn, including its commit. A turn in flight at shutdown is finished
	// within it rather than cut off.
	TurnTimeout = 10 * time.Second
	// FloodLimit is how many updates one person may send in FloodWindow; past it one polite
	// notice is sent and further updates in the window are dropped unread (button presses are
	// still answered, so the person's client stops spinning).
	FloodLimit = 30
	// FloodWindow is the flood limit's window.
	FloodWindow = time.Minute
	// ChatRetryInitial is the wait before a chat whose turn failed for a transient reason (storage
	// unavailable) is tried again; it doubles per failure up to BackoffMax.
	ChatRetryInitial = 200 * time.Millisecond
	// ClearSweep is how often scheduled automatic clears are looked for.
	ClearSweep = 5 * time.Second
)

// DispatchStore is what the dispatcher needs of the store.
type DispatchStore interface {
	NextUpdate(ctx context.Context, chat intake.SessionKey) (*intake.Update, error)
	PendingChats(ctx context.Context, limit int) ([]intake.SessionKey, error)
	DoneUpdate(ctx context.Context, chat intake.SessionKey, id int64) error
	intake.Leases
	intake.RateLimits
	intake.Tracker
	intake.DeadLetters
	intake.Cases
	intake.Queues
	intake.Audit
	intake.Directory
}

// Dispatcher takes updates from the inbox and runs them through intake.Service (DESIGN.md §3):
// one worker per chat processes that chat's updates in update_id order; different chats run in
// parallel, up to Workers at once. A per-chat lease keeps other replicas off a chat while a
// worker holds it (with bbolt there is one process, and the lease is cheap). Each update's turn
// commits its session, its replies (as sealed outbox requests) and the update's "done" mark in one
// transaction, so a crash at any moment loses nothing and repeats nothing.
//
// A turn that panics or fails inside Penah becomes a localized "something went wrong, your answers
// are safe" reply and an alert (an Error log with alert=true); the update is marked done so it
// cannot jam the chat. A turn that fails because storage is unavailable is retried later, with
// backoff.
type Dispatcher struct {
	Store   DispatchStore
	Service *intake.Service
	Catalog *locales.Catalog
	// Open decrypts a stored update's body (see Poller.Seal).
	Open func(updateID int64, sealed []byte) ([]byte, error)
	// SealOut encrypts an outbox request and OpenOut decrypts one (the Sender's Open).
	SealOut func(id intake.OutboxID, plain []byte) ([]byte, error)
	OpenOut func(id intake.OutboxID, sealed []byte) ([]byte, error)
	// Owner names this replica in leases; it must be unique per process (crypto/rand).
	Owner string
	// Wake, if set, is called after a turn enqueued outbox messages (the Sender's Wake).
	Wake func()

	// Workers bounds the chats worked on at once (0: DispatchWorkers).
	Workers int
	// FloodLimit and FloodWindow set the per-person flood limit (0: the package constants;
	// FloodLimit < 0 turns it off, for load tests).
	FloodLimit  int
	FloodWindow time.Duration
	// AutoClear, when positive, clears a finished conversation's messages this long after it ended.
	AutoClear time.Duration

	// Roster, when set, turns on the officer side (desk.go): officers are recognised by their
	// Telegram id, new cases are announced to them, and people and officers talk through the
	// relay. Library labels routing fields in notices; SealDir and OpenDir seal the directory
	// records linking people to their cases; ChatKey is the blind index of a chat id.
	Roster  Roster
	Library engine.Library
	SealDir func(name string, plain []byte) ([]byte, error)
	OpenDir func(name string, sealed []byte) ([]byte, error)
	ChatKey func(chatID int64) intake.SessionKey

	// Logger receives the dispatcher's logs, with comp=dispatch (nil: slog.Default()).
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	once   sync.Once
	wake   chan struct{}
	mu     sync.Mutex
	active map[intake.SessionKey]bool
	retry  map[intake.SessionKey]chatRetry
}

type chatRetry struct {
	at       time.Time
	failures int
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.wake = make(chan struct{}, 1)
		d.active = map[intake.SessionKey]bool{}
		d.retry = map[intake.SessionKey]chatRetry{}
	})
}

// Notify tells the dispatcher that new updates are in the inbox (the poller and the webhook call
// it after a write), so it does not wait for its next idle round.
func (d *Dispatcher) Notify() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx is done, then waits for the turns in flight to finish (each within
// TurnTimeout) and returns nil. It returns an error only when the store fails at the start.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	log := d.logger()
	if _, err := d.Store.PendingChats(ctx, 1); err != nil {
		return fmt.Errorf("dispatcher: reading the inbox: %w", err)
	}
	workers := d.Workers
	if workers <= 0 {
		workers = DispatchWorkers
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	nextSweep := time.Time{}
	for ctx.Err() == nil {
		if d.AutoClear > 0 && !d.now().Before(nextSweep) {
			d.sweepClears(ctx)
			nextSweep = d.now().Add(min(ClearSweep, d.AutoClear))
		}
		chats, err := d.Store.PendingChats(ctx, intake.MaxBatch)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("reading pending chats failed", "err", err)
			}
			d.idle(ctx)
			continue
		}
		started := 0
		for _, chat := range chats {
			if !d.claim(chat) {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				d.unclaim(chat)
				return nil
			}
			started++
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				d.work(ctx, chat)
			}()
		}
		if started == 0 {
			d.idle(ctx)
		}
	}
	return nil
}

// idle waits for a wake-up, DispatchIdle, or the end.
func (d *Dispatcher) idle(ctx context.Context) {
	t := time.NewTimer(DispatchIdle)
	defer t.Stop()
	select {
	case <-d.wake:
	case <-t.C:
	case <-ctx.Done():
	}
}

// claim marks a chat as worked on by this process, unless it already is or waits for a retry.
func (d *Dispatcher) claim(chat intake.SessionKey) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.active[chat] {
		return false
	}
	if r, ok := d.retry[chat]; ok && d.now().Before(r.at) {
		return false
	}
	d.active[chat] = true
	return true
}

// unclaim ends a worker; it wakes the loop, since updates may have arrived for the chat while it
// was being worked on and the loop skipped it then.
func (d *Dispatcher) unclaim(chat intake.SessionKey) {
	d.mu.Lock()
	delete(d.active, chat)
	d.mu.Unlock()
	d.Notify()
}

// failed records a transient failure of a chat; succeeded clears it.
func (d *Dispatcher) failed(chat intake.SessionKey) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.retry[chat]
	wait := ChatRetryInitial
	for i := 0; i < r.failures && wait < BackoffMax; i++ {
		wait *= 2
	}
	d.retry[chat] = chatRetry{at: d.now().Add(min(wait, BackoffMax)), failures: r.failures + 1}
}

func (d *Dispatcher) succeeded(chat intake.SessionKey) {
	d.mu.Lock()
	delete(d.retry, chat)
	d.mu.Unlock()
}

// work processes one chat's pending updates in order while it holds the chat's lease.
func (d *Dispatcher) work(ctx context.Context, chat intake.SessionKey) {
	defer d.unclaim(chat)
	log := d.logger().With("chat", string(chat))
	ok, err := d.Store.AcquireLease(ctx, chat, d.Owner, LeaseTTL)
	if err != nil || !ok {
		if err != nil && ctx.Err() == nil {
			log.Warn("lease failed", "err", err)
			d.failed(chat)
		}
		return
	}
	renewed := time.Now()
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if err := d.Store.ReleaseLease(rctx, chat, d.Owner); err != nil {
			log.Warn("releasing lease failed", "err", err)
		}
	}()
	for ctx.Err() == nil {
		if time.Since(renewed) > LeaseTTL/3 {
			if ok, err := d.Store.AcquireLease(ctx, chat, d.Owner, LeaseTTL); err != nil || !ok {
				return
			}
			renewed = time.Now()
		}
		u, err := d.Store.NextUpdate(ctx, chat)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("reading next update failed", "err", err)
				d.failed(chat)
			}
			return
		}
		if u == nil {
			d.succeeded(chat)
			return
		}
		// The turn itself is not cut off by shutdown: it runs to its commit, within TurnTimeout.
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), TurnTimeout)
		err = d.process(tctx, u)
		cancel()
		if err != nil {
			log.Warn("turn not committed; will retry", "update_id", u.ID, "err", err)
			d.failed(chat)
			return
		}
	}
}

// process handles one update. It returns an error only when the update stays pending (storage
// unavailable): every other outcome marks it done.
func (d *Dispatcher) process(ctx context.Context, u *intake.Update) (err error) {
	log := d.logger().With("chat", string(u.Chat), "update_id", u.ID)
	var in Incoming
	defer func() {
		if r := recover(); r != nil {
			// Never the panic value: it may quote what the person typed. The stack has code
			// positions only.
			log.Error("turn panicked", "alert", true, "stack", string(debug.Stack()))
			err = d.fail(ctx, u, in)
		}
	}()
	plain, err := d.Open(u.ID, u.Body)
	if err == nil {
		in, err = ParseUpdate(plain)
	}
	if err != nil {
		return d.deadLetter(ctx, u, "undecodable")
	}
	if in.Private && in.MessageID != 0 && in.Kind != KindCallback {
		if err := d.Store.TrackMessages(ctx, u.Chat, []intake.TrackedMessage{{ID: in.MessageID, At: in.Date}}); err != nil {
			return fmt.Errorf("tracking message: %w", err)
		}
	}
	turn := intake.Turn{Key: u.Chat, UpdateID: u.ID, Input: engine.Input{LangHint: in.LangCode}}
	notice := func(msg locales.MsgID) error {
		turn.Deliver = d.deliverer(in, u.Chat)
		return d.settle(ctx, u, d.Service.Notify(ctx, turn, msg))
	}
	if !in.Private {
		return notice(MsgIf(in.Kind == KindText, locales.MsgGroupRefused))
	}
	if msg, drop, err := d.flood(ctx, u.Chat); err != nil {
		return err
	} else if drop {
		return notice(msg)
	}
	if in.Private && d.Roster != nil {
		if handled, err := d.desk(ctx, u, in); handled || err != nil {
			return err
		}
	}
	switch in.Kind {
	case KindEdited:
		return notice(locales.MsgEditedIgnored)
	case KindMedia:
		return notice(locales.MsgNotText)
	case KindCallback:
		turn.Input.Data = in.Data
		if in.Data == dataInfoFlow {
			turn.Input = engine.Input{Text: "/start info", LangHint: in.LangCode} // offered when a case closes
		}
	default:
		turn.Input.Text = in.Text
	}
	deliver := d.deliverer(in, u.Chat)
	turn.Deliver = func(out *intake.Outcome) ([]intake.OutboxMessage, error) {
		msgs, err := deliver(out)
		if err != nil || out.Case == nil || d.Roster == nil {
			return msgs, err
		}
		// A new case: link it to the person (for the relay and /status) and announce it to the
		// team's officers, in the turn's commit.
		if err := d.linkCase(ctx, u.Chat, in.ChatID, out.Case.Ref); err != nil {
			return nil, err
		}
		notices, err := d.newCaseNotices(ctx, out.Case)
		return append(msgs, notices...), err
	}
	out, err := d.Service.Run(ctx, turn)
	if err != nil {
		if errors.Is(err, intake.ErrUnavailable) {
			return err
		}
		if !d.pending(ctx, u) {
			return nil // another worker processed it
		}
		log.Error("turn failed", "alert", true, "err", err)
		return d.fail(ctx, u, in)
	}
	if d.Roster != nil && hasEffect(out, engine.EffectForget) {
		// The cases are shredded; nothing may lead back to the person any more.
		if err := d.unlinkPerson(ctx, u.Chat); err != nil {
			log.Error("unlinking a forgotten person failed", "alert", true, "err", err)
		}
	}
	d.afterTurn(ctx, u.Chat, in, out)
	return nil
}

// MsgIf returns msg when cond holds, else no message.
func MsgIf(cond bool, msg locales.MsgID) locales.MsgID {
	if cond {
		return msg
	}
	return ""
}

// fail answers an update whose turn failed with the localized error reply and marks it done.
func (d *Dispatcher) fail(ctx context.Context, u *intake.Update, in Incoming) error {
	if in.ChatID == 0 {
		return d.deadLetter(ctx, u, "panic")
	}
	turn := intake.Turn{Key: u.Chat, UpdateID: u.ID, Input: engine.Input{LangHint: in.LangCode}, Deliver: d.deliverer(in, u.Chat)}
	return d.settle(ctx, u, d.Service.Notify(ctx, turn, locales.MsgErrorGeneric))
}

// settle turns a commit error of a notice into process's result: a conflict because the update is
// no longer pending means another worker did it.
func (d *Dispatcher) settle(ctx context.Context, u *intake.Update, err error) error {
	if err == nil {
		d.wakeSender()
		return nil
	}
	if errors.Is(err, intake.ErrConflict) && !d.pending(ctx, u) {
		return nil
	}
	return err
}

func (d *Dispatcher) pending(ctx context.Context, u *intake.Update) bool {
	next, err := d.Store.NextUpdate(ctx, u.Chat)
	return err != nil || (next != nil && next.ID == u.ID)
}

// deadLetter keeps an update that cannot be read (sealed as it was stored) and marks it done.
func (d *Dispatcher) deadLetter(ctx context.Context, u *intake.Update, reason string) error {
	id, err := intake.NewOutboxID()
	if err != nil {
		return err
	}
	d.logger().Error("update cannot be processed; kept as a dead letter", "alert", true, "update_id", u.ID, "reason", reason, "dead_letter", string(id))
	if err := d.Store.PutDeadLetter(ctx, intake.DeadLetter{ID: string(id), Received: d.now(), Source: "inbox", Reason: reason, Size: len(u.Body), Body: u.Body}); err != nil {
		return err
	}
	if err := d.Store.DoneUpdate(ctx, u.Chat, u.ID); err != nil && !errors.Is(err, intake.ErrNotFound) {
		return err
	}
	return nil
}

// flood counts the update against the person's flood limit: past the limit it returns drop, with
// the notice to send the first time.
func (d *Dispatcher) flood(ctx context.Context, chat intake.SessionKey) (locales.MsgID, bool, error) {
	limit, window := d.FloodLimit, d.FloodWindow
	if limit < 0 {
		return "", false, nil
	}
	if limit == 0 {
		limit = FloodLimit
	}
	if window <= 0 {
		window = FloodWindow
	}
	n, err := d.Store.Hit(ctx, "flood:"+string(chat), window, d.now())
	if err != nil {
		return "", false, fmt.Errorf("flood limit: %w", err)
	}
	switch {
	case n <= limit:
		return "", false, nil
	case n == limit+1:
		d.logger().Info("flood limit reached", "chat", string(chat))
		return locales.MsgFloodNotice, true, nil
	}
	return "", true, nil
}

// afterTurn schedules or cancels the automatic clear of a conversation.
func (d *Dispatcher) afterTurn(ctx context.Context, chat intake.SessionKey, in Incoming, out intake.Outcome) {
	d.wakeSender()
	if d.AutoClear <= 0 {
		return
	}
	log := d.logger().With("chat", string(chat))
	var (
		at     time.Time
		target []byte
	)
	if hasEffect(out, engine.EffectEnd) {
		plain, err := EncodeRequest(OutboundRequest{Method: MethodClearChat, ChatID: in.ChatID})
		if err == nil {
			target, err = d.SealOut(clearTargetID(chat), plain)
		}
		if err != nil {
			log.Error("scheduling auto-clear failed", "err", err)
			return
		}
		at = d.now().Add(d.AutoClear)
	}
	if err := d.Store.ScheduleClear(ctx, chat, at, target); err != nil {
		log.Warn("scheduling auto-clear failed", "err", err)
	}
}

// clearTargetID is the sealing context of a scheduled clear's target.
func clearTargetID(chat intake.SessionKey) intake.OutboxID {
	return intake.OutboxID("clear:" + string(chat))
}

// sweepClears enqueues the automatic clears that are due.
func (d *Dispatcher) sweepClears(ctx context.Context) {
	log := d.logger()
	due, err := d.Store.DueClears(ctx, d.now(), intake.MaxBatch)
	if err != nil {
		log.Warn("reading scheduled clears failed", "err", err)
		return
	}
	for _, c := range due {
		turn := intake.Turn{Key: c.Chat, Deliver: func(*intake.Outcome) ([]intake.OutboxMessage, error) {
			m, err := d.outbox(c.Chat, nil)
			if err != nil {
				return nil, err
			}
			// The target was sealed under the chat's clear context; re-seal it under the message id.
			plain, err := d.OpenOut(clearTargetID(c.Chat), c.Target)
			if err != nil {
				return nil, err
			}
			if m.Body, err = d.SealOut(m.ID, plain); err != nil {
				return nil, err
			}
			return []intake.OutboxMessage{m}, nil
		}}
		if err := d.Service.Notify(ctx, turn, ""); err != nil {
			log.Warn("auto-clear not enqueued", "chat", string(c.Chat), "err", err)
			continue
		}
		if err := d.Store.ScheduleClear(ctx, c.Chat, time.Time{}, nil); err != nil {
			log.Warn("cancelling a done auto-clear failed", "chat", string(c.Chat), "err", err)
		}
		d.wakeSender()
	}
}

func hasEffect(out intake.Outcome, k engine.EffectKind) bool {
	for _, e := range out.Effects {
		if e.Kind == k {
			return true
		}
	}
	return false
}

func (d *Dispatcher) wakeSender() {
	if d.Wake != nil {
		d.Wake()
	}
}

func (d *Dispatcher) logger() *slog.Logger { return componentLogger(d.Logger, "dispatch") }

func (d *Dispatcher) now() time.Time { return nowOr(d.Now) }
