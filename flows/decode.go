package flows

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/penahbot/penah/locales"
)

// This file turns the parsed YAML tree of a flow into a Flow by hand, one small function per type.
//
// goccy/go-yaml's reflection decoder (yaml.NodeToValue) took about a third of the time of
// loading a flow: it first decodes the whole tree into map[string]any, then walks it again with
// reflection, building maps of the keys of every struct it fills. The few types of a flow are
// known, so a direct walk does the job in a small fraction of that, and records the line of
// every YAML path (for Flow.Line) on the way.
//
// The decoder accepts exactly what the reflection decoder accepted and builds the same values
// (decode_test.go holds the two to that, with yaml.NodeToValue kept as the reference), with
// three deliberate exceptions, all inputs where the reflection decoder silently lost data:
//   - a key that is not a string in a state, choice, branch or condition (`1: x`) is an unknown
//     field; the reflection decoder gave up on the whole mapping and left it empty;
//   - two keys of a text or `set` that become the same key (`True:` and `true:`) are a duplicate
//     key, as two identical keys are for the parser; the reflection decoder kept the last;
//   - merge keys (`<<:`) are refused with the anchors they are made for (see plainYAML).
//
// Errors are "LINE: message", the message naming the key as the flow file spells it.

// decoder holds what a decode collects besides the Flow: the line of every YAML path.
type decoder struct {
	lines map[string]int
}

// decodeError is a value of the wrong type, or an unknown key, at a line of the file.
type decodeError struct {
	line int
	msg  string
}

func (e *decodeError) Error() string { return strconv.Itoa(e.line) + ": " + e.msg }

func errorAt(n ast.Node, format string, args ...any) error {
	return &decodeError{line: nodeLine(n), msg: fmt.Sprintf(format, args...)}
}

// mark records the line of n under its YAML path ("$.states[2].say.ar"), keeping the first line
// when several nodes share a path.
func (d *decoder) mark(n ast.Node) {
	d.markLine(n.GetPath(), nodeLine(n))
}

func (d *decoder) markLine(p string, line int) {
	if line == 0 {
		return // a node without a position
	}
	if old, ok := d.lines[p]; !ok || line < old {
		d.lines[p] = line
	}
}

// markPair marks a key-value pair, its key and its value. The three share a path, so the index
// is updated once, with the first of their lines.
func (d *decoder) markPair(e *ast.MappingValueNode) {
	p, line := e.GetPath(), nodeLine(e)
	for _, n := range [...]ast.Node{e.Key, e.Value} {
		if n.GetPath() != p {
			d.mark(n) // not seen in practice; kept exact all the same
			continue
		}
		if l := nodeLine(n); l != 0 && (line == 0 || l < line) {
			line = l
		}
	}
	d.markLine(p, line)
}

// decodeSpec reads only the spec key of a document, so that Read can migrate an older spec
// before decoding keys that spec may not have had.
func decodeSpec(body ast.Node) (int, error) {
	if body == nil {
		return 0, nil // an empty file
	}
	entries, err := mapping(body, "the flow")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if key, ok := keyName(e.Key); ok && key == "spec" {
			v, err := wholeNumber(e.Value, key, strconv.IntSize)
			return int(v), err
		}
	}
	return 0, nil
}

// flow decodes the document body into f.
func (d *decoder) flow(body ast.Node, f *Flow) error {
	if body == nil {
		return nil // an empty file
	}
	d.mark(body)
	entries, err := mapping(body, "the flow")
	if err != nil {
		return err
	}
	for _, e := range entries {
		key, v, err := d.entry(e)
		if err != nil {
			return err
		}
		switch key {
		case "spec":
			var n int64
			n, err = wholeNumber(v, key, strconv.IntSize)
			f.Spec = int(n)
		case "id":
			f.ID, err = text[ID](v, key)
		case "revision":
			var n int64
			n, err = wholeNumber(v, key, strconv.IntSize)
			f.Revision = int(n)
		case "languages":
			f.Languages, err = textList[locales.Lang](d, v, key)
		case "base":
			f.Base, err = text[locales.Lang](v, key)
		case "reviewed":
			f.Reviewed, err = textList[locales.Lang](d, v, key)
		case "expire_after":
			f.ExpireAfter, err = duration(v, key)
		case "resume_after":
			f.ResumeAfter, err = duration(v, key)
		case "consent":
			f.Consent, err = text[StateID](v, key)
		case "start":
			f.Start, err = text[StateID](v, key)
		case "states":
			f.States, err = d.states(v, key)
		default:
			return unknownField(e)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) states(n ast.Node, key string) ([]*State, error) {
	return listOf(d, n, key, d.state)
}

// listOf decodes a list of mappings with one. A null item stays nil, so that Read can report it
// with its number.
func listOf[T any](d *decoder, n ast.Node, key string, one func(ast.Node) (*T, error)) ([]*T, error) {
	if isNull(n) {
		return nil, nil
	}
	items, err := list(n, key)
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(items))
	for _, item := range items {
		d.mark(item)
		var v *T
		if !isNull(item) {
			if v, err = one(item); err != nil {
				return nil, err
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func (d *decoder) state(n ast.Node) (*State, error) {
	entries, err := mapping(n, "a state")
	if err != nil {
		return nil, err
	}
	s := &State{}
	for _, e := range entries {
		key, v, err := d.entry(e)
		if err != nil {
			return nil, err
		}
		switch key {
		case "id":
			s.ID, err = text[StateID](v, key)
		case "say":
			s.Say, err = textMap[locales.Lang](d, v, key)
		case "title":
			s.Title, err = textMap[locales.Lang](d, v, key)
		case "choices":
			s.Choices, err = d.choices(v, key)
		case "multi":
			s.Multi, err = boolean(v, key)
		case "input":
			s.Input, err = text[string](v, key)
		case "min":
			s.Min, err = optionalNumber(v, key)
		case "max":
			s.Max, err = optionalNumber(v, key)
		case "max_len":
			var n int64
			n, err = wholeNumber(v, key, strconv.IntSize)
			s.MaxLen = int(n)
		case "save":
			s.Save, err = text[FieldID](v, key)
		case "set":
			s.Set, err = textMap[FieldID](d, v, key)
		case "sensitive":
			s.Sensitive, err = boolean(v, key)
		case "optional":
			s.Optional, err = boolean(v, key)
		case "submit":
			s.Submit, err = boolean(v, key)
		case "end":
			s.End, err = boolean(v, key)
		case "next":
			s.Next, err = d.next(v, key)
		default:
			return nil, unknownField(e)
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (d *decoder) choices(n ast.Node, key string) ([]*Choice, error) {
	return listOf(d, n, key, d.choice)
}

func (d *decoder) choice(n ast.Node) (*Choice, error) {
	entries, err := mapping(n, "a choice")
	if err != nil {
		return nil, err
	}
	c := &Choice{}
	for _, e := range entries {
		key, v, err := d.entry(e)
		if err != nil {
			return nil, err
		}
		switch key {
		case "id":
			c.ID, err = text[ChoiceID](v, key)
		case "label":
			c.Label, err = textMap[locales.Lang](d, v, key)
		case "next":
			c.Next, err = d.next(v, key)
		case "skip":
			c.Skip, err = boolean(v, key)
		case "consent":
			c.Consent, err = boolean(v, key)
		case "exclusive":
			c.Exclusive, err = boolean(v, key)
		default:
			return nil, unknownField(e)
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// next decodes either a state id or a list of branches.
func (d *decoder) next(n ast.Node, key string) (Next, error) {
	switch n := n.(type) {
	case *ast.NullNode:
		return nil, nil
	case *ast.StringNode: // only a string: `next: 5` or a block of text is a mistake
		return Next{{To: StateID(n.Value)}}, nil
	case *ast.SequenceNode:
		out := make(Next, 0, len(n.Values))
		for _, item := range n.Values {
			d.mark(item)
			b, err := d.branch(item)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		return out, nil
	}
	return nil, errorAt(n, "%q must be a state id or a list of branches, not %s", key, describe(n))
}

func (d *decoder) branch(n ast.Node) (Branch, error) {
	var b Branch
	if isNull(n) {
		return b, nil // a branch with no target, which the validator reports
	}
	entries, err := mapping(n, "a branch")
	if err != nil {
		return b, err
	}
	for _, e := range entries {
		key, v, err := d.entry(e)
		if err != nil {
			return b, err
		}
		switch key {
		case "when":
			b.When, err = d.cond(v, `"when"`)
		case "to":
			b.To, err = text[StateID](v, key)
		default:
			return b, unknownField(e)
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// cond decodes a condition; what names it in messages.
func (d *decoder) cond(n ast.Node, what string) (*Cond, error) {
	if isNull(n) {
		return nil, nil
	}
	entries, err := mapping(n, what)
	if err != nil {
		return nil, err
	}
	c := &Cond{}
	for _, e := range entries {
		key, v, err := d.entry(e)
		if err != nil {
			return nil, err
		}
		switch key {
		case "field":
			c.Field, err = text[FieldID](v, key)
		case "is":
			c.Is, err = textList[string](d, v, key)
		case "not":
			c.Not, err = textList[string](d, v, key)
		case "all":
			c.All, err = d.conds(v, key)
		case "any":
			c.Any, err = d.conds(v, key)
		default:
			return nil, unknownField(e)
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (d *decoder) conds(n ast.Node, key string) ([]*Cond, error) {
	if isNull(n) {
		return nil, nil
	}
	items, err := list(n, key)
	if err != nil {
		return nil, err
	}
	out := make([]*Cond, 0, len(items))
	for _, item := range items {
		d.mark(item)
		c, err := d.cond(item, "a condition")
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// entry returns the key and value of one pair of a flow, state, choice, branch or condition and
// records their line. A key that is not a string can name no field: it is unknown.
func (d *decoder) entry(e *ast.MappingValueNode) (string, ast.Node, error) {
	d.markPair(e)
	key, ok := keyName(e.Key)
	if !ok {
		return "", nil, unknownField(e)
	}
	return key, e.Value, nil
}

func unknownField(e *ast.MappingValueNode) error {
	key, ok := keyName(e.Key)
	if !ok {
		key = written(unwrapKey(e.Key)) // 1, true, null
	}
	return errorAt(e.Key, "unknown field %q", key)
}

// keyName returns the name of a key that is a string, plain or quoted, or written as "? key".
func keyName(k ast.Node) (string, bool) {
	switch k := k.(type) {
	case *ast.StringNode:
		return k.Value, true
	case *ast.MappingKeyNode:
		return keyName(k.Value)
	case *ast.LiteralNode:
		return k.Value.Value, true
	}
	return "", false
}

// mapping returns the pairs of a mapping node; what names the value in the message otherwise.
func mapping(n ast.Node, what string) ([]*ast.MappingValueNode, error) {
	if pairs, ok := pairsOf(n); ok {
		return pairs, nil
	}
	return nil, errorAt(n, "%s must be a mapping, not %s", what, describe(n))
}

func pairsOf(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch n := n.(type) {
	case *ast.MappingNode:
		return n.Values, true
	case *ast.MappingValueNode: // a single pair not wrapped in a mapping
		return []*ast.MappingValueNode{n}, true
	}
	return nil, false
}

// list returns the items of a list node. Callers decode null as a nil slice first: `[]` is an
// empty list, not a missing one.
func list(n ast.Node, key string) ([]ast.Node, error) {
	if seq, ok := n.(*ast.SequenceNode); ok {
		return seq.Values, nil
	}
	return nil, errorAt(n, "%q must be a list, not %s", key, describe(n))
}

func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return ok
}

// text decodes a single value into a string type (an id, a language, a field name).
func text[T ~string](n ast.Node, key string) (T, error) {
	s, ok := scalarText(n)
	if !ok {
		return "", errorAt(n, "%q must be a text, not %s", key, describe(n))
	}
	return T(s), nil
}

// textList decodes a list of single values (languages, condition values).
func textList[T ~string](d *decoder, n ast.Node, key string) ([]T, error) {
	if isNull(n) {
		return nil, nil
	}
	items, err := list(n, key)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(items))
	for i, item := range items {
		d.mark(item)
		s, ok := scalarText(item)
		if !ok {
			return nil, errorAt(item, "an item of %q must be a text, not %s", key, describe(item))
		}
		out[i] = T(s)
	}
	return out, nil
}

// textMap decodes a mapping of single values: a text per language, or the fields of `set`.
func textMap[K ~string](d *decoder, n ast.Node, key string) (map[K]string, error) {
	if isNull(n) {
		return nil, nil
	}
	entries, ok := pairsOf(n)
	if !ok {
		return nil, errorAt(n, "%q must be a mapping, not %s", key, describe(n))
	}
	out := make(map[K]string, len(entries))
	for _, e := range entries {
		d.markPair(e)
		k, ok := scalarText(unwrapKey(e.Key))
		if !ok {
			return nil, errorAt(e.Key, "a key of %q must be a text, not %s", key, describe(e.Key))
		}
		if _, dup := out[K(k)]; dup {
			return nil, sameKey(entries, e, key)
		}
		v, ok := scalarText(e.Value)
		if !ok {
			return nil, errorAt(e.Value, "%q must be a text, not %s", k, describe(e.Value))
		}
		out[K(k)] = v
	}
	return out, nil
}

// sameKey reports a key that means the same as an earlier one (True and true, ~ and null). The
// parser refuses two keys written alike; two spellings of one key are the same mistake.
func sameKey(entries []*ast.MappingValueNode, dup *ast.MappingValueNode, key string) error {
	k, _ := scalarText(unwrapKey(dup.Key))
	first := dup
	for _, e := range entries {
		if s, _ := scalarText(unwrapKey(e.Key)); s == k {
			first = e
			break
		}
	}
	return errorAt(dup.Key, "%q and %q are the same key of %q", written(unwrapKey(first.Key)), written(unwrapKey(dup.Key)), key)
}

func unwrapKey(k ast.Node) ast.Node {
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		return mk.Value
	}
	return k
}

// scalarText returns a scalar as text, the way the reflection decoder turned one into a Go
// string: null is "", numbers and booleans are formatted by Go (0x1F is "31", 1.50 is "1.5").
// It reports false for a list or a mapping.
func scalarText(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.LiteralNode: // | and > blocks
		return n.Value.Value, true
	case *ast.NullNode:
		return "", true
	case *ast.BoolNode:
		return strconv.FormatBool(n.Value), true
	case *ast.IntegerNode:
		switch v := n.Value.(type) {
		case int64:
			return strconv.FormatInt(v, 10), true
		case uint64:
			return strconv.FormatUint(v, 10), true
		}
		return "", true
	case *ast.FloatNode:
		return fmt.Sprint(n.Value), true
	case *ast.InfinityNode:
		return fmt.Sprint(n.Value), true
	case *ast.NanNode:
		return fmt.Sprint(math.NaN()), true
	}
	return "", false
}

func boolean(n ast.Node, key string) (bool, error) {
	switch n := n.(type) {
	case *ast.BoolNode:
		return n.Value, nil
	case *ast.NullNode:
		return false, nil
	}
	return false, errorAt(n, "%q must be true or false, not %s", key, describe(n))
}

func optionalNumber(n ast.Node, key string) (*int64, error) {
	if isNull(n) {
		return nil, nil
	}
	v, err := wholeNumber(n, key, 64)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// wholeNumber decodes an integer of the given size in bits by the reflection decoder's rules, so
// that every flow it read reads the same: integers as written (0x10, 0o10, 1_000), numbers with a
// fraction truncated toward zero, and quoted numbers ("7", "1e3") when they are not negative.
func wholeNumber(n ast.Node, key string, bits int) (int64, error) {
	var v int64
	switch n := n.(type) {
	case *ast.NullNode:
		return 0, nil
	case *ast.IntegerNode:
		switch x := n.Value.(type) {
		case int64:
			v = x
		case uint64:
			if x > math.MaxInt64 {
				return 0, outOfRange(n, key)
			}
			v = int64(x)
		default:
			return 0, notWholeNumber(n, key)
		}
	case *ast.FloatNode:
		if !(n.Value <= math.MaxInt64) {
			return 0, outOfRange(n, key)
		}
		v = int64(n.Value)
	case *ast.InfinityNode:
		if !(n.Value <= math.MaxInt64) {
			return 0, outOfRange(n, key)
		}
		v = int64(n.Value) // -.inf: as the reflection decoder converted it
	case *ast.StringNode, *ast.LiteralNode:
		s, _ := scalarText(n)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !(0 <= f && f <= math.MaxUint64) {
			// A number too long for the parser to take as one (99999999999999999999) is a
			// string to it; say what is wrong with it.
			if plain, ok := n.(*ast.StringNode); ok && plain.Token != nil && plain.Token.Type == token.StringType &&
				(err == nil || errors.Is(err, strconv.ErrRange)) && !math.IsNaN(f) {
				return 0, outOfRange(n, key)
			}
			return 0, notWholeNumber(n, key)
		}
		v = int64(f)
	default:
		return 0, notWholeNumber(n, key)
	}
	if bits < 64 && (v < -1<<(bits-1) || v > 1<<(bits-1)-1) {
		return 0, outOfRange(n, key)
	}
	return v, nil
}

func notWholeNumber(n ast.Node, key string) error {
	return errorAt(n, "%q must be a whole number, not %s", key, describe(n))
}

func outOfRange(n ast.Node, key string) error {
	return errorAt(n, "%q is out of range: %s", key, written(n))
}

// duration decodes a Go duration written as text ("72h", "30m"); it must be positive.
func duration(n ast.Node, key string) (Duration, error) {
	if isNull(n) {
		return 0, nil
	}
	s, ok := scalarText(n)
	if !ok {
		return 0, errorAt(n, "%q must be a duration like 72h or 30m, not %s", key, describe(n))
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, errorAt(n, "not a duration like 72h or 30m: %q", s)
	}
	if v <= 0 {
		return 0, errorAt(n, "duration must be positive: %q", s)
	}
	return Duration(v), nil
}

// describe names what was found instead of the expected value: a scalar as written (quoted when
// it is a string, shortened when long), otherwise its kind.
func describe(n ast.Node) string {
	switch n := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.NullNode:
		return "null"
	case *ast.StringNode:
		const max = 40
		s := n.Value
		if len(s) > max {
			cut := max
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
			s = s[:cut] + "…"
		}
		return strconv.Quote(s)
	}
	if s := written(n); s != "" {
		return s // a number or a boolean
	}
	return n.Type().String()
}

// written returns a scalar as the file writes it.
func written(n ast.Node) string {
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}
