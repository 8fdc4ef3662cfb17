package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
)

func overdue(t *testing.T, s intake.Store, now time.Time) []intake.Ref {
	t.Helper()
	cs, err := s.Overdue(ctx, now, 0)
	if err != nil {
		t.Fatalf("Overdue: %v", err)
	}
	return caseRefs(cs)
}

func claimedBy(err error) (string, bool) {
	var ce *intake.ClaimedError
	if errors.As(err, &ce) {
		return ce.By, true
	}
	return "", false
}

func testQueueOrder(t *testing.T, s intake.Store, _ Options) {
	if q, err := s.Queue(ctx, "t", 10); err != nil || len(q) != 0 {
		t.Fatalf("Queue of an empty store: %v %v", q, err)
	}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	addCase(t, s, "k", newCase(ref(1), "t", 3, at(0)))
	addCase(t, s, "k", newCase(ref(2), "t", 1, at(2)))
	addCase(t, s, "k", newCase(ref(3), "t", 1, at(1)))
	addCase(t, s, "k", newCase(ref(4), "t", 2, at(0)))
	addCase(t, s, "k", newCase(ref(5), "other", 1, at(0)))
	addCase(t, s, "k", newCase(ref(6), "t", 0, at(-1))) // no priority: counts as 3
	addCase(t, s, "k", newCase(ref(7), "t", 2, at(5)))
	addCase(t, s, "k", newCase(ref(8), "t", 1, at(1))) // same priority and time as 3: by Ref
	closeCase(t, s, ref(7), at(6))
	want := []intake.Ref{ref(3), ref(8), ref(2), ref(4), ref(6), ref(1)}
	if q := queue(t, s, "t"); !sameRefs(q, want) {
		t.Fatalf("Queue = %v, want %v (priority, then oldest, then Ref)", q, want)
	}
	q, err := s.Queue(ctx, "t", 2)
	if err != nil || !sameRefs(caseRefs(q), want[:2]) {
		t.Fatalf("Queue(limit 2) = %v %v", caseRefs(q), err)
	}
	if q := queue(t, s, "other"); !sameRefs(q, []intake.Ref{ref(5)}) {
		t.Fatalf("other team's queue = %v", q)
	}
	// An escalated case is still unclaimed and stays in the queue, in its place.
	if ok, err := s.Escalate(ctx, ref(4), 1, at(10)); err != nil || !ok {
		t.Fatalf("Escalate: %v %v", ok, err)
	}
	if q := queue(t, s, "t"); !sameRefs(q, want) {
		t.Fatalf("Queue after escalation = %v, want %v", q, want)
	}
}

func testClaim(t *testing.T, s intake.Store, _ Options) {
	addCase(t, s, "k", newCase(ref(1), "t", 1, t0))
	addCase(t, s, "k", newCase(ref(2), "t", 1, t0.Add(time.Second)))
	now := t0.Add(time.Hour)
	c, err := s.Claim(ctx, ref(1), "officer-a", now)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ref != ref(1) || c.Status != intake.StatusClaimed || c.ClaimedBy != "officer-a" || !c.Claimed.Equal(now) || c.Version != 2 || string(c.Answers) != string(newCase(ref(1), "", 0, t0).Answers) {
		t.Fatalf("Claim returned %+v", c)
	}
	if stored := mustCase(t, s, ref(1)); stored.Status != intake.StatusClaimed || stored.ClaimedBy != "officer-a" || stored.Version != 2 {
		t.Fatalf("stored after Claim: %+v", stored)
	}
	if q := queue(t, s, "t"); !sameRefs(q, []intake.Ref{ref(2)}) {
		t.Fatalf("claimed case still queued: %v", q)
	}
	_, err = s.Claim(ctx, ref(1), "officer-b", now.Add(time.Second))
	if by, ok := claimedBy(err); !ok || by != "officer-a" {
		t.Fatalf("second officer's Claim: %v; want *ClaimedError by officer-a", err)
	}
	// Claiming again what one holds is harmless.
	again, err := s.Claim(ctx, ref(1), "officer-a", now.Add(time.Minute))
	if err != nil || again.Version != 2 || !again.Claimed.Equal(now) {
		t.Fatalf("claimant's second Claim = %+v, %v; want the case unchanged", again, err)
	}
	if _, err := s.Claim(ctx, ref(9), "officer-a", now); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("Claim of an unknown case: %v, want ErrNotFound", err)
	}
	closeCase(t, s, ref(2), now)
	if _, err := s.Claim(ctx, ref(2), "officer-a", now); !isConflict(err) {
		t.Fatalf("Claim of a closed case: %v, want ErrConflict", err)
	}
	es := auditAll(t, s)
	if len(es) != 2 || es[0].Action != "claimed" || es[0].Actor != "officer-a" || es[0].Ref != ref(1) ||
		es[0].From != intake.StatusQueued || es[0].To != intake.StatusClaimed || !es[0].Time.Equal(now) {
		t.Fatalf("audit = %+v; want one claimed entry then the close", es)
	}
	verify(t, s, 2)
}

func testClaimRace(t *testing.T, s intake.Store, _ Options) {
	addCase(t, s, "k", newCase(ref(1), "t", 1, t0))
	const officers = 50
	var (
		mu      sync.Mutex
		winners []string
		losers  = map[string]int{} // named winner -> how many
	)
	race(officers, func(i int) {
		me := fmt.Sprintf("officer-%02d", i)
		c, err := s.Claim(ctx, ref(1), me, t0.Add(time.Minute))
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			if c == nil {
				t.Errorf("%s: Claim returned neither a case nor an error", me)
				return
			}
			if c.ClaimedBy != me {
				t.Errorf("%s won but the case says %q", me, c.ClaimedBy)
			}
			winners = append(winners, me)
			return
		}
		by, ok := claimedBy(err)
		if !ok {
			t.Errorf("%s: %v; want *ClaimedError", me, err)
			return
		}
		losers[by]++
	})
	if len(winners) != 1 {
		t.Fatalf("%d officers won the claim: %v", len(winners), winners)
	}
	if len(losers) != 1 || losers[winners[0]] != officers-1 {
		t.Fatalf("the losers were told %v; want all %d told %s", losers, officers-1, winners[0])
	}
	if c := mustCase(t, s, ref(1)); c.ClaimedBy != winners[0] || c.Version != 2 {
		t.Fatalf("stored case: %+v", c)
	}
	es := auditAll(t, s)
	if len(es) != 1 || es[0].Actor != winners[0] {
		t.Fatalf("audit after the race = %v; want one claim by the winner", actions(es))
	}
}

func testRelease(t *testing.T, s intake.Store, _ Options) {
	addCase(t, s, "k", newCase(ref(1), "t", 2, t0))
	addCase(t, s, "k", newCase(ref(2), "t", 2, t0.Add(time.Minute)))
	addCase(t, s, "k", newCase(ref(3), "t", 1, t0.Add(2*time.Minute)))
	now := t0.Add(time.Hour)
	if err := s.Release(ctx, ref(1), "officer-a", now); !isConflict(err) {
		t.Fatalf("Release of an unclaimed case: %v, want ErrConflict", err)
	}
	if _, err := s.Claim(ctx, ref(1), "officer-a", now); err != nil {
		t.Fatal(err)
	}
	err := s.Release(ctx, ref(1), "officer-b", now)
	if by, ok := claimedBy(err); !ok || by != "officer-a" {
		t.Fatalf("Release by another officer: %v; want *ClaimedError by officer-a", err)
	}
	if c := mustCase(t, s, ref(1)); c.ClaimedBy != "officer-a" || c.Version != 2 {
		t.Fatalf("someone else's Release changed the case: %+v", c)
	}
	if err := s.Release(ctx, ref(1), "officer-a", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	c := mustCase(t, s, ref(1))
	if c.Status != intake.StatusQueued || c.ClaimedBy != "" || !c.Claimed.IsZero() || c.Version != 3 {
		t.Fatalf("released case = %+v", c)
	}
	// Back in its place: priority, then age.
	if q := queue(t, s, "t"); !sameRefs(q, []intake.Ref{ref(3), ref(1), ref(2)}) {
		t.Fatalf("queue after release = %v", q)
	}
	// A case escalated before it was claimed goes back escalated.
	if ok, err := s.Escalate(ctx, ref(2), 1, now); err != nil || !ok {
		t.Fatalf("Escalate: %v %v", ok, err)
	}
	if _, err := s.Claim(ctx, ref(2), "officer-b", now); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, ref(2), "officer-b", now); err != nil {
		t.Fatal(err)
	}
	if c := mustCase(t, s, ref(2)); c.Status != intake.StatusEscalated || c.Escalation != 1 {
		t.Fatalf("released escalated case = %+v", c)
	}
	if err := s.Release(ctx, ref(9), "officer-a", now); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("Release of an unknown case: %v, want ErrNotFound", err)
	}
	es := auditAll(t, s)
	if len(es) != 5 || es[1].Action != "released" || es[1].Actor != "officer-a" || es[1].From != intake.StatusClaimed || es[1].To != intake.StatusQueued {
		t.Fatalf("audit = %+v", es)
	}
	if es[4].To != intake.StatusEscalated {
		t.Fatalf("release of an escalated case recorded To %q", es[4].To)
	}
	verify(t, s, 5)
}

func testOverdue(t *testing.T, s intake.Store, _ Options) {
	hour := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	withDeadline := func(i int, team string, d time.Time) *intake.Case {
		c := newCase(ref(i), team, 2, t0)
		c.Deadline = d
		return c
	}
	addCase(t, s, "k", withDeadline(1, "a", hour(2)))
	addCase(t, s, "k", withDeadline(2, "b", hour(1)))
	addCase(t, s, "k", withDeadline(3, "a", time.Time{})) // no SLA
	addCase(t, s, "k", withDeadline(4, "a", hour(0)))     // claimed below
	addCase(t, s, "k", withDeadline(5, "a", hour(0)))     // closed below
	addCase(t, s, "k", withDeadline(6, "b", hour(0)))     // shredded below
	if _, err := s.Claim(ctx, ref(4), "officer", hour(0)); err != nil {
		t.Fatal(err)
	}
	closeCase(t, s, ref(5), hour(0))
	if err := s.Shred(ctx, []intake.Ref{ref(6)}, intake.StatusShredded, hour(0)); err != nil {
		t.Fatal(err)
	}
	if o := overdue(t, s, hour(1).Add(-time.Nanosecond)); len(o) != 0 {
		t.Fatalf("overdue before any deadline = %v", o)
	}
	if o := overdue(t, s, hour(1)); !sameRefs(o, []intake.Ref{ref(2)}) {
		t.Fatalf("overdue at a deadline = %v, want case 2 (at or before now)", o)
	}
	if o := overdue(t, s, hour(100)); !sameRefs(o, []intake.Ref{ref(2), ref(1)}) {
		t.Fatalf("overdue later = %v, want 2 then 1 (earliest deadline first)", o)
	}
	cs, err := s.Overdue(ctx, hour(100), 1)
	if err != nil || !sameRefs(caseRefs(cs), []intake.Ref{ref(2)}) {
		t.Fatalf("Overdue(limit 1) = %v %v", caseRefs(cs), err)
	}
	// Released, a claimed case is overdue again.
	if err := s.Release(ctx, ref(4), "officer", hour(3)); err != nil {
		t.Fatal(err)
	}
	if o := overdue(t, s, hour(100)); !sameRefs(o, []intake.Ref{ref(4), ref(2), ref(1)}) {
		t.Fatalf("overdue after release = %v", o)
	}
}

func testEscalate(t *testing.T, s intake.Store, _ Options) {
	addCase(t, s, "k", newCase(ref(1), "t", 2, t0))
	addCase(t, s, "k", newCase(ref(2), "t", 2, t0))
	addCase(t, s, "k", newCase(ref(3), "t", 2, t0))
	now := t0.Add(time.Hour)
	esc := func(r intake.Ref, level int) bool {
		t.Helper()
		ok, err := s.Escalate(ctx, r, level, now)
		if err != nil {
			t.Fatalf("Escalate(%s, %d): %v", r, level, err)
		}
		return ok
	}
	if !esc(ref(1), 1) {
		t.Fatal("first escalation to level 1 reported false")
	}
	c := mustCase(t, s, ref(1))
	if c.Escalation != 1 || c.Status != intake.StatusEscalated || c.Version != 2 {
		t.Fatalf("escalated case = %+v", c)
	}
	if esc(ref(1), 1) {
		t.Fatal("level 1 fired twice")
	}
	if !esc(ref(1), 2) {
		t.Fatal("level 2 did not fire")
	}
	if esc(ref(1), 1) || esc(ref(1), 2) {
		t.Fatal("a level at or below the recorded one fired")
	}
	if c := mustCase(t, s, ref(1)); c.Escalation != 2 || c.Version != 3 {
		t.Fatalf("after levels 1 and 2: %+v", c)
	}
	// A claimed case records the level and stays claimed.
	if _, err := s.Claim(ctx, ref(2), "officer", now); err != nil {
		t.Fatal(err)
	}
	if !esc(ref(2), 1) {
		t.Fatal("escalation of a claimed case did not fire")
	}
	if c := mustCase(t, s, ref(2)); c.Status != intake.StatusClaimed || c.Escalation != 1 || c.ClaimedBy != "officer" {
		t.Fatalf("escalated claimed case = %+v", c)
	}
	// A closed case is not escalated.
	closeCase(t, s, ref(3), now)
	if esc(ref(3), 1) {
		t.Fatal("a closed case was escalated")
	}
	if c := mustCase(t, s, ref(3)); c.Escalation != 0 || c.Status != intake.StatusClosed {
		t.Fatalf("closed case after Escalate: %+v", c)
	}
	if _, err := s.Escalate(ctx, ref(9), 1, now); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("Escalate of an unknown case: %v, want ErrNotFound", err)
	}
	var got []string
	for _, e := range auditAll(t, s) {
		if e.Action == "escalated" {
			got = append(got, fmt.Sprintf("%s %s->%s %s by %s", e.Ref, e.From, e.To, e.Reason, e.Actor))
		}
	}
	want := []string{
		fmt.Sprintf("%s queued->escalated level 1 by system", ref(1)),
		fmt.Sprintf("%s escalated->escalated level 2 by system", ref(1)),
		fmt.Sprintf("%s claimed->claimed level 1 by system", ref(2)),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("escalation audit = %q, want %q", got, want)
	}
}

func testEscalateConcurrent(t *testing.T, s intake.Store, _ Options) {
	addCase(t, s, "k", newCase(ref(1), "t", 2, t0))
	const schedulers = 20
	for level := 1; level <= 3; level++ {
		var fired atomic.Int32
		race(schedulers, func(i int) {
			ok, err := s.Escalate(ctx, ref(1), level, t0)
			if err != nil {
				t.Errorf("scheduler %d: %v", i, err)
			}
			if ok {
				fired.Add(1)
			}
		})
		if fired.Load() != 1 {
			t.Fatalf("level %d fired %d times; want once", level, fired.Load())
		}
	}
	if c := mustCase(t, s, ref(1)); c.Escalation != 3 || c.Version != 4 {
		t.Fatalf("after three levels: %+v", c)
	}
	verify(t, s, 3)
}
