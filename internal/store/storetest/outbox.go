package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
)

func enqueue(t *testing.T, s intake.Store, key intake.SessionKey, ms ...intake.OutboxMessage) {
	t.Helper()
	_, v, err := s.LoadSession(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: key, Expect: v, Session: []byte("s"), Outbox: ms}); err != nil {
		t.Fatalf("Commit with outbox: %v", err)
	}
}

func headID(t *testing.T, s intake.Store, now time.Time, chat intake.SessionKey) intake.OutboxID {
	t.Helper()
	return heads(t, s, now)[chat].ID
}

func testOutboxOrder(t *testing.T, s intake.Store, _ Options) {
	if ms, err := s.DueMessages(ctx, t0, 10); err != nil || len(ms) != 0 {
		t.Fatalf("DueMessages of an empty outbox: %v %v", ms, err)
	}
	enqueue(t, s, "a", msg("a1", "a", t0), msg("a2", "a", t0), msg("a3", "a", t0.Add(-time.Hour)))
	enqueue(t, s, "b", msg("b1", "b", t0.Add(-time.Minute)))
	enqueue(t, s, "c", msg("c1", "c", t0.Add(time.Minute))) // not due yet
	h := heads(t, s, t0)
	if len(h) != 2 || h["a"].ID != "a1" || h["b"].ID != "b1" {
		t.Fatalf("due at t0 = %+v; want a1 (the head of a, though a3 is due earlier) and b1", h)
	}
	a1 := h["a"]
	if string(a1.Body) != "sealed request a1" || !a1.Due.Equal(t0) || a1.Attempts != 0 || a1.Chat != "a" {
		t.Fatalf("stored message = %+v", a1)
	}
	if err := s.MarkSent(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	h = heads(t, s, t0)
	if h["a"].ID != "a2" || h["a"].Seq <= a1.Seq {
		t.Fatalf("after a1 was sent the head of a is %+v (a1 had seq %d)", h["a"], a1.Seq)
	}
	if err := s.MarkSent(ctx, "a2"); err != nil {
		t.Fatal(err)
	}
	if id := headID(t, s, t0, "a"); id != "a3" {
		t.Fatalf("head of a = %q, want a3", id)
	}
	if id := headID(t, s, t0.Add(time.Minute), "c"); id != "c1" {
		t.Fatalf("c1 not due at its time: %q", id)
	}
	if err := s.MarkSent(ctx, "a1"); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("MarkSent twice: %v, want ErrNotFound", err)
	}
}

func testOutboxRetry(t *testing.T, s intake.Store, _ Options) {
	enqueue(t, s, "a", msg("a1", "a", t0), msg("a2", "a", t0))
	later := t0.Add(30 * time.Second)
	if err := s.Retry(ctx, "a1", later); err != nil {
		t.Fatal(err)
	}
	// a2 is due but must wait behind a1.
	if h := heads(t, s, t0); len(h) != 0 {
		t.Fatalf("while a1 waits for its retry, due = %+v; want nothing", h)
	}
	h := heads(t, s, later)
	if m := h["a"]; m.ID != "a1" || m.Attempts != 1 || !m.Due.Equal(later) {
		t.Fatalf("after Retry, head = %+v; want a1, 1 attempt, due at the retry time", m)
	}
	if err := s.Retry(ctx, "a1", later.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if m := heads(t, s, later.Add(time.Second))["a"]; m.Attempts != 2 {
		t.Fatalf("after a second Retry, attempts = %d", m.Attempts)
	}
	if err := s.MarkSent(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if id := headID(t, s, t0, "a"); id != "a2" {
		t.Fatalf("after a1 was sent, head = %q", id)
	}
}

func testOutboxMarkFailed(t *testing.T, s intake.Store, _ Options) {
	enqueue(t, s, "a", msg("a1", "a", t0), msg("a2", "a", t0))
	if err := s.MarkFailed(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if id := headID(t, s, t0, "a"); id != "a2" {
		t.Fatalf("after a1 failed, head = %q", id)
	}
	if err := s.MarkFailed(ctx, "a1"); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("MarkFailed twice: %v, want ErrNotFound", err)
	}
}

func testOutboxUnknown(t *testing.T, s intake.Store, _ Options) {
	if err := s.MarkSent(ctx, "nope"); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("MarkSent: %v", err)
	}
	if err := s.Retry(ctx, "nope", t0); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("Retry: %v", err)
	}
	if err := s.MarkFailed(ctx, "nope"); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("MarkFailed: %v", err)
	}
	if h := heads(t, s, t0.Add(time.Hour)); len(h) != 0 {
		t.Fatalf("Retry of an unknown id created a message: %+v", h)
	}
}

func testOutboxOldestFirst(t *testing.T, s intake.Store, _ Options) {
	enqueue(t, s, "k",
		msg("m2", "chat2", t0.Add(-2*time.Minute)),
		msg("m1", "chat1", t0.Add(-1*time.Minute)),
		msg("m3", "chat3", t0.Add(-3*time.Minute)),
		msg("m0", "chat0", t0.Add(time.Minute)))
	ms, err := s.DueMessages(ctx, t0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].ID != "m3" || ms[1].ID != "m2" {
		t.Fatalf("DueMessages(limit 2) = %+v; want m3 and m2, the longest waiting", ms)
	}
	ms, _ = s.DueMessages(ctx, t0, 0)
	if len(ms) != 3 || ms[2].ID != "m1" {
		t.Fatalf("DueMessages(no limit) = %+v; want m3 m2 m1", ms)
	}
}

func testOutboxSeqAcrossCommits(t *testing.T, s intake.Store, _ Options) {
	// Messages to one chat from several commits (of other keys: officer notices) keep the order
	// in which they were enqueued.
	enqueue(t, s, "k1", msg("first", "officer", t0))
	enqueue(t, s, "k2", msg("second", "officer", t0.Add(-time.Hour)))
	enqueue(t, s, "k1", msg("third", "officer", t0))
	var seqs []uint64
	for _, want := range []intake.OutboxID{"first", "second", "third"} {
		m := heads(t, s, t0)["officer"]
		if m.ID != want {
			t.Fatalf("head = %q, want %q", m.ID, want)
		}
		seqs = append(seqs, m.Seq)
		if err := s.MarkSent(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	if !(seqs[0] < seqs[1] && seqs[1] < seqs[2]) {
		t.Fatalf("seqs %v do not increase", seqs)
	}
}

func testOutboxDropChat(t *testing.T, s intake.Store, _ Options) {
	enqueue(t, s, "a", msg("a1", "a", t0), msg("a2", "a", t0), msg("b1", "b", t0))
	enqueue(t, s, "a", msg("a3", "a", t0.Add(time.Hour)))
	n, err := s.DropChat(ctx, "a")
	if err != nil || n != 3 {
		t.Fatalf("DropChat = %d, %v; want 3", n, err)
	}
	h := heads(t, s, t0.Add(2*time.Hour))
	if _, ok := h["a"]; ok || h["b"].ID != "b1" {
		t.Fatalf("after DropChat(a): %+v", h)
	}
	for _, id := range []intake.OutboxID{"a1", "a2", "a3"} {
		if err := s.MarkSent(ctx, id); !errors.Is(err, intake.ErrNotFound) {
			t.Fatalf("dropped message %s still there: %v", id, err)
		}
	}
	if n, err := s.DropChat(ctx, "a"); err != nil || n != 0 {
		t.Fatalf("DropChat again = %d, %v; want 0", n, err)
	}
	// The chat can get new messages afterwards.
	enqueue(t, s, "a", msg("a4", "a", t0))
	if id := headID(t, s, t0, "a"); id != "a4" {
		t.Fatalf("after DropChat a new message is not due: %q", id)
	}
}
