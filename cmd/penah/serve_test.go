package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/penahbot/penah/bot/telegramtest"
)

// syncBuffer is a log sink several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveRig is `penah serve` running in-process against the fake Bot API.
type serveRig struct {
	t      *testing.T
	fake   *telegramtest.Server
	data   string
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
	hook   string // the webhook's address, in webhook mode
}

// rigOptions adapt startServe.
type rigOptions struct {
	webhook bool
	data    string
	args    []string
	env     map[string]string
	adjust  func(*serveConfig)
}

// startServe runs `penah serve --dev` with limits lifted for tests (pacing 1 ms, rate 1000/s)
// unless args override them, and waits until it serves.
func startServe(t *testing.T, fake *telegramtest.Server, o rigOptions) *serveRig {
	t.Helper()
	if o.data == "" {
		o.data = t.TempDir()
	}
	args := []string{"--telegram-api", fake.URL(), "--telegram-token", fake.Token(), "--dev", "--data", o.data,
		"--pacing", "1ms", "--rate", "1000", "--poll-timeout", "1s", "--log-level", "debug", "--shutdown-timeout", "2s"}
	var ln net.Listener
	if o.webhook {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--webhook", "http://"+ln.Addr().String()+"/telegram", "--webhook-secret", testSecret)
	}
	args = append(args, o.args...)
	getenv := func(k string) string { return o.env[k] }
	logs := &syncBuffer{}
	c, err := parseServe(args, getenv, logs)
	if err != nil {
		t.Fatalf("parseServe: %v", err)
	}
	c.listener = ln
	if o.adjust != nil {
		o.adjust(c)
	}
	ready := make(chan string, 1)
	c.ready = func(addr string) { ready <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	r := &serveRig{t: t, fake: fake, data: o.data, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- serve(ctx, c) }()
	select {
	case r.hook = <-ready:
	case err := <-r.done:
		t.Fatalf("serve stopped at start: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not start\n%s", logs.String())
	}
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			l := logs.String()
			t.Logf("serve's log (last 8 KiB):\n%s", l[max(0, len(l)-8<<10):])
		}
	})
	return r
}

const testSecret = "test-secret-0123456789-abcdefghijklmnop"

// stop shuts serve down gracefully and returns its error.
func (r *serveRig) stop() error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("serve: %v", err)
		}
		return err
	case <-time.After(30 * time.Second):
		r.t.Fatalf("serve did not stop\n%s", r.logs.String())
	}
	return nil
}

// step is one input of a golden transcript and the replies it expects.
type step struct {
	line    int
	text    string // typed text, or "" for a press
	button  int    // 1-based button of the last message that had buttons
	replies []string
	effects []string
}

// readGolden parses a golden transcript (flows/testdata/transcripts) into steps.
func readGolden(t *testing.T, name string) (hint string, steps []step) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "flows", "testdata", "transcripts", name))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	var cur *step
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# hint:"):
			hint = strings.TrimSpace(strings.TrimPrefix(line, "# hint:"))
		case strings.HasPrefix(line, "~ "):
			t.Fatalf("%s:%d: transcripts that let time pass cannot be played through Telegram", name, n)
		case strings.HasPrefix(line, "> "), strings.HasPrefix(line, "* "):
			steps = append(steps, step{line: n})
			cur = &steps[len(steps)-1]
			if line[0] == '>' {
				cur.text = line[2:]
			} else if cur.button, err = strconv.Atoi(strings.TrimSpace(line[2:])); err != nil {
				t.Fatalf("%s:%d: %v", name, n, err)
			}
		case strings.HasPrefix(line, "< "):
			cur.replies = append(cur.replies, "")
		case strings.HasPrefix(line, "|"):
			i := len(cur.replies) - 1
			if cur.replies[i] != "" || strings.HasPrefix(line, "| ") || line == "|" {
				if cur.replies[i] != "" || line != "|" {
					cur.replies[i] += "\n"
				}
			}
			cur.replies[i] += strings.TrimPrefix(strings.TrimPrefix(line, "|"), " ")
		case strings.HasPrefix(line, "= "):
			cur.effects = append(cur.effects, line[2:])
		}
	}
	for i := range steps {
		for j := range steps[i].replies {
			steps[i].replies[j] = strings.TrimPrefix(steps[i].replies[j], "\n")
		}
	}
	return hint, steps
}

var (
	refRE  = regexp.MustCompile(`[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}`)
	codeRE = regexp.MustCompile(`\b[A-Z0-9]{3}-[A-Z0-9]{3}\b`)
)

// normalizeText makes a message comparable with a golden reply: the right-to-left mark Penah puts
// before RTL messages goes, and the case's fresh reference and code become the golden's.
func normalizeText(s string) string {
	s = strings.TrimPrefix(s, "\u200F")
	s = refRE.ReplaceAllString(s, "TEST-REF0-0000-0001")
	return codeRE.ReplaceAllString(s, "TST-001")
}

// botOutput counts what the bot showed in a chat: messages sent plus edits.
func botOutput(fake *telegramtest.Server, chat int64) int {
	n := 0
	for _, m := range fake.BotMessages(chat) {
		n += 1 + m.Edits
	}
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lastWithButtons is the newest undeleted bot message with an inline keyboard.
func lastWithButtons(fake *telegramtest.Server, chat int64) (telegramtest.Message, bool) {
	ms := fake.BotMessages(chat)
	for i := len(ms) - 1; i >= 0; i-- {
		if !ms[i].Deleted && len(ms[i].Keyboard) > 0 {
			return ms[i], true
		}
	}
	return telegramtest.Message{}, false
}

// playGolden plays a golden transcript through Telegram: every typed line is sent as a message,
// every press presses that button on the newest message with buttons, and after each input the
// bot's new messages must be the golden's replies, in order and word for word.
func playGolden(t *testing.T, fake *telegramtest.Server, p *telegramtest.Person, steps []step) {
	t.Helper()
	chat := p.ChatID()
	for _, st := range steps {
		before := botOutput(fake, chat)
		sendStep(t, fake, p, st)
		if exiting(st) {
			waitFor(t, fmt.Sprintf("line %d: the clear", st.line), 10*time.Second, func() bool {
				v := fake.Visible(chat)
				return len(v) == 1 && v[0].FromBot
			})
			if got, want := normalizeText(fake.Visible(chat)[0].Text), st.replies[len(st.replies)-1]; got != want {
				t.Fatalf("line %d: after the clear the chat shows %q, want %q", st.line, got, want)
			}
			continue
		}
		waitFor(t, fmt.Sprintf("line %d: %d replies", st.line, len(st.replies)), 10*time.Second, func() bool {
			return botOutput(fake, chat) >= before+len(st.replies)
		})
		ms := fake.BotMessages(chat)
		var got []string
		for _, m := range ms {
			got = append(got, normalizeText(m.Text))
		}
		// The last reply is the newest message (or the edited one, which is then the newest with
		// buttons): compare it exactly.
		want := st.replies[len(st.replies)-1]
		last := got[len(got)-1]
		if m, ok := lastWithButtons(fake, chat); ok && m.Edits > 0 && m.ID == ms[len(ms)-1].ID {
			last = normalizeText(m.Text)
		} else if ok && m.Edits > 0 && len(st.replies) == 1 {
			last = normalizeText(m.Text)
		}
		if last != want {
			t.Fatalf("line %d: bot said\n%s\nwant\n%s", st.line, last, want)
		}
	}
}

// sendStep sends a step's input: its text, or a press of its button on the newest message with
// buttons.
func sendStep(t *testing.T, fake *telegramtest.Server, p *telegramtest.Person, st step) {
	t.Helper()
	if st.text != "" {
		p.SendText(st.text)
		return
	}
	m, ok := lastWithButtons(fake, p.ChatID())
	if !ok {
		t.Fatalf("line %d: no message with buttons to press", st.line)
	}
	all := slices.Concat(m.Keyboard...)
	if st.button > len(all) {
		t.Fatalf("line %d: button %d of %d", st.line, st.button, len(all))
	}
	if _, err := p.PressOn(m.ID, all[st.button-1].CallbackData); err != nil {
		t.Fatalf("line %d: %v", st.line, err)
	}
}

func exiting(st step) bool {
	for _, e := range st.effects {
		if e == "exit" || e == "forget" {
			return true
		}
	}
	return false
}

// TestServeIntakeEveryLanguage runs the golden conversations (all but those that let time pass) through `penah serve`, the real
// go-telegram/bot client and the fake Bot API, in polling mode, in all four languages; every reply
// must be the golden transcript's, and each submission creates exactly one case.
func TestServeIntakeEveryLanguage(t *testing.T) {
	fake := telegramtest.New(t)
	r := startServe(t, fake, rigOptions{})
	var chat int64 = 1000
	var wg sync.WaitGroup
	for _, lang := range []string{"ar", "ckb", "kmr", "en"} {
		for _, script := range []string{"sexual-violence-medical", "immediate-danger", "skip-everything", "back-twice-language",
			"invalid-answers", "declined", "exit-points", "info"} {
			chat++
			name := lang + "-" + script + ".txt"
			hint, steps := readGolden(t, name)
			p := fake.User(chat, telegramtest.WithLanguageCode(hint))
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.Run(name, func(t *testing.T) { playGolden(t, fake, p, steps) })
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		t.Log(r.logs.String())
		return
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "", "cases", "list", "--data", r.data)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "queued"); n != 20 {
		t.Errorf("want 20 queued cases (5 submitting scripts × 4 languages), got %d:\n%s", n, out)
	}
	assertNoPersonalData(t, r.logs.String())
}

// assertNoPersonalData checks logs for texts people typed in the tests.
func assertNoPersonalData(t *testing.T, logs string) {
	t.Helper()
	for _, s := range []string{"CANARY", "Duhok", "<b>", "دهوك", "/start", "Erê"} {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain %q", s)
		}
	}
}
