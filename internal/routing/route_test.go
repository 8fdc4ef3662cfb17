package routing

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/flows/library"
	"github.com/penahbot/penah/locales"
)

// libraryVocabulary is what the built-in flows let rules test. A Vocabulary is never changed
// after NewVocabulary, so the tests share one.
func libraryVocabulary(t testing.TB) *Vocabulary {
	t.Helper()
	v, err := loadLibraryVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var loadLibraryVocabulary = sync.OnceValues(func() (*Vocabulary, error) {
	fs, err := library.Load()
	if err != nil {
		return nil, err
	}
	return NewVocabulary(fs), nil
})

func TestRoutingDefaultRulesAreValid(t *testing.T) {
	r := Default()
	if ps := r.Validate(libraryVocabulary(t)); len(ps) > 0 {
		t.Fatalf("the shipped rules have problems:\n%v", ps.Err())
	}
	if ps := r.Validate(libraryVocabulary(t), WithTeams([]string{"default"})); len(ps) > 0 {
		t.Fatalf("the shipped rules name a team other than default:\n%v", ps.Err())
	}
	if r.DefaultTeam != "default" || len(r.Teams) != 0 {
		t.Errorf("shipped rules: default team %q, %d team rules; want every case to default", r.DefaultTeam, len(r.Teams))
	}
	// Default returns a fresh copy: a caller changing one does not change the next.
	r.Priorities = nil
	if len(Default().Priorities) == 0 {
		t.Error("Default shares its rules between calls")
	}
	if text := string(DefaultYAML()); !strings.Contains(text, "REVIEW BEFORE GO-LIVE") || !strings.Contains(text, "protection specialist") {
		t.Error("default.yaml lost its note that a protection specialist must review it")
	}
}

// f builds a case's routing fields: f("topic", "forced_work", "services", "medical,legal").
func f(kv ...string) map[flows.FieldID][]string {
	m := map[flows.FieldID][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[flows.FieldID(kv[i])] = strings.Split(kv[i+1], ",")
	}
	return m
}

func TestRoutingDefaultRules(t *testing.T) {
	r := Default()
	for _, tc := range []struct {
		name     string
		fields   map[flows.FieldID][]string
		lang     locales.Lang
		priority int
		rule     string
	}{
		{"immediate danger", f("urgency", "immediate"), locales.AR, 1, "immediate-danger"},
		{"immediate danger, everything else skipped", f("consent", "agree", "urgency", "immediate"), locales.EN, 1, "immediate-danger"},
		{"immediate danger wins over the clinical window", f("urgency", "immediate", "topic", "sexual_violence", "services", "medical", "clinical_window", "yes"), locales.CKB, 1, "immediate-danger"},
		{"immediate danger wins over trafficking", f("urgency", "immediate", "topic", "forced_work"), locales.KMR, 1, "immediate-danger"},
		// The intake's golden transcript ar-sexual-violence-medical submits exactly this.
		{"clinical window, as the intake submits it", f("consent", "agree", "urgency", "not_now", "services", "medical,psychosocial",
			"topic", "sexual_violence", "clinical_window", "yes", "age_band", "prefer_not", "governorate", "anbar",
			"location_type", "out_of_camp", "officer_gender", "any", "contact_method", "here_only", "share_with", "none"), locales.AR, 1, "sexual-violence-clinical-window"},
		{"sexual violence and medical care from a flow without the mark", f("topic", "sexual_violence", "services", "legal,medical"), locales.EN, 1, "sexual-violence-medical"},
		{"sexual violence, medical care among many", f("topic", "sexual_violence", "services", "psychosocial,legal,shelter,medical,talk"), locales.EN, 1, "sexual-violence-medical"},
		{"sexual violence without medical care", f("topic", "sexual_violence", "services", "psychosocial,legal"), locales.EN, 3, ""},
		{"sexual violence, help skipped", f("topic", "sexual_violence"), locales.EN, 3, ""},
		{"sexual violence, help answered with no values", map[flows.FieldID][]string{"topic": {"sexual_violence"}, "services": {}}, locales.EN, 3, ""},
		{"medical care, topic skipped", f("services", "medical"), locales.EN, 3, ""},
		{"forced work", f("topic", "forced_work"), locales.KMR, 2, "trafficking-indicators"},
		{"forced marriage", f("urgency", "soon", "topic", "forced_marriage", "age_band", "under_18"), locales.AR, 2, "trafficking-indicators"},
		{"forced work with medical care", f("topic", "forced_work", "services", "medical"), locales.EN, 2, "trafficking-indicators"},
		{"afraid it may happen soon", f("urgency", "soon", "topic", "threats"), locales.CKB, 3, ""},
		{"violence at home, not in danger now", f("urgency", "not_now", "topic", "violence_home", "services", "shelter"), locales.AR, 3, ""},
		{"prefer not to say", f("topic", "prefer_not", "age_band", "prefer_not"), locales.EN, 3, ""},
		{"every question skipped", nil, locales.EN, 3, ""},
		{"no language", f("topic", "forced_work"), "", 2, "trafficking-indicators"},
		{"an unknown value matches nothing", f("urgency", "IMMEDIATE", "topic", "forced_labour"), locales.EN, 3, ""},
		{"a language entry in the fields is not the language", f("language", "kmr", "urgency", "immediate"), locales.AR, 1, "immediate-danger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := r.Route(tc.fields, tc.lang)
			if d.Priority != tc.priority || d.PriorityRule != tc.rule {
				t.Errorf("priority %d by %q, want %d by %q\n%s", d.Priority, d.PriorityRule, tc.priority, tc.rule, strings.Join(d.Why, "\n"))
			}
			if d.Team != "default" || d.TeamRule != "" {
				t.Errorf("team %q by %q, want default by no rule", d.Team, d.TeamRule)
			}
			last := d.Why[len(d.Why)-1]
			if last != "teams: no rule matched → default team default" {
				t.Errorf("last why %q", last)
			}
		})
	}
}

// teamRules routes by governorate and language; its priorities test multi-valued fields.
const teamRules = `spec: 1
default_team: default
priorities:
  - name: care
    when: {services: [medical, shelter], age_band: [under_18]}
    priority: 2
teams:
  - name: duhok-kurmanji
    when: {governorate: [duhok], language: [kmr]}
    team: duhok
  - name: duhok-arabic
    when: {governorate: [duhok], language: [ar, ckb]}
    team: duhok-ar
  - name: north
    when: {governorate: [nineveh, erbil]}
    team: north
  - name: rest
    when: {}
    team: central
`

func mustLoad(t *testing.T, src string) *Rules {
	t.Helper()
	r, err := Load([]byte(src), "rules.yaml", libraryVocabulary(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRoutingTeamsAndLanguage(t *testing.T) {
	r := mustLoad(t, teamRules)
	for _, tc := range []struct {
		name     string
		fields   map[flows.FieldID][]string
		lang     locales.Lang
		team     string
		rule     string
		priority int
	}{
		{"duhok in kurmanji", f("governorate", "duhok", "topic", "forced_work"), locales.KMR, "duhok", "duhok-kurmanji", 3},
		{"duhok in arabic", f("governorate", "duhok"), locales.AR, "duhok-ar", "duhok-arabic", 3},
		{"duhok in sorani", f("governorate", "duhok"), locales.CKB, "duhok-ar", "duhok-arabic", 3},
		{"duhok in english: neither duhok rule", f("governorate", "duhok"), locales.EN, "central", "rest", 3},
		{"duhok, language not known", f("governorate", "duhok"), "", "central", "rest", 3},
		{"kurmanji, governorate skipped", f("topic", "other"), locales.KMR, "central", "rest", 3},
		{"erbil in any language", f("governorate", "erbil"), locales.EN, "north", "north", 3},
		{"under 18 asking for shelter among others", f("governorate", "nineveh", "services", "legal,shelter", "age_band", "under_18"), locales.AR, "north", "north", 2},
		{"under 18 asking for neither", f("services", "legal,talk", "age_band", "under_18"), locales.AR, "central", "rest", 3},
		{"adult asking for medical care", f("services", "medical", "age_band", "adult"), locales.AR, "central", "rest", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := r.Route(tc.fields, tc.lang)
			if d.Team != tc.team || d.TeamRule != tc.rule || d.Priority != tc.priority {
				t.Errorf("team %q by %q, priority %d; want %q by %q, priority %d\n%s",
					d.Team, d.TeamRule, d.Priority, tc.team, tc.rule, tc.priority, strings.Join(d.Why, "\n"))
			}
		})
	}
}

func TestRoutingWhy(t *testing.T) {
	r := mustLoad(t, teamRules)
	d := r.Route(f("governorate", "duhok", "services", "medical,legal", "age_band", "under_18"), locales.EN)
	want := []string{
		`priorities: rule "care" (line 4) matched: services=medical, age_band=under_18 → priority 2`,
		`teams: rule "duhok-kurmanji" (line 8) did not match: language is en, not kmr`,
		`teams: rule "duhok-arabic" (line 11) did not match: language is en, not ar or ckb`,
		`teams: rule "north" (line 14) did not match: governorate is duhok, not nineveh or erbil`,
		`teams: rule "rest" (line 17) matched: matches every case → team central`,
	}
	if !slices.Equal(d.Why, want) {
		t.Errorf("why:\n%s\nwant:\n%s", strings.Join(d.Why, "\n"), strings.Join(want, "\n"))
	}

	d = r.Route(nil, "")
	want = []string{
		`priorities: rule "care" (line 4) did not match: services not given; age_band not given`,
		`priorities: no rule matched → priority 3`,
		`teams: rule "duhok-kurmanji" (line 8) did not match: governorate not given; language not given`,
		`teams: rule "duhok-arabic" (line 11) did not match: governorate not given; language not given`,
		`teams: rule "north" (line 14) did not match: governorate not given`,
		`teams: rule "rest" (line 17) matched: matches every case → team central`,
	}
	if !slices.Equal(d.Why, want) {
		t.Errorf("why:\n%s\nwant:\n%s", strings.Join(d.Why, "\n"), strings.Join(want, "\n"))
	}
}

// TestRoutingNoRules: an empty list leaves the defaults.
func TestRoutingNoRules(t *testing.T) {
	r := mustLoad(t, "spec: 1\ndefault_team: intake-desk\n")
	d := r.Route(f("urgency", "immediate"), locales.AR)
	if d.Team != "intake-desk" || d.Priority != DefaultPriority || d.TeamRule != "" || d.PriorityRule != "" {
		t.Errorf("decision %+v", d)
	}
	if len(d.Why) != 2 {
		t.Errorf("why %q", d.Why)
	}
}

func TestRoutingVocabularyOfLibrary(t *testing.T) {
	v := libraryVocabulary(t)
	want := []flows.FieldID{"consent", "urgency", "services", "topic", "clinical_window", "age_band", "governorate",
		"location_type", "officer_gender", "contact_method", "share_with", LanguageField}
	if got := v.Fields(); !slices.Equal(got, want) {
		t.Errorf("fields %v\nwant %v", got, want)
	}
	for field, values := range map[flows.FieldID][]string{
		"urgency":         {"immediate", "soon", "not_now"},
		"topic":           {"violence_home", "sexual_violence", "forced_marriage", "forced_work", "threats", "other", "prefer_not"},
		"clinical_window": {"yes"},
		"governorate":     locales.Governorates,
		LanguageField:     {"ar", "ckb", "kmr", "en"},
		"safe_phone":      nil, // sealed free text
		"safe_times":      nil,
		"story":           nil, // no flow saves it
	} {
		if got := v.Values(field); !slices.Equal(got, values) {
			t.Errorf("%s: values %v, want %v", field, got, values)
		}
	}
	if !v.Multi("services") || !v.Multi("share_with") || v.Multi("topic") || v.Multi(LanguageField) {
		t.Error("multi: services and share_with are multi-choice, topic and language are not")
	}
	if err := v.CheckField("safe_phone"); err == nil || !strings.Contains(err.Error(), "sealed and never used for routing") {
		t.Errorf("safe_phone: %v", err)
	}
}

func TestRoutingSuggest(t *testing.T) {
	v := libraryVocabulary(t)
	for _, tc := range []struct {
		field flows.FieldID
		got   string
		want  string
	}{
		{"topic", "forced_labour", "forced_work"},
		{"topic", "forced_labor", "forced_work"},
		{"topic", "Sexual_Violence", "sexual_violence"},
		{"topic", "forcedmarriage", "forced_marriage"},
		{"topic", "trafficking", ""},
		{"governorate", "dohuk", "duhok"},
		{"governorate", "ninewa", "nineveh"},
		{"governorate", "sulaimaniyah", "sulaymaniyah"},
		{"governorate", "salahaddin", "salah_al_din"},
		{"governorate", "mosul", ""},
		{"services", "medicine", "medical"},
		{"urgency", "x", ""},
		{"urgency", strings.Repeat("immediate", 10), ""},
	} {
		if got := suggest(tc.got, v.Values(tc.field)); got != tc.want {
			t.Errorf("%s: suggest(%q) = %q, want %q", tc.field, tc.got, got, tc.want)
		}
	}
	fields := idStrings(v.Fields())
	for got, want := range map[string]string{"governate": "governorate", "gender": "officer_gender", "age": "age_band", "lang": "language", "gov": "governorate", "x": "", "languge": "language", "Topic": "topic"} {
		if s := suggest(got, fields); s != want {
			t.Errorf("field suggest(%q) = %q, want %q", got, s, want)
		}
	}
}

// TestRoutingDefaultExamples keeps the commented examples of default.yaml usable: with their
// "# " removed they must validate, and route as their comments say.
func TestRoutingDefaultExamples(t *testing.T) {
	example := regexp.MustCompile(`(?m)^  # (- name:|  when:|  priority:|  team:)`)
	src := example.ReplaceAllString(string(DefaultYAML()), "  $1")
	r := mustLoad(t, src)
	if len(r.Priorities) != 6 || len(r.Teams) != 4 {
		t.Fatalf("%d priority and %d team rules with the examples, want 6 and 4", len(r.Priorities), len(r.Teams))
	}
	for _, tc := range []struct {
		fields   map[flows.FieldID][]string
		lang     locales.Lang
		team     string
		priority int
	}{
		{f("governorate", "duhok", "topic", "forced_work"), locales.KMR, "duhok", 2},
		{f("governorate", "duhok", "age_band", "under_18", "topic", "threats"), locales.AR, "duhok-ar", 2},
		{f("governorate", "duhok"), locales.CKB, "default", 3},
		{f("governorate", "nineveh", "topic", "threats", "services", "legal,shelter"), locales.AR, "ninewa", 2},
		{f("governorate", "kirkuk", "urgency", "immediate"), locales.EN, "slemani", 1},
	} {
		if d := r.Route(tc.fields, tc.lang); d.Team != tc.team || d.Priority != tc.priority {
			t.Errorf("%v %s: team %s priority %d, want %s %d", tc.fields, tc.lang, d.Team, d.Priority, tc.team, tc.priority)
		}
	}
}

// TestRoutingFormatDoc keeps FORMAT.md honest: its example validates, and its table of fields
// lists every value of every field the built-in flows let rules test.
func TestRoutingFormatDoc(t *testing.T) {
	data, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	start := strings.Index(doc, "```yaml\n")
	end := strings.Index(doc[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("FORMAT.md has no yaml example")
	}
	mustLoad(t, doc[start+8:start+8+end])

	v := libraryVocabulary(t)
	for _, field := range v.Fields() {
		if field == "consent" {
			continue // every submitted case has consent=agree: nothing to route on
		}
		i := strings.Index(doc, "\n| "+string(field)+" | ")
		if i < 0 {
			t.Errorf("FORMAT.md's table lacks %s", field)
			continue
		}
		row := doc[i+1 : i+1+strings.Index(doc[i+1:], "\n")]
		values := v.Values(field)
		if field == "governorate" {
			values = []string{"outside_iraq"}
		}
		for _, val := range values {
			if !regexp.MustCompile(`\b` + regexp.QuoteMeta(val) + `\b`).MatchString(row) {
				t.Errorf("FORMAT.md's row of %s lacks %s: %s", field, val, row)
			}
		}
		if v.Multi(field) != strings.Contains(row, "(several)") {
			t.Errorf("FORMAT.md's row of %s: multi is %v", field, v.Multi(field))
		}
	}
}
