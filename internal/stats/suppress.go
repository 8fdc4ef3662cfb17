package stats

import "slices"

// MinCellCount is the smallest count that is published. A count below it (zero included) is
// shown as "<11" and never as a number, as in CTDC's public data; so are a total and a
// percentile computed over fewer cases.
const MinCellCount = 11

// problem is every published count of one report and the sums that tie them together: each sum
// says that its parts add up to its total. Those are exactly the sums a reader can form from the
// tables (a table's rows add up to its total; a cross table's cells add up to its margins, which
// are also the cells of two one-way tables), plus equalities the data happens to hold and a
// reader might guess (see Tally.build). protect hides counts until none that is hidden can be
// worked out from the shown ones through these sums.
type problem struct {
	val   []int
	hide  []bool
	fixed []bool // published whatever happens (the number of cases): never hidden to protect another
	// zeroOK marks counts whose being zero says nothing about a person (how many cases are
	// closed, how many P2 cases were claimed): they are hidden below MinCellCount like any
	// count, but a reader may work out that one is zero. Zeros of what people said (topic,
	// place, language, priority, age, services) say "nobody like her reported", and are
	// protected like every other small count.
	zeroOK []bool
	sums   []sum
	of     [][]int // of[e]: the sums entry e takes part in
}

// sum says that the parts add up to the total. A sum with one part is an equality.
type sum struct {
	total int
	parts []int
}

// entries returns the sum's total and parts.
func (s sum) entries() []int { return append([]int{s.total}, s.parts...) }

// add adds a count and returns its index.
func (p *problem) add(v int) int {
	p.val = append(p.val, v)
	p.hide = append(p.hide, false)
	p.fixed = append(p.fixed, false)
	p.zeroOK = append(p.zeroOK, false)
	p.of = append(p.of, nil)
	return len(p.val) - 1
}

// addSum records that parts add up to total.
func (p *problem) addSum(total int, parts ...int) {
	s := sum{total: total, parts: slices.Clone(parts)}
	p.sums = append(p.sums, s)
	for _, e := range s.entries() {
		p.of[e] = append(p.of[e], len(p.sums)-1)
	}
}

// guarded reports whether e is a hidden count that must not be worked out.
func (p *problem) guarded(e int) bool { return p.hide[e] && !(p.zeroOK[e] && p.val[e] == 0) }

// protect decides which counts are hidden.
//
// Primary suppression hides every count below MinCellCount, zero included. Secondary
// suppression then makes sure that no hidden count can be worked out by subtraction, by any
// combination of sums, or from counts not being negative (hidden parts that add up to zero are
// all zero): while a hidden count is exposed, the smallest shown count of one of its sums is
// hidden too. The smallest, because it loses the least information; the choice is
// deterministic, so the same data always gives the same tables. A cheap pass handles the common
// cases (a sum with one hidden count; hidden parts of a sum that add up to zero); exposed finds
// the rest.
//
// We chose this over "do not show the total of a row with a hidden cell": every single-valued
// table (status, priority, language, topic, governorate, age band) adds up to the same number of
// cases, so a total hidden in one table is shown by all the others, and the subtraction works
// anyway.
//
// Every hidden count is published with the same mark, "<11", whichever rule hid it: a distinct
// mark for secondary suppression would tell a reader that the count is at least 11, and with that
// bound a subtraction can again pin a small count (a hidden 1 next to a hidden 11 in a row whose
// hidden part is 12 must be 1). The legend of the report says so.
func (p *problem) protect() {
	for e, v := range p.val {
		if v < MinCellCount {
			p.hide[e] = true
		}
	}
	for {
		changed := false
		for _, s := range p.sums {
			if p.alone(s) || p.pinned(s) {
				if c := p.smallestShown(s.entries()); c >= 0 {
					p.hide[c] = true
					changed = true
				}
			}
		}
		if changed {
			continue
		}
		exposed := p.exposed()
		if len(exposed) == 0 {
			return
		}
		c := p.complement(exposed[0])
		if c < 0 {
			// Nothing left to hide around it. Report's sums never get here (around a hidden
			// count, what stays shown is the number of cases at most, and a count hidden with
			// only that around it can move); should a change make it possible, publish nothing.
			for e := range p.hide {
				p.hide[e] = true
			}
			return
		}
		p.hide[c] = true
	}
}

// alone reports whether a sum has exactly one hidden count, which subtraction gives away.
func (p *problem) alone(s sum) bool {
	n, g := 0, false
	for _, e := range s.entries() {
		if p.hide[e] {
			n++
			g = p.guarded(e)
		}
	}
	return n == 1 && g
}

// pinned reports whether a sum with a shown total lets a reader pin its hidden parts by their
// bounds alone: hidden parts that add up to 0 are all 0 (counts are not negative), and k hidden
// parts that are all below MinCellCount and add up to k·(MinCellCount-1) are all
// MinCellCount-1. (A reader cannot tell which hidden parts are below MinCellCount, but a
// reader who guesses "all of them" must not be right about a value.) Hiding one more shown part
// gives the hidden ones room.
func (p *problem) pinned(s sum) bool {
	if p.hide[s.total] {
		return false
	}
	k, r, small, guarded := 0, 0, true, false
	for _, e := range s.parts {
		if p.hide[e] {
			k++
			r += p.val[e]
			small = small && p.val[e] < MinCellCount
			guarded = guarded || p.guarded(e)
		}
	}
	return k > 0 && (r == 0 && guarded || small && r == k*(MinCellCount-1))
}

// hiddenIn counts the hidden entries of a sum.
func (p *problem) hiddenIn(s sum) int {
	n := 0
	for _, e := range s.entries() {
		if p.hide[e] {
			n++
		}
	}
	return n
}

// smallestShown returns the shown, not fixed entry with the smallest count, or -1. Of equal
// ones it takes the last added: Report adds the cells of the cross table after their margins
// (the topic and governorate tables), so on a tie a cell is hidden rather than a one-way count.
func (p *problem) smallestShown(es []int) int {
	best := -1
	for _, e := range es {
		if p.hide[e] || p.fixed[e] {
			continue
		}
		if best < 0 || p.val[e] < p.val[best] || p.val[e] == p.val[best] && e > best {
			best = e
		}
	}
	return best
}

// complement picks the entry to hide so that hidden entry k is no longer exposed: the smallest
// shown entry of its sums, else of anything connected to it through sums (not through a fixed
// total: tables that only share the number of cases are independent).
func (p *problem) complement(k int) int {
	var near []int
	for _, si := range p.of[k] {
		near = append(near, p.sums[si].entries()...)
	}
	if c := p.smallestShown(near); c >= 0 {
		return c
	}
	seen := map[int]bool{k: true}
	queue := []int{k}
	var all []int
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		all = append(all, e)
		if p.fixed[e] && e != k {
			continue // a fixed total is shown: no change passes through it
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
	return p.smallestShown(all)
}

// exposed returns the hidden entries a reader can work out from the shown ones through the sums
// and the fact that no count is negative, in index order.
//
// A reader knows that the hidden counts x solve the sums (with the shown counts in them) and
// that x ≥ 0. A hidden count is safe when another solution changes it: a direction d that keeps
// every sum (A·d = 0), changes it (d_k ≠ 0) and lowers no hidden zero (d_z ≥ 0). Report's sums
// form a network: each count that is not fixed takes part in at most two sums, and the sums can
// be signed so that it enters one and leaves the other (a cross cell enters its row and leaves
// its column; a margin enters its one-way table and leaves its row or column; see orient); a
// count in one sum only joins it to a ground node, where no sum has to hold. Counts are then
// flows on edges between sums, every sum is a node where flow is conserved, and a direction is
// a cycle: a count that can go up or down is an edge usable both ways, a hidden zero only
// forwards, a shown count not at all. A hidden count is safe exactly when its edge lies on such
// a cycle, so the check is a graph search, exact, with no arithmetic to get wrong. Zeros marked
// zeroOK are not reported (they may be known), but still only move up.
func (p *problem) exposed() []int {
	for e, f := range p.fixed {
		if f && p.hide[e] {
			// The number of cases is below MinCellCount: every count of the report is at most
			// that, so all are hidden, and with nothing shown a reader has no number to start from.
			return nil
		}
	}
	tail, head := p.orient()
	ground := len(p.sums)
	type arc struct{ to, entry int }
	adj := make([][]arc, ground+1)
	for e, h := range p.hide {
		if !h || tail[e] < 0 {
			continue
		}
		adj[tail[e]] = append(adj[tail[e]], arc{head[e], e})
		if p.val[e] > 0 {
			adj[head[e]] = append(adj[head[e]], arc{tail[e], e})
		}
	}
	// reaches reports whether node to can be reached from node from without entry skip's edge.
	reaches := func(from, to, skip int) bool {
		seen := make([]bool, len(adj))
		stack := []int{from}
		seen[from] = true
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if n == to {
				return true
			}
			for _, a := range adj[n] {
				if a.entry != skip && !seen[a.to] {
					seen[a.to] = true
					stack = append(stack, a.to)
				}
			}
		}
		return false
	}
	var out []int
	for e := range p.hide {
		if !p.guarded(e) || tail[e] < 0 {
			continue // shown, a zero that may be known, or in no sum (nothing constrains it)
		}
		up := reaches(head[e], tail[e], e)                   // raise it, back along a cycle
		down := p.val[e] > 0 && reaches(tail[e], head[e], e) // lower it
		if !up && !down {
			out = append(out, e)
		}
	}
	return out
}

// orient signs the sums so that every count that is not fixed enters one sum and leaves the
// other (or the ground node, len(p.sums), for a count in one sum only) and returns each count's
// edge: tail[e] → head[e], or -1 for a count in no sum. In a sum, parts enter and the total
// leaves; a sum signed −1 swaps the two. It panics when the sums are not a network, which Report
// never builds (TestStatsReportCannotBeUndone runs it on random data).
func (p *problem) orient() (tail, head []int) {
	coef := func(s, e int) int {
		if p.sums[s].total == e {
			return -1
		}
		return 1
	}
	sign := make([]int, len(p.sums))
	for start := range p.sums {
		if sign[start] != 0 {
			continue
		}
		sign[start] = 1
		queue := []int{start}
		for len(queue) > 0 {
			s := queue[0]
			queue = queue[1:]
			for _, e := range p.sums[s].entries() {
				if p.fixed[e] || len(p.of[e]) != 2 {
					continue
				}
				o := p.of[e][0]
				if o == s {
					o = p.of[e][1]
				}
				want := -sign[s] * coef(s, e) * coef(o, e)
				switch sign[o] {
				case 0:
					sign[o] = want
					queue = append(queue, o)
				case want:
				default:
					panic("stats: the sums of the report are not a network")
				}
			}
		}
	}
	ground := len(p.sums)
	tail, head = make([]int, len(p.val)), make([]int, len(p.val))
	for e := range p.val {
		tail[e], head[e] = -1, -1
		if p.fixed[e] || len(p.of[e]) == 0 {
			continue
		}
		if len(p.of[e]) > 2 {
			panic("stats: a count takes part in more than two sums")
		}
		tail[e], head[e] = ground, ground
		for _, s := range p.of[e] {
			if sign[s]*coef(s, e) > 0 {
				head[e] = s
			} else {
				tail[e] = s
			}
		}
	}
	return tail, head
}
