package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func runCmd(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(string) string { return "" }
	err := run(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func TestFlowsCheckAcceptsShippedFlows(t *testing.T) {
	out, _, err := runCmd(t, "", "flows", "check")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"flows/library/intake.yaml: ok", "flows/library/info.yaml: ok", "translation not yet reviewed by a native speaker"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestFlowsCheckNamesTheProblem(t *testing.T) {
	data, err := os.ReadFile("../../flows/library/intake.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Break one thing: the consent state's agree choice leads to a state that does not exist.
	broken := strings.Replace(string(data), "next: danger", "next: dangr", 1)
	if broken == string(data) {
		t.Fatal("test needs the intake's consent to lead to danger")
	}
	path := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	line := 1 + strings.Count(broken[:strings.Index(broken, "next: dangr")], "\n")
	out, _, err := runCmd(t, "", "flows", "check", path)
	if !errors.Is(err, errReported) || exitCode(err) == 0 {
		t.Fatalf("check of a broken flow must fail, got %v", err)
	}
	want := path + ":" + strconv.Itoa(line) + `: error: state "consent": unknown target state "dangr"`
	if !strings.Contains(out, want) {
		t.Fatalf("want %q in:\n%s", want, out)
	}
	if !strings.Contains(out, "not publishable") {
		t.Fatalf("summary line missing:\n%s", out)
	}
}

func TestFlowsGraphIsMermaid(t *testing.T) {
	out, _, err := runCmd(t, "", "flows", "graph", "intake")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"flowchart TD", "start((start)) --> safe_now", `consent -- "agree" --> danger`, "topic is sexual_violence"} {
		if !strings.Contains(out, want) {
			t.Errorf("graph lacks %q", want)
		}
	}
}

func TestFlowsTestReplaysTranscripts(t *testing.T) {
	out, _, err := runCmd(t, "", "flows", "test", "../../flows/testdata/transcripts")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^\d+ passed, 0 failed$`).MatchString(out) {
		t.Fatalf("no summary line:\n%s", out)
	}
	// A transcript that no longer matches fails and says where.
	dir := t.TempDir()
	src, err := os.ReadFile("../../flows/testdata/transcripts/en-declined.txt")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(src), "| Is it safe", "| Was it safe", 1)
	if err := os.WriteFile(filepath.Join(dir, "x.txt"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCmd(t, "", "flows", "test", dir)
	if err == nil || !strings.Contains(out, "want: | Was it safe") {
		t.Fatalf("a changed transcript must fail: %v\n%s", err, out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"flows"}, {"flows", "graph"}, {"chat", "--nope"}} {
		_, _, err := runCmd(t, "", args...)
		if exitCode(err) != 2 {
			t.Errorf("%v: want usage error, got %v", args, err)
		}
	}
}

// TestChatBinaryEndToEnd builds the real binary and drives `penah chat` through stdin, in Sorani,
// to a submitted case, then checks the case survived in the data directory.
func TestChatBinaryEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "penah")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	// Picker (ckb suggested first) · safe · consent · not in danger · services: medical, done ·
	// topic: forced work · age: adult · governorate by typed Sorani name · out of camp · woman ·
	// phone call · a phone number in Arabic-Indic digits · safe times · share: health, done · send.
	input := strings.Join([]string{"1", "1", "1", "3", "1", "10", "4", "2", "دهۆک", "2", "1", "2", "٠٧٥٠١٢٣٤٥٦٧", "دوای کاتژمێر ٦", "1", "9", "1"}, "\n") + "\n"
	cmd := exec.Command(bin, "chat", "--data", data, "--lang-hint", "ckb", "--bidi", "logical")
	cmd.Stdin = strings.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chat: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	m := regexp.MustCompile(`(?m)^case: ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no case line in output:\n%s", out)
	}
	for _, want := range []string{"language: ckb", "Governorate (governorate): Duhok", "+9647501234567", "Help wanted (services): Medical care"} {
		if !strings.Contains(out, want) {
			t.Errorf("officer view lacks %q:\n%s", want, out)
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("unexpected stderr: %s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(data, "penah.db")); err != nil {
		t.Fatalf("no database in the data directory: %v", err)
	}
	// A second run with /exit ends at once and leaves the case in place.
	cmd = exec.Command(bin, "chat", "--data", data)
	cmd.Stdin = strings.NewReader("/exit\nthis line is never read\n")
	out2, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out2)
	}
	if strings.Contains(string(out2), "this line is never read") {
		t.Fatal("chat went on after /exit")
	}
}

func TestChatInfoFlowAndResume(t *testing.T) {
	data := t.TempDir()
	out, _, err := runCmd(t, "4\n1\n", "chat", "--data", data, "--flow", "info")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Emergency numbers") || strings.Contains(out, "case:") {
		t.Fatalf("info flow:\n%s", out)
	}
	// Start the intake, stop at the safety question, then resume where it stopped.
	if _, _, err := runCmd(t, "4\n", "chat", "--data", data); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCmd(t, "1\n", "chat", "--data", data, "--resume")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "Please choose your language") || !strings.Contains(out, "Before we start") {
		t.Fatalf("--resume should continue at the safety question:\n%s", out)
	}
}
