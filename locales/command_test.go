package locales

import (
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	c := mustLoad(t)
	const (
		lrm     = "\u200E"
		rlm     = "\u200F"
		tatweel = "\u0640"
		fatha   = "\u064E"
		shadda  = "\u0651"
	)
	tests := []struct {
		text string
		cmd  Command
		arg  string
		ok   bool
	}{
		// Slash forms.
		{"/start", CmdStart, "", true},
		{"/exit", CmdExit, "", true},
		{"/EXIT", CmdExit, "", true},
		{"/Exit", CmdExit, "", true},
		{"/back", CmdBack, "", true},
		{"/language", CmdLanguage, "", true},
		{"/help", CmdHelp, "", true},
		{"/forget", CmdForget, "", true},
		{"/skip", CmdSkip, "", true},
		{"/done", CmdDone, "", true},
		{"  /exit  ", CmdExit, "", true},
		{rlm + "/exit", CmdExit, "", true},
		{"/exit@PenahBot", CmdExit, "", true},
		{"/exit@penah_bot", CmdExit, "", true},
		{"/start abc123", CmdStart, "abc123", true},
		{"/start@PenahBot abc123", CmdStart, "abc123", true},
		{"/start   abc123  ", CmdStart, "abc123", true},
		{"/start\nabc123", CmdStart, "abc123", true},
		{"/exit now", CmdExit, "now", true},
		{"/quit", CmdExit, "", true},       // an English word after the slash
		{"/خروج", CmdExit, "", true},       // an Arabic word after the slash
		{"/exit@", "", "", false},          // empty username
		{"/exit@ab", "", "", false},        // username too short
		{"/exit@Penah-Bot", "", "", false}, // not a username
		{"/", "", "", false},
		{"/ exit", "", "", false},
		{"/exits", "", "", false},
		{"/unknown", "", "", false},
		{"/startabc", "", "", false},
		{"//exit", CmdExit, "", true}, // punctuation around the name is ignored, like "exit!"
		{"/go back", "", "", false},   // a phrase is not a slash command
		// English words, case-insensitive, surrounding punctuation ignored.
		{"exit", CmdExit, "", true},
		{"EXIT", CmdExit, "", true},
		{"Exit!", CmdExit, "", true},
		{"quit", CmdExit, "", true},
		{"stop", CmdExit, "", true},
		{"go back", CmdBack, "", true},
		{"Go   Back", CmdBack, "", true},
		{"help?", CmdHelp, "", true},
		{"Forget me", CmdForget, "", true},
		{"skip", CmdSkip, "", true},
		{"Done.", CmdDone, "", true},
		{"start again", CmdStart, "", true},
		{"change language", CmdLanguage, "", true},
		// Arabic words, with tatweel, harakat, hamza variants and bidi marks.
		{"خروج", CmdExit, "", true},
		{"خـــروج", CmdExit, "", true},
		{"خ" + tatweel + "روج", CmdExit, "", true},
		{"اخرج", CmdExit, "", true},
		{"رجوع", CmdBack, "", true},
		{"ر" + fatha + "جوع", CmdBack, "", true},
		{"مساعدة", CmdHelp, "", true},
		{"مساعده", CmdHelp, "", true}, // teh marbuta written as heh
		{"ابدأ", CmdStart, "", true},
		{"ابدا", CmdStart, "", true},
		{"تخطي", CmdSkip, "", true},
		{"تخطى", CmdSkip, "", true},
		{"تخطی", CmdSkip, "", true}, // Persian yeh
		{"تم", CmdDone, "", true},
		{"ت" + shadda + "م", CmdDone, "", true},
		{"اللغة", CmdLanguage, "", true},
		{"احذف بياناتي", CmdForget, "", true},
		{rlm + "خروج" + rlm, CmdExit, "", true},
		{"خروج؟", CmdExit, "", true},
		// Sorani words, also as typed on Arabic keyboards.
		{"دەرچوون", CmdExit, "", true},
		{"گەڕانەوە", CmdBack, "", true},
		{"گهرانهوه", CmdBack, "", true},             // heh for ە, reh for ڕ
		{"گه\u200cڕانه\u200cوه", CmdBack, "", true}, // older spelling with heh + ZWNJ
		{"یارمەتی", CmdHelp, "", true},
		{"يارمەتي", CmdHelp, "", true}, // Arabic yeh
		{"زمان", CmdLanguage, "", true},
		{"تێپەڕاندن", CmdSkip, "", true},
		{"تەواو", CmdDone, "", true},
		{"سڕینەوە", CmdForget, "", true},
		{"دەستپێکردنەوە", CmdStart, "", true},
		// Kurmanji words, with and without Kurdish letters.
		{"derkeve", CmdExit, "", true},
		{"Derkeve", CmdExit, "", true},
		{"vegere", CmdBack, "", true},
		{"alîkarî", CmdHelp, "", true},
		{"alikari", CmdHelp, "", true},
		{"ALÎKARÎ", CmdHelp, "", true},
		{"ziman", CmdLanguage, "", true},
		{"derbas bike", CmdSkip, "", true},
		{"temam", CmdDone, "", true},
		{"jê bibe", CmdForget, "", true},
		{"je bibe", CmdForget, "", true},
		{"dest pê bike", CmdStart, "", true},
		// Not commands: substrings, longer sentences, ordinary answers.
		{"I want to exit now", "", "", false},
		{"exit now", "", "", false},
		{"exiting", "", "", false},
		{"please help me", "", "", false},
		{"أريد الخروج الآن", "", "", false},
		{"خروجه", "", "", false},
		{"yes", "", "", false},
		{"no", "", "", false},
		{"نعم", "", "", false},
		{"لا", "", "", false},
		{"بەڵێ", "", "", false},
		{"نەخێر", "", "", false},
		{"erê", "", "", false},
		{"na", "", "", false},
		{"ok", "", "", false},
		{"", "", "", false},
		{"   ", "", "", false},
		{"!!!", "", "", false},
		{"0750 123 4567", "", "", false},
	}
	for _, tt := range tests {
		cmd, arg, ok := c.ParseCommand(tt.text)
		if cmd != tt.cmd || arg != tt.arg || ok != tt.ok {
			t.Errorf("ParseCommand(%q) = %q, %q, %v; want %q, %q, %v", tt.text, cmd, arg, ok, tt.cmd, tt.arg, tt.ok)
		}
	}
}

func TestParseCommandLength(t *testing.T) {
	c := mustLoad(t)
	payload := strings.Repeat("a", 64) // Telegram's longest deep-link payload
	if cmd, arg, ok := c.ParseCommand("/start " + payload); !ok || cmd != CmdStart || arg != payload {
		t.Errorf("/start with a 64-character payload: %q %q %v", cmd, arg, ok)
	}
	atLimit := "exit" + strings.Repeat(" ", MaxCommandBytes-len("exit"))
	if _, _, ok := c.ParseCommand(atLimit); !ok {
		t.Errorf("a %d-byte message was not parsed", len(atLimit))
	}
	if _, _, ok := c.ParseCommand(atLimit + " "); ok {
		t.Errorf("a %d-byte message was parsed as a command", len(atLimit)+1)
	}
}

// A word must never mean two commands, in any pair of languages; this
// reads the files directly rather than trusting Load's check.
func TestNoWordMapsToTwoCommands(t *testing.T) {
	owner := map[string]Command{}
	for _, l := range All {
		raw := rawMessages(t, l)
		for _, cmd := range Commands {
			words := splitWords(raw[commandWordsMsg[cmd]])
			if len(words) == 0 {
				t.Errorf("%s: %s has no words", l, cmd)
			}
			for _, w := range words {
				key := Fold(w)
				if prev, ok := owner[key]; ok && prev != cmd {
					t.Errorf("%s: %q (%q) is a word of %s and %s", l, w, key, prev, cmd)
				}
				owner[key] = cmd
			}
		}
	}
	// Every command name itself is recognised as a word too, in English.
	for _, cmd := range Commands {
		if owner[string(cmd)] != cmd {
			t.Errorf("the English words of %s do not include %q", cmd, cmd)
		}
	}
}

// Typing a button's label has the same effect as pressing it.
func TestButtonLabelsAreCommandWords(t *testing.T) {
	c := mustLoad(t)
	buttons := map[MsgID]Command{
		MsgBack:       CmdBack,
		MsgSkip:       CmdSkip,
		MsgDone:       CmdDone,
		MsgExit:       CmdExit,
		MsgStartAgain: CmdStart,
	}
	for _, l := range All {
		for id, want := range buttons {
			label := c.T(l, id, nil)
			if got, _, ok := c.ParseCommand(label); !ok || got != want {
				t.Errorf("%s: typing the %q button label %q gives %q, %v; want %q", l, id, label, got, ok, want)
			}
		}
	}
}

// Ordinary answers a person may type (yes/no and their variants, choice
// labels of the other buttons) are never commands.
func TestAnswersAreNotCommands(t *testing.T) {
	c := mustLoad(t)
	for _, l := range All {
		for _, id := range []MsgID{MsgYesSafe, MsgNotNow, MsgCancel, MsgForgetYes} {
			label := c.T(l, id, nil)
			if cmd, _, ok := c.ParseCommand(label); ok {
				t.Errorf("%s: the %q label %q parses as %q", l, id, label, cmd)
			}
		}
		for _, g := range Governorates {
			label := c.T(l, GovernorateMsg(g), nil)
			if cmd, _, ok := c.ParseCommand(label); ok {
				t.Errorf("%s: governorate %q parses as %q", l, label, cmd)
			}
		}
	}
}
