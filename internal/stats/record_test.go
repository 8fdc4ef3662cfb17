package stats

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
	"github.com/penahbot/penah/locales"
)

// TestStatsRecordHoldsNoCaseBody pins the shape of Record: the fields statistics may see and
// nothing that could hold words, keys or identities. Adding a field means changing this test, and the
// question "is it safe to count?" with it.
func TestStatsRecordHoldsNoCaseBody(t *testing.T) {
	want := map[string]reflect.Type{
		"Status":      reflect.TypeFor[intake.Status](),
		"Created":     reflect.TypeFor[time.Time](),
		"Claimed":     reflect.TypeFor[time.Time](),
		"Priority":    reflect.TypeFor[int](),
		"Lang":        reflect.TypeFor[locales.Lang](),
		"Topic":       reflect.TypeFor[string](),
		"Governorate": reflect.TypeFor[string](),
		"AgeBand":     reflect.TypeFor[string](),
		"Services":    reflect.TypeFor[[]string](),
	}
	rt := reflect.TypeFor[Record]()
	if rt.NumField() != len(want) {
		t.Errorf("Record has %d fields, want %d", rt.NumField(), len(want))
	}
	for f := range rt.Fields() {
		if w, ok := want[f.Name]; !ok || f.Type != w {
			t.Errorf("Record.%s %v is not one of the fields statistics may see", f.Name, f.Type)
		}
	}
	// None of the case fields that carry a body, a key or a person is there.
	for _, name := range []string{"Ref", "Code", "Team", "Envelope", "Answers", "ClaimedBy", "Skipped", "Routing"} {
		if _, ok := rt.FieldByName(name); ok {
			t.Errorf("Record has case field %s", name)
		}
	}
}

const canary = "CANARY-7f3a"

// canaryCase is a case with a canary in every field statistics must not read, and in routing
// values that are not ids.
func canaryCase(ref intake.Ref, created time.Time) *intake.Case {
	return &intake.Case{
		Ref: ref, Code: canary + "-code", Flow: "intake", Revision: 1, Lang: locales.KMR,
		Status: intake.StatusQueued, Created: created, Team: "team-" + canary, Priority: 2,
		Routing: map[flows.FieldID][]string{
			FieldTopic:       {"forced_work"},
			FieldGovernorate: {"duhok"},
			FieldAgeBand:     {"adult " + canary}, // not an id: counted as (other)
			FieldServices:    {"legal", "legal", canary},
			"safe_place":     {canary + "-routing"}, // not a field statistics read
		},
		Skipped:  []flows.FieldID{canary + "-skipped"},
		Envelope: &seal.Envelope{Wraps: []seal.Wrapped{{Box: []byte(canary + "-box")}}, MAC: []byte(canary)},
		Answers:  []byte(`[{"field":"safe_times","text":"` + canary + ` after six"}]`),
	}
}

func TestStatsFromCaseCopiesNoBody(t *testing.T) {
	c := canaryCase("AAAA-BBBB-CCCC-DDDD", t0)
	c.ClaimedBy, c.Claimed, c.Status = "officer-"+canary, t0.Add(time.Hour), intake.StatusClaimed
	r := FromCase(c)
	if s := fmt.Sprintf("%#v", r); strings.Contains(s, canary) || strings.Contains(s, "AAAA") {
		t.Fatalf("record carries case data: %s", s)
	}
	want := Record{Status: intake.StatusClaimed, Created: t0, Claimed: t0.Add(time.Hour), Priority: 2, Lang: locales.KMR,
		Topic: "forced_work", Governorate: "duhok", AgeBand: Other, Services: []string{"legal", Other}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("FromCase = %+v, want %+v", r, want)
	}
}

// openStore opens a bbolt store in a temporary directory.
func openStore(t *testing.T) *boltstore.Store {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "penah.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func putCase(t *testing.T, st intake.Store, c *intake.Case) {
	t.Helper()
	key := intake.SessionKey("k-" + string(c.Ref))
	if _, err := st.Commit(context.Background(), intake.Commit{Key: key, NewCase: c, Now: c.Created}); err != nil {
		t.Fatalf("create case: %v", err)
	}
}

func testRef(i int) intake.Ref { return intake.Ref(fmt.Sprintf("R%03d-0000-0000-0000", i)) }

// spy counts what Read asks of the store.
type spy struct {
	Source
	lists, cases, caseReads int
	maxLimit                int
}

func (s *spy) ListCases(ctx context.Context, f intake.CaseFilter) ([]*intake.Case, error) {
	s.lists++
	s.maxLimit = max(s.maxLimit, f.Limit)
	return s.Source.ListCases(ctx, f)
}

func (s *spy) Cases(ctx context.Context) ([]intake.Ref, error) {
	s.cases++
	return s.Source.Cases(ctx)
}

func (s *spy) Case(ctx context.Context, ref intake.Ref) (*intake.Case, error) {
	s.caseReads++
	return s.Source.Case(ctx, ref)
}

func TestStatsReadPagesThroughEveryCase(t *testing.T) {
	st := openStore(t)
	// 23 cases: one an hour, except that cases 5..11 were created in the same nanosecond.
	var want []time.Time
	for i := range 23 {
		created := t0.Add(time.Duration(i) * time.Hour)
		if i >= 5 && i <= 11 {
			created = t0.Add(5 * time.Hour)
		}
		putCase(t, st, canaryCase(testRef(i), created))
		want = append(want, created)
	}
	for _, pageSize := range []int{1, 2, 3, 7, 8, 1000} {
		sp := &spy{Source: st}
		var got []time.Time
		if err := Read(context.Background(), sp, Period{}, pageSize, func(r Record) { got = append(got, r.Created) }); err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Fatalf("page size %d: read %d cases %v, want %d", pageSize, len(got), got, len(want))
		}
		if sp.maxLimit != pageSize {
			t.Errorf("page size %d: asked for pages of %d", pageSize, sp.maxLimit)
		}
		// Pages start a nanosecond before the last case read, so seven cases in one instant
		// need pages of 8 or more; smaller pages need the walk.
		if walked := sp.cases > 0; walked != (pageSize <= 7) {
			t.Errorf("page size %d: walked the references: %v", pageSize, walked)
		}
	}
}

func TestStatsReadPeriod(t *testing.T) {
	st := openStore(t)
	for i := range 10 {
		putCase(t, st, canaryCase(testRef(i), t0.Add(time.Duration(i)*24*time.Hour)))
	}
	for _, tc := range []struct {
		p    Period
		want int
	}{
		{Period{}, 10},
		{Period{Since: t0.Add(2 * 24 * time.Hour)}, 8},                                    // since is included
		{Period{Until: t0.Add(2 * 24 * time.Hour)}, 2},                                    // until is not
		{Period{Since: t0.Add(2 * 24 * time.Hour), Until: t0.Add(5 * 24 * time.Hour)}, 3}, // days 2, 3, 4
		{Period{Since: t0.Add(24*time.Hour + 1), Until: t0.Add(2*24*time.Hour + 1)}, 1},
		{Period{Since: t0.Add(100 * 24 * time.Hour)}, 0},
	} {
		for _, pageSize := range []int{1, 0} {
			n := 0
			if err := Read(context.Background(), st, tc.p, pageSize, func(r Record) {
				if !tc.p.Contains(r.Created) {
					t.Errorf("%+v: read a case created %v", tc.p, r.Created)
				}
				n++
			}); err != nil {
				t.Fatal(err)
			}
			if n != tc.want {
				t.Errorf("%+v (pages of %d): %d cases, want %d", tc.p, pageSize, n, tc.want)
			}
		}
	}
}

// TestStatsReportNeverPrintsACase builds a report from stored cases full of canaries, claimed,
// withdrawn and shredded, and looks for the canaries and the references in both outputs.
func TestStatsReportNeverPrintsACase(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	for i := range 30 {
		c := canaryCase(testRef(i), t0.Add(time.Duration(i)*time.Minute))
		putCase(t, st, c)
		if i%3 == 0 {
			if _, err := st.Claim(ctx, c.Ref, "officer-"+canary, c.Created.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.Shred(ctx, []intake.Ref{testRef(1), testRef(2)}, intake.StatusShredded, t0.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, intake.Commit{Key: "k-" + intake.SessionKey(testRef(4)), Forget: true, Now: t0.Add(48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tl := NewTally()
	if err := Read(ctx, st, Period{}, 4, tl.Add); err != nil {
		t.Fatal(err)
	}
	r := tl.Report(testCats, Period{})
	var text, csvOut bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{text.String(), csvOut.String()} {
		for _, bad := range []string{canary, "R00", "officer", "team-", "safe_place"} {
			if strings.Contains(out, bad) {
				t.Fatalf("output contains %q:\n%s", bad, out)
			}
		}
	}
	// The cases were counted, shredded ones included: 30, less one withdrawn.
	if got := cellText(t, r, "status", "total", "cases"); got != "29" {
		t.Errorf("total = %q, want 29", got)
	}
	if got := cellText(t, r, "topic", "forced_work", "cases"); got != "<11" {
		// All 29 are forced work: shown, it would say that no case is about anything else.
		t.Errorf("forced_work = %q", got)
	}
	if got := cellText(t, r, "age_band", Other, "cases"); got != "<11" {
		t.Errorf("age band (other) = %q", got)
	}
}
