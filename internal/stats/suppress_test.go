package stats

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// line builds a one-way table: parts adding up to a fixed total.
func line(vals ...int) (*problem, []int) {
	p := &problem{}
	total := 0
	for _, v := range vals {
		total += v
	}
	n := p.add(total)
	p.fixed[n] = true
	var parts []int
	for _, v := range vals {
		parts = append(parts, p.add(v))
	}
	p.addSum(n, parts...)
	return p, parts
}

func hidden(p *problem, es []int) []bool {
	var h []bool
	for _, e := range es {
		h = append(h, p.hide[e])
	}
	return h
}

func TestStatsSuppressionThreshold(t *testing.T) {
	// 10 is hidden, 11 is shown (two small ones protect each other: nothing more to hide).
	p, parts := line(10, 3, 11, 40)
	p.protect()
	if got, want := hidden(p, parts), []bool{true, true, false, false}; !slices.Equal(got, want) {
		t.Fatalf("hidden = %v, want %v", got, want)
	}
}

func TestStatsSecondarySuppression(t *testing.T) {
	for _, tc := range []struct {
		name string
		vals []int
		want []bool
	}{
		// One small count alone would be total minus the others: the next smallest goes too.
		{"one small", []int{5, 30, 12, 40}, []bool{true, false, true, false}},
		// Hidden parts adding up to zero are all zero: a shown one must join them.
		{"zeros", []int{0, 0, 30, 12}, []bool{true, true, false, true}},
		// Two hidden counts adding up to 20, both below 11, are both 10.
		{"tens", []int{10, 10, 30, 12}, []bool{true, true, false, true}},
		// Nothing small: nothing hidden.
		{"none", []int{11, 30, 12}, []bool{false, false, false}},
	} {
		p, parts := line(tc.vals...)
		p.protect()
		if got := hidden(p, parts); !slices.Equal(got, tc.want) {
			t.Errorf("%s: hidden = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// cross builds an r×c table with row and column margins and a fixed grand total, as Report does.
func cross(vals [][]int) (p *problem, cells [][]int, rowTot, colTot []int) {
	p = &problem{}
	grand := 0
	for _, row := range vals {
		for _, v := range row {
			grand += v
		}
	}
	n := p.add(grand)
	p.fixed[n] = true
	cells = make([][]int, len(vals))
	for i, row := range vals {
		s := 0
		for _, v := range row {
			cells[i] = append(cells[i], p.add(v))
			s += v
		}
		rowTot = append(rowTot, p.add(s))
		p.addSum(rowTot[i], cells[i]...)
	}
	for j := range vals[0] {
		s := 0
		var col []int
		for i := range vals {
			s += vals[i][j]
			col = append(col, cells[i][j])
		}
		colTot = append(colTot, p.add(s))
		p.addSum(colTot[j], col...)
	}
	p.addSum(n, rowTot...)
	p.addSum(n, colTot...)
	return p, cells, rowTot, colTot
}

// TestStatsDeterminedBeyondSubtraction: two hidden 2×2 blocks joined by one hidden cell. Every
// row and column has at least two hidden cells, so no single subtraction works, but the joining
// cell is the sum of two rows' totals minus two columns' totals.
func TestStatsDeterminedBeyondSubtraction(t *testing.T) {
	vals := [][]int{
		{3, 4, 50, 60},
		{5, 6, 2, 70},
		{80, 90, 7, 8},
		{55, 65, 9, 3},
	}
	p, cells, _, _ := cross(vals)
	for e, v := range p.val {
		p.hide[e] = v < MinCellCount
	}
	bridge := cells[1][2]
	if d := p.exposed(); !slices.Equal(d, []int{bridge}) {
		t.Fatalf("determined = %v, want only the bridge %d", d, bridge)
	}
	p.protect()
	if d := p.exposed(); len(d) != 0 {
		t.Fatalf("after protect, still exposed: %v", d)
	}
}

// TestStatsNoHiddenCountCanBeWorkedOut tries, on random tables, to find for every hidden count
// another table that agrees with everything published: the same shown counts, the same totals, no
// negative count. If there is none, a reader can work the hidden count out. The search is
// independent of problem.exposed: it looks for a change d of the hidden counts with entries
// −1, 0 or 1 that keeps every sum (in a table with margins, the sums form a network, so if any
// other table exists, one differing by such a d does).
func TestStatsNoHiddenCountCanBeWorkedOut(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	small := []int{0, 0, 1, 2, 3, 5, 8, 10}
	checked := 0
	for range 400 {
		r, c := 2+rng.IntN(2), 2+rng.IntN(3)
		vals := make([][]int, r)
		for i := range vals {
			for range c {
				v := small[rng.IntN(len(small))]
				if rng.IntN(3) == 0 {
					v = 11 + rng.IntN(30)
				}
				vals[i] = append(vals[i], v)
			}
		}
		p, _, _, _ := cross(vals)
		p.protect()
		var hid []int
		for e, h := range p.hide {
			if h {
				hid = append(hid, e)
			}
			if !h && p.val[e] < MinCellCount {
				t.Fatalf("%v: count %d shown", vals, p.val[e])
			}
		}
		if len(hid) > 13 {
			continue // 3^13 directions: enough
		}
		checked++
		for _, k := range hid {
			if !hasAlternative(p, hid, k) {
				t.Fatalf("table %v: hidden count %d (entry %d) can be worked out; hidden %v", vals, p.val[k], k, hid)
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d tables small enough to check", checked)
	}
}

// TestStatsNoHiddenCountInReportCanBeWorkedOut runs the same search on whole reports of random
// populations: every table, the cross table, time to claim and the equalities between them.
func TestStatsNoHiddenCountInReportCanBeWorkedOut(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	checked := 0
	for range 200 {
		l := reportTally(randomRecords(rng)).build(testCats)
		p := l.pr
		p.protect()
		for e := range p.val {
			if p.fixed[e] {
				continue // hidden only when below 11, and then so is everything: no number to start from
			}
			if !p.guarded(e) {
				if !p.hide[e] && p.val[e] < MinCellCount {
					t.Fatalf("count %d shown", p.val[e])
				}
				continue
			}
			comp := component(p, e)
			if len(comp) > 20 {
				continue
			}
			checked++
			if !hasAlternative(p, comp, e) {
				t.Fatalf("hidden count %d (entry %d) can be worked out; hidden around it %v", p.val[e], e, comp)
			}
		}
	}
	if checked < 500 {
		t.Fatalf("only %d hidden counts checked", checked)
	}
}

// component returns the hidden entries tied to k through sums (not through a fixed total).
func component(p *problem, k int) []int {
	seen := map[int]bool{k: true}
	queue, out := []int{k}, []int{}
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		if p.hide[e] {
			out = append(out, e)
		}
		if !p.hide[e] || p.fixed[e] {
			continue
		}
		for _, si := range p.of[e] {
			for _, f := range p.sums[si].entries() {
				if !seen[f] {
					seen[f] = true
					queue = append(queue, f)
				}
			}
		}
	}
	return out
}

// hasAlternative searches d ∈ {−1,0,1}^hidden with d[k] ≠ 0, every sum unchanged and no count
// negative, depth first, checking each sum as soon as its last hidden entry has a value.
func hasAlternative(p *problem, hid []int, k int) bool {
	order := []int{k} // k first: directions that move it are tried first
	for _, e := range hid {
		if e != k {
			order = append(order, e)
		}
	}
	pos := make(map[int]int, len(order))
	for i, e := range order {
		pos[e] = i
	}
	due := make([][]sum, len(order))
	for _, s := range p.sums {
		last := -1
		for _, e := range s.entries() {
			if i, ok := pos[e]; ok {
				last = max(last, i)
			}
		}
		if last >= 0 {
			due[last] = append(due[last], s)
		}
	}
	d := make(map[int]int, len(order))
	var try func(i int) bool
	try = func(i int) bool {
		if i == len(order) {
			return true
		}
		e := order[i]
		for _, v := range []int{1, -1, 0} {
			if p.val[e]+v < 0 || i == 0 && v == 0 {
				continue
			}
			d[e] = v
			ok := true
			for _, s := range due[i] {
				sum := -d[s.total]
				for _, e := range s.parts {
					sum += d[e]
				}
				if sum != 0 {
					ok = false
					break
				}
			}
			if ok && try(i+1) {
				return true
			}
		}
		d[e] = 0
		return false
	}
	return try(0)
}
