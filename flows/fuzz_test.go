package flows

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"
)

// FuzzRead feeds arbitrary bytes to Read and whatever it accepts to Validate: neither may panic
// or hang, and every problem must point into the file. Read must also agree with the reflection
// decoder it replaced (see decode_test.go).
func FuzzRead(f *testing.F) {
	for _, name := range libraryFiles(f) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(baseFlow))
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Go's fuzzer has no time limit per input: a hang would only stall the workers. Crash
		// instead, so that the input is saved under testdata/fuzz.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				panic(fmt.Sprintf("Read or Validate hangs on %q", data))
			}
		}()
		compareWithReference(t, data)
		fl, err := Read("fuzz.yaml", data)
		if err != nil {
			if fl != nil {
				t.Fatalf("Read returned a flow and an error: %v", err)
			}
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, p := range Validate(fl) {
			if p.File != "fuzz.yaml" || p.Line < 0 || p.Line > lines {
				t.Errorf("problem outside the file (%d lines): %s", lines, p)
			}
		}
		for _, s := range fl.States {
			if s.Kind() == 0 && len(s.Choices) == 0 && s.Input == "" && !s.Submit && !s.End {
				t.Errorf("state %q has no keys of any kind but no kind", s.ID)
			}
		}
	})
}

// fuzzSeeds are small broken or odd inputs that once reached corners of the reader or validator.
var fuzzSeeds = []string{
	"",
	"spec: 1\n",
	"spec: 2\n",
	"spec: -1\n",
	"spec: 1\nid: [\n",
	"- a\n",
	"spec: 1\nstates:\n  - null\n",
	"spec: 1\nstates:\n  - id: a\n    choices: [null]\n",
	"spec: 1\nstart: a\nstates:\n  - id: a\n    next:\n      - when: {all: [null]}\n        to: a\n      - to: a\n",
	"spec: 1\nstates:\n  - id: a\n    next: !!str b\n",
	"spec: 1\nlanguages: !!str en\n",
	"spec: 1\nx: &a [b]\nlanguages: *a\n",
	"spec: 1\nexpire_after: -1h\nresume_after: soon\n",
	"\ufeffspec: 1\r\nid: t\r\n",
	"spec: 1\nid: t\n---\nspec: 1\n",
	"spec: 1\nstates:\n  - id: a\n    input: ext\n  - id: a\n  - id: a\n",
	"spec: 1\nid: t\nrevision: 1\nlanguages: [en]\nbase: en\nstart: a\nstates:\n  - id: a\n    say: {en: \"{ref} {x}\"}\n    next: [{when: {field: f, is: [x], not: [y]}, to: a}, {to: b}]\n  - id: b\n    input: number\n    min: 5\n    max: 1\n    choices: [{id: c}]\n",
}
