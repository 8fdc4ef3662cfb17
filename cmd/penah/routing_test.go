package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/penahbot/penah/internal/routing"
)

func runRoutingCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := runRouting(context.Background(), args, func(string) string { return "" }, &out, &errb)
	return out.String(), errb.String(), err
}

func writeRules(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "routing.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// duhokRules sends Kurmanji speakers in Duhok to the duhok team.
const duhokRules = `spec: 1
default_team: default
priorities:
  - name: trafficking
    when: {topic: [forced_work, forced_marriage]}
    priority: 2
teams:
  - name: duhok-kurmanji
    when: {governorate: [duhok], language: [kmr]}
    team: duhok
`

func TestRoutingCheckShippedRules(t *testing.T) {
	out, _, err := runRoutingCmd(t, "check")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "internal/routing/default.yaml: ok: 4 priority rule(s), 0 team rule(s), default team default\n"
	if out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	// The shipped file in the repository is the embedded one, and checks the same.
	path := filepath.Join("..", "..", routing.DefaultFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, routing.DefaultYAML()) {
		t.Fatal("the embedded rules differ from the file")
	}
	if out, _, err := runRoutingCmd(t, "check", path); err != nil || !strings.HasSuffix(out, ": ok: 4 priority rule(s), 0 team rule(s), default team default\n") {
		t.Errorf("check %s: %v\n%s", path, err, out)
	}
}

func TestRoutingCheckReportsEveryProblem(t *testing.T) {
	path := writeRules(t, strings.NewReplacer(
		"[forced_work, forced_marriage]", "[forced_labour, forced_marriage]",
		"priority: 2", "priority: 5",
		"language: [kmr]", "langauge: [kmr]",
	).Replace(duhokRules))
	out, _, err := runRoutingCmd(t, "check", path)
	if !errors.Is(err, errReported) || exitCode(err) != 1 {
		t.Fatalf("check of broken rules: %v", err)
	}
	for _, want := range []string{
		path + `:5: error: rule "trafficking": topic: unknown value "forced_labour" (did you mean "forced_work"?); topic takes violence_home, sexual_violence, forced_marriage, forced_work, threats, other, prefer_not`,
		path + `:6: error: rule "trafficking": priority 5: must be 1 to 3 (1 is the most urgent)`,
		path + `:9: error: rule "duhok-kurmanji": unknown field "langauge" (did you mean "language"?); routing fields are consent, urgency, services, topic,`,
		path + ": 3 error(s): not usable",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestRoutingCheckSyntaxError(t *testing.T) {
	path := writeRules(t, strings.Replace(duhokRules, "    team: duhok", "    team: duhok\n    priority: 1", 1))
	out, _, err := runRoutingCmd(t, "check", path)
	if !errors.Is(err, errReported) {
		t.Fatalf("check: %v", err)
	}
	want := path + `:11: error: unknown key "priority" in a rule of teams; the keys are name, when, team` + "\n" + path + ": 1 error: not usable\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}

func TestRoutingCheckUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"check", "a", "b"}, {"frobnicate"}} {
		if _, errs, err := runRoutingCmd(t, args...); !errors.Is(err, errUsage) || !strings.Contains(errs, "penah routing check [FILE]") {
			t.Errorf("%q: %v\n%s", args, err, errs)
		}
	}
	if _, _, err := runRoutingCmd(t, "check", filepath.Join(t.TempDir(), "missing.yaml")); err == nil || errors.Is(err, errReported) {
		t.Errorf("a missing file: %v", err)
	}
	big := writeRules(t, "spec: 1\n#"+strings.Repeat("x", routing.MaxFileBytes)+"\n")
	if _, _, err := runRoutingCmd(t, "check", big); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("a file past the limit: %v", err)
	}
	if out, _, err := runRoutingCmd(t, "help"); err != nil || !strings.Contains(out, "penah routing explain") {
		t.Errorf("help: %v\n%s", err, out)
	}
}

// TestRoutingExplainShipped: the person of issue 6's "done when" (Duhok, Kurmanji, forced
// labour) under the shipped rules.
func TestRoutingExplainShipped(t *testing.T) {
	out, _, err := runRoutingCmd(t, "explain", "--field", "topic=forced_work", "--field", "governorate=duhok",
		"--field", "services=medical,legal", "--lang", "kmr")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := `rules: internal/routing/default.yaml
case: services=medical,legal topic=forced_work governorate=duhok language=kmr
priority: 2 (rule "trafficking-indicators", line 54)
team: default (no team rule matched: the default team)
why:
  priorities: rule "immediate-danger" (line 22) did not match: urgency not given
  priorities: rule "sexual-violence-clinical-window" (line 32) did not match: clinical_window not given
  priorities: rule "sexual-violence-medical" (line 37) did not match: topic is forced_work, not sexual_violence
  priorities: rule "trafficking-indicators" (line 54) matched: topic=forced_work → priority 2
  teams: no rule matched → default team default
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}

func TestRoutingExplain(t *testing.T) {
	rules := writeRules(t, duhokRules)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"duhok in kurmanji", []string{"--rules", rules, "--field", "topic=forced_work", "--field", "governorate=duhok", "--lang", "kmr"}, []string{
			"rules: " + rules + "\n",
			"priority: 2 (rule \"trafficking\", line 4)\n",
			"team: duhok (rule \"duhok-kurmanji\", line 8)\n",
			"  priorities: rule \"trafficking\" (line 4) matched: topic=forced_work → priority 2\n",
			"  teams: rule \"duhok-kurmanji\" (line 8) matched: governorate=duhok, language=kmr → team duhok\n",
		}},
		{"duhok in arabic", []string{"--rules", rules, "--field", "governorate=duhok", "--lang", "ar"}, []string{
			"priority: 3 (no priority rule matched)\n",
			"team: default (no team rule matched: the default team)\n",
			"  priorities: rule \"trafficking\" (line 4) did not match: topic not given\n",
			"  priorities: no rule matched → priority 3\n",
			"  teams: rule \"duhok-kurmanji\" (line 8) did not match: language is ar, not kmr\n",
			"  teams: no rule matched → default team default\n",
		}},
		{"no language", []string{"--rules", rules, "--field", "governorate=duhok"}, []string{
			"case: governorate=duhok\n",
			"did not match: language not given\n",
		}},
		{"nothing given", []string{"--rules", rules}, []string{
			"case: (no fields: every question skipped)\n",
			"did not match: governorate not given; language not given\n",
		}},
		{"immediate danger, shipped rules", []string{"--field", "urgency=immediate", "--field", "topic=sexual_violence", "--field", "services=medical", "--field", "clinical_window=yes"}, []string{
			"priority: 1 (rule \"immediate-danger\", line 22)\n",
			"  priorities: rule \"immediate-danger\" (line 22) matched: urgency=immediate → priority 1\n",
		}},
		{"clinical window, shipped rules", []string{"--field", "topic=sexual_violence", "--field", "services=psychosocial,medical", "--field", "clinical_window=yes", "--lang", "ar"}, []string{
			"priority: 1 (rule \"sexual-violence-clinical-window\", line 32)\n",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, err := runRoutingCmd(t, append([]string{"explain"}, tc.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s%s", err, out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestRoutingExplainRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown value", []string{"--field", "topic=forced_labour"},
			`topic: unknown value "forced_labour" (did you mean "forced_work"?); topic takes violence_home, sexual_violence, forced_marriage, forced_work, threats, other, prefer_not`},
		{"unknown field", []string{"--field", "topc=other"},
			`unknown field "topc" (did you mean "topic"?); routing fields are consent, urgency, services, topic, clinical_window, age_band, governorate, location_type, officer_gender, contact_method, share_with, language`},
		{"free text", []string{"--field", "safe_times=evening"}, `field "safe_times" is a free or sensitive answer: it is sealed and never used for routing`},
		{"no value", []string{"--field", "topic"}, `"topic": write FIELD=VALUE`},
		{"empty value", []string{"--field", "topic="}, `topic: unknown value ""`},
		{"several values for a single choice", []string{"--field", "topic=other,threats"}, "topic takes one value (a person chooses one), not other,threats"},
		{"a field twice", []string{"--field", "services=medical", "--field", "services=legal"}, "services given twice; list several values as services=a,b"},
		{"a value twice", []string{"--field", "services=medical,medical"}, `services: "medical" given twice`},
		{"language as a field", []string{"--field", "language=kmr"}, "the language is given with --lang, e.g. --lang kmr"},
		{"unknown language", []string{"--lang", "ku"}, `--lang: language: unknown value "ku"; language takes ar, ckb, kmr, en`},
		{"unknown governorate", []string{"--field", "governorate=mosul"}, `governorate: unknown value "mosul"; governorate takes duhok, nineveh,`},
		{"a stray argument", []string{"--field", "topic=other", "extra"}, `unexpected "extra"`},
		{"an unknown flag", []string{"--team", "duhok"}, "flag provided but not defined: -team"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, err := runRoutingCmd(t, append([]string{"explain"}, tc.args...)...)
			if !errors.Is(err, errUsage) || exitCode(err) != 2 {
				t.Fatalf("explain %q: %v\n%s", tc.args, err, out)
			}
			if !strings.Contains(errs, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, errs)
			}
			if out != "" {
				t.Errorf("a refused explain printed %q", out)
			}
		})
	}
}

func TestRoutingExplainInvalidRules(t *testing.T) {
	path := writeRules(t, strings.Replace(duhokRules, "team: duhok", "team: Duhok", 1))
	out, _, err := runRoutingCmd(t, "explain", "--rules", path, "--field", "topic=other")
	if !errors.Is(err, errReported) {
		t.Fatalf("explain with broken rules: %v", err)
	}
	if !strings.Contains(out, path+`:10: error: rule "duhok-kurmanji": team: team name "Duhok"`) || strings.Contains(out, "priority:") {
		t.Errorf("output:\n%s", out)
	}
}
