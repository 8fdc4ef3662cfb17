// Package transcript replays golden conversations against the engine. A transcript file is both
// the script and the expected result: lines the person "sends" drive the engine, every other line
// is what Penah answered, and is regenerated when transcripts are updated.
//
//	# any comment; "# hint: ar" sets Telegram's language_code for the conversation
//	> typed text
//	* 2              press button 2 of the last message that had buttons
//	~ 31m            let time pass before the next input
//	< ar             a reply in this language, followed by its lines:
//	| text           its text, line by line
//	  [1] label      its buttons, numbered in order
//	= submit ...     an effect the caller must carry out
//
// The clock starts at Epoch and moves StepTime per input, so replays are deterministic.
package transcript

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/penahbot/penah/flows/engine"
)

// Epoch is the time a transcript starts.
var Epoch = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// StepTime is how much time passes per input.
const StepTime = 10 * time.Second

// Placeholders used where a real run would show a fresh case reference and code.
const (
	FakeRef  = "TEST-REF0-0000-0001"
	FakeCode = "TST-001"
)

// Replay runs the inputs of a transcript and returns the transcript as the engine answers it
// today. Comment lines and inputs are kept; everything else is regenerated.
func Replay(eng *engine.Engine, script []byte) ([]byte, error) {
	var (
		out     bytes.Buffer
		sess    engine.Session
		now     = Epoch
		hint    string
		buttons []engine.Button
	)
	sc := bufio.NewScanner(bytes.NewReader(script))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		var in engine.Input
		switch {
		case strings.HasPrefix(line, "#"):
			out.WriteString(line + "\n")
			if h, ok := strings.CutPrefix(line, "# hint:"); ok {
				hint = strings.TrimSpace(h)
			}
			continue
		case strings.TrimSpace(line) == "":
			out.WriteString("\n")
			continue
		case strings.HasPrefix(line, "~ "):
			d, err := time.ParseDuration(strings.TrimSpace(line[2:]))
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
			now = now.Add(d)
			out.WriteString(line + "\n")
			continue
		case strings.HasPrefix(line, "> "):
			in.Text = line[2:]
		case strings.HasPrefix(line, "* "):
			i, err := strconv.Atoi(strings.TrimSpace(line[2:]))
			if err != nil || i < 1 || i > len(buttons) {
				return nil, fmt.Errorf("line %d: no button %q on the last message (it has %d)", n, line[2:], len(buttons))
			}
			in.Data = buttons[i-1].Data
		default:
			continue // an answer line from the previous run: regenerated below
		}
		out.WriteString(line + "\n")
		in.LangHint = hint
		now = now.Add(StepTime)
		res, err := eng.Step(sess, in, now)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		sess = res.Session
		for _, r := range res.Replies {
			if res.Has(engine.EffectSubmit) {
				r.Fill(FakeRef, FakeCode)
			}
			writeReply(&out, r)
			if len(r.Buttons) > 0 {
				buttons = slices.Concat(r.Buttons...)
			}
		}
		for _, e := range res.Effects {
			writeEffect(&out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func writeReply(out *bytes.Buffer, r engine.Reply) {
	fmt.Fprintf(out, "< %s", r.Lang)
	if r.Edit {
		out.WriteString(" (edit)")
	}
	out.WriteString("\n")
	if r.Text != "" {
		for _, l := range strings.Split(r.Text, "\n") {
			out.WriteString(strings.TrimRight("| "+l, " ") + "\n")
		}
	}
	i := 0
	for _, row := range r.Buttons {
		for _, b := range row {
			i++
			fmt.Fprintf(out, "  [%d] %s\n", i, b.Label)
		}
	}
}

func writeEffect(out *bytes.Buffer, e engine.Effect) {
	fmt.Fprintf(out, "= %s", e.Kind)
	if e.Kind == engine.EffectSubmit {
		fmt.Fprintf(out, " %s rev %d lang %s", e.Flow, e.Revision, e.Lang)
		for _, a := range e.Answers {
			switch {
			case a.Skipped:
				fmt.Fprintf(out, " %s=(skipped)", a.Field)
			case a.Sensitive:
				fmt.Fprintf(out, " %s=%q", a.Field, a.Text)
			default:
				fmt.Fprintf(out, " %s=%s", a.Field, strings.Join(a.Values, ","))
			}
		}
	}
	out.WriteString("\n")
}

// Diff returns "" when the transcripts are equal, or the first differing line of each.
func Diff(want, got []byte) string {
	if bytes.Equal(want, got) {
		return ""
	}
	w := strings.Split(string(want), "\n")
	g := strings.Split(string(got), "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, a, b)
		}
	}
	return "transcripts differ"
}
