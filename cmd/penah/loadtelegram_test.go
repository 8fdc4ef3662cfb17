package main

// The load driver of the Telegram edge (issue 5): simulated people play golden intakes through
// `penah serve` (polling), the real go-telegram/bot client and the fake Bot API, all in this
// process, on bbolt or on a redis-server that redistest starts.
//
//	go test -run '^$' -bench 'ServeTelegram' -benchtime 1x ./cmd/penah
//
// BenchmarkServeTelegram lifts the outbox limits and lets every person type ahead (everything up
// to the next press of Skip or Done is sent at once), for throughput: its latencies include
// the time updates queue. BenchmarkServeTelegramLatency holds the overall rate at latencyRate
// updates/s, each person waiting for the replies before the next update, for latency. Both check
// every chat against its golden transcript, word for word. Reported: updates/s (updates / time
// from the first update queued to the last reply received), p50/p99/max latency (update queued
// in the fake → its first reply's sendMessage arriving at the fake), CPU seconds per 1,000
// updates (getrusage of this process: the bot, the fake Bot API and the driver together;
// redis-server's own CPU separately), peak memory (Go's Sys-HeapReleased sampled every 50 ms;
// maxrss is the process's peak since it started), store writes per update and the most updates
// waiting in the fake for getUpdates. Knobs: PENAH_LOAD_PEOPLE, PENAH_LOAD_RATE (the latency
// run's updates/s) and PENAH_LOAD_WORKERS (serve --workers).
//
// TestServeTelegramKeepsLimits checks that with the default limits the sender keeps them.
// Results are recorded in BENCHMARKS.md ("Telegram edge (issue 5)").

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/penahbot/penah/bot"
	"github.com/penahbot/penah/bot/telegramtest"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
	"github.com/penahbot/penah/locales"
)

// The people of a run play the five golden intakes that submit a case, in all four languages
// (20 scripts of 14–29 updates each, 20.6 on average), round robin.
var (
	loadScriptNames = []string{"sexual-violence-medical", "immediate-danger", "skip-everything", "back-twice-language", "invalid-answers"}
	loadLangs       = []string{"ar", "ckb", "kmr", "en"}
)

// Sizes of the runs, chosen so that one run takes 5–20 s on the 2-core benchmark machine.
const (
	loadPeopleBolt  = 100 // BenchmarkServeTelegram/bolt: 2,060 updates
	loadPeopleRedis = 200 // BenchmarkServeTelegram/redis: 4,120 updates
	latencyPeople   = 80  // BenchmarkServeTelegramLatency: 1,648 updates
	latencyRate     = 200 // updates per second, over all people, in the latency run
	// loadTimeout bounds one run; past it the benchmark fails with the bot's logs.
	loadTimeout = 5 * time.Minute
)

// liftedLimits are the serve flags of the benchmarks: no global rate worth the name, a per-chat
// pacing of 1 ns (--pacing 0 means the default 1 s, see bot.Sender.Pacing) and no flood limit.
var liftedLimits = []string{"--rate", "1000000", "--pacing", "1ns", "--flood-limit", "-1"}

// loadScript is a golden transcript as a person types it. A button that stands for one of the
// question's choices is typed as its number, which the engine takes as the press (and a
// multi-choice tick then comes as a new message instead of an edit); Back, Skip, Done and Exit
// cannot be typed as numbers, so those are pressed, once the message that carries them arrived.
type loadScript struct {
	name, hint string
	steps      []loadStep
}

type loadStep struct {
	line    int
	text    string   // what is typed: "> text" is text, "* N" of a choice is "N"; "" for a press
	button  int      // N of "* N"
	replies []string // the golden replies (compare with normalizeText of the bot's)
	lang    string   // the language of the last reply ("< en"), for its buttons' labels
	labels  []string // the buttons of the last reply, "[N] label"
}

// replyCount is the number of bot messages the script expects.
func (s *loadScript) replyCount() int {
	n := 0
	for _, st := range s.steps {
		n += len(st.replies)
	}
	return n
}

// parseLoadScript reads a golden transcript as readGolden does (TestLoadScriptsAreTheGoldens
// checks they agree), without a *testing.T, so that benchmarks can use it, and decides which
// presses are typed.
func parseLoadScript(cat *locales.Catalog, name string) (loadScript, error) {
	s := loadScript{name: name}
	data, err := os.ReadFile(filepath.Join("..", "..", "flows", "testdata", "transcripts", name))
	if err != nil {
		return s, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	var cur *loadStep
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# hint:"):
			s.hint = strings.TrimSpace(strings.TrimPrefix(line, "# hint:"))
		case strings.HasPrefix(line, "~ "):
			return s, fmt.Errorf("%s:%d: a transcript that lets time pass cannot be played at load", name, n)
		case strings.HasPrefix(line, "= exit"), strings.HasPrefix(line, "= forget"):
			return s, fmt.Errorf("%s:%d: a quick exit clears the chat; the load scripts must not", name, n)
		case strings.HasPrefix(line, "> "), strings.HasPrefix(line, "* "):
			st := loadStep{line: n}
			if cur != nil {
				st.lang, st.labels = cur.lang, cur.labels
			}
			if line[0] == '>' {
				st.text = line[2:]
			} else if st.button, err = strconv.Atoi(strings.TrimSpace(line[2:])); err != nil {
				return s, fmt.Errorf("%s:%d: %v", name, n, err)
			} else if st.button < 1 || st.button > len(st.labels) {
				return s, fmt.Errorf("%s:%d: button %d of %d", name, n, st.button, len(st.labels))
			} else if !isChrome(cat, st.lang, st.labels[st.button-1]) {
				st.text = strconv.Itoa(st.button)
			}
			s.steps = append(s.steps, st)
			cur = &s.steps[len(s.steps)-1]
		case strings.HasPrefix(line, "< "):
			if cur == nil {
				return s, fmt.Errorf("%s:%d: a reply before any input", name, n)
			}
			cur.replies = append(cur.replies, "")
			cur.lang, _, _ = strings.Cut(line[2:], " ")
			cur.labels = nil
		case strings.HasPrefix(line, "|"):
			i := len(cur.replies) - 1
			if cur.replies[i] != "" || line != "|" {
				cur.replies[i] += "\n"
			}
			cur.replies[i] += strings.TrimPrefix(strings.TrimPrefix(line, "|"), " ")
		case strings.HasPrefix(line, "  ["):
			_, label, ok := strings.Cut(line, "] ")
			if !ok || cur == nil {
				return s, fmt.Errorf("%s:%d: malformed button", name, n)
			}
			cur.labels = append(cur.labels, label)
		}
	}
	for i := range s.steps {
		for j := range s.steps[i].replies {
			s.steps[i].replies[j] = strings.TrimPrefix(s.steps[i].replies[j], "\n")
		}
	}
	return s, sc.Err()
}

// isChrome reports whether label is one of the buttons every question may add after its choices
// (Back, Skip, Done, Exit), which typed numbers do not reach.
func isChrome(cat *locales.Catalog, lang, label string) bool {
	l, ok := locales.Parse(lang)
	if !ok {
		return false
	}
	for _, id := range []locales.MsgID{locales.MsgBack, locales.MsgSkip, locales.MsgDone, locales.MsgExit} {
		if cat.T(l, id, nil) == label {
			return true
		}
	}
	return false
}

// loadScripts reads the 20 scripts of the load driver.
func loadScripts(tb testing.TB) []loadScript {
	tb.Helper()
	cat, err := locales.Load()
	if err != nil {
		tb.Fatal(err)
	}
	var out []loadScript
	for _, name := range loadScriptNames {
		for _, lang := range loadLangs {
			s, err := parseLoadScript(cat, lang+"-"+name+".txt")
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, s)
		}
	}
	return out
}

// loadServe is `penah serve --dev` running in-process for a benchmark. (startServe takes a
// *testing.T; this is the same start for any testing.TB.)
type loadServe struct {
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
	ops    *countingStore
}

func startLoadServe(tb testing.TB, fake *telegramtest.Server, args ...string) *loadServe {
	tb.Helper()
	all := append([]string{"--telegram-api", fake.URL(), "--telegram-token", fake.Token(), "--dev", "--data", tb.TempDir(),
		"--poll-timeout", "1s", "--log-level", "warn", "--shutdown-timeout", "2s"}, args...)
	logs := &syncBuffer{}
	c, err := parseServe(all, func(string) string { return "" }, logs)
	if err != nil {
		tb.Fatalf("parseServe: %v", err)
	}
	ops := &countingStore{}
	c.wrapStore = func(st intake.Store) intake.Store { ops.Store = st; return ops }
	ready := make(chan string, 1)
	c.ready = func(addr string) { ready <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	s := &loadServe{cancel: cancel, done: make(chan error, 1), logs: logs, ops: ops}
	go func() { s.done <- serve(ctx, c) }()
	select {
	case <-ready:
	case err := <-s.done:
		tb.Fatalf("serve stopped at start: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		tb.Fatalf("serve did not start\n%s", logs.String())
	}
	tb.Cleanup(func() { s.stop(tb) })
	return s
}

func (s *loadServe) stop(tb testing.TB) {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			tb.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		tb.Errorf("serve did not stop\n%s", s.logs.String())
	}
}

// countingStore counts the edge's store operations (the poller's, the dispatcher's and the
// sender's; a turn's LoadSession and Commit go through intake.Service, which holds the store
// itself). With bbolt every write is a transaction of its own, fsynced (two fdatasync calls).
type countingStore struct {
	intake.Store
	ops [numStoreOps]atomic.Int64
}

type storeOp int

const (
	opPutUpdate storeOp = iota
	opSetOffset
	opDoneUpdate
	opTrack
	opUntrack
	opMarkSent
	opRetry
	opMarkFailed
	opDropChat
	opAcquireLease
	opReleaseLease
	opHit
	opScheduleClear
	opPutDeadLetter
	opNextUpdate // the operations above write; this one and those below read
	opPendingChats
	opDueMessages
	opTracked
	numStoreOps
)

const numStoreWrites = opNextUpdate

var storeOpNames = [numStoreOps]string{"PutUpdate", "SetOffset", "DoneUpdate", "TrackMessages", "UntrackMessages",
	"MarkSent", "Retry", "MarkFailed", "DropChat", "AcquireLease", "ReleaseLease", "Hit", "ScheduleClear", "PutDeadLetter",
	"NextUpdate", "PendingChats", "DueMessages", "TrackedMessages"}

func (s *countingStore) snapshot() (out [numStoreOps]int64) {
	for i := range out {
		out[i] = s.ops[i].Load()
	}
	return out
}

func (s *countingStore) PutUpdate(ctx context.Context, u intake.Update) (bool, error) {
	s.ops[opPutUpdate].Add(1)
	return s.Store.PutUpdate(ctx, u)
}

func (s *countingStore) PutUpdates(ctx context.Context, us []intake.Update) ([]bool, error) {
	s.ops[opPutUpdate].Add(int64(len(us)))
	return s.Store.PutUpdates(ctx, us)
}

func (s *countingStore) SetOffset(ctx context.Context, offset int64) error {
	s.ops[opSetOffset].Add(1)
	return s.Store.SetOffset(ctx, offset)
}

func (s *countingStore) DoneUpdate(ctx context.Context, chat intake.SessionKey, id int64) error {
	s.ops[opDoneUpdate].Add(1)
	return s.Store.DoneUpdate(ctx, chat, id)
}

func (s *countingStore) TrackMessages(ctx context.Context, chat intake.SessionKey, msgs []intake.TrackedMessage) error {
	s.ops[opTrack].Add(1)
	return s.Store.TrackMessages(ctx, chat, msgs)
}

func (s *countingStore) UntrackMessages(ctx context.Context, chat intake.SessionKey, ids []int64) error {
	s.ops[opUntrack].Add(1)
	return s.Store.UntrackMessages(ctx, chat, ids)
}

func (s *countingStore) MarkSent(ctx context.Context, id intake.OutboxID) error {
	s.ops[opMarkSent].Add(1)
	return s.Store.MarkSent(ctx, id)
}

func (s *countingStore) Retry(ctx context.Context, id intake.OutboxID, at time.Time) error {
	s.ops[opRetry].Add(1)
	return s.Store.Retry(ctx, id, at)
}

func (s *countingStore) MarkFailed(ctx context.Context, id intake.OutboxID) error {
	s.ops[opMarkFailed].Add(1)
	return s.Store.MarkFailed(ctx, id)
}

func (s *countingStore) DropChat(ctx context.Context, chat intake.SessionKey) (int, error) {
	s.ops[opDropChat].Add(1)
	return s.Store.DropChat(ctx, chat)
}

func (s *countingStore) AcquireLease(ctx context.Context, chat intake.SessionKey, owner string, ttl time.Duration) (bool, error) {
	s.ops[opAcquireLease].Add(1)
	return s.Store.AcquireLease(ctx, chat, owner, ttl)
}

func (s *countingStore) ReleaseLease(ctx context.Context, chat intake.SessionKey, owner string) error {
	s.ops[opReleaseLease].Add(1)
	return s.Store.ReleaseLease(ctx, chat, owner)
}

func (s *countingStore) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	s.ops[opHit].Add(1)
	return s.Store.Hit(ctx, key, window, now)
}

func (s *countingStore) ScheduleClear(ctx context.Context, chat intake.SessionKey, at time.Time, target []byte) error {
	s.ops[opScheduleClear].Add(1)
	return s.Store.ScheduleClear(ctx, chat, at, target)
}

func (s *countingStore) PutDeadLetter(ctx context.Context, d intake.DeadLetter) error {
	s.ops[opPutDeadLetter].Add(1)
	return s.Store.PutDeadLetter(ctx, d)
}

func (s *countingStore) NextUpdate(ctx context.Context, chat intake.SessionKey) (*intake.Update, error) {
	s.ops[opNextUpdate].Add(1)
	return s.Store.NextUpdate(ctx, chat)
}

func (s *countingStore) PendingChats(ctx context.Context, limit int) ([]intake.SessionKey, error) {
	s.ops[opPendingChats].Add(1)
	return s.Store.PendingChats(ctx, limit)
}

func (s *countingStore) DueMessages(ctx context.Context, now time.Time, limit int) ([]intake.OutboxMessage, error) {
	s.ops[opDueMessages].Add(1)
	return s.Store.DueMessages(ctx, now, limit)
}

func (s *countingStore) TrackedMessages(ctx context.Context, chat intake.SessionKey) ([]intake.TrackedMessage, error) {
	s.ops[opTracked].Add(1)
	return s.Store.TrackedMessages(ctx, chat)
}

// loadPerson is one simulated person and when each of their updates was queued in the fake.
type loadPerson struct {
	p      *telegramtest.Person
	script *loadScript
	sentAt []time.Time
}

// newPeople creates n people in chats from, from+1, …, playing the scripts round robin.
func newPeople(fake *telegramtest.Server, scripts []loadScript, from int64, n int) []*loadPerson {
	people := make([]*loadPerson, n)
	for i := range people {
		s := &scripts[i%len(scripts)]
		people[i] = &loadPerson{
			p:      fake.User(from+int64(i), telegramtest.WithLanguageCode(s.hint)),
			script: s,
			sentAt: make([]time.Time, len(s.steps)),
		}
	}
	return people
}

func countUpdates(people []*loadPerson) (updates, replies int) {
	for _, lp := range people {
		updates += len(lp.script.steps)
		replies += lp.script.replyCount()
	}
	return updates, replies
}

// play sends the person's updates. Unpaced, each is sent as soon as possible: typed ones at once,
// without waiting for replies; a press once the replies to everything before it arrived. Paced,
// every update waits for the replies to the one before, then for a token. Waiting polls the fake,
// first after 1 ms, then less often, up to every maxPoll.
func (lp *loadPerson) play(ctx context.Context, fake *telegramtest.Server, tokens <-chan struct{}, maxPoll time.Duration) error {
	chat := lp.p.ChatID()
	typed, replies := 0, 0
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for k, st := range lp.script.steps {
		if tokens != nil || st.text == "" {
			// Message ids count both sides of a chat: the replies so far have all arrived when
			// message typed+replies exists. (Person.WaitMessage would wake every waiting person on
			// every change in the fake; with hundreds of people that costs more than the bot.)
			for poll := time.Millisecond; typed+replies > 0; poll = min(2*poll, maxPoll) {
				if _, ok := fake.Message(chat, typed+replies); ok {
					break
				}
				timer.Reset(poll)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return fmt.Errorf("%s line %d: waiting for %d replies: %w", lp.script.name, st.line, replies, ctx.Err())
				}
			}
		}
		if tokens != nil {
			select {
			case <-tokens:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if st.text != "" {
			lp.sentAt[k] = time.Now()
			lp.p.SendText(st.text)
			typed++
		} else {
			m, ok := lastWithButtons(fake, chat)
			if !ok {
				return fmt.Errorf("%s line %d: no message with buttons to press", lp.script.name, st.line)
			}
			all := slices.Concat(m.Keyboard...)
			if st.button > len(all) {
				return fmt.Errorf("%s line %d: button %d of %d", lp.script.name, st.line, st.button, len(all))
			}
			lp.sentAt[k] = time.Now()
			if _, err := lp.p.PressOn(m.ID, all[st.button-1].CallbackData); err != nil {
				return fmt.Errorf("%s line %d: %w", lp.script.name, st.line, err)
			}
		}
		replies += len(st.replies)
	}
	return nil
}

// playAll lets every person play at once and waits until the bot has sent sendMessages messages
// in all (those of earlier runs included). With rate > 0 the people take turns from a ticker that
// holds the overall rate at rate updates/s, each waiting for the replies to their previous update.
func playAll(tb testing.TB, fake *telegramtest.Server, logs *syncBuffer, people []*loadPerson, rate, sendMessages int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	var tokens chan struct{}
	poll := 20 * time.Millisecond
	if rate > 0 {
		tokens, poll = make(chan struct{}), time.Millisecond
		go func() {
			t := time.NewTicker(time.Second / time.Duration(rate))
			defer t.Stop()
			for {
				select {
				case <-t.C:
					select {
					case tokens <- struct{}{}: // to a person waiting for their turn; if none waits, it is lost
					default:
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(people))
	for _, lp := range people {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := lp.play(ctx, fake, tokens, poll); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("%v\n%s", err, logs.String())
	}
	// Calls() copies the call log: poll it rarely. The run's end is the last reply's arrival
	// time, not this poll's.
	for fake.CallCount("sendMessage") < sendMessages {
		if ctx.Err() != nil {
			tb.Fatalf("timed out: %d of %d messages sent\n%s", fake.CallCount("sendMessage"), sendMessages, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// loadRun is what one run measured.
type loadRun struct {
	updates     int
	first, last time.Time       // first update queued, last reply received
	latencies   []time.Duration // per update with a reply: queued → first reply received
	cpu         time.Duration   // user+sys of this process (bot, fake Bot API and driver)
	peakMem     uint64          // the largest Sys-HeapReleased sampled, in bytes
	queued      int             // the most updates waiting in the fake for getUpdates
}

// checkReplies compares every chat with its script, word for word, and pairs each update with
// the first of the replies the script gives it: the latency is that reply's arrival at the fake
// (its clock is the real one) minus the moment the update was queued.
func checkReplies(tb testing.TB, fake *telegramtest.Server, people []*loadPerson) (lat []time.Duration, first, last time.Time) {
	tb.Helper()
	sends := map[int64][]telegramtest.Call{}
	for _, c := range fake.Calls() {
		if c.Method != bot.MethodSendMessage {
			continue
		}
		if !c.OK() {
			tb.Fatalf("sendMessage to chat %d failed: %d %s", c.ChatID, c.ErrorCode, c.Description)
		}
		sends[c.ChatID] = append(sends[c.ChatID], c)
	}
	for _, lp := range people {
		chat := lp.p.ChatID()
		var want []string
		for _, st := range lp.script.steps {
			want = append(want, st.replies...)
		}
		var got []string
		for _, m := range fake.BotMessages(chat) {
			if m.Deleted || m.Edits > 0 {
				tb.Fatalf("chat %d (%s): message %d was deleted or edited", chat, lp.script.name, m.ID)
			}
			got = append(got, normalizeText(m.Text))
		}
		if !slices.Equal(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					tb.Fatalf("chat %d (%s): reply %d is\n%s\nwant\n%s", chat, lp.script.name, i+1, got[i], want[i])
				}
			}
			tb.Fatalf("chat %d (%s): %d replies, want %d", chat, lp.script.name, len(got), len(want))
		}
		cs := sends[chat]
		slices.SortStableFunc(cs, func(a, b telegramtest.Call) int { return a.At.Compare(b.At) })
		if len(cs) != len(want) {
			tb.Fatalf("chat %d: %d sendMessage calls for %d messages", chat, len(cs), len(want))
		}
		i := 0
		for k, st := range lp.script.steps {
			if first.IsZero() || lp.sentAt[k].Before(first) {
				first = lp.sentAt[k]
			}
			if len(st.replies) == 0 {
				continue
			}
			lat = append(lat, cs[i].At.Sub(lp.sentAt[k]))
			if at := cs[i+len(st.replies)-1].At; at.After(last) {
				last = at
			}
			i += len(st.replies)
		}
	}
	return lat, first, last
}

// measure runs play with the process's CPU time and memory measured around it, and the largest
// number of updates waiting in the fake Bot API for getUpdates.
func measure(fake *telegramtest.Server, play func()) (cpu time.Duration, peak uint64, queued int) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.Sys-ms.HeapReleased)
			queued = max(queued, fake.PendingUpdates())
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()
	before := cpuTime()
	play()
	cpu = cpuTime() - before
	close(stop)
	<-done
	return cpu, peak, queued
}

// cpuTime is the user+sys time of this process (getrusage RUSAGE_SELF).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// maxRSS is the process's peak resident set since it started (getrusage ru_maxrss, KiB on Linux).
func maxRSS() uint64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return uint64(ru.Maxrss) << 10
}

// redisCPU is redis-server's own user+sys time (INFO cpu), which getrusage of this process does
// not count.
func redisCPU(tb testing.TB, r *redistest.Server) time.Duration {
	tb.Helper()
	info, err := r.Command("INFO", "cpu")
	if err != nil {
		tb.Fatalf("INFO cpu: %v", err)
	}
	var total float64
	for _, f := range strings.Fields(info) {
		for _, key := range []string{"used_cpu_user:", "used_cpu_sys:"} {
			if v, ok := strings.CutPrefix(f, key); ok {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					tb.Fatalf("INFO cpu: %q", f)
				}
				total += x
			}
		}
	}
	return time.Duration(total * float64(time.Second))
}

// percentile of sorted durations, as bench.go reports them.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// machineLoad describes what else ran on the machine: the load average and the share of the last
// 60 s in which some runnable task waited for a CPU or some task waited for I/O (Linux PSI).
func machineLoad() string {
	out := "loadavg"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		out += " " + strings.Join(strings.Fields(string(b))[:3], " ")
	}
	for _, res := range []string{"cpu", "io"} {
		b, err := os.ReadFile("/proc/pressure/" + res)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if v, ok := strings.CutPrefix(f, "avg60="); ok {
				out += ", " + res + " pressure " + v + "%"
				break
			}
		}
	}
	return out
}

// envInt reads a knob of the load driver from the environment.
func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchServeTelegram runs serve with lifted limits against a fresh fake Bot API and, b.N times,
// lets people fresh chats play the scripts: all at once (paced false) or one answer at a time at
// latencyRate updates/s (paced true). A store of "" is a bbolt file in a temporary directory.
func benchServeTelegram(b *testing.B, redis *redistest.Server, people int, paced bool) {
	people = envInt(b, "PENAH_LOAD_PEOPLE", people)
	scripts := loadScripts(b)
	fake := telegramtest.New(b)
	args := slices.Clone(liftedLimits)
	if w := envInt(b, "PENAH_LOAD_WORKERS", 0); w > 0 {
		args = append(args, "--workers", strconv.Itoa(w))
	}
	if redis != nil {
		args = append(args, "--store", redis.URL())
	}
	srv := startLoadServe(b, fake, args...)
	chat := int64(1_000_000)
	sendMessages := 0
	// A warm-up run of one person per script: connections, the flow cache, the store's files.
	warm := newPeople(fake, scripts, chat, len(scripts))
	chat += int64(len(warm))
	_, n := countUpdates(warm)
	sendMessages += n
	playAll(b, fake, srv.logs, warm, 0, sendMessages)
	checkReplies(b, fake, warm)
	rate := 0
	if paced {
		rate = envInt(b, "PENAH_LOAD_RATE", latencyRate)
	}

	var (
		runs       []loadRun
		redisStart time.Duration
		ops        [numStoreOps]int64
	)
	if redis != nil {
		redisStart = redisCPU(b, redis)
	}
	runtime.GC() // start each benchmark from a collected heap, whatever ran before it in the process
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ps := newPeople(fake, scripts, chat, people)
		chat += int64(people)
		updates, n := countUpdates(ps)
		sendMessages += n
		var run loadRun
		before := srv.ops.snapshot()
		run.cpu, run.peakMem, run.queued = measure(fake, func() { playAll(b, fake, srv.logs, ps, rate, sendMessages) })
		after := srv.ops.snapshot()
		for i := range ops {
			ops[i] += after[i] - before[i]
		}
		run.updates = updates
		run.latencies, run.first, run.last = checkReplies(b, fake, ps)
		runs = append(runs, run)
	}
	b.StopTimer()
	var redisUsed time.Duration
	if redis != nil {
		redisUsed = redisCPU(b, redis) - redisStart
	}
	srv.stop(b)

	var (
		updates int
		wall    time.Duration
		cpu     time.Duration
		peak    uint64
		queued  int
		lat     []time.Duration
	)
	for _, r := range runs {
		updates += r.updates
		wall += r.last.Sub(r.first)
		cpu += r.cpu
		peak = max(peak, r.peakMem)
		queued = max(queued, r.queued)
		lat = append(lat, r.latencies...)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(updates)/wall.Seconds(), "updates/s")
	b.ReportMetric(ms(percentile(lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(cpu.Seconds()/float64(updates)*1000, "cpu-s/1k-updates")
	b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
	b.ReportMetric(float64(maxRSS())/(1<<20), "maxrss-MiB")
	b.ReportMetric(float64(queued), "peak-queued")
	if redis != nil {
		b.ReportMetric(redisUsed.Seconds()/float64(updates)*1000, "redis-cpu-s/1k-updates")
	}
	// One Commit per update (through intake.Service, not counted by countingStore) and the
	// edge's writes.
	writes := int64(updates)
	var breakdown []string
	for i, n := range ops {
		if i < int(numStoreWrites) {
			writes += n
		}
		if n > 0 {
			breakdown = append(breakdown, fmt.Sprintf("%s %.2f", storeOpNames[i], float64(n)/float64(updates)))
		}
	}
	b.ReportMetric(float64(writes)/float64(updates), "store-writes/update")
	b.Logf("store operations per update besides the turn's LoadSession and Commit: %s", strings.Join(breakdown, ", "))
	b.Logf("%d people × %d runs (rate %d/s, 0: unpaced), %d updates in %.2f s; CPU %.2f s; %s", people, len(runs), rate, updates, wall.Seconds(), cpu.Seconds(), machineLoad())
}

// BenchmarkServeTelegram measures throughput with the outbox limits lifted: every person types a
// whole intake at once, so the latencies include the time updates queue behind each other.
func BenchmarkServeTelegram(b *testing.B) {
	b.Run("bolt", func(b *testing.B) { benchServeTelegram(b, nil, loadPeopleBolt, false) })
	b.Run("redis", func(b *testing.B) { benchServeTelegram(b, redistest.StartServer(b), loadPeopleRedis, false) })
}

// BenchmarkServeTelegramLatency measures latency at latencyRate updates/s over all people, each
// person sending one update at a time and waiting for its replies, with the outbox limits lifted.
func BenchmarkServeTelegramLatency(b *testing.B) {
	b.Run("bolt", func(b *testing.B) { benchServeTelegram(b, nil, latencyPeople, true) })
	b.Run("redis", func(b *testing.B) { benchServeTelegram(b, redistest.StartServer(b), latencyPeople, true) })
}

// TestLoadScriptsAreTheGoldens: the load driver reads the golden transcripts as readGolden does,
// and types every press of a choice.
func TestLoadScriptsAreTheGoldens(t *testing.T) {
	pressed := 0
	for _, s := range loadScripts(t) {
		hint, steps := readGolden(t, s.name)
		if hint != s.hint || len(steps) != len(s.steps) {
			t.Fatalf("%s: hint %q and %d steps, want %q and %d", s.name, s.hint, len(s.steps), hint, len(steps))
		}
		for i, st := range steps {
			mine := s.steps[i]
			ok := slices.Equal(mine.replies, st.replies)
			if st.text != "" {
				ok = ok && mine.text == st.text
			} else {
				ok = ok && mine.button == st.button && (mine.text == "" || mine.text == strconv.Itoa(st.button))
			}
			if !ok {
				t.Fatalf("%s line %d: %+v, want %+v", s.name, st.line, mine, st)
			}
			if mine.text == "" {
				pressed++
			}
		}
	}
	// Skip and Done: 2 presses in three scripts, 3 in invalid-answers, 9 in skip-everything.
	if want := 4 * (2*3 + 3 + 9); pressed != want {
		t.Errorf("%d presses of Back, Skip, Done or Exit, want %d", pressed, want)
	}
}

// TestServeTypedScriptsMatchGoldens: typing a choice's number instead of pressing its button
// gives the golden conversation (a multi-choice tick comes as a new message instead of an edit),
// even with everything up to the next press typed at once: what the load driver relies on.
func TestServeTypedScriptsMatchGoldens(t *testing.T) {
	fake := telegramtest.New(t)
	r := startServe(t, fake, rigOptions{args: liftedLimits})
	people := newPeople(fake, loadScripts(t), 5000, len(loadScriptNames)*len(loadLangs))
	_, n := countUpdates(people)
	playAll(t, fake, r.logs, people, 0, n)
	checkReplies(t, fake, people)
}

// The limits the sender must keep with its defaults (DESIGN.md §3, "Outbox"), as the fake Bot API
// sees them.
var (
	// rateMethods are the Bot API calls the outbox sender makes, each against the global rate.
	rateMethods = []string{"sendMessage", "editMessageText", "deleteMessage", "deleteMessages", "answerCallbackQuery"}
	// pacedMethods show a message in the chat: per-chat pacing applies (bot.OutboundRequest.paced).
	pacedMethods = []string{"sendMessage", "editMessageText"}
)

const (
	// rateJitter: take() spaces the starts of the sender's calls exactly 1/Rate apart (a token
	// bucket of burst 1), so a half-open second holds at most Rate starts. The fake stamps
	// arrivals, which trail the starts by each request's transit (encoding, HTTP): when a call's
	// transit is longer than a later one's, the second after the first arrival holds one call
	// more. Two more would need transits that differ by more than 1/Rate (40 ms).
	rateJitter = 1
	// pacingJitter: the sender holds a chat for Pacing from the start of a request, so two
	// arrivals can be closer than Pacing by the difference of the two requests' transits (up to
	// 14 ms seen under -race on the 2-core machine). Pacing not applied shows as gaps near 0.
	pacingJitter = 50 * time.Millisecond
)

// TestServeTelegramKeepsLimits: with the default limits (25 sends/s, 1 s per chat) and far more
// work than they allow — 40 people typing intakes (and pressing Skip and Done), 12 more pressing a
// language button — no second of the Bot API's log holds more than 25 of the sender's calls (26
// by arrival time, see rateJitter), and no chat gets two messages less than 1 s apart (by arrival
// time, less pacingJitter).
func TestServeTelegramKeepsLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the sender at its limits for several seconds")
	}
	calls := runLimitMix(t, false)
	checkLimits(t, calls)
	if n := countCalls(calls, "answerCallbackQuery"); n < 12 {
		t.Errorf("only %d callback answers in the mix", n)
	}
}

// TestServeTelegramClearsKeepLimit: the same with the 12 leaving with /exit, so that clearChat
// (deleteMessages, then the neutral line's sendMessage) is in the mix.
//
// A clear takes a token of the global rate for each of its calls (bot.Sender.clear).
func TestServeTelegramClearsKeepLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the sender at its limits for several seconds")
	}
	calls := runLimitMix(t, true)
	checkLimits(t, calls)
	if n := countCalls(calls, "deleteMessages"); n < 12 {
		t.Errorf("only %d clears in the mix", n)
	}
}

func countCalls(calls []telegramtest.Call, method string) int {
	n := 0
	for _, c := range calls {
		if c.Method == method {
			n++
		}
	}
	return n
}

// runLimitMix runs serve with its default limits while 40 people play the load scripts and 12
// more start, press their language and (with exit) leave with /exit; it returns the fake's log.
func runLimitMix(t *testing.T, exit bool) []telegramtest.Call {
	t.Helper()
	fake := telegramtest.New(t)
	r := startServe(t, fake, rigOptions{args: []string{"--rate", strconv.Itoa(bot.SendRate), "--pacing", bot.ChatPacing.String(), "--log-level", "info"}})
	typists := newPeople(fake, loadScripts(t), 7000, 40)
	busy, stopTyping := context.WithCancel(context.Background())
	defer stopTyping()
	for _, lp := range typists {
		go lp.play(busy, fake, nil, 20*time.Millisecond) // until stopped: far more than 25/s can send
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 12 {
		p := fake.User(8000+int64(i), telegramtest.WithLanguageCode("en"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.SendText("/start")
			if _, err := p.WaitMessage(ctx); err != nil {
				t.Error(err)
				return
			}
			if _, err := p.Press("English"); err != nil {
				t.Error(err)
				return
			}
			if _, err := p.WaitMessage(ctx); err != nil {
				t.Error(err)
				return
			}
			if exit {
				p.SendText("/exit")
			}
		}()
	}
	wg.Wait()
	if exit {
		waitFor(t, "the leavers' clears", time.Minute, func() bool { return fake.CallCount("deleteMessages") >= 12 })
	}
	stopTyping()
	time.Sleep(time.Second)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	return fake.Calls()
}

// checkLimits checks the global rate and the per-chat pacing on the fake's log.
func checkLimits(t *testing.T, calls []telegramtest.Call) {
	t.Helper()
	var sent []telegramtest.Call
	last := map[int64]telegramtest.Call{}
	minGap := time.Duration(math.MaxInt64)
	perMethod := map[string]int{}
	for _, c := range calls {
		if !slices.Contains(rateMethods, c.Method) {
			continue
		}
		perMethod[c.Method]++
		sent = append(sent, c)
		if !slices.Contains(pacedMethods, c.Method) {
			continue
		}
		if prev, ok := last[c.ChatID]; ok {
			gap := c.At.Sub(prev.At)
			minGap = min(minGap, gap)
			if gap < bot.ChatPacing-pacingJitter {
				t.Errorf("chat %d: %s %v after a %s", c.ChatID, c.Method, gap, prev.Method)
			}
		}
		last[c.ChatID] = c
	}
	if len(sent) < 2*bot.SendRate {
		t.Fatalf("only %d calls: the mix did not keep the sender busy", len(sent))
	}
	slices.SortStableFunc(sent, func(a, b telegramtest.Call) int { return a.At.Compare(b.At) })
	// The busiest second: for each call, the calls that arrived less than 1 s after it.
	most, from := 0, 0
	for i, j := 0, 0; i < len(sent); i++ {
		for j < len(sent) && sent[j].At.Before(sent[i].At.Add(time.Second)) {
			j++
		}
		if j-i > most {
			most, from = j-i, i
		}
	}
	span := sent[len(sent)-1].At.Sub(sent[0].At)
	t.Logf("%d calls %v in %v (%.1f/s); busiest second: %d calls; least gap between two messages to one chat: %v",
		len(sent), perMethod, span.Round(time.Millisecond), float64(len(sent)-1)/span.Seconds(), most, minGap)
	if most > bot.SendRate+rateJitter {
		var b strings.Builder
		for _, c := range sent[from : from+most] {
			fmt.Fprintf(&b, "\n%s %s chat %d", c.At.Format("15:04:05.000000"), c.Method, c.ChatID)
		}
		t.Errorf("%d calls in one second, limit %d:%s", most, bot.SendRate, b.String())
	}
}
