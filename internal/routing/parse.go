package routing

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/penahbot/penah/flows"
)

// ErrTooLarge is returned (wrapped) for a rules file over MaxFileBytes.
var ErrTooLarge = errors.New("rules file too large")

// Parse reads one rules file; file names it in messages. The YAML is read strictly, like a flow:
// one document, no tags, anchors, aliases or merge keys, no unknown or duplicate keys, values of
// the right type. The error is a Problem naming the line. Whether fields, values, priorities and
// team names make sense is left to Validate.
func Parse(data []byte, file string) (*Rules, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: %w (%d bytes, at most %d)", file, ErrTooLarge, len(data), MaxFileBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a byte order mark, as some Windows editors write
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		line, msg := yamlError(err)
		return nil, Problem{File: file, Line: line, Msg: msg}
	}
	body, err := plainYAML(f)
	if err != nil {
		return nil, inFile(err, file)
	}
	r := &Rules{File: file}
	if err := r.decode(body); err != nil {
		return nil, inFile(err, file)
	}
	return r, nil
}

// inFile turns a decode error (a Problem without a file) into a Problem of file.
func inFile(err error, file string) error {
	var p Problem
	if errors.As(err, &p) {
		p.File = file
		return p
	}
	return Problem{File: file, Msg: err.Error()}
}

func errorAt(n ast.Node, format string, args ...any) error {
	return Problem{Line: nodeLine(n), Msg: fmt.Sprintf(format, args...)}
}

// yamlError splits a goccy/go-yaml error ("[line:col] message\n  excerpt") into line and message.
func yamlError(err error) (int, string) {
	s := yaml.FormatError(err, false, false)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if strings.HasPrefix(s, "[") {
		if j := strings.IndexByte(s, ']'); j > 0 {
			pos := s[1:j]
			if k := strings.IndexByte(pos, ':'); k > 0 {
				pos = pos[:k]
			}
			if line, err := strconv.Atoi(pos); err == nil {
				return line, strings.TrimSpace(s[j+1:])
			}
		}
	}
	return 0, s
}

// plainYAML returns the body of the only document, refusing what a rules file does not use: a
// second document, tags, anchors and aliases, merge keys (a rule reached through an alias would
// have no line of its own to point at), and an empty file.
func plainYAML(file *ast.File) (ast.Node, error) {
	var body ast.Node
	for _, doc := range file.Docs {
		if doc.Body == nil {
			continue
		}
		if body != nil {
			return nil, errorAt(doc.Body, "a rules file holds one YAML document; remove the second \"---\"")
		}
		body = doc.Body
	}
	if body == nil {
		return nil, Problem{Line: 1, Msg: "the file is empty"}
	}
	v := &plainVisitor{}
	ast.Walk(v, body)
	return body, v.err
}

type plainVisitor struct{ err error }

func (v *plainVisitor) Visit(n ast.Node) ast.Visitor {
	if n == nil || v.err != nil {
		return nil
	}
	switch n.Type() {
	case ast.TagType:
		v.err = errorAt(n, "YAML tags (!!...) are not allowed in a rules file")
	case ast.AnchorType, ast.AliasType:
		v.err = errorAt(n, "YAML anchors and aliases (&name, *name) are not allowed in a rules file")
	case ast.MergeKeyType:
		v.err = errorAt(n, "YAML merge keys (<<) are not allowed in a rules file")
	default:
		return v
	}
	return nil
}

// Keys of the file and of a rule, in the order FORMAT.md gives them.
var (
	topKeys      = []string{"spec", "default_team", "priorities", "teams"}
	priorityKeys = []string{"name", "when", "priority"}
	teamKeys     = []string{"name", "when", "team"}
)

func (r *Rules) decode(body ast.Node) error {
	pairs, err := mapping(body, "the rules file")
	if err != nil {
		return err
	}
	// The spec first: a newer spec may have keys this code does not know, and saying "upgrade
	// Penah" is more useful than "unknown field".
	for _, e := range pairs {
		if k, ok := keyName(e.Key); ok && k == "spec" {
			n, err := integer(e.Value, "spec")
			if err != nil {
				return err
			}
			r.Spec, r.specLine = n, nodeLine(e.Key)
		}
	}
	switch {
	case r.Spec == 0:
		return Problem{Line: 1, Msg: fmt.Sprintf("missing \"spec\" (this Penah reads spec %d)", SpecVersion)}
	case r.Spec > SpecVersion:
		return Problem{Line: r.specLine, Msg: fmt.Sprintf("spec %d is newer than this Penah understands (spec %d); upgrade Penah", r.Spec, SpecVersion)}
	case r.Spec < SpecVersion:
		// Spec 1 is the first format: there is nothing older to migrate from.
		return Problem{Line: r.specLine, Msg: fmt.Sprintf("spec %d does not exist (this Penah reads spec %d)", r.Spec, SpecVersion)}
	}
	for _, e := range pairs {
		key, ok := keyName(e.Key)
		if !ok {
			return unknownKey(e, topKeys, "the rules file")
		}
		switch key {
		case "spec":
		case "default_team":
			r.DefaultTeam, err = text(e.Value, key)
			r.defaultTeamLine = nodeLine(e.Key)
		case "priorities":
			r.Priorities, err = rules(e.Value, listPriorities)
		case "teams":
			r.Teams, err = rules(e.Value, listTeams)
		default:
			return unknownKey(e, topKeys, "the rules file")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// rules decodes one list. `teams:` with nothing after it is an empty list.
func rules(n ast.Node, l list) ([]*Rule, error) {
	if isNull(n) {
		return nil, nil
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		return nil, errorAt(n, "%q must be a list of rules, not %s", string(l), describe(n))
	}
	out := make([]*Rule, 0, len(seq.Values))
	for i, item := range seq.Values {
		if isNull(item) {
			return nil, errorAt(item, "rule %d of %s is empty", i+1, l)
		}
		r, err := rule(item, l)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func rule(n ast.Node, l list) (*Rule, error) {
	keys := priorityKeys
	if l == listTeams {
		keys = teamKeys
	}
	what := "a rule of " + string(l)
	pairs, err := mapping(n, what)
	if err != nil {
		return nil, err
	}
	r := &Rule{Line: nodeLine(n)}
	if len(pairs) > 0 {
		r.Line = nodeLine(pairs[0].Key) // the line of its first key, where "- " is
	}
	for _, e := range pairs {
		key, ok := keyName(e.Key)
		if !ok || !contains(keys, key) {
			return nil, unknownKey(e, keys, what)
		}
		line := nodeLine(e.Key)
		switch key {
		case "name":
			r.Name, err = text(e.Value, key)
			r.nameLine = line
		case "when":
			r.When, err = when(e.Value)
			r.hasWhen = true
		case "priority":
			r.Priority, err = integer(e.Value, key)
			r.priorityLine = line
		case "team":
			r.Team, err = text(e.Value, key)
			r.teamLine = line
		}
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

// when decodes `{field: [value, …], …}`. Null is refused rather than read as "every case": a
// catch-all rule must say so with `when: {}`.
func when(n ast.Node) ([]Cond, error) {
	if isNull(n) {
		return nil, errorAt(n, "\"when\" is empty; write \"when: {}\" for a rule that matches every case")
	}
	pairs, err := mapping(n, "\"when\"")
	if err != nil {
		return nil, err
	}
	out := make([]Cond, 0, len(pairs))
	for _, e := range pairs {
		key, ok := keyName(e.Key)
		if !ok {
			return nil, errorAt(e.Key, "a field name must be a text, not %s", describe(unwrapKey(e.Key)))
		}
		c := Cond{Field: flows.FieldID(key), Line: nodeLine(e.Key)}
		seq, ok := e.Value.(*ast.SequenceNode)
		if !ok {
			hint := ""
			if s, ok := e.Value.(*ast.StringNode); ok {
				hint = fmt.Sprintf("; write [%s]", s.Value)
			}
			return nil, errorAt(e.Value, "%q must be a list of values, not %s%s", key, describe(e.Value), hint)
		}
		for _, item := range seq.Values {
			v, ok := value(item)
			if !ok {
				return nil, errorAt(item, "a value of %q must be a text, not %s", key, describe(item))
			}
			c.Values = append(c.Values, v)
			c.valueLines = append(c.valueLines, nodeLine(item))
		}
		out = append(out, c)
	}
	return out, nil
}

// value returns a value of a `when` list as it is written, so that an unquoted `yes` or `18`
// means the choice id "yes" or "18" (and not true or a number). Null, lists and mappings are not
// values.
func value(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.BoolNode, *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return written(n), true
	}
	return "", false
}

func unknownKey(e *ast.MappingValueNode, known []string, what string) error {
	key, ok := keyName(e.Key)
	if !ok {
		key = written(unwrapKey(e.Key))
	}
	msg := fmt.Sprintf("unknown key %q in %s", key, what)
	if s := suggest(key, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return errorAt(e.Key, "%s; the keys are %s", msg, strings.Join(known, ", "))
}

// keyName returns a key that is a string, plain or quoted.
func keyName(k ast.Node) (string, bool) {
	switch k := unwrapKey(k).(type) {
	case *ast.StringNode:
		return k.Value, true
	}
	return "", false
}

func unwrapKey(k ast.Node) ast.Node {
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		return mk.Value
	}
	return k
}

func mapping(n ast.Node, what string) ([]*ast.MappingValueNode, error) {
	switch n := n.(type) {
	case *ast.MappingNode:
		return n.Values, nil
	case *ast.MappingValueNode: // a single pair not wrapped in a mapping
		return []*ast.MappingValueNode{n}, nil
	}
	return nil, errorAt(n, "%s must be a mapping, not %s", what, describe(n))
}

func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return ok
}

// text decodes a name (a rule, a team). Only a string will do: `team: 7` is a mistake.
func text(n ast.Node, key string) (string, error) {
	if s, ok := n.(*ast.StringNode); ok {
		return s.Value, nil
	}
	return "", errorAt(n, "%q must be a text, not %s", key, describe(n))
}

// integer decodes a whole number written as one (`priority: 1`, not `"1"` or `1.0`).
func integer(n ast.Node, key string) (int, error) {
	if in, ok := n.(*ast.IntegerNode); ok {
		switch v := in.Value.(type) {
		case int64:
			if v >= -1<<31 && v < 1<<31 {
				return int(v), nil
			}
		case uint64:
			if v < 1<<31 {
				return int(v), nil
			}
		}
		return 0, errorAt(n, "%q is out of range: %s", key, written(n))
	}
	return 0, errorAt(n, "%q must be a whole number, not %s", key, describe(n))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func nodeLine(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// describe names what was found instead of the expected value.
func describe(n ast.Node) string {
	switch n := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.NullNode:
		return "nothing"
	case *ast.StringNode:
		return strconv.Quote(shorten(n.Value))
	}
	if s := written(n); s != "" {
		return shorten(s)
	}
	return n.Type().String()
}

// shorten cuts a long text for a message.
func shorten(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func written(n ast.Node) string {
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}
