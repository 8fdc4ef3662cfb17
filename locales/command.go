package locales

import (
	"strings"
	"unicode/utf8"
)

// Command is a global command a person can give in any state.
type Command string

// The commands. Their values are the slash forms without the slash.
const (
	CmdStart    Command = "start"
	CmdExit     Command = "exit"
	CmdBack     Command = "back"
	CmdLanguage Command = "language"
	CmdHelp     Command = "help"
	CmdForget   Command = "forget"
	CmdSkip     Command = "skip"
	CmdDone     Command = "done"
)

// Commands lists every command. The first six are the global commands of
// the bot's menu; skip and done only make sense on a question that offers
// them, and the engine decides that.
var Commands = []Command{CmdStart, CmdExit, CmdBack, CmdLanguage, CmdHelp, CmdForget, CmdSkip, CmdDone}

// commandWordsMsg gives the catalog message holding a command's localized
// words.
var commandWordsMsg = map[Command]MsgID{
	CmdStart:    MsgCmdStart,
	CmdExit:     MsgCmdExit,
	CmdBack:     MsgCmdBack,
	CmdLanguage: MsgCmdLanguage,
	CmdHelp:     MsgCmdHelp,
	CmdForget:   MsgCmdForget,
	CmdSkip:     MsgCmdSkip,
	CmdDone:     MsgCmdDone,
}

// Command parsing limits.
const (
	// MaxCommandBytes bounds a message that can be a command: "/start"
	// with the longest deep-link payload Telegram allows (64 characters)
	// fits, and so does every command word. Longer messages are never
	// commands and are not even folded.
	MaxCommandBytes = 256
	// Telegram usernames are 5 to 32 characters of [A-Za-z0-9_].
	minBotUsername = 5
	maxBotUsername = 32
	// commandWordSeparator separates the words of one command in a catalog.
	commandWordSeparator = "|"
)

// ParseCommand recognises a whole message as a command.
//
// Slash forms: "/exit", "/EXIT", "/exit@PenahBot" (any well-formed bot
// username after the @ is accepted: in a private chat the command can only
// be for this bot), and "/start abc123", whose arg is "abc123" (the rest of
// the message after the first space, normalized). After the slash may come
// the command's English name or any of its localized words ("/خروج").
//
// Words: a message that, after [Fold] (Normalize, case, diacritics, Sorani
// and Arabic letter variants, surrounding punctuation), equals one of a
// command's words in any of the four languages is that command, with an
// empty arg. The whole message must match: "I want to exit now" is not a
// command. Skip and done are recognised like the others; whether they
// apply is the engine's decision.
func (c *Catalog) ParseCommand(text string) (cmd Command, arg string, ok bool) {
	if len(text) > MaxCommandBytes {
		return "", "", false
	}
	s := Normalize(text)
	if rest, isSlash := strings.CutPrefix(s, "/"); isSlash {
		name, arg := rest, ""
		if i := strings.IndexAny(rest, " \n"); i >= 0 {
			name, arg = rest[:i], rest[i+1:]
		}
		if n, bot, hasBot := strings.Cut(name, "@"); hasBot {
			if !validBotUsername(bot) {
				return "", "", false
			}
			name = n
		}
		cmd, ok = c.lookupSlash(Fold(name))
		if !ok {
			return "", "", false
		}
		return cmd, arg, true
	}
	cmd, ok = c.words[Fold(s)]
	return cmd, "", ok
}

// lookupSlash finds the command for the folded name after a slash: the
// command's own name or one of its words.
func (c *Catalog) lookupSlash(key string) (Command, bool) {
	if key == "" {
		return "", false
	}
	for _, cmd := range Commands {
		if key == string(cmd) {
			return cmd, true
		}
	}
	cmd, ok := c.words[key]
	return cmd, ok
}

func validBotUsername(s string) bool {
	if n := utf8.RuneCountInString(s); n < minBotUsername || n > maxBotUsername {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_') {
			return false
		}
	}
	return true
}

// splitWords splits a command-words message into its words.
func splitWords(s string) []string {
	var out []string
	for _, w := range strings.Split(s, commandWordSeparator) {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}
