package redisstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
)

// TestEdgeLifetimes: a chat's tracked set and each dead letter carry their lifetimes on the
// server (PTTL), and the indexes of dead letters lose the members of expired ones at later puts.
func TestEdgeLifetimes(t *testing.T) {
	url, _, _ := redistest.Start(t)
	s, prefix := openFresh(t, url)
	c := rawClient(t, url)
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.TrackMessages(ctx, "chat", []intake.TrackedMessage{{ID: 1, At: now}}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"{l}:track:chat", "{l}:trackord:chat"} {
		ttl, err := c.PTTL(ctx, prefix+key).Result()
		if err != nil || ttl <= intake.TrackedTTL-time.Minute || ttl > intake.TrackedTTL {
			t.Fatalf("PTTL %s = %v %v, want about TrackedTTL", key, ttl, err)
		}
	}
	const n = 5
	for i := range n {
		d := intake.DeadLetter{ID: fmt.Sprint("dl", i), Received: now, Source: "webhook", Reason: "json", Body: []byte("sealed")}
		if err := s.PutDeadLetter(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	ttl, err := c.PTTL(ctx, prefix+"{l}:dl:dl0").Result()
	if err != nil || ttl <= intake.DeadLetterTTL-time.Minute || ttl > intake.DeadLetterTTL {
		t.Fatalf("PTTL of a dead letter = %v %v, want about DeadLetterTTL", ttl, err)
	}
	indexes := func() (int64, int64) {
		t.Helper()
		a, err1 := c.ZCard(ctx, prefix+"{l}:dlidx").Result()
		b, err2 := c.ZCard(ctx, prefix+"{l}:dlage").Result()
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		return a, b
	}
	if a, b := indexes(); a != n || b != n {
		t.Fatalf("indexes hold %d and %d members, want %d", a, b, n)
	}
	advance(t, url, prefix, intake.DeadLetterTTL)
	if ds, err := s.DeadLetters(ctx, 0); err != nil || len(ds) != 0 {
		t.Fatalf("expired dead letters listed: %v %v", ds, err)
	}
	if a, b := indexes(); a != n || b != n {
		t.Fatalf("before the next put the indexes hold %d and %d members, want %d", a, b, n)
	}
	if err := s.PutDeadLetter(ctx, intake.DeadLetter{ID: "fresh", Received: now, Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if a, b := indexes(); a != 1 || b != 1 {
		t.Fatalf("after a put the indexes hold %d and %d members, want only the new one", a, b)
	}
}
