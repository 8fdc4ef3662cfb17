package boltstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
)

// The kill test: a child process writes a stream of turns and prints each write the store
// acknowledged; the parent kills it with SIGKILL at a random moment, reopens the file and checks
// that every acknowledged write is there, nothing is half-written and nothing is doubled.
const (
	killRounds     = 4
	killMinAcks    = 50
	killMaxAcks    = 400
	killChildLimit = 15 * time.Second // a child the parent forgot stops by itself
	killKeys       = 5                // session keys the turns rotate over
	killShredEvery = 15               // every so many turns, shred an earlier case (compaction)
	killEnvChild   = "PENAH_KILL_CHILD"
	killEnvPath    = "PENAH_KILL_DB"
)

// Acknowledgement lines the child prints, after the store call returned nil:
//
//	update <i>                 PutUpdate of update i (chat killKey(i))
//	commit <i> <version>       Commit of turn i: session v<version> of killKey(i), Done i, case
//	                           killRef(i), outbox message m<i> to chat c<i>, audit "case created"
//	shred <j>                  Shred of killRef(j)

func killKey(i int) intake.SessionKey { return intake.SessionKey(fmt.Sprintf("k%d", i%killKeys)) }
func killRef(i int) intake.Ref        { return intake.Ref(fmt.Sprintf("KILL-%06d", i)) }

func TestKillNineKeepsAcknowledgedWrites(t *testing.T) {
	if os.Getenv(killEnvChild) == "1" {
		killChild(os.Getenv(killEnvPath))
		return
	}
	for round := range killRounds {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) { killRound(t) })
	}
}

// killChild writes turns until it is killed (or killChildLimit passes).
func killChild(path string) {
	ctx := context.Background()
	s, err := boltstore.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	fail := func(what string, err error) {
		fmt.Fprintln(os.Stderr, "child", what+":", err)
		os.Exit(3)
	}
	out := bufio.NewWriter(os.Stdout)
	ack := func(format string, a ...any) {
		fmt.Fprintf(out, format+"\n", a...)
		out.Flush() // the line leaves the process before the next write starts
	}
	versions := map[intake.SessionKey]intake.Version{}
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	stop := time.Now().Add(killChildLimit)
	for i := 1; time.Now().Before(stop); i++ {
		key := killKey(i)
		at := now.Add(time.Duration(i) * time.Second)
		if _, err := s.PutUpdate(ctx, intake.Update{ID: int64(i), Chat: key, Body: []byte("sealed"), Received: at}); err != nil {
			fail("put", err)
		}
		ack("update %d", i)
		c := &intake.Case{Ref: killRef(i), Status: intake.StatusQueued, Created: at, Team: "t", Priority: 2, Answers: []byte("sealed answers")}
		v, err := s.Commit(ctx, intake.Commit{
			Key: key, Expect: versions[key], Session: []byte(fmt.Sprintf("turn %d", i)), Done: int64(i), NewCase: c,
			Outbox: []intake.OutboxMessage{{ID: intake.OutboxID(fmt.Sprint("m", i)), Chat: intake.SessionKey(fmt.Sprint("c", i)), Body: []byte("sealed"), Due: at}},
			Audit:  []intake.AuditEntry{{Time: at, Actor: "system", Action: "case created", Ref: c.Ref, To: intake.StatusQueued}},
			Now:    at,
		})
		if err != nil {
			fail("commit", err)
		}
		versions[key] = v
		ack("commit %d %d", i, v)
		if i%killShredEvery == 0 {
			j := i - killShredEvery/2
			if err := s.Shred(ctx, []intake.Ref{killRef(j)}, intake.StatusShredded, at); err != nil {
				fail("shred", err)
			}
			ack("shred %d", j)
		}
	}
	os.Exit(0)
}

// acks is what the parent read from the child before it died.
type acks struct {
	updates  map[int]bool
	commits  map[int]intake.Version
	shreds   map[int]bool
	sessions map[intake.SessionKey]int // key -> last acknowledged turn
}

func killRound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "penah.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillNineKeepsAcknowledgedWrites$", "-test.count=1")
	cmd.Env = append(os.Environ(), killEnvChild+"=1", killEnvPath+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	want := killMinAcks + rand.IntN(killMaxAcks-killMinAcks)
	a := acks{updates: map[int]bool{}, commits: map[int]intake.Version{}, shreds: map[int]bool{}, sessions: map[intake.SessionKey]int{}}
	sc := bufio.NewScanner(stdout)
	n, killed := 0, false
	for sc.Scan() {
		a.record(t, sc.Text())
		if n++; n == want && !killed {
			// Kill at a random point of the next write: now, or a little later.
			time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond)
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !killed || !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL after %d acknowledgements: %v\n%s", n, err, stderr.String())
	}
	t.Logf("killed after %d acknowledgements (%d turns committed)", n, len(a.commits))
	a.check(t, path)
}

func (a *acks) record(t *testing.T, line string) {
	t.Helper()
	f := strings.Fields(line)
	num := func(i int) int {
		n, err := strconv.Atoi(f[i])
		if err != nil {
			t.Fatalf("bad line from the child: %q", line)
		}
		return n
	}
	switch {
	case len(f) == 2 && f[0] == "update":
		a.updates[num(1)] = true
	case len(f) == 3 && f[0] == "commit":
		i := num(1)
		a.commits[i] = intake.Version(num(2))
		a.sessions[killKey(i)] = i
	case len(f) == 2 && f[0] == "shred":
		a.shreds[num(1)] = true
	default:
		t.Fatalf("bad line from the child: %q", line)
	}
}

func (a *acks) check(t *testing.T, path string) {
	ctx := context.Background()
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatalf("reopening after kill -9: %v", err)
	}
	defer s.Close()
	if err := boltstore.CheckFile(s); err != nil {
		t.Fatalf("file inconsistent after kill -9: %v", err)
	}
	// Every acknowledged write is there.
	for i := range a.updates {
		if dup, err := s.PutUpdate(ctx, intake.Update{ID: int64(i), Chat: killKey(i)}); err != nil || !dup {
			t.Fatalf("acknowledged update %d lost: dup %v, %v", i, dup, err)
		}
	}
	for key, i := range a.sessions {
		sess, v, err := s.LoadSession(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		// The child may have committed one more turn of this key before it died, unacknowledged.
		switch {
		case v == a.commits[i] && string(sess) == fmt.Sprintf("turn %d", i):
		case v == a.commits[i]+1 && string(sess) == fmt.Sprintf("turn %d", i+killKeys):
		default:
			t.Fatalf("session %s = %q v%d; acknowledged turn %d at v%d", key, sess, v, i, a.commits[i])
		}
	}
	for i := range a.commits {
		if _, err := s.Case(ctx, killRef(i)); err != nil {
			t.Fatalf("case of acknowledged turn %d: %v", i, err)
		}
	}
	// An acknowledged update whose turn did not commit is still pending, the only one of its chat.
	for i := range a.updates {
		if _, err := s.Case(ctx, killRef(i)); !errors.Is(err, intake.ErrNotFound) {
			continue
		}
		if next, err := s.NextUpdate(ctx, killKey(i)); err != nil || next == nil || next.ID != int64(i) {
			t.Fatalf("update %d acknowledged, its turn not committed, but it is not pending: %+v %v", i, next, err)
		}
	}
	for j := range a.shreds {
		if c, err := s.Case(ctx, killRef(j)); err != nil || c.Status != intake.StatusShredded || c.Answers != nil {
			t.Fatalf("acknowledged shredding of case %d not there: %+v %v", j, c, err)
		}
	}
	// Nothing is half-written: each case has all the parts of its turn, and nothing else exists.
	refs, err := s.Cases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	queued, err := s.Queue(ctx, "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	inQueue := map[intake.Ref]int{}
	for _, c := range queued {
		inQueue[c.Ref]++
	}
	heads, err := s.DueMessages(ctx, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	if err != nil {
		t.Fatal(err)
	}
	inOutbox := map[intake.OutboxID]int{}
	for _, m := range heads {
		inOutbox[m.ID]++
	}
	created, shredded := map[intake.Ref]int{}, map[intake.Ref]int{}
	for _, e := range auditAllOf(t, s) {
		switch e.Action {
		case "case created":
			created[e.Ref]++
		case "shredded":
			shredded[e.Ref]++
		default:
			t.Fatalf("unexpected audit entry %+v", e)
		}
	}
	seen := map[intake.Ref]bool{}
	for _, r := range refs {
		if seen[r] {
			t.Fatalf("case %s listed twice", r)
		}
		seen[r] = true
		var i int
		if _, err := fmt.Sscanf(string(r), "KILL-%06d", &i); err != nil {
			t.Fatalf("unexpected case %s", r)
		}
		c, err := s.Case(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if created[r] != 1 || inOutbox[intake.OutboxID(fmt.Sprint("m", i))] != 1 {
			t.Fatalf("case %s half-written: %d creation entries, %d outbox messages", r, created[r], inOutbox[intake.OutboxID(fmt.Sprint("m", i))])
		}
		if next, err := s.NextUpdate(ctx, killKey(i)); err != nil || (next != nil && next.ID == int64(i)) {
			t.Fatalf("case %s exists but its update is still pending: %+v %v", r, next, err)
		}
		switch c.Status {
		case intake.StatusQueued:
			if inQueue[r] != 1 || shredded[r] != 0 {
				t.Fatalf("queued case %s: %d queue entries, %d shred entries", r, inQueue[r], shredded[r])
			}
		case intake.StatusShredded:
			if inQueue[r] != 0 || shredded[r] != 1 || c.Answers != nil {
				t.Fatalf("shredded case %s half-shredded: %d queue entries, %d shred entries", r, inQueue[r], shredded[r])
			}
		default:
			t.Fatalf("case %s has status %s", r, c.Status)
		}
	}
	if len(created) != len(refs) || len(inOutbox) != len(refs) || len(queued)+len(shredded) != len(refs) {
		t.Fatalf("%d cases but %d creation entries, %d outbox messages, %d queued + %d shredded",
			len(refs), len(created), len(inOutbox), len(queued), len(shredded))
	}
	if _, err := intake.VerifyAudit(ctx, s); err != nil {
		t.Fatal(err)
	}
}

func auditAllOf(t *testing.T, s intake.Store) []intake.AuditEntry {
	t.Helper()
	es, err := s.AuditEntries(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) == intake.MaxBatch {
		t.Fatal("more audit entries than one page: lower killMaxAcks")
	}
	return es
}
