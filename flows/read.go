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
	spec, err := decodeSpec(docBody(file))
	if err != nil {
		return nil, fmt.Errorf("%s:%w", name, err)
	}
	switch {
	case spec == 0:
		return nil, fmt.Errorf("%s:1: missing or invalid \"spec\" (this Penah reads spec %d)", name, specVersion)
	case spec > specVersion:
		return nil, fmt.Errorf("%s:1: spec %d is newer than this Penah understands (spec %d); upgrade Penah", name, spec, specVersion)
	case spec < specVersion:
		migrated, err := migrate(data, spec)
		if err != nil {
			return nil, fmt.Errorf("%s: migrating from spec %d: %w", name, spec, err)
		}
		data = migrated
		if file, err = parser.ParseBytes(data, 0); err != nil {
			return nil, fmt.Errorf("%s: migrating from spec %d: %s", name, spec, yamlError(err))
		}
	}

	f := &Flow{File: name}
	// The library's flows have a YAML path per 50 to 90 bytes: an index sized for one per 40 bytes
	// is never grown while it fills.
	d := &decoder{lines: make(map[string]int, len(data)/40)}
	if err := d.flow(docBody(file), f); err != nil {
		return nil, fmt.Errorf("%s:%w", name, err)
	}
	f.lines = d.lines
	if err := indexStates(f); err != nil {
		return nil, err
	}
	return f, nil
}

// indexStates checks that no state or choice is empty and derives what the engine looks up: each
// state's position and kind, and the states by id.
func indexStates(f *Flow) error {
	f.byID = make(map[StateID]*State, len(f.States))
	for i, s := range f.States {
		if s == nil {
			return fmt.Errorf("%s:%d: state %d is empty", f.File, f.Line(statePath(i)), i+1)
		}
		for j, c := range s.Choices {
			if c == nil {
				return fmt.Errorf("%s:%d: choice %d of state %q is empty", f.File, f.Line(fmt.Sprintf("%s.choices[%d]", statePath(i), j)), j+1, s.ID)
			}
		}
		s.Index = i
		s.kind = deriveKind(s)
		if _, dup := f.byID[s.ID]; !dup {
			f.byID[s.ID] = s
		}
	}
	return nil
}

// docBody returns the content of the (only) document, or nil for an empty file.
func docBody(file *ast.File) ast.Node {
	if len(file.Docs) == 0 {
		return nil
	}
	return file.Docs[0].Body
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

// plainYAML returns the line and a message for the first construct flows do not use: a second
// document (which Unmarshal would silently ignore), a tag (goccy/go-yaml v1.19 panics decoding a
// tagged scalar into a list), an anchor or alias (an aliased state is the same *State twice,
// and problems inside it could not name the line an admin has to change), or a merge key ("<<",
// made for aliases; it also let a text carry the same language twice, the merged one silently
// replaced).
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
	case ast.MergeKeyType:
		v.line, v.msg = nodeLine(n), "YAML merge keys (<<) are not allowed in a flow"
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

func statePath(i int) string { return fmt.Sprintf("$.states[%d]", i) }
