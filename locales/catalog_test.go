package locales

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"
)

func mustLoad(t *testing.T) *Catalog {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// rawMessages parses the embedded file of l without the checks of Load.
func rawMessages(t *testing.T, l Lang) map[MsgID]string {
	t.Helper()
	msgs, err := readCatalog(embedded, l)
	if err != nil {
		t.Fatal(err)
	}
	out := map[MsgID]string{}
	for id, m := range msgs {
		out[id] = m.Other
	}
	return out
}

func TestLoadEmbedded(t *testing.T) {
	c := mustLoad(t)
	if MustLoad() == nil || c == nil {
		t.Fatal("nil catalog")
	}
}

// Every MsgID renders in every language, from that language's own file
// (the go-i18n matcher must not hand one language another's text).
func TestEveryMessageInEveryLanguage(t *testing.T) {
	c := mustLoad(t)
	for _, l := range All {
		raw := rawMessages(t, l)
		for _, id := range MsgIDs() {
			src, ok := raw[id]
			if !ok || strings.TrimSpace(src) == "" {
				t.Errorf("%s: message %q missing", l, id)
				continue
			}
			if strings.Contains(src, "{{") || IsPlural(id) {
				continue
			}
			got, err := c.Lookup(l, id, nil)
			if err != nil {
				t.Errorf("%s: Lookup(%q): %v", l, id, err)
				continue
			}
			if got != src {
				t.Errorf("%s: T(%q) = %q, want the %s file's %q", l, id, got, l, src)
			}
		}
	}
}

// TestMsgIDsDeclared keeps msgIDs in step with the MsgID constants of
// messages.go.
func TestMsgIDsDeclared(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "messages.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []MsgID
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "MsgID" {
				continue
			}
			for i := range vs.Names {
				lit := vs.Values[i].(*ast.BasicLit)
				declared = append(declared, MsgID(strings.Trim(lit.Value, `"`)))
			}
		}
	}
	slices.Sort(declared)
	list := MsgIDs()
	slices.Sort(list)
	if !slices.Equal(declared, list) {
		t.Errorf("MsgID constants %v\nmsgIDs         %v", declared, list)
	}
	if len(list) != len(slices.Compact(slices.Clone(list))) {
		t.Errorf("msgIDs has duplicates")
	}
}

func TestPluralFormsPerLanguage(t *testing.T) {
	want := map[Lang][]string{
		AR:  {"zero", "one", "two", "few", "many", "other"},
		CKB: {"one", "other"},
		KMR: {"one", "other"},
		EN:  {"one", "other"},
	}
	for _, l := range All {
		forms, samples, err := pluralForms(l)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(forms, want[l]) || len(samples) != len(forms) {
			t.Errorf("%s: plural forms %v (samples %v), want %v", l, forms, samples, want[l])
		}
	}
}

// Every plural message has every form its language's CLDR rule needs, in
// the file itself (not by go-i18n's fallback to "other").
func TestPluralMessagesHaveRequiredForms(t *testing.T) {
	for _, l := range All {
		msgs, err := readCatalog(embedded, l)
		if err != nil {
			t.Fatal(err)
		}
		forms, _, _ := pluralForms(l)
		for id := range pluralMsgs {
			for _, form := range forms {
				if strings.TrimSpace(formText(msgs[id], form)) == "" {
					t.Errorf("%s: %q lacks form %q", l, id, form)
				}
			}
		}
	}
}

func TestArabicPluralSixForms(t *testing.T) {
	c := mustLoad(t)
	msgs, err := readCatalog(embedded, AR)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []MsgID{MsgSelected, MsgTextTooLong} {
		m := msgs[id]
		tests := []struct {
			count int
			form  string
		}{
			{0, m.Zero}, {1, m.One}, {2, m.Two}, {3, m.Few}, {10, m.Few}, {11, m.Many}, {99, m.Many},
			{100, m.Other}, {102, m.Other}, {103, m.Few}, {111, m.Many}, {1000, m.Other},
		}
		for _, tt := range tests {
			got := c.Plural(AR, id, tt.count, nil)
			want := strings.ReplaceAll(tt.form, "{{.Count}}", strconv.Itoa(tt.count))
			if got != want {
				t.Errorf("Plural(ar, %q, %d) = %q, want %q", id, tt.count, got, want)
			}
		}
		// 0, 1, 2, 3, 11, 100 give six different texts.
		distinct := map[string]bool{}
		for _, n := range []int{0, 1, 2, 3, 11, 100} {
			distinct[c.Plural(AR, id, n, nil)] = true
		}
		if len(distinct) != 6 {
			t.Errorf("%q: counts 0,1,2,3,11,100 gave %d distinct Arabic texts, want 6", id, len(distinct))
		}
	}
}

// Kurmanji is stored under go-i18n's "ku" and follows its one/other rule.
func TestKurmanjiPluralViaKu(t *testing.T) {
	c := mustLoad(t)
	one := c.Plural(KMR, MsgSelected, 1, nil)
	two := c.Plural(KMR, MsgSelected, 2, nil)
	zero := c.Plural(KMR, MsgSelected, 0, nil)
	if one != "Te 1 vebijark hilbijart." {
		t.Errorf("kmr one = %q", one)
	}
	if two != "Te 2 vebijark hilbijartin." {
		t.Errorf("kmr other = %q", two)
	}
	if zero != "Te 0 vebijark hilbijartin." {
		t.Errorf("kmr zero (other form) = %q", zero)
	}
}

func TestPluralOtherLanguages(t *testing.T) {
	c := mustLoad(t)
	tests := []struct {
		l     Lang
		id    MsgID
		count int
		want  string
	}{
		{EN, MsgSelected, 1, "You have chosen 1 option."},
		{EN, MsgSelected, 0, "You have chosen 0 options."},
		{EN, MsgSelected, 5, "You have chosen 5 options."},
		{EN, MsgTextTooLong, 1000, "This is too long. Please keep it to 1000 characters or fewer."},
		{CKB, MsgSelected, 3, "3 هەڵبژاردنت دیاری کردووە."},
		{KMR, MsgTextTooLong, 1, "Ev pir dirêj e. Ji kerema xwe ji 1 tîpê zêdetir nenivîse."},
		{KMR, MsgTextTooLong, 500, "Ev pir dirêj e. Ji kerema xwe ji 500 tîpan zêdetir nenivîse."},
		{"xx", MsgSelected, 2, "You have chosen 2 options."}, // unsupported → Base
	}
	for _, tt := range tests {
		if got := c.Plural(tt.l, tt.id, tt.count, nil); got != tt.want {
			t.Errorf("Plural(%s, %q, %d) = %q, want %q", tt.l, tt.id, tt.count, got, tt.want)
		}
	}
}

func TestPluralDoesNotModifyData(t *testing.T) {
	c := mustLoad(t)
	data := map[string]any{"Other": 1}
	c.Plural(EN, MsgSelected, 4, data)
	if _, ok := data["Count"]; ok || len(data) != 1 {
		t.Errorf("Plural modified data: %v", data)
	}
}

func TestTemplateVariables(t *testing.T) {
	c := mustLoad(t)
	for _, l := range All {
		got := c.T(l, MsgInvalidNumber, map[string]any{"Min": 3, "Max": 97})
		if !strings.Contains(got, "3") || !strings.Contains(got, "97") || strings.Contains(got, "{{") {
			t.Errorf("%s: invalid_number = %q", l, got)
		}
		if _, err := c.Lookup(l, MsgInvalidNumber, map[string]any{"Min": 3}); err == nil {
			t.Errorf("%s: Lookup without Max succeeded", l)
		}
		if got := c.T(l, MsgInvalidNumber, nil); got != string(MsgInvalidNumber) {
			t.Errorf("%s: T without data = %q, want the id as last resort", l, got)
		}
	}
}

func TestTFallbacks(t *testing.T) {
	c := mustLoad(t)
	if got, want := c.T("fa", MsgBack, nil), c.T(EN, MsgBack, nil); got != want {
		t.Errorf("T(fa) = %q, want English %q", got, want)
	}
	if got := c.T(AR, "no_such_message", nil); got != "no_such_message" {
		t.Errorf("T(unknown id) = %q", got)
	}
	if _, err := c.Lookup(AR, "no_such_message", nil); err == nil {
		t.Error("Lookup(unknown id) succeeded")
	}
	if _, err := c.Lookup("fa", MsgBack, nil); err == nil {
		t.Error("Lookup(unsupported language) succeeded")
	}
}

func TestChooseLanguagePrompt(t *testing.T) {
	c := mustLoad(t)
	lines := strings.Split(c.ChooseLanguagePrompt(), "\n")
	if len(lines) != len(All) {
		t.Fatalf("prompt has %d lines, want %d", len(lines), len(All))
	}
	for i, l := range All {
		if lines[i] != c.T(l, MsgChooseLanguage, nil) {
			t.Errorf("line %d = %q, want %s text", i, lines[i], l)
		}
	}
}

func TestGovernorates(t *testing.T) {
	c := mustLoad(t)
	if len(Governorates) != NumGovernorates+1 || Governorates[len(Governorates)-1] != "outside_iraq" {
		t.Fatalf("Governorates = %v: want %d governorates then outside_iraq", Governorates, NumGovernorates)
	}
	seen := map[string]bool{}
	for _, g := range Governorates {
		if seen[g] {
			t.Errorf("duplicate governorate %q", g)
		}
		seen[g] = true
		if !IsGovernorate(g) {
			t.Errorf("IsGovernorate(%q) = false", g)
		}
		id := GovernorateMsg(g)
		if !slices.Contains(msgIDs, id) {
			t.Errorf("GovernorateMsg(%q) = %q is not a MsgID", g, id)
		}
		for _, l := range All {
			if label := c.T(l, id, nil); label == string(id) || label == "" {
				t.Errorf("%s: no label for %q", l, g)
			}
		}
	}
	// Every gov_ MsgID is in Governorates.
	for _, id := range msgIDs {
		if g, ok := strings.CutPrefix(string(id), governorateMsgPrefix); ok && !seen[g] {
			t.Errorf("%q is not in Governorates", id)
		}
	}
	if IsGovernorate("halabja_typo") || IsGovernorate("") {
		t.Error("IsGovernorate accepts unknown ids")
	}
	// Labels of one language are distinct (a person must tell them apart).
	for _, l := range All {
		labels := map[string]string{}
		for _, g := range Governorates {
			label := c.T(l, GovernorateMsg(g), nil)
			if prev, dup := labels[label]; dup {
				t.Errorf("%s: %q and %q share the label %q", l, prev, g, label)
			}
			labels[label] = g
		}
	}
}

func TestHelpListsCommands(t *testing.T) {
	c := mustLoad(t)
	for _, l := range All {
		help := c.T(l, MsgHelp, nil)
		for _, cmd := range []string{"/back", "/language", "/exit", "/forget", "/help"} {
			if !strings.Contains(help, cmd) {
				t.Errorf("%s: help does not mention %s", l, cmd)
			}
		}
	}
}

// The quick-exit farewell is one short neutral line: someone else may read
// the phone afterwards.
func TestExitDoneIsNeutral(t *testing.T) {
	c := mustLoad(t)
	const maxExitDone = 24
	revealing := []string{"penah", "help", "violence", "traffick", "report", "case", "officer", "safe", "پەنا", "مساعدة", "عنف", "alîkarî"}
	for _, l := range All {
		s := c.T(l, MsgExitDone, nil)
		if strings.ContainsAny(s, "\n/") || utf8.RuneCountInString(s) > maxExitDone {
			t.Errorf("%s: exit_done %q is not one short line", l, s)
		}
		for _, w := range revealing {
			if strings.Contains(strings.ToLower(s), w) {
				t.Errorf("%s: exit_done %q mentions %q", l, s, w)
			}
		}
	}
}

func TestLimits(t *testing.T) {
	for _, l := range All {
		msgs, err := readCatalog(embedded, l)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range buttonMsgs {
			if n := utf8.RuneCountInString(msgs[id].Other); n > MaxButtonLabel || n == 0 {
				t.Errorf("%s: button %q has %d characters", l, id, n)
			}
		}
	}
}

// The header comment of each catalog says whether it is reviewed, in step
// with Reviewed.
func TestReviewedMarker(t *testing.T) {
	const marker = "Machine/engineer-drafted; NOT yet reviewed by a native speaker"
	for _, l := range All {
		buf, err := fs.ReadFile(embedded, fileName(l))
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(buf), "\n")
		has := strings.Contains(first, marker)
		if has == Reviewed[l] {
			t.Errorf("%s: first line %q; Reviewed = %v", fileName(l), first, Reviewed[l])
		}
	}
}

// mutated returns the embedded catalogs with lang's file edited by edit.
func mutated(t *testing.T, l Lang, edit func(string) string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, lang := range All {
		buf, err := fs.ReadFile(embedded, fileName(lang))
		if err != nil {
			t.Fatal(err)
		}
		s := string(buf)
		if lang == l {
			e := edit(s)
			if e == s {
				t.Fatalf("edit of %s changed nothing", fileName(l))
			}
			s = e
		}
		fsys[fileName(lang)] = &fstest.MapFile{Data: []byte(s)}
	}
	return fsys
}

// replaceLine replaces the line that starts with prefix.
func replaceLine(prefix, with string) func(string) string {
	return func(s string) string {
		lines := strings.Split(s, "\n")
		for i, line := range lines {
			if strings.HasPrefix(line, prefix) {
				lines[i] = with
				return strings.Join(lines, "\n")
			}
		}
		return s
	}
}

func TestLoadFSRejects(t *testing.T) {
	tests := []struct {
		name string
		lang Lang
		edit func(string) string
		want string // in the error
	}{
		{"missing message", CKB, replaceLine("nothing_back:", ""), `ckb.yaml: missing message "nothing_back"`},
		{"unknown message", KMR, func(s string) string { return s + "\nbak: \"Vegere\"\n" }, `kmr.yaml: unknown message "bak"`},
		{"missing Arabic plural form", AR, replaceLine("  few: \"تم اختيار", ""), `message "selected" lacks plural form "few"`},
		{"missing English plural form", EN, replaceLine("  one: \"You have chosen", ""), `en.yaml: message "selected" lacks plural form "one"`},
		{"plural form on a single message", EN, replaceLine("back:", "back:\n  one: \"Back\"\n  other: \"Back\""), `"back" is not a plural message`},
		{"duplicate key", EN, func(s string) string { return s + "\nback: \"Again\"\n" }, `already defined`},
		{"unknown template variable", AR, replaceLine("invalid_number:", `invalid_number: "{{.Min}} {{.Max}} {{.Maximum}}"`), `uses {{.Maximum}}`},
		{"dropped template variable", KMR, replaceLine("invalid_number:", `invalid_number: "Hejmarek heta {{.Max}}"`), `message "invalid_number" uses variables [Max]`},
		{"broken template", EN, replaceLine("invalid_number:", `invalid_number: "between {{.Min} and {{.Max}}"`), `invalid_number`},
		{"word of two commands", KMR, replaceLine("cmd_help:", `cmd_help: "alîkarî|Exit"`), `word "exit" is also a word of "help" in kmr.yaml ("Exit")`},
		{"word of two commands after folding", CKB, replaceLine("cmd_language:", `cmd_language: "زمان|خروج"`), `is also a word of "exit" in ar.yaml`},
		{"command without words", EN, replaceLine("cmd_done:", `cmd_done: " | "`), `"cmd_done" has no words`},
		{"empty message", EN, replaceLine("cancel:", `cancel: "  "`), `"cancel" is empty`},
		{"button too long", EN, replaceLine("cancel:", `cancel: "`+strings.Repeat("x", MaxButtonLabel+1)+`"`), `"cancel" form "other" has 65 characters`},
		{"governorate label too long", AR, replaceLine("gov_wasit:", `gov_wasit: "`+strings.Repeat("و", MaxButtonLabel+1)+`"`), `"gov_wasit"`},
		{"message too long", EN, replaceLine("expired:", `expired: "`+strings.Repeat("a", MaxMessageChars+1)+`"`), `more than 4096`},
		{"not YAML", CKB, func(s string) string { return "back: [unclosed\n" + s }, `ckb.yaml`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadFS(mutated(t, tt.lang, tt.edit))
			if err == nil {
				t.Fatal("LoadFS succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadFSAtLimits(t *testing.T) {
	// Exactly at the limits is fine.
	fsys := mutated(t, EN, replaceLine("cancel:", `cancel: "`+strings.Repeat("x", MaxButtonLabel)+`"`))
	if _, err := LoadFS(fsys); err != nil {
		t.Errorf("button of %d characters: %v", MaxButtonLabel, err)
	}
	fsys = mutated(t, EN, replaceLine("expired:", `expired: "`+strings.Repeat("a", MaxMessageChars)+`"`))
	if _, err := LoadFS(fsys); err != nil {
		t.Errorf("message of %d characters: %v", MaxMessageChars, err)
	}
}

func TestLoadFSMissingFileAndSize(t *testing.T) {
	fsys := mutated(t, EN, func(s string) string { return s + " " })
	delete(fsys, "kmr.yaml")
	if _, err := LoadFS(fsys); err == nil || !strings.Contains(err.Error(), "kmr.yaml") {
		t.Errorf("missing kmr.yaml: %v", err)
	}
	fsys = mutated(t, EN, func(s string) string { return s + "#" + strings.Repeat("x", MaxCatalogBytes) + "\n" })
	if _, err := LoadFS(fsys); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized en.yaml: %v", err)
	}
}

func TestCatalogConcurrentUse(t *testing.T) {
	c := mustLoad(t)
	done := make(chan bool)
	for i := 0; i < 8; i++ {
		go func() {
			for n := 0; n < 50; n++ {
				for _, l := range All {
					c.Plural(l, MsgSelected, n, nil)
					c.T(l, MsgInvalidNumber, map[string]any{"Min": 1, "Max": n})
					c.ParseCommand("/exit")
				}
			}
			done <- true
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
}
