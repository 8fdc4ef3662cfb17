package routing

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/locales"
)

// FuzzParseRules feeds arbitrary bytes to Parse and whatever it accepts to Validate: neither may
// panic or hang, and every problem must point into the file. Rules that validate must route
// random cases (fields and values, known and not, skipped and multi-valued, any language)
// without panicking, to a decision that an independent reading of the rules agrees with.
func FuzzParseRules(f *testing.F) {
	f.Add(DefaultYAML())
	f.Add([]byte(baseRules))
	f.Add([]byte(teamRules))
	f.Add([]byte(manyRules(3)))
	for _, s := range []string{
		"spec: 1\ndefault_team: d\n",
		"spec: 1\ndefault_team: d\npriorities:\n  - name: a\n    when: {}\n    priority: 1\n  - name: b\n    when: {}\n    priority: 2\n",
		"spec: 1\npriorities: [{name: a, when: {topic: [other]}, priority: 2}]\n",
		"spec: 1\nteams:\n  - name: a\n    when: {language: [kmr], services: [medical, legal]}\n    team: x\n",
		"spec: 1\n? [a]\n: b\n",
		"spec: 1\nteams: [[]]\n",
		"{spec: 1, default_team: d, teams: [{name: a, when: {}, team: t}]}",
		"spec: 0x1\ndefault_team: d\n",
		"spec: 1\n---\n",
		"\ufeff",
	} {
		f.Add([]byte(s))
	}
	v := libraryVocabulary(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		// The fuzzer has no time limit per input: crash on a hang, so the input is kept.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				panic(fmt.Sprintf("Parse or Validate hangs on %q", data))
			}
		}()
		r, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if r != nil {
				t.Fatalf("Parse returned rules and an error: %v", err)
			}
			return
		}
		// Lines as YAML counts them: a CR alone ends a line too.
		lines := bytes.Count(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\n")) + bytes.Count(bytes.ReplaceAll(data, []byte("\r\n"), nil), []byte("\r")) + 1
		ps := r.Validate(v)
		for _, p := range ps {
			if p.File != "fuzz.yaml" || p.Line < 1 || p.Line > lines {
				t.Errorf("problem outside the file (%d lines): %s", lines, p)
			}
		}
		if len(ps) > 0 {
			return
		}
		h := fnv.New64a()
		h.Write(data)
		rng := rand.New(rand.NewPCG(h.Sum64(), 1))
		for range 50 {
			fields, lang := randomCase(rng, v)
			d := r.Route(fields, lang)
			checkDecision(t, r, fields, lang, d)
		}
	})
}

// randomCase draws a case: each field skipped, given one value, or (any field) several; values
// mostly ones the flows produce, sometimes not; any language or none.
func randomCase(rng *rand.Rand, v *Vocabulary) (map[flows.FieldID][]string, locales.Lang) {
	fields := map[flows.FieldID][]string{}
	for _, f := range append(v.Fields(), "safe_phone", "unknown") {
		vals := v.Values(f)
		switch rng.IntN(4) {
		case 0: // skipped
		case 1:
			fields[f] = nil
		default:
			n := 1 + rng.IntN(3)
			for range n {
				if len(vals) == 0 || rng.IntN(8) == 0 {
					fields[f] = append(fields[f], fmt.Sprintf("junk%d", rng.IntN(3)))
				} else {
					fields[f] = append(fields[f], vals[rng.IntN(len(vals))])
				}
			}
		}
	}
	langs := append(slices.Clone(locales.All), "", "xx")
	return fields, langs[rng.IntN(len(langs))]
}

// checkDecision holds d to a plain reading of the rules: the first rule of each list whose every
// field has a listed value decides; otherwise the defaults.
func checkDecision(t *testing.T, r *Rules, fields map[flows.FieldID][]string, lang locales.Lang, d Decision) {
	t.Helper()
	first := func(rules []*Rule) *Rule {
	next:
		for _, rule := range rules {
			for _, c := range rule.When {
				have := fields[c.Field]
				if c.Field == LanguageField {
					have = nil
					if lang != "" {
						have = []string{string(lang)}
					}
				}
				if !slices.ContainsFunc(have, func(s string) bool { return slices.Contains(c.Values, s) }) {
					continue next
				}
			}
			return rule
		}
		return nil
	}
	wantP, wantPRule := DefaultPriority, ""
	if rule := first(r.Priorities); rule != nil {
		wantP, wantPRule = rule.Priority, rule.Name
	}
	wantT, wantTRule := r.DefaultTeam, ""
	if rule := first(r.Teams); rule != nil {
		wantT, wantTRule = rule.Team, rule.Name
	}
	if d.Priority != wantP || d.PriorityRule != wantPRule || d.Team != wantT || d.TeamRule != wantTRule {
		t.Fatalf("fields %v lang %q: decision %+v; want priority %d by %q, team %q by %q", fields, lang, d, wantP, wantPRule, wantT, wantTRule)
	}
	if d.Priority < HighestPriority || d.Priority > LowestPriority || d.Team == "" || len(d.Why) == 0 {
		t.Fatalf("decision out of range: %+v", d)
	}
}

// TestRoutingRandomCases runs the fuzz target's check over the shipped rules on many random cases,
// so that it runs on every `go test`, not only when fuzzing.
func TestRoutingRandomCases(t *testing.T) {
	v := libraryVocabulary(t)
	for _, src := range [][]byte{DefaultYAML(), []byte(teamRules), []byte(baseRules)} {
		r, err := Load(src, "rules.yaml", v)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for range 2000 {
			fields, lang := randomCase(rng, v)
			checkDecision(t, r, fields, lang, r.Route(fields, lang))
		}
	}
}
