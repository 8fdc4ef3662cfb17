package redisstore_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/redisstore"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
	"github.com/penahbot/penah/internal/store/storetest"
)

// TestRestoreRebuildsEveryIndex: under its own prefix, a restored store holds exactly the keys
// the source holds, with the same contents and the same absolute expiry — records, indexes
// (queues, case indexes by team and status, deadlines, links, the inbox's chats, outbox heads,
// due set and counter, the audit head, the directory's names) and lifetimes — and restoring again changes none of it.
func TestRestoreRebuildsEveryIndex(t *testing.T) {
	url, _, _ := redistest.Start(t)
	src, sp := openFresh(t, url)
	storetest.Populate(t, src)
	rs := storetest.DumpRecords(t, src)
	dst, dp := openFresh(t, url)
	storetest.RestoreRecords(t, dst, rs, storetest.RestoreBatch)
	want := keyspace(t, url, sp)
	compareKeyspace(t, keyspace(t, url, dp), want)
	storetest.RestoreRecords(t, dst, rs, len(rs))
	compareKeyspace(t, keyspace(t, url, dp), want)
	for _, k := range []string{"{l}:obseq", "{l}:inchats", "{l}:links:alice", "{l}:overdue", "{l}:audit:head", "{l}:seen:100", "{l}:dirs", "{l}:dir:team:t"} {
		if _, ok := want[k]; !ok {
			t.Fatalf("the populated store lacks %s: the test does not check what it claims", k)
		}
	}
}

// TestDumpReadsOnlyItsPrefix: a dump reads only its own store's keys, though another
// store shares the server.
func TestDumpReadsOnlyItsPrefix(t *testing.T) {
	url, _, _ := redistest.Start(t)
	a, _ := openFresh(t, url)
	storetest.Populate(t, a)
	b, _ := openFresh(t, url)
	if err := b.PutKeyRecord(ctx, "only", []byte("b's")); err != nil {
		t.Fatal(err)
	}
	rs := storetest.DumpRecords(t, b)
	if len(rs) != 1 || rs[0].Kind != intake.RecordKey || rs[0].Name != "only" {
		t.Fatalf("dump of a store with one key record = %+v", rs)
	}
}

// TestDumpPrefixWithGlobCharacters: SCAN's pattern quotes the prefix, so a store whose prefix
// holds *, ?, [ and ] finds its sessions and dedupe markers, and not those of a store whose keys
// the unquoted pattern would match too.
func TestDumpPrefixWithGlobCharacters(t *testing.T) {
	url := redistest.StartServer(t).URL() // its own server: the test leaves its keys there
	open := func(prefix string) *redisstore.Store {
		s, err := redisstore.Open(ctx, url, redisstore.WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	odd, plain := open(`p[x]*?\:`), open(`px*?\:`)
	storetest.Populate(t, odd)
	storetest.Populate(t, plain)
	if got := storetest.Counts(storetest.DumpRecords(t, odd)); !maps.Equal(got, storetest.PopulatedCounts()) {
		t.Fatalf("dump counts = %v, want %v", got, storetest.PopulatedCounts())
	}
}

var _ intake.Dumper = (*redisstore.Store)(nil)

// keyspace reads every key of a prefix: its name after the prefix, its type, contents and
// absolute expiry.
func keyspace(t *testing.T, url, prefix string) map[string]string {
	t.Helper()
	c := rawClient(t, url)
	out := map[string]string{}
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		typ, err := c.Type(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		switch typ {
		case "string":
			parts = []string{c.Get(ctx, key).Val()}
		case "hash":
			for f, v := range c.HGetAll(ctx, key).Val() {
				parts = append(parts, f+"="+canonJSON(v))
			}
			slices.Sort(parts)
		case "set":
			parts = c.SMembers(ctx, key).Val()
			slices.Sort(parts)
		case "zset":
			for _, z := range c.ZRangeWithScores(ctx, key, 0, -1).Val() {
				parts = append(parts, fmt.Sprintf("%v@%v", z.Member, z.Score))
			}
		default:
			t.Fatalf("key %s has type %s", key, typ)
		}
		exp, err := c.Do(ctx, "PEXPIRETIME", key).Int64()
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(key, prefix)] = fmt.Sprintf("%s expires %d: %q", typ, exp, parts)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// canonJSON rewrites a JSON object with its keys sorted (Lua's cjson and Go order them
// differently); other values are kept.
func canonJSON(v string) string {
	var m map[string]any
	if json.Unmarshal([]byte(v), &m) != nil {
		return v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return v
	}
	return string(b)
}

func compareKeyspace(t *testing.T, got, want map[string]string) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok || g != want[k] {
			t.Errorf("key %s:\n got %s\nwant %s", k, g, want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %s: %s", k, got[k])
		}
	}
}
