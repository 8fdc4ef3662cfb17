package bot

import (
	"context"
	"log/slog"
	"time"
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
