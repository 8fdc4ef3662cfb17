package flows

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf16"

	"github.com/penahbot/penah/locales"
)

// Severity says whether a problem blocks publishing.
type Severity int

// Severities.
const (
	Error Severity = iota + 1
	Warning
)

// Problem is one thing the validator found. It always names the file and line, and the state and
// language when the problem has one.
type Problem struct {
	Severity Severity
	File     string
	Line     int
	State    StateID
	Lang     locales.Lang
	Msg      string
}

func (p Problem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	if p.Severity == Warning {
		b.WriteString("warning: ")
	} else {
		b.WriteString("error: ")
	}
	if p.State != "" {
		fmt.Fprintf(&b, "state %q: ", p.State)
	}
	if p.Lang != "" {
		fmt.Fprintf(&b, "[%s] ", p.Lang)
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is the validator's report.
type Problems []Problem

// Errors returns only the problems that block publishing.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == Error {
			out = append(out, p)
		}
	}
	return out
}

// Chrome button ids. They start with '~' so they never collide with a flow's choice ids.
const (
	ChromeBack = ChoiceID("~back")
	ChromeSkip = ChoiceID("~skip")
	ChromeDone = ChoiceID("~done")
	ChromeExit = ChoiceID("~exit")
)

// CallbackData is what a flow button carries back: flow, revision, state and choice, so a press on
// an old message is recognised. The validator checks that it fits MaxCallbackBytes.
func CallbackData(flow ID, rev int, state StateID, choice ChoiceID) string {
	return fmt.Sprintf("%s:%d:%s:%s", flow, rev, state, choice)
}

// callbackDataLen is len(CallbackData(flow, rev, state, choice)) without building the string:
// the validator checks it for every button, and builds the string only for a message.
func callbackDataLen(flow ID, rev int, state StateID, choice ChoiceID) int {
	digits := 1
	if rev < 0 {
		digits++ // the minus sign
	}
	for r := rev; r >= 10 || r <= -10; r /= 10 {
		digits++
	}
	return len(flow) + digits + len(state) + len(choice) + 3 // three colons
}

var (
	flowIDRe   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	choiceIDRe = regexp.MustCompile(`^[a-z0-9_]+$`)
	placeRe    = regexp.MustCompile(`\{[^{}\s]*\}`)
)

// Placeholders texts may contain.
const (
	PlaceAnswers = "{answers}"
	PlaceRef     = "{ref}"
	PlaceCode    = "{code}"
)

// TextLen counts a text as Telegram does: in UTF-16 code units.
func TextLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r) // 2 for characters outside the BMP (most emoji), else 1
	}
	return n
}

// textOver returns the TextLen of s and whether it is over max. Every UTF-16 code unit takes at
// least one byte of UTF-8 (an invalid byte counts as one unit), so a text of at most max bytes,
// as most are, is not counted.
func textOver(s string, max int) (int, bool) {
	if len(s) <= max {
		return 0, false
	}
	n := TextLen(s)
	return n, n > max
}

// Validate checks a flow against every rule of the publish gate and returns what it found,
// errors first in file order. A flow with no errors may be published.
func Validate(f *Flow) Problems {
	v := &validator{f: f}
	v.flowLevel()
	fields := v.states()
	v.conditions(fields)
	v.graph()
	sort.SliceStable(v.out, func(i, j int) bool {
		if v.out[i].Severity != v.out[j].Severity {
			return v.out[i].Severity < v.out[j].Severity
		}
		return v.out[i].Line < v.out[j].Line
	})
	return v.out
}

type validator struct {
	f   *Flow
	out Problems
}

func (v *validator) add(sev Severity, path string, state StateID, lang locales.Lang, format string, args ...any) {
	v.out = append(v.out, Problem{
		Severity: sev, File: v.f.File, Line: v.f.Line(path), State: state, Lang: lang,
		Msg: fmt.Sprintf(format, args...),
	})
}

func (v *validator) errf(path string, state StateID, format string, args ...any) {
	v.add(Error, path, state, "", format, args...)
}

func (v *validator) flowLevel() {
	f := v.f
	if !flowIDRe.MatchString(string(f.ID)) || len(f.ID) > MaxFlowIDBytes {
		v.errf("$.id", "", "flow id %q must match [a-z][a-z0-9_]* and be at most %d bytes", f.ID, MaxFlowIDBytes)
	}
	if f.Revision < 1 {
		v.errf("$.revision", "", "revision must be a positive number")
	}
	if len(f.Languages) == 0 {
		v.errf("$.languages", "", "no languages declared")
	}
	seen := map[locales.Lang]bool{}
	for i, l := range f.Languages {
		if _, ok := locales.Parse(string(l)); !ok {
			v.errf(fmt.Sprintf("$.languages[%d]", i), "", "unsupported language %q (supported: ar, ckb, kmr, en)", l)
		}
		if seen[l] {
			v.errf(fmt.Sprintf("$.languages[%d]", i), "", "language %q declared twice", l)
		}
		seen[l] = true
	}
	if !f.HasLanguage(f.Base) {
		v.errf("$.base", "", "base language %q is not among the declared languages", f.Base)
	}
	for i, l := range f.Reviewed {
		if !f.HasLanguage(l) {
			v.errf(fmt.Sprintf("$.reviewed[%d]", i), "", "reviewed language %q is not declared", l)
		}
	}
	for _, l := range f.Languages {
		if !f.IsReviewed(l) {
			v.add(Warning, "$.reviewed", "", l, "translation not yet reviewed by a native speaker")
		}
	}
	if len(f.States) == 0 {
		v.errf("$.states", "", "flow has no states")
	}
	if len(f.States) > MaxStates {
		v.errf("$.states", "", "flow has %d states, at most %d", len(f.States), MaxStates)
	}
	if _, ok := f.State(f.Start); !ok {
		v.errf("$.start", "", "start state %q does not exist", f.Start)
	}
	if f.Consent != "" {
		s, ok := f.State(f.Consent)
		switch {
		case !ok:
			v.errf("$.consent", "", "consent state %q does not exist", f.Consent)
		case s.Kind() != KindChoice:
			v.errf(statePath(s.Index), s.ID, "the consent state must be a single choice")
		default:
			var yes, no int
			for _, c := range s.Choices {
				if c.Consent {
					yes++
				} else {
					no++
				}
			}
			if yes == 0 {
				v.errf(statePath(s.Index)+".choices", s.ID, "the consent state has no choice with consent: true")
			}
			if no == 0 {
				v.errf(statePath(s.Index)+".choices", s.ID, "the consent state must offer a way to refuse (a choice without consent: true)")
			}
		}
	}
}

// fieldInfo is what the validator knows about a saved field.
type fieldInfo struct {
	state     *State
	sensitive bool
	values    map[string]bool // possible values of a routing field
}

func (v *validator) states() map[FieldID]*fieldInfo {
	f := v.f
	fields := map[FieldID]*fieldInfo{}
	seen := map[StateID]int{}
	for i, s := range f.States {
		p := statePath(i)
		if j, dup := seen[s.ID]; dup {
			v.errf(p+".id", s.ID, "duplicate state id (first defined as state %d)", j+1)
		} else {
			seen[s.ID] = i
		}
		if !flowIDRe.MatchString(string(s.ID)) || len(s.ID) > MaxStateIDBytes {
			v.errf(p+".id", s.ID, "state id must match [a-z][a-z0-9_]* and be at most %d bytes", MaxStateIDBytes)
		}
		if s.Kind() == 0 {
			if s.Input != "" && !slices.Contains([]string{"text", "number", "phone", "governorate"}, s.Input) {
				v.errf(p+".input", s.ID, "unknown input %q (text, number, phone or governorate)", s.Input)
			} else {
				v.errf(p, s.ID, "a state may have only one of choices, input, submit and end")
			}
			continue
		}
		v.texts(p+".say", s, textName("say"), s.Say, s.Kind() != KindSubmit)
		v.keys(p, s)
		v.choices(p, s)
		if s.Save != "" {
			if !flowIDRe.MatchString(string(s.Save)) || len(s.Save) > MaxFieldIDBytes {
				v.errf(p+".save", s.ID, "field name %q must match [a-z][a-z0-9_]* and be at most %d bytes", s.Save, MaxFieldIDBytes)
			}
			if old, dup := fields[s.Save]; dup {
				v.errf(p+".save", s.ID, "field %q is already saved by state %q", s.Save, old.state.ID)
			} else {
				fields[s.Save] = newFieldInfo(s)
			}
			v.texts(p+".title", s, textName("title"), s.Title, true)
		}
	}
	for i, s := range f.States {
		for _, name := range slices.Sorted(maps.Keys(s.Set)) { // sorted, as in texts
			val := s.Set[name]
			p := fmt.Sprintf("%s.set.%s", statePath(i), name)
			if !flowIDRe.MatchString(string(name)) || !choiceIDRe.MatchString(val) {
				v.errf(p, s.ID, "set %s: %q: field and value must be plain ids", name, val)
			}
			if fi, ok := fields[name]; ok && fi.state != nil {
				v.errf(p, s.ID, "field %q is set here but saved by state %q", name, fi.state.ID)
				continue
			}
			if fields[name] == nil {
				fields[name] = &fieldInfo{values: map[string]bool{}}
			}
			fields[name].values[val] = true
		}
	}
	return fields
}

func newFieldInfo(s *State) *fieldInfo {
	fi := &fieldInfo{state: s, sensitive: s.SensitiveField(), values: map[string]bool{}}
	for _, c := range s.Choices {
		fi.values[string(c.ID)] = true
	}
	if s.Kind() == KindGovernorate {
		for _, g := range locales.Governorates {
			fi.values[g] = true
		}
	}
	return fi
}

// texts checks that a text exists in every declared language, fits Telegram and uses only known
// placeholders.
func (v *validator) texts(path string, s *State, what fmt.Stringer, t Text, required bool) {
	if len(t) == 0 {
		if required {
			v.errf(path, s.ID, "missing %s", what)
		}
		return
	}
	for _, l := range v.f.Languages {
		txt := strings.TrimSpace(t[l])
		if txt == "" {
			v.add(Error, path, s.ID, l, "missing text for %s", what)
			continue
		}
		if n, over := textOver(txt, MaxTextChars-maxChromeText); over {
			v.add(Error, path+"."+string(l), s.ID, l, "%s is %d characters, at most %d", what, n, MaxTextChars-maxChromeText)
		}
		if strings.IndexByte(txt, '{') < 0 {
			continue // no placeholder; most texts have none, and the regexp is the slow part
		}
		for _, ph := range placeRe.FindAllString(txt, -1) {
			switch ph {
			case PlaceAnswers, PlaceRef, PlaceCode:
			default:
				v.add(Error, path+"."+string(l), s.ID, l, "unknown placeholder %s in %s (known: {answers}, {ref}, {code})", ph, what)
			}
		}
	}
	if v.declared(t) {
		return
	}
	for _, l := range slices.Sorted(maps.Keys(t)) { // sorted: the report must not change from run to run
		if !v.f.HasLanguage(l) {
			v.add(Error, path+"."+string(l), s.ID, l, "text in a language the flow does not declare")
		}
	}
}

// declared reports whether every language of t is declared by the flow.
func (v *validator) declared(t Text) bool {
	for l := range t {
		if !v.f.HasLanguage(l) {
			return false
		}
	}
	return true
}

// textName names a text in messages ("say", "title").
type textName string

func (n textName) String() string { return string(n) }

// choiceLabel names a choice's label in messages, formatted only when a message needs it.
type choiceLabel ChoiceID

func (c choiceLabel) String() string { return fmt.Sprintf("label of choice %q", string(c)) }

// maxChromeText is room kept in every message for chrome the engine may add (a re-ask line or
// the summary's answers are counted separately at run time and split by the Telegram edge).
const maxChromeText = 0

// keys checks that each key fits the state's kind.
func (v *validator) keys(p string, s *State) {
	k := s.Kind()
	if (s.Min != nil || s.Max != nil) && k != KindNumber {
		v.errf(p, s.ID, "min and max are only for input: number")
	}
	if k == KindNumber && s.Min != nil && s.Max != nil && *s.Min > *s.Max {
		v.errf(p+".min", s.ID, "min %d is greater than max %d", *s.Min, *s.Max)
	}
	if s.MaxLen != 0 && k != KindText {
		v.errf(p+".max_len", s.ID, "max_len is only for input: text")
	}
	if s.MaxLen < 0 || s.MaxLen > MaxTextAnswer {
		v.errf(p+".max_len", s.ID, "max_len must be between 1 and %d", MaxTextAnswer)
	}
	if s.Multi && k != KindMulti {
		v.errf(p+".multi", s.ID, "multi: true needs choices")
	}
	if s.Save != "" && !k.Question() {
		v.errf(p+".save", s.ID, "a %s state has no answer to save", k)
	}
	if len(s.Title) > 0 && s.Save == "" {
		v.errf(p+".title", s.ID, "title is only for states that save an answer")
	}
	if s.Optional && !k.Question() {
		v.errf(p+".optional", s.ID, "optional is only for questions")
	}
	if s.Sensitive && !k.Question() {
		v.errf(p+".sensitive", s.ID, "sensitive: true is only for questions")
	}
	switch {
	case k == KindEnd && len(s.Next) > 0:
		v.errf(p+".next", s.ID, "an end state has no next")
	case k == KindChoice:
		for i, c := range s.Choices {
			if len(c.Next) == 0 && len(s.Next) == 0 {
				v.errf(fmt.Sprintf("%s.choices[%d]", p, i), s.ID, "dead end: choice %q has no next and the state has none", c.ID)
			}
		}
	case k != KindEnd && len(s.Next) == 0:
		v.errf(p, s.ID, "dead end: a %s state needs next", k)
	}
	v.next(p+".next", s, s.Next)
}

func (v *validator) next(p string, s *State, n Next) {
	for i, b := range n {
		bp := fmt.Sprintf("%s[%d]", p, i)
		if len(n) == 1 && b.When == nil {
			bp = p
		}
		if b.To == "" {
			v.errf(bp, s.ID, "branch has no target (to)")
		} else if _, ok := v.f.State(b.To); !ok {
			v.errf(bp, s.ID, "unknown target state %q", b.To)
		}
		last := i == len(n)-1
		if last && b.When != nil {
			v.errf(bp, s.ID, "the last branch of next must have no condition, so there is always a way on")
		}
		if !last && b.When == nil {
			v.errf(bp, s.ID, "branch without a condition before the last one: the branches after it never apply")
		}
	}
}

func (v *validator) choices(p string, s *State) {
	k := s.Kind()
	f := v.f
	if len(s.Choices) > MaxChoices {
		v.errf(p+".choices", s.ID, "%d choices, at most %d", len(s.Choices), MaxChoices)
	}
	seen := map[ChoiceID]bool{}
	for i, c := range s.Choices {
		cp := fmt.Sprintf("%s.choices[%d]", p, i)
		if seen[c.ID] {
			v.errf(cp+".id", s.ID, "duplicate choice id %q", c.ID)
		}
		seen[c.ID] = true
		if !choiceIDRe.MatchString(string(c.ID)) || len(c.ID) > MaxChoiceIDBytes {
			v.errf(cp+".id", s.ID, "choice id %q must match [a-z0-9_]+ and be at most %d bytes", c.ID, MaxChoiceIDBytes)
		}
		v.texts(cp+".label", s, choiceLabel(c.ID), c.Label, true)
		for _, l := range f.Languages {
			if n, over := textOver(c.Label[l], MaxLabelChars); over {
				v.add(Error, cp+".label."+string(l), s.ID, l, "label of choice %q is %d characters, at most %d", c.ID, n, MaxLabelChars)
			}
		}
		if callbackDataLen(f.ID, RevisionReserve, s.ID, c.ID) > MaxCallbackBytes {
			d := CallbackData(f.ID, RevisionReserve, s.ID, c.ID)
			v.errf(cp+".id", s.ID, "callback data %q is %d bytes, at most %d: shorten the flow, state or choice id", d, len(d), MaxCallbackBytes)
		}
		if k == KindMulti && len(c.Next) > 0 {
			v.errf(cp+".next", s.ID, "choices of a multi state cannot have their own next")
		}
		if c.Consent && s.ID != f.Consent {
			v.errf(cp+".consent", s.ID, "consent: true outside the consent state %q", f.Consent)
		}
		if c.Exclusive && k != KindMulti {
			v.errf(cp+".exclusive", s.ID, "exclusive: true is only for choices of a multi state")
		}
		v.next(cp+".next", s, c.Next)
	}
	// Chrome buttons: Back and Exit on every question, Skip when optional, Done on multi.
	buttons := len(s.Choices) + 2
	if k == KindGovernorate {
		buttons += len(locales.Governorates)
	}
	if s.Optional {
		buttons++
	}
	if k == KindMulti {
		buttons++
	}
	if k.WaitsForInput() && buttons > MaxButtons {
		v.errf(p+".choices", s.ID, "%d buttons with Back, Skip, Done and Exit, at most %d", buttons, MaxButtons)
	}
	for _, chrome := range []ChoiceID{ChromeBack, ChromeSkip, ChromeDone, ChromeExit} {
		if callbackDataLen(f.ID, RevisionReserve, s.ID, chrome) > MaxCallbackBytes {
			d := CallbackData(f.ID, RevisionReserve, s.ID, chrome)
			v.errf(p+".id", s.ID, "callback data %q is %d bytes, at most %d: shorten the flow or state id", d, len(d), MaxCallbackBytes)
			break
		}
	}
	if k == KindGovernorate {
		for _, g := range locales.Governorates {
			if callbackDataLen(f.ID, RevisionReserve, s.ID, ChoiceID(g)) > MaxCallbackBytes {
				d := CallbackData(f.ID, RevisionReserve, s.ID, ChoiceID(g))
				v.errf(p+".id", s.ID, "callback data %q is %d bytes, at most %d: shorten the flow or state id", d, len(d), MaxCallbackBytes)
				break
			}
		}
	}
	// A question that saves an answer must be skippable (the consent state excepted).
	if s.Save != "" && s.ID != f.Consent && !s.Optional {
		skippable := false
		for _, c := range s.Choices {
			skippable = skippable || c.Skip
		}
		if !skippable {
			v.errf(p, s.ID, "question cannot be skipped: add optional: true or a choice with skip: true")
		}
	}
	for i, c := range s.Choices {
		if c.Skip && s.Save == "" {
			v.errf(fmt.Sprintf("%s.choices[%d].skip", p, i), s.ID, "skip: true on a state that saves nothing")
		}
	}
}

func (v *validator) conditions(fields map[FieldID]*fieldInfo) {
	for i, s := range v.f.States {
		p := statePath(i)
		v.branchConds(p+".next", s, s.Next, fields)
		for j, c := range s.Choices {
			v.branchConds(fmt.Sprintf("%s.choices[%d].next", p, j), s, c.Next, fields)
		}
	}
}

func (v *validator) branchConds(p string, s *State, n Next, fields map[FieldID]*fieldInfo) {
	for i, b := range n {
		if b.When != nil {
			v.cond(fmt.Sprintf("%s[%d].when", p, i), s, b.When, fields)
		}
	}
}

func (v *validator) cond(p string, s *State, c *Cond, fields map[FieldID]*fieldInfo) {
	if c == nil {
		v.errf(p, s.ID, "empty condition")
		return
	}
	forms := 0
	if c.Field != "" {
		forms++
	}
	if len(c.All) > 0 {
		forms++
	}
	if len(c.Any) > 0 {
		forms++
	}
	if forms != 1 || (c.Field != "" && (len(c.Is) == 0) == (len(c.Not) == 0)) || (c.Field == "" && len(c.Is)+len(c.Not) > 0) {
		v.errf(p, s.ID, "a condition is exactly one of {field, is}, {field, not}, {all: [...]}, {any: [...]}")
		return
	}
	for i, sub := range c.All {
		v.cond(fmt.Sprintf("%s.all[%d]", p, i), s, sub, fields)
	}
	for i, sub := range c.Any {
		v.cond(fmt.Sprintf("%s.any[%d]", p, i), s, sub, fields)
	}
	if c.Field == "" {
		return
	}
	fi, ok := fields[c.Field]
	switch {
	case !ok:
		v.errf(p+".field", s.ID, "condition on field %q, which no state saves or sets", c.Field)
	case fi.sensitive:
		v.errf(p+".field", s.ID, "condition on field %q, which holds a free-text or sensitive answer: only routing fields may be tested", c.Field)
	default:
		for _, val := range append(append([]string{}, c.Is...), c.Not...) {
			if !fi.values[val] {
				v.errf(p, s.ID, "field %q never has the value %q", c.Field, val)
			}
		}
	}
}

// stateGraph is the flow's states by position, so that the walks below need no maps: out[i]
// lists where state i can go. A target is the position of the state its id names (the first, if
// the id is duplicated); targets that name no state are left out, as no walk could follow them.
type stateGraph struct {
	f     *Flow
	out   [][]edge
	stack []int
}

type edge struct {
	to      int
	consent bool // the edge is a consenting choice
}

func newStateGraph(f *Flow) *stateGraph {
	g := &stateGraph{f: f, out: make([][]edge, len(f.States))}
	var all []edge // one array for the edges of every state
	ends := make([]int, len(f.States))
	add := func(n Next, consent bool) {
		for _, b := range n {
			if t, ok := f.State(b.To); ok {
				all = append(all, edge{to: t.Index, consent: consent})
			}
		}
	}
	for i, s := range f.States {
		for _, c := range s.Choices {
			nx := c.Next
			if len(nx) == 0 {
				nx = s.Next
			}
			add(nx, c.Consent)
		}
		if s.Kind() != KindChoice {
			add(s.Next, false)
		}
		ends[i] = len(all)
	}
	from := 0
	for i, to := range ends {
		g.out[i] = all[from:to:to]
		from = to
	}
	return g
}

// pos returns the position of the state an id names, as edges do.
func (g *stateGraph) pos(id StateID) int {
	s, _ := g.f.State(id)
	return s.Index
}

// walk marks in seen every state reachable from state from along edges that pass the filter.
func (g *stateGraph) walk(from int, follow func(s *State, e edge) bool, seen []bool) {
	g.stack = append(g.stack[:0], from)
	for len(g.stack) > 0 {
		i := g.stack[len(g.stack)-1]
		g.stack = g.stack[:len(g.stack)-1]
		if seen[i] {
			continue
		}
		seen[i] = true
		s := g.f.States[i]
		for _, e := range g.out[i] {
			if follow(s, e) {
				g.stack = append(g.stack, e.to)
			}
		}
	}
}

func (v *validator) graph() {
	f := v.f
	if _, ok := f.State(f.Start); !ok {
		return
	}
	if len(f.States) > MaxStates {
		return // already an error; the walks below are quadratic, so a huge file would stall the gate
	}
	g := newStateGraph(f)
	waits := func(i int) bool { return f.States[i].Kind().WaitsForInput() }
	noWait := func(_ *State, e edge) bool { return !waits(e.to) }
	all := func(*State, edge) bool { return true }
	reach := make([]bool, len(f.States))
	g.walk(g.pos(f.Start), all, reach)
	for i, s := range f.States {
		if !reach[g.pos(s.ID)] {
			v.errf(statePath(i), s.ID, "unreachable from start state %q", f.Start)
		}
	}
	// Every reachable state must be able to reach an end: otherwise a person is caught in a loop.
	seen := make([]bool, len(f.States))
	for i, s := range f.States {
		if !reach[g.pos(s.ID)] || s.Kind() == 0 {
			continue
		}
		clear(seen)
		g.walk(g.pos(s.ID), all, seen)
		ends := false
		for j, ok := range seen {
			if ok && f.States[j].Kind() == KindEnd {
				ends = true
				break
			}
		}
		if !ends {
			v.errf(statePath(i), s.ID, "loop with no way out: no end state can be reached from here")
		}
		// A loop made only of states that wait for nothing would spin forever.
		if !s.Kind().WaitsForInput() {
			for _, e := range g.out[i] {
				if waits(e.to) {
					continue
				}
				clear(seen)
				if g.walk(e.to, noWait, seen); seen[g.pos(s.ID)] {
					v.errf(statePath(i), s.ID, "loop of messages with no question: the conversation would never stop")
					break
				}
			}
		}
	}
	// Informed consent before any answer is kept.
	beforeConsent := make([]bool, len(f.States))
	g.walk(g.pos(f.Start), func(s *State, e edge) bool { return !e.consent }, beforeConsent)
	for i, s := range f.States {
		if beforeConsent[g.pos(s.ID)] && s.Save != "" && s.ID != f.Consent {
			v.errf(statePath(i), s.ID, "saves an answer (%q) but can be reached before consent", s.Save)
		}
	}
	// {ref} and {code} exist only after a case was submitted.
	beforeSubmit := make([]bool, len(f.States))
	g.walk(g.pos(f.Start), func(s *State, e edge) bool { return s.Kind() != KindSubmit }, beforeSubmit)
	for i, s := range f.States {
		if !beforeSubmit[g.pos(s.ID)] {
			continue
		}
		for _, l := range f.Languages {
			if t := s.Say[l]; strings.Contains(t, PlaceRef) || strings.Contains(t, PlaceCode) {
				v.add(Error, statePath(i)+".say."+string(l), s.ID, l, "{ref} and {code} can only be used after a submit state")
			}
		}
	}
}
