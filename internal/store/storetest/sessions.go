package storetest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
)

func loadSession(t *testing.T, s intake.Store, key intake.SessionKey) (string, intake.Version) {
	t.Helper()
	b, v, err := s.LoadSession(ctx, key)
	if err != nil {
		t.Fatalf("LoadSession(%s): %v", key, err)
	}
	if (b == nil) != (v == 0) {
		t.Fatalf("LoadSession(%s) = %q, version %d: a session and its version go together", key, b, v)
	}
	return string(b), v
}

func commitSession(t *testing.T, s intake.Store, key intake.SessionKey, expect intake.Version, sess string) intake.Version {
	t.Helper()
	v, err := s.Commit(ctx, intake.Commit{Key: key, Expect: expect, Session: []byte(sess)})
	if err != nil {
		t.Fatalf("Commit(%s, expect %d): %v", key, expect, err)
	}
	return v
}

func testSessionEmpty(t *testing.T, s intake.Store, _ Options) {
	b, v, err := s.LoadSession(ctx, "nobody")
	if err != nil || b != nil || v != 0 {
		t.Fatalf("LoadSession of an empty store = %q, %d, %v; want nil, 0, nil", b, v, err)
	}
}

func testSessionVersions(t *testing.T, s intake.Store, _ Options) {
	if v := commitSession(t, s, "k", 0, "one"); v != 1 {
		t.Fatalf("first commit returned version %d, want 1", v)
	}
	if v := commitSession(t, s, "k", 1, "two"); v != 2 {
		t.Fatalf("second commit returned version %d, want 2", v)
	}
	if got, v := loadSession(t, s, "k"); got != "two" || v != 2 {
		t.Fatalf("load = %q v%d, want \"two\" v2", got, v)
	}
	for _, stale := range []intake.Version{0, 1, 3, 99} {
		_, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: stale, Session: []byte("stale")})
		if !isConflict(err) {
			t.Fatalf("commit expecting version %d of a version-2 session: %v, want ErrConflict", stale, err)
		}
	}
	if got, v := loadSession(t, s, "k"); got != "two" || v != 2 {
		t.Fatalf("a conflicting commit changed the session: %q v%d", got, v)
	}
	// Expecting a version of a session that does not exist conflicts too.
	if _, err := s.Commit(ctx, intake.Commit{Key: "new", Expect: 1, Session: []byte("x")}); !isConflict(err) {
		t.Fatalf("commit expecting version 1 of no session: %v, want ErrConflict", err)
	}
	if _, v := loadSession(t, s, "new"); v != 0 {
		t.Fatal("a conflicting commit created a session")
	}
}

func testSessionDelete(t *testing.T, s intake.Store, _ Options) {
	commitSession(t, s, "k", 0, "one")
	commitSession(t, s, "k", 1, "two")
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 1}); !isConflict(err) {
		t.Fatalf("delete with a stale version: %v, want ErrConflict", err)
	}
	if _, v := loadSession(t, s, "k"); v != 2 {
		t.Fatal("a conflicting delete removed the session")
	}
	v, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 2})
	if err != nil || v != 0 {
		t.Fatalf("delete = version %d, %v; want 0, nil", v, err)
	}
	if got, v := loadSession(t, s, "k"); got != "" || v != 0 {
		t.Fatalf("deleted session loads as %q v%d", got, v)
	}
	// Deleting what is not there, expecting nothing, is fine and stays nothing.
	if v, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 0}); err != nil || v != 0 {
		t.Fatalf("delete of no session = %d, %v; want 0, nil", v, err)
	}
	// A session created after a deletion starts again at version 1.
	if v := commitSession(t, s, "k", 0, "again"); v != 1 {
		t.Fatalf("recreated session has version %d, want 1", v)
	}
	if got, v := loadSession(t, s, "k"); got != "again" || v != 1 {
		t.Fatalf("recreated session loads as %q v%d", got, v)
	}
}

func testSessionKeys(t *testing.T, s intake.Store, _ Options) {
	commitSession(t, s, "a", 0, "a1")
	commitSession(t, s, "b", 0, "b1")
	commitSession(t, s, "a", 1, "a2")
	if _, err := s.Commit(ctx, intake.Commit{Key: "b", Expect: 1}); err != nil {
		t.Fatal(err)
	}
	if got, v := loadSession(t, s, "a"); got != "a2" || v != 2 {
		t.Fatalf("a = %q v%d after changes to b", got, v)
	}
	if _, v := loadSession(t, s, "b"); v != 0 {
		t.Fatal("b still there")
	}
}

func testSessionCopies(t *testing.T, s intake.Store, _ Options) {
	buf := []byte("original")
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Session: buf}); err != nil {
		t.Fatal(err)
	}
	copy(buf, "CHANGED!")
	got, _, err := s.LoadSession(ctx, "k")
	if err != nil || string(got) != "original" {
		t.Fatalf("the store kept the caller's slice: %q %v", got, err)
	}
	copy(got, "CHANGED!")
	if again, _ := loadSession(t, s, "k"); again != "original" {
		t.Fatalf("the store returned its own memory: %q", again)
	}
}

func testSessionConcurrent(t *testing.T, s intake.Store, _ Options) {
	const writers = 20
	var wins, conflicts atomic.Int32
	race(writers, func(i int) {
		_, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 0, Session: []byte("s")})
		switch {
		case err == nil:
			wins.Add(1)
		case isConflict(err):
			conflicts.Add(1)
		default:
			t.Errorf("writer %d: %v", i, err)
		}
	})
	if wins.Load() != 1 || conflicts.Load() != writers-1 {
		t.Fatalf("%d writers won and %d conflicted; want 1 and %d", wins.Load(), conflicts.Load(), writers-1)
	}
	if _, v := loadSession(t, s, "k"); v != 1 {
		t.Fatalf("version %d after one winning commit", v)
	}
}

// sessionTTLWait is longer than the short TTLs below by a margin a slow machine cannot eat: an
// expired session is only ever more expired later.
const sessionTTLWait = 750 * time.Millisecond

func testSessionTTL(t *testing.T, s intake.Store, _ Options) {
	short := 250 * time.Millisecond
	if _, err := s.Commit(ctx, intake.Commit{Key: "short", Session: []byte("s"), SessionTTL: short}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "long", Session: []byte("l"), SessionTTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "none", Session: []byte("n")}); err != nil {
		t.Fatal(err)
	}
	// A session given a TTL and then committed with none is kept until deleted.
	if _, err := s.Commit(ctx, intake.Commit{Key: "persisted", Session: []byte("p"), SessionTTL: short}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "persisted", Expect: 1, Session: []byte("p2")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(sessionTTLWait)
	if got, v := loadSession(t, s, "short"); v != 0 {
		t.Fatalf("session idle past its TTL still loads: %q v%d", got, v)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "short", Expect: 1, Session: []byte("late")}); !isConflict(err) {
		t.Fatalf("commit on an expired session expecting its old version: %v, want ErrConflict", err)
	}
	if v := commitSession(t, s, "short", 0, "fresh"); v != 1 {
		t.Fatalf("session after expiry starts at version %d, want 1", v)
	}
	for key, want := range map[intake.SessionKey]string{"long": "l", "none": "n", "persisted": "p2"} {
		if got, _ := loadSession(t, s, key); got != want {
			t.Fatalf("session %s = %q, want %q", key, got, want)
		}
	}
}

func testSessionTTLRenewed(t *testing.T, s intake.Store, _ Options) {
	// Each commit restarts the idle time: two commits 600 ms apart with a 1 s TTL keep the session
	// 1.2 s after the first, which the first TTL alone would not.
	ttl, gap := time.Second, 600*time.Millisecond
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Session: []byte("1"), SessionTTL: ttl}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(gap)
	start := time.Now()
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 1, Session: []byte("2"), SessionTTL: ttl}); err != nil {
		t.Fatalf("commit within the TTL: %v", err)
	}
	time.Sleep(gap)
	got, v := loadSession(t, s, "k")
	if time.Since(start) >= ttl {
		t.Logf("the machine stalled past the renewed TTL (%v): renewal not concluded", time.Since(start))
		return
	}
	if got != "2" || v != 2 {
		t.Fatalf("session renewed %v ago with TTL %v loads as %q v%d", gap, ttl, got, v)
	}
}

func testCommitCancelled(t *testing.T, s intake.Store, _ Options) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.Commit(c, intake.Commit{Key: "k", Session: []byte("s"), NewCase: newCase(ref(1), "t", 1, t0),
		Outbox: []intake.OutboxMessage{msg("m1", "k", t0)}, Audit: []intake.AuditEntry{{Time: t0, Actor: "system", Action: "case created", Ref: ref(1)}}})
	if err == nil {
		t.Fatal("Commit with a cancelled context succeeded")
	}
	if _, v := loadSession(t, s, "k"); v != 0 {
		t.Fatal("cancelled commit wrote the session")
	}
	if _, err := s.Case(ctx, ref(1)); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("cancelled commit created its case: %v", err)
	}
	if len(heads(t, s, t0)) != 0 || len(auditAll(t, s)) != 0 {
		t.Fatal("cancelled commit wrote outbox or audit")
	}
}

// failedCommitParts is a commit with every part filled, for the atomicity tests; the caller makes
// it fail one way or another.
func failedCommitParts(key intake.SessionKey, expect intake.Version, c *intake.Case, done int64) intake.Commit {
	return intake.Commit{
		Key: key, Expect: expect, Session: []byte("must not be written"), SessionTTL: time.Hour,
		Done: done, NewCase: c,
		Outbox: []intake.OutboxMessage{msg("failed-1", "failed-chat", t0), msg("failed-2", "officer", t0)},
		Audit:  []intake.AuditEntry{{Time: t0, Actor: "system", Action: "case created", Ref: c.Ref, To: intake.StatusQueued}},
		Now:    t0,
	}
}

// assertNothingOf checks that the session, inbox, outbox and audit parts of
// failedCommitParts(key, …, done) are not visible; callers check the case part.
func assertNothingOf(t *testing.T, s intake.Store, key intake.SessionKey, wantVersion intake.Version, wantSession string, done int64, wantAudit int) {
	t.Helper()
	if got, v := loadSession(t, s, key); v != wantVersion || got != wantSession {
		t.Fatalf("session after a failed commit = %q v%d, want %q v%d", got, v, wantSession, wantVersion)
	}
	if done != 0 {
		if id := pending(t, s, key); id != done {
			t.Fatalf("a failed commit marked update %d done (next pending is %d)", done, id)
		}
	}
	h := heads(t, s, t0.Add(time.Hour))
	if _, ok := h["failed-chat"]; ok {
		t.Fatal("a failed commit enqueued its outbox message")
	}
	if _, ok := h["officer"]; ok {
		t.Fatal("a failed commit enqueued its officer notice")
	}
	if n := len(auditAll(t, s)); n != wantAudit {
		t.Fatalf("audit has %d entries after a failed commit, want %d", n, wantAudit)
	}
	verify(t, s, wantAudit)
}

func testCommitConflictWritesNothing(t *testing.T, s intake.Store, _ Options) {
	commitSession(t, s, "k", 0, "kept")
	putUpdate(t, s, "k", 10)
	c := newCase(ref(1), "team", 1, t0)
	_, err := s.Commit(ctx, failedCommitParts("k", 7, c, 10))
	if !isConflict(err) {
		t.Fatalf("commit with a stale version: %v, want ErrConflict", err)
	}
	if _, err := s.Case(ctx, c.Ref); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("the conflicting commit created its case: %v", err)
	}
	if q := queue(t, s, "team"); len(q) != 0 {
		t.Fatalf("the conflicting commit queued its case: %v", q)
	}
	if refs, err := s.Cases(ctx); err != nil || len(refs) != 0 {
		t.Fatalf("Cases after a conflicting commit: %v %v", refs, err)
	}
	assertNothingOf(t, s, "k", 1, "kept", 10, 0)
}

func testCommitRefCollision(t *testing.T, s intake.Store, _ Options) {
	first := newCase(ref(1), "team", 2, t0)
	addCase(t, s, "first", first)
	putUpdate(t, s, "second", 20)
	// A second case with the same reference (another person, other content): the whole commit
	// must fail, after the session, inbox and outbox parts would have been applied.
	clash := newCase(ref(1), "other-team", 1, t0.Add(time.Minute))
	clash.Code, clash.Answers = "CLASH", []byte("the other person's answers")
	_, err := s.Commit(ctx, failedCommitParts("second", 0, clash, 20))
	if !isConflict(err) {
		t.Fatalf("commit of a case whose Ref exists: %v, want ErrConflict", err)
	}
	got := mustCase(t, s, first.Ref)
	if got.Code != first.Code || string(got.Answers) != string(first.Answers) || got.Team != "team" || got.Version != 1 {
		t.Fatalf("the existing case was changed by the failed commit: %+v", got)
	}
	if q := queue(t, s, "other-team"); len(q) != 0 {
		t.Fatalf("the failed case was queued: %v", q)
	}
	if q := queue(t, s, "team"); !sameRefs(q, []intake.Ref{first.Ref}) {
		t.Fatalf("queue of the existing case = %v", q)
	}
	assertNothingOf(t, s, "second", 0, "", 20, 0)
}

func testCommitDuplicateOutbox(t *testing.T, s intake.Store, _ Options) {
	if _, err := s.Commit(ctx, intake.Commit{Key: "a", Session: []byte("a"), Outbox: []intake.OutboxMessage{msg("dup", "a", t0)}}); err != nil {
		t.Fatal(err)
	}
	putUpdate(t, s, "b", 5)
	c := failedCommitParts("b", 0, newCase(ref(2), "team", 1, t0), 5)
	c.Outbox = append(c.Outbox, msg("dup", "b", t0))
	if _, err := s.Commit(ctx, c); !isConflict(err) {
		t.Fatalf("commit with an outbox id already enqueued: %v, want ErrConflict", err)
	}
	if _, err := s.Case(ctx, ref(2)); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("the failed commit created its case: %v", err)
	}
	h := heads(t, s, t0)
	if m, ok := h["a"]; !ok || string(m.Body) != "sealed request dup" {
		t.Fatalf("the first message with that id is gone or changed: %+v", h)
	}
	if _, ok := h["b"]; ok {
		t.Fatal("the failed commit enqueued its message")
	}
	assertNothingOf(t, s, "b", 0, "", 5, 0)
}

func testCommitDoneNotPending(t *testing.T, s intake.Store, _ Options) {
	putUpdate(t, s, "k", 1)
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Session: []byte("s"), Done: 1}); err != nil {
		t.Fatal(err)
	}
	// The same update again (another replica processed it): the second turn must have no effect.
	if _, err := s.Commit(ctx, failedCommitParts("k", 1, newCase(ref(3), "team", 1, t0), 1)); !isConflict(err) {
		t.Fatalf("commit marking an update done twice: %v, want ErrConflict", err)
	}
	// An update never stored, of this or another chat.
	putUpdate(t, s, "other", 2)
	for _, done := range []int64{99, 2} {
		if _, err := s.Commit(ctx, failedCommitParts("k", 1, newCase(ref(3), "team", 1, t0), done)); !isConflict(err) {
			t.Fatalf("commit marking update %d (not pending in this chat) done: %v, want ErrConflict", done, err)
		}
	}
	if _, err := s.Case(ctx, ref(3)); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("a failed commit created its case: %v", err)
	}
	if id := pending(t, s, "other"); id != 2 {
		t.Fatalf("another chat's update was marked done: next pending %d", id)
	}
	assertNothingOf(t, s, "k", 1, "s", 0, 0)
}

func testCommitAllParts(t *testing.T, s intake.Store, _ Options) {
	putUpdate(t, s, "k", 41)
	putUpdate(t, s, "k", 42)
	c := newCase(ref(1), "team", 2, t0)
	c.Version = 77 // the store sets it
	c.Deadline = t0.Add(time.Hour)
	v, err := s.Commit(ctx, intake.Commit{
		Key: "k", Session: []byte("after the turn"), Done: 41, NewCase: c,
		Outbox: []intake.OutboxMessage{msg("reply", "k", t0), msg("notice", "officer", t0)},
		Audit:  []intake.AuditEntry{{Time: t0, Actor: "system", Action: "case created", Ref: c.Ref, To: intake.StatusQueued}},
		Now:    t0,
	})
	if err != nil || v != 1 {
		t.Fatalf("Commit = %d, %v", v, err)
	}
	if got, v := loadSession(t, s, "k"); got != "after the turn" || v != 1 {
		t.Fatalf("session = %q v%d", got, v)
	}
	if id := pending(t, s, "k"); id != 42 {
		t.Fatalf("next pending = %d, want 42 (41 done by the commit)", id)
	}
	got := mustCase(t, s, c.Ref)
	if got.Version != 1 || got.Team != "team" || got.Priority != 2 || got.Code != c.Code ||
		!got.Created.Equal(t0) || !got.Deadline.Equal(c.Deadline) || string(got.Answers) != string(c.Answers) ||
		got.Status != intake.StatusQueued || got.Routing["governorate"][0] != "erbil" || got.Lang != "ckb" {
		t.Fatalf("stored case = %+v", got)
	}
	if q := queue(t, s, "team"); !sameRefs(q, []intake.Ref{c.Ref}) {
		t.Fatalf("queue = %v", q)
	}
	h := heads(t, s, t0)
	if h["k"].ID != "reply" || h["officer"].ID != "notice" {
		t.Fatalf("outbox heads = %+v", h)
	}
	es := auditAll(t, s)
	if len(es) != 1 || es[0].Action != "case created" || es[0].Ref != c.Ref || es[0].Seq != 1 {
		t.Fatalf("audit = %+v", es)
	}
	verify(t, s, 1)
}
