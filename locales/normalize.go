package locales

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Characters with a special role in normalisation.
const (
	zwnj    = '\u200C' // ZERO WIDTH NON-JOINER
	tatweel = '\u0640' // ARABIC TATWEEL (kashida), a stretching stroke with no meaning

	// Canonical spellings. Arabic, Sorani and Persian keyboards produce
	// different code points for the same yeh and kaf; matching and
	// searching must not depend on which keyboard the person has.
	//
	// Yeh: ARABIC YEH ي (U+064A), ALEF MAKSURA ى (U+0649) and FARSI YEH ی
	// (U+06CC) all become FARSI YEH. It is the form Sorani (and Persian)
	// is written with, and it renders as ى at the end of a word and as ي
	// elsewhere, so Arabic words written with either keep their look
	// (على stays على; في shows with a dotless final yeh, as in much
	// everyday Iraqi and Egyptian writing). Choosing ي instead would put
	// dots under every final ى and turn على ("on") into علي ("Ali").
	//
	// Kaf: ARABIC KAF ك (U+0643) becomes KEHEH ک (U+06A9), the kaf of
	// Sorani and Persian keyboards. Arabic readers read it without effort.
	canonicalYeh = '\u06CC'
	canonicalKaf = '\u06A9'
)

// isBidiControl reports whether r is a Unicode bidirectional formatting
// character: LRM, RLM, ALM, the embeddings and overrides (LRE, RLE, PDF,
// LRO, RLO) and the isolates (LRI, RLI, FSI, PDI). In text shown to
// officers they can reorder what is displayed (the "Trojan Source" trick),
// and they carry no meaning a person would miss.
func isBidiControl(r rune) bool {
	switch {
	case r == '\u200E', r == '\u200F', r == '\u061C':
		return true
	case r >= '\u202A' && r <= '\u202E':
		return true
	case r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// isRemovedControl reports whether r is one of the invisible characters
// that StripControls and Normalize remove: bidi controls, zero-width
// characters other than ZWNJ (ZWSP, ZWJ, WORD JOINER, BOM/ZWNBSP), other
// invisible format characters that can hide or split text (SOFT HYPHEN,
// MONGOLIAN VOWEL SEPARATOR, the invisible math operators, the deprecated
// format characters U+206A–U+206F, the interlinear annotation characters,
// and the TAG characters, which can carry a whole hidden text; the price is
// that the flags of England, Scotland and Wales show as a black flag), and
// C0/C1 control characters except tab, line feed and carriage return (they
// can drive a terminal when an officer reads a case in the CLI).
//
// ZWJ is removed although emoji sequences use it: a family emoji then
// shows as its members, which is harmless.
func isRemovedControl(r rune) bool {
	switch {
	case isBidiControl(r):
		return true
	case r == '\u200B', r == '\u200D', r == '\u2060', r == '\uFEFF', r == '\u00AD', r == '\u180E':
		return true
	case r >= '\u2061' && r <= '\u2064':
		return true
	case r >= '\u206A' && r <= '\u206F':
		return true
	case r >= '\uFFF9' && r <= '\uFFFB':
		return true
	case r >= 0xE0000 && r <= 0xE007F:
		return true
	case r < 0x20 || (r >= 0x7F && r <= 0x9F):
		return r != '\t' && r != '\n' && r != '\r'
	}
	return false
}

// ZWNJ policy.
//
// ZERO WIDTH NON-JOINER is part of correct spelling in Sorani and Persian:
// it stops two letters joining, for example after a heh used as the vowel
// "e" in the older Sorani spelling that many phones still produce
// (ده‌مه‌وێ), or in Persian compounds (می‌خواهم). Removing it makes such
// words render wrongly for the officer who reads them. So the stored text
// keeps a ZWNJ where it can do that job, between a letter (possibly
// followed by combining marks) and a letter or mark, and drops it
// everywhere else (at the edges, next to spaces, digits or punctuation,
// and the 2nd and later of a run). [Fold], which is for matching only,
// removes every ZWNJ.

// stripInvisible removes the characters isRemovedControl selects and
// applies the ZWNJ policy. For Normalize (normalizing true) it also removes
// the tatweel and keeps the control characters that are whitespace (vertical
// tab, form feed, NEXT LINE) for the whitespace step to turn into a line
// break. It returns valid UTF-8 (invalid bytes become U+FFFD).
func stripInvisible(s string, normalizing bool) string {
	drop := func(r rune) bool {
		if normalizing {
			if r == tatweel {
				return true
			}
			if unicode.IsSpace(r) {
				return false
			}
		}
		return isRemovedControl(r)
	}
	// Fast path: nothing to remove.
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || r == zwnj || drop(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	in := make([]rune, 0, len(s))
	for _, r := range s {
		if !drop(r) {
			in = append(in, r)
		}
	}
	// nextIsJoinable[i]: the first rune after in[i] that is not a ZWNJ is
	// a letter or a mark.
	nextIsJoinable := make([]bool, len(in))
	next := false
	for i := len(in) - 1; i >= 0; i-- {
		nextIsJoinable[i] = next
		if in[i] != zwnj {
			next = unicode.IsLetter(in[i]) || unicode.IsMark(in[i])
		}
	}
	out := make([]rune, 0, len(in))
	// afterLetter: the last rune written, skipping combining marks, is a
	// letter (so a ZWNJ here would sit between a letter and what follows).
	afterLetter, afterZWNJ := false, false
	for i, r := range in {
		switch {
		case r == zwnj:
			// Keep the first ZWNJ of a run, between a letter (and its
			// marks) and a letter or mark.
			if afterLetter && !afterZWNJ && nextIsJoinable[i] {
				out = append(out, r)
				afterZWNJ = true
				afterLetter = false
			}
			continue
		case unicode.IsMark(r):
			// A mark keeps the base it sits on.
		default:
			afterLetter = unicode.IsLetter(r)
		}
		afterZWNJ = false
		out = append(out, r)
	}
	return string(out)
}

// StripControls removes the characters that can hide or reorder text and
// nothing else: bidi controls (LRM, RLM, ALM, LRE, RLE, PDF, LRO, RLO, LRI,
// RLI, FSI, PDI), zero-width and other invisible format characters (ZWSP,
// ZWJ, WORD JOINER, BOM, SOFT HYPHEN, TAG characters, …), C0/C1 control
// characters other than tab, line feed and carriage return, and every ZWNJ
// that is not between letters (see the ZWNJ policy above). It does no NFC,
// no digit or letter folding and leaves whitespace alone. Renderers use it
// on text shown to officers. The result is valid UTF-8.
func StripControls(s string) string {
	return stripInvisible(s, false)
}

// FoldDigits replaces Arabic-Indic digits (٠–٩, U+0660–U+0669) and
// Extended Arabic-Indic (Persian/Urdu) digits (۰–۹, U+06F0–U+06F9) with
// ASCII digits, and changes nothing else.
func FoldDigits(s string) string {
	if !hasNonASCIIDigit(s) {
		return s
	}
	return strings.Map(foldDigit, s)
}

func hasNonASCIIDigit(s string) bool {
	for _, r := range s {
		if foldDigit(r) != r {
			return true
		}
	}
	return false
}

func foldDigit(r rune) rune {
	switch {
	case r >= '\u0660' && r <= '\u0669':
		return '0' + (r - '\u0660')
	case r >= '\u06F0' && r <= '\u06F9':
		return '0' + (r - '\u06F0')
	}
	return r
}

// canonicalLetter applies the yeh and kaf unification.
func canonicalLetter(r rune) rune {
	switch r {
	case '\u064A', '\u0649': // ARABIC YEH, ALEF MAKSURA
		return canonicalYeh
	case '\u0643': // ARABIC KAF
		return canonicalKaf
	}
	return r
}

// isLineBreak reports whether r ends a line.
func isLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', '\u0085', '\u2028', '\u2029':
		return true
	}
	return false
}

// Normalize is applied to everything a person types, before it is matched
// or stored. In order, it:
//
//   - replaces invalid UTF-8 with U+FFFD;
//   - removes bidi controls and invisible characters (see StripControls),
//     C0/C1 controls other than tab and line breaks, and the tatweel ـ;
//     keeps ZWNJ only between letters (see the ZWNJ policy);
//   - converts to Unicode NFC;
//   - folds Arabic-Indic and Persian digits to ASCII (FoldDigits);
//   - unifies Arabic yeh ي, alef maksura ى and Persian yeh ی as ی, and
//     Arabic kaf ك and keheh ک as ک (see canonicalYeh, canonicalKaf);
//   - collapses each run of whitespace into one space, or into one line
//     feed if the run contains a line break (so a longer answer keeps its
//     lines for the officer), and trims the ends.
//
// Normalize is idempotent.
func Normalize(s string) string {
	if isPlainASCII(s) {
		return s
	}
	s = stripInvisible(s, true)
	s = norm.NFC.String(s)

	var b strings.Builder
	b.Grow(len(s))
	space := rune(0) // pending whitespace: 0, ' ' or '\n'
	for _, r := range s {
		if unicode.IsSpace(r) {
			if isLineBreak(r) {
				space = '\n'
			} else if space == 0 {
				space = ' '
			}
			continue
		}
		if space != 0 {
			if b.Len() > 0 {
				b.WriteRune(space)
			}
			space = 0
		}
		b.WriteRune(canonicalLetter(foldDigit(r)))
	}
	return b.String()
}

// isPlainASCII reports whether s is printable ASCII with single inner
// spaces and no spaces at the ends: already normal.
func isPlainASCII(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7E {
			return false
		}
		if c == ' ' && s[i+1] == ' ' {
			return false
		}
	}
	return true
}

// foldLetters maps letters for matching only (Fold): spellings that people
// typing on Arabic, Persian or Sorani keyboards (or without Kurdish letters
// at all) use interchangeably.
var foldLetters = map[rune]rune{
	'\u0629': '\u0647', // ة TEH MARBUTA → ه HEH (Arabic writers drop the dots)
	'\u06D5': '\u0647', // ە AE (Sorani vowel e) → ه (older spelling: heh + ZWNJ)
	'\u06BE': '\u0647', // ھ HEH DOACHASHMEE (Sorani h on some keyboards) → ه
	'\u06C1': '\u0647', // ہ HEH GOAL → ه
	'\u06CE': '\u06CC', // ێ YEH WITH SMALL V → ی
	'\u06C6': '\u0648', // ۆ OE → و WAW
	'\u06B5': '\u0644', // ڵ LAM WITH SMALL V → ل
	'\u0695': '\u0631', // ڕ REH WITH SMALL V BELOW → ر
	'\u06A4': '\u0641', // ڤ VEH → ف FEH
	'\u0671': '\u0627', // ٱ ALEF WASLA → ا
	'\u0131': 'i',      // ı DOTLESS I (Turkish keyboards) → i
}

// Fold returns the matching key of s: Normalize, then lower case, every
// ZWNJ and combining mark removed (Arabic harakat, shadda and superscript
// alef; hamza and madda on their seats, so أ إ آ become ا and ؤ و and ئ ی;
// Latin accents, so ê î û ç ş become e i u c s), the Sorani and Arabic
// letters in foldLetters merged, punctuation and symbols trimmed from both
// ends, and all whitespace a single space. Use it to compare what a person
// typed with a word list; never store or show its result.
func Fold(s string) string {
	s = strings.ToLower(Normalize(s))
	s = norm.NFD.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if r == zwnj || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) {
			continue
		}
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if m, ok := foldLetters[r]; ok {
			r = m
		}
		r = canonicalLetter(r)
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := strings.TrimFunc(b.String(), func(r rune) bool {
		return unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
	})
	return norm.NFC.String(out)
}
