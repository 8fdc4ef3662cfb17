package storetest

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
)

func closeCase(t *testing.T, s intake.Store, r intake.Ref, at time.Time) {
	t.Helper()
	err := s.UpdateCase(ctx, r, 0, func(c *intake.Case) error {
		c.Status, c.Closed = intake.StatusClosed, at
		return nil
	}, &intake.AuditEntry{Time: at, Actor: "officer-1", Action: "closed", Ref: r, To: intake.StatusClosed})
	if err != nil {
		t.Fatalf("closing %s: %v", r, err)
	}
}

func testCaseCreate(t *testing.T, s intake.Store, _ Options) {
	if _, err := s.Case(ctx, ref(1)); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("Case of an empty store: %v, want ErrNotFound", err)
	}
	c := newCase(ref(1), "women", 1, t0)
	addCase(t, s, "k", c)
	got := mustCase(t, s, c.Ref)
	if got.Version != 1 || got.Status != intake.StatusQueued || got.Team != "women" {
		t.Fatalf("created case = %+v", got)
	}
	qs, err := s.Queue(ctx, "women", 10)
	if err != nil || len(qs) != 1 || qs[0].Ref != c.Ref || qs[0].Version != 1 || string(qs[0].Answers) != string(c.Answers) {
		t.Fatalf("Queue = %+v %v; want the new case, whole", qs, err)
	}
	// A second case of the same person is linked too (Forget shreds both: see Shred/Forget).
	addCase(t, s, "k", newCase(ref(2), "women", 1, t0.Add(time.Second)))
	if q := queue(t, s, "women"); !sameRefs(q, []intake.Ref{ref(1), ref(2)}) {
		t.Fatalf("queue = %v", q)
	}
}

func testCasesList(t *testing.T, s intake.Store, _ Options) {
	if refs, err := s.Cases(ctx); err != nil || len(refs) != 0 {
		t.Fatalf("Cases of an empty store: %v %v", refs, err)
	}
	addCase(t, s, "a", newCase(ref(3), "t", 1, t0.Add(2*time.Hour)))
	addCase(t, s, "b", newCase(ref(1), "t", 1, t0))
	addCase(t, s, "c", newCase(ref(4), "t", 1, t0.Add(time.Hour)))
	addCase(t, s, "d", newCase(ref(2), "t", 1, t0.Add(time.Hour))) // same time as ref(4): by Ref
	if err := s.Shred(ctx, []intake.Ref{ref(3)}, intake.StatusShredded, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	refs, err := s.Cases(ctx)
	want := []intake.Ref{ref(1), ref(2), ref(4), ref(3)}
	if err != nil || !sameRefs(refs, want) {
		t.Fatalf("Cases = %v %v; want %v (oldest first, tombstones too)", refs, err, want)
	}
}

func testListCases(t *testing.T, s intake.Store, _ Options) {
	// Five cases an hour apart, teams and statuses mixed.
	for i, team := range []string{"a", "b", "a", "a", "b"} {
		addCase(t, s, "k", newCase(ref(i), team, 1+i%3, t0.Add(time.Duration(i)*time.Hour)))
	}
	closeCase(t, s, ref(2), t0.Add(10*time.Hour))
	closeCase(t, s, ref(4), t0.Add(10*time.Hour))
	hour := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	for _, tc := range []struct {
		name string
		f    intake.CaseFilter
		want []intake.Ref
	}{
		{"all", intake.CaseFilter{}, []intake.Ref{ref(0), ref(1), ref(2), ref(3), ref(4)}},
		{"team", intake.CaseFilter{Team: "a"}, []intake.Ref{ref(0), ref(2), ref(3)}},
		{"status", intake.CaseFilter{Status: intake.StatusClosed}, []intake.Ref{ref(2), ref(4)}},
		{"team and status", intake.CaseFilter{Team: "a", Status: intake.StatusQueued}, []intake.Ref{ref(0), ref(3)}},
		{"after is exclusive", intake.CaseFilter{CreatedAfter: hour(2)}, []intake.Ref{ref(3), ref(4)}},
		{"before is exclusive", intake.CaseFilter{CreatedBefore: hour(2)}, []intake.Ref{ref(0), ref(1)}},
		{"between", intake.CaseFilter{CreatedAfter: hour(0), CreatedBefore: hour(4)}, []intake.Ref{ref(1), ref(2), ref(3)}},
		{"limit", intake.CaseFilter{Limit: 2}, []intake.Ref{ref(0), ref(1)}},
		{"limit after filter", intake.CaseFilter{Team: "b", Limit: 1}, []intake.Ref{ref(1)}},
		{"nothing", intake.CaseFilter{Team: "c"}, nil},
		{"all filters", intake.CaseFilter{Team: "a", Status: intake.StatusClosed, CreatedAfter: hour(1), CreatedBefore: hour(3), Limit: 5}, []intake.Ref{ref(2)}},
	} {
		got, err := s.ListCases(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !sameRefs(caseRefs(got), tc.want) {
			t.Errorf("%s: ListCases = %v, want %v", tc.name, caseRefs(got), tc.want)
		}
	}
	got, _ := s.ListCases(ctx, intake.CaseFilter{Team: "b", Status: intake.StatusClosed})
	if len(got) != 1 || got[0].Version != 2 || !got[0].Closed.Equal(hour(10)) {
		t.Fatalf("ListCases returns whole cases: %+v", got)
	}
}

func testUpdateCase(t *testing.T, s intake.Store, _ Options) {
	addCase(t, s, "k", newCase(ref(1), "t", 2, t0))
	audit := func(action string) *intake.AuditEntry {
		return &intake.AuditEntry{Time: t0.Add(time.Minute), Actor: "officer-1", Action: action, Ref: ref(1)}
	}
	// Unconditional (expect 0), with an audit entry.
	err := s.UpdateCase(ctx, ref(1), 0, func(c *intake.Case) error {
		if c.Version != 1 || c.Ref != ref(1) {
			t.Errorf("f got %+v", c)
		}
		c.Code = "NEW-COD"
		c.Version = 100 // ignored: the store sets it
		return nil
	}, audit("recoded"))
	if err != nil {
		t.Fatal(err)
	}
	if c := mustCase(t, s, ref(1)); c.Version != 2 || c.Code != "NEW-COD" {
		t.Fatalf("after update: version %d code %q", c.Version, c.Code)
	}
	// Expecting the current version.
	if err := s.UpdateCase(ctx, ref(1), 2, func(c *intake.Case) error { c.Code = "V3"; return nil }, audit("v3")); err != nil {
		t.Fatal(err)
	}
	// Expecting a stale version: nothing changes, no audit entry.
	err = s.UpdateCase(ctx, ref(1), 2, func(c *intake.Case) error { c.Code = "STALE"; return nil }, audit("stale"))
	if !isConflict(err) {
		t.Fatalf("UpdateCase with a stale version: %v, want ErrConflict", err)
	}
	if c := mustCase(t, s, ref(1)); c.Version != 3 || c.Code != "V3" {
		t.Fatalf("after a conflicting update: version %d code %q", c.Version, c.Code)
	}
	// Without an audit entry.
	if err := s.UpdateCase(ctx, ref(1), 3, func(c *intake.Case) error { c.Lang = "ar"; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	es := auditAll(t, s)
	if got := actions(es); len(got) != 2 || got[0] != "recoded "+string(ref(1)) || got[1] != "v3 "+string(ref(1)) {
		t.Fatalf("audit = %v; want recoded, v3", got)
	}
	if es[0].Actor != "officer-1" || !es[0].Time.Equal(t0.Add(time.Minute)) {
		t.Fatalf("audit entry = %+v", es[0])
	}
	verify(t, s, 2)
	if err := s.UpdateCase(ctx, ref(9), 0, func(*intake.Case) error { return nil }, audit("x")); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("UpdateCase of an unknown case: %v, want ErrNotFound", err)
	}
	// f may not move the case to another reference.
	err = s.UpdateCase(ctx, ref(1), 0, func(c *intake.Case) error { c.Ref = ref(2); return nil }, audit("moved"))
	if err == nil {
		t.Fatal("UpdateCase that changes Ref succeeded")
	}
	if _, err := s.Case(ctx, ref(2)); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("a case appeared under the new Ref: %v", err)
	}
	if c := mustCase(t, s, ref(1)); c.Version != 4 || c.Lang != "ar" {
		t.Fatalf("case after the refused move: %+v", c)
	}
	verify(t, s, 2)
}

func testUpdateCaseFuncError(t *testing.T, s intake.Store, _ Options) {
	addCase(t, s, "k", newCase(ref(1), "t", 2, t0))
	boom := errors.New("officer cancelled")
	err := s.UpdateCase(ctx, ref(1), 1, func(c *intake.Case) error {
		c.Status, c.Code = intake.StatusClosed, "CHANGED"
		return boom
	}, &intake.AuditEntry{Time: t0, Actor: "o", Action: "closed", Ref: ref(1)})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateCase = %v, want f's error", err)
	}
	c := mustCase(t, s, ref(1))
	if c.Version != 1 || c.Status != intake.StatusQueued || c.Code != "7QX-2MD" {
		t.Fatalf("f failed but the case changed: %+v", c)
	}
	if q := queue(t, s, "t"); !sameRefs(q, []intake.Ref{ref(1)}) {
		t.Fatalf("f failed but the queue changed: %v", q)
	}
	if n := len(auditAll(t, s)); n != 0 {
		t.Fatalf("f failed but %d audit entries were appended", n)
	}
}

func testUpdateCaseIndexes(t *testing.T, s intake.Store, _ Options) {
	addCase(t, s, "k", newCase(ref(1), "t", 3, t0))
	addCase(t, s, "k", newCase(ref(2), "t", 3, t0.Add(time.Minute)))
	addCase(t, s, "k", newCase(ref(3), "t", 3, t0.Add(2*time.Minute)))
	set := func(r intake.Ref, f func(*intake.Case)) {
		t.Helper()
		if err := s.UpdateCase(ctx, r, 0, func(c *intake.Case) error { f(c); return nil }, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Raising a priority moves the case up.
	set(ref(3), func(c *intake.Case) { c.Priority = 1 })
	if q := queue(t, s, "t"); !sameRefs(q, []intake.Ref{ref(3), ref(1), ref(2)}) {
		t.Fatalf("after priority 1 for case 3: %v", q)
	}
	// A deadline puts the case in Overdue; moving it later takes it out.
	set(ref(2), func(c *intake.Case) { c.Deadline = t0.Add(time.Hour) })
	if o := overdue(t, s, t0.Add(time.Hour)); !sameRefs(o, []intake.Ref{ref(2)}) {
		t.Fatalf("overdue = %v", o)
	}
	set(ref(2), func(c *intake.Case) { c.Deadline = t0.Add(5 * time.Hour) })
	if o := overdue(t, s, t0.Add(time.Hour)); len(o) != 0 {
		t.Fatalf("overdue after moving the deadline = %v", o)
	}
	// Rerouting to another team moves it to that team's queue.
	set(ref(1), func(c *intake.Case) { c.Team = "u" })
	if q, u := queue(t, s, "t"), queue(t, s, "u"); !sameRefs(q, []intake.Ref{ref(3), ref(2)}) || !sameRefs(u, []intake.Ref{ref(1)}) {
		t.Fatalf("after rerouting case 1: t %v, u %v", q, u)
	}
	// Closing takes it out of its queue and of Overdue.
	closeCase(t, s, ref(2), t0.Add(time.Hour))
	if q := queue(t, s, "t"); !sameRefs(q, []intake.Ref{ref(3)}) {
		t.Fatalf("after closing case 2: %v", q)
	}
	if o := overdue(t, s, t0.Add(10*time.Hour)); len(o) != 0 {
		t.Fatalf("a closed case is overdue: %v", o)
	}
	// Reopening puts it back.
	set(ref(2), func(c *intake.Case) { c.Status = intake.StatusQueued })
	if q := queue(t, s, "t"); !sameRefs(q, []intake.Ref{ref(3), ref(2)}) {
		t.Fatalf("after reopening case 2: %v", q)
	}
	if o := overdue(t, s, t0.Add(10*time.Hour)); !sameRefs(o, []intake.Ref{ref(2)}) {
		t.Fatalf("reopened case not overdue: %v", o)
	}
}

func testUpdateCaseConcurrent(t *testing.T, s intake.Store, _ Options) {
	addCase(t, s, "k", newCase(ref(1), "t", 3, t0))
	const writers = 10
	var wins atomic.Int32
	race(writers, func(i int) {
		err := s.UpdateCase(ctx, ref(1), 1, func(c *intake.Case) error { c.Priority = 1; return nil },
			&intake.AuditEntry{Time: t0, Actor: "o", Action: "prioritised", Ref: ref(1)})
		switch {
		case err == nil:
			wins.Add(1)
		case !isConflict(err):
			t.Errorf("writer %d: %v", i, err)
		}
	})
	if wins.Load() != 1 {
		t.Fatalf("%d writers expecting version 1 won; want 1", wins.Load())
	}
	if c := mustCase(t, s, ref(1)); c.Version != 2 {
		t.Fatalf("version %d after one winning update", c.Version)
	}
	verify(t, s, 1)
}
