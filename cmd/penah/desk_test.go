package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penahbot/penah/bot"
	"github.com/penahbot/penah/bot/telegramtest"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/routing"
	"github.com/penahbot/penah/internal/store/boltstore"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
	"github.com/penahbot/penah/locales"
)

// memRoster is an in-memory officer directory for the desk's tests.
type memRoster struct {
	mu       sync.Mutex
	officers []*bot.OfficerInfo
	teams    map[string]*bot.TeamInfo
}

func (r *memRoster) find(f func(*bot.OfficerInfo) bool) *bot.OfficerInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.officers {
		if f(o) {
			c := *o
			return &c
		}
	}
	return nil
}

func (r *memRoster) OfficerByTelegram(_ context.Context, id int64) (*bot.OfficerInfo, error) {
	return r.find(func(o *bot.OfficerInfo) bool { return o.ChatID == id }), nil
}

func (r *memRoster) Officer(_ context.Context, id string) (*bot.OfficerInfo, error) {
	return r.find(func(o *bot.OfficerInfo) bool { return o.ID == id }), nil
}

func (r *memRoster) TeamOfficers(_ context.Context, team string) ([]*bot.OfficerInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*bot.OfficerInfo
	for _, o := range r.officers {
		if o.Team == team {
			c := *o
			out = append(out, &c)
		}
	}
	return out, nil
}

func (r *memRoster) Team(_ context.Context, name string) (*bot.TeamInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.teams[name], nil
}

func (r *memRoster) SetOnDuty(_ context.Context, id string, on bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.officers {
		if o.ID == id {
			o.OnDuty = on
		}
	}
	return nil
}

func (r *memRoster) IsInvite(string) bool { return false }

func (r *memRoster) Redeem(context.Context, string, int64, time.Time) (*bot.OfficerInfo, error) {
	return nil, bot.ErrInvalidInvite
}

func newMemRoster() *memRoster {
	return &memRoster{
		officers: []*bot.OfficerInfo{
			{ID: "o-kmr", ChatID: 9001, Team: "default", Role: bot.RoleOfficer, Langs: []locales.Lang{locales.KMR, locales.EN}, Gender: "female", OnDuty: true, Active: true},
			{ID: "o-ar", ChatID: 9002, Team: "default", Role: bot.RoleOfficer, Langs: []locales.Lang{locales.AR}, Gender: "male", OnDuty: true, Active: true},
			{ID: "o-sup", ChatID: 9003, Team: "default", Role: bot.RoleSupervisor, Langs: []locales.Lang{locales.EN}, OnDuty: false, Active: true},
			{ID: "o-other", ChatID: 9004, Team: "erbil", Role: bot.RoleOfficer, Langs: []locales.Lang{locales.EN}, OnDuty: true, Active: true},
			{ID: "o-gone", ChatID: 9005, Team: "default", Role: bot.RoleOfficer, Langs: []locales.Lang{locales.EN}, OnDuty: true, Active: false},
		},
		teams: map[string]*bot.TeamInfo{"default": {Name: "default", Backup: "erbil"}, "erbil": {Name: "erbil"}},
	}
}

// lastText waits until the chat's newest bot message contains want, and returns it.
func lastText(t *testing.T, fake *telegramtest.Server, chat int64, want string) telegramtest.Message {
	t.Helper()
	var last telegramtest.Message
	defer func() {
		if t.Failed() {
			for _, m := range fake.BotMessages(chat) {
				t.Logf("chat %d has: %.120q", chat, m.Text)
			}
		}
	}()
	waitFor(t, fmt.Sprintf("chat %d: a message with %q", chat, want), 10*time.Second, func() bool {
		ms := fake.BotMessages(chat)
		for i := len(ms) - 1; i >= 0; i-- {
			if strings.Contains(ms[i].Text, want) {
				last = ms[i]
				return true
			}
		}
		return false
	})
	return last
}

// TestDeskReferralEndToEnd: a person in Kurmanji reports; the Kurmanji-speaking officer on duty
// gets the notice (the Arabic-speaking one does not), two officers press Claim at once and one
// wins, they talk through the bot without seeing each other's account (markup kept as text), the
// referral needs consent, the case is closed and the person told; `audit verify` passes.
func TestDeskReferralEndToEnd(t *testing.T) {
	fake := telegramtest.New(t)
	roster := newMemRoster()
	// No flood limit: the test's strangers send dozens of commands in a few seconds.
	r := startServeWith(t, fake, rigOptions{args: []string{"--flood-limit", "-1"}}, func(c *serveConfig) { c.roster = roster })
	for _, o := range roster.officers {
		fake.User(o.ChatID, telegramtest.WithLanguageCode(string(o.Lang())))
	}
	person := fake.User(7001, telegramtest.WithLanguageCode("kmr"))
	_, steps := readGolden(t, "kmr-immediate-danger.txt")
	playGolden(t, fake, person, steps)
	sent := fake.BotMessages(7001)
	confirmation := sent[len(sent)-1].Text
	ref, ok := refIn(confirmation)
	if !ok {
		t.Fatalf("no reference in %q", confirmation)
	}
	code := codeRE.FindString(strings.ReplaceAll(confirmation, ref, ""))

	notice := lastText(t, fake, 9001, ref)
	if !notice.ProtectContent || !strings.Contains(notice.Text, "P") {
		t.Errorf("notice: %+v", notice)
	}
	for _, forbidden := range []string{"+9647501234567", "blue", code} {
		if strings.Contains(notice.Text, forbidden) {
			t.Errorf("the notice shows %q; it must hold routing fields only", forbidden)
		}
	}
	if len(fake.BotMessages(9002)) != 0 {
		t.Error("the Arabic-speaking officer was notified although a Kurmanji-speaking one is on duty")
	}

	// Both officers press Claim at the same moment: one wins, the other is told.
	kmr, ar := fake.User(9001), fake.User(9002)
	kmr.SendText("/queue")
	ar.SendText("/queue")
	lastText(t, fake, 9002, ref)
	claim := "d:c:" + ref
	var wg sync.WaitGroup
	for _, p := range []*telegramtest.Person{kmr, ar} {
		wg.Add(1)
		go func() { defer wg.Done(); p.Press(claim) }()
	}
	wg.Wait()
	won := func(chat int64) bool {
		for _, m := range fake.BotMessages(chat) {
			if strings.Contains(m.Text, "Doza "+ref+" ya te ye") || strings.Contains(m.Text, "الحالة "+ref+" أصبحت لديك") {
				return true
			}
		}
		return false
	}
	waitFor(t, "the claim outcome", 10*time.Second, func() bool {
		told := func(chat int64) bool {
			for _, m := range fake.BotMessages(chat) {
				if strings.Contains(m.Text, "o-kmr") || strings.Contains(m.Text, "o-ar") {
					return true
				}
			}
			return false
		}
		return (won(9001) && told(9002)) || (won(9002) && told(9001))
	})
	if won(9001) == won(9002) {
		t.Fatal("both or neither officer won the claim")
	}
	holder, holderChat := kmr, int64(9001)
	if won(9002) {
		holder, holderChat = ar, 9002
	}

	// The officer writes (markup-looking text stays text); the first message carries the code.
	officerText := `<b>Silav</b> & *x* \(y\) — ez ê alîkariya te bikim`
	holder.SendText("/msg " + ref + " " + officerText)
	got := lastText(t, fake, 7001, "Silav")
	if !strings.Contains(got.Text, officerText) || !strings.Contains(got.Text, code) {
		t.Fatalf("the person got %q; want the officer's exact text and the code %s", got.Text, code)
	}
	// The person answers; the officer gets it tagged with the reference.
	personText := "Spas. <i>ez</i> li Dihokê me"
	person.SendText(personText)
	fromPerson := lastText(t, fake, holderChat, "ez</i> li Dihokê")
	if !strings.Contains(fromPerson.Text, ref) || !strings.Contains(fromPerson.Text, personText) {
		t.Fatalf("the officer got %q", fromPerson.Text)
	}
	// Neither side's account shows: no user id, name or username in what the other sees.
	for _, m := range fake.BotMessages(7001) {
		if strings.Contains(m.Text, "9001") || strings.Contains(m.Text, "9002") || strings.Contains(m.Text, "o-kmr") || strings.Contains(m.Text, "o-ar") {
			t.Errorf("the person sees an officer's identity: %q", m.Text)
		}
	}
	if strings.Contains(fromPerson.Text, "7001") {
		t.Errorf("the officer sees the person's account: %q", fromPerson.Text)
	}

	// Referral: refused without consent (legal), recorded with it (health).
	holder.SendText("/refer " + ref + " legal")
	lastText(t, fake, holderChat, "legal")
	holder.SendText("/refer " + ref + " health")
	lastText(t, fake, holderChat, "health")
	holder.SendText("/close " + ref + " referred_health")
	lastText(t, fake, holderChat, "referred_health")
	closed := lastText(t, fake, 7001, "Daxwaza te "+ref+" hat girtin")
	if len(closed.Keyboard) == 0 {
		t.Fatalf("the person's closing message offers no information button: %+v", closed)
	}
	n := len(fake.BotMessages(7001))
	info := pressLast(t, person, closed.Keyboard[0][0].CallbackData)
	waitFor(t, "the information button answered", 10*time.Second, func() bool { _, ok := fake.CallbackAnswer(info); return ok })
	if ms := waitMessages(t, fake, 7001, n+1); !strings.Contains(ms[n].Text, "Ji kerema xwe zimanê xwe hilbijêre") {
		t.Errorf("the information button started %q, want the information flow's language picker", ms[n].Text)
	}
	person.SendText("/status")
	lastText(t, fake, 7001, "hatiye girtin")

	// Strangers: another team's officer, a disabled officer, a random account and the person
	// try officer commands on the real reference and a guessed one; each answer is the same.
	fake.User(7999)
	var refusals []string
	const guess = "KQ7M-X9DA-2F4H-8JNP"
	caseCmds := []string{"/case %s", "/release %s", "/close %s duplicate", "/refer %s health", "/note %s hello", "/msg %s hello"}
	tries := 0
	for _, chat := range []int64{9004, 9005, 7999, 7001} {
		p := fake.User(chat)
		var cmds []string
		for _, r := range []string{ref, guess} {
			for _, c := range caseCmds {
				cmds = append(cmds, fmt.Sprintf(c, r))
			}
			cmds = append(cmds, "press:d:c:"+r)
		}
		if chat != 9004 { // an active officer of another team may use /duty, /queue and /mine for their own team
			cmds = append(cmds, "/duty", "/queue", "/mine")
		}
		for _, cmd := range cmds {
			n := len(fake.BotMessages(chat))
			if data, ok := strings.CutPrefix(cmd, "press:"); ok {
				// A Claim button, as if copied from someone else's notice: sent as the update
				// Telegram would deliver for a press on a message of this chat.
				id := pressForged(t, fake, p, data)
				waitFor(t, "the press answered", 10*time.Second, func() bool { _, ok := fake.CallbackAnswer(id); return ok })
				ms := waitMessages(t, fake, chat, n+1) // the refusal, before the next try
				refusals = append(refusals, ms[len(ms)-1].Text)
			} else {
				p.SendText(cmd)
				ms := waitMessages(t, fake, chat, n+1)
				refusals = append(refusals, ms[len(ms)-1].Text)
			}
			tries++
		}
	}
	for _, txt := range refusals {
		if txt != "Not available." && txt != "Ne berdest e." {
			t.Errorf("a refusal is not the one neutral line: %q", txt)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "", "audit", "verify", "--data", r.data)
	if err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	st, err := boltstore.Open(filepath.Join(r.data, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := st.AuditEntries(context.Background(), 0, intake.MaxBatch)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, e := range entries {
		actions[e.Actor+" "+e.Action]++
	}
	holderID := map[int64]string{9001: "o-kmr", 9002: "o-ar"}[holderChat]
	for _, want := range []string{holderID + " claimed", holderID + " relayed to person", "person relayed to officer",
		holderID + " referral refused", holderID + " referred", holderID + " closed", "o-other refused", "o-gone refused", "unknown refused"} {
		if actions[want] == 0 {
			t.Errorf("no audit entry %q in %v", want, actions)
		}
	}
	if n := actions["o-other refused"] + actions["o-gone refused"] + actions["unknown refused"]; n != tries {
		t.Errorf("%d refusals of strangers audited, want %d (one per try)", n, tries)
	}
	list, _, _ := runCmd(t, "", "cases", "list", "--data", r.data)
	if !strings.Contains(list, "closed") {
		t.Errorf("the case is not closed:\n%s", list)
	}
}

// refIn finds a case reference in a text.
func refIn(text string) (string, bool) {
	m := refRE.FindString(text)
	return m, m != ""
}

// TestDeskSLAEscalation: with an injected clock, an unclaimed P1 case is reminded to the team at
// half its SLA, escalated to the supervisors at the breach and to the backup team half an SLA
// later, each once, although it is outside working hours; a P2 case waits for the team's hours.
func TestDeskSLAEscalation(t *testing.T) {
	fake := telegramtest.New(t)
	clock := telegramtest.NewManualClock(time.Now())
	roster := newMemRoster()
	var open atomic.Bool
	roster.teams["default"].Within = func(time.Time) bool { return open.Load() }
	roster.teams["default"].NextOpen = func(t time.Time) time.Time { return t.Add(24 * time.Hour) }
	startServeWith(t, fake, rigOptions{}, func(c *serveConfig) {
		c.roster, c.now, c.slaEvery = roster, clock.Now, 20*time.Millisecond
		c.route = func(cs *intake.Case) (intake.Route, error) {
			p := 2
			if slices.Contains(cs.Routing["urgency"], "immediate") {
				p = 1
			}
			return intake.Route{Team: "default", Priority: p, SLA: time.Hour}, nil
		}
	})
	for _, o := range roster.officers {
		fake.User(o.ChatID)
	}
	refOf := func(chat int64, script string) string {
		p := fake.User(chat, telegramtest.WithLanguageCode("en"))
		_, steps := readGolden(t, script)
		playGolden(t, fake, p, steps)
		ms := fake.BotMessages(chat)
		ref, _ := refIn(ms[len(ms)-1].Text)
		return ref
	}
	p1 := refOf(7101, "en-immediate-danger.txt")
	p2 := refOf(7102, "en-skip-everything.txt")
	count := func(chat int64, words ...string) int {
		n := 0
		for _, m := range fake.BotMessages(chat) {
			all := true
			for _, w := range words {
				all = all && strings.Contains(m.Text, w)
			}
			if all {
				n++
			}
		}
		return n
	}
	clock.Advance(31 * time.Minute)
	lastText(t, fake, 9001, "Bîranîn: doza "+p1) // the Kurmanji-speaking officer reads Kurmanji
	clock.Advance(30 * time.Minute)
	lastText(t, fake, 9003, "Escalated: case "+p1)
	clock.Advance(30 * time.Minute)
	lastText(t, fake, 9004, "Escalated: case "+p1)
	time.Sleep(200 * time.Millisecond) // ten more rounds of the scheduler
	if n := count(9001, "Bîranîn", p1); n != 1 {
		t.Errorf("the team was reminded %d times, want once", n)
	}
	if n := count(9003, "Escalated", p1); n != 1 {
		t.Errorf("the supervisor was told %d times, want once", n)
	}
	if n := count(9004, "Escalated", p1); n != 1 {
		t.Errorf("the backup team was told %d times, want once", n)
	}
	if n := count(9001, p2) + count(9003, "Escalated", p2); n > 1 { // the new-case notice only
		t.Errorf("the P2 case was reminded or escalated outside working hours (%d messages)", n)
	}
	open.Store(true)
	clock.Advance(24 * time.Hour)
	lastText(t, fake, 9003, "Escalated: case "+p2)
}

// TestServeRoutingNeedsTeamKeys: rules that send cases to a team without a key are refused at
// start, so no case can be sealed for nobody.
func TestServeRoutingNeedsTeamKeys(t *testing.T) {
	fake := telegramtest.New(t)
	rules := filepath.Join(t.TempDir(), "routing.yaml")
	text := strings.Replace(string(routing.DefaultYAML()), "  # - name: duhok-kurmanji\n  #   when: {governorate: [duhok], language: [kmr]}\n  #   team: duhok\n",
		"  - name: duhok-kurmanji\n    when: {governorate: [duhok], language: [kmr]}\n    team: duhok\n", 1)
	if !strings.Contains(text, "\n    team: duhok\n") {
		t.Fatalf("could not add a team rule to the shipped rules:\n%s", text)
	}
	if err := os.WriteFile(rules, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	err := run(ctx, []string{"serve", "--telegram-api", fake.URL(), "--telegram-token", fake.Token(), "--dev", "--data", t.TempDir(), "--routing", rules},
		func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "duhok") {
		t.Fatalf("serve with a rule for a team without a key: %v", err)
	}
}

// newestSince returns the bot's messages to chat after the first n.
func newestSince(fake *telegramtest.Server, chat int64, n int) []telegramtest.Message {
	ms := fake.BotMessages(chat)
	if len(ms) <= n {
		return nil
	}
	return ms[n:]
}

// TestDeskClaimRace: two officers press Claim on the same case at the same moment, 100 times
// (the winner releases it between rounds): exactly one wins every time and the other is told.
func TestDeskClaimRace(t *testing.T) {
	if testing.Short() {
		t.Skip("100 rounds through the fake Bot API")
	}
	fake := telegramtest.New(t)
	roster := newMemRoster()
	roster.officers[1].Langs = []locales.Lang{locales.EN} // both read English
	roster.officers[0].Langs = []locales.Lang{locales.EN}
	startServeWith(t, fake, rigOptions{args: []string{"--flood-limit", "-1"}}, func(c *serveConfig) { c.roster = roster })
	a, b := fake.User(9001), fake.User(9002)
	person := fake.User(7201, telegramtest.WithLanguageCode("en"))
	ref := submitCase(t, fake, person, "en-skip-everything.txt")
	lastText(t, fake, 9001, ref)
	lastText(t, fake, 9002, ref)
	for round := 0; round < 100; round++ {
		na, nb := len(fake.BotMessages(9001)), len(fake.BotMessages(9002))
		var wg sync.WaitGroup
		for _, p := range []*telegramtest.Person{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := p.Press("d:c:" + ref); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		waitFor(t, fmt.Sprintf("round %d: both answered", round), 10*time.Second, func() bool {
			return len(newestSince(fake, 9001, na)) > 0 && len(newestSince(fake, 9002, nb)) > 0
		})
		wins := 0
		var winner *telegramtest.Person
		for _, o := range []struct {
			p    *telegramtest.Person
			chat int64
			n    int
		}{{a, 9001, na}, {b, 9002, nb}} {
			first := newestSince(fake, o.chat, o.n)[0].Text
			switch {
			case strings.Contains(first, "is yours"):
				wins++
				winner = o.p
			case !strings.Contains(first, "already been claimed by o-"):
				t.Fatalf("round %d: chat %d got %q", round, o.chat, first)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d officers won the claim", round, wins)
		}
		n := len(fake.BotMessages(winner.ChatID()))
		winner.SendText("/release " + ref)
		waitFor(t, "the release", 10*time.Second, func() bool {
			for _, m := range newestSince(fake, winner.ChatID(), n) {
				if strings.Contains(m.Text, "back in the queue") {
					return true
				}
			}
			return false
		})
	}
}

// TestDeskRelayArabicAndBlocked: the relay in Arabic with markup-looking text both ways; when
// the person has blocked the bot, the officer is told.
func TestDeskRelayArabicAndBlocked(t *testing.T) {
	fake := telegramtest.New(t)
	roster := newMemRoster()
	startServeWith(t, fake, rigOptions{}, func(c *serveConfig) { c.roster = roster })
	officer := fake.User(9002)
	person := fake.User(7301, telegramtest.WithLanguageCode("ar"))
	ref := submitCase(t, fake, person, "ar-skip-everything.txt")
	lastText(t, fake, 9002, ref)
	officer.Press("d:c:" + ref)
	lastText(t, fake, 9002, "أصبحت لديك")
	text := `مرحبا <script>alert(1)</script> & <a href="x">رابط</a>`
	officer.SendText("/msg " + ref + " " + text)
	got := lastText(t, fake, 7301, "مرحبا")
	if !strings.Contains(got.Text, text) || len(got.Entities) != 0 {
		t.Fatalf("the person got %q with entities %v; want the officer's text as plain text", got.Text, got.Entities)
	}
	person.SendText("شكرا <b>جزيلا</b>")
	relayed := lastText(t, fake, 9002, "جزيلا")
	if !strings.Contains(relayed.Text, "شكرا <b>جزيلا</b>") || len(relayed.Entities) != 0 {
		t.Fatalf("the officer got %q", relayed.Text)
	}
	// The officer answers by replying to the person's relayed message: the reference in it
	// names the case.
	officer.Reply(relayed.ID, "أهلا *بك*")
	if got := lastText(t, fake, 7301, "أهلا"); !strings.Contains(got.Text, "أهلا *بك*") {
		t.Fatalf("the reply reached the person as %q", got.Text)
	}
	n := len(fake.BotMessages(9002))
	person.Block()
	officer.SendText("/msg " + ref + " هل أنت بخير؟")
	waitFor(t, "the officer told of the block", 10*time.Second, func() bool {
		for _, m := range newestSince(fake, 9002, n) {
			if strings.Contains(m.Text, "بحظر البوت") {
				return true
			}
		}
		return false
	})
}

// playLoose plays a golden script's inputs (possibly changed) without comparing the replies:
// after each input it waits for as many messages or edits as the golden had.
func playLoose(t *testing.T, fake *telegramtest.Server, p *telegramtest.Person, steps []step) {
	t.Helper()
	chat := p.ChatID()
	for _, st := range steps {
		before := botOutput(fake, chat)
		sendStep(t, fake, p, st)
		waitFor(t, fmt.Sprintf("line %d: replies", st.line), 10*time.Second, func() bool {
			return botOutput(fake, chat) >= before+len(st.replies)
		})
	}
}

// TestDeskDuhokKurmanji is issue 6's "done when", on the real directory and routing rules: a
// person in Duhok who speaks Kurmanji and reports forced labour is routed to the Duhok team, its
// on-duty Kurmanji-speaking officer claims the case, they talk through the bot, the officer
// refers with consent and closes; another, unclaimed P1 case is reminded and escalated on time;
// `penah audit verify` passes.
func TestDeskDuhokKurmanji(t *testing.T) {
	data := t.TempDir()
	noenv := func(string) string { return "" }
	c, err := openCore(context.Background(), data, noenv, true, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	for _, args := range [][]string{
		{"teams", "add", "default", "--languages", "all", "--governorates", "all"},
		{"teams", "add", "duhok", "--languages", "kmr,ar", "--governorates", "duhok", "--backup", "default", "--sla", "1=15m,2=4h,3=24h"},
		{"officers", "add", "--team", "duhok", "--role", "officer", "--telegram-id", "9101", "--languages", "kmr", "--gender", "female"},
		{"officers", "add", "--team", "duhok", "--role", "supervisor", "--telegram-id", "9102", "--languages", "en"},
		{"officers", "add", "--team", "default", "--role", "officer", "--telegram-id", "9103", "--languages", "en"},
	} {
		if out, errOut, err := runCmd(t, "", append(args, "--data", data)...); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errOut)
		}
	}
	rules := filepath.Join(t.TempDir(), "routing.yaml")
	text := strings.Replace(string(routing.DefaultYAML()), "  # - name: duhok-kurmanji\n  #   when: {governorate: [duhok], language: [kmr]}\n  #   team: duhok\n",
		"  - name: duhok-kurmanji\n    when: {governorate: [duhok], language: [kmr]}\n    team: duhok\n", 1)
	if err := os.WriteFile(rules, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := telegramtest.New(t)
	clock := telegramtest.NewManualClock(time.Now())
	r := startServeWith(t, fake, rigOptions{data: data, args: []string{"--routing", rules}}, func(c *serveConfig) {
		c.now, c.slaEvery = clock.Now, 20*time.Millisecond
	})
	officer := fake.User(9101, telegramtest.WithLanguageCode("ku"))
	fake.User(9102) // the supervisor
	fake.User(9103) // an officer of the default team
	officer.SendText("/duty")
	lastText(t, fake, 9101, "Tu niha li ser kar î")

	// Forced labour in Duhok, in Kurmanji: the golden immediate-danger conversation with the
	// topic and the governorate changed.
	_, steps := readGolden(t, "kmr-immediate-danger.txt")
	for i := range steps {
		switch steps[i].line {
		case 95:
			steps[i].button = 4 // topic: forced work
		case 129:
			steps[i].button = 1 // governorate: Duhok
		}
	}
	person := fake.User(7401, telegramtest.WithLanguageCode("kmr"))
	playLoose(t, fake, person, steps)
	ms := fake.BotMessages(7401)
	ref, ok := refIn(ms[len(ms)-1].Text)
	if !ok {
		t.Fatalf("no case reference in %q", ms[len(ms)-1].Text)
	}
	notice := lastText(t, fake, 9101, ref)
	if !strings.Contains(notice.Text, "P1") || !strings.Contains(notice.Text, "Dihok") {
		t.Errorf("notice %q: want priority 1 (immediate danger) and Duhok", notice.Text)
	}
	if n := len(fake.BotMessages(9103)); n != 0 {
		t.Errorf("the default team's officer got %d messages about a Duhok case", n)
	}
	officer.Press("d:c:" + ref)
	lastText(t, fake, 9101, "Doza "+ref+" ya te ye")
	officer.SendText("/msg " + ref + " Silav, ez karmenda parastinê me.")
	lastText(t, fake, 7401, "Silav, ez karmenda parastinê me.")
	person.SendText("Spas, ez amade me.")
	lastText(t, fake, 9101, "Spas, ez amade me.")
	officer.SendText("/refer " + ref + " legal")
	lastText(t, fake, 9101, "Hat redkirin")
	officer.SendText("/refer " + ref + " health")
	lastText(t, fake, 9101, "hat tomarkirin")
	officer.SendText("/close " + ref + " referred_health")
	lastText(t, fake, 9101, "referred_health")
	lastText(t, fake, 7401, "Daxwaza te "+ref+" hat girtin")
	officer.SendText("/refer " + ref + " psychosocial") // an illegal step on a closed case
	lastText(t, fake, 9101, "di rewşa closed de ye")

	// An unclaimed P1 case: reminded to the team at 7.5 minutes, escalated to the supervisor at 15.
	second := fake.User(7402, telegramtest.WithLanguageCode("kmr"))
	playLoose(t, fake, second, steps)
	ms = fake.BotMessages(7402)
	ref2, _ := refIn(ms[len(ms)-1].Text)
	clock.Advance(8 * time.Minute)
	lastText(t, fake, 9101, "Bîranîn: doza "+ref2)
	clock.Advance(8 * time.Minute)
	lastText(t, fake, 9102, "Escalated: case "+ref2)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "", "audit", "verify", "--data", data)
	if err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	list, _, _ := runCmd(t, "", "cases", "list", "--data", data)
	if !strings.Contains(list, ref+"  closed     duhok") {
		t.Errorf("the case is not closed in team duhok:\n%s", list)
	}
}

// TestDeskInvitesAndDisableOnRedis: on Redis (so the CLI can change the directory while serve
// runs), an invite link registers the account that opens it, once; a used or expired invite is
// refused like any other; a disabled officer loses access at once, old Claim buttons included.
func TestDeskInvitesAndDisableOnRedis(t *testing.T) {
	url, stop, _ := redistest.Start(t)
	defer stop()
	data := t.TempDir()
	env := map[string]string{"PENAH_STORE": url}
	getenv := func(k string) string { return env[k] }
	c, err := openCoreWith(context.Background(), data, url, getenv, true, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, err := runCmdEnv(t, env, append(args, "--data", data)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errOut)
		}
		return out
	}
	cli("teams", "add", "default", "--languages", "all", "--governorates", "all")
	invite := func() string {
		out := cli("officers", "invite", "--team", "default", "--role", "officer", "--bot-username", "PenahBot", "--languages", "en")
		_, token, ok := strings.Cut(strings.Fields(out)[0], "?start=")
		if !ok {
			t.Fatalf("no link in %q", out)
		}
		return token
	}
	token := invite()
	fake := telegramtest.New(t)
	clock := telegramtest.NewManualClock(time.Now())
	startServeWith(t, fake, rigOptions{data: data, args: []string{"--store", url}}, func(c *serveConfig) { c.now = clock.Now })

	officer := fake.User(9201, telegramtest.WithLanguageCode("en"))
	officer.SendText("/start " + token)
	lastText(t, fake, 9201, "You are registered as officer in team default")
	thief := fake.User(9202, telegramtest.WithLanguageCode("en"))
	thief.SendText("/start " + token) // the same link again
	lastText(t, fake, 9202, "Not available.")
	late := invite()
	clock.Advance(73 * time.Hour)
	fake.User(9203).SendText("/start " + late)
	lastText(t, fake, 9203, "Not available.")

	officer.SendText("/duty")
	lastText(t, fake, 9201, "You are on duty")
	person := fake.User(7501, telegramtest.WithLanguageCode("en"))
	_, steps := readGolden(t, "en-skip-everything.txt")
	clock.Advance(-73 * time.Hour)
	playGolden(t, fake, person, steps)
	ms := fake.BotMessages(7501)
	ref, _ := refIn(ms[len(ms)-1].Text)
	lastText(t, fake, 9201, ref)

	var id string
	for _, line := range strings.Split(cli("officers", "list"), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "o-") {
			id = f[0]
		}
	}
	if id == "" {
		t.Fatal("the registered officer is not listed")
	}
	cli("officers", "disable", id)
	n := len(fake.BotMessages(9201))
	if _, err := officer.Press("d:c:" + ref); err != nil { // the Claim button of the old notice
		t.Fatal(err)
	}
	officer.SendText("/queue")
	waitMessages(t, fake, 9201, n+2)
	for _, m := range newestSince(fake, 9201, n) {
		if m.Text != "Not available." {
			t.Errorf("a disabled officer got %q", m.Text)
		}
	}
	list, _, _ := runCmdEnv(t, env, "cases", "list", "--data", data)
	if !strings.Contains(list, "queued") {
		t.Errorf("the disabled officer's press claimed the case:\n%s", list)
	}
}

// pressForged makes the person press a button with the given data: the bot's message in their
// chat gets it first (a button they could only have by forging or copying it).
func pressForged(t *testing.T, fake *telegramtest.Server, p *telegramtest.Person, data string) string {
	t.Helper()
	id, err := p.PressForged(data)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestDeskIdleReminder: a claimed case its officer has not touched for --idle-reminder is
// reminded to that officer, once per idle stretch.
func TestDeskIdleReminder(t *testing.T) {
	fake := telegramtest.New(t)
	clock := telegramtest.NewManualClock(time.Now())
	roster := newMemRoster()
	roster.officers[2].OnDuty = true // the supervisor, who reads English, is on duty
	startServeWith(t, fake, rigOptions{args: []string{"--idle-reminder", "2h"}}, func(c *serveConfig) {
		c.roster, c.now, c.slaEvery = roster, clock.Now, 20*time.Millisecond
	})
	officer := fake.User(9003)
	person := fake.User(7601, telegramtest.WithLanguageCode("en"))
	ref := submitCase(t, fake, person, "en-skip-everything.txt")
	lastText(t, fake, 9003, ref)
	officer.Press("d:c:" + ref)
	lastText(t, fake, 9003, "is yours")
	clock.Advance(3 * time.Hour)
	lastText(t, fake, 9003, "Reminder: nothing has been done on your case "+ref)
	time.Sleep(200 * time.Millisecond)
	n := 0
	for _, m := range fake.BotMessages(9003) {
		if strings.Contains(m.Text, "nothing has been done") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d idle reminders, want 1", n)
	}
}

// submitCase plays a golden intake for the person and returns the reference of the case it sent.
func submitCase(t *testing.T, fake *telegramtest.Server, p *telegramtest.Person, script string) string {
	t.Helper()
	_, steps := readGolden(t, script)
	playGolden(t, fake, p, steps)
	ms := fake.BotMessages(p.ChatID())
	ref, ok := refIn(ms[len(ms)-1].Text)
	if !ok {
		t.Fatalf("no case reference in %q", ms[len(ms)-1].Text)
	}
	return ref
}
