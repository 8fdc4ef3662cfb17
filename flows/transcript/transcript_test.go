package transcript_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/flows/library"
	"github.com/penahbot/penah/flows/transcript"
	"github.com/penahbot/penah/locales"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts with what the engine answers now")

func newEngine(t *testing.T) *engine.Engine {
	t.Helper()
	fs, err := library.Load()
	if err != nil {
		t.Fatal(err)
	}
	set, err := engine.CompileAll(fs)
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(locales.MustLoad(), set, library.Main)
}

// TestGolden replays every transcript under flows/testdata/transcripts. Run with -update after a
// deliberate change to a flow or a catalog, then read the diff before committing it.
func TestGolden(t *testing.T) {
	eng := newEngine(t)
	names, err := filepath.Glob("../testdata/transcripts/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no golden transcripts found")
	}
	for _, name := range names {
		t.Run(filepath.Base(name), func(t *testing.T) {
			want, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := transcript.Replay(eng, want)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(name, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if d := transcript.Diff(want, got); d != "" {
				t.Errorf("%s differs from the engine's answers (go test ./flows/transcript -update to accept):\n%s", name, d)
			}
		})
	}
}

func TestReplayRejectsMissingButton(t *testing.T) {
	eng := newEngine(t)
	if _, err := transcript.Replay(eng, []byte("> /start\n* 99\n")); err == nil {
		t.Fatal("pressing a button that does not exist must fail the replay")
	}
}

func TestDiffNamesTheFirstDifferentLine(t *testing.T) {
	if d := transcript.Diff([]byte("a\nb\n"), []byte("a\nb\n")); d != "" {
		t.Fatalf("equal transcripts: %q", d)
	}
	if d, want := transcript.Diff([]byte("a\nb\nc"), []byte("a\nx\nc")), "line 2:\n  want: b\n  got:  x"; d != want {
		t.Fatalf("got %q want %q", d, want)
	}
}
