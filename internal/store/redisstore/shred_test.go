package redisstore_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/redisstore"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
)

// TestShreddingLeavesNoEnvelopeInTheFiles: Redis' AOF keeps every write, so a shredded case's
// wrapped data key would survive a plain delete in the file. After /forget (Commit with Forget)
// and after Shred, no file in the server's directory may contain the old envelope or answers.
// The server runs with RDB compression off, so that a surviving copy could not hide compressed.
func TestShreddingLeavesNoEnvelopeInTheFiles(t *testing.T) {
	srv := redistest.StartServer(t, "--rdbcompression", "no")
	s, err := redisstore.Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, _ := seal.NewMasterKey()
	kr, _ := seal.NewKeyring(m)
	team, _ := seal.GenerateIdentity()
	// needles are pieces of what must disappear, as they appear in the files: the envelope's
	// wrapped key and the sealed answers (both base64 inside the case's JSON).
	newCase := func(ref intake.Ref) (*intake.Case, [][]byte) {
		dk, _ := seal.NewDataKey()
		env, err := seal.Wrap(dk, string(ref), kr.CurrentMAC(), team.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		answers := []byte("sealed answers of " + string(ref) + "!!") // a multiple of 3 bytes: whole base64
		c := &intake.Case{Ref: ref, Status: intake.StatusQueued, Team: "t", Created: time.Now(), Envelope: env, Answers: answers}
		return c, [][]byte{
			[]byte(base64.StdEncoding.EncodeToString(env.Wraps[0].Box)[:40]),
			[]byte(base64.StdEncoding.EncodeToString(answers)),
		}
	}
	inFiles := func(needles [][]byte) string {
		t.Helper()
		var found string
		err := filepath.WalkDir(srv.Dir(), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				if os.IsNotExist(err) {
					return nil // deleted while we walked
				}
				return err
			}
			for _, n := range needles {
				if bytes.Contains(b, n) {
					found = path
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	// Redis deletes the old AOF files in a background thread once the rewrite is done.
	gone := func(needles [][]byte) string {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			f := inFiles(needles)
			if f == "" || time.Now().After(deadline) {
				return f
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	c1, n1 := newCase("AAAA-BBBB-CCCC-DDDD")
	c2, n2 := newCase("EEEE-FFFF-GGGG-HHHH")
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Session: []byte("s"), NewCase: c1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "other", Session: []byte("s"), NewCase: c2}); err != nil {
		t.Fatal(err)
	}
	if inFiles(n1) == "" || inFiles(n2) == "" {
		t.Fatal("test set-up: the envelopes and answers should be in the AOF before shredding")
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 1, Forget: true, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if f := gone(n1); f != "" {
		t.Fatalf("after /forget the shredded case is still in %s", f)
	}
	if inFiles(n2) == "" {
		t.Fatal("the other person's case is gone from the files too")
	}
	if err := s.Shred(ctx, []intake.Ref{c2.Ref}, intake.StatusShredded, time.Now()); err != nil {
		t.Fatal(err)
	}
	if f := gone(n2); f != "" {
		t.Fatalf("after Shred the envelope is still in %s", f)
	}
	// The store still works, and so does the server after a restart from the rewritten files.
	srv.Restart()
	deadline := time.Now().Add(recoverWithin)
	for {
		c, err := s.Case(ctx, c2.Ref)
		if err == nil {
			if c.Status != intake.StatusShredded || c.Envelope != nil {
				t.Fatalf("tombstone after the restart: %+v", c)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestShredWhenTheRewriteIsRefused: a server that forbids BGREWRITEAOF (as some managed services
// do) still gets its cases shredded; the caller learns that the files are not rewritten
// (ErrNotScrubbed, not a failed write: not ErrUnavailable, nothing to retry). WithoutFileScrub
// skips the rewrite and reports nothing.
func TestShredWhenTheRewriteIsRefused(t *testing.T) {
	srv := redistest.StartServer(t, "--rename-command", "BGREWRITEAOF", "")
	for _, scrub := range []bool{true, false} {
		var opts []redisstore.Option
		if !scrub {
			opts = append(opts, redisstore.WithoutFileScrub())
		}
		s, _ := openFresh(t, srv.URL(), opts...)
		c := &intake.Case{Ref: "R1", Status: intake.StatusQueued, Team: "t", Created: time.Now(), Answers: []byte("a")}
		if _, err := s.Commit(ctx, intake.Commit{Key: "k", Session: []byte("s"), NewCase: c}); err != nil {
			t.Fatal(err)
		}
		err := s.Shred(ctx, []intake.Ref{"R1"}, intake.StatusShredded, time.Now())
		switch {
		case scrub && (!errors.Is(err, redisstore.ErrNotScrubbed) || !errors.Is(err, intake.ErrNotCompacted) || errors.Is(err, intake.ErrUnavailable)):
			t.Fatalf("Shred without BGREWRITEAOF: %v; want ErrNotScrubbed (ErrNotCompacted), not ErrUnavailable", err)
		case !scrub && err != nil:
			t.Fatalf("Shred WithoutFileScrub: %v", err)
		}
		if got, err := s.Case(ctx, "R1"); err != nil || got.Status != intake.StatusShredded || got.Answers != nil {
			t.Fatalf("the case was not shredded: %+v %v", got, err)
		}
		v, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 1, Forget: true, Now: time.Now()})
		if v != 0 || (scrub && !errors.Is(err, redisstore.ErrNotScrubbed)) || (!scrub && err != nil) {
			t.Fatalf("Forget (scrub %v) = %d, %v", scrub, v, err)
		}
	}
}
