package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
	"github.com/penahbot/penah/internal/store/redisstore"
)

const benchUsage = `usage:
  penah bench store [--store URL] [--callers 1,16] [--duration 5s] [--workloads turn,session,inbox,case,claim]

Plays storage workloads against an engine and prints ops/s and latency percentiles per workload
and number of concurrent callers. Without --store it uses a fresh bbolt file in a temporary
directory. With a redis:// store it writes under a random key prefix (never touching Penah's own
keys) and, when redis-benchmark is installed, also runs
"redis-benchmark -t set -n 100000 -c 16" against the same server for comparison.
Run it against a test server: it writes (and leaves) benchmark records.
`

// benchWorkload is one storage operation pattern; op runs one iteration for caller c, i.
type benchWorkload struct {
	name string
	// setup prepares what the iterations need (e.g. cases to claim); it returns the op.
	setup func(ctx context.Context, st intake.Store, callers, perCaller int) (func(ctx context.Context, c, i int) error, error)
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "store" {
		fmt.Fprint(stderr, benchUsage)
		return errUsage
	}
	fl := flag.NewFlagSet("penah bench store", flag.ContinueOnError)
	fl.SetOutput(stderr)
	spec := fl.String("store", "", "storage engine (default: a fresh bbolt file)")
	callersFlag := fl.String("callers", "1,16", "numbers of concurrent callers")
	duration := fl.Duration("duration", 5*time.Second, "how long each workload runs per caller count")
	only := fl.String("workloads", "turn,session,inbox,case,claim", "workloads to run")
	if fl.Parse(args[1:]) != nil || fl.NArg() != 0 || *duration <= 0 || *duration > 10*time.Minute {
		fmt.Fprint(stderr, benchUsage)
		return errUsage
	}
	var callers []int
	for _, f := range strings.Split(*callersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 256 {
			return fmt.Errorf("--callers: %q is not a number from 1 to 256", f)
		}
		callers = append(callers, n)
	}
	open, describe, err := benchOpener(ctx, *spec)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "engine: %s\n", describe)
	fmt.Fprintf(stdout, "%-8s %7s %10s %10s %10s %10s\n", "workload", "callers", "ops/s", "p50", "p99", "max")
	for _, w := range benchWorkloads() {
		if !slices.Contains(strings.Split(*only, ","), w.name) {
			continue
		}
		for _, n := range callers {
			st, err := open()
			if err != nil {
				return err
			}
			res, err := benchRun(ctx, st, w, n, *duration)
			st.Close()
			if err != nil {
				return fmt.Errorf("%s with %d callers: %w", w.name, n, err)
			}
			fmt.Fprintf(stdout, "%-8s %7d %10.0f %10s %10s %10s\n", w.name, n, res.opsPerSec, res.p50, res.p99, res.max)
		}
	}
	if strings.HasPrefix(*spec, "redis://") {
		if ops, err := redisBenchmark(ctx, *spec); err == nil {
			fmt.Fprintf(stdout, "redis-benchmark -t set -n 100000 -c 16: %.0f requests/s\n", ops)
		} else {
			fmt.Fprintf(stdout, "redis-benchmark: %v\n", err)
		}
	}
	return nil
}

// benchOpener returns a function opening a fresh, empty store for each run.
func benchOpener(ctx context.Context, spec string) (func() (intake.Store, error), string, error) {
	switch {
	case spec == "":
		dir, err := os.MkdirTemp("", "penah-bench-")
		if err != nil {
			return nil, "", err
		}
		n := 0
		return func() (intake.Store, error) {
			n++
			return boltstore.Open(filepath.Join(dir, fmt.Sprintf("bench-%d.db", n)))
		}, "bolt (fresh file per run in " + dir + ", fsync on every commit)", nil
	case strings.HasPrefix(spec, "redis://"):
		return func() (intake.Store, error) {
			var b [6]byte
			rand.Read(b[:])
			return redisstore.Open(ctx, spec, redisstore.WithPrefix("penah-bench-"+hex.EncodeToString(b[:])+":"))
		}, "redis (a random key prefix per run)", nil
	}
	return nil, "", fmt.Errorf("--store: use a redis:// address, or nothing for a fresh bbolt file")
}

type benchResult struct {
	opsPerSec     float64
	p50, p99, max time.Duration
}

// benchRun runs w with n callers for d and measures every operation.
func benchRun(ctx context.Context, st intake.Store, w benchWorkload, n int, d time.Duration) (benchResult, error) {
	// Enough prepared work for a fast engine; callers stop at the deadline anyway.
	const perCaller = 20000
	op, err := w.setup(ctx, st, n, perCaller)
	if err != nil {
		return benchResult{}, err
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		lat      []time.Duration
		firstErr error
	)
	start := time.Now()
	deadline := start.Add(d)
	for c := 0; c < n; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			mine := make([]time.Duration, 0, 4096)
			for i := 0; i < perCaller && time.Now().Before(deadline); i++ {
				t0 := time.Now()
				if err := op(ctx, c, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return benchResult{}, firstErr
	}
	if len(lat) == 0 {
		return benchResult{}, fmt.Errorf("no operation completed")
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(time.Microsecond)
	}
	return benchResult{opsPerSec: float64(len(lat)) / elapsed.Seconds(), p50: pct(0.50), p99: pct(0.99), max: lat[len(lat)-1].Round(time.Microsecond)}, nil
}

func benchChat(c int) intake.SessionKey { return intake.SessionKey(fmt.Sprintf("bench-chat-%04d", c)) }

// benchBody stands for a sealed record of typical size.
var benchBody = make([]byte, 600)

func benchWorkloads() []benchWorkload {
	return []benchWorkload{
		{name: "turn", setup: func(ctx context.Context, st intake.Store, callers, _ int) (func(context.Context, int, int) error, error) {
			// A complete turn: store the update, take it, load the session, commit the session with
			// the update done and one outbox reply.
			var mu sync.Mutex
			versions := make([]intake.Version, callers)
			return func(ctx context.Context, c, i int) error {
				chat := benchChat(c)
				id := int64(c)*1_000_000 + int64(i) + 1
				if _, err := st.PutUpdate(ctx, intake.Update{ID: id, Chat: chat, Body: benchBody, Received: time.Now()}); err != nil {
					return err
				}
				if _, err := st.NextUpdate(ctx, chat); err != nil {
					return err
				}
				if _, _, err := st.LoadSession(ctx, chat); err != nil {
					return err
				}
				oid, err := intake.NewOutboxID()
				if err != nil {
					return err
				}
				mu.Lock()
				expect := versions[c]
				mu.Unlock()
				v, err := st.Commit(ctx, intake.Commit{Key: chat, Expect: expect, Session: benchBody, Done: id, Now: time.Now(),
					Outbox: []intake.OutboxMessage{{ID: oid, Chat: chat, Body: benchBody, Due: time.Now()}}})
				if err != nil {
					return err
				}
				mu.Lock()
				versions[c] = v
				mu.Unlock()
				// Keep the outbox from growing without bound: the sender would remove it.
				return st.MarkSent(ctx, oid)
			}, nil
		}},
		{name: "session", setup: func(ctx context.Context, st intake.Store, callers, _ int) (func(context.Context, int, int) error, error) {
			versions := make([]intake.Version, callers)
			return func(ctx context.Context, c, i int) error {
				_, v, err := st.LoadSession(ctx, benchChat(c))
				if err != nil {
					return err
				}
				versions[c], err = st.Commit(ctx, intake.Commit{Key: benchChat(c), Expect: v, Session: benchBody, Now: time.Now()})
				return err
			}, nil
		}},
		{name: "inbox", setup: func(ctx context.Context, st intake.Store, _, _ int) (func(context.Context, int, int) error, error) {
			return func(ctx context.Context, c, i int) error {
				id := int64(c)*1_000_000 + int64(i) + 1
				if _, err := st.PutUpdate(ctx, intake.Update{ID: id, Chat: benchChat(c), Body: benchBody, Received: time.Now()}); err != nil {
					return err
				}
				if _, err := st.NextUpdate(ctx, benchChat(c)); err != nil {
					return err
				}
				return st.DoneUpdate(ctx, benchChat(c), id)
			}, nil
		}},
		{name: "case", setup: func(ctx context.Context, st intake.Store, _, _ int) (func(context.Context, int, int) error, error) {
			return func(ctx context.Context, c, i int) error {
				_, err := st.Commit(ctx, benchCaseCommit(c, i))
				return err
			}, nil
		}},
		{name: "claim", setup: func(ctx context.Context, st intake.Store, callers, _ int) (func(context.Context, int, int) error, error) {
			// Claims need cases: each operation creates one and claims it; the claim is timed
			// together with the creation, so compare with "case".
			return func(ctx context.Context, c, i int) error {
				cm := benchCaseCommit(c, i)
				if _, err := st.Commit(ctx, cm); err != nil {
					return err
				}
				_, err := st.Claim(ctx, cm.NewCase.Ref, fmt.Sprintf("officer-%d", c), time.Now())
				return err
			}, nil
		}},
	}
}

// benchCaseCommit creates one case with its queue entry and audit entry.
func benchCaseCommit(c, i int) intake.Commit {
	ref, _ := intake.NewRef()
	now := time.Now()
	return intake.Commit{
		Key: intake.SessionKey(fmt.Sprintf("bench-case-%d-%d", c, i)), Now: now,
		NewCase: &intake.Case{Ref: ref, Status: intake.StatusQueued, Created: now, Team: "bench", Priority: 1 + i%3,
			Deadline: now.Add(time.Hour), Answers: benchBody},
		Audit: []intake.AuditEntry{{Time: now, Actor: "bench", Action: "case created", Ref: ref, To: intake.StatusQueued}},
	}
}

var rpsRe = regexp.MustCompile(`([0-9.]+) requests per second`)

// redisBenchmark runs redis-benchmark against the server of a redis:// URL.
func redisBenchmark(ctx context.Context, spec string) (float64, error) {
	bin, err := exec.LookPath("redis-benchmark")
	if err != nil {
		return 0, fmt.Errorf("not installed")
	}
	hostport := strings.TrimPrefix(spec, "redis://")
	if i := strings.IndexAny(hostport, "/?"); i >= 0 {
		hostport = hostport[:i]
	}
	if i := strings.LastIndex(hostport, "@"); i >= 0 {
		return 0, fmt.Errorf("skipped: the URL has credentials, which are not passed on")
	}
	host, port := hostport, "6379"
	if i := strings.LastIndex(hostport, ":"); i >= 0 {
		host, port = hostport[:i], hostport[i+1:]
	}
	out, err := exec.CommandContext(ctx, bin, "-h", host, "-p", port, "-t", "set", "-n", "100000", "-c", "16", "-q").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v", err)
	}
	m := rpsRe.FindStringSubmatch(string(out))
	if m == nil {
		return 0, fmt.Errorf("unexpected output")
	}
	return strconv.ParseFloat(m[1], 64)
}
