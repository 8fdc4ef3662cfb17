package redisstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/redisstore"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
	"github.com/penahbot/penah/internal/store/storetest"
)

var ctx = context.Background()

// quietLogger drops go-redis' own log lines (failed dials while a test's server is down).
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{})
	if arg := os.Getenv(envKillWriter); arg != "" {
		killWriterMain(arg)
	}
	os.Exit(m.Run())
}

// testPrefixes numbers the prefixes that give each test an empty store on a shared server.
var testPrefixes atomic.Int64

// openFresh opens a store under a prefix no other test uses, so tests can share one server
// (PENAH_TEST_REDIS included) without flushing it; its keys are deleted when the test ends.
func openFresh(t testing.TB, url string, opts ...redisstore.Option) (*redisstore.Store, string) {
	t.Helper()
	prefix := fmt.Sprintf("penahtest:%d:%d:", time.Now().UnixNano(), testPrefixes.Add(1))
	s, err := redisstore.Open(ctx, url, append([]redisstore.Option{redisstore.WithPrefix(prefix)}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		deletePrefix(t, url, prefix)
		s.Close()
	})
	return s, prefix
}

// rawClient is a plain client of the test server, for changes behind the store's back. A
// redis-cluster:// URL names the one-node cluster of redistest.StartCluster, which holds every
// slot, so a plain client of that node reaches every key.
func rawClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	if m, ok := rawURLs.Load(url); ok {
		url = m.(string)
	}
	if addr, ok := strings.CutPrefix(url, "redis-cluster://"); ok {
		url = "redis://" + addr
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

func deletePrefix(t testing.TB, url, prefix string) {
	c := rawClient(t, url)
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
}

// TestConformance runs the storage contract's suite against a real redis-server.
func TestConformance(t *testing.T) {
	url, _, _ := redistest.Start(t)
	runConformance(t, url)
}

// TestConformanceCluster runs the suite against a real Redis Cluster (one node holding every
// slot): a script or pipeline whose keys spanned slots would fail there with CROSSSLOT.
func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the single-node run covers the behaviour")
	}
	runConformance(t, redistest.StartCluster(t).ClusterURL())
}

// TestConformanceSentinel runs the suite through a Redis Sentinel that names the master.
func TestConformanceSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the single-node run covers the behaviour")
	}
	master := redistest.StartServer(t)
	sentinel := redistest.StartSentinel(t, master)
	rawURLs.Store(sentinel.SentinelURL(), master.URL())
	runConformance(t, sentinel.SentinelURL())
}

// rawURLs maps a sentinel's URL to its master's, for rawClient.
var rawURLs sync.Map

func runConformance(t *testing.T, url string) {
	prefixes := map[intake.Store]string{}
	storetest.Run(t, func(t *testing.T) intake.Store {
		s, prefix := openFresh(t, url)
		prefixes[s] = prefix
		return s
	}, storetest.Options{
		Tamper: func(t *testing.T, s intake.Store, seq uint64) {
			// Change the stored entry in place, as someone with access to the server would.
			c := rawClient(t, url)
			key := prefixes[s] + "{l}:audit"
			field := strconv.FormatUint(seq, 10)
			raw, err := c.HGet(ctx, key, field).Result()
			if err != nil {
				t.Fatalf("tamper: %v", err)
			}
			var e map[string]any
			if err := json.Unmarshal([]byte(raw), &e); err != nil {
				t.Fatal(err)
			}
			e["actor"] = "someone else"
			changed, _ := json.Marshal(e)
			if err := c.HSet(ctx, key, field, changed).Err(); err != nil {
				t.Fatal(err)
			}
		},
		Advance: func(t *testing.T, s intake.Store, d time.Duration) {
			advance(t, url, prefixes[s], d)
		},
		RequireDumper: true,
	})
}

// advance moves the store's clock forward by d as far as Redis lets a test: every key of the
// prefix that expires has its remaining lifetime cut by d (and is deleted when none is left),
// which is what d of the server's time would do to it.
func advance(t *testing.T, url, prefix string, d time.Duration) {
	t.Helper()
	c := rawClient(t, url)
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		ttl, err := c.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("advance: %v", err)
		}
		if ttl < 0 {
			continue // no expiry (or gone)
		}
		if ttl <= d {
			c.Del(ctx, key)
		} else {
			c.PExpire(ctx, key, ttl-d)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("advance: %v", err)
	}
}
