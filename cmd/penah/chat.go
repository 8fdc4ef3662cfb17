package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"
	"golang.org/x/text/unicode/bidi"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/vault"
	"github.com/penahbot/penah/locales"
)

// chatPerson is who the terminal conversation belongs to. Like a Telegram user id, it is stored
// only as a blind index.
const chatPerson = "local"

// MaxChatLine bounds one line read from the terminal, like Telegram's 4096-character message.
const MaxChatLine = 4 * flows.MaxTextChars

func runChat(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("penah chat", flag.ContinueOnError)
	fl.SetOutput(stderr)
	data := fl.String("data", "", "data directory (env PENAH_DATA, default ./penah-data)")
	flowID := fl.String("flow", "", "flow to start (default: the intake)")
	hint := fl.String("lang-hint", "", "language code as Telegram would report it (e.g. ar, ckb, en-US)")
	resume := fl.Bool("resume", false, "continue the stored conversation instead of starting anew")
	bidiMode := fl.String("bidi", "auto", "right-to-left text: auto (visual on a terminal), visual, or logical")
	officerLang := fl.String("officer-lang", "en", "language of the officer's view of a case")
	if err := fl.Parse(args); err != nil {
		return errUsage
	}
	olang, ok := locales.Parse(*officerLang)
	if !ok {
		return fmt.Errorf("unknown --officer-lang %q", *officerLang)
	}
	c, err := openService(ctx, dataDir(getenv, *data), getenv, true, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	svc, set, cat := c.svc, c.lib, c.cat
	chatKey := intake.SessionKey(c.vault.Index("terminal", chatPerson))

	interactive := isTerminal(stdin) && isTerminal(stdout)
	p := &printer{w: stdout, visual: *bidiMode == "visual" || (*bidiMode == "auto" && isTerminal(stdout)), width: 80}
	if f, ok := stdout.(*os.File); ok && p.visual {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
			p.width = w
		}
	}
	if interactive {
		fmt.Fprintln(stdout, "Penah terminal chat. Type a number to press a button, or type your answer. Ctrl-D ends.")
	}

	turn := func(in engine.Input) (bool, error) {
		in.LangHint = *hint
		out, err := svc.Handle(ctx, chatKey, in)
		p.replies(out.Replies)
		if err != nil {
			return false, err
		}
		if out.Case != nil {
			// Show the case as an officer would: read back from the store and opened with the
			// team's key, so what is printed is what was sealed.
			stored, body, err := svc.OpenCase(ctx, out.Case.Ref)
			if errors.Is(err, vault.ErrNoKey) {
				fmt.Fprintf(stdout, "\ncase: %s\n\nThe team's key is not on this server (sealed-only): open it with `penah cases open %s --identity FILE`.\n", out.Case.Ref, out.Case.Ref)
				return false, nil
			}
			if err != nil {
				return false, err
			}
			fmt.Fprintf(stdout, "\ncase: %s\n\n%s\n", stored.Ref, stored.OfficerView(set, cat, olang, body))
		}
		for _, e := range out.Effects {
			if e.Kind == engine.EffectExit || e.Kind == engine.EffectForget {
				return true, nil // the conversation is over and cleared
			}
		}
		return false, nil
	}

	if !*resume {
		start := "/start"
		if *flowID != "" {
			start += " " + *flowID
		}
		if _, err := turn(engine.Input{Text: start}); err != nil {
			return err
		}
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 0, 4096), MaxChatLine)
	for {
		if interactive {
			fmt.Fprint(stdout, "› ")
		}
		if !sc.Scan() {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		line := strings.TrimRight(sc.Text(), "\r")
		if !interactive {
			fmt.Fprintf(stdout, "› %s\n", line)
		}
		done, err := turn(p.input(line))
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("an input line is longer than %d bytes", MaxChatLine)
		}
		return err
	}
	return nil
}

// printer shows replies as numbered buttons and maps typed numbers back to button presses.
type printer struct {
	w       io.Writer
	visual  bool
	width   int
	buttons []engine.Button
	expect  flows.Kind
}

func (p *printer) replies(rs []engine.Reply) {
	for _, r := range rs {
		fmt.Fprintln(p.w, strings.Repeat("─", 40))
		for _, line := range strings.Split(r.Text, "\n") {
			p.line(line, r.Lang, "")
		}
		all := slices.Concat(r.Buttons...)
		for i, b := range all {
			p.line(b.Label, r.Lang, fmt.Sprintf("  %d) ", i+1))
		}
		if len(all) > 0 {
			p.buttons, p.expect = all, r.Expect
		}
	}
}

// line prints one line. On a terminal without bidi support, right-to-left lines are wrapped to the
// terminal's width, reordered for display and aligned to the right, so Arabic and Sorani read
// correctly; otherwise (pipes, tests, or --bidi logical for terminals that do bidi themselves)
// text is printed in logical order. A line's direction is that of its first strong character, so
// the picker's English and Kurmanji lines stay left-to-right.
func (p *printer) line(s string, lang locales.Lang, prefix string) {
	if !p.visual || !rtlText(s, lang) {
		fmt.Fprintln(p.w, prefix+s)
		return
	}
	for _, part := range wrap(s, p.width-utf8.RuneCountInString(prefix)-1) {
		v := visualRTL(part) + strings.TrimRight(reverseASCII(prefix), " ")
		if pad := p.width - 1 - utf8.RuneCountInString(v); pad > 0 {
			v = strings.Repeat(" ", pad) + v
		}
		fmt.Fprintln(p.w, v)
		prefix = strings.Repeat(" ", utf8.RuneCountInString(prefix))
	}
}

// rtlText reports whether a line reads right to left: its first strong character decides, the
// reply's language breaks ties (a line of digits and punctuation).
func rtlText(s string, lang locales.Lang) bool {
	for _, r := range s {
		props, _ := bidi.LookupRune(r)
		switch props.Class() {
		case bidi.R, bidi.AL:
			return true
		case bidi.L:
			return false
		}
	}
	return lang.RTL()
}

// wrap breaks a line into pieces of at most width runes at spaces (a longer word is cut).
func wrap(s string, width int) []string {
	if width < 10 {
		width = 10
	}
	var out []string
	var cur []rune
	for _, word := range strings.Fields(s) {
		w := []rune(word)
		if len(cur) > 0 && len(cur)+1+len(w) > width {
			out = append(out, string(cur))
			cur = nil
		}
		for len(w) > width {
			out = append(out, string(w[:width]))
			w = w[width:]
		}
		if len(cur) > 0 {
			cur = append(cur, ' ')
		}
		cur = append(cur, w...)
	}
	if len(cur) > 0 || len(out) == 0 {
		out = append(out, string(cur))
	}
	return out
}

// reverseASCII turns "  1) " into " (1  " style markers for right-aligned lines.
func reverseASCII(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	for i, c := range r {
		if c == ')' {
			r[i] = '('
		}
	}
	return " " + string(r)
}

var mirror = map[rune]rune{'(': ')', ')': '(', '[': ']', ']': '[', '{': '}', '}': '{', '<': '>', '>': '<', '«': '»', '»': '«'}

// visualRTL reorders a right-to-left paragraph into display order (Unicode bidi algorithm levels
// from golang.org/x/text/unicode/bidi): runs in reverse order, right-to-left runs reversed and
// their brackets mirrored, left-to-right runs (numbers, Latin words) kept as they are.
func visualRTL(s string) string {
	var para bidi.Paragraph
	if _, err := para.SetString(s, bidi.DefaultDirection(bidi.RightToLeft)); err != nil {
		return s
	}
	ord, err := para.Order()
	if err != nil {
		return s
	}
	var b strings.Builder
	for i := ord.NumRuns() - 1; i >= 0; i-- {
		run := ord.Run(i)
		if run.Direction() != bidi.RightToLeft {
			b.WriteString(run.String())
			continue
		}
		rs := []rune(run.String())
		slices.Reverse(rs)
		for _, r := range rs {
			if m, ok := mirror[r]; ok {
				r = m
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// input turns a typed line into what Telegram would deliver: a typed number presses that button
// when the message waits for a button; where it waits for free text, "#2" presses button 2.
func (p *printer) input(line string) engine.Input {
	s := strings.TrimSpace(locales.FoldDigits(line))
	free := p.expect == flows.KindText || p.expect == flows.KindNumber || p.expect == flows.KindPhone
	if free {
		if !strings.HasPrefix(s, "#") {
			return engine.Input{Text: line}
		}
		s = s[1:]
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= len(p.buttons) {
		return engine.Input{Data: p.buttons[n-1].Data}
	}
	return engine.Input{Text: line}
}
