package routing

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/penahbot/penah/locales"
)

// baseRules passes Validate. Each case of TestRoutingValidate breaks one rule by editing it, so the
// lines in the expected problems are lines of this text (line 1 is "spec: 1").
const baseRules = `spec: 1
default_team: default
priorities:
  - name: danger
    when: {urgency: [immediate]}
    priority: 1
  - name: work
    when:
      topic: [forced_work, forced_marriage]
      services:
        - legal
        - shelter
    priority: 2
teams:
  - name: duhok-kmr
    when: {governorate: [duhok], language: [kmr]}
    team: duhok
  - name: rest
    when: {}
    team: default
`

// edit replaces old with new in baseRules, once; the test fails if old is not there exactly once.
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if n := strings.Count(baseRules, old); n != 1 {
		t.Fatalf("%q occurs %d times in baseRules", old, n)
	}
	return strings.Replace(baseRules, old, new, 1)
}

func TestRoutingValidateBaseRulesAreClean(t *testing.T) {
	r, err := Parse([]byte(baseRules), "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if ps := r.Validate(libraryVocabulary(t)); len(ps) > 0 {
		t.Fatal(ps.Err())
	}
	if ps := r.Validate(libraryVocabulary(t), WithTeams([]string{"default", "duhok"})); len(ps) > 0 {
		t.Fatal(ps.Err())
	}
}

// want is one expected problem: its line, its rule and a part of its message.
type want struct {
	line int
	rule string
	msg  string
}

func TestRoutingValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		old  string
		new  string
		opts []Option
		want []want
	}{
		{"unknown field, misspelt", "topic: [forced_work", "topc: [forced_work", nil, []want{
			{9, "work", `unknown field "topc" (did you mean "topic"?); routing fields are consent, urgency, services, topic, clinical_window, age_band, governorate, location_type, officer_gender, contact_method, share_with, language`}}},
		{"unknown field", "urgency: [immediate]", "perpetrator: [immediate]", nil, []want{
			{5, "danger", `unknown field "perpetrator"; routing fields are`}}},
		{"a sealed field", "urgency: [immediate]", "safe_phone: [immediate]", nil, []want{
			{5, "danger", `field "safe_phone" is a free or sensitive answer: it is sealed and never used for routing`}}},
		{"unknown value, with a suggestion", "[forced_work, forced_marriage]", "[forced_labour, forced_marriage]", nil, []want{
			{9, "work", `topic: unknown value "forced_labour" (did you mean "forced_work"?); topic takes violence_home, sexual_violence, forced_marriage, forced_work, threats, other, prefer_not`}}},
		{"unknown value in a block list", "        - legal\n", "        - legl\n", nil, []want{
			{11, "work", `services: unknown value "legl" (did you mean "legal"?); services takes medical, psychosocial, legal, shelter, livelihood, information, talk`}}},
		{"two unknown values: both reported", "        - legal\n        - shelter\n", "        - lawyer\n        - house\n", nil, []want{
			{11, "work", `services: unknown value "lawyer"`}, {12, "work", `services: unknown value "house"`}}},
		{"unknown governorate", "governorate: [duhok]", "governorate: [dohuk]", nil, []want{
			{16, "duhok-kmr", `governorate: unknown value "dohuk" (did you mean "duhok"?); governorate takes duhok, nineveh, erbil`}}},
		{"unknown language", "language: [kmr]", "language: [ku]", nil, []want{
			{16, "duhok-kmr", `language: unknown value "ku"; language takes ar, ckb, kmr, en`}}},
		{"no values", "urgency: [immediate]", "urgency: []", nil, []want{
			{5, "danger", `urgency: no values, so the rule could never match; urgency takes immediate, soon, not_now`}}},
		{"a value twice", "[forced_work, forced_marriage]", "[forced_work, forced_work]", nil, []want{
			{9, "work", `topic: value "forced_work" listed twice`}}},
		{"priority 0", "priority: 1", "priority: 0", nil, []want{{6, "danger", "priority 0: must be 1 to 3 (1 is the most urgent)"}}},
		{"priority 4", "priority: 2", "priority: 4", nil, []want{{13, "work", "priority 4: must be 1 to 3"}}},
		{"priority -1", "priority: 2", "priority: -1", nil, []want{{13, "work", "priority -1: must be 1 to 3"}}},
		{"no priority", "    priority: 1\n", "", nil, []want{{4, "danger", `no "priority" (1 to 3)`}}},
		{"no team", "    team: duhok\n", "", nil, []want{{15, "duhok-kmr", `no "team"`}}},
		{"team name with capitals", "team: duhok", "team: Duhok", nil, []want{
			{17, "duhok-kmr", `team: team name "Duhok": use lowercase letters, digits, - and _, starting with a letter, at most 32 bytes`}}},
		{"empty team name", "team: duhok", `team: ""`, nil, []want{{17, "duhok-kmr", "team: a team name is needed"}}},
		{"unknown team", "", "", []Option{WithTeams([]string{"default", "dohuk", "erbil"})}, []want{
			{17, "duhok-kmr", `team: unknown team "duhok" (did you mean "dohuk"?); the teams are default, dohuk, erbil`}}},
		{"unknown default team", "", "", []Option{WithTeams([]string{"duhok"})}, []want{
			{2, "", `default_team: unknown team "default"; the teams are duhok`},
			{20, "rest", `team: unknown team "default"; the teams are duhok`}}},
		{"no teams at all", "", "", []Option{WithTeams(nil)}, nil}, // nil: not checked
		{"no teams yet", "", "", []Option{WithTeams([]string{})}, []want{
			{2, "", `default_team: unknown team "default"; there are no teams yet`},
			{17, "duhok-kmr", `unknown team "duhok"; there are no teams yet`},
			{20, "rest", `unknown team "default"; there are no teams yet`}}},
		{"no default team", "default_team: default\n", "", nil, []want{
			{1, "", `missing "default_team": the team that receives every case no team rule matches`}}},
		{"bad default team", "default_team: default", "default_team: the default", nil, []want{
			{2, "", `default_team: team name "the default": use lowercase letters`}}},
		{"rule name with capitals", "name: danger", "name: Danger", nil, []want{
			{4, "Danger", "rule name must be lowercase letters, digits and -, at most 40 bytes"}}},
		{"rule name with _", "name: danger", "name: in_danger", nil, []want{{4, "in_danger", "rule name must be"}}},
		{"no rule name", "  - name: danger\n    when", "  - when", nil, []want{{4, "", "a rule needs a name"}}},
		{"a name used in both lists", "name: rest", "name: danger", nil, []want{{18, "danger", "rule name already used at line 4"}}},
		{"a name used twice in a list", "name: work", "name: danger", nil, []want{{7, "danger", "rule name already used at line 4"}}},
		{"no when", "    when: {urgency: [immediate]}\n", "", nil, []want{
			{4, "danger", `no "when"; write "when: {}" for a rule that matches every case`}}},
		{"a catch-all before the last rule", "when: {urgency: [immediate]}", "when: {}", nil, []want{
			{7, "work", `unreachable: rule "danger" (line 4) before it matches every case; a rule with "when: {}" must be the last of its list`}}},
		{"a rule covered by a broader one", "when: {governorate: [duhok], language: [kmr]}", "when: {governorate: [duhok, erbil]}", nil, nil},
		{"a rule covered by an earlier one", "    when:\n      topic:", "    when:\n      urgency: [immediate]\n      topic:", nil, []want{
			{7, "work", `unreachable: every case it matches is matched first by rule "danger" (line 4)`}}},
		{"a rule with fewer values is covered", "    when: {}\n    team: default", "    when: {governorate: [duhok], language: [kmr]}\n    team: default", nil, []want{
			{18, "rest", `unreachable: every case it matches is matched first by rule "duhok-kmr" (line 15)`}}},
		{"a rule with a value the earlier lacks is reachable", "    when: {}\n    team: default", "    when: {governorate: [duhok], language: [kmr, ar]}\n    team: default", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := baseRules
			if tc.old != "" || tc.new != "" {
				src = edit(t, tc.old, tc.new)
			}
			r, err := Parse([]byte(src), "rules.yaml")
			if err != nil {
				t.Fatal(err)
			}
			ps := r.Validate(libraryVocabulary(t), tc.opts...)
			if len(ps) != len(tc.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(ps), len(tc.want), ps.Err())
			}
			for i, w := range tc.want {
				p := ps[i]
				if p.File != "rules.yaml" || p.Line != w.line || p.Rule != w.rule || !strings.Contains(p.Msg, w.msg) {
					t.Errorf("problem %d: %s\nwant line %d, rule %q, message with %q", i, p, w.line, w.rule, w.msg)
				}
			}
		})
	}
}

func TestRoutingValidateSeveralProblems(t *testing.T) {
	src := strings.NewReplacer(
		"priority: 1", "priority: 9",
		"[forced_work, forced_marriage]", "[forced_labour]",
		"team: duhok", "team: Duhok",
	).Replace(baseRules)
	r, err := Parse([]byte(src), "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps := r.Validate(libraryVocabulary(t))
	var lines []int
	for _, p := range ps {
		lines = append(lines, p.Line)
	}
	if fmt.Sprint(lines) != "[6 9 17]" {
		t.Errorf("problems at lines %v, want [6 9 17]:\n%v", lines, ps.Err())
	}
	err = ps.Err()
	if err == nil || strings.Count(err.Error(), "\n") != 2 || !strings.HasPrefix(err.Error(), "rules.yaml:6: error: rule \"danger\": priority 9") {
		t.Errorf("Err() = %v", err)
	}
	if Problems(nil).Err() != nil {
		t.Error("no problems must be no error")
	}
	if _, err := Load([]byte(src), "rules.yaml", libraryVocabulary(t)); err == nil || !strings.Contains(err.Error(), "forced_labour") {
		t.Errorf("Load = %v", err)
	}
}

func TestRoutingProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "r.yaml", Line: 4, Rule: "x", Msg: "m"}, `r.yaml:4: error: rule "x": m`},
		{Problem{File: "r.yaml", Line: 1, Msg: "m"}, `r.yaml:1: error: m`},
		{Problem{File: "r.yaml", Msg: "m"}, `r.yaml: error: m`},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}

// manyRules returns a rules file with n priority rules, none covering another: each tests one
// combination of governorate, age band and location type.
func manyRules(n int) string {
	var b strings.Builder
	b.WriteString("spec: 1\ndefault_team: default\npriorities:\n")
	ages := []string{"under_18", "adult", "prefer_not"}
	places := []string{"camp", "out_of_camp", "prefer_not"}
	for i := 0; i < n; i++ {
		g := locales.Governorates[i%len(locales.Governorates)]
		a := ages[i/len(locales.Governorates)%len(ages)]
		p := places[i/(len(locales.Governorates)*len(ages))%len(places)]
		fmt.Fprintf(&b, "  - name: r%d\n    when: {governorate: [%s], age_band: [%s], location_type: [%s]}\n    priority: 2\n", i, g, a, p)
	}
	return b.String()
}

func TestRoutingRuleLimit(t *testing.T) {
	v := libraryVocabulary(t)
	if _, err := Load([]byte(manyRules(MaxRules)), "rules.yaml", v); err != nil {
		t.Fatalf("%d rules: %v", MaxRules, err)
	}
	r, err := Parse([]byte(manyRules(MaxRules+1)), "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps := r.Validate(v)
	line := 4 + 3*MaxRules // the first rule past the limit
	if len(ps) != 1 || ps[0].Line != line || ps[0].Msg != fmt.Sprintf("priorities has %d rules, at most %d", MaxRules+1, MaxRules) {
		t.Fatalf("want one problem at line %d, got:\n%v", line, ps.Err())
	}
	// The same limit for teams.
	src := strings.Replace(manyRules(MaxRules+1), "priorities:", "teams:", 1)
	src = strings.ReplaceAll(src, "priority: 2", "team: t")
	r, err = Parse([]byte(src), "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if ps := r.Validate(v); len(ps) != 1 || !strings.HasPrefix(ps[0].Msg, "teams has 101 rules") {
		t.Fatalf("teams past the limit:\n%v", ps.Err())
	}
}

func TestRoutingNameLimits(t *testing.T) {
	v := libraryVocabulary(t)
	rule := strings.Repeat("r", MaxRuleNameBytes)
	team := "t" + strings.Repeat("x", MaxTeamNameBytes-1)
	src := func(rule, team string) string {
		return fmt.Sprintf("spec: 1\ndefault_team: %s\nteams:\n  - name: %s\n    when: {}\n    team: %s\n", team, rule, team)
	}
	if _, err := Load([]byte(src(rule, team)), "rules.yaml", v); err != nil {
		t.Fatalf("names at the limits: %v", err)
	}
	r, err := Parse([]byte(src(rule+"r", team)), "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if ps := r.Validate(v); len(ps) != 1 || ps[0].Line != 4 || !strings.Contains(ps[0].Msg, "at most 40 bytes") {
		t.Errorf("rule name past the limit:\n%v", ps.Err())
	}
	r, err = Parse([]byte(src(rule, team+"x")), "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if ps := r.Validate(v); len(ps) != 2 || ps[0].Line != 2 || ps[1].Line != 6 || !strings.Contains(ps[1].Msg, "at most 32 bytes") {
		t.Errorf("team name past the limit:\n%v", ps.Err())
	}
}

func TestRoutingPriorityRange(t *testing.T) {
	v := libraryVocabulary(t)
	for p := HighestPriority - 1; p <= LowestPriority+1; p++ {
		src := edit(t, "priority: 1", fmt.Sprintf("priority: %d", p))
		_, err := Load([]byte(src), "rules.yaml", v)
		if ok := p >= 1 && p <= 3; ok != (err == nil) {
			t.Errorf("priority %d: %v", p, err)
		}
	}
}

func TestRoutingParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		line int
		msg  string
	}{
		{"empty file", "", 1, "the file is empty"},
		{"only comments", "# nothing\n", 1, "the file is empty"},
		{"no spec", "default_team: default\n", 1, `missing "spec" (this Penah reads spec 1)`},
		{"newer spec", "default_team: default\nspec: 2\n", 2, "spec 2 is newer than this Penah understands (spec 1); upgrade Penah"},
		{"newer spec with keys this Penah does not know", "spec: 2\nescalate: {}\n", 1, "spec 2 is newer"},
		{"negative spec", "spec: -1\n", 1, "spec -1 does not exist"},
		{"spec as text", "spec: \"1\"\n", 1, `"spec" must be a whole number, not "1"`},
		{"huge spec", "spec: 99999999999\n", 1, `"spec" is out of range: 99999999999`},
		{"not a mapping", "- spec: 1\n", 1, "the rules file must be a mapping, not a list"},
		{"unknown key, misspelt", "spec: 1\npriorites: []\n", 2, `unknown key "priorites" in the rules file (did you mean "priorities"?); the keys are spec, default_team, priorities, teams`},
		{"unknown key", "spec: 1\nescalate: []\n", 2, `unknown key "escalate" in the rules file; the keys are`},
		{"a key that is not a text", "spec: 1\n1: x\n", 2, `unknown key "1" in the rules file`},
		{"duplicate key", "spec: 1\ndefault_team: a\ndefault_team: b\n", 3, `mapping key "default_team" already defined at [2:1]`},
		{"duplicate field in when", "spec: 1\npriorities:\n  - name: a\n    when: {topic: [other], topic: [threats]}\n", 4, `mapping key "topic" already defined`},
		{"a team key in a priority rule", "spec: 1\npriorities:\n  - name: a\n    when: {}\n    team: x\n", 5, `unknown key "team" in a rule of priorities; the keys are name, when, priority`},
		{"a priority key in a team rule", "spec: 1\nteams:\n  - name: a\n    when: {}\n    priority: 1\n", 5, `unknown key "priority" in a rule of teams; the keys are name, when, team`},
		{"misspelt rule key", "spec: 1\nteams:\n  - name: a\n    wen: {}\n", 4, `unknown key "wen" in a rule of teams (did you mean "when"?)`},
		{"priorities not a list", "spec: 1\npriorities: {name: a}\n", 2, `"priorities" must be a list of rules, not a mapping`},
		{"an empty rule", "spec: 1\npriorities:\n  - name: a\n    when: {}\n    priority: 1\n  -\n", 6, "rule 2 of priorities is empty"},
		{"a rule that is a text", "spec: 1\nteams:\n  - duhok\n", 3, `a rule of teams must be a mapping, not "duhok"`},
		{"when with nothing", "spec: 1\nteams:\n  - name: a\n    when:\n    team: b\n", 4, `"when" is empty; write "when: {}" for a rule that matches every case`},
		{"when a text", "spec: 1\nteams:\n  - name: a\n    when: topic\n", 4, `"when" must be a mapping, not "topic"`},
		{"values a text", "spec: 1\nteams:\n  - name: a\n    when: {topic: forced_work}\n", 4, `"topic" must be a list of values, not "forced_work"; write [forced_work]`},
		{"values a mapping", "spec: 1\nteams:\n  - name: a\n    when:\n      topic: {a: b}\n", 5, `"topic" must be a list of values, not a mapping`},
		{"a value that is a list", "spec: 1\nteams:\n  - name: a\n    when:\n      topic:\n        - [x]\n", 6, `a value of "topic" must be a text, not a list`},
		{"a null value", "spec: 1\nteams:\n  - name: a\n    when:\n      topic:\n        -\n", 6, `a value of "topic" must be a text, not nothing`},
		{"priority as text", "spec: 1\npriorities:\n  - name: a\n    when: {}\n    priority: high\n", 5, `"priority" must be a whole number, not "high"`},
		{"priority as a fraction", "spec: 1\npriorities:\n  - name: a\n    when: {}\n    priority: 1.5\n", 5, `"priority" must be a whole number, not 1.5`},
		{"team as a number", "spec: 1\nteams:\n  - name: a\n    when: {}\n    team: 7\n", 5, `"team" must be a text, not 7`},
		{"name as a list", "spec: 1\nteams:\n  - name: [a]\n", 3, `"name" must be a text, not a list`},
		{"default_team null", "spec: 1\ndefault_team:\n", 2, `"default_team" must be a text, not nothing`},
		{"a tag", "spec: 1\ndefault_team: !!str default\n", 2, "YAML tags (!!...) are not allowed in a rules file"},
		{"an anchor", "spec: 1\npriorities:\n  - &a\n    name: a\n    when: {}\n    priority: 1\n", 3, "YAML anchors and aliases (&name, *name) are not allowed in a rules file"},
		{"an alias", "spec: 1\nx: &v [a]\npriorities:\n  - name: a\n    when: {topic: *v}\n", 2, "anchors and aliases"},
		{"a merge key", "spec: 1\nteams:\n  - name: a\n    <<: {team: b}\n", 4, "YAML merge keys (<<) are not allowed in a rules file"},
		{"a second document", "spec: 1\n---\nspec: 1\n", 3, `a rules file holds one YAML document; remove the second "---"`},
		{"a syntax error", "spec: 1\npriorities: [\n", 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse([]byte(tc.src), "rules.yaml")
			if r != nil || err == nil {
				t.Fatalf("Parse accepted it (err %v)", err)
			}
			var p Problem
			if !errors.As(err, &p) {
				t.Fatalf("error %v is not a Problem", err)
			}
			if p.File != "rules.yaml" || p.Line != tc.line || !strings.Contains(p.Msg, tc.msg) {
				t.Errorf("%s\nwant line %d, message with %q", p, tc.line, tc.msg)
			}
		})
	}
}

func TestRoutingParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
	}{
		{"a byte order mark", "\ufeffspec: 1\ndefault_team: default\n"},
		{"unquoted yes", "spec: 1\ndefault_team: d\npriorities:\n  - name: a\n    when: {clinical_window: [yes]}\n    priority: 1\n"},
		{"teams with nothing", "spec: 1\ndefault_team: d\nteams:\n"},
		{"an explicit key", "spec: 1\n? default_team\n: d\n"},
		{"a quoted key", "\"spec\": 1\n'default_team': d\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Load([]byte(tc.src), "rules.yaml", libraryVocabulary(t)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRoutingSizeLimit(t *testing.T) {
	head := "spec: 1\ndefault_team: default\n"
	pad := func(n int) []byte {
		b := []byte(head + "#" + strings.Repeat("x", n-len(head)-2) + "\n")
		if len(b) != n {
			t.Fatalf("padded to %d, want %d", len(b), n)
		}
		return b
	}
	if _, err := Load(pad(MaxFileBytes), "rules.yaml", libraryVocabulary(t)); err != nil {
		t.Fatalf("a file of exactly %d bytes: %v", MaxFileBytes, err)
	}
	_, err := Parse(pad(MaxFileBytes+1), "rules.yaml")
	if !errors.Is(err, ErrTooLarge) || !strings.HasPrefix(err.Error(), "rules.yaml: ") {
		t.Fatalf("a file of %d bytes: %v", MaxFileBytes+1, err)
	}
}

func TestRoutingRuleLines(t *testing.T) {
	r, err := Parse([]byte(baseRules), "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rule := range append(r.Priorities, r.Teams...) {
		got = append(got, fmt.Sprintf("%s@%d", rule.Name, rule.Line))
		for _, c := range rule.When {
			got = append(got, fmt.Sprintf("%s@%d%v", c.Field, c.Line, c.valueLines))
		}
	}
	want := "danger@4 urgency@5[5] work@7 topic@9[9 9] services@10[11 12] duhok-kmr@15 governorate@16[16] language@16[16] rest@18"
	if strings.Join(got, " ") != want {
		t.Errorf("lines:\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	if r.Rule("work") != r.Priorities[1] || r.Rule("rest") != r.Teams[1] || r.Rule("nope") != nil {
		t.Error("Rule does not find rules by name")
	}
}
