package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
)

func acquire(t *testing.T, s intake.Store, chat intake.SessionKey, owner string, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.AcquireLease(ctx, chat, owner, ttl)
	if err != nil {
		t.Fatalf("AcquireLease(%s, %s): %v", chat, owner, err)
	}
	return ok
}

func testLeaseExclusive(t *testing.T, s intake.Store, _ Options) {
	if !acquire(t, s, "c", "r1", time.Hour) {
		t.Fatal("free lease not acquired")
	}
	if acquire(t, s, "c", "r2", time.Hour) {
		t.Fatal("a second owner acquired a held lease")
	}
	if !acquire(t, s, "c", "r1", time.Hour) {
		t.Fatal("the owner could not renew its lease")
	}
	if !acquire(t, s, "other", "r2", time.Hour) {
		t.Fatal("leases of different chats are not independent")
	}
	if err := s.ReleaseLease(ctx, "c", "r2"); err != nil {
		t.Fatal(err)
	}
	if acquire(t, s, "c", "r2", time.Hour) {
		t.Fatal("someone else's ReleaseLease freed the lease")
	}
	if err := s.ReleaseLease(ctx, "c", "r1"); err != nil {
		t.Fatal(err)
	}
	if !acquire(t, s, "c", "r2", time.Hour) {
		t.Fatal("a released lease could not be taken")
	}
	if err := s.ReleaseLease(ctx, "nobody", "r1"); err != nil {
		t.Fatalf("ReleaseLease of no lease: %v", err)
	}
}

// leaseWait is well past the short lease below: an expired lease only gets more expired.
const leaseWait = 700 * time.Millisecond

func testLeaseExpires(t *testing.T, s intake.Store, _ Options) {
	short := 200 * time.Millisecond
	if !acquire(t, s, "expiring", "r1", short) {
		t.Fatal("free lease not acquired")
	}
	// Renewal with a long ttl extends the lease past the short one.
	if !acquire(t, s, "renewed", "r1", short) || !acquire(t, s, "renewed", "r1", time.Hour) {
		t.Fatal("lease not acquired and renewed")
	}
	time.Sleep(leaseWait)
	if !acquire(t, s, "expiring", "r2", time.Hour) {
		t.Fatal("an expired lease could not be taken by another owner")
	}
	if acquire(t, s, "expiring", "r1", time.Hour) {
		t.Fatal("the old owner took back a lease now held by another")
	}
	if acquire(t, s, "renewed", "r2", time.Hour) {
		t.Fatal("a renewed lease expired at its first ttl")
	}
}

func testLeaseConcurrent(t *testing.T, s intake.Store, _ Options) {
	const replicas = 20
	var wins atomic.Int32
	race(replicas, func(i int) {
		ok, err := s.AcquireLease(ctx, "c", fmt.Sprintf("replica-%d", i), time.Hour)
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
		if ok {
			wins.Add(1)
		}
	})
	if wins.Load() != 1 {
		t.Fatalf("%d replicas hold the lease; want 1", wins.Load())
	}
}

func testAuditAppend(t *testing.T, s intake.Store, _ Options) {
	if es, err := s.AuditEntries(ctx, 0, 10); err != nil || len(es) != 0 {
		t.Fatalf("AuditEntries of an empty store: %v %v", es, err)
	}
	verify(t, s, 0)
	for i := 1; i <= 5; i++ {
		e := intake.AuditEntry{
			// Nanoseconds and a zone: the hash covers the exact instant.
			Time:  t0.Add(time.Duration(i)*time.Second + 123456789).In(time.FixedZone("AST", 3*3600)),
			Actor: fmt.Sprintf("officer-%d", i), Action: "noted", Ref: ref(i),
			From: intake.StatusQueued, To: intake.StatusClaimed, Reason: fmt.Sprintf("reason %d", i),
			// The store sets these; whatever the caller passes is ignored.
			Seq: 99, Prev: []byte("garbage"), Hash: []byte("garbage"),
		}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	es, err := s.AuditEntries(ctx, 0, 100)
	if err != nil || len(es) != 5 {
		t.Fatalf("AuditEntries = %d entries, %v", len(es), err)
	}
	prev := make([]byte, 32)
	for i, e := range es {
		n := i + 1
		if e.Seq != uint64(n) || e.Actor != fmt.Sprintf("officer-%d", n) || e.Ref != ref(n) || e.Action != "noted" ||
			e.From != intake.StatusQueued || e.To != intake.StatusClaimed || e.Reason != fmt.Sprintf("reason %d", n) ||
			!e.Time.Equal(t0.Add(time.Duration(n)*time.Second+123456789)) {
			t.Fatalf("entry %d = %+v", n, e)
		}
		if string(e.Prev) != string(prev) || string(e.Hash) != string(e.ChainHash()) {
			t.Fatalf("entry %d is not linked: %+v", n, e)
		}
		prev = e.Hash
	}
	page, err := s.AuditEntries(ctx, 2, 2)
	if err != nil || len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
		t.Fatalf("AuditEntries(after 2, limit 2) = %+v %v", page, err)
	}
	if rest, err := s.AuditEntries(ctx, 5, 10); err != nil || len(rest) != 0 {
		t.Fatalf("AuditEntries past the end = %+v %v", rest, err)
	}
	verify(t, s, 5)
}

func testAuditConcurrent(t *testing.T, s intake.Store, _ Options) {
	addCase(t, s, "k", newCase(ref(1), "t", 2, t0))
	const writers, each = 10, 3
	race(writers, func(i int) {
		for j := range each {
			e := intake.AuditEntry{Time: t0, Actor: fmt.Sprintf("w%d", i), Action: fmt.Sprint(j), Ref: ref(1)}
			var err error
			switch j {
			case 0:
				err = s.AppendAudit(ctx, e)
			case 1:
				err = s.UpdateCase(ctx, ref(1), 0, func(c *intake.Case) error { return nil }, &e)
			default:
				_, err = s.Commit(ctx, intake.Commit{Key: intake.SessionKey(fmt.Sprint("w", i)), Audit: []intake.AuditEntry{e}})
			}
			if err != nil {
				t.Errorf("writer %d entry %d: %v", i, j, err)
			}
		}
	})
	verify(t, s, writers*each)
	seen := map[string]bool{}
	for _, e := range auditAll(t, s) {
		k := e.Actor + "/" + e.Action
		if seen[k] {
			t.Fatalf("entry %s appended twice", k)
		}
		seen[k] = true
	}
}

func testAuditPaging(t *testing.T, s intake.Store, _ Options) {
	// One commit appends more than a page; VerifyAudit must walk several pages.
	n := intake.MaxBatch + 7
	es := make([]intake.AuditEntry, n)
	for i := range es {
		es[i] = intake.AuditEntry{Time: t0.Add(time.Duration(i)), Actor: "system", Action: "bulk", Reason: fmt.Sprint(i)}
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Audit: es}); err != nil {
		t.Fatal(err)
	}
	page, err := s.AuditEntries(ctx, 0, 10*intake.MaxBatch)
	if err != nil || len(page) != intake.MaxBatch {
		t.Fatalf("AuditEntries(limit past MaxBatch) returned %d entries, %v; want MaxBatch", len(page), err)
	}
	all := auditAll(t, s)
	if len(all) != n || all[n-1].Reason != fmt.Sprint(n-1) {
		t.Fatalf("%d entries, last %+v", len(all), all[len(all)-1])
	}
	verify(t, s, n)
}

// tamperedAudit shows an engine's audit log through a function that changes what it returns.
type tamperedAudit struct {
	intake.Audit
	change func([]intake.AuditEntry) []intake.AuditEntry
}

func (a tamperedAudit) AuditEntries(ctx context.Context, after uint64, limit int) ([]intake.AuditEntry, error) {
	es, err := a.Audit.AuditEntries(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	return a.change(slices.Clone(es)), nil
}

func testAuditTamper(t *testing.T, s intake.Store, o Options) {
	for i := 1; i <= 4; i++ {
		if err := s.AppendAudit(ctx, intake.AuditEntry{Time: t0, Actor: "officer", Action: "viewed", Ref: ref(i)}); err != nil {
			t.Fatal(err)
		}
	}
	verify(t, s, 4)
	for name, change := range map[string]func([]intake.AuditEntry) []intake.AuditEntry{
		"altered": func(es []intake.AuditEntry) []intake.AuditEntry {
			es[1].Actor = "someone else"
			return es
		},
		"rehashed": func(es []intake.AuditEntry) []intake.AuditEntry {
			es[1].Ref = ref(9)
			es[1].Hash = es[1].ChainHash() // consistent by itself, but the next entry's Prev breaks
			return es
		},
		"dropped": func(es []intake.AuditEntry) []intake.AuditEntry { return slices.Delete(es, 1, 2) },
		"reordered": func(es []intake.AuditEntry) []intake.AuditEntry {
			es[1], es[2] = es[2], es[1]
			return es
		},
		"last removed and renumbered": func(es []intake.AuditEntry) []intake.AuditEntry {
			es = slices.Delete(es, 2, 3)
			es[2].Seq = 3
			return es
		},
	} {
		if _, err := intake.VerifyAudit(ctx, tamperedAudit{s, change}); !errors.Is(err, intake.ErrAuditBroken) {
			t.Errorf("%s entry: VerifyAudit = %v, want ErrAuditBroken", name, err)
		}
	}
	if o.Tamper != nil {
		o.Tamper(t, s, 2)
		if _, err := intake.VerifyAudit(ctx, s); !errors.Is(err, intake.ErrAuditBroken) {
			t.Fatalf("after the stored entry 2 was altered, VerifyAudit = %v; want ErrAuditBroken", err)
		}
	}
}

func testShred(t *testing.T, s intake.Store, _ Options) {
	for i := 1; i <= 3; i++ {
		addCase(t, s, intake.SessionKey(fmt.Sprint("k", i)), newCase(ref(i), "t", 2, t0.Add(time.Duration(i)*time.Minute)))
	}
	closeCase(t, s, ref(2), t0.Add(time.Hour))
	now := t0.Add(100 * 24 * time.Hour)
	if err := s.Shred(ctx, []intake.Ref{ref(1), ref(2)}, intake.StatusShredded, now); err != nil {
		t.Fatal(err)
	}
	for i, from := range []intake.Status{intake.StatusQueued, intake.StatusClosed} {
		c := mustCase(t, s, ref(i+1))
		if c.Status != intake.StatusShredded || c.Code != "" || c.Answers != nil || c.Envelope != nil || !c.Shredded.Equal(now) {
			t.Fatalf("shredded case %s is not a tombstone: %+v", c.Ref, c)
		}
		if !c.Created.Equal(t0.Add(time.Duration(i+1)*time.Minute)) || c.Routing["governorate"][0] != "erbil" || c.Team != "t" || c.Lang != "ckb" {
			t.Fatalf("the tombstone lost what statistics need: %+v", c)
		}
		wantVersion := intake.Version(2)
		if from == intake.StatusClosed {
			wantVersion = 3
		}
		if c.Version != wantVersion {
			t.Fatalf("tombstone %s has version %d, want %d", c.Ref, c.Version, wantVersion)
		}
	}
	if c := mustCase(t, s, ref(3)); c.Code == "" || c.Answers == nil {
		t.Fatalf("an unlisted case was shredded: %+v", c)
	}
	if q := queue(t, s, "t"); !sameRefs(q, []intake.Ref{ref(3)}) {
		t.Fatalf("queue after shredding = %v", q)
	}
	es := auditAll(t, s)
	if len(es) != 3 {
		t.Fatalf("audit = %v; want closed then two shredded", actions(es))
	}
	for i, from := range []intake.Status{intake.StatusQueued, intake.StatusClosed} {
		e := es[1+i]
		if e.Actor != "system" || e.Action != "shredded" || e.Ref != ref(i+1) || e.From != from || e.To != intake.StatusShredded || !e.Time.Equal(now) {
			t.Fatalf("shred audit entry = %+v", e)
		}
	}
	verify(t, s, 3)
	// A stale update of a shredded case conflicts.
	if err := s.UpdateCase(ctx, ref(1), 1, func(*intake.Case) error { return nil }, nil); !isConflict(err) {
		t.Fatalf("UpdateCase expecting the pre-shredding version: %v, want ErrConflict", err)
	}
}

func testShredUnknown(t *testing.T, s intake.Store, _ Options) {
	addCase(t, s, "k", newCase(ref(1), "t", 2, t0))
	err := s.Shred(ctx, []intake.Ref{ref(1), ref(9)}, intake.StatusShredded, t0)
	if !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("Shred with an unknown ref: %v, want ErrNotFound", err)
	}
	if c := mustCase(t, s, ref(1)); c.Status != intake.StatusQueued || c.Answers == nil || c.Version != 1 {
		t.Fatalf("a failed Shred shredded a case: %+v", c)
	}
	if n := len(auditAll(t, s)); n != 0 {
		t.Fatalf("a failed Shred appended %d audit entries", n)
	}
	if q := queue(t, s, "t"); !sameRefs(q, []intake.Ref{ref(1)}) {
		t.Fatalf("a failed Shred changed the queue: %v", q)
	}
	if err := s.Shred(ctx, nil, intake.StatusShredded, t0); err != nil {
		t.Fatalf("Shred of nothing: %v", err)
	}
}

func testForget(t *testing.T, s intake.Store, _ Options) {
	addCase(t, s, "k", newCase(ref(1), "t", 2, t0))
	addCase(t, s, "k", newCase(ref(2), "t", 2, t0.Add(time.Minute)))
	addCase(t, s, "other", newCase(ref(3), "t", 2, t0.Add(2*time.Minute)))
	closeCase(t, s, ref(2), t0.Add(time.Hour))
	_, v, _ := s.LoadSession(ctx, "k")
	now := t0.Add(2 * time.Hour)
	bye := msg("erased", "k", now)
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: v, Forget: true, Now: now, Outbox: []intake.OutboxMessage{bye},
		Audit: []intake.AuditEntry{{Time: now, Actor: "person", Action: "forget"}}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []intake.Ref{ref(1), ref(2)} {
		c := mustCase(t, s, r)
		if c.Status != intake.StatusWithdrawn || c.Code != "" || c.Answers != nil || c.Envelope != nil || !c.Shredded.Equal(now) {
			t.Fatalf("forgotten case %s is not a tombstone: %+v", r, c)
		}
	}
	if c := mustCase(t, s, ref(3)); c.Status != intake.StatusQueued || c.Answers == nil {
		t.Fatalf("another person's case was shredded: %+v", c)
	}
	if _, v := loadSession(t, s, "k"); v != 0 {
		t.Fatal("the session of a forgotten person remains")
	}
	if q := queue(t, s, "t"); !sameRefs(q, []intake.Ref{ref(3)}) {
		t.Fatalf("queue after /forget = %v", q)
	}
	if id := headID(t, s, now, "k"); id != "erased" {
		t.Fatalf("the commit's own message was not enqueued: %q", id)
	}
	es := auditAll(t, s)
	got := actions(es[1:])
	want := []string{"withdrawn " + string(ref(1)), "withdrawn " + string(ref(2)), "forget "}
	if !slices.Equal(got, want) {
		t.Fatalf("audit = %q, want %q (Forget's entries before the commit's)", got, want)
	}
	for i, from := range []intake.Status{intake.StatusQueued, intake.StatusClosed} {
		if e := es[1+i]; e.Actor != "person" || e.From != from || e.To != intake.StatusWithdrawn || !e.Time.Equal(now) {
			t.Fatalf("withdrawn entry = %+v", e)
		}
	}
	// Forgetting again finds nothing to shred: the link is gone.
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Forget: true, Now: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n := len(auditAll(t, s)); n != len(es) {
		t.Fatalf("a second Forget appended %d entries", n-len(es))
	}
	if c := mustCase(t, s, ref(1)); !c.Shredded.Equal(now) {
		t.Fatalf("a second Forget touched the tombstone: %+v", c)
	}
	verify(t, s, len(es))
	// Forget of someone with no case and no session.
	if _, err := s.Commit(ctx, intake.Commit{Key: "stranger", Forget: true, Now: now}); err != nil {
		t.Fatalf("Forget of a stranger: %v", err)
	}
}

func testForgetConflict(t *testing.T, s intake.Store, _ Options) {
	addCase(t, s, "k", newCase(ref(1), "t", 2, t0))
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 7, Forget: true, Now: t0}); !isConflict(err) {
		t.Fatalf("stale Forget: %v, want ErrConflict", err)
	}
	if c := mustCase(t, s, ref(1)); c.Status != intake.StatusQueued || c.Answers == nil {
		t.Fatalf("a conflicting Forget shredded the case: %+v", c)
	}
	if n := len(auditAll(t, s)); n != 0 {
		t.Fatalf("a conflicting Forget appended %d audit entries", n)
	}
	// The link survived: a Forget that succeeds still finds the case.
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 1, Forget: true, Now: t0}); err != nil {
		t.Fatal(err)
	}
	if c := mustCase(t, s, ref(1)); c.Status != intake.StatusWithdrawn {
		t.Fatalf("Forget after a conflict: %+v", c)
	}
}

func testShredUnlinks(t *testing.T, s intake.Store, _ Options) {
	addCase(t, s, "k", newCase(ref(1), "t", 2, t0))
	addCase(t, s, "k", newCase(ref(2), "t", 2, t0))
	if err := s.Shred(ctx, []intake.Ref{ref(1)}, intake.StatusShredded, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 2, Forget: true, Now: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if c := mustCase(t, s, ref(1)); c.Status != intake.StatusShredded || !c.Shredded.Equal(t0.Add(time.Hour)) {
		t.Fatalf("Forget touched a case shredded before: %+v", c)
	}
	if c := mustCase(t, s, ref(2)); c.Status != intake.StatusWithdrawn {
		t.Fatalf("Forget missed a linked case: %+v", c)
	}
	if got := actions(auditAll(t, s)); !slices.Equal(got, []string{"shredded " + string(ref(1)), "withdrawn " + string(ref(2))}) {
		t.Fatalf("audit = %q", got)
	}
}

func hit(t *testing.T, s intake.Store, key string, window time.Duration, now time.Time) int {
	t.Helper()
	n, err := s.Hit(ctx, key, window, now)
	if err != nil {
		t.Fatalf("Hit: %v", err)
	}
	return n
}

func testRateWindows(t *testing.T, s intake.Store, _ Options) {
	w := time.Minute
	for i, at := range []time.Duration{0, 10 * time.Second, 59*time.Second + 999*time.Millisecond} {
		if n := hit(t, s, "chat:a", w, t0.Add(at)); n != i+1 {
			t.Fatalf("hit %d in one window counted %d", i+1, n)
		}
	}
	if n := hit(t, s, "chat:b", w, t0); n != 1 {
		t.Fatalf("another key counted %d", n)
	}
	if n := hit(t, s, "chat:a", time.Hour, t0); n != 1 {
		t.Fatalf("the same key with another window counted %d; windows of different lengths are separate counters", n)
	}
	// The next window starts at the next whole minute (aligned to the Unix epoch).
	if n := hit(t, s, "chat:a", w, t0.Add(w)); n != 1 {
		t.Fatalf("first hit of the next window counted %d", n)
	}
	if n := hit(t, s, "chat:a", w, t0.Add(w+30*time.Second)); n != 2 {
		t.Fatalf("second hit of the next window counted %d", n)
	}
	// A window of 7 minutes, aligned to the epoch, not to the first hit.
	w7 := 7 * time.Minute
	start := time.Unix(0, 0).Add(t0.Sub(time.Unix(0, 0)) / w7 * w7).UTC()
	if n := hit(t, s, "seven", w7, start.Add(w7-time.Nanosecond)); n != 1 {
		t.Fatal(n)
	}
	if n := hit(t, s, "seven", w7, start.Add(w7)); n != 1 {
		t.Fatalf("a hit at the start of the next 7-minute window counted %d", n)
	}
}

func testRateConcurrent(t *testing.T, s intake.Store, _ Options) {
	const hits = 20
	var mu sync.Mutex
	var counts []int
	race(hits, func(i int) {
		n, err := s.Hit(ctx, "k", time.Minute, t0.Add(time.Second))
		if err != nil {
			t.Errorf("hit %d: %v", i, err)
			return
		}
		mu.Lock()
		counts = append(counts, n)
		mu.Unlock()
	})
	slices.Sort(counts)
	for i, n := range counts {
		if n != i+1 {
			t.Fatalf("concurrent hits counted %v; want 1..%d each once", counts, hits)
		}
	}
	if len(counts) != hits {
		t.Fatalf("%d hits returned", len(counts))
	}
}

func testKeyRecords(t *testing.T, s intake.Store, _ Options) {
	if b, err := s.KeyRecord(ctx, "team/a"); err != nil || b != nil {
		t.Fatalf("absent key record = %q, %v; want nil, nil", b, err)
	}
	if names, err := s.KeyRecordNames(ctx); err != nil || len(names) != 0 {
		t.Fatalf("names of none = %v %v", names, err)
	}
	rec := []byte("sealed record b")
	for name, v := range map[string][]byte{"team/b": rec, "escrow": []byte("sealed escrow"), "team/a": []byte("sealed a")} {
		if err := s.PutKeyRecord(ctx, name, v); err != nil {
			t.Fatal(err)
		}
	}
	copy(rec, "XXXXXX")
	if b, _ := s.KeyRecord(ctx, "team/b"); string(b) != "sealed record b" {
		t.Fatalf("the store kept the caller's slice: %q", b)
	}
	if err := s.PutKeyRecord(ctx, "team/a", []byte("sealed a v2")); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.KeyRecord(ctx, "team/a"); string(b) != "sealed a v2" {
		t.Fatalf("overwritten record = %q", b)
	}
	names, err := s.KeyRecordNames(ctx)
	if err != nil || !slices.Equal(names, []string{"escrow", "team/a", "team/b"}) {
		t.Fatalf("KeyRecordNames = %v %v; want sorted", names, err)
	}
}
