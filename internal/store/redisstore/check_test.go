package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/redisstore"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
)

func TestCheck(t *testing.T) {
	srv := redistest.StartServer(t)
	s, err := redisstore.Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Session: []byte("s"),
		NewCase: &intake.Case{Ref: "R1", Status: intake.StatusQueued, Team: "t", Created: t0},
		Outbox:  []intake.OutboxMessage{{ID: "m1", Chat: "k", Due: t0}},
		Audit:   []intake.AuditEntry{{Time: t0, Action: "case created", Ref: "R1"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutUpdate(ctx, intake.Update{ID: 5, Chat: "k"}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := redisstore.Counts{Cases: 1, Unclaimed: 1, PendingChats: 1, Outbox: 1, AuditEntries: 1}
	if r.Mode != redisstore.ModeSingle || r.ServerVersion == "" || !r.EvictionOK || !r.Durable ||
		r.AppendFsync != "always" || len(r.Advice) != 0 || r.Counts != want {
		t.Fatalf("Check of a well-set server = %+v", r)
	}
	// appendfsync everysec: durable no more, and the advice says why.
	if _, err := srv.Command("CONFIG", "SET", "appendfsync", "everysec"); err != nil {
		t.Fatal(err)
	}
	r, err = s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Durable || len(r.Advice) != 1 || !strings.Contains(r.Advice[0], "appendfsync always") {
		t.Fatalf("Check with appendfsync everysec = %+v", r)
	}
	// An eviction policy set after Open shows in Check.
	if _, err := srv.Command("CONFIG", "SET", "maxmemory-policy", "volatile-lru"); err != nil {
		t.Fatal(err)
	}
	if r, _ = s.Check(ctx); r.EvictionOK || !strings.Contains(strings.Join(r.Advice, "\n"), "noeviction") {
		t.Fatalf("Check with volatile-lru = %+v", r)
	}
}

// TestScriptsSurviveAFlushedCache: every script loads at Open; when the server forgets them
// (SCRIPT FLUSH, as after a restart or a failover), operations fall back to EVAL and go on.
func TestScriptsSurviveAFlushedCache(t *testing.T) {
	srv := redistest.StartServer(t)
	s, err := redisstore.Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := srv.Command("SCRIPT", "FLUSH"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Session: []byte("s"), Audit: []intake.AuditEntry{{Action: "x"}}}); err != nil {
		t.Fatalf("Commit after SCRIPT FLUSH: %v", err)
	}
	if dup, err := s.PutUpdate(ctx, intake.Update{ID: 1, Chat: "k"}); err != nil || dup {
		t.Fatalf("PutUpdate after SCRIPT FLUSH: %v %v", dup, err)
	}
	if n, err := intake.VerifyAudit(ctx, s); err != nil || n != 1 {
		t.Fatalf("VerifyAudit = %d %v", n, err)
	}
}
