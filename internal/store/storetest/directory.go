package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/penahbot/penah/internal/intake"
)

// The officer side's configuration (intake.Directory): sealed records by name with a
// compare-and-set version.

func dirGet(t *testing.T, s intake.Store, name string) ([]byte, intake.Version) {
	t.Helper()
	b, v, err := s.DirRecord(ctx, name)
	if err != nil {
		t.Fatalf("DirRecord(%q): %v", name, err)
	}
	return b, v
}

func dirPut(t *testing.T, s intake.Store, name, data string, expect intake.Version) intake.Version {
	t.Helper()
	v, err := s.PutDirRecord(ctx, name, []byte(data), expect)
	if err != nil {
		t.Fatalf("PutDirRecord(%q, expect %d): %v", name, expect, err)
	}
	if v != expect+1 {
		t.Fatalf("PutDirRecord(%q, expect %d) = version %d, want %d", name, expect, v, expect+1)
	}
	return v
}

func wantDir(t *testing.T, s intake.Store, name, data string, version intake.Version) {
	t.Helper()
	b, v := dirGet(t, s, name)
	if version == 0 {
		if b != nil || v != 0 {
			t.Fatalf("DirRecord(%q) = %q v%d, want nil v0 (absent)", name, b, v)
		}
		return
	}
	if string(b) != data || v != version {
		t.Fatalf("DirRecord(%q) = %q v%d, want %q v%d", name, b, v, data, version)
	}
}

func dirNames(t *testing.T, s intake.Store, prefix string) []string {
	t.Helper()
	names, err := s.DirRecordNames(ctx, prefix)
	if err != nil {
		t.Fatalf("DirRecordNames(%q): %v", prefix, err)
	}
	return names
}

// testDirCAS: create with expect 0, update with the version read, and every other expectation
// is ErrConflict with nothing written.
func testDirCAS(t *testing.T, s intake.Store, _ Options) {
	wantDir(t, s, "team:duhok", "", 0)
	if _, err := s.PutDirRecord(ctx, "team:duhok", []byte("sealed v1"), 1); !isConflict(err) {
		t.Fatalf("PutDirRecord of an absent record expecting version 1: %v, want ErrConflict", err)
	}
	wantDir(t, s, "team:duhok", "", 0)
	dirPut(t, s, "team:duhok", "sealed v1", 0)
	wantDir(t, s, "team:duhok", "sealed v1", 1)
	if _, err := s.PutDirRecord(ctx, "team:duhok", []byte("a second create"), 0); !isConflict(err) {
		t.Fatalf("PutDirRecord creating an existing record: %v, want ErrConflict", err)
	}
	dirPut(t, s, "team:duhok", "sealed v2", 1)
	for _, stale := range []intake.Version{0, 1, 3, 99} {
		if _, err := s.PutDirRecord(ctx, "team:duhok", []byte("stale"), stale); !isConflict(err) {
			t.Fatalf("PutDirRecord expecting version %d of a record at 2: %v, want ErrConflict", stale, err)
		}
	}
	wantDir(t, s, "team:duhok", "sealed v2", 2)
	// Records are independent: another name starts at version 1.
	dirPut(t, s, "team:erbil", "sealed erbil", 0)
	wantDir(t, s, "team:duhok", "sealed v2", 2)
	wantDir(t, s, "team:erbil", "sealed erbil", 1)
}

// testDirConcurrentCAS: of 20 writers expecting the same version, exactly one wins.
func testDirConcurrentCAS(t *testing.T, s intake.Store, _ Options) {
	const n = 20
	v := dirPut(t, s, "officer:o-1", "start", 0)
	var won atomic.Int32
	errs := make([]error, n)
	race(n, func(i int) {
		_, err := s.PutDirRecord(ctx, "officer:o-1", fmt.Appendf(nil, "writer %d", i), v)
		if err == nil {
			won.Add(1)
		} else if !isConflict(err) {
			errs[i] = err
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if won.Load() != 1 {
		t.Fatalf("%d writers won a compare-and-set on one version, want 1", won.Load())
	}
	b, v2 := dirGet(t, s, "officer:o-1")
	if v2 != v+1 || !strings.HasPrefix(string(b), "writer ") {
		t.Fatalf("after the race: %q v%d", b, v2)
	}
}

// testDirDelete: delete with the stored version, ErrConflict with any other; an absent record
// with expect 0 is a no-op; a deleted name starts again at version 1.
func testDirDelete(t *testing.T, s intake.Store, _ Options) {
	if err := s.DeleteDirRecord(ctx, "invite:none", 0); err != nil {
		t.Fatalf("DeleteDirRecord of an absent record with expect 0: %v", err)
	}
	if err := s.DeleteDirRecord(ctx, "invite:none", 1); !isConflict(err) {
		t.Fatalf("DeleteDirRecord of an absent record with expect 1: %v, want ErrConflict", err)
	}
	dirPut(t, s, "team:a", "a1", 0)
	dirPut(t, s, "team:a", "a2", 1)
	for _, wrong := range []intake.Version{0, 1, 3} {
		if err := s.DeleteDirRecord(ctx, "team:a", wrong); !isConflict(err) {
			t.Fatalf("DeleteDirRecord expecting %d of a record at 2: %v, want ErrConflict", wrong, err)
		}
	}
	wantDir(t, s, "team:a", "a2", 2)
	if err := s.DeleteDirRecord(ctx, "team:a", 2); err != nil {
		t.Fatalf("DeleteDirRecord with the stored version: %v", err)
	}
	wantDir(t, s, "team:a", "", 0)
	if names := dirNames(t, s, ""); len(names) != 0 {
		t.Fatalf("names after the delete = %q, want none", names)
	}
	dirPut(t, s, "team:a", "again", 0)
	wantDir(t, s, "team:a", "again", 1)
}

// testDirTakeOnce: of 20 takers at once, exactly one gets the record; it is gone afterwards, and
// its name may be used again.
func testDirTakeOnce(t *testing.T, s intake.Store, _ Options) {
	if b, err := s.TakeDirRecord(ctx, "invite:none"); err != nil || b != nil {
		t.Fatalf("TakeDirRecord of an absent record = %q, %v; want nil, nil", b, err)
	}
	const takers, rounds = 20, 5
	for round := range rounds {
		name := fmt.Sprintf("invite:%02d", round)
		want := fmt.Sprintf("sealed invite %d", round)
		dirPut(t, s, name, want, 0)
		got := make([][]byte, takers)
		errs := make([]error, takers)
		race(takers, func(i int) { got[i], errs[i] = s.TakeDirRecord(ctx, name) })
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		winners := 0
		for _, b := range got {
			if b != nil {
				winners++
				if string(b) != want {
					t.Fatalf("round %d: a taker got %q, want %q", round, b, want)
				}
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d of %d takers got the record, want exactly 1", round, winners, takers)
		}
		wantDir(t, s, name, "", 0)
		if names := dirNames(t, s, "invite:"); len(names) != 0 {
			t.Fatalf("round %d: names after the take = %q", round, names)
		}
	}
	dirPut(t, s, "invite:00", "new", 0)
	wantDir(t, s, "invite:00", "new", 1)
}

// testDirNames: names by prefix, sorted by their bytes; a prefix matches whole bytes only.
func testDirNames(t *testing.T, s intake.Store, _ Options) {
	if names := dirNames(t, s, ""); len(names) != 0 {
		t.Fatalf("names of an empty directory = %q", names)
	}
	all := []string{"team:b", "officer:o-2", "team:a", "teamx", "tg:ff01", "team:a-b", "officer:o-1", "team:~", "team:", "invite:zz", "team;"}
	for _, n := range all {
		dirPut(t, s, n, "sealed "+n, 0)
	}
	sorted := slices.Sorted(slices.Values(all))
	for prefix, want := range map[string][]string{
		"":          sorted,
		"team:":     {"team:", "team:a", "team:a-b", "team:b", "team:~"},
		"team":      {"team:", "team:a", "team:a-b", "team:b", "team:~", "team;", "teamx"},
		"team:a":    {"team:a", "team:a-b"},
		"officer:":  {"officer:o-1", "officer:o-2"},
		"tg:ff01":   {"tg:ff01"},
		"tg:ff012":  nil,
		"nothing:":  nil,
		"~":         nil,
		"invite:zz": {"invite:zz"},
	} {
		if got := dirNames(t, s, prefix); !slices.Equal(got, want) {
			t.Fatalf("DirRecordNames(%q) = %q, want %q", prefix, got, want)
		}
	}
}

// testDirLimits: a name of exactly intake.MaxDirNameBytes and a record of exactly
// intake.MaxDirRecordBytes are kept; one byte more, an empty record, or a name that is empty or
// not printable ASCII are refused (not as a conflict) and write nothing.
func testDirLimits(t *testing.T, s intake.Store, _ Options) {
	longName := "officer:" + strings.Repeat("n", intake.MaxDirNameBytes-len("officer:"))
	big := bytes.Repeat([]byte{0xa5}, intake.MaxDirRecordBytes)
	v, err := s.PutDirRecord(ctx, longName, big, 0)
	if err != nil || v != 1 {
		t.Fatalf("PutDirRecord at both limits: v%d, %v", v, err)
	}
	if b, v := dirGet(t, s, longName); v != 1 || !bytes.Equal(b, big) {
		t.Fatalf("record at the limits read back as %d bytes v%d", len(b), v)
	}
	if got := dirNames(t, s, "officer:"); !slices.Equal(got, []string{longName}) {
		t.Fatalf("names = %q", got)
	}
	refused := func(what string, err error) {
		t.Helper()
		if err == nil || isConflict(err) || errors.Is(err, intake.ErrUnavailable) {
			t.Fatalf("%s: %v, want a refusal that is neither a conflict nor temporary", what, err)
		}
	}
	_, err = s.PutDirRecord(ctx, longName+"x", []byte("x"), 0)
	refused("a name one byte past MaxDirNameBytes", err)
	_, err = s.PutDirRecord(ctx, "team:big", append(big, 0), 0)
	refused("a record one byte past MaxDirRecordBytes", err)
	_, err = s.PutDirRecord(ctx, "team:big", append(big, 0), 1)
	refused("a record one byte past MaxDirRecordBytes, any version", err)
	_, err = s.PutDirRecord(ctx, longName, append(big, 0), 1)
	refused("an update one byte past MaxDirRecordBytes", err)
	_, err = s.PutDirRecord(ctx, "team:empty", nil, 0)
	refused("an empty record", err)
	for _, bad := range []string{"", "team: a", "team:\x00", "team:\n", "team:é", "team:\x7f"} {
		_, err = s.PutDirRecord(ctx, bad, []byte("x"), 0)
		refused(fmt.Sprintf("name %q", bad), err)
	}
	_, _, err = s.DirRecord(ctx, longName+"x")
	refused("DirRecord of a name past the limit", err)
	_, err = s.TakeDirRecord(ctx, "")
	refused("TakeDirRecord of an empty name", err)
	refused("DeleteDirRecord of an empty name", s.DeleteDirRecord(ctx, "", 0))
	_, err = s.DirRecordNames(ctx, "team:\n")
	refused("DirRecordNames of a prefix with a control byte", err)
	// Nothing of the refused writes is there; the record at the limits is unchanged.
	if got := dirNames(t, s, ""); !slices.Equal(got, []string{longName}) {
		t.Fatalf("names after refused writes = %q", got)
	}
	if b, v := dirGet(t, s, longName); v != 1 || !bytes.Equal(b, big) {
		t.Fatalf("record at the limits after refused writes: %d bytes v%d", len(b), v)
	}
	if b, err := s.TakeDirRecord(ctx, longName); err != nil || !bytes.Equal(b, big) {
		t.Fatalf("TakeDirRecord at the limits: %d bytes, %v", len(b), err)
	}
}

// testDirCopies: the store keeps no reference to the caller's slice and returns copies.
func testDirCopies(t *testing.T, s intake.Store, _ Options) {
	in := []byte("sealed officer")
	dirPut(t, s, "officer:o-1", string(in), 0)
	if _, err := s.PutDirRecord(ctx, "invite:1", in, 0); err != nil {
		t.Fatal(err)
	}
	copy(in, "XXXXXX")
	b, _ := dirGet(t, s, "officer:o-1")
	copy(b, "YYYYYY")
	wantDir(t, s, "officer:o-1", "sealed officer", 1)
	names := dirNames(t, s, "")
	names[0] = "changed"
	if got := dirNames(t, s, ""); !slices.Equal(got, []string{"invite:1", "officer:o-1"}) {
		t.Fatalf("names = %q after changing a returned slice", got)
	}
	taken, err := s.TakeDirRecord(ctx, "invite:1")
	if err != nil || string(taken) != "sealed officer" {
		t.Fatalf("TakeDirRecord = %q, %v: the store kept the caller's slice", taken, err)
	}
}
