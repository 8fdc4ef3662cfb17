package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
)

func testInboxDedupe(t *testing.T, s intake.Store, _ Options) {
	u := intake.Update{ID: 7, Chat: "c", Body: []byte("first"), Received: t0}
	if dup, err := s.PutUpdate(ctx, u); err != nil || dup {
		t.Fatalf("first PutUpdate: dup %v, %v", dup, err)
	}
	again := intake.Update{ID: 7, Chat: "c", Body: []byte("redelivered"), Received: t0.Add(time.Second)}
	if dup, err := s.PutUpdate(ctx, again); err != nil || !dup {
		t.Fatalf("redelivered PutUpdate: dup %v, %v; want true", dup, err)
	}
	got, err := s.NextUpdate(ctx, "c")
	if err != nil || got == nil {
		t.Fatalf("NextUpdate: %v %v", got, err)
	}
	if got.ID != 7 || got.Chat != "c" || string(got.Body) != "first" || !got.Received.Equal(t0) {
		t.Fatalf("stored update = %+v; the duplicate must write nothing", got)
	}
	if err := s.DoneUpdate(ctx, "c", 7); err != nil {
		t.Fatal(err)
	}
	if u, err := s.NextUpdate(ctx, "c"); err != nil || u != nil {
		t.Fatalf("the duplicate left a second pending update: %+v %v", u, err)
	}
}

func testInboxDedupeConcurrent(t *testing.T, s intake.Store, _ Options) {
	const writers = 20
	var fresh, dups atomic.Int32
	race(writers, func(i int) {
		dup, err := s.PutUpdate(ctx, intake.Update{ID: 1000, Chat: "c", Body: []byte(fmt.Sprint(i)), Received: t0})
		switch {
		case err != nil:
			t.Errorf("PutUpdate %d: %v", i, err)
		case dup:
			dups.Add(1)
		default:
			fresh.Add(1)
		}
	})
	if fresh.Load() != 1 || dups.Load() != writers-1 {
		t.Fatalf("%d puts stored the update and %d were duplicates; want 1 and %d", fresh.Load(), dups.Load(), writers-1)
	}
	if id := pending(t, s, "c"); id != 1000 {
		t.Fatalf("pending update = %d", id)
	}
	if err := s.DoneUpdate(ctx, "c", 1000); err != nil {
		t.Fatal(err)
	}
	if id := pending(t, s, "c"); id != 0 {
		t.Fatalf("a second copy of the update is pending: %d", id)
	}
}

func testInboxDedupeAfterDone(t *testing.T, s intake.Store, _ Options) {
	putUpdate(t, s, "c", 5)
	if err := s.DoneUpdate(ctx, "c", 5); err != nil {
		t.Fatal(err)
	}
	// Telegram redelivers an update already processed: it must not be processed again.
	if dup, err := s.PutUpdate(ctx, intake.Update{ID: 5, Chat: "c", Body: []byte("again"), Received: t0}); err != nil || !dup {
		t.Fatalf("redelivery of a processed update: dup %v, %v; want true", dup, err)
	}
	if id := pending(t, s, "c"); id != 0 {
		t.Fatalf("processed update pending again: %d", id)
	}
	if err := s.DoneUpdate(ctx, "c", 5); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("DoneUpdate of a processed update: %v, want ErrNotFound", err)
	}
	if err := s.DoneUpdate(ctx, "c", 6); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("DoneUpdate of an unknown update: %v, want ErrNotFound", err)
	}
}

func testInboxDedupeExpires(t *testing.T, s intake.Store, o Options) {
	putUpdate(t, s, "c", 9)
	if err := s.DoneUpdate(ctx, "c", 9); err != nil {
		t.Fatal(err)
	}
	if o.Advance == nil {
		// Without a movable clock, check the id is remembered now; its expiry is the engine's
		// own test (for Redis: the TTL it sets, InboxDedupTTL).
		if dup, err := s.PutUpdate(ctx, intake.Update{ID: 9, Chat: "c", Received: t0}); err != nil || !dup {
			t.Fatalf("update id forgotten at once: dup %v, %v", dup, err)
		}
		return
	}
	o.Advance(t, s, intake.InboxDedupTTL-time.Minute)
	if dup, err := s.PutUpdate(ctx, intake.Update{ID: 9, Chat: "c", Received: t0}); err != nil || !dup {
		t.Fatalf("update id forgotten before InboxDedupTTL: dup %v, %v", dup, err)
	}
	o.Advance(t, s, 2*time.Minute)
	if dup, err := s.PutUpdate(ctx, intake.Update{ID: 9, Chat: "c", Body: []byte("new life"), Received: t0}); err != nil || dup {
		t.Fatalf("update id still remembered after InboxDedupTTL: dup %v, %v", dup, err)
	}
	if id := pending(t, s, "c"); id != 9 {
		t.Fatalf("update stored after its id expired is not pending: %d", id)
	}
}

func testInboxOrder(t *testing.T, s intake.Store, _ Options) {
	if u, err := s.NextUpdate(ctx, "a"); err != nil || u != nil {
		t.Fatalf("NextUpdate of a chat with nothing: %+v %v", u, err)
	}
	for _, id := range []int64{30, 10, 1 << 40, 20} {
		putUpdate(t, s, "a", id)
	}
	putUpdate(t, s, "b", 15)
	putUpdate(t, s, "b", 5)
	u, err := s.NextUpdate(ctx, "a")
	if err != nil || u == nil || u.ID != 10 || u.Chat != "a" || string(u.Body) != "sealed update 10" || !u.Received.Equal(t0) {
		t.Fatalf("NextUpdate(a) = %+v %v, want update 10", u, err)
	}
	if err := s.DoneUpdate(ctx, "a", 10); err != nil {
		t.Fatal(err)
	}
	if id := pending(t, s, "a"); id != 20 {
		t.Fatalf("after 10: %d, want 20", id)
	}
	// A turn marks its update done in its commit.
	if _, err := s.Commit(ctx, intake.Commit{Key: "a", Session: []byte("s"), Done: 20}); err != nil {
		t.Fatal(err)
	}
	if id := pending(t, s, "a"); id != 30 {
		t.Fatalf("after 20: %d, want 30", id)
	}
	// Done out of order is allowed (a skipped update) and leaves the rest in order.
	if err := s.DoneUpdate(ctx, "a", 1<<40); err != nil {
		t.Fatal(err)
	}
	if id := pending(t, s, "a"); id != 30 {
		t.Fatalf("after done of the last: %d, want 30", id)
	}
	if id := pending(t, s, "b"); id != 5 {
		t.Fatalf("chat b: %d, want 5", id)
	}
	// The returned update is a copy.
	u, _ = s.NextUpdate(ctx, "b")
	copy(u.Body, "XXXXXX")
	if u2, _ := s.NextUpdate(ctx, "b"); string(u2.Body) != "sealed update 5" {
		t.Fatalf("the store returned its own memory: %q", u2.Body)
	}
}

func testInboxPendingChats(t *testing.T, s intake.Store, _ Options) {
	chats, err := s.PendingChats(ctx, 0)
	if err != nil || len(chats) != 0 {
		t.Fatalf("PendingChats of an empty inbox: %v %v", chats, err)
	}
	id := int64(1)
	for _, c := range []intake.SessionKey{"a", "b", "c", "a", "c", "c"} {
		putUpdate(t, s, c, id)
		id++
	}
	for _, done := range []int64{2} { // b's only update
		if err := s.DoneUpdate(ctx, "b", done); err != nil {
			t.Fatal(err)
		}
	}
	chats, err = s.PendingChats(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(chats)
	if !slices.Equal(chats, []intake.SessionKey{"a", "c"}) {
		t.Fatalf("PendingChats = %v, want [a c] each once", chats)
	}
	one, err := s.PendingChats(ctx, 1)
	if err != nil || len(one) != 1 || (one[0] != "a" && one[0] != "c") {
		t.Fatalf("PendingChats(1) = %v %v", one, err)
	}
	for _, done := range []int64{1, 4} {
		if err := s.DoneUpdate(ctx, "a", done); err != nil {
			t.Fatal(err)
		}
	}
	chats, _ = s.PendingChats(ctx, 10)
	if !slices.Equal(chats, []intake.SessionKey{"c"}) {
		t.Fatalf("PendingChats after a's updates are done = %v, want [c]", chats)
	}
}

func testInboxOffset(t *testing.T, s intake.Store, _ Options) {
	get := func() int64 {
		t.Helper()
		o, err := s.Offset(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	if o := get(); o != 0 {
		t.Fatalf("initial offset %d", o)
	}
	for _, step := range []struct{ set, want int64 }{{100, 100}, {50, 100}, {100, 100}, {101, 101}, {1 << 40, 1 << 40}, {7, 1 << 40}} {
		if err := s.SetOffset(ctx, step.set); err != nil {
			t.Fatal(err)
		}
		if o := get(); o != step.want {
			t.Fatalf("after SetOffset(%d): %d, want %d", step.set, o, step.want)
		}
	}
}

// testInboxPutUpdates: several updates in one call are stored in order with the same dedupe as
// PutUpdate, a repeat inside the call included.
func testInboxPutUpdates(t *testing.T, s intake.Store, _ Options) {
	if _, err := s.PutUpdate(ctx, intake.Update{ID: 20, Chat: "c", Body: []byte("earlier"), Received: t0}); err != nil {
		t.Fatal(err)
	}
	us := []intake.Update{
		{ID: 21, Chat: "c", Body: []byte("a"), Received: t0},
		{ID: 20, Chat: "c", Body: []byte("again"), Received: t0}, // stored before: a duplicate
		{ID: 22, Chat: "c", Body: []byte("b"), Received: t0},
		{ID: 21, Chat: "c", Body: []byte("a twice"), Received: t0}, // repeated inside the call
	}
	dups, err := s.PutUpdates(ctx, us)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{false, true, false, true}; !slices.Equal(dups, want) {
		t.Fatalf("dups %v, want %v", dups, want)
	}
	var got []string
	for {
		u, err := s.NextUpdate(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		if u == nil {
			break
		}
		got = append(got, fmt.Sprintf("%d:%s", u.ID, u.Body))
		if err := s.DoneUpdate(ctx, "c", u.ID); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"20:earlier", "21:a", "22:b"}; !slices.Equal(got, want) {
		t.Fatalf("pending in order %v, want %v", got, want)
	}
	if dups, err := s.PutUpdates(ctx, nil); err != nil || len(dups) != 0 {
		t.Fatalf("PutUpdates(nil) = %v, %v", dups, err)
	}
}
