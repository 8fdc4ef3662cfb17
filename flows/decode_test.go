package flows

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// The hand-written decoder (decode.go) must read every flow as goccy/go-yaml's reflection
// decoder did before it. readReference is Read as it was: yaml.NodeToValue fills the Flow (with
// the UnmarshalYAML methods below for Next and Duration) and a walk of the whole tree indexes
// the lines. TestDecodeMatchesReference and FuzzRead compare the two.

// errNotCompared marks inputs the reference does not decode: another spec (migrations are not
// part of decoding) or a panic inside goccy/go-yaml.
var errNotCompared = errors.New("not compared")

// readReference returns the flow the reflection decoder reads from a parsed file, and the spec
// its first pass read.
func readReference(name string, file *ast.File) (f *Flow, spec int, err error) {
	defer func() {
		if recover() != nil {
			f, err = nil, errNotCompared
		}
	}()
	if _, msg := plainYAML(file); msg != "" {
		return nil, 0, errors.New(msg)
	}
	body := docBody(file)
	if body == nil {
		return nil, 0, errNotCompared
	}
	var head struct {
		Spec int `yaml:"spec"`
	}
	if err := yaml.NodeToValue(body, &head); err != nil {
		return nil, 0, err
	}
	if head.Spec != specVersion {
		return nil, head.Spec, errNotCompared
	}
	f = &Flow{File: name}
	if err := yaml.NodeToValue(body, f, yaml.DisallowUnknownField()); err != nil {
		return nil, head.Spec, err
	}
	lines := referenceLines{}
	ast.Walk(lines, body)
	f.lines = lines
	if err := indexStates(f); err != nil {
		return nil, head.Spec, err
	}
	return f, head.Spec, nil
}

// referenceLines maps the YAML path of every node to the first line of a node with that path.
type referenceLines map[string]int

func (v referenceLines) Visit(n ast.Node) ast.Visitor {
	if n == nil {
		return v
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		p := n.GetPath()
		if old, ok := v[p]; !ok || tk.Position.Line < old {
			v[p] = tk.Position.Line
		}
	}
	return v
}

// UnmarshalYAML accepts either a state id or a list of branches.
func (n *Next) UnmarshalYAML(node ast.Node) error {
	if node.Type() == ast.StringType {
		var id string
		if err := yaml.NodeToValue(node, &id); err != nil {
			return err
		}
		*n = Next{{To: StateID(id)}}
		return nil
	}
	var branches []Branch
	if err := yaml.NodeToValue(node, &branches, yaml.DisallowUnknownField()); err != nil {
		return err
	}
	*n = branches
	return nil
}

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(node ast.Node) error {
	var s string
	if err := yaml.NodeToValue(node, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &yaml.SyntaxError{Message: fmt.Sprintf("not a duration like 72h or 30m: %q", s), Token: node.GetToken()}
	}
	if v <= 0 {
		return &yaml.SyntaxError{Message: fmt.Sprintf("duration must be positive: %q", s), Token: node.GetToken()}
	}
	*d = Duration(v)
	return nil
}

// nonStringKey reports whether a mapping in the document has a key that is not a string. Only
// such documents may be refused by Read and read by the reference (see decode.go).
type nonStringKey struct{ found bool }

func (v *nonStringKey) Visit(n ast.Node) ast.Visitor {
	if mv, ok := n.(*ast.MappingValueNode); ok {
		if _, ok := keyName(mv.Key); !ok {
			v.found = true
		}
	}
	if v.found {
		return nil
	}
	return v
}

// compareWithReference reads data with Read and with the reference decoder and reports any
// difference: a flow one accepts and the other refuses, or two different flows. It returns
// whether the reference read a flow.
func compareWithReference(t *testing.T, data []byte) bool {
	t.Helper()
	if len(data) > MaxFileBytes {
		return false
	}
	file, err := parser.ParseBytes(bytes.TrimPrefix(data, []byte("\ufeff")), 0)
	if err != nil {
		return false // a syntax error: the parser's, whichever decoder follows
	}
	want, wantSpec, refErr := readReference("x.yaml", file)
	if errors.Is(refErr, errNotCompared) {
		return false
	}
	got, err := Read("x.yaml", data)
	switch {
	case refErr != nil && err == nil:
		t.Errorf("Read accepts what the reflection decoder refused (%v):\n%s", refErr, data)
	case refErr == nil && err != nil:
		v := &nonStringKey{}
		ast.Walk(v, docBody(file))
		// Read is stricter than the reflection decoder on purpose in two ways: keys that are not
		// strings, and two keys that mean the same key (goccy lets `{n, n}` through, and the last
		// one silently wins).
		if !v.found && !strings.Contains(err.Error(), "are the same key of") {
			t.Errorf("Read refuses what the reflection decoder accepted: %v\n%s", err, data)
		}
	case err == nil:
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Read and the reflection decoder read different flows from:\n%s\nRead:      %s\nreference: %s", data, dump(got), dump(want))
		}
	}
	if refErr == nil {
		if spec, err := decodeSpec(docBody(file)); err != nil || spec != wantSpec {
			t.Errorf("decodeSpec = %d, %v; the reflection decoder read spec %d", spec, err, wantSpec)
		}
	}
	return refErr == nil
}

// dump shows a flow with its states and lines, for a failing comparison.
func dump(f *Flow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%+v\n", *f)
	for _, s := range f.States {
		fmt.Fprintf(&b, "  %+v\n", *s)
		for _, c := range s.Choices {
			fmt.Fprintf(&b, "    %+v\n", *c)
		}
	}
	return b.String()
}

// referenceCases are inputs at the corners of the reflection decoder's rules: conversions
// between scalars, null and empty values, and the ways YAML writes keys and blocks.
var referenceCases = []string{
	"spec: 1\nid: 12\nrevision: \"7\"\n",
	"spec: 1\nid: 1.50\nbase: true\nconsent: .inf\nstart: 0x1F\n",
	"spec: 1\nid: ~\nrevision: 1.5\n",
	"spec: 1\nrevision: -.inf\n",
	"spec: 1\nrevision: .nan\n",
	"spec: 1\nrevision: 99999999999999999999\n",
	"spec: 1\nrevision: 0o10\n",
	"spec: 1\nrevision: 010\n",
	"spec: 1\nrevision: 1_000\n",
	"spec: 1\nrevision: 1e3\n",
	"spec: 1\nrevision: \"-7\"\n",
	"spec: 1\nrevision: true\n",
	"spec: 1\nrevision: [1]\n",
	"spec: 1\nrevision: |\n  5\n",
	"spec: 1.9\n",
	"spec: \"1\"\n",
	"spec: 1\nid: |\n  t\n",
	"spec: 1\nid: [a]\n",
	"spec: 1\nid: {a: b}\n",
	"spec: 1\nstates: ~\nlanguages: []\nreviewed: ~\n",
	"spec: 1\nstates: []\n",
	"spec: 1\nlanguages: [en, ~, 1, 2.5, true]\n",
	"spec: 1\nlanguages: [en, [x]]\n",
	"spec: 1\nexpire_after: ~\nresume_after: 1h\n",
	"spec: 1\nexpire_after: 0\n",
	"spec: 1\nexpire_after: [1h]\n",
	"spec: 1\nexpire_after: |\n  1h\n",
	"spec: 1\nstates:\n  - id: a\n    multi: yes\n",
	"spec: 1\nstates:\n  - id: a\n    multi: 1\n",
	"spec: 1\nstates:\n  - id: a\n    multi: ~\n    min: ~\n    max: 5\n",
	"spec: 1\nstates:\n  - id: a\n    min: -5.7\n    max: \"5\"\n",
	"spec: 1\nstates:\n  - id: a\n    min: \"-5\"\n",
	"spec: 1\nstates:\n  - id: a\n    min: 18446744073709551615\n",
	"spec: 1\nstates:\n  - id: a\n    min: -9223372036854775808\n",
	"spec: 1\nstates:\n  - id: a\n    min: -.inf\n",
	"spec: 1\nstates:\n  - id: a\n    max_len: 1e2\n",
	"spec: 1\nstates:\n  - id: a\n    max_len: \"1e19\"\n",
	"spec: 1\nstates:\n  - id: a\n    max_len: 9223372036854775807.0\n",
	"spec: 1\nstates:\n  - id: a\n    max_len: \" 5\"\n",
	"spec: 1\nstates:\n  - id: a\n    max_len: -0.5\n",
	"spec: 1\nstates:\n  - id: a\n    next: ~\n",
	"spec: 1\nstates:\n  - id: a\n    next: \"\"\n",
	"spec: 1\nstates:\n  - id: a\n    next: []\n",
	"spec: 1\nstates:\n  - id: a\n    next: |\n      b\n",
	"spec: 1\nstates:\n  - id: a\n    next: [b]\n",
	"spec: 1\nstates:\n  - id: a\n    next: [to: b]\n",
	"spec: 1\nstates:\n  - id: a\n    next: [~, {}, {when: ~, to: 3}]\n",
	"spec: 1\nstates:\n  - id: a\n    next: [{when: {}, to: b}]\n",
	"spec: 1\nstates:\n  - id: a\n    next: [{when: {all: ~, any: []}, to: b}]\n",
	"spec: 1\nstates:\n  - id: a\n    next: [{when: {all: [~, {field: x, is: [1, true, ~, 1.5]}]}, to: b}]\n",
	"spec: 1\nstates:\n  - id: a\n    next: [{when: {field: x, is: b}, to: b}]\n",
	"spec: 1\nstates:\n  - id: a\n    next: [{when: [x], to: b}]\n",
	"spec: 1\nstates:\n  - id: a\n    next: [{when: {all: [x]}, to: b}]\n",
	"spec: 1\nstates:\n  - id: a\n    choices: ~\n  - id: b\n    choices: []\n",
	"spec: 1\nstates:\n  - id: a\n    choices: [{id: b, next: 3}]\n",
	"spec: 1\nstates:\n  - id: a\n    choices: [x]\n",
	"spec: 1\nstates:\n  - id: a\n    choices: [{id: 1, next: c, label: {en: x}, skip: true, consent: false, exclusive: ~}]\n",
	"spec: 1\nstates:\n  - id: a\n    set: {x: 1, y: ~, z: true}\n  - id: b\n    set: {}\n",
	"spec: 1\nstates:\n  - id: a\n    say: {1: x, 1.0: y}\n",
	"spec: 1\nstates:\n  - id: a\n    say: {~: x}\n",
	"spec: 1\nstates:\n  - id: a\n    say: {en, kmr: x}\n",
	"spec: 1\nstates:\n  - id: a\n    say:\n      ? en\n      ? kmr\n      : x\n",
	"spec: 1\nstates:\n  - id: a\n    say:\n      en: >\n        hi\n        there\n      kmr: |-\n        silav\n",
	"spec: 1\nstates:\n  - id: a\n    say: {en: [x]}\n",
	"spec: 1\nstates:\n  - id: a\n    say: [x]\n",
	"spec: 1\nstates:\n  - id: a\n    ? say\n    : {en: x}\n",
	"spec: 1\n? id\n: a\n\"start\": b\n'consent': c\n",
	"spec: 1\nstates:\n  - id: a\n    1: x\n",
	"spec: 1\nstates:\n  - ~\n  - id: b\n",
	"spec: 1\nstates:\n  - x\n",
	"spec: 1\nstates: [a: b]\n",
	"spec: 1\nstates: {id: a}\n",
	"{spec: 1, states: [{id: a, say: {en: x}, next: b}, {id: b, end: true}]}\n",
	"spec: 1\nstates:\n  # the first state\n  - id: a\n    # what it says\n    say: # in English\n      # hello\n      en: x # there\n\n  -\n    id: b\n",
	"~",
	"hello\n",
	"[spec, 1]\n",
	"---\nspec: 1\n...\n",
}

// TestDecodeMatchesReference reads the library flows, the validator's base flow, the fuzz seeds
// and referenceCases with both decoders.
func TestDecodeMatchesReference(t *testing.T) {
	flows := [][]byte{[]byte(baseFlow), []byte(strings.ReplaceAll(baseFlow, "\n", "\r\n"))}
	for _, name := range libraryFiles(t) {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		flows = append(flows, data)
	}
	for _, data := range flows {
		if !compareWithReference(t, data) {
			t.Errorf("the reference decoder did not read a flow from:\n%.200s…", data)
		}
	}
	for _, s := range append(fuzzSeeds, referenceCases...) {
		compareWithReference(t, []byte(s))
	}
}
