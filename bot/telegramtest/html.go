package telegramtest

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// UTF16Len returns the length of s in UTF-16 code units, the unit of Telegram's entity offsets and of
// the fake's MaxMessageChars.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// htmlTags are the tags Telegram's HTML parse mode supports, with the entity type each produces.
var htmlTags = map[string]string{
	"b": "bold", "strong": "bold",
	"i": "italic", "em": "italic",
	"u": "underline", "ins": "underline",
	"s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
	"span": "spoiler", "tg-spoiler": "spoiler",
	"a":          "text_link",
	"code":       "code",
	"pre":        "pre",
	"blockquote": "blockquote",
	"tg-emoji":   "custom_emoji",
}

type openTag struct {
	name   string
	entity MessageEntity
	start  int // UTF-16 offset in the output
}

// ParseHTML parses text in Telegram's HTML parse mode and returns the plain text and its entities,
// or an error worded like Telegram's ("Unsupported start tag \"x\" at byte offset 3"; the API prefixes
// it with "can't parse entities: "). It follows the rules of Telegram's parser: only the tags of the
// documentation, the named entities &lt; &gt; &amp; &quot; and numeric ones; an unknown '&' sequence
// is kept literally, while a '<' that does not start a supported tag is an error.
func ParseHTML(text string) (string, []MessageEntity, error) {
	var out strings.Builder
	var entities []MessageEntity
	var stack []openTag
	outLen := 0
	write := func(s string) {
		out.WriteString(s)
		outLen += UTF16Len(s)
	}
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	n := len(text)
	for i := 0; i < n; {
		c := text[i]
		if c == '&' {
			if r, size, ok := decodeHTMLEntity(text[i:]); ok {
				write(string(r))
				i += size
				continue
			}
			write("&")
			i++
			continue
		}
		if c != '<' {
			_, size := utf8.DecodeRuneInString(text[i:])
			write(text[i : i+size])
			i += size
			continue
		}
		begin := i
		i++
		if i < n && text[i] == '/' {
			// End tag.
			if len(stack) == 0 {
				return "", nil, fmt.Errorf("Unexpected end tag at byte offset %d", begin)
			}
			i++
			for i < n && !isSpace(text[i]) && text[i] != '>' {
				i++
			}
			name := strings.ToLower(text[begin+2 : i])
			for i < n && isSpace(text[i]) {
				i++
			}
			if i >= n || text[i] != '>' {
				return "", nil, fmt.Errorf("Unclosed end tag at byte offset %d", begin)
			}
			i++
			top := stack[len(stack)-1]
			if name != "" && name != top.name {
				return "", nil, fmt.Errorf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", begin, top.name, name)
			}
			stack = stack[:len(stack)-1]
			e := top.entity
			e.Offset, e.Length = top.start, outLen-top.start
			if e.Length > 0 && e.Type != "" {
				entities = append(entities, e)
			}
			continue
		}
		// Start tag.
		for i < n && !isSpace(text[i]) && text[i] != '>' {
			i++
		}
		if i >= n {
			return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
		}
		name := strings.ToLower(text[begin+1 : i])
		typ, ok := htmlTags[name]
		if !ok {
			return "", nil, fmt.Errorf("Unsupported start tag \"%s\" at byte offset %d", name, begin)
		}
		e := MessageEntity{Type: typ}
		class := ""
		for {
			for i < n && isSpace(text[i]) {
				i++
			}
			if i >= n {
				return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
			}
			if text[i] == '>' {
				i++
				break
			}
			attrBegin := i
			for i < n && !isSpace(text[i]) && text[i] != '=' && text[i] != '>' {
				i++
			}
			attr := strings.ToLower(text[attrBegin:i])
			if attr == "" {
				return "", nil, fmt.Errorf("Empty attribute name in the tag \"%s\" at byte offset %d", name, attrBegin)
			}
			for i < n && isSpace(text[i]) {
				i++
			}
			if i >= n || text[i] != '=' {
				if name == "blockquote" && attr == "expandable" {
					e.Type = "expandable_blockquote"
					continue
				}
				return "", nil, fmt.Errorf("Expected equal sign in declaration of an attribute of the tag \"%s\" at byte offset %d", name, begin)
			}
			i++
			for i < n && isSpace(text[i]) {
				i++
			}
			if i >= n {
				return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
			}
			var value string
			if q := text[i]; q == '"' || q == '\'' {
				end := strings.IndexByte(text[i+1:], q)
				if end < 0 {
					return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
				}
				value = decodeEntitiesInAttribute(text[i+1 : i+1+end])
				i += end + 2
			} else {
				vb := i
				for i < n && (isAlnum(text[i]) || text[i] == '.' || text[i] == '-') {
					i++
				}
				value = text[vb:i]
				if i < n && !isSpace(text[i]) && text[i] != '>' {
					return "", nil, fmt.Errorf("Unexpected end of name token at byte offset %d", i)
				}
			}
			switch {
			case name == "a" && attr == "href":
				e.URL = value
			case name == "code" && attr == "class" && strings.HasPrefix(value, "language-"):
				e.Language = strings.TrimPrefix(value, "language-")
			case name == "span" && attr == "class":
				class = value
			case name == "tg-emoji" && attr == "emoji-id":
				e.CustomEmojiID = value
			}
		}
		if name == "span" && class != "tg-spoiler" {
			return "", nil, fmt.Errorf("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", begin)
		}
		if name == "a" && e.URL == "" {
			e.Type = "" // a link without href is plain text
		}
		if name == "code" && len(stack) > 0 && stack[len(stack)-1].name == "pre" && e.Language != "" {
			stack[len(stack)-1].entity.Language = e.Language
			e.Type = ""
		}
		stack = append(stack, openTag{name: name, entity: e, start: outLen})
	}
	if len(stack) > 0 {
		return "", nil, fmt.Errorf("Can't find end tag corresponding to start tag \"%s\"", stack[len(stack)-1].name)
	}
	return out.String(), sortEntities(entities), nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// decodeHTMLEntity decodes the entity at the start of s ("&lt;", "&#1234;", "&#x1F600;").
func decodeHTMLEntity(s string) (rune, int, bool) {
	end := strings.IndexByte(s, ';')
	if end < 2 || end > 12 {
		return 0, 0, false
	}
	body := s[1:end]
	switch body {
	case "lt":
		return '<', end + 1, true
	case "gt":
		return '>', end + 1, true
	case "amp":
		return '&', end + 1, true
	case "quot":
		return '"', end + 1, true
	}
	if body[0] != '#' {
		return 0, 0, false
	}
	var v uint64
	var err error
	if len(body) > 1 && (body[1] == 'x' || body[1] == 'X') {
		v, err = strconv.ParseUint(body[2:], 16, 32)
	} else {
		v, err = strconv.ParseUint(body[1:], 10, 32)
	}
	if err != nil || v == 0 || v > utf8.MaxRune || (v >= 0xD800 && v <= 0xDFFF) {
		return 0, 0, false
	}
	return rune(v), end + 1, true
}

func decodeEntitiesInAttribute(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '&' {
			if r, size, ok := decodeHTMLEntity(s[i:]); ok {
				b.WriteRune(r)
				i += size
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// sortEntities orders entities by offset, outer before inner, as Telegram returns them.
func sortEntities(es []MessageEntity) []MessageEntity {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && (es[j].Offset < es[j-1].Offset || es[j].Offset == es[j-1].Offset && es[j].Length > es[j-1].Length); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
	return es
}

// botCommandEntities finds bot commands in a user's text as Telegram marks them: a '/' at the start or
// after a character that is not a letter, digit, '_' or '/', then 1 to 64 of [A-Za-z0-9_], optionally
// "@username". Offsets are in UTF-16 code units.
func botCommandEntities(text string) []MessageEntity {
	var es []MessageEntity
	word := func(r rune) bool {
		return r == '_' || r < utf8.RuneSelf && isAlnum(byte(r))
	}
	var prev rune = ' '
	off := 0
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == '/' && prev != '_' && prev != '/' && !isLetterOrDigit(prev) {
			j := i + 1
			for j < len(text) && j-i-1 < 64 && word(rune(text[j])) {
				j++
			}
			if j > i+1 {
				if j < len(text) && text[j] == '@' {
					k := j + 1
					for k < len(text) && word(rune(text[k])) {
						k++
					}
					if k-j-1 >= 3 && k-j-1 <= 32 {
						j = k
					}
				}
				if j == len(text) || !word(rune(text[j])) && text[j] != '/' {
					es = append(es, MessageEntity{Type: "bot_command", Offset: off, Length: UTF16Len(text[i:j])})
					off += UTF16Len(text[i:j])
					prev = rune(text[j-1])
					i = j
					continue
				}
			}
		}
		off += utf16.RuneLen(r)
		prev = r
		i += size
	}
	return es
}

func isLetterOrDigit(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
