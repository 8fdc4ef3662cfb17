package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
)

// The Telegram edge's bookkeeping: tracked message ids and scheduled clears (intake.Tracker),
// dead letters (intake.DeadLetters).

func tracked(t *testing.T, s intake.Store, chat intake.SessionKey) []intake.TrackedMessage {
	t.Helper()
	ms, err := s.TrackedMessages(ctx, chat)
	if err != nil {
		t.Fatalf("TrackedMessages(%s): %v", chat, err)
	}
	return ms
}

func track(t *testing.T, s intake.Store, chat intake.SessionKey, ms ...intake.TrackedMessage) {
	t.Helper()
	if err := s.TrackMessages(ctx, chat, ms); err != nil {
		t.Fatalf("TrackMessages(%s): %v", chat, err)
	}
}

func untrack(t *testing.T, s intake.Store, chat intake.SessionKey, ids ...int64) {
	t.Helper()
	if err := s.UntrackMessages(ctx, chat, ids); err != nil {
		t.Fatalf("UntrackMessages(%s, %v): %v", chat, ids, err)
	}
}

// showTracked prints messages as "id@offset-from-t0".
func showTracked(ms []intake.TrackedMessage) string {
	var b bytes.Buffer
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d@%v", m.ID, m.At.Sub(t0))
	}
	return "[" + b.String() + "]"
}

func wantTracked(t *testing.T, s intake.Store, chat intake.SessionKey, want ...intake.TrackedMessage) {
	t.Helper()
	got := tracked(t, s, chat)
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].ID == want[i].ID && got[i].At.Equal(want[i].At)
	}
	if !ok {
		t.Fatalf("TrackedMessages(%s) = %s, want %s", chat, showTracked(got), showTracked(want))
	}
}

func tm(id int64, at time.Duration) intake.TrackedMessage {
	return intake.TrackedMessage{ID: id, At: t0.Add(at)}
}

func trackedIDs(ms []intake.TrackedMessage) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func testTrackOrderAndDuplicates(t *testing.T, s intake.Store, _ Options) {
	if ms := tracked(t, s, "a"); ms != nil {
		t.Fatalf("TrackedMessages of a chat with none = %#v, want nil", ms)
	}
	// Times to the nanosecond, ids in no order; they come back by id.
	track(t, s, "a", tm(30, 3*time.Second+7), tm(10, time.Second+1), tm(1<<40, 4*time.Second), tm(20, 2*time.Second))
	wantTracked(t, s, "a", tm(10, time.Second+1), tm(20, 2*time.Second), tm(30, 3*time.Second+7), tm(1<<40, 4*time.Second))
	// An id already tracked keeps its first At, in a later call or twice in one call.
	track(t, s, "a", tm(10, time.Hour), tm(40, 5*time.Second), tm(50, 6*time.Second), tm(50, 7*time.Second))
	wantTracked(t, s, "a", tm(10, time.Second+1), tm(20, 2*time.Second), tm(30, 3*time.Second+7),
		tm(40, 5*time.Second), tm(50, 6*time.Second), tm(1<<40, 4*time.Second))
	// Nothing to add changes nothing.
	track(t, s, "a")
	if got := trackedIDs(tracked(t, s, "a")); !slices.Equal(got, []int64{10, 20, 30, 40, 50, 1 << 40}) {
		t.Fatalf("after an empty TrackMessages: %v", got)
	}
	// The store keeps no reference to the caller's slice and returns copies.
	in := []intake.TrackedMessage{tm(60, 8*time.Second)}
	track(t, s, "a", in...)
	in[0].ID, in[0].At = 61, t0
	got := tracked(t, s, "a")
	got[0].ID = 999
	if ids := trackedIDs(tracked(t, s, "a")); !slices.Equal(ids, []int64{10, 20, 30, 40, 50, 60, 1 << 40}) {
		t.Fatalf("the store shares memory with its caller: %v", ids)
	}
}

func testTrackUntrack(t *testing.T, s intake.Store, _ Options) {
	track(t, s, "a", tm(1, time.Second), tm(2, 2*time.Second), tm(3, 3*time.Second))
	untrack(t, s, "a", 2, 99) // 99 is not tracked: ignored
	wantTracked(t, s, "a", tm(1, time.Second), tm(3, 3*time.Second))
	untrack(t, s, "a") // nothing
	untrack(t, s, "nobody", 1)
	wantTracked(t, s, "a", tm(1, time.Second), tm(3, 3*time.Second))
	untrack(t, s, "a", 3, 1)
	if ms := tracked(t, s, "a"); ms != nil {
		t.Fatalf("every id untracked, TrackedMessages = %s, want nil", showTracked(ms))
	}
	// Untracked ids may be tracked again, with their new time.
	track(t, s, "a", tm(2, time.Minute))
	wantTracked(t, s, "a", tm(2, time.Minute))
}

func testTrackChatsIndependent(t *testing.T, s intake.Store, _ Options) {
	track(t, s, "a", tm(1, time.Second), tm(2, 2*time.Second))
	track(t, s, "b", tm(2, time.Hour), tm(3, 3*time.Second))
	track(t, s, "ab", tm(7, 7*time.Second)) // one chat's key is a prefix of another's
	untrack(t, s, "a", 2)
	wantTracked(t, s, "a", tm(1, time.Second))
	wantTracked(t, s, "b", tm(2, time.Hour), tm(3, 3*time.Second))
	wantTracked(t, s, "ab", tm(7, 7*time.Second))
	if ms := tracked(t, s, "c"); ms != nil {
		t.Fatalf("a chat never tracked: %s", showTracked(ms))
	}
}

func testTrackLimit(t *testing.T, s intake.Store, _ Options) {
	const max = intake.MaxTrackedMessages
	// Message i is at t0 + (max-i) s: the highest id is the oldest, so "oldest" cannot be
	// mistaken for "lowest id".
	var ms []intake.TrackedMessage
	for i := int64(1); i <= max; i++ {
		ms = append(ms, tm(i, time.Duration(max-i)*time.Second))
	}
	track(t, s, "a", ms[:max/2]...)
	track(t, s, "a", ms[max/2:]...)
	got := tracked(t, s, "a")
	if len(got) != max || got[0].ID != 1 || got[max-1].ID != max {
		t.Fatalf("at the limit: %d messages, ids %d..%d; want all %d kept", len(got), got[0].ID, got[len(got)-1].ID, max)
	}
	has := func(id int64) bool {
		t.Helper()
		_, found := slices.BinarySearchFunc(tracked(t, s, "a"), id, func(m intake.TrackedMessage, id int64) int {
			return int(m.ID - id)
		})
		return found
	}
	count := func() int { t.Helper(); return len(tracked(t, s, "a")) }
	// An id already tracked does not count twice.
	track(t, s, "a", tm(500, time.Hour))
	if n := count(); n != max || !has(max) {
		t.Fatalf("re-adding a tracked id at the limit: %d messages, oldest kept %v", n, has(max))
	}
	// One past the limit: the oldest (by At) goes, whatever its id.
	track(t, s, "a", tm(5000, time.Hour))
	if n := count(); n != max || has(max) || !has(5000) || !has(max-1) {
		t.Fatalf("one past the limit: %d messages; oldest %d kept %v, new kept %v", n, max, has(max), has(5000))
	}
	// Oldest now: id max-1 at t0+1s. Ties on At go by id: 7000 at the same time is newer.
	track(t, s, "a", tm(7000, time.Second))
	if n := count(); n != max || has(max-1) || !has(7000) {
		t.Fatalf("a tie on At: %d messages; %d kept %v, 7000 kept %v", n, max-1, has(max-1), has(7000))
	}
	// A message older than all the others is itself the one dropped.
	track(t, s, "a", tm(8000, -time.Hour))
	if n := count(); n != max || has(8000) || !has(7000) || !has(max-2) {
		t.Fatalf("adding the oldest at the limit: %d messages; it was kept: %v", n, has(8000))
	}
	// One call far past the limit keeps the newest max.
	var many []intake.TrackedMessage
	for i := int64(1); i <= max+5; i++ {
		many = append(many, tm(i, time.Duration(i)*time.Millisecond))
	}
	track(t, s, "b", many...)
	got = tracked(t, s, "b")
	if len(got) != max || got[0].ID != 6 || got[max-1].ID != max+5 || !got[0].At.Equal(t0.Add(6*time.Millisecond)) {
		t.Fatalf("one call of %d messages: kept %d, ids %d..%d; want the newest %d (6..%d)",
			max+5, len(got), got[0].ID, got[len(got)-1].ID, max, max+5)
	}
}

func testTrackConcurrent(t *testing.T, s intake.Store, _ Options) {
	const writers = 20
	race(writers, func(i int) {
		if err := s.TrackMessages(ctx, "a", []intake.TrackedMessage{tm(int64(i), time.Duration(i))}); err != nil {
			t.Errorf("TrackMessages %d: %v", i, err)
		}
	})
	if got := tracked(t, s, "a"); len(got) != writers {
		t.Fatalf("%d concurrent TrackMessages left %d messages: %s", writers, len(got), showTracked(got))
	}
}

func testTrackTTL(t *testing.T, s intake.Store, o Options) {
	track(t, s, "a", tm(1, 0))
	track(t, s, "b", tm(9, 0))
	wantTracked(t, s, "a", tm(1, 0))
	if o.Advance == nil {
		t.Skip("no Options.Advance: the lifetime is the engine's own test")
	}
	o.Advance(t, s, intake.TrackedTTL-time.Minute)
	wantTracked(t, s, "a", tm(1, 0))
	// Adding renews the whole set's lifetime.
	track(t, s, "a", tm(2, time.Second))
	o.Advance(t, s, 2*time.Minute)
	wantTracked(t, s, "a", tm(1, 0), tm(2, time.Second))
	if ms := tracked(t, s, "b"); ms != nil {
		t.Fatalf("tracked messages kept past TrackedTTL: %s", showTracked(ms))
	}
	o.Advance(t, s, intake.TrackedTTL)
	if ms := tracked(t, s, "a"); ms != nil {
		t.Fatalf("tracked messages kept past TrackedTTL after the last add: %s", showTracked(ms))
	}
	// An expired set starts afresh: its old ids do not come back.
	track(t, s, "a", tm(3, 0))
	wantTracked(t, s, "a", tm(3, 0))
}

// Scheduled clears.

func schedule(t *testing.T, s intake.Store, chat intake.SessionKey, at time.Time, target string) {
	t.Helper()
	var b []byte
	if target != "" {
		b = []byte(target)
	}
	if err := s.ScheduleClear(ctx, chat, at, b); err != nil {
		t.Fatalf("ScheduleClear(%s, %v): %v", chat, at, err)
	}
}

// due returns "chat:target" for each clear due at now, in order, checking each At against ats.
func due(t *testing.T, s intake.Store, now time.Time, limit int, ats map[intake.SessionKey]time.Time) []string {
	t.Helper()
	cs, err := s.DueClears(ctx, now, limit)
	if err != nil {
		t.Fatalf("DueClears: %v", err)
	}
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		if want, ok := ats[c.Chat]; ok && !c.At.Equal(want) {
			t.Fatalf("clear of %s at %v, want %v", c.Chat, c.At, want)
		}
		if c.At.After(now) {
			t.Fatalf("clear of %s at %v returned as due at %v", c.Chat, c.At, now)
		}
		out = append(out, string(c.Chat)+":"+string(c.Target))
	}
	return out
}

func testClearSchedule(t *testing.T, s intake.Store, _ Options) {
	if got := due(t, s, t0.Add(time.Hour), 0, nil); len(got) != 0 {
		t.Fatalf("DueClears with nothing scheduled: %v", got)
	}
	ats := map[intake.SessionKey]time.Time{"a": t0.Add(10*time.Minute + 3), "b": t0.Add(5 * time.Minute), "c": t0.Add(20 * time.Minute)}
	schedule(t, s, "a", ats["a"], "target a1")
	schedule(t, s, "b", ats["b"], "target b")
	schedule(t, s, "c", ats["c"], "target c")
	if got := due(t, s, t0, 0, ats); len(got) != 0 {
		t.Fatalf("nothing due yet, DueClears = %v", got)
	}
	// At or before now, earliest first; one a nanosecond later waits.
	if got := due(t, s, ats["a"].Add(-1), 0, ats); !slices.Equal(got, []string{"b:target b"}) {
		t.Fatalf("DueClears a nanosecond before a's time = %v", got)
	}
	if got := due(t, s, ats["a"], 0, ats); !slices.Equal(got, []string{"b:target b", "a:target a1"}) {
		t.Fatalf("DueClears at a's time = %v", got)
	}
	// Reading does not remove.
	if got := due(t, s, ats["a"], 0, ats); len(got) != 2 {
		t.Fatalf("DueClears read again = %v", got)
	}
	// A later call replaces the earlier one: its time and its target.
	ats["a"] = t0.Add(30 * time.Minute)
	schedule(t, s, "a", ats["a"], "target a2")
	if got := due(t, s, t0.Add(10*time.Minute+3), 0, ats); !slices.Equal(got, []string{"b:target b"}) {
		t.Fatalf("after a's clear moved later: %v", got)
	}
	if got := due(t, s, t0.Add(time.Hour), 0, ats); !slices.Equal(got, []string{"b:target b", "c:target c", "a:target a2"}) {
		t.Fatalf("after a's clear moved later, an hour on: %v", got)
	}
	// Moving earlier works too.
	ats["c"] = t0.Add(time.Minute)
	schedule(t, s, "c", ats["c"], "target c2")
	if got := due(t, s, t0.Add(time.Hour), 0, ats); !slices.Equal(got, []string{"c:target c2", "b:target b", "a:target a2"}) {
		t.Fatalf("after c's clear moved earlier: %v", got)
	}
	// A zero time cancels; cancelling what is not scheduled is no error.
	schedule(t, s, "b", time.Time{}, "")
	schedule(t, s, "nobody", time.Time{}, "")
	if got := due(t, s, t0.Add(time.Hour), 0, ats); !slices.Equal(got, []string{"c:target c2", "a:target a2"}) {
		t.Fatalf("after b's clear was cancelled: %v", got)
	}
	// A cancelled clear can be scheduled again.
	ats["b"] = t0.Add(40 * time.Minute)
	schedule(t, s, "b", ats["b"], "target b2")
	if got := due(t, s, t0.Add(time.Hour), 0, ats); !slices.Equal(got, []string{"c:target c2", "a:target a2", "b:target b2"}) {
		t.Fatalf("after b's clear was scheduled again: %v", got)
	}
}

func testClearLimitAndTies(t *testing.T, s intake.Store, _ Options) {
	ats := map[intake.SessionKey]time.Time{}
	for i, chat := range []intake.SessionKey{"e", "d", "c", "b", "a"} {
		ats[chat] = t0.Add(time.Duration(i) * time.Minute)
		schedule(t, s, chat, ats[chat], "t"+string(chat))
	}
	if got := due(t, s, t0.Add(time.Hour), 2, ats); !slices.Equal(got, []string{"e:te", "d:td"}) {
		t.Fatalf("DueClears limit 2 = %v", got)
	}
	if got := due(t, s, t0.Add(time.Hour), 0, ats); len(got) != 5 {
		t.Fatalf("DueClears limit 0 (MaxBatch) = %v", got)
	}
	// Clears due at one time come by chat.
	for _, chat := range []intake.SessionKey{"y", "x", "xx"} {
		ats[chat] = t0.Add(-time.Hour)
		schedule(t, s, chat, ats[chat], "t"+string(chat))
	}
	if got := due(t, s, t0.Add(-time.Hour), 0, ats); !slices.Equal(got, []string{"x:tx", "xx:txx", "y:ty"}) {
		t.Fatalf("clears due at one time = %v, want them by chat", got)
	}
}

func testClearCopiesTarget(t *testing.T, s intake.Store, _ Options) {
	target := []byte("sealed target with the raw chat id")
	if err := s.ScheduleClear(ctx, "a", t0, target); err != nil {
		t.Fatal(err)
	}
	copy(target, "XXXXXX")
	cs, err := s.DueClears(ctx, t0, 0)
	if err != nil || len(cs) != 1 {
		t.Fatalf("DueClears = %v %v", cs, err)
	}
	if string(cs[0].Target) != "sealed target with the raw chat id" || cs[0].Chat != "a" || !cs[0].At.Equal(t0) {
		t.Fatalf("stored clear = %+v: the store kept the caller's slice", cs[0])
	}
	copy(cs[0].Target, "YYYYYY")
	cs, _ = s.DueClears(ctx, t0, 0)
	if len(cs) != 1 || string(cs[0].Target) != "sealed target with the raw chat id" {
		t.Fatalf("the store returned its own memory: %+v", cs)
	}
	// Any bytes survive, not only text.
	bin := []byte{0, 0xff, '|', '\n', 0x80, '{', '}', 0}
	if err := s.ScheduleClear(ctx, "b", t0, bin); err != nil {
		t.Fatal(err)
	}
	cs, _ = s.DueClears(ctx, t0, 0)
	if len(cs) != 2 || cs[1].Chat != "b" || !bytes.Equal(cs[1].Target, bin) {
		t.Fatalf("binary target: %+v", cs)
	}
}

// Dead letters.

func deadLetter(id string, received time.Time, body string) intake.DeadLetter {
	return intake.DeadLetter{ID: id, Received: received, Source: "webhook", Reason: "json", Size: 2 * len(body), Body: []byte(body)}
}

func deadLetters(t *testing.T, s intake.Store, limit int) []intake.DeadLetter {
	t.Helper()
	ds, err := s.DeadLetters(ctx, limit)
	if err != nil {
		t.Fatalf("DeadLetters: %v", err)
	}
	return ds
}

func deadIDs(ds []intake.DeadLetter) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func putDead(t *testing.T, s intake.Store, d intake.DeadLetter) {
	t.Helper()
	if err := s.PutDeadLetter(ctx, d); err != nil {
		t.Fatalf("PutDeadLetter(%s): %v", d.ID, err)
	}
}

func sameDeadLetter(a, b intake.DeadLetter) bool {
	return a.ID == b.ID && a.Received.Equal(b.Received) && a.Source == b.Source && a.Reason == b.Reason &&
		a.Size == b.Size && bytes.Equal(a.Body, b.Body)
}

func testDeadLetters(t *testing.T, s intake.Store, _ Options) {
	if ds := deadLetters(t, s, 0); len(ds) != 0 {
		t.Fatalf("DeadLetters of an empty store: %v", deadIDs(ds))
	}
	b := deadLetter("dl-b", t0.Add(2*time.Second), "sealed body b")
	z := deadLetter("dl-z", t0.Add(time.Second+5), "sealed body z")
	a := deadLetter("dl-a", t0.Add(2*time.Second), "sealed body a")
	poll := intake.DeadLetter{ID: "dl-p", Received: t0.Add(3 * time.Second), Source: "poll", Reason: "no update_id", Size: 0}
	for _, d := range []intake.DeadLetter{b, z, a, poll} {
		putDead(t, s, d)
	}
	// Oldest first, by Received, then ID; every field as stored.
	ds := deadLetters(t, s, 0)
	if got := deadIDs(ds); !slices.Equal(got, []string{"dl-z", "dl-a", "dl-b", "dl-p"}) {
		t.Fatalf("DeadLetters = %v, want by Received then ID", got)
	}
	for i, want := range []intake.DeadLetter{z, a, b, poll} {
		if !sameDeadLetter(ds[i], want) {
			t.Fatalf("dead letter %s = %+v, want %+v", want.ID, ds[i], want)
		}
	}
	if len(ds[3].Body) != 0 {
		t.Fatalf("a dead letter without a body came back with %q", ds[3].Body)
	}
	if got := deadIDs(deadLetters(t, s, 2)); !slices.Equal(got, []string{"dl-z", "dl-a"}) {
		t.Fatalf("DeadLetters limit 2 = %v", got)
	}
	// An ID already stored is ErrConflict and changes nothing.
	err := s.PutDeadLetter(ctx, deadLetter("dl-a", t0, "another body"))
	if !errors.Is(err, intake.ErrConflict) {
		t.Fatalf("PutDeadLetter of a stored ID: %v, want ErrConflict", err)
	}
	ds = deadLetters(t, s, 0)
	if got := deadIDs(ds); !slices.Equal(got, []string{"dl-z", "dl-a", "dl-b", "dl-p"}) || !sameDeadLetter(ds[1], a) {
		t.Fatalf("after a refused duplicate: %v, dl-a = %+v", got, ds[1])
	}
	// An empty ID is refused.
	if err := s.PutDeadLetter(ctx, deadLetter("", t0, "body")); err == nil {
		t.Fatal("PutDeadLetter with no ID succeeded")
	}
	if n := len(deadLetters(t, s, 0)); n != 4 {
		t.Fatalf("%d dead letters after a refused one, want 4", n)
	}
	// The store keeps no reference to the caller's body and returns copies.
	in := deadLetter("dl-c", t0.Add(4*time.Second), "sealed body c")
	putDead(t, s, in)
	copy(in.Body, "XXXXXX")
	ds = deadLetters(t, s, 0)
	copy(ds[4].Body, "YYYYYY")
	if ds = deadLetters(t, s, 0); string(ds[4].Body) != "sealed body c" {
		t.Fatalf("the store shares memory with its caller: %q", ds[4].Body)
	}
}

func testDeadLetterSize(t *testing.T, s intake.Store, _ Options) {
	body := make([]byte, intake.MaxDeadLetterBytes)
	for i := range body {
		body[i] = byte(i * 7)
	}
	full := intake.DeadLetter{ID: "full", Received: t0, Source: "webhook", Reason: "json", Size: 1 << 20, Body: body}
	putDead(t, s, full)
	over := intake.DeadLetter{ID: "over", Received: t0, Source: "webhook", Reason: "json", Size: 1 << 20, Body: append(body, 1)}
	err := s.PutDeadLetter(ctx, over)
	if err == nil {
		t.Fatalf("a body of %d bytes (MaxDeadLetterBytes+1) was accepted", len(over.Body))
	}
	if errors.Is(err, intake.ErrConflict) {
		t.Fatalf("a body too large is not a conflict: %v", err)
	}
	ds := deadLetters(t, s, 0)
	if len(ds) != 1 || !sameDeadLetter(ds[0], full) {
		t.Fatalf("after a body too large: %v (the one at the limit intact: %v)", deadIDs(ds), len(ds) == 1 && sameDeadLetter(ds[0], full))
	}
	// Nothing was stored under the refused ID.
	putDead(t, s, deadLetter("over", t0.Add(time.Second), "a small body"))
	if got := deadIDs(deadLetters(t, s, 0)); !slices.Equal(got, []string{"full", "over"}) {
		t.Fatalf("DeadLetters = %v", got)
	}
}

func testDeadLetterConcurrent(t *testing.T, s intake.Store, _ Options) {
	const writers = 20
	var stored, conflicts atomic.Int32
	race(writers, func(i int) {
		err := s.PutDeadLetter(ctx, deadLetter("same", t0.Add(time.Duration(i)), fmt.Sprintf("sealed body %d", i)))
		switch {
		case err == nil:
			stored.Add(1)
		case errors.Is(err, intake.ErrConflict):
			conflicts.Add(1)
		default:
			t.Errorf("PutDeadLetter %d: %v", i, err)
		}
	})
	if stored.Load() != 1 || conflicts.Load() != writers-1 {
		t.Fatalf("%d puts of one ID stored it and %d conflicted; want 1 and %d", stored.Load(), conflicts.Load(), writers-1)
	}
	if ds := deadLetters(t, s, 0); len(ds) != 1 || ds[0].ID != "same" {
		t.Fatalf("DeadLetters = %v, want the one", deadIDs(ds))
	}
}

func testDeadLetterTTL(t *testing.T, s intake.Store, o Options) {
	old := deadLetter("old", t0, "sealed body old")
	putDead(t, s, old)
	if got := deadIDs(deadLetters(t, s, 0)); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("DeadLetters = %v", got)
	}
	if o.Advance == nil {
		t.Skip("no Options.Advance: the lifetime is the engine's own test")
	}
	o.Advance(t, s, intake.DeadLetterTTL-time.Minute)
	// Received is the caller's time; the lifetime runs from the put, on the store's clock.
	putDead(t, s, deadLetter("new", t0.Add(-time.Hour), "sealed body new"))
	if got := deadIDs(deadLetters(t, s, 0)); !slices.Equal(got, []string{"new", "old"}) {
		t.Fatalf("before DeadLetterTTL: %v", got)
	}
	o.Advance(t, s, 2*time.Minute)
	if got := deadIDs(deadLetters(t, s, 0)); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("one past DeadLetterTTL: %v, want only new", got)
	}
	// An expired dead letter's ID may be used again, and is listed once, where its new
	// Received puts it.
	again := deadLetter("old", t0.Add(time.Hour), "sealed body again")
	putDead(t, s, again)
	ds := deadLetters(t, s, 0)
	if got := deadIDs(ds); !slices.Equal(got, []string{"new", "old"}) || !sameDeadLetter(ds[1], again) {
		t.Fatalf("after the ID was used again: %v, %+v", got, ds)
	}
	o.Advance(t, s, intake.DeadLetterTTL)
	if ds := deadLetters(t, s, 0); len(ds) != 0 {
		t.Fatalf("dead letters past their lifetime: %v", deadIDs(ds))
	}
	// Expired dead letters make way: a new one lists alone.
	putDead(t, s, deadLetter("last", t0, "sealed body last"))
	if got := deadIDs(deadLetters(t, s, 0)); !slices.Equal(got, []string{"last"}) {
		t.Fatalf("after everything expired: %v", got)
	}
}
