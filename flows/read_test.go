package flows

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestReadErrors checks that what Read refuses is named with the file and the line.
func TestReadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"syntax error", "spec: 1\nid: t\nlanguages: [en\n", "x.yaml:3: sequence end token ']' not found"},
		{"bad indentation", "spec: 1\nstates:\n  - id: a\n   say: x\n", "x.yaml:4: value is not allowed in this context"},
		{"unknown top-level key", "spec: 1\nid: t\nstart_at: a\n", `x.yaml:3: unknown field "start_at"`},
		{"unknown key in a state", "spec: 1\nstates:\n  - id: a\n    text: hi\n", `x.yaml:4: unknown field "text"`},
		{"unknown key in a choice", "spec: 1\nstates:\n  - id: a\n    choices:\n      - id: b\n        goto: c\n", `x.yaml:6: unknown field "goto"`},
		{"unknown key in a branch", "spec: 1\nstates:\n  - id: a\n    next:\n      - to: b\n        if: c\n", `x.yaml:6: unknown field "if"`},
		{"unknown key in a condition", "spec: 1\nstates:\n  - id: a\n    next:\n      - when: {field: f, in: [x]}\n        to: b\n", `x.yaml:5: unknown field "in"`},
		{"duplicate key", "spec: 1\nstates:\n  - id: a\n    say: {en: x}\n    say: {en: y}\n", `x.yaml:5: mapping key "say" already defined at [4:5]`},
		{"wrong type: number", "spec: 1\nid: t\nrevision: first\n", `x.yaml:3: "revision" must be a whole number, not "first"`},
		{"wrong type: list", "spec: 1\nlanguages: en\n", `x.yaml:2: "languages" must be a list, not "en"`},
		{"wrong type: next", "spec: 1\nstates:\n  - id: a\n    next: 5\n", `x.yaml:4: "next" must be a state id or a list of branches, not 5`},
		{"wrong type: next as a mapping", "spec: 1\nstates:\n  - id: a\n    next: {to: b}\n", `x.yaml:4: "next" must be a state id or a list of branches, not a mapping`},
		{"not a mapping", "- spec: 1\n", "x.yaml:1: the flow must be a mapping, not a list"},
		{"empty state", "spec: 1\nstates:\n  - id: a\n  -\n", "x.yaml:4: state 2 is empty"},
		{"empty choice", "spec: 1\nstates:\n  - id: a\n    choices:\n      - id: b\n      - null\n", `x.yaml:6: choice 2 of state "a" is empty`},
		{"duplicate key written as ? key", "spec: 1\n? id\n: a\nid: b\n", `x.yaml:4: mapping key "id" already defined at [2:1]`},
		{"duplicate key in a flow mapping", "spec: 1\nstates:\n  - {id: a, \"id\": b}\n", `x.yaml:3: mapping key "id" already defined at [3:6]`},
		{"two spellings of one key", "spec: 1\nstates:\n  - id: a\n    set: {True: x, true: y}\n", `x.yaml:4: "True" and "true" are the same key of "set"`},
		{"key that is not a string", "spec: 1\nstates:\n  - id: a\n    1: x\n", `x.yaml:4: unknown field "1"`},
		{"wrong type: true or false", "spec: 1\nstates:\n  - id: a\n    multi: yes\n", `x.yaml:4: "multi" must be true or false, not "yes"`},
		{"wrong type: text", "spec: 1\nid: [t]\n", `x.yaml:2: "id" must be a text, not a list`},
		{"wrong type: text in a language", "spec: 1\nstates:\n  - id: a\n    say:\n      en: {x: y}\n", `x.yaml:5: "en" must be a text, not a mapping`},
		{"wrong type: texts", "spec: 1\nstates:\n  - id: a\n    say: hello\n", `x.yaml:4: "say" must be a mapping, not "hello"`},
		{"wrong type: item of a list", "spec: 1\nlanguages: [en, [ar]]\n", `x.yaml:2: an item of "languages" must be a text, not a list`},
		{"wrong type: state", "spec: 1\nstates:\n  - a\n", `x.yaml:3: a state must be a mapping, not "a"`},
		{"wrong type: choice", "spec: 1\nstates:\n  - id: a\n    choices: [b]\n", `x.yaml:4: a choice must be a mapping, not "b"`},
		{"wrong type: branch", "spec: 1\nstates:\n  - id: a\n    next: [b]\n", `x.yaml:4: a branch must be a mapping, not "b"`},
		{"wrong type: next as a block of text", "spec: 1\nstates:\n  - id: a\n    next: |\n      b\n", `x.yaml:4: "next" must be a state id or a list of branches, not a block of text`},
		{"wrong type: condition", "spec: 1\nstates:\n  - id: a\n    next:\n      - when: [x]\n        to: b\n", `x.yaml:5: "when" must be a mapping, not a list`},
		{"wrong type: condition in all", "spec: 1\nstates:\n  - id: a\n    next:\n      - when: {all: [x]}\n        to: b\n", `x.yaml:5: a condition must be a mapping, not "x"`},
		{"wrong type: duration", "spec: 1\nexpire_after: [72h]\n", `x.yaml:2: "expire_after" must be a duration like 72h or 30m, not a list`},
		{"number out of range", "spec: 1\nstates:\n  - id: a\n    min: 9223372036854775808\n", `x.yaml:4: "min" is out of range: 9223372036854775808`},
		{"number too long to be one", "spec: 1\nrevision: 99999999999999999999\n", `x.yaml:2: "revision" is out of range: 99999999999999999999`},
		{"tag", "spec: 1\nstates:\n  - id: a\n    next: !!str b\n", "x.yaml:4: YAML tags (!!...) are not allowed in a flow"},
		{"anchor", "spec: 1\nlanguages: &l [en]\nreviewed: *l\n", "x.yaml:2: YAML anchors and aliases (&name, *name) are not allowed in a flow"},
		{"merge key", "spec: 1\nstates:\n  - id: a\n    say: {<<: {en: x}, en: y}\n", "x.yaml:4: YAML merge keys (<<) are not allowed in a flow"},
		{"second document", "spec: 1\nid: t\n---\nid: u\n", `x.yaml:4: a flow file holds one YAML document; remove the second "---"`},
		{"missing spec", "id: t\nrevision: 1\n", `x.yaml:1: missing or invalid "spec" (this Penah reads spec 1)`},
		{"empty file", "", `x.yaml:1: missing or invalid "spec" (this Penah reads spec 1)`},
		{"spec not a number", "spec: one\n", `x.yaml:1: "spec" must be a whole number, not "one"`},
		{"spec newer", "spec: 2\nid: t\n", "x.yaml:1: spec 2 is newer than this Penah understands (spec 1); upgrade Penah"},
		{"duration: negative", "spec: 1\nid: t\nexpire_after: -1h\n", `x.yaml:3: duration must be positive: "-1h"`},
		{"duration: zero", "spec: 1\nresume_after: 0s\n", `x.yaml:2: duration must be positive: "0s"`},
		{"duration: words", "spec: 1\nid: t\nexpire_after: soon\n", `x.yaml:3: not a duration like 72h or 30m: "soon"`},
		{"duration: no unit", "spec: 1\nexpire_after: 72\n", `x.yaml:2: not a duration like 72h or 30m: "72"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Read("x.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("Read accepted:\n%s", tc.src)
			}
			if f != nil {
				t.Errorf("Read returned a flow with its error")
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n  %s\nwant:\n  %s", err, tc.want)
			}
		})
	}
}

func TestReadDurations(t *testing.T) {
	for _, tc := range []struct {
		name, keys     string
		expire, resume time.Duration
	}{
		{"set", "expire_after: 72h\nresume_after: 30m\n", 72 * time.Hour, 30 * time.Minute},
		{"quoted, with a comment", "expire_after: \"24h\"   # a day\nresume_after: '1h30m'\n", 24 * time.Hour, 90 * time.Minute},
		{"defaults", "", DefaultExpireAfter, DefaultResumeAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Read("x.yaml", []byte("spec: 1\n"+tc.keys))
			if err != nil {
				t.Fatal(err)
			}
			if f.Expiry() != tc.expire || f.ResumeCheck() != tc.resume {
				t.Errorf("Expiry, ResumeCheck = %v, %v; want %v, %v", f.Expiry(), f.ResumeCheck(), tc.expire, tc.resume)
			}
		})
	}
}

// TestReadEncodings checks that a byte order mark and Windows line ends change nothing.
func TestReadEncodings(t *testing.T) {
	want, err := Read("t.yaml", []byte(baseFlow))
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{
		"byte order mark": "\ufeff" + baseFlow,
		"CRLF":            strings.ReplaceAll(baseFlow, "\n", "\r\n"),
	} {
		f, err := Read("t.yaml", []byte(src))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(f, want) {
			t.Errorf("%s: the flow differs from the plain file", name)
		}
	}
}

func TestReadNext(t *testing.T) {
	f, err := Read("t.yaml", []byte(baseFlow))
	if err != nil {
		t.Fatal(err)
	}
	hello, _ := f.State("hello")
	if want := (Next{{To: "consent"}}); !reflect.DeepEqual(hello.Next, want) {
		t.Errorf("next as a state id: %+v, want %+v", hello.Next, want)
	}
	topic, _ := f.State("topic")
	want := Next{
		{When: &Cond{Field: "topic", Is: []string{"home"}}, To: "note"},
		{To: "summary"},
	}
	if !reflect.DeepEqual(topic.Next, want) {
		t.Errorf("next as branches: %+v, want %+v", topic.Next, want)
	}
	if got := topic.Next.Targets(); !reflect.DeepEqual(got, []StateID{"note", "summary"}) {
		t.Errorf("Targets() = %v", got)
	}
	agree, _ := f.State("consent")
	if c, ok := agree.Choice("agree"); !ok || !reflect.DeepEqual(c.Next, Next{{To: "topic"}}) {
		t.Errorf("choice next: %+v", c)
	}
	if got := f.Line("$.states[2].next[1]"); got != 36 {
		t.Errorf("Line of the second branch = %d, want 36", got)
	}
	if got := f.Line("$.states[2].next[1].when"); got != 36 {
		t.Errorf("Line of a missing path falls back to its parent: got %d, want 36", got)
	}
}

func TestReadKinds(t *testing.T) {
	f, err := Read("t.yaml", []byte(baseFlow))
	if err != nil {
		t.Fatal(err)
	}
	want := map[StateID]Kind{
		"hello": KindMessage, "consent": KindChoice, "topic": KindChoice, "note": KindText,
		"summary": KindChoice, "submit": KindSubmit, "sent": KindEnd, "bye": KindEnd,
	}
	for id, k := range want {
		if s, ok := f.State(id); !ok || s.Kind() != k {
			t.Errorf("state %s: kind %v, want %v", id, s.Kind(), k)
		}
	}
}

// TestReadSizeLimit checks MaxFileBytes at the limit (read as usual) and one byte past it.
func TestReadSizeLimit(t *testing.T) {
	pad := MaxFileBytes - len(baseFlow)
	var b strings.Builder
	b.WriteString(baseFlow)
	for pad > 0 {
		line := "#" + strings.Repeat("x", min(pad, 100)-2) + "\n"
		if pad < 2 {
			line = "\n"
		}
		b.WriteString(line)
		pad -= len(line)
	}
	atLimit := b.String()
	if len(atLimit) != MaxFileBytes {
		t.Fatalf("padded flow is %d bytes, want %d", len(atLimit), MaxFileBytes)
	}
	f, err := Read("big.yaml", []byte(atLimit))
	if err != nil {
		t.Fatalf("a flow of exactly MaxFileBytes: %v", err)
	}
	if errs := Validate(f).Errors(); len(errs) != 0 {
		t.Errorf("padded flow has errors: %v", errs)
	}

	_, err = Read("big.yaml", []byte(atLimit+"\n"))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a flow of MaxFileBytes+1: err = %v, want ErrTooLarge", err)
	}
	if want := fmt.Sprintf("big.yaml: flow file too large (%d bytes, at most %d)", MaxFileBytes+1, MaxFileBytes); err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// withSpec makes Read produce spec v with the given migrations for the rest of the test.
func withSpec(t *testing.T, v int, ms map[int]Migration) {
	t.Helper()
	oldV, oldM := specVersion, migrations
	specVersion, migrations = v, ms
	t.Cleanup(func() { specVersion, migrations = oldV, oldM })
}

// TestReadMigration pretends that spec 1 called the first state "begin" and spec 2 renamed it to
// "start": a spec 1 file must be migrated on read, a spec 2 file read as is.
func TestReadMigration(t *testing.T) {
	withSpec(t, 2, map[int]Migration{
		1: func(doc map[string]any) error {
			v, ok := doc["begin"]
			if !ok {
				return errors.New(`no "begin"`)
			}
			delete(doc, "begin")
			doc["start"] = v
			return nil
		},
	})
	old := strings.Replace(baseFlow, "start: hello", "begin: hello", 1)
	f, err := Read("old.yaml", []byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if f.Spec != 2 || f.Start != "hello" {
		t.Errorf("migrated flow: spec %d, start %q; want 2, hello", f.Spec, f.Start)
	}
	if errs := Validate(f).Errors(); len(errs) != 0 {
		t.Errorf("migrated flow has errors: %v", errs)
	}

	// A spec 2 file is not migrated: the old key is unknown.
	_, err = Read("new.yaml", []byte(strings.Replace(old, "spec: 1", "spec: 2", 1)))
	if want := `new.yaml:8: unknown field "begin"`; err == nil || err.Error() != want {
		t.Errorf("spec 2 with the old key: %v, want %s", err, want)
	}
	// A failing migration names the step.
	_, err = Read("bad.yaml", []byte(baseFlow))
	if want := `bad.yaml: migrating from spec 1: spec 1 to 2: no "begin"`; err == nil || err.Error() != want {
		t.Errorf("failing migration: %v, want %s", err, want)
	}
	// A missing step is an error, not a silent skip.
	withSpec(t, 3, map[int]Migration{2: func(map[string]any) error { return nil }})
	_, err = Read("gap.yaml", []byte(old))
	if want := "gap.yaml: migrating from spec 1: no migration from spec 1"; err == nil || err.Error() != want {
		t.Errorf("missing migration: %v, want %s", err, want)
	}
}

// TestReadMigrationRoundTrip migrates every library flow through a migration that changes
// nothing: the result must equal the flow read directly, so re-encoding the document loses no
// text, quoting or type.
func TestReadMigrationRoundTrip(t *testing.T) {
	names := libraryFiles(t)
	data := make([][]byte, len(names))
	direct := make([]*Flow, len(names))
	for i, name := range names {
		var err error
		if data[i], err = os.ReadFile(name); err != nil {
			t.Fatal(err)
		}
		if direct[i], err = Read(name, data[i]); err != nil {
			t.Fatal(err)
		}
	}
	withSpec(t, 2, map[int]Migration{1: func(map[string]any) error { return nil }})
	for i, name := range names {
		migrated, err := Read(name, data[i])
		if err != nil {
			t.Fatal(err)
		}
		if migrated.Spec != 2 {
			t.Errorf("%s: spec %d after migration, want 2", name, migrated.Spec)
		}
		// Lines differ: they come from the re-encoded document.
		migrated.Spec, migrated.lines = direct[i].Spec, direct[i].lines
		if !reflect.DeepEqual(direct[i], migrated) {
			t.Errorf("%s: a migration that changes nothing changed the flow", name)
		}
	}
}

// BenchmarkLoadValidateIntake measures what publishing or starting with the default intake costs.
func BenchmarkLoadValidateIntake(b *testing.B) {
	data, err := os.ReadFile("library/intake.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		f, err := Read("intake.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		if errs := Validate(f).Errors(); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}
