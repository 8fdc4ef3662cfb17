package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/flows/library"
	"github.com/penahbot/penah/flows/transcript"
	"github.com/penahbot/penah/locales"
)

// DefaultTranscripts is where `penah flows test` looks for golden transcripts.
const DefaultTranscripts = "flows/testdata/transcripts"

func runFlows(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "check":
		return flowsCheck(args[1:], stdout)
	case "graph":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: penah flows graph FILE|ID")
			return errUsage
		}
		return flowsGraph(args[1], stdout)
	case "test":
		dir := DefaultTranscripts
		if len(args) > 2 {
			fmt.Fprintln(stderr, "usage: penah flows test [DIR]")
			return errUsage
		}
		if len(args) == 2 {
			dir = args[1]
		}
		return flowsTest(dir, stdout)
	}
	fmt.Fprintf(stderr, "penah flows: unknown command %q\n", args[0])
	return errUsage
}

// readFlows reads the named files, or the built-in flows when none are named.
func readFlows(files []string) ([]*flows.Flow, error) {
	if len(files) == 0 {
		return library.Load()
	}
	var out []*flows.Flow
	for _, name := range files {
		data, err := readLimited(name, flows.MaxFileBytes)
		if err != nil {
			return nil, err
		}
		f, err := flows.Read(name, data)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// readLimited reads a file, refusing one larger than limit without reading all of it.
func readLimited(name string, limit int64) ([]byte, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w (more than %d bytes)", name, flows.ErrTooLarge, limit)
	}
	return data, nil
}

func flowsCheck(files []string, stdout io.Writer) error {
	fs, err := readFlows(files)
	if err != nil {
		return err
	}
	failed := false
	for _, f := range fs {
		ps := flows.Validate(f)
		for _, p := range ps {
			fmt.Fprintln(stdout, p)
		}
		nerr := len(ps.Errors())
		if nerr > 0 {
			failed = true
			fmt.Fprintf(stdout, "%s: %d error(s), %d warning(s): not publishable\n", f.File, nerr, len(ps)-nerr)
		} else {
			fmt.Fprintf(stdout, "%s: ok: flow %s revision %d, %d states, %d warning(s)\n", f.File, f.ID, f.Revision, len(f.States), len(ps))
		}
	}
	if failed {
		return errReported
	}
	return nil
}

func flowsGraph(arg string, stdout io.Writer) error {
	var f *flows.Flow
	if _, err := os.Stat(arg); err == nil {
		fs, err := readFlows([]string{arg})
		if err != nil {
			return err
		}
		f = fs[0]
	} else {
		fs, err := library.Load()
		if err != nil {
			return err
		}
		for _, x := range fs {
			if string(x.ID) == arg {
				f = x
			}
		}
		if f == nil {
			return fmt.Errorf("no flow file or built-in flow named %q", arg)
		}
	}
	_, err := io.WriteString(stdout, flows.Mermaid(f))
	return err
}

// newEngine compiles the built-in flows into an engine.
func newEngine() (*engine.Engine, *engine.Set, *locales.Catalog, error) {
	cat, err := locales.Load()
	if err != nil {
		return nil, nil, nil, err
	}
	fs, err := library.Load()
	if err != nil {
		return nil, nil, nil, err
	}
	set, err := engine.CompileAll(fs)
	if err != nil {
		return nil, nil, nil, err
	}
	return engine.New(cat, set, library.Main), set, cat, nil
}

func flowsTest(dir string, stdout io.Writer) error {
	eng, _, _, err := newEngine()
	if err != nil {
		return err
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("no transcripts (*.txt) in %s", dir)
	}
	sort.Strings(names)
	var failed []string
	for _, name := range names {
		want, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		got, err := transcript.Replay(eng, want)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if d := transcript.Diff(want, got); d != "" {
			failed = append(failed, name)
			fmt.Fprintf(stdout, "FAIL %s\n%s\n", name, d)
			continue
		}
		fmt.Fprintf(stdout, "ok   %s\n", name)
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", len(names)-len(failed), len(failed))
	if len(failed) > 0 {
		return errors.Join(errReported)
	}
	return nil
}
