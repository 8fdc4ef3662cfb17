package bot

import (
	"context"
	"log/slog"
	"time"

	"github.com/penahbot/penah/internal/intake"
)

// Helpers shared by the edge's loops (Poller, Sender): their clocks and loggers are injectable.

// componentLogger returns l (or slog.Default()) tagged with the component's name.
func componentLogger(l *slog.Logger, comp string) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return l.With("comp", comp)
}

// nowOr reads the injected clock, or the real one.
func nowOr(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

// sleepOr waits d with the injected sleep, or a timer; it returns early with ctx's error.
func sleepOr(ctx context.Context, sleep func(context.Context, time.Duration) error, d time.Duration) error {
	if sleep != nil {
		return sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// singleton keeps a lease that makes one replica at a time run a loop that must be unique across
// replicas: the outbox sender (Telegram's rate limits are per bot, not per replica) and the
// getUpdates poller (Telegram answers 409 to a second one).
type singleton struct {
	leases  intake.Leases
	key     intake.SessionKey
	owner   string
	renewed time.Time
	held    bool
}

// hold takes or renews the lease when a third of LeaseTTL has passed; it reports whether this
// replica holds it. Without leases (nil) it always holds.
func (s *singleton) hold(ctx context.Context) (bool, error) {
	if s.leases == nil {
		return true, nil
	}
	if s.held && time.Since(s.renewed) < LeaseTTL/3 {
		return true, nil
	}
	ok, err := s.leases.AcquireLease(ctx, s.key, s.owner, LeaseTTL)
	if err != nil {
		s.held = false
		return false, err
	}
	s.held, s.renewed = ok, time.Now()
	return ok, nil
}

// release gives the lease up (at shutdown), so another replica takes over at once.
func (s *singleton) release() {
	if s.leases == nil || !s.held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.leases.ReleaseLease(ctx, s.key, s.owner)
	s.held = false
}
