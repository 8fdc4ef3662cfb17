package flows

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// ErrTooLarge is returned for a flow file over MaxFileBytes.
var ErrTooLarge = errors.New("flow file too large")

// Migration rewrites a decoded document of spec N into spec N+1, in place.
type Migration func(doc map[string]any) error

// migrations[n] turns spec n into spec n+1. Spec 1 is the first published format, so the table is
// empty; a future spec 2 adds migrations[1] and bumps SpecVersion. Tests register their own.
var migrations = map[int]Migration{}

// specVersion is the spec Read produces: SpecVersion, a variable only so that tests can exercise
// migrations while the table is still empty.
var specVersion = SpecVersion

// Read parses one flow file. name is used in messages only. Syntax errors, unknown keys and wrong
// types are errors with a line number; semantic problems are left to Validate.
func Read(name string, data []byte) (*Flow, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: %w (%d bytes, at most %d)", name, ErrTooLarge, len(data), MaxFileBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a byte order mark, as some Windows editors write
	// Parse first: syntax errors get a line, and the checks in plainYAML run before any decoding.
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, fmt.Errorf("%s:%s", name, yamlError(err))
	}
	if line, msg := plainYAML(file); msg != "" {
		return nil, fmt.Errorf("%s:%d: %s", name, line, msg)
	}
	var head struct {
		Spec int `yaml:"spec"`
	}
	if err := decode(file, &head); err != nil {
		return nil, fmt.Errorf("%s:%s", name, yamlError(err))
	}
	switch {
	case head.Spec == 0:
		return nil, fmt.Errorf("%s:1: missing or invalid \"spec\" (this Penah reads spec %d)", name, specVersion)
	case head.Spec > specVersion:
		return nil, fmt.Errorf("%s:1: spec %d is newer than this Penah understands (spec %d); upgrade Penah", name, head.Spec, specVersion)
	case head.Spec < specVersion:
		migrated, err := migrate(data, head.Spec)
		if err != nil {
			return nil, fmt.Errorf("%s: migrating from spec %d: %w", name, head.Spec, err)
		}
		data = migrated
		if file, err = parser.ParseBytes(data, 0); err != nil {
			return nil, fmt.Errorf("%s: migrating from spec %d: %s", name, head.Spec, yamlError(err))
		}
	}

	f := &Flow{File: name}
	if err := decode(file, f, yaml.DisallowUnknownField()); err != nil {
		return nil, fmt.Errorf("%s:%s", name, yamlError(err))
	}
	f.lines = lineIndex(file)
	f.byID = make(map[StateID]*State, len(f.States))
	for i, s := range f.States {
		if s == nil {
			return nil, fmt.Errorf("%s:%d: state %d is empty", name, f.Line(statePath(i)), i+1)
		}
		for j, c := range s.Choices {
			if c == nil {
				return nil, fmt.Errorf("%s:%d: choice %d of state %q is empty", name, f.Line(fmt.Sprintf("%s.choices[%d]", statePath(i), j)), j+1, s.ID)
			}
		}
		s.Index = i
		s.kind = deriveKind(s)
		if _, dup := f.byID[s.ID]; !dup {
			f.byID[s.ID] = s
		}
	}
	return f, nil
}

// decode decodes the parsed document into v. Decoding from the tree Read already parsed, rather
// than from the bytes, keeps a flow to one YAML parse: parsing is most of the cost of loading.
func decode(file *ast.File, v any, opts ...yaml.DecodeOption) error {
	if len(file.Docs) == 0 || file.Docs[0].Body == nil {
		return nil
	}
	return yaml.NodeToValue(file.Docs[0].Body, v, opts...)
}

func migrate(data []byte, from int) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, errors.New(yamlError(err))
	}
	for v := from; v < specVersion; v++ {
		m, ok := migrations[v]
		if !ok {
			return nil, fmt.Errorf("no migration from spec %d", v)
		}
		if err := m(doc); err != nil {
			return nil, fmt.Errorf("spec %d to %d: %w", v, v+1, err)
		}
		doc["spec"] = v + 1
	}
	return yaml.Marshal(doc)
}

// yamlError formats a goccy/go-yaml error as "LINE: message" without source excerpts or colour.
func yamlError(err error) string {
	s := yaml.FormatError(err, false, false)
	// FormatError yields "[line:col] message\n  source excerpt"; keep the first line.
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if strings.HasPrefix(s, "[") {
		if j := strings.IndexByte(s, ']'); j > 0 {
			pos := s[1:j]
			if k := strings.IndexByte(pos, ':'); k > 0 {
				pos = pos[:k]
			}
			return pos + ": " + strings.TrimSpace(s[j+1:])
		}
	}
	return s
}

type lineVisitor map[string]int

func (v lineVisitor) Visit(n ast.Node) ast.Visitor {
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

// plainYAML returns the line and a message for the first construct flows do not use: a second
// document (which Unmarshal would silently ignore), a tag (goccy/go-yaml v1.19 panics decoding a
// tagged scalar into a list), or an anchor or alias (an aliased state is the same *State twice,
// and problems inside it could not name the line an admin has to change).
func plainYAML(file *ast.File) (int, string) {
	v := &plainVisitor{}
	for i, doc := range file.Docs {
		if doc.Body == nil {
			continue
		}
		if i > 0 {
			return nodeLine(doc.Body), "a flow file holds one YAML document; remove the second \"---\""
		}
		ast.Walk(v, doc.Body)
	}
	return v.line, v.msg
}

type plainVisitor struct {
	line int
	msg  string
}

func (v *plainVisitor) Visit(n ast.Node) ast.Visitor {
	if n == nil || v.msg != "" {
		return nil
	}
	switch n.Type() {
	case ast.TagType:
		v.line, v.msg = nodeLine(n), "YAML tags (!!...) are not allowed in a flow"
	case ast.AnchorType, ast.AliasType:
		v.line, v.msg = nodeLine(n), "YAML anchors and aliases (&name, *name) are not allowed in a flow"
	default:
		return v
	}
	return nil
}

func nodeLine(n ast.Node) int {
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

func lineIndex(file *ast.File) map[string]int {
	v := lineVisitor{}
	for _, doc := range file.Docs {
		if doc.Body != nil {
			ast.Walk(v, doc.Body)
		}
	}
	return v
}

func deriveKind(s *State) Kind {
	n := 0
	var k Kind
	if len(s.Choices) > 0 {
		n++
		k = KindChoice
		if s.Multi {
			k = KindMulti
		}
	}
	if s.Input != "" {
		n++
		switch s.Input {
		case "text":
			k = KindText
		case "number":
			k = KindNumber
		case "phone":
			k = KindPhone
		case "governorate":
			k = KindGovernorate
		default:
			return 0
		}
	}
	if s.Submit {
		n++
		k = KindSubmit
	}
	if s.End {
		n++
		k = KindEnd
	}
	switch n {
	case 0:
		return KindMessage
	case 1:
		return k
	}
	return 0 // conflicting keys; the validator names them
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

func statePath(i int) string { return fmt.Sprintf("$.states[%d]", i) }
