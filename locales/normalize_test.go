package locales

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

const (
	zwnjS = "\u200C"
	zwjS  = "\u200D"
	zwspS = "\u200B"
	lrmS  = "\u200E"
	rlmS  = "\u200F"
	almS  = "\u061C"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain ASCII unchanged", "Hello world", "Hello world"},
		// NFC.
		{"NFC Latin", "e\u0301", "\u00e9"},
		{"NFC Kurmanji", "Kurdi\u0302", "Kurdî"},
		{"NFC Arabic hamza", "\u0627\u0654", "\u0623"},
		{"NFC across a removed control", "e" + zwspS + "\u0301", "\u00e9"},
		{"NFC across a removed tatweel", "\u0627\u0640\u0654", "\u0623"},
		// Digits.
		{"Arabic-Indic digits", "٠١٢٣٤٥٦٧٨٩", "0123456789"},
		{"Persian digits", "۰۱۲۳۴۵۶۷۸۹", "0123456789"},
		{"mixed digits", "عمري ٢٥ و ۳ and 7", "عمری 25 و 3 and 7"},
		// Yeh and kaf.
		{"Arabic yeh", "\u064A", "\u06CC"},
		{"alef maksura", "على", "عل\u06CC"},
		{"Persian yeh unchanged", "\u06CC", "\u06CC"},
		{"Arabic and Sorani spelling alike", "يارمەتي", "یارمەتی"},
		{"yeh with hamza kept", "\u0626", "\u0626"},
		{"Arabic kaf", "كركوك", "\u06A9ر\u06A9و\u06A9"},
		{"keheh unchanged", "کەرکووک", "کەرکووک"},
		// Tatweel.
		{"tatweel", "خـــروج", "خروج"},
		// Invisible and bidi controls.
		{"ZWSP", "a" + zwspS + "b", "ab"},
		{"ZWJ", "a" + zwjS + "b", "ab"},
		{"word joiner", "a\u2060b", "ab"},
		{"BOM", "\uFEFFhello", "hello"},
		{"soft hyphen", "ex\u00ADit", "exit"},
		{"LRM RLM ALM", lrmS + "07" + rlmS + "50" + almS, "0750"},
		{"embeddings and overrides", "\u202Aa\u202Bb\u202Cc\u202Dd\u202Ee", "abcde"},
		{"isolates", "\u2066a\u2067b\u2068c\u2069", "abc"},
		{"tag characters", "hi\U000E0041\U000E007F", "hi"},
		{"C0 and C1 controls", "a\x00b\x1bc\x7fd\u009b", "abcd"},
		{"whitespace controls are line breaks", "a\vb\fc\u0085d", "a\nb\nc\nd"},
		// ZWNJ policy.
		{"ZWNJ between letters kept", "ده\u200Cمه\u200Cوێ", "ده\u200Cمه\u200Cوێ"},
		{"ZWNJ Persian compound kept", "می\u200Cخوام", "م\u06CC\u200Cخوام"},
		{"ZWNJ after letter and mark kept", "ه\u064E" + zwnjS + "م", "ه\u064E" + zwnjS + "م"},
		{"ZWNJ run collapsed", "ه" + zwnjS + zwnjS + zwnjS + "م", "ه" + zwnjS + "م"},
		{"ZWNJ at start removed", zwnjS + "ab", "ab"},
		{"ZWNJ at end removed", "ab" + zwnjS, "ab"},
		{"ZWNJ next to space removed", "a" + zwnjS + " b", "a b"},
		{"ZWNJ next to digit removed", "a" + zwnjS + "1", "a1"},
		{"ZWNJ after symbol removed", "=" + zwnjS + "a", "=a"},
		{"ZWNJ only", zwnjS, ""},
		// Whitespace.
		{"trim", "  hello  ", "hello"},
		{"collapse spaces", "a   b\t\tc", "a b c"},
		{"NBSP and other spaces", "a\u00A0\u2003b", "a b"},
		{"line break kept once", "line one  \n\n  line two", "line one\nline two"},
		{"CRLF", "a\r\nb", "a\nb"},
		{"paragraph separator", "a\u2029b", "a\nb"},
		{"only whitespace", " \t\n ", ""},
		{"space made by a removed control", "a " + rlmS + " b", "a b"},
		// Invalid UTF-8.
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Normalize(tt.in)
			if got != tt.want {
				t.Errorf("Normalize(%+q) = %+q, want %+q", tt.in, got, tt.want)
			}
			if again := Normalize(got); again != got {
				t.Errorf("not idempotent: %+q → %+q", got, again)
			}
		})
	}
}

func TestFoldDigits(t *testing.T) {
	tests := []struct{ in, want string }{
		{"٠٧٥٠١٢٣٤٥٦٧", "07501234567"},
		{"۰۷۵۰ ۱۲۳", "0750 123"},
		{"abc 123", "abc 123"},
		{"كي ٣", "كي 3"}, // only digits change
		{"", ""},
	}
	for _, tt := range tests {
		if got := FoldDigits(tt.in); got != tt.want {
			t.Errorf("FoldDigits(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStripControls(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"\u202Egnp.exe", "gnp.exe"}, // RLO spoofing
		{lrmS + "a" + rlmS + almS + "b", "ab"},
		{"\u2066x\u2069", "x"},
		{"a" + zwspS + zwjS + "\u2060\uFEFFb", "ab"},
		{"ده\u200Cمه", "ده\u200Cمه"},         // ZWNJ between letters kept
		{zwnjS + "a" + zwnjS, "a"},           // misplaced ZWNJ removed
		{"a\tb\nc\r\n", "a\tb\nc\r\n"},       // tab and line breaks kept
		{"a\x1b[31mred", "a[31mred"},         // no terminal escapes
		{"خـــروج", "خـــروج"},               // tatweel is not a control
		{"e\u0301  ك ي ١", "e\u0301  ك ي ١"}, // no NFC, folding or spacing
		{"a\xffb", "a\uFFFDb"},               // valid UTF-8 out
	}
	for _, tt := range tests {
		if got := StripControls(tt.in); got != tt.want {
			t.Errorf("StripControls(%+q) = %+q, want %+q", tt.in, got, tt.want)
		}
	}
}

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"EXIT", "exit"},
		{"  Go   Back!  ", "go back"},
		{"«تخطي»", "تخطی"},
		{"تَمّ", "تم"},
		{"أإآٱا", "ااااا"},
		{"مؤمن", "مومن"},
		{"مساعدة", "مساعده"},
		{"ئەو", "یهو"},
		{"گەڕانەوە", "گهرانهوه"},
		{"گه\u200cڕانه\u200cوه", "گهرانهوه"},
		{"ھەولێر", "ههولیر"},
		{"سۆرانی", "سورانی"},
		{"ڵ", "ل"},
		{"ڤ", "ف"},
		{"alîkarî", "alikari"},
		{"Çûn ŞÊ", "cun se"},
		{"Dıyarbakır", "diyarbakir"},
		{"İstanbul", "istanbul"},
		{"خـروج؟", "خروج"},
		{"٣", "3"},
		{"!!!", ""},
	}
	for _, tt := range tests {
		if got := Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// invisibleLeft reports a removed control in s, or a ZWNJ the policy drops.
func invisibleLeft(s string) (rune, bool) {
	rs := []rune(s)
	for i, r := range rs {
		if isRemovedControl(r) || r == tatweel {
			return r, true
		}
		if r == zwnj {
			j := i - 1
			for j >= 0 && unicode.IsMark(rs[j]) {
				j--
			}
			if j < 0 || !unicode.IsLetter(rs[j]) || i+1 >= len(rs) || !(unicode.IsLetter(rs[i+1]) || unicode.IsMark(rs[i+1])) {
				return r, true
			}
		}
	}
	return 0, false
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"", "hello", "  Go   Back!  ", "خـــروج", "٠٧٥٠ ١٢٣ ٤٥٦٧", "۰۷۵۰", "على في كركوك",
		"ده\u200Cمه\u200Cوێ", zwnjS + zwnjS, "=" + zwnjS + "\u0338", "=\u0338" + zwnjS + "a",
		"\u202Egnp.exe", lrmS + "a" + rlmS, "e" + zwspS + "\u0301", "\u0627\u0640\u0654",
		"a\xffb", "\x00\x1b[0m", "line\r\n\r\nline", "\u2029\u00A0", "\U000E0041",
		"ي\u0655\u0654", "\u1100\u200C\u1161", "İı", "\u0958\u200Cक", "A\u200c\u0640",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if !utf8.ValidString(n) {
			t.Fatalf("Normalize(%+q) = %+q: invalid UTF-8", s, n)
		}
		if again := Normalize(n); again != n {
			t.Fatalf("not idempotent: Normalize(%+q) = %+q, again %+q", s, n, again)
		}
		if r, bad := invisibleLeft(n); bad {
			t.Fatalf("Normalize(%+q) = %+q keeps %U", s, n, r)
		}
		if !norm.NFC.IsNormalString(n) {
			t.Fatalf("Normalize(%+q) = %+q is not NFC", s, n)
		}
		if n != strings.TrimSpace(n) || strings.Contains(n, "  ") {
			t.Fatalf("Normalize(%+q) = %+q: whitespace not collapsed", s, n)
		}
		for _, r := range n {
			if r != foldDigit(r) || r != canonicalLetter(r) || (unicode.IsSpace(r) && r != ' ' && r != '\n') {
				t.Fatalf("Normalize(%+q) = %+q keeps %U", s, n, r)
			}
		}
		sc := StripControls(s)
		if !utf8.ValidString(sc) || StripControls(sc) != sc {
			t.Fatalf("StripControls(%+q) = %+q: invalid or not idempotent", s, sc)
		}
		// StripControls keeps tatweel, a letter: stand a plain letter in for it, so a ZWNJ next to
		// a tatweel is judged as next to a letter (deleting it instead made a kept ZWNJ look
		// dangling: "A\u200c\u0640").
		if r, bad := invisibleLeft(strings.ReplaceAll(sc, string(tatweel), "a")); bad {
			t.Fatalf("StripControls(%+q) = %+q keeps %U", s, sc, r)
		}
		if fo := Fold(s); Fold(fo) != fo {
			t.Fatalf("Fold not idempotent: %+q → %+q → %+q", s, fo, Fold(fo))
		}
	})
}
