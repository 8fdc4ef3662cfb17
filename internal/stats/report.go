package stats

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/locales"
)

// Dimension names a breakdown.
type Dimension string

// Breakdowns.
const (
	ByStatus      Dimension = "status"
	ByPriority    Dimension = "priority"
	ByLanguage    Dimension = "language"
	ByTopic       Dimension = "topic"
	ByGovernorate Dimension = "governorate"
	ByAgeBand     Dimension = "age_band"
	ByServices    Dimension = "services"
)

// Categories lists, per breakdown, the values a report always shows, in order, whether or not any
// case has them. A row that appears only when its count is not zero would tell a reader "nobody
// from there asked" (which an abuser checking on one person wants to know); listed rows show
// "<11" for zero like any other small count. Values found in the data but not listed (an older
// flow revision's) follow, sorted.
type Categories map[Dimension][]string

// DefaultCategories lists the statuses, priorities, languages and governorates Penah knows, and
// the choices of the topic, age band and services questions of the given flows.
func DefaultCategories(fs []*flows.Flow) Categories {
	c := Categories{
		ByStatus: {string(intake.StatusQueued), string(intake.StatusEscalated), string(intake.StatusClaimed), string(intake.StatusInContact),
			string(intake.StatusReferred), string(intake.StatusClosed), string(intake.StatusShredded)},
		ByPriority:    {priorityLabel(1), priorityLabel(2), priorityLabel(3)},
		ByGovernorate: slices.Clone(locales.Governorates),
	}
	for _, l := range locales.All {
		c[ByLanguage] = append(c[ByLanguage], string(l))
	}
	fields := map[flows.FieldID]Dimension{FieldTopic: ByTopic, FieldAgeBand: ByAgeBand, FieldServices: ByServices}
	for _, f := range fs {
		for _, st := range f.States {
			d, ok := fields[st.Save]
			if !ok {
				continue
			}
			for _, ch := range st.Choices {
				if !ch.Skip && !slices.Contains(c[d], string(ch.ID)) {
					c[d] = append(c[d], string(ch.ID))
				}
			}
		}
	}
	return c
}

// priorityLabel names a priority row.
func priorityLabel(p int) string {
	if p < 1 || p > 3 {
		return "(not set)"
	}
	return fmt.Sprintf("P%d", p)
}

// Tally counts records. It keeps counts and times to claim, nothing else of a case.
type Tally struct {
	n, withdrawn int
	status       map[string]int
	priority     map[string]int
	lang         map[string]int
	topic        map[string]int
	gov          map[string]int
	age          map[string]int
	services     map[string]int
	cross        map[[2]string]int          // governorate, topic
	claims       map[string][]time.Duration // by priority label
	claimedIn    map[string]int             // claimed cases by status
}

// NewTally returns an empty tally.
func NewTally() *Tally {
	return &Tally{
		status: map[string]int{}, priority: map[string]int{}, lang: map[string]int{},
		topic: map[string]int{}, gov: map[string]int{}, age: map[string]int{}, services: map[string]int{},
		cross: map[[2]string]int{}, claims: map[string][]time.Duration{}, claimedIn: map[string]int{},
	}
}

func orNA(v string) string {
	if v == "" {
		return NotAnswered
	}
	return v
}

// Add counts one case. A withdrawn case (the person used /forget and asked to be erased) is
// counted as withdrawn and nowhere else: not by topic, place, age, language, priority or time to
// claim. A case shredded at the end of its retention still counts everywhere: its routing fields
// were kept for exactly this.
func (t *Tally) Add(r Record) {
	if r.Status == intake.StatusWithdrawn {
		t.withdrawn++
		return
	}
	t.n++
	st := clean(string(r.Status))
	t.status[st]++
	pl := priorityLabel(r.Priority)
	t.priority[pl]++
	t.lang[clean(string(r.Lang))]++
	topic, gov := orNA(r.Topic), orNA(r.Governorate)
	t.topic[topic]++
	t.gov[gov]++
	t.cross[[2]string{gov, topic}]++
	t.age[orNA(r.AgeBand)]++
	for _, s := range r.Services {
		t.services[s]++
	}
	if !r.Claimed.IsZero() {
		d := max(r.Claimed.Sub(r.Created), 0)
		t.claims[pl] = append(t.claims[pl], d)
		t.claimedIn[st]++
	}
}

// Report is what may be published: hidden counts are not in it at all.
type Report struct {
	Period Period
	Tables []Table
}

// Table is one published table. One-way tables have one column, "cases".
type Table struct {
	ID     string // in CSV output
	Title  string
	Corner string // heading of the label column
	Cols   []Column
	Rows   []Row
}

// Column is a table column: a label for people and an id for CSV.
type Column struct{ Label, ID string }

// Row is a table row.
type Row struct {
	Label string
	Cells []Cell
}

// Cell is a published count or duration, or the mark that it is hidden. A hidden cell does not
// hold the value.
type Cell struct {
	n     int
	d     time.Duration
	dur   bool
	shown bool
}

// Count returns the count and true, or false when it is hidden (or the cell is a duration).
func (c Cell) Count() (int, bool) { return c.n, c.shown && !c.dur }

// Duration returns the duration and true, or false when it is hidden (or the cell is a count).
func (c Cell) Duration() (time.Duration, bool) { return c.d, c.shown && c.dur }

// Marks of hidden cells.
const (
	HiddenCount    = "<11"
	HiddenDuration = "-"
)

// String renders the cell for people.
func (c Cell) String() string {
	switch {
	case !c.shown && c.dur:
		return HiddenDuration
	case !c.shown:
		return HiddenCount
	case c.dur:
		return formatDuration(c.d)
	}
	return fmt.Sprint(c.n)
}

// csv renders the cell for CSV: durations in whole minutes.
func (c Cell) csv() string {
	if c.shown && c.dur {
		return fmt.Sprint(int64(c.d.Round(time.Minute) / time.Minute))
	}
	return c.String()
}

// formatDuration renders d to the minute: 45m, 3h05m, 2d07h.
func formatDuration(d time.Duration) string {
	m := int64(d.Round(time.Minute) / time.Minute)
	switch {
	case m < 60:
		return fmt.Sprintf("%dm", m)
	case m < 48*60:
		return fmt.Sprintf("%dh%02dm", m/60, m%60)
	}
	h := (m + 30) / 60
	return fmt.Sprintf("%dd%02dh", h/24, h%24)
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the nearest-rank method:
// the smallest value with at least p% of the values at or below it. It is always one of the
// values, never an interpolation.
func Percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 · n)
	return sorted[max(rank, 1)-1]
}

// rowsOf lists the rows of a breakdown: the known categories, then others seen, sorted, with
// Other and NotAnswered last; NotAnswered always when na is set.
func rowsOf(known []string, counts map[string]int, na bool) []string {
	rows := slices.Clone(known)
	var extra []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if !slices.Contains(rows, k) && k != Other && k != NotAnswered {
			extra = append(extra, k)
		}
	}
	rows = append(rows, extra...)
	if counts[Other] > 0 && !slices.Contains(rows, Other) {
		rows = append(rows, Other)
	}
	if (na || counts[NotAnswered] > 0) && !slices.Contains(rows, NotAnswered) {
		rows = append(rows, NotAnswered)
	}
	return rows
}

// Report builds the published tables: counts by status, priority, language, topic, governorate,
// age band and services, governorate × topic, and time to claim, with every count below
// MinCellCount hidden and enough others hidden that none of those can be worked out (see
// problem.protect).
func (t *Tally) Report(cats Categories, p Period) *Report {
	l := t.build(cats)
	l.pr.protect()
	return t.publish(l, p)
}

// oneWay is a one-way table's rows and their counts in the problem.
type oneWay struct {
	rows    []string
	entries []int
}

// layout is every count of a report in one problem, and where each is published.
type layout struct {
	pr                                           *problem
	total, withdrawn, allClaimed                 int
	status, priority, lang, age, topic, gov, svc oneWay
	cross                                        [][]int // [governorate][topic]
	claims                                       []int   // by priority row
}

// build puts every count in one problem with every sum a reader can form.
func (t *Tally) build(cats Categories) *layout {
	pr := &problem{}
	l := &layout{pr: pr}
	l.total = pr.add(t.n)
	// The number of cases is every single-valued table's total: it is published (unless below
	// MinCellCount) and never hidden to protect a cell, which would not help.
	pr.fixed[l.total] = true

	single := func(d Dimension, counts map[string]int, na bool) oneWay {
		w := oneWay{rows: rowsOf(cats[d], counts, na)}
		for _, r := range w.rows {
			w.entries = append(w.entries, pr.add(counts[r]))
		}
		pr.addSum(l.total, w.entries...)
		return w
	}
	l.status = single(ByStatus, t.status, false)
	for _, e := range l.status.entries {
		pr.zeroOK[e] = true // "no case is closed yet" is about the service, not a person
	}
	l.withdrawn = pr.add(t.withdrawn) // in no sum: no published total includes it
	l.priority = single(ByPriority, t.priority, false)
	l.lang = single(ByLanguage, t.lang, false)
	l.age = single(ByAgeBand, t.age, true)

	// Topic and governorate are the margins of the cross table.
	l.topic = single(ByTopic, t.topic, true)
	l.gov = single(ByGovernorate, t.gov, true)
	l.cross = make([][]int, len(l.gov.rows))
	for i, g := range l.gov.rows {
		for _, tp := range l.topic.rows {
			l.cross[i] = append(l.cross[i], pr.add(t.cross[[2]string{g, tp}]))
		}
		pr.addSum(l.gov.entries[i], l.cross[i]...)
	}
	for j := range l.topic.rows {
		var col []int
		for i := range l.gov.rows {
			col = append(col, l.cross[i][j])
		}
		pr.addSum(l.topic.entries[j], col...)
	}

	// Services: a case counts once per service, so the rows have no sum. There is no "not
	// answered" row: with it, a reader would know that every service is at most the number of
	// cases minus that row, and zero when the two are equal.
	l.svc = oneWay{rows: rowsOf(cats[ByServices], t.services, false)}
	for _, r := range l.svc.rows {
		l.svc.entries = append(l.svc.entries, pr.add(t.services[r]))
	}

	// Time to claim, by priority; the claimed cases of each priority add up to all claimed.
	// Whether a priority had no case claimed says nothing about a person (the priority table
	// says whether there were any): those zeros may be known.
	claimed := 0
	for _, ds := range t.claims {
		claimed += len(ds)
	}
	l.allClaimed = pr.add(claimed)
	pr.zeroOK[l.allClaimed] = true
	l.claims = make([]int, len(l.priority.rows))
	for k, pl := range l.priority.rows {
		l.claims[k] = pr.add(len(t.claims[pl]))
		pr.zeroOK[l.claims[k]] = true
		// Where every case of a priority was claimed, the two counts are equal, and a reader
		// who guesses so learns one from the other: treat them as one.
		if n := t.priority[pl]; n > 0 && len(t.claims[pl]) == n {
			pr.addSum(l.priority.entries[k], l.claims[k])
		}
	}
	pr.addSum(l.allClaimed, l.claims...)
	// Likewise, when each status is either always or never claimed (claimed and closed always,
	// queued never, say), the claimed cases are the sum of some status rows.
	var always []int
	exact := true
	for k, s := range l.status.rows {
		switch c := t.claimedIn[s]; {
		case t.status[s] > 0 && c == t.status[s]:
			always = append(always, l.status.entries[k])
		case c != 0:
			exact = false
		}
	}
	if exact && len(always) > 0 {
		pr.addSum(l.allClaimed, always...)
	}
	return l
}

// publish turns the protected problem into tables: hidden counts are left out.
func (t *Tally) publish(l *layout, p Period) *Report {
	cell := func(e int) Cell {
		if l.pr.hide[e] {
			return Cell{}
		}
		return Cell{n: l.pr.val[e], shown: true}
	}
	cases := []Column{{Label: "cases", ID: "cases"}}
	table := func(id, title, corner string, w oneWay, withTotal bool) Table {
		tb := Table{ID: id, Title: title, Corner: corner, Cols: cases}
		for k, r := range w.rows {
			tb.Rows = append(tb.Rows, Row{Label: r, Cells: []Cell{cell(w.entries[k])}})
		}
		if withTotal {
			tb.Rows = append(tb.Rows, Row{Label: "total", Cells: []Cell{cell(l.total)}})
		}
		return tb
	}
	r := &Report{Period: p}
	st := table("status", "Status (withdrawn cases are counted in this table only, and not in its total)", "status", l.status, true)
	st.Rows = append(st.Rows, Row{Label: string(intake.StatusWithdrawn), Cells: []Cell{cell(l.withdrawn)}})
	r.Tables = append(r.Tables, st,
		table("priority", "Priority", "priority", l.priority, true),
		table("language", "Language", "language", l.lang, true),
		table("topic", "Topic", "topic", l.topic, true),
		table("governorate", "Governorate", "governorate", l.gov, true),
		table("age_band", "Age band", "age band", l.age, true),
		table("services", "Services asked (a case counts once for each service it asks for, so the rows have no total)", "service", l.svc, false),
	)

	x := Table{ID: "governorate_topic", Title: "Governorate × topic", Corner: "governorate \\ topic"}
	for _, tp := range l.topic.rows {
		x.Cols = append(x.Cols, Column{Label: tp, ID: tp})
	}
	x.Cols = append(x.Cols, Column{Label: "total", ID: "total"})
	for i, g := range l.gov.rows {
		row := Row{Label: g}
		for _, e := range l.cross[i] {
			row.Cells = append(row.Cells, cell(e))
		}
		row.Cells = append(row.Cells, cell(l.gov.entries[i]))
		x.Rows = append(x.Rows, row)
	}
	totals := Row{Label: "total"}
	for _, e := range l.topic.entries {
		totals.Cells = append(totals.Cells, cell(e))
	}
	totals.Cells = append(totals.Cells, cell(l.total))
	x.Rows = append(x.Rows, totals)
	r.Tables = append(r.Tables, x)

	tc := Table{
		ID:     "time_to_claim",
		Title:  "Time from submission to claim (claimed cases; nearest-rank percentiles, to the minute)",
		Corner: "priority",
		Cols:   []Column{{"cases", "cases"}, {"p50", "p50_minutes"}, {"p90", "p90_minutes"}},
	}
	claimRow := func(label string, e int, ds []time.Duration) Row {
		c := cell(e)
		if !c.shown {
			// Hidden with its count, whatever hid the count: a time shown next to "<11" would
			// say the count is at least 11.
			return Row{Label: label, Cells: []Cell{c, {dur: true}, {dur: true}}}
		}
		ds = slices.Sorted(slices.Values(ds))
		return Row{Label: label, Cells: []Cell{c,
			{d: Percentile(ds, 50), dur: true, shown: true},
			{d: Percentile(ds, 90), dur: true, shown: true},
		}}
	}
	var all []time.Duration
	for _, pl := range l.priority.rows {
		all = append(all, t.claims[pl]...)
	}
	tc.Rows = append(tc.Rows, claimRow("all", l.allClaimed, all))
	for k, pl := range l.priority.rows {
		tc.Rows = append(tc.Rows, claimRow(pl, l.claims[k], t.claims[pl]))
	}
	r.Tables = append(r.Tables, tc)
	return r
}
