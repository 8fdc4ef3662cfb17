package bot

import (
	"html"
	"strings"
	"testing"

	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/locales"
)

func TestRenderEscapesEverything(t *testing.T) {
	for _, in := range []string{"<b>bold</b>", "a & b", `\(x\)`, "*x*", `<a href="http://evil">click</a>`, "it's \"quoted\""} {
		out := Render(engine.Reply{Text: in, Lang: locales.EN})
		if len(out) != 1 {
			t.Fatalf("%q: %d parts", in, len(out))
		}
		if html.UnescapeString(out[0].HTML) != in {
			t.Errorf("%q does not come back after unescaping: %q", in, out[0].HTML)
		}
		if strings.ContainsAny(out[0].HTML, "<>\"") || strings.Contains(strings.ReplaceAll(out[0].HTML, "&amp;", ""), "& ") {
			t.Errorf("%q: markup left in %q", in, out[0].HTML)
		}
		if !out[0].Protect {
			t.Error("protect_content must be set on every message")
		}
	}
}

func TestRenderRTLAndControls(t *testing.T) {
	out := Render(engine.Reply{Text: "\u202Eexit/ اكتب", Lang: locales.AR})
	if !strings.HasPrefix(out[0].HTML, rlm) {
		t.Error("an Arabic message should start with RLM")
	}
	if strings.Contains(out[0].HTML, "\u202E") {
		t.Error("a right-to-left override survived")
	}
	if en := Render(engine.Reply{Text: "hi", Lang: locales.EN}); strings.HasPrefix(en[0].HTML, rlm) {
		t.Error("English must not start with RLM")
	}
}

func TestRenderSplitsAtTheLimit(t *testing.T) {
	kb := [][]engine.Button{{{Label: "ok", Data: "x"}}}
	at := strings.Repeat("a", MaxMessageChars)
	if out := Render(engine.Reply{Text: at, Lang: locales.EN, Buttons: kb}); len(out) != 1 || out[0].Keyboard == nil {
		t.Fatalf("a text at the limit must stay one message with its keyboard: %d parts", len(out))
	}
	past := strings.Repeat("word ", MaxMessageChars/5) + "end"
	out := Render(engine.Reply{Text: past, Lang: locales.EN, Buttons: kb})
	if len(out) != 2 || out[0].Keyboard != nil || out[1].Keyboard == nil {
		t.Fatalf("past the limit: %d parts, keyboard on the last only", len(out))
	}
	var joined []string
	for _, o := range out {
		if n := utf16Len(html.UnescapeString(o.HTML)); n > MaxMessageChars {
			t.Errorf("part of %d units", n)
		}
		joined = append(joined, html.UnescapeString(o.HTML))
	}
	if strings.Join(joined, " ") != strings.TrimSpace(past) {
		t.Error("splitting lost or changed text")
	}
	// Emoji count two UTF-16 units each; an Arabic RTL message also spends one on its RLM.
	emoji := strings.Repeat("😀", MaxMessageChars/2)
	for _, o := range Render(engine.Reply{Text: emoji + "x", Lang: locales.AR}) {
		if n := utf16Len(html.UnescapeString(o.HTML)); n > MaxMessageChars {
			t.Errorf("part of %d units", n)
		}
	}
	// HTML escaping lengthens the request but not what Telegram counts.
	amp := strings.Repeat("&", MaxMessageChars)
	if out := Render(engine.Reply{Text: amp, Lang: locales.EN}); len(out) != 1 {
		t.Errorf("%d parts for %d ampersands", len(out), MaxMessageChars)
	}
}

func FuzzRender(f *testing.F) {
	f.Add("hello <b>", "en")
	f.Add(strings.Repeat("ب ", 3000), "ar")
	f.Fuzz(func(t *testing.T, text, lang string) {
		l, _ := locales.Parse(lang)
		for _, o := range Render(engine.Reply{Text: text, Lang: l}) {
			if n := utf16Len(html.UnescapeString(o.HTML)); n > MaxMessageChars {
				t.Fatalf("part of %d units", n)
			}
			if strings.ContainsAny(o.HTML, "<>") {
				t.Fatalf("unescaped markup in %q", o.HTML)
			}
		}
	})
}
