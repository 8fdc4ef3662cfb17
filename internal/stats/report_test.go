package stats

import (
	"bytes"
	"encoding/csv"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/locales"
)

var t0 = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

var testCats = Categories{
	ByStatus:      {"queued", "claimed", "closed", "shredded"},
	ByPriority:    {"P1", "P2", "P3"},
	ByLanguage:    {"ar", "ckb", "kmr", "en"},
	ByTopic:       {"violence_home", "forced_work", "threats"},
	ByGovernorate: {"duhok", "nineveh", "erbil"},
	ByAgeBand:     {"under_18", "adult"},
	ByServices:    {"medical", "legal", "shelter"},
}

func rec() Record {
	return Record{Status: intake.StatusQueued, Created: t0, Priority: 2, Lang: locales.KMR,
		Topic: "forced_work", Governorate: "duhok", AgeBand: "adult", Services: []string{"legal"}}
}

// times returns n copies of r, changed by f (given the copy's index).
func times(n int, f func(i int, r *Record)) []Record {
	var out []Record
	for i := range n {
		r := rec()
		if f != nil {
			f(i, &r)
		}
		out = append(out, r)
	}
	return out
}

func reportTally(rs []Record) *Tally {
	t := NewTally()
	for _, r := range rs {
		t.Add(r)
	}
	return t
}

func report(rs []Record) *Report { return reportTally(rs).Report(testCats, Period{}) }

// cellText returns a published cell as text; the test fails if there is none.
func cellText(t *testing.T, r *Report, table, row, col string) string {
	t.Helper()
	for _, tb := range r.Tables {
		if tb.ID != table {
			continue
		}
		for _, rw := range tb.Rows {
			if rw.Label != row {
				continue
			}
			for i, c := range tb.Cols {
				if c.ID == col {
					return rw.Cells[i].String()
				}
			}
		}
	}
	t.Fatalf("no cell %s/%s/%s", table, row, col)
	return ""
}

func expectCells(t *testing.T, r *Report, table, col string, want map[string]string) {
	t.Helper()
	for row, w := range want {
		if got := cellText(t, r, table, row, col); got != w {
			t.Errorf("%s %s %s = %q, want %q", table, row, col, got, w)
		}
	}
}

func TestStatsCountsAtTheThreshold(t *testing.T) {
	langs := map[locales.Lang]int{locales.AR: 10, locales.CKB: 4, locales.KMR: 11, locales.EN: 30}
	var rs []Record
	for l, n := range langs {
		rs = append(rs, times(n, func(_ int, r *Record) { r.Lang = l })...)
	}
	r := report(rs)
	// 10 hidden, 11 shown; the two hidden ones (14 together) protect each other.
	expectCells(t, r, "language", "cases", map[string]string{"ar": "<11", "ckb": "<11", "kmr": "11", "en": "30", "total": "55"})
	// A zero is hidden like any small count.
	expectCells(t, r, "topic", "cases", map[string]string{"threats": "<11"})
}

func TestStatsSecondarySuppressionInReport(t *testing.T) {
	// Age band: 5 under 18, 12 adults, 40 not answered. Alone, the 5 would be 57 − 12 − 40.
	rs := times(5, func(_ int, r *Record) { r.AgeBand = "under_18" })
	rs = append(rs, times(40, func(_ int, r *Record) { r.AgeBand = "" })...)
	rs = append(rs, times(12, nil)...)
	r := report(rs)
	expectCells(t, r, "age_band", "cases", map[string]string{"under_18": "<11", "adult": "<11", NotAnswered: "40", "total": "57"})
	// Topic: 5 threats, 12 violence at home, 40 forced work, none not answered. The hidden 0
	// protects the 5 (a reader knows only that the two add up to 5): nothing more is hidden.
	rs = times(5, func(_ int, r *Record) { r.Topic = "threats" })
	rs = append(rs, times(12, func(_ int, r *Record) { r.Topic = "violence_home" })...)
	rs = append(rs, times(40, nil)...)
	r = report(rs)
	expectCells(t, r, "topic", "cases", map[string]string{"threats": "<11", NotAnswered: "<11", "violence_home": "12", "forced_work": "40", "total": "57"})
}

func TestStatsWithdrawnCountedByStatusOnly(t *testing.T) {
	kept := times(30, func(i int, r *Record) {
		if i%2 == 0 {
			r.Status, r.Claimed = intake.StatusClaimed, t0.Add(time.Duration(i)*time.Minute)
		}
	})
	withdrawn := times(12, func(i int, r *Record) {
		r.Status, r.Topic, r.Governorate, r.Lang, r.Priority = intake.StatusWithdrawn, "threats", "nineveh", locales.AR, 1
		r.Claimed = t0.Add(time.Hour)
		r.Services = []string{"shelter"}
	})
	with, without := report(append(kept, withdrawn...)), report(kept)
	if got := cellText(t, with, "status", "withdrawn", "cases"); got != "12" {
		t.Fatalf("withdrawn = %q, want 12", got)
	}
	if got := cellText(t, without, "status", "withdrawn", "cases"); got != "<11" {
		t.Fatalf("withdrawn without any = %q", got)
	}
	// Apart from that one cell, the withdrawn cases change nothing.
	with.Tables[0].Rows = with.Tables[0].Rows[:len(with.Tables[0].Rows)-1]
	without.Tables[0].Rows = without.Tables[0].Rows[:len(without.Tables[0].Rows)-1]
	if !reflect.DeepEqual(with, without) {
		var a, b bytes.Buffer
		with.WriteText(&a)
		without.WriteText(&b)
		t.Fatalf("withdrawn cases show in the breakdowns:\n%s\nwithout them:\n%s", a.String(), b.String())
	}
}

func TestStatsPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 20; i++ {
		ds = append(ds, time.Duration(i)*time.Minute)
	}
	for _, tc := range []struct {
		n, p int
		want time.Duration
	}{
		{20, 50, 10 * time.Minute}, {20, 90, 18 * time.Minute}, {20, 100, 20 * time.Minute},
		{11, 50, 6 * time.Minute}, {11, 90, 10 * time.Minute}, {1, 50, time.Minute}, {1, 90, time.Minute},
	} {
		if got := Percentile(ds[:tc.n], tc.p); got != tc.want {
			t.Errorf("p%d of 1..%d minutes = %v, want %v", tc.p, tc.n, got, tc.want)
		}
	}
}

func TestStatsTimeToClaim(t *testing.T) {
	// P1: 20 claimed after 1..20 minutes; P2: 15 claimed after an hour; P3: 5 claimed after two
	// hours and 7 waiting.
	rs := times(20, func(i int, r *Record) {
		r.Priority, r.Status, r.Claimed = 1, intake.StatusClaimed, t0.Add(time.Duration(i+1)*time.Minute)
	})
	rs = append(rs, times(15, func(i int, r *Record) {
		r.Priority, r.Status, r.Claimed = 2, intake.StatusClaimed, t0.Add(time.Hour)
	})...)
	rs = append(rs, times(5, func(i int, r *Record) {
		r.Priority, r.Status, r.Claimed = 3, intake.StatusClaimed, t0.Add(2*time.Hour)
	})...)
	rs = append(rs, times(7, func(_ int, r *Record) { r.Priority = 3 })...)
	r := report(rs)
	want := map[string][3]string{
		"all": {"40", "20m", "2h00m"}, // nearest ranks 20 and 36 of 40
		"P1":  {"20", "10m", "18m"},
		// P3's 5 would be 40 − 20 − 15: P2 is hidden with it, and so are its times, which
		// would otherwise say that its count is at least 11.
		"P2": {"<11", "-", "-"},
		"P3": {"<11", "-", "-"},
	}
	for row, w := range want {
		for i, col := range []string{"cases", "p50_minutes", "p90_minutes"} {
			if got := cellText(t, r, "time_to_claim", row, col); got != w[i] {
				t.Errorf("time to claim %s %s = %q, want %q", row, col, got, w[i])
			}
		}
	}
	// All of P2 was claimed, so its count in the priority table equals its claimed count: that
	// one is hidden too, and P3 with it so that it cannot be subtracted.
	expectCells(t, r, "priority", "cases", map[string]string{"P1": "20", "P2": "<11", "P3": "<11", "total": "47"})

	// Under 11 claimed cases: no count, no times.
	r = report(times(10, func(i int, r *Record) { r.Status, r.Claimed = intake.StatusClaimed, t0.Add(time.Minute) }))
	for i, col := range []string{"cases", "p50_minutes", "p90_minutes"} {
		if got := cellText(t, r, "time_to_claim", "all", col); got != []string{"<11", "-", "-"}[i] {
			t.Errorf("10 claimed: %s = %q", col, got)
		}
	}
}

func TestStatsServicesCountOncePerValue(t *testing.T) {
	rs := times(12, func(_ int, r *Record) { r.Services = []string{"medical", "legal"} })
	rs = append(rs, times(20, func(_ int, r *Record) { r.Services = nil })...)
	r := report(rs)
	expectCells(t, r, "services", "cases", map[string]string{"medical": "12", "legal": "12", "shelter": "<11"})
	for _, tb := range r.Tables {
		if tb.ID == "services" {
			if last := tb.Rows[len(tb.Rows)-1]; last.Label == "total" {
				t.Fatal("services has a total row, but a case counts once per service")
			}
			if !strings.Contains(tb.Title, "once for each service") {
				t.Fatalf("services title does not say how cases count: %q", tb.Title)
			}
		}
	}
}

// randomRecords makes a small, lumpy population: many counts below 11, some zeros.
func randomRecords(rng *rand.Rand) []Record {
	// Each population uses a random part of each list, so that zeros are common, and is skewed
	// to the part's last value.
	part := func(vs ...string) []string { return vs[rng.IntN(len(vs)):] }
	pick := func(vs []string) string { return vs[min(rng.IntN(len(vs)+2), len(vs)-1)] }
	langs := part("en", "ar", "ckb", "kmr")
	topics := part("", "threats", "violence_home", "forced_work")
	govs := part("", "erbil", "nineveh", "duhok")
	ages := part("", "under_18", "adult")
	services := part("medical", "legal", "shelter")
	statuses := []intake.Status{intake.StatusQueued, intake.StatusClaimed, intake.StatusClosed, intake.StatusShredded, intake.StatusWithdrawn}
	statuses = statuses[rng.IntN(3):]
	var rs []Record
	for i := range 15 + rng.IntN(150) {
		r := Record{
			Status:      statuses[rng.IntN(len(statuses))],
			Created:     t0.Add(time.Duration(i) * time.Hour),
			Priority:    1 + rng.IntN(3),
			Lang:        locales.Lang(pick(langs)),
			Topic:       pick(topics),
			Governorate: pick(govs),
			AgeBand:     pick(ages),
		}
		for _, s := range services {
			if rng.IntN(3) == 0 {
				r.Services = append(r.Services, s)
			}
		}
		if r.Status == intake.StatusClaimed || r.Status == intake.StatusClosed && rng.IntN(2) == 0 {
			r.Claimed = r.Created.Add(time.Duration(rng.IntN(3000)) * time.Minute)
		}
		rs = append(rs, r)
	}
	return rs
}

// TestStatsReportCannotBeUndone publishes random populations as CSV, reads the CSV back as a reader
// would, and tries to work out hidden counts by subtraction from every sum a reader can form:
// each table's rows against its total, every table's total against the others, the cross table
// against its margins and against the topic and governorate tables, the time-to-claim rows
// against "all", and, where the data makes it true, a priority's claimed count against its
// count. Every hidden count must survive, and no count below 11 may be shown.
func TestStatsReportCannotBeUndone(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		rs := randomRecords(rng)
		rep := report(rs)
		var buf bytes.Buffer
		if err := rep.WriteCSV(&buf); err != nil {
			t.Fatal(err)
		}
		lines, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("CSV does not parse: %v", err)
		}
		if !reflect.DeepEqual(lines[0], []string{"table", "row", "column", "value"}) {
			t.Fatalf("CSV header %q", lines[0])
		}
		type key struct{ table, row, col string }
		val := map[key]int{}
		hidden := map[key]bool{}
		rowsOf := map[string][]string{}
		colsOf := map[string][]string{}
		for _, l := range lines[1:] {
			if l[0] == "period" {
				continue
			}
			k := key{l[0], l[1], l[2]}
			if !strings.Contains(strings.Join(rowsOf[k.table], "\x00"), k.row) || len(rowsOf[k.table]) == 0 || rowsOf[k.table][len(rowsOf[k.table])-1] != k.row {
				rowsOf[k.table] = append(rowsOf[k.table], k.row)
			}
			if !containsStr(colsOf[k.table], k.col) {
				colsOf[k.table] = append(colsOf[k.table], k.col)
			}
			switch v := l[3]; {
			case v == HiddenCount || v == HiddenDuration:
				hidden[k] = true
			default:
				n, err := strconv.Atoi(v)
				if err != nil {
					t.Fatalf("value %q of %v is not a count", v, k)
				}
				if !strings.HasSuffix(k.col, "_minutes") && n < MinCellCount {
					t.Fatalf("count %d shown at %v", n, k)
				}
				val[k] = n
			}
		}
		type term struct {
			k key
			c int
		}
		var eqs [][]term
		sumOf := func(total key, parts ...key) {
			eq := []term{{total, -1}}
			for _, p := range parts {
				eq = append(eq, term{p, 1})
			}
			eqs = append(eqs, eq)
		}
		grand := key{"status", "total", "cases"}
		for _, tb := range []string{"status", "priority", "language", "topic", "governorate", "age_band"} {
			var parts []key
			for _, r := range rowsOf[tb] {
				if r != "total" && r != "withdrawn" {
					parts = append(parts, key{tb, r, "cases"})
				}
			}
			sumOf(key{tb, "total", "cases"}, parts...)
			sumOf(grand, key{tb, "total", "cases"})
		}
		x := "governorate_topic"
		sumOf(grand, key{x, "total", "total"})
		for _, g := range rowsOf[x] {
			var parts []key
			for _, tp := range colsOf[x] {
				if tp != "total" {
					parts = append(parts, key{x, g, tp})
				}
			}
			sumOf(key{x, g, "total"}, parts...)
			if g != "total" {
				sumOf(key{"governorate", g, "cases"}, key{x, g, "total"})
			}
		}
		for _, tp := range colsOf[x] {
			var parts []key
			for _, g := range rowsOf[x] {
				if g != "total" {
					parts = append(parts, key{x, g, tp})
				}
			}
			sumOf(key{x, "total", tp}, parts...)
			if tp != "total" {
				sumOf(key{"topic", tp, "cases"}, key{x, "total", tp})
			}
		}
		var claimParts []key
		for _, r := range rowsOf["time_to_claim"] {
			if r != "all" {
				claimParts = append(claimParts, key{"time_to_claim", r, "cases"})
			}
		}
		sumOf(key{"time_to_claim", "all", "cases"}, claimParts...)
		for p := 1; p <= 3; p++ {
			n, claimed := 0, 0
			for _, r := range rs {
				if r.Status != intake.StatusWithdrawn && r.Priority == p {
					n++
					if !r.Claimed.IsZero() {
						claimed++
					}
				}
			}
			if n > 0 && n == claimed {
				label := priorityLabel(p)
				sumOf(key{"priority", label, "cases"}, key{"time_to_claim", label, "cases"})
			}
		}
		for _, eq := range eqs {
			var unknown []term
			rest := 0
			for _, tm := range eq {
				if hidden[tm.k] {
					unknown = append(unknown, tm)
				} else if v, ok := val[tm.k]; ok {
					rest += tm.c * v
				} else {
					t.Fatalf("no cell %v in the CSV", tm.k)
				}
			}
			// Zeros of statuses and of claimed counts may be known (problem.zeroOK).
			process := true
			for _, u := range unknown {
				process = process && (u.k.table == "status" || u.k.table == "time_to_claim")
			}
			if len(unknown) == 1 && !(process && rest == 0) {
				t.Fatalf("%v = %d by subtraction (%v)", unknown[0].k, -rest*unknown[0].c, eq)
			}
			same := len(unknown) > 0
			for _, u := range unknown {
				same = same && u.c == unknown[0].c
			}
			if same && rest == 0 && !process {
				t.Fatalf("%v are all 0: they add up to nothing", unknown)
			}
		}
	}
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestStatsTextOutput(t *testing.T) {
	rs := times(40, nil)
	rep := report(rs)
	rep.Period = Period{Since: t0, Until: t0.Add(24 * time.Hour)}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"cases created from 2026-01-01T09:00:00Z to 2026-01-02T09:00:00Z (not included)",
		`"<11" marks a hidden count`,
		"Governorate × topic",
		"Services asked (a case counts once for each service it asks for",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^  total +40$`).MatchString(out) {
		t.Errorf("no total of 40:\n%s", out)
	}
}
