package boltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
	"github.com/penahbot/penah/internal/store/storetest"
)

// TestConformance runs the storage contract's behaviour suite against bbolt.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) intake.Store {
		s, _ := open(t)
		return s
	}, storetest.Options{
		Tamper: func(t *testing.T, s intake.Store, seq uint64) {
			err := boltstore.TamperAudit(s.(*boltstore.Store), seq, func(e *intake.AuditEntry) { e.Actor = "someone else" })
			if err != nil {
				t.Fatal(err)
			}
		},
		Advance:       func(t *testing.T, s intake.Store, d time.Duration) { boltstore.AdvanceClock(s.(*boltstore.Store), d) },
		RequireDumper: true,
	})
}

func open(t *testing.T) (*boltstore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "penah.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestSessionCompareAndSet(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	sess, ver, err := s.LoadSession(ctx, "k")
	if err != nil || ver != 0 || sess != nil {
		t.Fatalf("empty store: %q %d %v", sess, ver, err)
	}
	sess = []byte("sealed session 1")
	v1, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 0, Session: sess})
	if err != nil || v1 != 1 {
		t.Fatalf("first commit: %d %v", v1, err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 0, Session: sess}); !errors.Is(err, intake.ErrConflict) {
		t.Fatalf("stale version must conflict, got %v", err)
	}
	got, ver, err := s.LoadSession(ctx, "k")
	if err != nil || ver != 1 || string(got) != "sealed session 1" {
		t.Fatalf("load: %+v %d %v", got, ver, err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 1}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, ver, _ := s.LoadSession(ctx, "k"); ver != 0 {
		t.Fatal("deleted session still there")
	}
}

// TestConcurrentCommitsOneWins: many writers with the same expected version, exactly one wins.
func TestConcurrentCommitsOneWins(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	sess := []byte("s")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 0, Session: sess}); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, intake.ErrConflict) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d writers won, want exactly 1", wins)
	}
}

func TestCaseCreatedWithSessionAndForgotten(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	sess := []byte("s")
	c := &intake.Case{Ref: "AAAA-BBBB-CCCC-DDDD", Status: intake.StatusQueued, Created: time.Unix(100, 0).UTC()}
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Session: sess, NewCase: c}); err != nil {
		t.Fatal(err)
	}
	// A conflicting commit must not create its case: all or nothing.
	c2 := &intake.Case{Ref: "EEEE-FFFF-GGGG-HHHH", Created: time.Unix(200, 0).UTC()}
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 0, Session: sess, NewCase: c2}); !errors.Is(err, intake.ErrConflict) {
		t.Fatalf("want conflict, got %v", err)
	}
	if _, err := s.Case(ctx, c2.Ref); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("case of a failed commit exists: %v", err)
	}
	got, err := s.Case(ctx, c.Ref)
	if err != nil || got.Ref != c.Ref || !got.Created.Equal(c.Created) {
		t.Fatalf("case: %+v %v", got, err)
	}
	// A second case of another person, then the first person forgets.
	other := &intake.Case{Ref: "JJJJ-KKKK-MMMM-NNNN", Created: time.Unix(300, 0).UTC()}
	if _, err := s.Commit(ctx, intake.Commit{Key: "other", Session: sess, NewCase: other}); err != nil {
		t.Fatal(err)
	}
	if refs, _ := s.Cases(ctx); len(refs) != 2 || refs[0] != c.Ref {
		t.Fatalf("cases oldest first: %v", refs)
	}
	shredAt := time.Unix(400, 0).UTC()
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 1, Forget: true, Now: shredAt}); err != nil {
		t.Fatal(err)
	}
	tomb, err := s.Case(ctx, c.Ref)
	if err != nil || tomb.Status != intake.StatusWithdrawn || tomb.Envelope != nil || tomb.Answers != nil || tomb.Code != "" || !tomb.Shredded.Equal(shredAt) {
		t.Fatalf("forgotten case is not a tombstone: %+v %v", tomb, err)
	}
	if _, err := s.Case(ctx, other.Ref); err != nil {
		t.Fatalf("another person's case was erased: %v", err)
	}
}

func TestSecondOpenFailsClearly(t *testing.T) {
	_, path := open(t)
	start := time.Now()
	_, err := boltstore.Open(path)
	if !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	if time.Since(start) > 5*boltstore.OpenTimeout {
		t.Fatal("second open should give up after OpenTimeout")
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "penah.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Session: []byte("topic")}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, ver, err := s.LoadSession(ctx, "k")
	if err != nil || ver != 1 || string(got) != "topic" {
		t.Fatalf("after reopen: %+v %d %v", got, ver, err)
	}
}
