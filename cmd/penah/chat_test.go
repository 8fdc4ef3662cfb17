package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/locales"
)

func TestVisualRTL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"عمري 25 سنة", "ةنس 25 يرمع"},         // numbers stay left-to-right inside right-to-left text
		{"اكتب /exit الآن", "نآلا exit/ بتكا"}, // as a bidi renderer shows it
		{"(نعم)", "(معن)"},                     // brackets are mirrored
	} {
		if got := visualRTL(tc.in); got != tc.want {
			t.Errorf("visualRTL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLineDirectionAndWrap(t *testing.T) {
	var b bytes.Buffer
	p := &printer{w: &b, visual: true, width: 30}
	p.line("Please choose your language.", locales.AR, "")
	p.line("هل الحديث الآن آمن بالنسبة لك؟ يمكنك كتابة كلمة", locales.EN, "")
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if lines[0] != "Please choose your language." {
		t.Errorf("an English line in an Arabic reply must stay left-to-right: %q", lines[0])
	}
	if len(lines) < 3 {
		t.Fatalf("the Arabic line should wrap at width 30: %q", lines)
	}
	for _, l := range lines[1:] {
		if n := len([]rune(l)); n != 29 || !strings.HasPrefix(l, " ") {
			t.Errorf("right-aligned line %q has %d runes, want 29", l, n)
		}
	}
}

func TestTypedNumbersPressButtons(t *testing.T) {
	p := &printer{w: &bytes.Buffer{}}
	p.replies([]engine.Reply{{Text: "q", Buttons: [][]engine.Button{{{Label: "a", Data: "A"}}, {{Label: "b", Data: "B"}}}, Expect: flows.KindChoice}})
	for in, want := range map[string]engine.Input{
		"2": {Data: "B"}, "٢": {Data: "B"}, "3": {Text: "3"}, "0": {Text: "0"}, "hello": {Text: "hello"},
	} {
		if got := p.input(in); got != want {
			t.Errorf("input(%q) = %+v, want %+v", in, got, want)
		}
	}
	// Where free text is expected, a number is an answer and "#N" presses a button.
	p.replies([]engine.Reply{{Text: "q", Buttons: [][]engine.Button{{{Label: "skip", Data: "S"}}}, Expect: flows.KindNumber}})
	if got := p.input("1"); got != (engine.Input{Text: "1"}) {
		t.Errorf("number answer taken as a button: %+v", got)
	}
	if got := p.input("#1"); got != (engine.Input{Data: "S"}) {
		t.Errorf("#1: %+v", got)
	}
}
