package boltstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
)

// TestEdgeRecordsArePruned: expired tracked sets and dead letters leave the file, the dead
// letters' order index included, while scheduled clears (which do not expire) stay.
func TestEdgeRecordsArePruned(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 30
	for i := range n {
		chat := intake.SessionKey(fmt.Sprint("chat", i))
		if err := s.TrackMessages(ctx, chat, []intake.TrackedMessage{{ID: 1, At: now}, {ID: 2, At: now}}); err != nil {
			t.Fatal(err)
		}
		d := intake.DeadLetter{ID: fmt.Sprint("dl", i), Received: now, Source: "webhook", Reason: "json", Body: []byte("sealed")}
		if err := s.PutDeadLetter(ctx, d); err != nil {
			t.Fatal(err)
		}
		if err := s.ScheduleClear(ctx, chat, now, []byte("target")); err != nil {
			t.Fatal(err)
		}
	}
	count := func(bucket string) int {
		t.Helper()
		c, err := boltstore.BucketLen(s, bucket)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for b, want := range map[string]int{"tracked": n, "dead_letters": n, "dead_received": n, "clears": n, "clear_due": n, "expiry": 2 * n} {
		if c := count(b); c != want {
			t.Fatalf("%s: %d records, want %d", b, c, want)
		}
	}
	// Untracking everything deletes the set and its expiry entry.
	if err := s.UntrackMessages(ctx, "chat0", []int64{1, 2}); err != nil {
		t.Fatal(err)
	}
	if c, e := count("tracked"), count("expiry"); c != n-1 || e != 2*n-1 {
		t.Fatalf("after untracking all of a chat: %d tracked sets, %d expiry entries", c, e)
	}
	boltstore.AdvanceClock(s, intake.DeadLetterTTL+intake.TrackedTTL)
	if err := s.SetOffset(ctx, 1); err != nil { // any write transaction prunes
		t.Fatal(err)
	}
	for b, want := range map[string]int{"tracked": 0, "dead_letters": 0, "dead_received": 0, "clears": n, "clear_due": n, "expiry": 0} {
		if c := count(b); c != want {
			t.Fatalf("after pruning, %s: %d records, want %d", b, c, want)
		}
	}
	if err := boltstore.CheckFile(s); err != nil {
		t.Fatal(err)
	}
}
