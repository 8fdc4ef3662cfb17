package bot

import (
	"html"
	"strings"
	"unicode/utf16"

	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/locales"
)

// Telegram's limits on one message.
const (
	// MaxMessageChars is the longest text of one message, in UTF-16 code units as Telegram counts
	// them after parsing HTML entities.
	MaxMessageChars = 4096
)

// rlm starts right-to-left messages so that a message beginning with a command or a number
// ("/exit …", "1) …") is still laid out right to left on every client.
const rlm = "\u200F"

// Outgoing is one sendMessage request, before the chat id: HTML text, an inline keyboard, and
// protect_content, which Penah sets on every message (no forwarding, no saving).
type Outgoing struct {
	HTML     string
	Keyboard [][]engine.Button
	Protect  bool
}

// Render turns one engine reply into the messages to send. Every text is escaped for HTML parse
// mode — engine replies are plain text and may quote what a person typed — and split at
// MaxMessageChars on line or word boundaries; the keyboard goes on the last part. Bidi
// embeddings, overrides and isolates and invisible format characters are removed first
// (stripKeepMarks), so text cannot reorder or hide the rest of the message.
func Render(r engine.Reply) []Outgoing {
	text := stripKeepMarks(r.Text)
	prefix := ""
	if r.Lang.RTL() {
		prefix = rlm
	}
	parts := split(text, MaxMessageChars-utf16Len(prefix))
	out := make([]Outgoing, 0, len(parts))
	for _, p := range parts {
		out = append(out, Outgoing{HTML: prefix + html.EscapeString(p), Protect: true})
	}
	out[len(out)-1].Keyboard = r.Buttons
	return out
}

// stripKeepMarks removes what locales.StripControls removes, except the three directional marks
// (LRM, RLM and ALM). Translators put them in catalogs on purpose (an LRM before "/exit" in an
// Arabic line keeps the slash in place); a mark only sets the direction of the neutral characters
// next to it and cannot reorder the rest of a message, unlike embeddings, overrides and isolates,
// which are removed.
func stripKeepMarks(s string) string {
	var b strings.Builder
	start := 0
	for i, r := range s {
		if r == '\u200E' || r == '\u200F' || r == '\u061C' {
			b.WriteString(locales.StripControls(s[start:i]))
			b.WriteRune(r)
			start = i + len(string(r))
		}
	}
	if start == 0 {
		return locales.StripControls(s)
	}
	b.WriteString(locales.StripControls(s[start:]))
	return b.String()
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// split cuts s into pieces of at most max UTF-16 units, preferring to cut after a newline, then
// after a space, and only inside a word when a word alone is too long. Escaping does not change
// the length Telegram counts: it measures text after entity parsing.
func split(s string, max int) []string {
	if utf16Len(s) <= max {
		return []string{s}
	}
	var parts []string
	for utf16Len(s) > max {
		// Find the byte index where max units end.
		units, end := 0, 0
		for i, r := range s {
			if units+utf16.RuneLen(r) > max {
				end = i
				break
			}
			units += utf16.RuneLen(r)
		}
		cut := strings.LastIndexByte(s[:end], '\n')
		if cut <= 0 {
			cut = strings.LastIndexByte(s[:end], ' ')
		}
		if cut <= 0 {
			cut = end
		} else {
			cut++ // keep the newline or space with the first part
		}
		parts = append(parts, strings.TrimRight(s[:cut], " \n"))
		s = strings.TrimLeft(s[cut:], " \n")
	}
	if s != "" {
		parts = append(parts, s)
	}
	return parts
}
