package migratetest

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
	"github.com/penahbot/penah/internal/store/redisstore"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
	"github.com/penahbot/penah/internal/store/storetest"
)

var ctx = context.Background()

// batch is how many records one Restore call gets, as `penah store migrate` sends them.
const batch = 500

// redisPrecision is the resolution of lifetimes in Redis (PEXPIREAT): a bbolt expiry arrives
// truncated to it.
const redisPrecision = time.Millisecond

func openBolt(t *testing.T) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "penah.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var prefixes atomic.Int64

// openRedis opens a store under a prefix of its own (the server may be shared through
// PENAH_TEST_REDIS) and deletes its keys when the test ends.
func openRedis(t *testing.T, url string) *redisstore.Store {
	t.Helper()
	prefix := fmt.Sprintf("penahmigrate:%d:%d:", time.Now().UnixNano(), prefixes.Add(1))
	s, err := redisstore.Open(ctx, url, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer s.Close()
		o, err := redis.ParseURL(url)
		if err != nil {
			return
		}
		c := redis.NewClient(o)
		defer c.Close()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return s
}

// migrate copies src into dst as `penah store migrate` does, and checks the counts per kind.
func migrate(t *testing.T, src, dst storetest.DumpStore) []intake.Record {
	t.Helper()
	rs := storetest.DumpRecords(t, src)
	storetest.RestoreRecords(t, dst, rs, batch)
	if got, want := storetest.Counts(storetest.DumpRecords(t, dst)), storetest.Counts(rs); !maps.Equal(got, want) {
		t.Fatalf("target counts %v, source %v", got, want)
	}
	return rs
}

// sameBehaviour checks that dst answers as src does, then that dst's chain goes on.
func sameBehaviour(t *testing.T, src, dst storetest.DumpStore) {
	t.Helper()
	for _, team := range []string{"t", "u"} {
		a, err1 := src.Queue(ctx, team, 0)
		b, err2 := dst.Queue(ctx, team, 0)
		if err1 != nil || err2 != nil || !slices.Equal(refs(a), refs(b)) || len(a) == 0 {
			t.Fatalf("queue %s: target %v (%v), source %v (%v)", team, refs(b), err2, refs(a), err1)
		}
	}
	for _, chat := range []intake.SessionKey{"alice", "bob"} {
		a, _ := src.NextUpdate(ctx, chat)
		b, err := dst.NextUpdate(ctx, chat)
		if err != nil || a == nil || b == nil || a.ID != b.ID || string(a.Body) != string(b.Body) {
			t.Fatalf("NextUpdate(%s): target %+v (%v), source %+v", chat, b, err, a)
		}
	}
	now := time.Date(2031, 3, 4, 6, 0, 0, 0, time.UTC)
	a, _ := src.DueMessages(ctx, now, 0)
	b, err := dst.DueMessages(ctx, now, 0)
	if err != nil || len(a) != 2 || len(b) != len(a) {
		t.Fatalf("DueMessages: target %+v (%v), source %+v", b, err, a)
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Seq != b[i].Seq || !a[i].Due.Equal(b[i].Due) || a[i].Attempts != b[i].Attempts {
			t.Fatalf("due message %d: target %+v, source %+v", i, b[i], a[i])
		}
	}
	// The directory: the same names, bytes and versions, and compare-and-set goes on from them.
	names, err := src.DirRecordNames(ctx, "")
	if err != nil || len(names) != storetest.PopulatedCounts()[intake.RecordDir] {
		t.Fatalf("source directory names: %q, %v", names, err)
	}
	if got, err := dst.DirRecordNames(ctx, ""); err != nil || !slices.Equal(got, names) {
		t.Fatalf("directory names: target %q (%v), source %q", got, err, names)
	}
	for _, name := range names {
		a, va, _ := src.DirRecord(ctx, name)
		b, vb, err := dst.DirRecord(ctx, name)
		if err != nil || vb != va || string(b) != string(a) || vb == 0 {
			t.Fatalf("directory record %s: target %q v%d (%v), source %q v%d", name, b, vb, err, a, va)
		}
		if v, err := dst.PutDirRecord(ctx, name, []byte("edited after the move"), vb); err != nil || v != vb+1 {
			t.Fatalf("compare-and-set of %s on the target: v%d, %v", name, v, err)
		}
	}
	n, err := intake.VerifyAudit(ctx, dst)
	if err != nil || n != storetest.PopulatedCounts()[intake.RecordAudit] {
		t.Fatalf("VerifyAudit on the target: %d, %v", n, err)
	}
	if err := dst.AppendAudit(ctx, intake.AuditEntry{Time: now, Actor: "system", Action: "migrated"}); err != nil {
		t.Fatal(err)
	}
	if m, err := intake.VerifyAudit(ctx, dst); err != nil || m != n+1 {
		t.Fatalf("VerifyAudit after an append on the target: %d, %v", m, err)
	}
}

func TestBoltToRedis(t *testing.T) {
	url, _, _ := redistest.Start(t)
	src, dst := openBolt(t), openRedis(t, url)
	storetest.Populate(t, src)
	rs := migrate(t, src, dst)
	storetest.CompareRecords(t, storetest.DumpRecords(t, dst), rs, redisPrecision)
	// Run again: nothing changes.
	migrate(t, src, dst)
	storetest.CompareRecords(t, storetest.DumpRecords(t, dst), rs, redisPrecision)
	sameBehaviour(t, src, dst)
}

func TestRedisToBolt(t *testing.T) {
	url, _, _ := redistest.Start(t)
	src, dst := openRedis(t, url), openBolt(t)
	storetest.Populate(t, src)
	rs := migrate(t, src, dst)
	// Redis' lifetimes are whole milliseconds, which bbolt keeps exactly.
	storetest.CompareRecords(t, storetest.DumpRecords(t, dst), rs, 0)
	migrate(t, src, dst)
	storetest.CompareRecords(t, storetest.DumpRecords(t, dst), rs, 0)
	sameBehaviour(t, src, dst)
}

// TestBoltToRedisToBolt: a round trip through Redis gives back the original file's records, with
// lifetimes to the millisecond.
func TestBoltToRedisToBolt(t *testing.T) {
	url, _, _ := redistest.Start(t)
	src, mid, dst := openBolt(t), openRedis(t, url), openBolt(t)
	storetest.Populate(t, src)
	rs := migrate(t, src, mid)
	migrate(t, mid, dst)
	storetest.CompareRecords(t, storetest.DumpRecords(t, dst), rs, redisPrecision)
	sameBehaviour(t, src, dst)
}

func refs(cs []*intake.Case) []intake.Ref {
	out := make([]intake.Ref, len(cs))
	for i, c := range cs {
		out[i] = c.Ref
	}
	return out
}
