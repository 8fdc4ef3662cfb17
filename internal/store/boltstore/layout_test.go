package boltstore_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
)

// TestOpenMigratesLayoutZero: a file written before the layout had a version (sessions as
// version+sealed, cases without versions or indexes, a JSON list of refs per person) opens with
// everything readable, indexed and forgettable.
func TestOpenMigratesLayoutZero(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "penah.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := func(ref intake.Ref, created time.Time, status intake.Status) []byte {
		b, _ := json.Marshal(map[string]any{"ref": ref, "code": "ABC-DEF", "status": status, "created": created, "team": "t", "answers": []byte("sealed")})
		return b
	}
	t1, t2 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	err = db.Update(func(tx *bolt.Tx) error {
		put := func(bucket, k string, v []byte) {
			b, err := tx.CreateBucketIfNotExists([]byte(bucket))
			if err == nil {
				err = b.Put([]byte(k), v)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		put("sessions", "k", append(binary.BigEndian.AppendUint64(nil, 4), "sealed session"...))
		put("cases", "OLD2", old("OLD2", t2, intake.StatusQueued))
		put("cases", "OLD1", old("OLD1", t1, intake.StatusClosed))
		put("case_owners", "k", []byte(`["OLD1","OLD2"]`))
		put("keys", "team/t", []byte("sealed key"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if sess, v, err := s.LoadSession(ctx, "k"); err != nil || v != 4 || string(sess) != "sealed session" {
		t.Fatalf("migrated session = %q v%d %v", sess, v, err)
	}
	if refs, err := s.Cases(ctx); err != nil || fmt.Sprint(refs) != "[OLD1 OLD2]" {
		t.Fatalf("migrated cases = %v %v", refs, err)
	}
	if c, err := s.Case(ctx, "OLD1"); err != nil || c.Version != 1 || c.Code != "ABC-DEF" {
		t.Fatalf("migrated case = %+v %v", c, err)
	}
	if q, err := s.Queue(ctx, "t", 0); err != nil || len(q) != 1 || q[0].Ref != "OLD2" {
		t.Fatalf("migrated queue = %v %v", q, err)
	}
	if rec, err := s.KeyRecord(ctx, "team/t"); err != nil || string(rec) != "sealed key" {
		t.Fatalf("migrated key record = %q %v", rec, err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 4, Forget: true, Now: t2}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []intake.Ref{"OLD1", "OLD2"} {
		if c, _ := s.Case(ctx, r); c.Status != intake.StatusWithdrawn || c.Answers != nil {
			t.Fatalf("Forget after migration missed %s: %+v", r, c)
		}
	}
	s.Close()
	// Opening again does not migrate twice.
	s, err = boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.Case(ctx, "OLD1"); err != nil || c.Version != 2 || c.Status != intake.StatusWithdrawn {
		t.Fatalf("after a second open: %+v %v", c, err)
	}
}

// TestExpiredRecordsArePruned: expired sessions, update ids, leases and rate counters leave the
// file, at most MaxPrunePerTx per write transaction.
func TestExpiredRecordsArePruned(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	const n = boltstore.MaxPrunePerTx + 20 // of each kind
	now := time.Now()
	for i := range n {
		key := intake.SessionKey(fmt.Sprint("k", i))
		if _, err := s.Commit(ctx, intake.Commit{Key: key, Session: []byte("s"), SessionTTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutUpdate(ctx, intake.Update{ID: int64(i), Chat: key}); err != nil {
			t.Fatal(err)
		}
		if err := s.DoneUpdate(ctx, key, int64(i)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcquireLease(ctx, key, "r", time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Hit(ctx, string(key), time.Minute, now); err != nil {
			t.Fatal(err)
		}
	}
	// A session without TTL stays, and so does a lease renewed after the clock moved.
	if _, err := s.Commit(ctx, intake.Commit{Key: "forever", Session: []byte("s")}); err != nil {
		t.Fatal(err)
	}
	count := func(bucket string) int {
		t.Helper()
		c, err := boltstore.BucketLen(s, bucket)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, b := range []string{"sessions", "dedupe", "leases", "rates"} {
		if c := count(b); c < n {
			t.Fatalf("%s: %d records before expiry, want at least %d", b, c, n)
		}
	}
	before := count("expiry")
	if before != 4*n {
		t.Fatalf("expiry index has %d entries, want %d", before, 4*n)
	}
	boltstore.AdvanceClock(s, intake.InboxDedupTTL+time.Hour)
	if err := s.SetOffset(ctx, 1); err != nil { // any write transaction prunes
		t.Fatal(err)
	}
	if pruned := before - count("expiry"); pruned != boltstore.MaxPrunePerTx {
		t.Fatalf("one write transaction pruned %d records, want MaxPrunePerTx (%d)", pruned, boltstore.MaxPrunePerTx)
	}
	if ok, err := s.AcquireLease(ctx, "k0", "r", time.Hour); err != nil || !ok { // renewed: stays
		t.Fatalf("renewing k0's lease: %v %v", ok, err)
	}
	for writes := 0; count("expiry") > 1; writes++ {
		if writes > 4*n/boltstore.MaxPrunePerTx+2 {
			t.Fatalf("pruning does not progress: %d index entries left", count("expiry"))
		}
		if err := s.SetOffset(ctx, 1); err != nil { // any write transaction prunes
			t.Fatal(err)
		}
	}
	if c := count("sessions"); c != 1 {
		t.Fatalf("%d sessions left, want only the one without TTL", c)
	}
	for b, want := range map[string]int{"dedupe": 0, "leases": 1, "rates": 0} {
		if c := count(b); c != want {
			t.Fatalf("%s: %d records left, want %d", b, c, want)
		}
	}
	if ok, _ := s.AcquireLease(ctx, "k0", "other", time.Hour); ok {
		t.Fatal("pruning removed a renewed lease")
	}
}

// TestOrderSurvivesCompactionAndReopen: outbox order, inbox, offset, queue and the audit chain
// continue where they were after a compaction (Forget) and a restart.
func TestOrderSurvivesCompactionAndReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "penah.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	msg := func(id string) intake.OutboxMessage {
		return intake.OutboxMessage{ID: intake.OutboxID(id), Chat: "officer", Body: []byte(id), Due: now}
	}
	c := &intake.Case{Ref: "R1", Status: intake.StatusQueued, Created: now, Team: "t"}
	if _, err := s.Commit(ctx, intake.Commit{Key: "a", Session: []byte("s"), NewCase: c, Outbox: []intake.OutboxMessage{msg("first")},
		Audit: []intake.AuditEntry{{Time: now, Actor: "system", Action: "case created", Ref: "R1"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "a", Expect: 1, Forget: true, Now: now}); err != nil { // compacts
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "b", Session: []byte("s"), Outbox: []intake.OutboxMessage{msg("second")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutUpdate(ctx, intake.Update{ID: 77, Chat: "b", Body: []byte("u")}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOffset(ctx, 78); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Commit(ctx, intake.Commit{Key: "b", Expect: 1, Session: []byte("s"), Done: 77, Outbox: []intake.OutboxMessage{msg("third")}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []intake.OutboxID{"first", "second", "third"} {
		ms, err := s.DueMessages(ctx, now, 0)
		if err != nil || len(ms) != 1 || ms[0].ID != want {
			t.Fatalf("due = %+v %v, want %s", ms, err, want)
		}
		if err := s.MarkSent(ctx, want); err != nil {
			t.Fatal(err)
		}
	}
	if off, err := s.Offset(ctx); err != nil || off != 78 {
		t.Fatalf("offset after reopen = %d %v", off, err)
	}
	if dup, err := s.PutUpdate(ctx, intake.Update{ID: 77, Chat: "b"}); err != nil || !dup {
		t.Fatalf("update id forgotten across a restart: %v %v", dup, err)
	}
	if n, err := intake.VerifyAudit(ctx, s); err != nil || n != 2 {
		t.Fatalf("audit after compaction and reopen: %d %v", n, err)
	}
	if err := boltstore.CheckFile(s); err != nil {
		t.Fatal(err)
	}
}
