package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/store/redisstore/redistest"
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

// buildPenah builds the real binary once per test.
func buildPenah(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "penah")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// penahCmd runs the binary with stdin and returns stdout and stderr.
func penahCmd(t *testing.T, bin, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "PENAH_MASTER_KEY=", "PENAH_DATA=")
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

var caseLine = regexp.MustCompile(`(?m)^case: ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})$`)

// TestChatBinaryEndToEnd builds the real binary and drives `penah chat` through stdin, in Sorani,
// to a submitted case; then checks that nothing typed rests in the clear anywhere in the data
// directory or the logs, that the case opens for the team and for escrow, that keys rotate
// without losing it, and that after /forget nobody can open it.
func TestChatBinaryEndToEnd(t *testing.T) {
	bin := buildPenah(t)
	data := filepath.Join(t.TempDir(), "data")
	marker := "CANARY-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-q7Zx"
	// Picker (ckb suggested first) · safe · consent · not in danger · services: medical, done ·
	// topic: forced work · age: adult · governorate by typed Sorani name · out of camp · woman ·
	// phone call · a phone number in Arabic-Indic digits · safe times with the marker · share:
	// health, done · send.
	input := strings.Join([]string{"1", "1", "1", "3", "1", "10", "4", "2", "دهۆک", "2", "1", "2", "٠٧٥٠١٢٣٤٥٦٧", "دوای کاتژمێر ٦ " + marker, "1", "9", "1"}, "\n") + "\n"
	out, stderr, err := penahCmd(t, bin, input, "chat", "--data", data, "--lang-hint", "ckb", "--bidi", "logical")
	if err != nil {
		t.Fatalf("chat: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
	logs := stderr
	m := caseLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no case line in output:\n%s", out)
	}
	ref := m[1]
	for _, want := range []string{"language: ckb", "Governorate (governorate): Duhok", "+9647501234567", "Help wanted (services): Medical care", marker} {
		if !strings.Contains(out, want) {
			t.Errorf("officer view lacks %q:\n%s", want, out)
		}
	}
	if want := "penah: created development keys in " + data + " (not for real cases; see `penah keys init`)\n"; stderr != want {
		t.Errorf("stderr of a first run: %q, want the one line %q", stderr, want)
	}

	// The case opens for the team (server-held key) and for escrow.
	out, stderr, err = penahCmd(t, bin, "", "cases", "open", ref, "--data", data)
	logs += stderr
	if err != nil || !strings.Contains(out, marker) {
		t.Fatalf("cases open: %v\n%s%s", err, out, stderr)
	}
	passFile := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(passFile, []byte(devPassphrase+"\n"), 0o600)
	escrow := filepath.Join(data, escrowFile)
	out, stderr, err = penahCmd(t, bin, "", "cases", "open", ref, "--data", data, "--identity", escrow, "--passphrase-file", passFile)
	logs += stderr
	if err != nil || !strings.Contains(out, marker) {
		t.Fatalf("cases open with escrow: %v\n%s%s", err, out, stderr)
	}

	// Rotation: a new master key and team key; the old case still opens, and after rewrap too.
	for _, args := range [][]string{{"keys", "rotate", "--data", data}, {"keys", "rewrap", "--data", data}} {
		out, stderr, err = penahCmd(t, bin, "", args...)
		logs += stderr
		if err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, stderr)
		}
	}
	if !strings.Contains(out, "rewrapped 1 case(s)") {
		t.Fatalf("rewrap: %s", out)
	}
	out, _, _ = penahCmd(t, bin, "", "keys", "list", "--data", data)
	if strings.Count(out, "master ") != 2 || !strings.Contains(out, "escrow ") {
		t.Fatalf("keys list after rotation:\n%s", out)
	}
	out, stderr, err = penahCmd(t, bin, "", "cases", "open", ref, "--data", data)
	logs += stderr
	if err != nil || !strings.Contains(out, marker) {
		t.Fatalf("cases open after rotation: %v\n%s%s", err, out, stderr)
	}

	out, _, err = penahCmd(t, bin, "", "cases", "retention", "--data", data)
	if err != nil || out != "shredded 0 case(s) closed more than 90 days ago\n" {
		t.Fatalf("retention must not touch an open case: %v %q", err, out)
	}

	// Canary: the marker, in any common encoding, is nowhere in the data directory or the logs.
	scanForCanary(t, data, logs, marker)

	// /forget from a new conversation of the same person shreds the case: nobody opens it.
	out, stderr, err = penahCmd(t, bin, "/forget\n1\n", "chat", "--data", data)
	if err != nil {
		t.Fatalf("forget: %v\n%s%s", err, out, stderr)
	}
	out, _, err = penahCmd(t, bin, "", "cases", "open", ref, "--data", data, "--identity", escrow, "--passphrase-file", passFile)
	if err != nil || !strings.Contains(out, "was shredded") || strings.Contains(out, marker) || strings.Contains(out, "answers:") {
		t.Fatalf("after /forget: %v\n%s", err, out)
	}
	scanForCanary(t, data, "", marker)
}

// scanForCanary fails if marker appears in any file under dir or in logs: as is, as UTF-16 (both
// byte orders), base64 (standard and URL alphabets, at every alignment) or hex.
func scanForCanary(t *testing.T, dir, logs, marker string) {
	t.Helper()
	needles := map[string][]byte{"plain": []byte(marker), "hex": []byte(hex.EncodeToString([]byte(marker))), "HEX": []byte(strings.ToUpper(hex.EncodeToString([]byte(marker))))}
	var le, be []byte
	for _, r := range marker {
		le = append(le, byte(r), 0)
		be = append(be, 0, byte(r))
	}
	needles["utf16le"], needles["utf16be"] = le, be
	for pad := 0; pad < 3; pad++ {
		src := append(bytes.Repeat([]byte{0}, pad), marker...)
		for name, enc := range map[string]*base64.Encoding{"base64": base64.StdEncoding, "base64url": base64.URLEncoding} {
			full := enc.EncodeToString(src)
			from, to := 4*((pad+2)/3), 4*(len(src)/3) // the part that depends on the marker alone
			needles[name+strconv.Itoa(pad)] = []byte(full[from:to])
		}
	}
	check := func(where string, content []byte) {
		for name, n := range needles {
			if bytes.Contains(content, n) {
				t.Errorf("the answer is readable (%s) in %s", name, where)
			}
		}
	}
	check("the logs", []byte(logs))
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		check(path, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
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

// TestKeysInitAndSealedOnlyTeam: an admin initialises keys (no development keys), makes the
// default team sealed-only, and then the server alone cannot open a new case; the team's key
// file can.
func TestKeysInitAndSealedOnlyTeam(t *testing.T) {
	data := t.TempDir()
	pass := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pass, []byte("a long test passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "", "keys", "init", "--data", data, "--passphrase-file", pass)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"master key: " + filepath.Join(data, "master.key"), "escrow recovery file: " + filepath.Join(data, escrowFile), "Move the escrow recovery file offline"} {
		if !strings.Contains(out, want) {
			t.Errorf("keys init output lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := runCmd(t, "", "keys", "init", "--data", data, "--passphrase-file", pass); err == nil {
		t.Fatal("a second keys init must refuse")
	}
	out, _, err = runCmd(t, "", "keys", "team", "duhok", "--data", data)
	if err != nil || !strings.Contains(out, "team duhok: key ") || !strings.Contains(out, "held by the server") {
		t.Fatalf("keys team duhok: %v\n%s", err, out)
	}
	teamKey := filepath.Join(t.TempDir(), "default-team.penahkey")
	out, _, err = runCmd(t, "", "keys", "team", "default", "--sealed-only", "--identity-out", teamKey, "--data", data, "--passphrase-file", pass)
	if err != nil || !strings.Contains(out, "sealed-only") {
		t.Fatalf("keys team: %v\n%s", err, out)
	}
	// A chat now: the server cannot show the answers itself, and says how to open them.
	input := "1\n1\n1\n3\n9\n9\n5\n21\n5\n5\n2\n0750 123 4567\nsafe after six\n8\n1\n"
	out, stderr, err := runCmd(t, input, "chat", "--data", data, "--lang-hint", "en")
	if err != nil || strings.Contains(stderr, "created development keys") || !strings.Contains(out, "sealed-only") || strings.Contains(out, "answers:") {
		t.Fatalf("chat with a sealed-only team: %v\n%s\n%s", err, out, stderr)
	}
	out, _, err = runCmd(t, "", "cases", "list", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.Fields(out)[0]
	if _, _, err := runCmd(t, "", "cases", "open", ref, "--data", data); err == nil || !strings.Contains(err.Error(), "no key here opens it") {
		t.Fatalf("open without the team key: %v", err)
	}
	out, _, err = runCmd(t, "", "cases", "open", ref, "--data", data, "--identity", teamKey, "--passphrase-file", pass)
	if err != nil || !strings.Contains(out, "safe after six") {
		t.Fatalf("open with the team key: %v\n%s", err, out)
	}
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("not the passphrase at all\n"), 0o600)
	if _, _, err := runCmd(t, "", "cases", "open", ref, "--data", data, "--identity", teamKey, "--passphrase-file", wrong); err == nil {
		t.Fatal("opened with a wrong passphrase")
	}
}

func runEnv(t *testing.T, env map[string]string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

// TestStoreCommandsOnBothEngines: a conversation on each engine, then store check and audit verify.
func TestStoreCommandsOnBothEngines(t *testing.T) {
	url, stop, _ := redistest.Start(t)
	defer stop()
	for name, env := range map[string]map[string]string{
		"bolt":  {"PENAH_DATA": t.TempDir()},
		"redis": {"PENAH_DATA": t.TempDir(), "PENAH_STORE": url},
	} {
		t.Run(name, func(t *testing.T) {
			input := "1\n1\n1\n3\n9\n9\n5\n21\n5\n5\n4\n8\n1\n"
			out, stderr, err := runEnv(t, env, input, "chat", "--lang-hint", "en")
			if err != nil || !caseLine.MatchString(out) {
				t.Fatalf("chat: %v\n%s\n%s", err, out, stderr)
			}
			out, _, err = runEnv(t, env, "", "store", "check")
			if err != nil {
				t.Fatalf("store check: %v\n%s", err, out)
			}
			for _, want := range []string{"engine: " + name, "cases: 1", "audit entries: 1, chain intact"} {
				if !strings.Contains(out, want) {
					t.Errorf("store check lacks %q:\n%s", want, out)
				}
			}
			out, _, err = runEnv(t, env, "", "audit", "verify")
			if err != nil || out != "audit chain intact: 1 entries\n" {
				t.Fatalf("audit verify: %v %q", err, out)
			}
		})
	}
}

// TestStoreMigrateBoltToRedis: a populated bolt file moves to Redis; a second run changes nothing;
// the case opens from Redis with the same keys; the audit chain verifies on both.
func TestStoreMigrateBoltToRedis(t *testing.T) {
	url, stop, _ := redistest.Start(t)
	defer stop()
	data := t.TempDir()
	bolt := map[string]string{"PENAH_DATA": data}
	input := "1\n1\n1\n3\n9\n9\n5\n21\n5\n5\n2\n0750 123 4567\nafter nine\n8\n1\n"
	var refs []string
	for i := 0; i < 3; i++ {
		out, stderr, err := runEnv(t, bolt, input, "chat", "--lang-hint", "en")
		if err != nil {
			t.Fatalf("chat: %v\n%s", err, stderr)
		}
		refs = append(refs, caseLine.FindStringSubmatch(out)[1])
	}
	from := "bolt://" + filepath.Join(data, dbFile)
	for run := 1; run <= 2; run++ {
		out, _, err := runEnv(t, bolt, "", "store", "migrate", "--from", from, "--to", url)
		if err != nil {
			t.Fatalf("migrate run %d: %v\n%s", run, err, out)
		}
		for _, want := range []string{"case     copied 3, target holds 3", "audit    copied 3, target holds 3", "migrated; audit chain intact on the target (3 entries)"} {
			if !strings.Contains(out, want) {
				t.Errorf("migrate run %d lacks %q:\n%s", run, want, out)
			}
		}
	}
	redis := map[string]string{"PENAH_DATA": data, "PENAH_STORE": url}
	for _, ref := range refs {
		out, _, err := runEnv(t, redis, "", "cases", "open", ref)
		if err != nil || !strings.Contains(out, "after nine") {
			t.Fatalf("case %s from Redis: %v\n%s", ref, err, out)
		}
	}
	for _, env := range []map[string]string{bolt, redis} {
		if out, _, err := runEnv(t, env, "", "audit", "verify"); err != nil || out != "audit chain intact: 3 entries\n" {
			t.Fatalf("audit verify: %v %q", err, out)
		}
	}
}

func TestBenchStoreRunsOnBothEngines(t *testing.T) {
	url, stop, _ := redistest.Start(t)
	defer stop()
	for _, args := range [][]string{
		{"bench", "store", "--duration", "100ms", "--callers", "1,4"},
		{"bench", "store", "--store", url, "--duration", "100ms", "--callers", "2", "--workloads", "turn,claim"},
	} {
		out, _, err := runCmd(t, "", args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if !regexp.MustCompile(`(?m)^turn +\d+ +\d+ `).MatchString(out) || !strings.Contains(out, "p99") {
			t.Fatalf("%v: no results:\n%s", args, out)
		}
	}
	if _, _, err := runCmd(t, "", "bench", "store", "--callers", "0"); err == nil {
		t.Fatal("--callers 0 accepted")
	}
}
