package flows

import (
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

// Read parses one flow file. name is used in messages only. Syntax errors, unknown keys and wrong
// types are errors with a line number; semantic problems are left to Validate.
func Read(name string, data []byte) (*Flow, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: %w (%d bytes, at most %d)", name, ErrTooLarge, len(data), MaxFileBytes)
	}
	var head struct {
		Spec int `yaml:"spec"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%s:%s", name, yamlError(err))
	}
	switch {
	case head.Spec == 0:
		return nil, fmt.Errorf("%s:1: missing or invalid \"spec\" (this Penah reads spec %d)", name, SpecVersion)
	case head.Spec > SpecVersion:
		return nil, fmt.Errorf("%s:1: spec %d is newer than this Penah understands (spec %d); upgrade Penah", name, head.Spec, SpecVersion)
	case head.Spec < SpecVersion:
		migrated, err := migrate(data, head.Spec)
		if err != nil {
			return nil, fmt.Errorf("%s: migrating from spec %d: %w", name, head.Spec, err)
		}
		data = migrated
	}

	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, fmt.Errorf("%s:%s", name, yamlError(err))
	}
	f := &Flow{File: name}
	if err := yaml.UnmarshalWithOptions(data, f, yaml.DisallowUnknownField()); err != nil {
		return nil, fmt.Errorf("%s:%s", name, yamlError(err))
	}
	f.lines = lineIndex(file)
	f.byID = make(map[StateID]*State, len(f.States))
	for i, s := range f.States {
		if s == nil {
			return nil, fmt.Errorf("%s:%d: state %d is empty", name, f.Line(statePath(i)), i+1)
		}
		s.Index = i
		s.kind = deriveKind(s)
		if _, dup := f.byID[s.ID]; !dup {
			f.byID[s.ID] = s
		}
	}
	return f, nil
}

func migrate(data []byte, from int) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, errors.New(yamlError(err))
	}
	for v := from; v < SpecVersion; v++ {
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
