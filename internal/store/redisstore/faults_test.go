package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/redisstore"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
)

// failFast is how quickly an operation must report a server that is gone.
const failFast = 2 * time.Second

// recoverWithin bounds the wait for operations to succeed again after the server is back.
const recoverWithin = 10 * time.Second

// TestUnavailableFailsFastAndRecovers: with the server stopped every kind of operation fails
// within failFast with an error that is intake.ErrUnavailable; when it is back, the same Store
// works again and has kept what it had acknowledged.
func TestUnavailableFailsFastAndRecovers(t *testing.T) {
	srv := redistest.StartServer(t)
	s, err := redisstore.Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Session: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()

	ops := map[string]func() error{
		"LoadSession": func() error { _, _, err := s.LoadSession(ctx, "k"); return err },
		"Commit": func() error {
			_, err := s.Commit(ctx, intake.Commit{Key: "k", Expect: 1, Session: []byte("lost"),
				Audit: []intake.AuditEntry{{Action: "x"}}})
			return err
		},
		"PutUpdate":    func() error { _, err := s.PutUpdate(ctx, intake.Update{ID: 1, Chat: "k"}); return err },
		"DueMessages":  func() error { _, err := s.DueMessages(ctx, time.Now(), 0); return err },
		"MarkSent":     func() error { return s.MarkSent(ctx, "m") },
		"Queue":        func() error { _, err := s.Queue(ctx, "t", 0); return err },
		"Claim":        func() error { _, err := s.Claim(ctx, "R", "o", time.Now()); return err },
		"AppendAudit":  func() error { return s.AppendAudit(ctx, intake.AuditEntry{Action: "x"}) },
		"AcquireLease": func() error { _, err := s.AcquireLease(ctx, "k", "me", time.Second); return err },
		"Hit":          func() error { _, err := s.Hit(ctx, "k", time.Minute, time.Now()); return err },
		"KeyRecord":    func() error { _, err := s.KeyRecord(ctx, "n"); return err },
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range ops {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		start := time.Now()
		err := ops[name]()
		took := time.Since(start)
		if !errors.Is(err, intake.ErrUnavailable) {
			t.Errorf("%s with the server down: %v; want ErrUnavailable", name, err)
		}
		if took >= failFast {
			t.Errorf("%s took %v to fail; want < %v", name, took, failFast)
		}
	}

	srv.Restart()
	deadline := time.Now().Add(recoverWithin)
	for {
		got, v, err := s.LoadSession(ctx, "k")
		if err == nil {
			if string(got) != "before" || v != 1 {
				t.Fatalf("after the restart the session is %q v%d", got, v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery within %v: %v", recoverWithin, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, name := range names {
		// Every kind of operation works again (some answer not-found or a claim error: the
		// server answered).
		if err := ops[name](); errors.Is(err, intake.ErrUnavailable) {
			t.Errorf("%s after recovery: %v", name, err)
		}
	}
}

// TestHungServerTimesOut: a server that accepts nothing and answers nothing (stopped with
// SIGSTOP) makes operations fail with ErrUnavailable within failFast, by the read timeout; once
// it continues, the same Store works again.
func TestHungServerTimesOut(t *testing.T) {
	srv := redistest.StartServer(t)
	s, err := redisstore.Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Commit(ctx, intake.Commit{Key: "k", Session: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume()
		}
	}()
	for _, op := range []func() error{
		func() error { _, _, err := s.LoadSession(ctx, "k"); return err },
		func() error { _, err := s.PutUpdate(ctx, intake.Update{ID: 1, Chat: "k"}); return err },
	} {
		start := time.Now()
		err := op()
		if took := time.Since(start); !errors.Is(err, intake.ErrUnavailable) || took >= failFast {
			t.Errorf("operation on a hung server: %v after %v; want ErrUnavailable within %v", err, took, failFast)
		}
	}
	srv.Resume()
	resumed = true
	deadline := time.Now().Add(recoverWithin)
	for {
		got, _, err := s.LoadSession(ctx, "k")
		if err == nil && string(got) == "before" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after the server continued: %q %v", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Turns of the kill tests: writer w's turn i consumes update killUpdate(w, i) of chat
// killChat(w, i), creates case killRef(w, i), enqueues a reply and an officer notice and appends
// an audit entry.
const (
	killWriters   = 8
	killPerWriter = 400
	killAfterOK   = 300
)

var killT0 = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)

func killChat(w, i int) intake.SessionKey { return intake.SessionKey(fmt.Sprintf("chat-%d-%d", w, i)) }
func killRef(w, i int) intake.Ref         { return intake.Ref(fmt.Sprintf("KILL-%02d00-%04d-TEST", w, i)) }
func killUpdate(w, i int) int64           { return int64(w*killPerWriter + i + 1) }

// putKillUpdates stores the updates the turns consume.
func putKillUpdates(t *testing.T, s *redisstore.Store) {
	t.Helper()
	for w := range killWriters {
		for i := range killPerWriter {
			if _, err := s.PutUpdate(ctx, intake.Update{ID: killUpdate(w, i), Chat: killChat(w, i), Body: []byte("u")}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// killTurn commits writer w's turn i.
func killTurn(s *redisstore.Store, w, i int) error {
	r := killRef(w, i)
	c := &intake.Case{Ref: r, Status: intake.StatusQueued, Team: "t", Priority: 2,
		Created: killT0.Add(time.Duration(killUpdate(w, i)) * time.Millisecond), Answers: []byte("sealed")}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := s.Commit(cctx, intake.Commit{
		Key: killChat(w, i), Session: []byte("submitted"), Done: killUpdate(w, i), NewCase: c,
		Outbox: []intake.OutboxMessage{
			{ID: intake.OutboxID("reply-" + string(r)), Chat: killChat(w, i), Body: []byte("thanks"), Due: killT0},
			{ID: intake.OutboxID("notice-" + string(r)), Chat: "officer", Body: []byte("new case"), Due: killT0},
		},
		Audit: []intake.AuditEntry{{Time: killT0, Actor: "system", Action: "case created", Ref: r, To: intake.StatusQueued}},
		Now:   killT0,
	})
	return err
}

// waitRecovered waits until s answers again.
func waitRecovered(t *testing.T, s *redisstore.Store) {
	t.Helper()
	deadline := time.Now().Add(recoverWithin)
	for {
		_, err := s.Cases(ctx)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkTurnsWhole checks, after a kill: every acknowledged turn is there, every turn there at
// all is there whole (case, queue entry, session, update done, both messages, one audit entry),
// every turn not there left nothing, nothing is there twice, and the audit chain holds.
func checkTurnsWhole(t *testing.T, s *redisstore.Store, acked map[intake.Ref]bool) {
	t.Helper()
	refs, err := s.Cases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	present := map[intake.Ref]bool{}
	for _, r := range refs {
		if present[r] {
			t.Fatalf("case %s listed twice", r)
		}
		present[r] = true
	}
	for r := range acked {
		if !present[r] {
			t.Errorf("acknowledged case %s is lost", r)
		}
	}
	queued, err := s.Queue(ctx, "t", intake.MaxBatch)
	if err != nil {
		t.Fatal(err)
	}
	inQueue := map[intake.Ref]bool{}
	for _, c := range queued {
		inQueue[c.Ref] = true
	}
	n, err := intake.VerifyAudit(ctx, s)
	if err != nil {
		t.Fatalf("audit chain after the kill: %v", err)
	}
	audited := map[intake.Ref]int{}
	for after := uint64(0); ; {
		es, err := s.AuditEntries(ctx, after, intake.MaxBatch)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			audited[e.Ref]++
		}
		if len(es) < intake.MaxBatch {
			break
		}
		after = es[len(es)-1].Seq
	}
	if n != len(refs) {
		t.Errorf("%d audit entries for %d cases", n, len(refs))
	}
	for w := range killWriters {
		for i := range killPerWriter {
			r := killRef(w, i)
			sess, v, err := s.LoadSession(ctx, killChat(w, i))
			if err != nil {
				t.Fatal(err)
			}
			next, err := s.NextUpdate(ctx, killChat(w, i))
			if err != nil {
				t.Fatal(err)
			}
			reply, notice := messageExists(t, s, "reply-"+string(r)), messageExists(t, s, "notice-"+string(r))
			if present[r] {
				if !inQueue[r] || audited[r] != 1 || string(sess) != "submitted" || v != 1 || next != nil || !reply || !notice {
					t.Errorf("turn %s is half there: queued %v, audit entries %d, session %q v%d, update pending %v, reply %v, notice %v",
						r, inQueue[r], audited[r], sess, v, next != nil, reply, notice)
				}
			} else if inQueue[r] || audited[r] != 0 || v != 0 || next == nil || reply || notice {
				t.Errorf("turn %s left parts without its case: queued %v, audit %d, session v%d, update pending %v, reply %v, notice %v",
					r, inQueue[r], audited[r], v, next != nil, reply, notice)
			}
		}
	}
	t.Logf("%d turns acknowledged, %d there after the kill", len(acked), len(refs))
}

// TestKillServerDuringCommits: redis-server (appendfsync always) is killed with SIGKILL while
// writers commit turns. After the restart every acknowledged turn is there whole, every turn
// that is there at all is whole, and nothing is there twice.
func TestKillServerDuringCommits(t *testing.T) {
	srv := redistest.StartServer(t)
	s, err := redisstore.Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	putKillUpdates(t, s)
	var (
		mu      sync.Mutex
		acked   = map[intake.Ref]bool{}
		okCount atomic.Int64
		failed  atomic.Int64
		killed  = make(chan struct{})
		wg      sync.WaitGroup
	)
	for w := range killWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range killPerWriter {
				if err := killTurn(s, w, i); err != nil {
					select {
					case <-killed:
						failed.Add(1)
					default:
						t.Errorf("commit %s before the kill: %v", killRef(w, i), err)
					}
					return
				}
				mu.Lock()
				acked[killRef(w, i)] = true
				mu.Unlock()
				if okCount.Add(1) == killAfterOK {
					close(killed)
				}
			}
		}()
	}
	select {
	case <-killed:
	case <-time.After(time.Minute):
		t.Fatal("the writers did not reach the kill point")
	}
	srv.Stop() // SIGKILL, mid-stream
	wg.Wait()
	srv.Restart()
	waitRecovered(t, s)
	t.Logf("%d commits failed at the kill", failed.Load())
	checkTurnsWhole(t, s, acked)
}

// envKillWriter makes the test binary a writer process for TestKillClientDuringCommits: its
// value is "url prefix".
const envKillWriter = "PENAH_REDIS_KILL_WRITER"

// killWriterMain commits the kill turns from this process and prints "ok <ref>" after each
// acknowledged one, until it is killed.
func killWriterMain(arg string) {
	url, prefix, _ := strings.Cut(arg, " ")
	s, err := redisstore.Open(ctx, url, redisstore.WithPrefix(prefix))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range killWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range killPerWriter {
				if err := killTurn(s, w, i); err != nil {
					fmt.Println("error", err)
					return
				}
				mu.Lock()
				fmt.Println("ok", killRef(w, i))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	os.Exit(0)
}

// TestKillClientDuringCommits: a bot process is killed with SIGKILL in the middle of a stream of
// commits. Each commit is one script on the server, so what it was doing is there whole or not
// at all; everything it had acknowledged is there.
func TestKillClientDuringCommits(t *testing.T) {
	url, _, _ := redistest.Start(t)
	s, prefix := openFresh(t, url)
	putKillUpdates(t, s)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envKillWriter+"="+url+" "+prefix)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[intake.Ref]bool{}
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		kind, rest, _ := strings.Cut(lines.Text(), " ")
		if kind != "ok" {
			t.Fatalf("writer: %s", lines.Text())
		}
		acked[intake.Ref(rest)] = true
		if len(acked) == killAfterOK {
			cmd.Process.Kill()
			break
		}
	}
	// Lines printed before the kill are acknowledged too.
	for lines.Scan() {
		if kind, rest, _ := strings.Cut(lines.Text(), " "); kind == "ok" {
			acked[intake.Ref(rest)] = true
		}
	}
	cmd.Wait()
	if len(acked) < killAfterOK {
		t.Fatalf("the writer acknowledged only %d turns", len(acked))
	}
	checkTurnsWhole(t, s, acked)
}

// messageExists reports whether the outbox holds message id (Retry of an unknown id is
// ErrNotFound; a retry of an existing one only moves its due time, which the test does not read).
func messageExists(t *testing.T, s *redisstore.Store, id string) bool {
	t.Helper()
	err := s.Retry(ctx, intake.OutboxID(id), time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
	if errors.Is(err, intake.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// TestRefusesEvictingServer: a server whose maxmemory-policy could delete keys is refused with a
// message that names the setting.
func TestRefusesEvictingServer(t *testing.T) {
	srv := redistest.StartServer(t)
	if _, err := srv.Command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"); err != nil {
		t.Fatal(err)
	}
	_, err := redisstore.Open(ctx, srv.URL())
	if !errors.Is(err, redisstore.ErrEvictionPolicy) || !strings.Contains(err.Error(), "allkeys-lru") {
		t.Fatalf("Open of an allkeys-lru server: %v; want ErrEvictionPolicy naming the policy", err)
	}
	// AllowUncheckedEviction is only for a policy that cannot be read: it does not override one
	// that can.
	if _, err := redisstore.Open(ctx, srv.URL(), redisstore.AllowUncheckedEviction()); !errors.Is(err, redisstore.ErrEvictionPolicy) {
		t.Fatalf("Open with AllowUncheckedEviction of an allkeys-lru server: %v", err)
	}
	if _, err := srv.Command("CONFIG", "SET", "maxmemory-policy", "noeviction"); err != nil {
		t.Fatal(err)
	}
	s, err := redisstore.Open(ctx, srv.URL())
	if err != nil {
		t.Fatalf("Open after noeviction was set: %v", err)
	}
	s.Close()
}

// TestConfigDisabled: a server that refuses CONFIG (as managed services do) is refused unless
// the operator vouches for its policy with AllowUncheckedEviction; Check then says what to check
// by hand.
func TestConfigDisabled(t *testing.T) {
	srv := redistest.StartServer(t, "--rename-command", "CONFIG", "")
	_, err := redisstore.Open(ctx, srv.URL())
	if !errors.Is(err, redisstore.ErrConfigUnavailable) {
		t.Fatalf("Open without CONFIG: %v; want ErrConfigUnavailable", err)
	}
	s, err := redisstore.Open(ctx, srv.URL(), redisstore.AllowUncheckedEviction())
	if err != nil {
		t.Fatalf("Open without CONFIG, allowed: %v", err)
	}
	defer s.Close()
	r, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.EvictionOK || r.Durable || len(r.Advice) == 0 || !strings.Contains(r.Advice[0], "CONFIG GET is refused") {
		t.Fatalf("Check without CONFIG = %+v", r)
	}
}

func TestOpenUnreachable(t *testing.T) {
	start := time.Now()
	// A port nothing listens on (the test's own server, stopped).
	srv := redistest.StartServer(t)
	srv.Stop()
	_, err := redisstore.Open(ctx, srv.URL())
	if !errors.Is(err, intake.ErrUnavailable) || time.Since(start) > 5*time.Second {
		t.Fatalf("Open of a stopped server: %v after %v", err, time.Since(start))
	}
}

// TestReplicasShareOneChain: two Stores on one server, as two bot replicas, append to the audit
// chain and claim the same cases at once. Each process remembers the chain's head; the other's
// appends make it stale, and the compare-and-set must catch that every time.
func TestReplicasShareOneChain(t *testing.T) {
	url, _, _ := redistest.Start(t)
	a, prefix := openFresh(t, url)
	b, err := redisstore.Open(ctx, url, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	const cases, rounds = 20, 10
	for i := range cases {
		r := intake.Ref(fmt.Sprintf("RPLC-%04d", i))
		if _, err := a.Commit(ctx, intake.Commit{Key: intake.SessionKey(r), Session: []byte("s"),
			NewCase: &intake.Case{Ref: r, Status: intake.StatusQueued, Team: "t", Created: t0},
			Audit:   []intake.AuditEntry{{Time: t0, Actor: "system", Action: "case created", Ref: r}}}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var claims atomic.Int32
	for w, s := range []*redisstore.Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				if err := s.AppendAudit(ctx, intake.AuditEntry{Time: t0, Actor: fmt.Sprint("w", w), Action: fmt.Sprint(i)}); err != nil {
					t.Errorf("append: %v", err)
				}
			}
			for i := range cases {
				_, err := s.Claim(ctx, intake.Ref(fmt.Sprintf("RPLC-%04d", i)), fmt.Sprint("officer-", w), t0)
				var ce *intake.ClaimedError
				switch {
				case err == nil:
					claims.Add(1)
				case !errors.As(err, &ce):
					t.Errorf("claim: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if claims.Load() != cases {
		t.Fatalf("%d claims won for %d cases", claims.Load(), cases)
	}
	for _, s := range []*redisstore.Store{a, b} {
		n, err := intake.VerifyAudit(ctx, s)
		if want := cases + 4*rounds + cases; err != nil || n != want {
			t.Fatalf("VerifyAudit = %d, %v; want %d entries", n, err, want)
		}
	}
}
