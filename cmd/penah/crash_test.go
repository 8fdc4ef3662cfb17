package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/penahbot/penah/bot/telegramtest"
	"github.com/penahbot/penah/locales"
)

// The crash test: `penah serve` as a real process, killed with SIGKILL at random moments while
// thousands of updates flow, must end with every chat where its updates lead, no update lost, no
// case created twice, an intact audit chain, and every chat's replies in order (a reply may be
// sent twice around a kill: the outbox is at-least-once, see bot/sender.go).
const (
	crashUpdates  = 2000 // at least this many updates per mode
	crashKills    = 10   // SIGKILLs per mode
	crashFeedTick = 25 * time.Millisecond
	crashFeedMax  = 20               // updates sent per tick at most (10 on average: ~400/s)
	crashFinish   = 60 * time.Second // how long the last run may take to catch up
	crashStall    = 15 * time.Second // how long it may go without progress
)

// crashScriptNames are the golden transcripts the chats follow, in every language; the exit
// scripts are left out (a clear deletes messages, which a replay may repeat), and so are those
// that let time pass.
var crashScriptNames = []string{"immediate-danger", "sexual-violence-medical", "skip-everything", "back-twice-language",
	"invalid-answers", "declined", "info"}

var crashLangs = []string{"en", "ar", "ckb", "kmr"}

// crashScript is a golden transcript turned into texts that can be typed without reading the
// bot's replies, and the replies the chat must get, in order.
type crashScript struct {
	name    string
	hint    string
	inputs  []string
	replies []string // normalized (normalizeText), as the golden has them
	submits bool
}

var crashButtonRE = regexp.MustCompile(`^\s+\[(\d+)\] (.*)$`)

// readCrashScript turns a golden transcript into a typed script: "> text" is sent as is and
// "* N" as the text that does what pressing button N does. The engine reads a typed number as
// the Nth option of a question or of the language picker; the buttons after the options (Back,
// Skip, Done, Exit, Start again) are not numbered options, so they become their commands. A
// multi-choice tick typed rather than pressed is answered with a new message instead of an edit,
// with the same text.
func readCrashScript(t *testing.T, cat *locales.Catalog, name string) crashScript {
	t.Helper()
	hint, steps := readGolden(t, name)
	s := crashScript{name: name, hint: hint}
	data, err := os.ReadFile(filepath.Join("..", "..", "flows", "testdata", "transcripts", name))
	if err != nil {
		t.Fatal(err)
	}
	// The buttons of the newest reply that had buttons, before each step, and its language.
	type keyboard struct {
		lang   locales.Lang
		labels []string
	}
	var (
		cur, last keyboard
		before    []keyboard
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "< "):
			code, _, _ := strings.Cut(strings.TrimPrefix(line, "< "), " ")
			lang, ok := locales.Parse(code)
			if !ok {
				t.Fatalf("%s: unknown reply language %q", name, code)
			}
			cur = keyboard{lang: lang}
		case strings.HasPrefix(line, "> "), strings.HasPrefix(line, "* "):
			before = append(before, last)
		default:
			if m := crashButtonRE.FindStringSubmatch(line); m != nil {
				if n, _ := strconv.Atoi(m[1]); n != len(cur.labels)+1 {
					t.Fatalf("%s: button [%s] out of sequence", name, m[1])
				}
				cur.labels = append(cur.labels, m[2])
				last = cur
			}
		}
	}
	if len(before) != len(steps) {
		t.Fatalf("%s: %d inputs but %d steps", name, len(before), len(steps))
	}
	for i, st := range steps {
		if exiting(st) {
			t.Fatalf("%s:%d: scripts that clear the chat are not used in the crash test", name, st.line)
		}
		for _, e := range st.effects {
			if strings.HasPrefix(e, "submit ") {
				s.submits = true
			}
		}
		s.replies = append(s.replies, st.replies...)
		if st.text != "" {
			s.inputs = append(s.inputs, st.text)
			continue
		}
		kb := before[i]
		if st.button < 1 || st.button > len(kb.labels) {
			t.Fatalf("%s:%d: button %d of %d", name, st.line, st.button, len(kb.labels))
		}
		s.inputs = append(s.inputs, crashTyped(cat, kb.lang, kb.labels, st.button))
	}
	return s
}

// crashTyped is what to type for pressing button n (1-based) of a keyboard. The options of a
// question come first and a typed number picks them; the buttons the engine adds after them (Back,
// Skip, Done, in one row, then Exit) are commands. A flow may have an option labelled like one of
// those (the info menu's "Done"), so a Done label counts as the engine's only right after its Back
// or Skip, as in every multiple-choice question of the transcripts used.
func crashTyped(cat *locales.Catalog, lang locales.Lang, labels []string, n int) string {
	label := labels[n-1]
	is := func(i int, msg locales.MsgID) bool { return i >= 1 && labels[i-1] == cat.T(lang, msg, nil) }
	switch {
	case n == len(labels) && is(n, locales.MsgExit):
		return "/exit"
	case is(n, locales.MsgBack):
		return "/back"
	case is(n, locales.MsgSkip):
		return "/skip"
	case is(n, locales.MsgDone) && (is(n-1, locales.MsgBack) || is(n-1, locales.MsgSkip)):
		return "/done"
	case label == cat.T(lang, locales.MsgStartAgain, nil):
		return "/start"
	}
	return strconv.Itoa(n)
}

// crashMatch walks a chat's bot messages along the replies its script wants: each message must
// be the next wanted reply or, after a kill, a repeat of the one before it (sent again because the
// process died between the send and marking it sent). It returns how many wanted replies were
// seen, how many messages were repeats, and the index of the first message that is neither (-1).
func crashMatch(got, want []string) (matched, repeats, bad int) {
	for i, g := range got {
		switch {
		case matched < len(want) && g == want[matched]:
			matched++
		case matched > 0 && g == want[matched-1]:
			repeats++
		default:
			return matched, repeats, i
		}
	}
	return matched, repeats, -1
}

// crashChat is one person following one script.
type crashChat struct {
	p      *telegramtest.Person
	script *crashScript
	next   int // inputs sent so far (the feeder's)
}

// crashBotTexts returns the chat's bot messages, normalized, in order, and whether any was edited.
func crashBotTexts(fake *telegramtest.Server, chat int64) (texts []string, edited bool) {
	for _, m := range fake.BotMessages(chat) {
		texts = append(texts, normalizeText(m.Text))
		edited = edited || m.Edits > 0
	}
	return texts, edited
}

// crashLog keeps the processes' output and signals, line by line, when the dev keys exist and
// when the current run serves.
type crashLog struct {
	buf     *syncBuffer
	mu      sync.Mutex
	tail    []byte        // a line not yet ended
	keys    chan struct{} // closed once the first run created the development keys
	serving chan struct{} // closed when the current run serves
}

func (l *crashLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.tail = append(l.tail, p...)
	for {
		line, rest, ok := bytes.Cut(l.tail, []byte("\n"))
		if !ok {
			break
		}
		if l.keys != nil && bytes.Contains(line, []byte("created development keys")) {
			close(l.keys)
			l.keys = nil
		}
		if l.serving != nil && bytes.Contains(line, []byte("msg=serving")) {
			close(l.serving)
			l.serving = nil
		}
		l.tail = rest
	}
	l.tail = slices.Clone(l.tail)
	l.mu.Unlock()
	return l.buf.Write(p)
}

// crashProc is the `penah serve` subprocess, started again after each kill.
type crashProc struct {
	t      *testing.T
	bin    string
	args   []string
	logs   *syncBuffer
	out    *crashLog
	runs   int
	cmd    *exec.Cmd
	exited chan error
}

func (s *crashProc) start() (serving <-chan struct{}) {
	s.t.Helper()
	s.runs++
	ch := make(chan struct{})
	s.out.mu.Lock()
	s.out.serving = ch
	s.out.mu.Unlock()
	fmt.Fprintf(s.logs, "=== run %d ===\n", s.runs)
	cmd := exec.Command(s.bin, s.args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PENAH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting penah serve: %v", err)
	}
	s.cmd, s.exited = cmd, make(chan error, 1)
	go func(exited chan<- error) { exited <- cmd.Wait() }(s.exited)
	return ch
}

// alive fails the test if the process ended without being told to.
func (s *crashProc) alive() {
	s.t.Helper()
	select {
	case err := <-s.exited:
		s.exited <- err
		s.t.Fatalf("penah serve (run %d) exited by itself: %v\n%s", s.runs, err, s.logs.String())
	default:
	}
}

// kill ends the process with SIGKILL and waits until it is gone (its bbolt lock with it).
func (s *crashProc) kill() {
	s.t.Helper()
	s.alive()
	if err := s.cmd.Process.Kill(); err != nil {
		s.t.Fatalf("kill: %v", err)
	}
	<-s.exited
	fmt.Fprintf(s.logs, "=== run %d killed ===\n", s.runs)
	s.cmd = nil
}

// stop ends the process with SIGTERM, which must lead to a clean exit.
func (s *crashProc) stop() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	s.alive()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case err := <-s.exited:
		s.cmd = nil
		if err != nil {
			s.t.Fatalf("penah serve did not stop cleanly on SIGTERM: %v\n%s", err, s.logs.String())
		}
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		s.cmd = nil
		s.t.Fatalf("penah serve did not stop within 30 s of SIGTERM\n%s", s.logs.String())
	}
}

// crashBuild builds the penah binary (not instrumented: the race detector watches the test
// process, which holds the fake Bot API).
func crashBuild(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "penah")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/penah")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// crashDataDir is the data directory: in memory (/dev/shm) where there is one. A SIGKILL ends the
// process, not the machine, so what bbolt wrote is in the page cache either way, and the crash is
// the same; but each commit's fsync costs milliseconds on a CI disk, which would make the test
// take minutes.
func crashDataDir(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "penah-crash-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// crashFreePort returns a local address nothing listens on right now.
func crashFreePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestServeCrash kills `penah serve` with SIGKILL at random moments while 2,000 scripted updates
// from over a hundred chats in four languages flow, in polling and in webhook mode. The updates are
// typed scripts derived from the golden transcripts, so they are sent whether or not the bot is
// up. PENAH_CRASH_SEED replays a seed's choices (the order of the updates, when to kill); the
// moments a kill lands on still vary with the machine's speed.
func TestServeCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test runs penah serve as a process for half a minute; skipped with -short")
	}
	seed := rand.Uint64()
	if v := os.Getenv("PENAH_CRASH_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("PENAH_CRASH_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (replay with PENAH_CRASH_SEED=%d)", seed, seed)
	cat, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	var scripts []*crashScript
	for _, name := range crashScriptNames {
		for _, lang := range crashLangs {
			s := readCrashScript(t, cat, lang+"-"+name+".txt")
			scripts = append(scripts, &s)
		}
	}
	bin := crashBuild(t)
	t.Run("polling", func(t *testing.T) { crashRun(t, bin, scripts, false, seed) })
	t.Run("webhook", func(t *testing.T) { crashRun(t, bin, scripts, true, seed+1) })
}

func crashRun(t *testing.T, bin string, scripts []*crashScript, webhook bool, seed uint64) {
	began := time.Now()
	fake := telegramtest.New(t)
	data := crashDataDir(t)
	args := []string{"serve", "--telegram-api", fake.URL(), "--telegram-token", fake.Token(), "--dev", "--data", data,
		"--pacing", "1ms", "--rate", "1000", "--poll-timeout", "1s", "--flood-limit", "-1"}
	if webhook {
		addr := crashFreePort(t)
		args = append(args, "--webhook", "http://"+addr+"/telegram", "--webhook-secret", testSecret, "--listen", addr)
	}
	logs := &syncBuffer{}
	proc := &crashProc{t: t, bin: bin, args: args, logs: logs, out: &crashLog{buf: logs, keys: make(chan struct{})}}
	defer func() {
		if proc.cmd != nil {
			_ = proc.cmd.Process.Kill()
			<-proc.exited
		}
		if t.Failed() {
			t.Logf("seed %d; penah serve's output:\n%s", seed, logs.String())
		}
	}()

	// The chats: the scripts in turn until there are enough updates.
	var (
		chats   []*crashChat
		total   int
		submits int
	)
	for i := 0; total < crashUpdates; i++ {
		s := scripts[i%len(scripts)]
		p := fake.User(int64(30_000+i), telegramtest.WithLanguageCode(s.hint))
		chats = append(chats, &crashChat{p: p, script: s})
		total += len(s.inputs)
		if s.submits {
			submits++
		}
	}

	// The feeder types the scripts from the first moment to the last, whether the bot is up or
	// not: every tick, a few random chats send their next input.
	var sent atomic.Int64
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		rng := rand.New(rand.NewPCG(seed, 1))
		open := slices.Clone(chats)
		for len(open) > 0 {
			for n := rng.IntN(crashFeedMax + 1); n > 0 && len(open) > 0; n-- {
				i := rng.IntN(len(open))
				c := open[i]
				c.p.SendText(c.script.inputs[c.next])
				c.next++
				sent.Add(1)
				if c.next == len(c.script.inputs) {
					open = slices.Delete(open, i, i+1)
				}
			}
			time.Sleep(crashFeedTick)
		}
	}()
	defer func() { <-fed }()

	// The killer: up a random while (sometimes not yet serving), SIGKILL, down a random while.
	rng := rand.New(rand.NewPCG(seed, 2))
	serving := proc.start()
	for k := 1; k <= crashKills; k++ {
		started := time.Now()
		duringStart := rng.IntN(6) == 0
		if duringStart {
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		} else {
			select {
			case <-serving:
			case <-time.After(30 * time.Second):
				t.Fatalf("run %d did not start serving", proc.runs)
			}
			time.Sleep(20*time.Millisecond + time.Duration(rng.IntN(700))*time.Millisecond)
		}
		wasServing := false
		select {
		case <-serving:
			wasServing = true
		default:
		}
		proc.kill()
		t.Logf("kill %d: after %v (serving: %v); %d of %d updates sent, %d bot messages, %d updates unconfirmed",
			k, time.Since(started).Round(time.Millisecond), wasServing, sent.Load(), total, crashBotMessageCount(fake, chats), fake.PendingUpdates())
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		serving = proc.start()
	}

	// The last run catches up.
	<-fed
	deadline := time.Now().Add(crashFinish)
	progress, progressAt := -1, time.Now()
	for {
		proc.alive()
		if n := crashBotMessageCount(fake, chats) - fake.PendingUpdates(); n != progress {
			progress, progressAt = n, time.Now()
		}
		left := 0
		for _, c := range chats {
			texts, _ := crashBotTexts(fake, c.p.ChatID())
			// A chat with a wrong message is not waited for: crashReport tells.
			if matched, _, bad := crashMatch(texts, c.script.replies); bad < 0 && matched < len(c.script.replies) {
				left++
			}
		}
		if left == 0 && fake.PendingUpdates() == 0 {
			break
		}
		if stalled := time.Since(progressAt) > crashStall; stalled || time.Now().After(deadline) {
			crashReport(t, fake, chats)
			t.Fatalf("%v after the last update was sent (no progress for %v), %d of %d chats are not done and %d updates are unconfirmed",
				time.Since(deadline.Add(-crashFinish)).Round(time.Second), time.Since(progressAt).Round(time.Second), left, len(chats), fake.PendingUpdates())
		}
		time.Sleep(50 * time.Millisecond)
	}
	caughtUp := time.Since(began)
	proc.stop()

	// (a) every chat where its updates lead, with every reply of its golden transcript, in order,
	// nothing else but repeats of a reply right after it.
	repeats := 0
	if !crashReport(t, fake, chats) {
		t.FailNow()
	}
	var chatRefs []string
	for _, c := range chats {
		texts, _ := crashBotTexts(fake, c.p.ChatID())
		_, r, _ := crashMatch(texts, c.script.replies)
		repeats += r
		if c.script.submits {
			ms := fake.BotMessages(c.p.ChatID())
			ref := refRE.FindString(ms[len(ms)-1].Text)
			if ref == "" {
				t.Fatalf("chat %d (%s): the last reply has no case reference", c.p.ChatID(), c.script.name)
			}
			chatRefs = append(chatRefs, ref)
		}
	}
	if n := fake.PendingUpdates(); n != 0 {
		t.Errorf("the fake still holds %d unconfirmed updates", n)
	}

	// (b, c) one case per submitting chat: none lost, none twice.
	out, _, err := runCmd(t, "", "cases", "list", "--data", data)
	if err != nil {
		t.Fatalf("cases list: %v", err)
	}
	var caseRefs []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			caseRefs = append(caseRefs, f[0])
		}
	}
	if len(caseRefs) != submits {
		t.Errorf("%d cases, want exactly %d (one per chat whose script submits)", len(caseRefs), submits)
	}
	slices.Sort(chatRefs)
	slices.Sort(caseRefs)
	if len(slices.Compact(slices.Clone(chatRefs))) != len(chatRefs) {
		t.Errorf("two chats were told the same case reference")
	}
	if !slices.Equal(chatRefs, caseRefs) {
		t.Errorf("the cases are not exactly those the chats were told of:\nchats: %v\ncases: %v", chatRefs, caseRefs)
	}

	// (d) the audit chain.
	if out, _, err := runCmd(t, "", "audit", "verify", "--data", data); err != nil || !strings.Contains(out, "intact") {
		t.Errorf("audit verify: %v\n%s", err, out)
	}

	// Nothing alarming in the logs: no alert, no panic, no dead letter.
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "alert=true") || strings.Contains(line, "panic") {
			t.Errorf("serve logged: %s", line)
		}
	}
	assertNoPersonalData(t, logs.String())
	t.Logf("%d chats, %d updates, %d kills, %d runs, %d cases; %d bot messages of which %d repeated after a kill; caught up after %v, done after %v",
		len(chats), total, crashKills, proc.runs, len(caseRefs), crashBotMessageCount(fake, chats), repeats,
		caughtUp.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	var warns []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			warns = append(warns, line)
		}
	}
	if len(warns) > 0 {
		t.Logf("%d warnings and errors logged, the first: %s", len(warns), warns[0])
	}
}

// crashReport checks every chat's bot messages against its script's replies (crashMatch) and
// reports the first chats that differ; it returns whether all match.
func crashReport(t *testing.T, fake *telegramtest.Server, chats []*crashChat) bool {
	t.Helper()
	failed := 0
	for _, c := range chats {
		texts, edited := crashBotTexts(fake, c.p.ChatID())
		want := c.script.replies
		matched, repeats, bad := crashMatch(texts, want)
		if matched == len(want) && bad < 0 && !edited {
			continue
		}
		failed++
		if failed > 5 {
			continue
		}
		next := "(nothing more)"
		if matched < len(want) {
			next = want[matched]
		}
		what := fmt.Sprintf("after %d of %d wanted replies (and %d repeats) no more messages came", matched, len(want), repeats)
		if bad >= 0 {
			what = fmt.Sprintf("message %d of %d, after %d of %d wanted replies (and %d repeats), is\n%s", bad+1, len(texts), matched, len(want), repeats, crashShorten(texts[bad]))
		}
		t.Errorf("chat %d (%s, %d of %d inputs sent, edits: %v): %s\nwant next\n%s",
			c.p.ChatID(), c.script.name, c.next, len(c.script.inputs), edited, what, crashShorten(next))
	}
	if failed > 5 {
		t.Errorf("… and %d more chats", failed-5)
	}
	return failed == 0
}

func crashShorten(s string) string {
	if r := []rune(s); len(r) > 200 {
		return string(r[:200]) + "…"
	}
	return s
}

func crashBotMessageCount(fake *telegramtest.Server, chats []*crashChat) int {
	n := 0
	for _, c := range chats {
		n += len(fake.BotMessages(c.p.ChatID()))
	}
	return n
}
