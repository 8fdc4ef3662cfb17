package boltstore_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
)

// TestShreddingLeavesNoEnvelopeInTheFile: bbolt keeps freed pages in the file, so a shredded
// case's wrapped data key would survive a plain delete. After /forget (Commit with Forget) and
// after Shred, the file must not contain the old envelope anywhere.
func TestShreddingLeavesNoEnvelopeInTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "penah.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, _ := seal.NewMasterKey()
	kr, _ := seal.NewKeyring(m)
	team, _ := seal.GenerateIdentity()
	newCase := func(ref intake.Ref) (*intake.Case, []byte) {
		dk, _ := seal.NewDataKey()
		env, err := seal.Wrap(dk, string(ref), kr.CurrentMAC(), team.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		return &intake.Case{Ref: ref, Envelope: env, Answers: []byte("sealed")},
			[]byte(base64.StdEncoding.EncodeToString(env.Wraps[0].Box)[:40])
	}
	inFile := func(needle []byte) bool {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Contains(b, needle)
	}

	c1, wrap1 := newCase("AAAA-BBBB-CCCC-DDDD")
	c2, wrap2 := newCase("EEEE-FFFF-GGGG-HHHH")
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Session: []byte("s"), NewCase: c1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "other", Session: []byte("s"), NewCase: c2}); err != nil {
		t.Fatal(err)
	}
	if !inFile(wrap1) || !inFile(wrap2) {
		t.Fatal("test set-up: the envelopes should be in the file before shredding")
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 1, Forget: true, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if inFile(wrap1) {
		t.Fatal("after /forget the shredded envelope is still in the database file")
	}
	if err := s.Shred(ctx, []intake.Ref{c2.Ref}, intake.StatusShredded, time.Now()); err != nil {
		t.Fatal(err)
	}
	if inFile(wrap2) {
		t.Fatal("after Shred the envelope is still in the database file")
	}
	// The store still works after compaction replaced its file.
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Session: []byte("again")}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.LoadSession(ctx, "k"); err != nil || string(got) != "again" {
		t.Fatalf("after compaction: %q %v", got, err)
	}
}

// TestShredDurableWhenCompactionFails: if the file cannot be compacted, the shredding itself is
// still done and durable, and the error says so (ErrNotCompacted) rather than looking like a
// failed write; the next compaction that can run clears the file.
func TestShredDurableWhenCompactionFails(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	c := &intake.Case{Ref: "AAAA-BBBB-CCCC-DDDD", Status: intake.StatusQueued, Answers: []byte("sealed")}
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Session: []byte("s"), NewCase: c}); err != nil {
		t.Fatal(err)
	}
	// Something in the way of the compaction's temporary file.
	blocker := path + ".compact"
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := s.Shred(ctx, []intake.Ref{c.Ref}, intake.StatusShredded, time.Now())
	if !errors.Is(err, boltstore.ErrNotCompacted) {
		t.Fatalf("Shred with compaction blocked: %v, want ErrNotCompacted", err)
	}
	if got, err := s.Case(ctx, c.Ref); err != nil || got.Status != intake.StatusShredded || got.Answers != nil {
		t.Fatalf("the shredding was not kept: %+v %v", got, err)
	}
	v, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 1, Forget: true, Now: time.Now()})
	if !errors.Is(err, boltstore.ErrNotCompacted) || v != 0 {
		t.Fatalf("Forget with compaction blocked: v%d %v, want ErrNotCompacted", v, err)
	}
	if _, ver, _ := s.LoadSession(ctx, "k"); ver != 0 {
		t.Fatal("the Forget commit was not kept")
	}
	if err := os.RemoveAll(blocker); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(); err != nil {
		t.Fatalf("compaction once unblocked: %v", err)
	}
}
