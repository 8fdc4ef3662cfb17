package routing

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/locales"
)

// Vocabulary is what rules may test: the routing fields the flows save, each with the values a
// person can give, and the language. It is derived from the flows themselves, so a rule can
// never wait for a field or a value that no conversation produces.
type Vocabulary struct {
	order  []flows.FieldID // routing fields in the order the flows ask them, then language
	fields map[flows.FieldID]*fieldSpec
}

type fieldSpec struct {
	values []string // in the order of the flow (choices, governorates), language codes in locales.All order
	multi  bool     // a person may give several values (a multi-choice question)
	// sensitive: a free-text, number or phone answer, or a choice marked sensitive. It is sealed
	// and never routed; it is kept here only to say so when a rule names it.
	sensitive bool
}

// NewVocabulary collects the routing fields of fs: the fields saved by choice, multi-choice and
// governorate questions that are not marked sensitive (values: the choice ids, or the governorate
// ids of locales.Governorates), the fields set by `set:` (values: the values set), and
// LanguageField (values: the languages the flows speak). A flow field named "language" is
// shadowed by the case's language and cannot be routed on.
func NewVocabulary(fs []*flows.Flow) *Vocabulary {
	v := &Vocabulary{fields: map[flows.FieldID]*fieldSpec{}}
	spec := func(id flows.FieldID) *fieldSpec {
		fs, ok := v.fields[id]
		if !ok {
			fs = &fieldSpec{}
			v.fields[id] = fs
			v.order = append(v.order, id)
		}
		return fs
	}
	add := func(fs *fieldSpec, vals ...string) {
		for _, val := range vals {
			if !slices.Contains(fs.values, val) {
				fs.values = append(fs.values, val)
			}
		}
	}
	var langs []locales.Lang
	for _, f := range fs {
		if f == nil {
			continue
		}
		for _, l := range f.Languages {
			if !slices.Contains(langs, l) {
				langs = append(langs, l)
			}
		}
		for _, s := range f.States {
			if s == nil {
				continue
			}
			if s.Save != "" && s.Save != LanguageField {
				fs := spec(s.Save)
				switch {
				case s.SensitiveField() || (s.Kind() != flows.KindChoice && s.Kind() != flows.KindMulti && s.Kind() != flows.KindGovernorate):
					fs.sensitive = true
				case s.Kind() == flows.KindGovernorate:
					add(fs, locales.Governorates...)
				default:
					fs.multi = fs.multi || s.Kind() == flows.KindMulti
					for _, c := range s.Choices {
						if c != nil {
							add(fs, string(c.ID))
						}
					}
				}
			}
			for _, name := range slices.Sorted(maps.Keys(s.Set)) {
				if name != LanguageField {
					add(spec(name), s.Set[name])
				}
			}
		}
	}
	lang := spec(LanguageField)
	for _, l := range locales.All { // in the usual order, whatever the flows' order
		if len(langs) == 0 || slices.Contains(langs, l) {
			add(lang, string(l))
		}
	}
	for _, l := range langs {
		add(lang, string(l)) // a language locales does not list: kept, flows.Validate reports it
	}
	return v
}

// Fields lists the fields rules may test, in the order the flows ask them; LanguageField last.
func (v *Vocabulary) Fields() []flows.FieldID {
	var out []flows.FieldID
	for _, id := range v.order {
		if !v.fields[id].sensitive {
			out = append(out, id)
		}
	}
	return out
}

// Values lists the values field can take, or nil for a field rules may not test.
func (v *Vocabulary) Values(field flows.FieldID) []string {
	fs, ok := v.fields[field]
	if !ok || fs.sensitive {
		return nil
	}
	return slices.Clone(fs.values)
}

// Multi reports whether a person may give several values of field (a multi-choice question).
func (v *Vocabulary) Multi(field flows.FieldID) bool {
	fs, ok := v.fields[field]
	return ok && fs.multi
}

// CheckField returns nil when rules may test field, and otherwise an error that lists the fields
// they may test, with a suggestion for a close misspelling.
func (v *Vocabulary) CheckField(field flows.FieldID) error {
	fs, ok := v.fields[field]
	switch {
	case ok && fs.sensitive:
		return fmt.Errorf("field %q is a free or sensitive answer: it is sealed and never used for routing; routing fields are %s",
			field, joinIDs(v.Fields()))
	case ok:
		return nil
	}
	msg := fmt.Sprintf("unknown field %q", field)
	if s := suggest(string(field), idStrings(v.Fields())); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return fmt.Errorf("%s; routing fields are %s", msg, joinIDs(v.Fields()))
}

// CheckValue returns nil when value is one field can take, and otherwise an error that lists the
// values it can take, with a suggestion for a close misspelling. field must pass CheckField.
func (v *Vocabulary) CheckValue(field flows.FieldID, value string) error {
	vals := v.Values(field)
	if slices.Contains(vals, value) {
		return nil
	}
	msg := fmt.Sprintf("%s: unknown value %q", field, value)
	if s := suggest(value, vals); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return fmt.Errorf("%s; %s takes %s", msg, field, strings.Join(vals, ", "))
}

func idStrings(ids []flows.FieldID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}

func joinIDs(ids []flows.FieldID) string { return strings.Join(idStrings(ids), ", ") }

// suggest returns the candidate an operator most likely meant by got, or "". It accepts a
// candidate that differs only in case, one within an edit distance of about half its length
// (forced_labour → forced_work, dohuk → duhok, ninewa → nineveh), or one that got names a whole
// part of (gender → officer_gender) or the start of (lang → language). Among several, the closest wins, then the first listed.
func suggest(got string, candidates []string) string {
	const longest = 64 // no name is this long: a longer text is no misspelling of one
	if got == "" || len(got) > longest {
		return ""
	}
	lower := strings.ToLower(got)
	best, bestScore := "", 0
	for _, c := range candidates {
		score := 0 // lower is better; 0: not a suggestion
		switch d := editDistance(lower, c); {
		case lower == c:
			score = 1
		case d <= max(1, min(len([]rune(lower)), len([]rune(c)))/2):
			score = 2 + d
		case slices.Contains(strings.FieldsFunc(c, isSeparator), lower),
			len(lower) >= 3 && strings.HasPrefix(c, lower):
			score = 2 + len(c) // a whole part or the start: weaker than any close spelling
		}
		if score > 0 && (best == "" || score < bestScore) {
			best, bestScore = c, score
		}
	}
	return best
}

func isSeparator(r rune) bool { return r == '_' || r == '-' }

// editDistance is the Levenshtein distance between a and b, in runes. Inputs are short names.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
