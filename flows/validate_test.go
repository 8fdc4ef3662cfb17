package flows

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/penahbot/penah/locales"
)

// baseFlow is a small flow that passes every rule of the publish gate. Each case of
// TestValidateRules breaks exactly one rule by editing it, so the line numbers in the expected
// problems are the line numbers of this text (line 1 is "spec: 1").
const baseFlow = `spec: 1
id: t
revision: 1
languages: [en, kmr]
base: en
reviewed: [kmr]
consent: consent
start: hello
states:
  - id: hello
    say: {en: "Hello", kmr: "Silav"}
    next: consent
  - id: consent
    say: {en: "Do you agree?", kmr: "Tu razî yî?"}
    choices:
      - id: agree
        consent: true
        label: {en: "Yes", kmr: "Erê"}
        next: topic
      - id: decline
        label: {en: "No", kmr: "Na"}
        next: bye
  - id: topic
    say: {en: "What is it about?", kmr: "Li ser çi ye?"}
    title: {en: "Topic", kmr: "Mijar"}
    save: topic
    optional: true
    choices:
      - id: home
        label: {en: "Home", kmr: "Mal"}
      - id: work
        label: {en: "Work", kmr: "Kar"}
    next:
      - when: {field: topic, is: [home]}
        to: note
      - to: summary
  - id: note
    say: {en: "Anything to add?", kmr: "Tiştekî din?"}
    title: {en: "Note", kmr: "Not"}
    input: text
    save: note
    optional: true
    next: summary
  - id: summary
    say: {en: "Send this? {answers}", kmr: "Bişînim? {answers}"}
    choices:
      - id: send
        label: {en: "Send", kmr: "Bişîne"}
        next: submit
      - id: cancel
        label: {en: "Cancel", kmr: "Betal"}
        next: bye
  - id: submit
    submit: true
    next: sent
  - id: sent
    end: true
    say: {en: "Sent. Reference {ref}.", kmr: "Hat şandin. Referans {ref}."}
  - id: bye
    end: true
    say: {en: "Take care.", kmr: "Xatirê te."}
`

// edit replaces old by new in a flow text. Unless all is set, old must occur exactly once, so
// that a change to baseFlow cannot make a case silently test something else.
type edit struct {
	old, new string
	all      bool
}

// derive applies edits to baseFlow and appends extra (more states) at the end.
func derive(t testing.TB, edits []edit, extra string) string {
	t.Helper()
	src := baseFlow
	for _, e := range edits {
		n := strings.Count(src, e.old)
		switch {
		case n == 0:
			t.Fatalf("edit: %q not found in the flow", e.old)
		case n > 1 && !e.all:
			t.Fatalf("edit: %q occurs %d times in the flow", e.old, n)
		}
		src = strings.ReplaceAll(src, e.old, e.new)
	}
	return src + extra
}

// validateText reads src as file t.yaml and returns all problems as strings.
func validateText(t testing.TB, src string) (all, errs []string) {
	t.Helper()
	f, err := Read("t.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Read: %v\n%s", err, src)
	}
	ps := Validate(f)
	for _, p := range ps {
		all = append(all, p.String())
	}
	for _, p := range ps.Errors() {
		errs = append(errs, p.String())
	}
	return all, errs
}

func checkProblems(t *testing.T, src string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s\nflow:\n%s", strings.Join(got, "\n  "), strings.Join(want, "\n  "), numbered(src))
	}
}

// numbered prefixes each line with its number, to make a failure easy to read.
func numbered(src string) string {
	lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	for i, l := range lines {
		lines[i] = fmt.Sprintf("%3d %s", i+1, l)
	}
	return strings.Join(lines, "\n")
}

func TestValidateBaseFlowIsClean(t *testing.T) {
	all, _ := validateText(t, baseFlow)
	if len(all) != 0 {
		t.Fatalf("the base flow of the validator tests has problems:\n%s", strings.Join(all, "\n"))
	}
}

func TestValidateRules(t *testing.T) {
	const loopNoWayOut = "loop with no way out: no end state can be reached from here"
	const messageLoop = "loop of messages with no question: the conversation would never stop"
	const cannotSkip = "question cannot be skipped: add optional: true or a choice with skip: true"
	const condForms = "a condition is exactly one of {field, is}, {field, not}, {all: [...]}, {any: [...]}"
	const onlyOneKind = "a state may have only one of choices, input, submit and end"
	for _, tc := range []struct {
		name  string
		edits []edit
		extra string // states appended after line 61
		want  []string
	}{
		{
			name:  "unknown target state",
			edits: []edit{{old: "next: summary", new: "next: sumary"}},
			want: []string{
				`t.yaml:37: error: state "note": ` + loopNoWayOut,
				`t.yaml:43: error: state "note": unknown target state "sumary"`,
			},
		},
		{
			name:  "unknown target state in a branch",
			edits: []edit{{old: "to: note", new: "to: nope"}},
			want: []string{
				`t.yaml:34: error: state "topic": unknown target state "nope"`,
				`t.yaml:37: error: state "note": unreachable from start state "hello"`,
			},
		},
		{
			name: "unreachable state",
			extra: `  - id: orphan
    end: true
    say: {en: "Lost", kmr: "Winda"}
`,
			want: []string{`t.yaml:62: error: state "orphan": unreachable from start state "hello"`},
		},
		{
			name:  "dead end: message without next",
			edits: []edit{{old: "  - id: sent\n    end: true\n", new: "  - id: sent\n"}},
			want: []string{
				`t.yaml:53: error: state "submit": ` + loopNoWayOut,
				`t.yaml:56: error: state "sent": dead end: a message state needs next`,
				`t.yaml:56: error: state "sent": ` + loopNoWayOut,
			},
		},
		{
			name:  "dead end: choice with no next anywhere",
			edits: []edit{{old: "kmr: \"Betal\"}\n        next: bye\n", new: "kmr: \"Betal\"}\n"}},
			want:  []string{`t.yaml:50: error: state "summary": dead end: choice "cancel" has no next and the state has none`},
		},
		{
			name:  "loop of questions with no way out",
			edits: []edit{{old: "    next: summary\n", new: "    next: again\n"}},
			extra: `  - id: again
    say: {en: "Again?", kmr: "Dîsa?"}
    choices:
      - id: ok
        label: {en: "OK", kmr: "Baş"}
    next: note
`,
			want: []string{
				`t.yaml:37: error: state "note": ` + loopNoWayOut,
				`t.yaml:62: error: state "again": ` + loopNoWayOut,
			},
		},
		{
			name:  "loop of messages with no question",
			edits: []edit{{old: "kmr: \"Betal\"}\n        next: bye\n", new: "kmr: \"Betal\"}\n        next: wait\n"}},
			extra: `  - id: wait
    say: {en: "Wait.", kmr: "Bisekine."}
    next:
      - when: {field: topic, is: [work]}
        to: bye
      - to: wait_more
  - id: wait_more
    say: {en: "Still waiting.", kmr: "Hê jî."}
    next: wait
`,
			want: []string{
				`t.yaml:62: error: state "wait": ` + messageLoop,
				`t.yaml:68: error: state "wait_more": ` + messageLoop,
			},
		},
		{
			name:  "missing text for a declared language",
			edits: []edit{{old: `say: {en: "Hello", kmr: "Silav"}`, new: `say: {en: "Hello"}`}},
			want:  []string{`t.yaml:11: error: state "hello": [kmr] missing text for say`},
		},
		{
			name:  "blank text counts as missing",
			edits: []edit{{old: `kmr: "Silav"`, new: `kmr: "  "`}},
			want:  []string{`t.yaml:11: error: state "hello": [kmr] missing text for say`},
		},
		{
			name:  "missing label in a declared language",
			edits: []edit{{old: `label: {en: "Home", kmr: "Mal"}`, new: `label: {en: "Home"}`}},
			want:  []string{`t.yaml:30: error: state "topic": [kmr] missing text for label of choice "home"`},
		},
		{
			name:  "missing title of a question that saves",
			edits: []edit{{old: "    title: {en: \"Topic\", kmr: \"Mijar\"}\n", new: ""}},
			want:  []string{`t.yaml:23: error: state "topic": missing title`},
		},
		{
			name:  "text in an undeclared language",
			edits: []edit{{old: `say: {en: "Hello", kmr: "Silav"}`, new: `say: {en: "Hello", kmr: "Silav", fr: "Salut", ar: "مرحبا"}`}},
			want: []string{
				`t.yaml:11: error: state "hello": [ar] text in a language the flow does not declare`,
				`t.yaml:11: error: state "hello": [fr] text in a language the flow does not declare`,
			},
		},
		{
			name:  "set with values that are not ids, reported in key order",
			edits: []edit{{old: "    next: consent\n", new: "    set: {zz: \"a b\", aa: \"c d\"}\n    next: consent\n"}},
			want: []string{
				`t.yaml:12: error: state "hello": set aa: "c d": field and value must be plain ids`,
				`t.yaml:12: error: state "hello": set zz: "a b": field and value must be plain ids`,
			},
		},
		{
			name:  "sensitive question before the consent state",
			edits: []edit{{old: "    next: consent\n", new: "    next: age\n"}},
			extra: `  - id: age
    say: {en: "How old are you?", kmr: "Tu çend salî yî?"}
    title: {en: "Age", kmr: "Temen"}
    save: age
    optional: true
    choices:
      - id: adult
        label: {en: "18 or over", kmr: "18 an zêdetir"}
      - id: child
        label: {en: "Under 18", kmr: "Di bin 18 de"}
    next: consent
`,
			want: []string{`t.yaml:62: error: state "age": saves an answer ("age") but can be reached before consent`},
		},
		{
			name:  "refusing consent leads to questions",
			edits: []edit{{old: "kmr: \"Na\"}\n        next: bye\n", new: "kmr: \"Na\"}\n        next: topic\n"}},
			want: []string{
				`t.yaml:23: error: state "topic": saves an answer ("topic") but can be reached before consent`,
				`t.yaml:37: error: state "note": saves an answer ("note") but can be reached before consent`,
			},
		},
		{
			name:  "consent state without a refusing choice",
			edits: []edit{{old: "      - id: decline\n        label: {en: \"No\", kmr: \"Na\"}\n        next: bye\n", new: ""}},
			want:  []string{`t.yaml:15: error: state "consent": the consent state must offer a way to refuse (a choice without consent: true)`},
		},
		{
			name:  "consent state without a consenting choice",
			edits: []edit{{old: "        consent: true\n", new: ""}},
			want: []string{
				`t.yaml:15: error: state "consent": the consent state has no choice with consent: true`,
				`t.yaml:22: error: state "topic": saves an answer ("topic") but can be reached before consent`,
				`t.yaml:36: error: state "note": saves an answer ("note") but can be reached before consent`,
			},
		},
		{
			name:  "consent state that is not a single choice",
			edits: []edit{{old: "consent: consent\n", new: "consent: hello\n"}},
			want: []string{
				`t.yaml:10: error: state "hello": the consent state must be a single choice`,
				`t.yaml:17: error: state "consent": consent: true outside the consent state "hello"`,
			},
		},
		{
			name:  "consent: true outside the consent state",
			edits: []edit{{old: "      - id: send\n", new: "      - id: send\n        consent: true\n"}},
			want:  []string{`t.yaml:48: error: state "summary": consent: true outside the consent state "consent"`},
		},
		{
			name:  "exclusive choice outside a multi state",
			edits: []edit{{old: "      - id: work\n", new: "      - id: work\n        exclusive: true\n"}},
			want:  []string{`t.yaml:32: error: state "topic": exclusive: true is only for choices of a multi state`},
		},
		{
			name:  "choice question that cannot be skipped",
			edits: []edit{{old: "    save: topic\n    optional: true\n", new: "    save: topic\n"}},
			want:  []string{`t.yaml:23: error: state "topic": ` + cannotSkip},
		},
		{
			name:  "text question that cannot be skipped",
			edits: []edit{{old: "    save: note\n    optional: true\n", new: "    save: note\n"}},
			want:  []string{`t.yaml:37: error: state "note": ` + cannotSkip},
		},
		{
			name: "a choice with skip: true makes a question skippable",
			edits: []edit{
				{old: "    save: topic\n    optional: true\n", new: "    save: topic\n"},
				{old: "      - id: work\n", new: "      - id: work\n        skip: true\n"},
			},
		},
		{
			name:  "skip: true on a state that saves nothing",
			edits: []edit{{old: "      - id: send\n", new: "      - id: send\n        skip: true\n"}},
			want:  []string{`t.yaml:48: error: state "summary": skip: true on a state that saves nothing`},
		},
		{
			name:  "condition on a free-text field",
			edits: []edit{{old: "{field: topic, is: [home]}", new: "{field: note, is: [home]}"}},
			want:  []string{`t.yaml:34: error: state "topic": condition on field "note", which holds a free-text or sensitive answer: only routing fields may be tested`},
		},
		{
			name:  "condition on a choice marked sensitive",
			edits: []edit{{old: "    save: topic\n", new: "    save: topic\n    sensitive: true\n"}},
			want:  []string{`t.yaml:35: error: state "topic": condition on field "topic", which holds a free-text or sensitive answer: only routing fields may be tested`},
		},
		{
			name:  "condition on an unknown field",
			edits: []edit{{old: "{field: topic, is: [home]}", new: "{field: topik, is: [home]}"}},
			want:  []string{`t.yaml:34: error: state "topic": condition on field "topik", which no state saves or sets`},
		},
		{
			name:  "condition value the field never has (is)",
			edits: []edit{{old: "is: [home]", new: "is: [hom]"}},
			want:  []string{`t.yaml:34: error: state "topic": field "topic" never has the value "hom"`},
		},
		{
			name:  "condition value the field never has (not)",
			edits: []edit{{old: "is: [home]", new: "not: [work, wrok]"}},
			want:  []string{`t.yaml:34: error: state "topic": field "topic" never has the value "wrok"`},
		},
		{
			name:  "malformed condition: both is and not",
			edits: []edit{{old: "{field: topic, is: [home]}", new: "{field: topic, is: [home], not: [work]}"}},
			want:  []string{`t.yaml:34: error: state "topic": ` + condForms},
		},
		{
			name:  "malformed condition: field without is or not",
			edits: []edit{{old: "{field: topic, is: [home]}", new: "{field: topic}"}},
			want:  []string{`t.yaml:34: error: state "topic": ` + condForms},
		},
		{
			name:  "malformed condition: empty",
			edits: []edit{{old: "{field: topic, is: [home]}", new: "{}"}},
			want:  []string{`t.yaml:34: error: state "topic": ` + condForms},
		},
		{
			name:  "malformed condition: null inside all",
			edits: []edit{{old: "{field: topic, is: [home]}", new: "{all: [null]}"}},
			want:  []string{`t.yaml:34: error: state "topic": empty condition`},
		},
		{
			name:  "malformed condition nested in any",
			edits: []edit{{old: "{field: topic, is: [home]}", new: "{any: [{field: topic, is: [home]}, {field: topic, is: [work], all: [{field: topic, is: [home]}]}]}"}},
			want:  []string{`t.yaml:34: error: state "topic": ` + condForms},
		},
		{
			name:  "nested all and any are fine",
			edits: []edit{{old: "{field: topic, is: [home]}", new: "{any: [{field: topic, is: [home]}, {all: [{field: topic, not: [work]}, {field: mark, is: [on]}]}]}"}},
			extra: `  - id: marker
    set: {mark: "on"}
    say: {en: "Marked.", kmr: "Nîşankirî."}
    next: bye
`,
			want: []string{`t.yaml:62: error: state "marker": unreachable from start state "hello"`},
		},
		{
			name: "duplicate state ids",
			extra: `  - id: bye
    end: true
    say: {en: "Bye.", kmr: "Bi xatirê te."}
  - id: bye
    end: true
    say: {en: "Bye!", kmr: "Bi xatirê te!"}
`,
			want: []string{
				`t.yaml:62: error: state "bye": duplicate state id (first defined as state 8)`,
				`t.yaml:65: error: state "bye": duplicate state id (first defined as state 8)`,
			},
		},
		{
			name:  "duplicate choice ids",
			edits: []edit{{old: "      - id: work\n", new: "      - id: home\n"}},
			want:  []string{`t.yaml:31: error: state "topic": duplicate choice id "home"`},
		},
		{
			name:  "field saved twice",
			edits: []edit{{old: "    save: note\n", new: "    save: topic\n"}},
			want:  []string{`t.yaml:41: error: state "note": field "topic" is already saved by state "topic"`},
		},
		{
			name:  "field set and saved",
			edits: []edit{{old: "    next: consent\n", new: "    set: {topic: home}\n    next: consent\n"}},
			want:  []string{`t.yaml:12: error: state "hello": field "topic" is set here but saved by state "topic"`},
		},
		{
			name:  "last branch with a condition",
			edits: []edit{{old: "      - to: summary\n", new: "      - when: {field: topic, is: [work]}\n        to: summary\n"}},
			want:  []string{`t.yaml:36: error: state "topic": the last branch of next must have no condition, so there is always a way on`},
		},
		{
			name:  "branch without a condition before the last",
			edits: []edit{{old: "      - when: {field: topic, is: [home]}\n        to: note\n", new: "      - to: note\n"}},
			want:  []string{`t.yaml:34: error: state "topic": branch without a condition before the last one: the branches after it never apply`},
		},
		{
			name:  "unsupported language",
			edits: []edit{{old: "kmr", new: "ku", all: true}},
			want:  []string{`t.yaml:4: error: unsupported language "ku" (supported: ar, ckb, kmr, en)`},
		},
		{
			name:  "language declared twice",
			edits: []edit{{old: "languages: [en, kmr]", new: "languages: [en, kmr, kmr]"}},
			want:  []string{`t.yaml:4: error: language "kmr" declared twice`},
		},
		{
			name:  "base language not declared",
			edits: []edit{{old: "base: en", new: "base: ar"}},
			want:  []string{`t.yaml:5: error: base language "ar" is not among the declared languages`},
		},
		{
			name:  "reviewed language not declared",
			edits: []edit{{old: "reviewed: [kmr]", new: "reviewed: [kmr, ckb]"}},
			want:  []string{`t.yaml:6: error: reviewed language "ckb" is not declared`},
		},
		{
			// With no start line the problem is reported at the top of the file.
			name:  "start missing",
			edits: []edit{{old: "start: hello\n", new: ""}},
			want:  []string{`t.yaml:1: error: start state "" does not exist`},
		},
		{
			name:  "start names no state",
			edits: []edit{{old: "start: hello", new: "start: hallo"}},
			want:  []string{`t.yaml:8: error: start state "hallo" does not exist`},
		},
		{
			name:  "consent names no state",
			edits: []edit{{old: "consent: consent", new: "consent: concent"}},
			want: []string{
				`t.yaml:7: error: consent state "concent" does not exist`,
				`t.yaml:17: error: state "consent": consent: true outside the consent state "concent"`,
			},
		},
		{
			name:  "unknown placeholder",
			edits: []edit{{old: `"Hello"`, new: `"Hello {name}"`}},
			want:  []string{`t.yaml:11: error: state "hello": [en] unknown placeholder {name} in say (known: {answers}, {ref}, {code})`},
		},
		{
			name: "{ref} and {code} before submit",
			edits: []edit{
				{old: `"Send this? {answers}"`, new: `"Send this? {answers} {ref}"`},
				{old: `"Bişînim? {answers}"`, new: `"Bişînim? {answers} {code}"`},
			},
			want: []string{
				`t.yaml:45: error: state "summary": [en] {ref} and {code} can only be used after a submit state`,
				`t.yaml:45: error: state "summary": [kmr] {ref} and {code} can only be used after a submit state`,
			},
		},
		{
			name:  "conflicting kind keys: choices and input",
			edits: []edit{{old: "    input: text\n", new: "    input: text\n    choices:\n      - id: x\n        label: {en: \"X\", kmr: \"X\"}\n"}},
			want:  []string{`t.yaml:37: error: state "note": ` + onlyOneKind},
		},
		{
			name:  "conflicting kind keys: end and submit",
			edits: []edit{{old: "  - id: bye\n    end: true\n", new: "  - id: bye\n    end: true\n    submit: true\n"}},
			want:  []string{`t.yaml:59: error: state "bye": ` + onlyOneKind},
		},
		{
			name:  "unknown input kind",
			edits: []edit{{old: "input: text", new: "input: essay"}},
			want:  []string{`t.yaml:40: error: state "note": unknown input "essay" (text, number, phone or governorate)`},
		},
		{
			// A part of a known kind's name is still unknown (it once passed a substring test).
			name:  "unknown input kind that is part of a known one",
			edits: []edit{{old: "input: text", new: "input: ext"}},
			want:  []string{`t.yaml:40: error: state "note": unknown input "ext" (text, number, phone or governorate)`},
		},
		{
			name:  "number with min greater than max",
			edits: []edit{{old: "    input: text\n", new: "    input: number\n    min: 5\n    max: 1\n"}},
			want:  []string{`t.yaml:41: error: state "note": min 5 is greater than max 1`},
		},
		{
			name:  "number with min equal to max",
			edits: []edit{{old: "    input: text\n", new: "    input: number\n    min: 1\n    max: 1\n"}},
		},
		{
			name:  "min on a text question",
			edits: []edit{{old: "    input: text\n", new: "    input: text\n    min: 1\n"}},
			want:  []string{`t.yaml:37: error: state "note": min and max are only for input: number`},
		},
		{
			name:  "max_len over the ceiling",
			edits: []edit{{old: "    input: text\n", new: fmt.Sprintf("    input: text\n    max_len: %d\n", MaxTextAnswer+1)}},
			want:  []string{fmt.Sprintf(`t.yaml:41: error: state "note": max_len must be between 1 and %d`, MaxTextAnswer)},
		},
		{
			name:  "revision not positive",
			edits: []edit{{old: "revision: 1", new: "revision: 0"}},
			want:  []string{`t.yaml:3: error: revision must be a positive number`},
		},
		{
			name:  "bad flow id",
			edits: []edit{{old: "id: t\n", new: "id: T\n"}},
			want:  []string{`t.yaml:2: error: flow id "T" must match [a-z][a-z0-9_]* and be at most 16 bytes`},
		},
		{
			name:  "bad choice id",
			edits: []edit{{old: "- id: work", new: "- id: Work"}},
			want:  []string{`t.yaml:31: error: state "topic": choice id "Work" must match [a-z0-9_]+ and be at most 20 bytes`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := derive(t, tc.edits, tc.extra)
			_, errs := validateText(t, src)
			checkProblems(t, src, errs, tc.want)
		})
	}
}

// TestValidateWarnings checks that unreviewed languages are warnings: reported, but not errors.
func TestValidateWarnings(t *testing.T) {
	src := derive(t, []edit{{old: "reviewed: [kmr]", new: "reviewed: []"}}, "")
	all, errs := validateText(t, src)
	checkProblems(t, src, all, []string{`t.yaml:6: warning: [kmr] translation not yet reviewed by a native speaker`})
	if len(errs) != 0 {
		t.Errorf("Errors() kept warnings: %q", errs)
	}

	// Errors come before warnings, whatever their lines.
	src = derive(t, []edit{{old: "reviewed: [kmr]", new: "reviewed: []"}, {old: "start: hello", new: "start: hallo"}}, "")
	all, _ = validateText(t, src)
	checkProblems(t, src, all, []string{
		`t.yaml:8: error: start state "hallo" does not exist`,
		`t.yaml:6: warning: [kmr] translation not yet reviewed by a native speaker`,
	})
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{Severity: Error, File: "f.yaml", Line: 3, Msg: "m"}, `f.yaml:3: error: m`},
		{Problem{Severity: Warning, File: "f.yaml", Line: 4, Lang: locales.KMR, Msg: "m"}, `f.yaml:4: warning: [kmr] m`},
		{Problem{Severity: Error, File: "f.yaml", Line: 5, State: "s", Lang: locales.AR, Msg: "m"}, `f.yaml:5: error: state "s": [ar] m`},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

// TestValidateTextLimit checks texts at and past the limit, counted in UTF-16 code units as
// Telegram counts them: an emoji outside the BMP is two units, an Arabic letter one.
func TestValidateTextLimit(t *testing.T) {
	if MaxTextChars != 4096 {
		t.Fatalf("MaxTextChars = %d, Telegram allows 4096", MaxTextChars)
	}
	limit := MaxTextChars - maxChromeText
	over := fmt.Sprintf(`t.yaml:11: error: state "hello": [en] say is %d characters, at most %d`, limit+1, limit)
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"ascii at the limit", strings.Repeat("a", limit), nil},
		{"ascii past the limit", strings.Repeat("a", limit+1), []string{over}},
		{"arabic at the limit", strings.Repeat("ب", limit), nil}, // 2 bytes, 1 unit each
		{"emoji at the limit", strings.Repeat("😀", limit/2), nil},
		{"emoji past the limit", strings.Repeat("😀", limit/2) + "a", []string{over}},
		{"surrounding space is not counted", " " + strings.Repeat("a", limit) + " ", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := derive(t, []edit{{old: `say: {en: "Hello"`, new: `say: {en: "` + tc.text + `"`}}, "")
			_, errs := validateText(t, src)
			checkProblems(t, "(long)", errs, tc.want)
		})
	}
}

func TestValidateLabelLimit(t *testing.T) {
	over := fmt.Sprintf(`t.yaml:30: error: state "topic": [en] label of choice "home" is %d characters, at most %d`, MaxLabelChars+1, MaxLabelChars)
	for _, tc := range []struct {
		name, label string
		want        []string
	}{
		{"at the limit", strings.Repeat("a", MaxLabelChars), nil},
		{"past the limit", strings.Repeat("a", MaxLabelChars+1), []string{over}},
		{"emoji at the limit", strings.Repeat("😀", MaxLabelChars/2), nil},
		{"emoji past the limit", strings.Repeat("😀", MaxLabelChars/2) + "a", []string{over}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := derive(t, []edit{{old: `label: {en: "Home"`, new: `label: {en: "` + tc.label + `"`}}, "")
			_, errs := validateText(t, src)
			checkProblems(t, src, errs, tc.want)
		})
	}
}

// TestValidateCallbackLimit makes the longest button's callback data exactly MaxCallbackBytes and
// one byte more. With a 16-byte flow id and a 24-byte state id, a 15-byte choice id fills 64 bytes.
func TestValidateCallbackLimit(t *testing.T) {
	const (
		flowID  = "abcdefghijklmnop"         // MaxFlowIDBytes
		stateID = "summary_before_sending_x" // MaxStateIDBytes
	)
	if len(flowID) != MaxFlowIDBytes || len(stateID) != MaxStateIDBytes {
		t.Fatal("test ids do not have the maximum lengths")
	}
	for _, tc := range []struct {
		choice string
		want   []string
	}{
		{"cancel_and_quit", nil},
		{"cancel_and_quits", []string{fmt.Sprintf(`t.yaml:50: error: state %q: callback data "%s:%d:%s:cancel_and_quits" is 65 bytes, at most 64: shorten the flow, state or choice id`, stateID, flowID, RevisionReserve, stateID)}},
	} {
		t.Run(tc.choice, func(t *testing.T) {
			data := CallbackData(flowID, RevisionReserve, stateID, ChoiceID(tc.choice))
			if wantLen := MaxCallbackBytes + len(tc.want); len(data) != wantLen {
				t.Fatalf("callback data %q is %d bytes, the case needs %d", data, len(data), wantLen)
			}
			src := derive(t, []edit{
				{old: "id: t\n", new: "id: " + flowID + "\n"},
				{old: "summary", new: stateID, all: true},
				{old: "id: cancel", new: "id: " + tc.choice},
			}, "")
			_, errs := validateText(t, src)
			checkProblems(t, src, errs, tc.want)
		})
	}
}

// TestCallbackDataLen checks the length the validator computes against the data the engine sends.
func TestCallbackDataLen(t *testing.T) {
	for _, rev := range []int{0, 1, 9, 10, 99, 100, RevisionReserve, -1, -9, -10, math.MaxInt, math.MinInt} {
		for _, choice := range []ChoiceID{"", "yes", ChromeBack, "صح"} {
			want := len(CallbackData("intake", rev, "safe_now", choice))
			if got := callbackDataLen("intake", rev, "safe_now", choice); got != want {
				t.Errorf("callbackDataLen(rev %d, choice %q) = %d, want %d", rev, choice, got, want)
			}
		}
	}
}

// TestValidateChoiceLimit checks MaxChoices at and past the limit.
func TestValidateChoiceLimit(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []string
	}{
		{MaxChoices, nil},
		{MaxChoices + 1, []string{fmt.Sprintf(`t.yaml:28: error: state "topic": %d choices, at most %d`, MaxChoices+1, MaxChoices)}},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			var more strings.Builder
			for i := 3; i <= tc.n; i++ { // home and work are choices 1 and 2
				fmt.Fprintf(&more, "      - id: c%02d\n        label: {en: \"C%d\", kmr: \"C%d\"}\n", i, i, i)
			}
			work := "      - id: work\n        label: {en: \"Work\", kmr: \"Kar\"}\n"
			src := derive(t, []edit{{old: work, new: work + more.String()}}, "")
			f, err := Read("t.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := f.State("topic"); len(s.Choices) != tc.n {
				t.Fatalf("topic has %d choices, want %d", len(s.Choices), tc.n)
			}
			_, errs := validateText(t, src)
			checkProblems(t, src, errs, tc.want)
		})
	}
}

// TestButtonLimitUnreachable pins why no test reaches MaxButtons: the most buttons a message can
// carry is MaxChoices (or the governorate list) plus the chrome (Back, Skip, Done, Exit). If a
// limit changes so that MaxButtons can be reached, this fails and a test at that limit is needed.
func TestButtonLimitUnreachable(t *testing.T) {
	const chrome = 4
	for name, n := range map[string]int{
		"choices":      MaxChoices + chrome,
		"governorates": len(locales.Governorates) + chrome,
	} {
		if n > MaxButtons {
			t.Errorf("%s: %d buttons can be reached, over MaxButtons (%d): add a test at that limit", name, n, MaxButtons)
		}
	}
}

// TestValidateStateLimit generates flows of MaxStates and MaxStates+1 states: a chain of
// messages ending in an end state.
func TestValidateStateLimit(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []string
	}{
		{MaxStates, nil},
		{MaxStates + 1, []string{fmt.Sprintf(`many.yaml:8: error: flow has %d states, at most %d`, MaxStates+1, MaxStates)}},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			var b strings.Builder
			b.WriteString("spec: 1\nid: many\nrevision: 1\nlanguages: [en]\nbase: en\nreviewed: []\nstart: s000\nstates:\n")
			for i := 0; i < tc.n-1; i++ {
				fmt.Fprintf(&b, "  - id: s%03d\n    say: {en: \"Step %d\"}\n    next: s%03d\n", i, i, i+1)
			}
			fmt.Fprintf(&b, "  - id: s%03d\n    end: true\n    say: {en: \"Done\"}\n", tc.n-1)
			f, err := Read("many.yaml", []byte(b.String()))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.States) != tc.n {
				t.Fatalf("generated %d states, want %d", len(f.States), tc.n)
			}
			var got []string
			for _, p := range Validate(f) {
				got = append(got, p.String())
			}
			checkProblems(t, "(generated)", got, tc.want)
		})
	}
}

// TestValidateFarTooManyStates checks that a flow far over MaxStates gets the one error that
// matters: the graph checks, quadratic in the number of states, are skipped (4000 states once
// took the validator 14 s; a 1 MiB file can hold 25000).
func TestValidateFarTooManyStates(t *testing.T) {
	n := 20 * MaxStates
	var b strings.Builder
	b.WriteString("spec: 1\nid: many\nrevision: 1\nlanguages: [en]\nbase: en\nreviewed: []\nstart: s0\nstates:\n")
	for i := 0; i < n-1; i++ {
		fmt.Fprintf(&b, "- {id: s%d, say: {en: x}, next: s%d}\n", i, i+1)
	}
	b.WriteString("- {id: orphan, end: true, say: {en: x}}\n") // unreachable, and s3998 leads nowhere
	f, err := Read("many.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range Validate(f) {
		got = append(got, p.String())
	}
	checkProblems(t, "(generated)", got, []string{
		fmt.Sprintf(`many.yaml:8: error: flow has %d states, at most %d`, n, MaxStates),
		fmt.Sprintf(`many.yaml:%d: error: state "s%d": unknown target state "s%d"`, 8+n-1, n-2, n-1),
	})
}

// libraryFiles lists the shipped flows, relative to the package directory.
func libraryFiles(t testing.TB) []string {
	t.Helper()
	names, err := filepath.Glob("library/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, filepath.Join("library", "intake.yaml")) {
		t.Fatalf("library/intake.yaml not found among %v", names)
	}
	return names
}

// forbiddenField matches names of fields Penah must never collect: GBVIMS / IASC first-contact
// guidance keeps identities, the story, the perpetrator, ethnicity, religion and evidence out of
// a first contact. A simple guard on field names, not a review of the texts.
var forbiddenField = regexp.MustCompile(`name|address|id_number|perpetrator|ethnic|religion|story|evidence`)

// forbiddenFields returns the fields a flow saves or sets whose names match forbiddenField.
func forbiddenFields(f *Flow) []string {
	var out []string
	for _, s := range f.States {
		if forbiddenField.MatchString(string(s.Save)) {
			out = append(out, string(s.Save))
		}
		for name := range s.Set {
			if forbiddenField.MatchString(string(name)) {
				out = append(out, string(name))
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestLibraryFlows checks the shipped flows: they pass the publish gate, ask nothing forbidden
// and speak only Penah's languages.
func TestLibraryFlows(t *testing.T) {
	supported := []string{"ar", "ckb", "kmr", "en"}
	for _, name := range libraryFiles(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Read(name, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range Validate(f).Errors() {
				t.Error(p)
			}
			if bad := forbiddenFields(f); len(bad) != 0 {
				t.Errorf("saves forbidden fields: %v", bad)
			}
			if len(f.Languages) == 0 {
				t.Error("no languages")
			}
			for _, l := range f.Languages {
				if !slices.Contains(supported, string(l)) {
					t.Errorf("language %q is not one of %v", l, supported)
				}
			}
		})
	}
}

// TestForbiddenFieldsGuard shows that the guard in TestLibraryFlows can fail.
func TestForbiddenFieldsGuard(t *testing.T) {
	src := derive(t, []edit{
		{old: "save: note", new: "save: full_name"},
		{old: "    next: consent\n", new: "    set: {perpetrator_known: \"yes\"}\n    next: consent\n"},
	}, "")
	f, err := Read("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := forbiddenFields(f), []string{"full_name", "perpetrator_known"}; !slices.Equal(got, want) {
		t.Errorf("forbiddenFields = %v, want %v", got, want)
	}
	base, err := Read("t.yaml", []byte(baseFlow))
	if err != nil {
		t.Fatal(err)
	}
	if got := forbiddenFields(base); len(got) != 0 {
		t.Errorf("forbiddenFields(base) = %v", got)
	}
}
