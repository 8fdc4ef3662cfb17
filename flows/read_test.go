package flows

import (
	"fmt"
	"os"
	"sort"
	"testing"
)

func TestScratch(t *testing.T) {
	data, _ := os.ReadFile("library/intake.yaml")
	f, err := Read("intake.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for k := range f.lines {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks[:60] {
		fmt.Println(k, f.lines[k])
	}
	for _, p := range Validate(f) {
		fmt.Println(p)
	}
	for _, src := range []string{"spec: 1\nexpire_after: 72h   # c\n", "spec: 1\nexpire_after: -1h\n", "spec: 1\nexpire_after: soon\n", "spec: 1\nfoo: 1\n", "spec: 1\nid: [\n", "spec: 1\nrevision: abc\n", "spec: 1\nstates:\n  - id: a\n    next: {to: b}\n", "spec: 1\nstates:\n  - id: a\n    next:\n      - to: b\n        bogus: 1\n", "spec: 1\nstates:\n  - id: a\n    next:\n      - to: b\n        when: {field: x, bogus: 1}\n","spec: 1\nstates:\n  - id: a\n    choices: [null]\n","spec: 1\nstates:\n  - id: a\n    next:\n"} {
		f, err := Read("x.yaml", []byte(src))
		fmt.Printf("%q -> %v", src, err)
		if f != nil {
			fmt.Printf(" %v %+v", f.ExpireAfter, f.States)
		}
		fmt.Println()
	}
}
