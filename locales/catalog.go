package locales

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"github.com/nicksnyder/go-i18n/v2/i18n/template"
)

//go:embed ar.yaml ckb.yaml kmr.yaml en.yaml
var embedded embed.FS

// Catalog limits.
const (
	// MaxCatalogBytes bounds one catalog file.
	MaxCatalogBytes = 1 << 20
	// MaxMessageChars is Telegram's limit on the text of one message.
	MaxMessageChars = 4096
	// MaxButtonLabel is the longest button label Penah allows (characters).
	MaxButtonLabel = 64
)

// Catalog holds the chrome messages of every supported language. It is
// safe for concurrent use.
type Catalog struct {
	bundle     *i18n.Bundle
	localizers map[Lang]*i18n.Localizer
	messages   map[Lang]map[MsgID]*i18n.Message
	words      map[string]Command // Fold(word) → command, all languages
}

// templateParser executes message templates; a variable the caller did not
// supply is an error rather than "<no value>" in front of a person. One
// parser for everything: go-i18n caches a parsed template per message.
var templateParser = &template.TextParser{Option: "missingkey=error"}

// Load reads the catalogs embedded in the binary and checks them (see
// LoadFS).
func Load() (*Catalog, error) {
	return LoadFS(embedded)
}

// MustLoad is Load for program start-up: it panics on error. The embedded
// catalogs are checked by the package's tests, so it does not panic in a
// released binary.
func MustLoad() *Catalog {
	c, err := Load()
	if err != nil {
		panic(err)
	}
	return c
}

// LoadFS reads <lang>.yaml for every language in All from fsys and checks
// that:
//
//   - every file parses (go-i18n YAML; duplicate keys are an error) and is
//     at most MaxCatalogBytes;
//   - every language has every MsgID and no other message;
//   - a plural message has every plural form the language's CLDR rule uses
//     for whole numbers, and every other message is a single text;
//   - a translation uses no template variable the English source does not,
//     and a single-text message (and the "other" form of a plural one)
//     uses all of them; every template executes;
//   - no text is longer than MaxMessageChars, no button label longer than
//     MaxButtonLabel;
//   - no command word is empty or folds ([Fold]) to the same key as a word
//     of another command, in any language.
//
// All problems are reported together, each naming the file and message.
func LoadFS(fsys fs.FS) (*Catalog, error) {
	c := &Catalog{
		bundle:     i18n.NewBundle(Base.bundleTag()),
		localizers: make(map[Lang]*i18n.Localizer, len(All)),
		messages:   make(map[Lang]map[MsgID]*i18n.Message, len(All)),
		words:      make(map[string]Command),
	}
	var errs []error
	for _, l := range All {
		msgs, err := readCatalog(fsys, l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.messages[l] = msgs
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if _, _, err := pluralForms(Base); err != nil {
		return nil, fmt.Errorf("locales: plural rules: %w", err)
	}
	for _, l := range All {
		errs = append(errs, checkCatalog(l, c.messages[l], c.messages[Base])...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, l := range All {
		if err := c.bundle.AddMessages(l.bundleTag(), slices.Collect(maps.Values(c.messages[l]))...); err != nil {
			return nil, fmt.Errorf("locales: %s: %w", fileName(l), err)
		}
		c.localizers[l] = i18n.NewLocalizer(c.bundle, l.bundleTag().String())
	}
	errs = append(errs, c.checkRendering()...)
	errs = append(errs, c.buildWords()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func fileName(l Lang) string { return string(l) + ".yaml" }

// unmarshalYAML adapts goccy/go-yaml to go-i18n. It decodes into
// map[string]any, which go-i18n reads.
func unmarshalYAML(data []byte, v any) error {
	return yaml.Unmarshal(data, v)
}

// readCatalog reads and parses one language's file.
func readCatalog(fsys fs.FS, l Lang) (map[MsgID]*i18n.Message, error) {
	name := fileName(l)
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("locales: %w", err)
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, MaxCatalogBytes+1))
	if err != nil {
		return nil, fmt.Errorf("locales: %s: %w", name, err)
	}
	if len(buf) > MaxCatalogBytes {
		return nil, fmt.Errorf("locales: %s: larger than %d bytes", name, MaxCatalogBytes)
	}
	if !utf8.Valid(buf) {
		return nil, fmt.Errorf("locales: %s: not valid UTF-8", name)
	}
	list, err := i18n.ParseMessageBytes(buf, unmarshalYAML)
	if err != nil {
		return nil, fmt.Errorf("locales: %s: %w", name, err)
	}
	msgs := make(map[MsgID]*i18n.Message, len(list))
	for _, m := range list {
		msgs[MsgID(m.ID)] = m
	}
	return msgs, nil
}

// Plural forms, in CLDR order.
var pluralFormNames = []string{"zero", "one", "two", "few", "many", "other"}

// formText returns the text of the named plural form of m.
func formText(m *i18n.Message, form string) string {
	switch form {
	case "zero":
		return m.Zero
	case "one":
		return m.One
	case "two":
		return m.Two
	case "few":
		return m.Few
	case "many":
		return m.Many
	case "other":
		return m.Other
	}
	return ""
}

// checkCatalog checks one language's messages against the MsgID list and
// the English source.
func checkCatalog(l Lang, msgs, base map[MsgID]*i18n.Message) []error {
	name := fileName(l)
	var errs []error
	known := make(map[MsgID]bool, len(msgIDs))
	for _, id := range msgIDs {
		known[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(msgs)) {
		if !known[id] {
			errs = append(errs, fmt.Errorf("locales: %s: unknown message %q", name, id))
		}
	}
	forms, _, _ := pluralForms(l)
	for _, id := range msgIDs {
		m := msgs[id]
		if m == nil {
			errs = append(errs, fmt.Errorf("locales: %s: missing message %q", name, id))
			continue
		}
		if pluralMsgs[id] {
			for _, form := range forms {
				if strings.TrimSpace(formText(m, form)) == "" {
					errs = append(errs, fmt.Errorf("locales: %s: message %q lacks plural form %q, which %s needs", name, id, form, l))
				}
			}
		} else {
			if strings.TrimSpace(m.Other) == "" {
				errs = append(errs, fmt.Errorf("locales: %s: message %q is empty", name, id))
			}
			for _, form := range pluralFormNames[:5] {
				if formText(m, form) != "" {
					errs = append(errs, fmt.Errorf("locales: %s: message %q is not a plural message but has form %q", name, id, form))
				}
			}
		}
		errs = append(errs, checkLengths(name, id, m)...)
		if b := base[id]; b != nil {
			errs = append(errs, checkVars(name, id, m, b)...)
		}
	}
	return errs
}

func checkLengths(name string, id MsgID, m *i18n.Message) []error {
	limit := MaxMessageChars
	if slices.Contains(buttonMsgs, id) || strings.HasPrefix(string(id), governorateMsgPrefix) {
		limit = MaxButtonLabel
	}
	var errs []error
	for _, form := range pluralFormNames {
		if n := utf8.RuneCountInString(formText(m, form)); n > limit {
			errs = append(errs, fmt.Errorf("locales: %s: message %q form %q has %d characters, more than %d", name, id, form, n, limit))
		}
	}
	return errs
}

var (
	actionRE = regexp.MustCompile(`\{\{.*?\}\}`)
	fieldRE  = regexp.MustCompile(`\.([A-Za-z_][A-Za-z0-9_]*)`)
)

// templateVars returns the sorted field names used in the actions of src.
func templateVars(src string) []string {
	set := map[string]bool{}
	for _, action := range actionRE.FindAllString(src, -1) {
		for _, m := range fieldRE.FindAllStringSubmatch(action, -1) {
			set[m[1]] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// checkVars compares the template variables of a translation with those of
// the English source.
func checkVars(name string, id MsgID, m, base *i18n.Message) []error {
	allowed := map[string]bool{}
	for _, form := range pluralFormNames {
		for _, v := range templateVars(formText(base, form)) {
			allowed[v] = true
		}
	}
	if pluralMsgs[id] {
		allowed["Count"] = true
	}
	var errs []error
	for _, form := range pluralFormNames {
		for _, v := range templateVars(formText(m, form)) {
			if !allowed[v] {
				errs = append(errs, fmt.Errorf("locales: %s: message %q form %q uses {{.%s}}, which the English source does not", name, id, form, v))
			}
		}
	}
	want, got := templateVars(base.Other), templateVars(m.Other)
	if !slices.Equal(want, got) {
		errs = append(errs, fmt.Errorf("locales: %s: message %q uses variables %v, the English source %v", name, id, got, want))
	}
	return errs
}

// checkRendering executes every form of every message with sample data, so
// a template error shows at load time and not in front of a person.
func (c *Catalog) checkRendering() []error {
	var errs []error
	for _, l := range All {
		_, samples, _ := pluralForms(l)
		for _, id := range msgIDs {
			data := map[string]any{}
			for _, form := range pluralFormNames {
				for _, v := range templateVars(formText(c.messages[Base][id], form)) {
					data[v] = 7
				}
			}
			if !pluralMsgs[id] {
				if _, err := c.render(l, id, nil, data); err != nil {
					errs = append(errs, fmt.Errorf("locales: %s: %w", fileName(l), err))
				}
				continue
			}
			for _, n := range samples {
				d := maps.Clone(data)
				d["Count"] = n
				if _, err := c.render(l, id, n, d); err != nil {
					errs = append(errs, fmt.Errorf("locales: %s: %w", fileName(l), err))
				}
			}
		}
	}
	return errs
}

// buildWords fills c.words from every language's command words and
// reports words that are empty after folding or claimed by two commands.
func (c *Catalog) buildWords() []error {
	type origin struct {
		cmd  Command
		lang Lang
		word string
	}
	seen := map[string]origin{}
	var errs []error
	for _, l := range All {
		for _, cmd := range Commands {
			id := commandWordsMsg[cmd]
			words := splitWords(c.messages[l][id].Other)
			if len(words) == 0 {
				errs = append(errs, fmt.Errorf("locales: %s: message %q has no words", fileName(l), id))
			}
			for _, w := range words {
				key := Fold(w)
				if key == "" || strings.HasPrefix(key, "/") {
					errs = append(errs, fmt.Errorf("locales: %s: message %q: word %q is empty after folding or starts with /", fileName(l), id, w))
					continue
				}
				if prev, dup := seen[key]; dup && prev.cmd != cmd {
					errs = append(errs, fmt.Errorf("locales: %s: message %q: word %q is also a word of %q in %s (%q)", fileName(l), id, w, prev.cmd, fileName(prev.lang), prev.word))
					continue
				}
				seen[key] = origin{cmd, l, w}
				c.words[key] = cmd
			}
		}
	}
	return errs
}

// render localizes one message. count is nil for a single-text message.
func (c *Catalog) render(l Lang, id MsgID, count any, data map[string]any) (string, error) {
	loc := c.localizers[l]
	if loc == nil {
		return "", fmt.Errorf("unsupported language %q", l)
	}
	var td any
	if data != nil {
		td = data
	}
	s, err := loc.Localize(&i18n.LocalizeConfig{
		MessageID:      string(id),
		TemplateData:   td,
		PluralCount:    count,
		TemplateParser: templateParser,
	})
	if err != nil {
		return "", fmt.Errorf("message %q: %w", id, err)
	}
	return s, nil
}

// Lookup returns the text of message id in language l, with the template
// variables in data (text/template syntax, e.g. {{.Max}}). It fails for an
// unsupported language, an unknown id, or a variable the template uses
// that data lacks.
func (c *Catalog) Lookup(l Lang, id MsgID, data map[string]any) (string, error) {
	return c.render(l, id, nil, data)
}

// T returns the text of message id in language l, with the template
// variables in data (e.g. {{.Max}}). An unsupported language falls back to
// Base. The result is plain text for the renderer to escape. Plural
// messages ([IsPlural]) need Plural.
//
// T does not fail: as a last resort (an id that is not a MsgID of this
// package, or data missing a variable, both programming errors that tests
// catch) it returns the id itself, so the mistake is visible but the
// person still gets a reply. Use Lookup to see the error.
func (c *Catalog) T(l Lang, id MsgID, data map[string]any) string {
	if !l.Valid() {
		l = Base
	}
	s, err := c.render(l, id, nil, data)
	if err != nil {
		return string(id)
	}
	return s
}

// Plural returns the text of plural message id in language l for count,
// choosing the CLDR plural form of l for count. count is also available to
// the template as {{.Count}}, next to the variables in data (data itself
// is not modified). An unsupported language falls back to Base; the last
// resort is the id, as for T.
func (c *Catalog) Plural(l Lang, id MsgID, count int, data map[string]any) string {
	if !l.Valid() {
		l = Base
	}
	td := make(map[string]any, len(data)+1)
	maps.Copy(td, data)
	td["Count"] = count
	s, err := c.render(l, id, count, td)
	if err != nil {
		return string(id)
	}
	return s
}

// ChooseLanguagePrompt returns the language picker's prompt: the
// choose_language line in every language, in the order of All, one per line.
func (c *Catalog) ChooseLanguagePrompt() string {
	lines := make([]string, len(All))
	for i, l := range All {
		lines[i] = c.T(l, MsgChooseLanguage, nil)
	}
	return strings.Join(lines, "\n")
}

// Plural form discovery.
//
// go-i18n keeps its CLDR plural rules private. To know which forms a
// language needs, a probe bundle holding a message whose six forms are
// their own names is asked for every count from 0 to pluralProbeMax and a
// few large ones; the forms that come back are the forms that language's
// rule (the very rule used at run time) can select for a whole number.
// Counts are whole numbers in Penah, so forms reachable only by decimals
// are not required.

const pluralProbeMax = 200

var pluralProbeExtra = []int{1000, 10000, 100000, 1000000}

var (
	probeOnce    sync.Once
	probeForms   map[Lang][]string // forms in CLDR order
	probeSamples map[Lang][]int    // one count per form, same order
	probeErr     error             // set if the probe itself failed
)

// pluralForms returns the plural forms language l needs for whole numbers
// (in CLDR order) and a sample count for each.
func pluralForms(l Lang) (forms []string, samples []int, err error) {
	probeOnce.Do(runPluralProbe)
	return probeForms[l], probeSamples[l], probeErr
}

func runPluralProbe() {
	probeForms = map[Lang][]string{}
	probeSamples = map[Lang][]int{}
	b := i18n.NewBundle(Base.bundleTag())
	probe := &i18n.Message{ID: "probe", Zero: "zero", One: "one", Two: "two", Few: "few", Many: "many", Other: "other"}
	for _, l := range All {
		if err := b.AddMessages(l.bundleTag(), probe); err != nil {
			probeErr = err
			return
		}
	}
	counts := make([]int, 0, pluralProbeMax+1+len(pluralProbeExtra))
	for n := 0; n <= pluralProbeMax; n++ {
		counts = append(counts, n)
	}
	counts = append(counts, pluralProbeExtra...)
	for _, l := range All {
		loc := i18n.NewLocalizer(b, l.bundleTag().String())
		sample := map[string]int{}
		for _, n := range counts {
			form, err := loc.Localize(&i18n.LocalizeConfig{MessageID: "probe", PluralCount: n})
			if err != nil {
				probeErr = err
				return
			}
			if _, ok := sample[form]; !ok {
				sample[form] = n
			}
		}
		for _, form := range pluralFormNames {
			if n, ok := sample[form]; ok {
				probeForms[l] = append(probeForms[l], form)
				probeSamples[l] = append(probeSamples[l], n)
			}
		}
	}
}
