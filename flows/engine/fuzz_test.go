package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/penahbot/penah/flows/library"
	"github.com/penahbot/penah/locales"
)

// FuzzStep plays arbitrary conversations against the default flows: each line of the input is
// either typed text or, as "#N", a press of button N of the last message (N may be stale or out
// of range). Whatever a person sends, a turn must never fail, and the session must always be
// somewhere the flow knows.
func FuzzStep(f *testing.F) {
	fs, err := library.Load()
	if err != nil {
		f.Fatal(err)
	}
	set, err := CompileAll(fs)
	if err != nil {
		f.Fatal(err)
	}
	eng := New(locales.MustLoad(), set, library.Main)
	for _, seed := range []string{
		"/start\n#1\n#1\n#1\n#3\n#1\n#10\n#2\n",
		"/start info\n#2\n#1\n#9\n",
		"hello\n#1\n/back\n/back\n/language\n#3\n/forget\n#2\n#1\n",
		"/start\n#4\n#1\n#1\n#1\n#1\n#1\n#1\n#1\n#1\n#1\n#2\n12ab\n٠٧٥٠١٢٣٤٥٦٧\n" + strings.Repeat("x", 300) + "\n",
		"/exit\n/start@PenahBot x\n#5\nخروج\n",
		"\u202e/start\n\x00\n#0\n#-1\n#999999999999\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, script string) {
		var (
			s       Session
			buttons []Button
			now     = t0
		)
		for i, line := range strings.Split(script, "\n") {
			if i > 200 {
				break
			}
			in := Input{Text: line, LangHint: "ar"}
			if n, ok := strings.CutPrefix(line, "#"); ok && len(buttons) > 0 {
				k := 0
				for _, c := range n {
					k = (k*10 + int(c)) % 1000
				}
				in = Input{Data: buttons[k%len(buttons)].Data}
			}
			now = now.Add(time.Duration(len(line)) * time.Minute) // long lines also mean long pauses
			res, err := eng.Step(s, in, now)
			if err != nil {
				t.Fatalf("turn %d (%q): %v", i, line, err)
			}
			s = res.Session
			if s.Phase == PhaseFlow {
				c, ok := set.Get(s.Flow, s.Revision)
				if !ok {
					t.Fatalf("session on unknown flow %s rev %d", s.Flow, s.Revision)
				}
				if _, ok := c.Flow.State(s.State); !ok {
					t.Fatalf("session at unknown state %q", s.State)
				}
			}
			if len(res.Replies) == 0 {
				t.Fatalf("turn %d (%q) answered nothing", i, line)
			}
			for _, r := range res.Replies {
				if strings.TrimSpace(r.Text) == "" {
					t.Fatalf("turn %d (%q): a reply with no text (Telegram refuses those)", i, line)
				}
				if len(r.Buttons) > 0 {
					buttons = buttons[:0]
					for _, row := range r.Buttons {
						buttons = append(buttons, row...)
					}
				}
			}
		}
	})
}
