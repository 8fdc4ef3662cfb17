package boltstore_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/penahbot/penah/internal/store/boltstore"
	"github.com/penahbot/penah/internal/store/storetest"
)

// TestRestoreRebuildsEveryIndex: a restored file holds, bucket by bucket, exactly what the source
// holds — records, indexes (queues, deadlines, links both ways, pending chats, outbox heads and
// ids, the expiry index) and the outbox's sequence counter — and restoring again changes none of
// it.
func TestRestoreRebuildsEveryIndex(t *testing.T) {
	src, _ := open(t)
	storetest.Populate(t, src)
	rs := storetest.DumpRecords(t, src)
	dst, _ := open(t)
	storetest.RestoreRecords(t, dst, rs, storetest.RestoreBatch)
	want := buckets(t, src)
	compareBuckets(t, buckets(t, dst), want)
	storetest.RestoreRecords(t, dst, rs, len(rs))
	compareBuckets(t, buckets(t, dst), want)
	if len(want["expiry"].Records) != 5 || len(want["case_links"].Records) != 5 || len(want["outbox_heads"].Records) != 2 {
		t.Fatalf("the populated file is not what this test expects: %d expiry, %d links, %d heads",
			len(want["expiry"].Records), len(want["case_links"].Records), len(want["outbox_heads"].Records))
	}
}

func buckets(t *testing.T, s *boltstore.Store) map[string]boltstore.BucketState {
	t.Helper()
	b, err := boltstore.Buckets(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compareBuckets(t *testing.T, got, want map[string]boltstore.BucketState) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(want)) {
		g, w := got[name], want[name]
		if g.Sequence != w.Sequence {
			t.Errorf("bucket %s: sequence %d, want %d", name, g.Sequence, w.Sequence)
		}
		for _, k := range slices.Sorted(maps.Keys(w.Records)) {
			if v, ok := g.Records[k]; !ok || v != w.Records[k] {
				t.Errorf("bucket %s, key %q: %s, want %q", name, k, show(v, ok), w.Records[k])
			}
		}
		for _, k := range slices.Sorted(maps.Keys(g.Records)) {
			if _, ok := w.Records[k]; !ok {
				t.Errorf("bucket %s: unexpected key %q", name, k)
			}
		}
	}
}

func show(v string, ok bool) string {
	if !ok {
		return "missing"
	}
	return fmt.Sprintf("%q", v)
}
