// Command citest runs Penah's whole test suite, the same way on a developer's machine and in CI:
// formatting, vet, the race-enabled tests, a short run of every fuzz target and the flow checks.
// It is the README's test command and what .ci/run executes.
//
//	go run ./cmd/citest              # everything
//	go run ./cmd/citest -fuzztime 2m # fuzz longer
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// step is one part of the suite.
type step struct {
	name string
	args []string
	// emptyOutput asks that the command print nothing (gofmt -l).
	emptyOutput bool
	// fuzz marks a fuzz run, retried once after an engine stall (fuzzStall).
	fuzz bool
}

func main() {
	fuzztime := flag.Duration("fuzztime", 5*time.Second, "how long each fuzz target runs")
	flag.Parse()

	if err := ensureRedis(); err != nil {
		fmt.Fprintln(os.Stderr, "citest:", err)
		os.Exit(1)
	}

	steps := []step{
		{name: "gofmt", args: []string{"gofmt", "-l", "."}, emptyOutput: true},
		{name: "vet", args: []string{"go", "vet", "./..."}},
		{name: "test", args: []string{"go", "test", "-race", "-count=1", "./..."}},
		{name: "flows check", args: []string{"go", "run", "./cmd/penah", "flows", "check"}},
		{name: "flows test", args: []string{"go", "run", "./cmd/penah", "flows", "test"}},
	}
	targets, err := fuzzTargets(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "citest:", err)
		os.Exit(1)
	}
	for _, t := range targets {
		steps = append(steps, step{
			name: "fuzz " + t.name,
			args: []string{"go", "test", "-run=^$", "-fuzz=^" + t.name + "$", "-fuzztime=" + fuzztime.String(), "./" + t.dir},
			fuzz: true,
		})
	}

	passed, failed := 0, 0
	for _, s := range steps {
		fmt.Printf("=== %s: %s\n", s.name, strings.Join(s.args, " "))
		cmd := exec.Command(s.args[0], s.args[1:]...)
		cmd.Stderr = os.Stderr
		var err error
		if s.emptyOutput {
			var out []byte
			out, err = cmd.Output()
			if err == nil && len(out) > 0 {
				os.Stdout.Write(out)
				err = fmt.Errorf("unexpected output")
			}
		} else {
			var out bytes.Buffer
			cmd.Stdout = io.MultiWriter(os.Stdout, &out)
			err = cmd.Run()
			if err != nil && s.fuzz && fuzzStall(out.String()) {
				// Go's fuzzing engine sometimes ends a short run with "context deadline
				// exceeded" and no failing input when a worker stalls at the deadline (seen on
				// a busy 2-core machine). That is no finding: run the target once more, and
				// fail only if it fails again.
				fmt.Printf("=== %s: the engine stalled without a failing input; running it again\n", s.name)
				again := exec.Command(s.args[0], s.args[1:]...)
				again.Stdout, again.Stderr = os.Stdout, os.Stderr
				err = again.Run()
			}
		}
		if err != nil {
			failed++
			fmt.Printf("--- FAIL %s: %v\n", s.name, err)
			continue
		}
		passed++
	}
	fmt.Printf("citest: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

// fuzzStall reports whether a failed fuzz run's output is the engine's deadline stall rather than
// a finding (a finding always writes its failing input).
func fuzzStall(out string) bool {
	return strings.Contains(out, "context deadline exceeded") && !strings.Contains(out, "Failing input written")
}

// ensureRedis makes sure redis-server is on PATH for the Redis engine's tests, which start their
// own server on a free port (or use PENAH_TEST_REDIS). On a machine without it, it installs
// Debian's package when it can (as root, with apt-get); under CI=true a missing server is an
// error, since those tests must not skip there.
func ensureRedis() error {
	if os.Getenv("PENAH_TEST_REDIS") != "" {
		return nil
	}
	if _, err := exec.LookPath("redis-server"); err == nil {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err == nil && os.Geteuid() == 0 {
		fmt.Println("=== installing redis-server (Debian package) for the Redis engine's tests")
		for _, args := range [][]string{{"apt-get", "update", "-qq"}, {"apt-get", "install", "-y", "-qq", "redis-server"}} {
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("installing redis-server: %w", err)
			}
		}
		return nil
	}
	if os.Getenv("CI") == "true" {
		return fmt.Errorf("redis-server is not installed and cannot be installed here; the Redis tests must not skip in CI")
	}
	fmt.Println("=== redis-server not found: the Redis engine's tests will skip (install Debian's redis-server)")
	return nil
}

type fuzzTarget struct{ dir, name string }

var fuzzRe = regexp.MustCompile(`^func (Fuzz\w+)\(\w+ \*testing\.F\)`)

// fuzzTargets finds every fuzz function in the module's test files.
func fuzzTargets(root string) ([]fuzzTarget, error) {
	var out []fuzzTarget
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata" || d.Name() == "penah-data") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if m := fuzzRe.FindStringSubmatch(sc.Text()); m != nil {
				out = append(out, fuzzTarget{dir: filepath.Dir(path), name: m[1]})
			}
		}
		return sc.Err()
	})
	sort.Slice(out, func(i, j int) bool { return out[i].dir+out[i].name < out[j].dir+out[j].name })
	return out, err
}
