package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penahbot/penah/bot"
	"github.com/penahbot/penah/bot/telegramtest"
	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
	"github.com/penahbot/penah/internal/vault"
)

// waitMessages waits until the bot has sent n messages to the person's chat.
func waitMessages(t *testing.T, fake *telegramtest.Server, chat int64, n int) []telegramtest.Message {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d bot messages in chat %d", n, chat), 15*time.Second, func() bool {
		return len(fake.BotMessages(chat)) >= n
	})
	return fake.BotMessages(chat)
}

// pressLast presses button label (or data) on the newest bot message that has it.
func pressLast(t *testing.T, p *telegramtest.Person, labelOrData string) string {
	t.Helper()
	id, err := p.Press(labelOrData)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// deletedIDs returns every message id the bot asked to delete in chat, by deleteMessages or
// deleteMessage, in call order.
func deletedIDs(t *testing.T, fake *telegramtest.Server, chat int64) []int {
	t.Helper()
	var ids []int
	for _, c := range fake.CallsTo("deleteMessages", chat) {
		var batch []int
		if err := json.Unmarshal([]byte(c.Params.Get("message_ids")), &batch); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, batch...)
	}
	for _, c := range fake.CallsTo("deleteMessage", chat) {
		var id int
		fmt.Sscan(c.Params.Get("message_id"), &id)
		ids = append(ids, id)
	}
	return ids
}

// TestServeExitDeletesEveryTrackedMessage: /exit deletes every message of the conversation, both
// sides, the /exit itself included, with exactly those deleteMessages ids, and leaves one neutral
// line.
func TestServeExitDeletesEveryTrackedMessage(t *testing.T) {
	fake := telegramtest.New(t)
	startServe(t, fake, rigOptions{})
	p := fake.User(501, telegramtest.WithLanguageCode("ar"))
	p.SendText("/start")
	waitMessages(t, fake, 501, 1)
	pressLast(t, p, "العربية")
	waitMessages(t, fake, 501, 2)
	pressLast(t, p, "نعم")
	waitMessages(t, fake, 501, 4)
	p.SendText("/exit")
	waitFor(t, "the clear", 10*time.Second, func() bool { v := fake.Visible(501); return len(v) == 1 && v[0].FromBot })

	all := fake.Transcript(501)
	var want []int
	for _, m := range all[:len(all)-1] { // all but the final line
		want = append(want, m.ID)
	}
	got := deletedIDs(t, fake, 501)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("deleted ids %v, want exactly %v", got, want)
	}
	final := fake.Visible(501)[0]
	if strings.TrimPrefix(final.Text, "\u200F") != "مع السلامة." || len(final.Keyboard) != 0 {
		t.Errorf("the line left is %q with %d button rows, want the neutral goodbye alone", final.Text, len(final.Keyboard))
	}
	for _, c := range fake.CallsTo("deleteMessages", 501) {
		if !c.OK() {
			t.Errorf("deleteMessages failed: %d %s", c.ErrorCode, c.Description)
		}
	}
}

// TestServeExitAfter48Hours: messages older than Telegram's 48-hour window are not attempted, the
// newer ones are deleted, and the person is told that some could not be cleared.
func TestServeExitAfter48Hours(t *testing.T) {
	clock := telegramtest.NewManualClock(time.Now())
	fake := telegramtest.New(t, telegramtest.WithClock(clock))
	r := rigOptions{}
	startServeWith(t, fake, r, func(c *serveConfig) { c.telegramNow = clock.Now })
	p := fake.User(502, telegramtest.WithLanguageCode("en"))
	p.SendText("/start")
	waitMessages(t, fake, 502, 1)
	old := fake.Transcript(502)
	clock.Advance(49 * time.Hour)
	pressLast(t, p, "English")
	waitMessages(t, fake, 502, 2)
	p.SendText("/exit")
	waitFor(t, "the clear", 10*time.Second, func() bool {
		ms := fake.BotMessages(502)
		return len(ms) >= 3 && strings.HasPrefix(ms[len(ms)-1].Text, "Goodbye.")
	})
	oldIDs := map[int]bool{}
	for _, m := range old {
		oldIDs[m.ID] = true
	}
	var newIDs []int
	for _, m := range fake.Transcript(502) {
		if !oldIDs[m.ID] && !strings.HasPrefix(m.Text, "Goodbye.") {
			newIDs = append(newIDs, m.ID)
		}
	}
	got := deletedIDs(t, fake, 502)
	slices.Sort(got)
	if !slices.Equal(got, newIDs) {
		t.Fatalf("deleted %v, want only the messages inside the window %v (old ones %v never attempted)", got, newIDs, old)
	}
	last := fake.BotMessages(502)
	final := last[len(last)-1].Text
	if !strings.Contains(final, "Some older messages could not be removed") {
		t.Errorf("final line %q does not say that older messages remain", final)
	}
	for _, m := range old {
		if mm, _ := fake.Message(502, m.ID); mm.Deleted {
			t.Errorf("message %d older than 48 h was deleted", m.ID)
		}
	}
}

// startServeWith is startServe with a hook to adjust the configuration.
func startServeWith(t *testing.T, fake *telegramtest.Server, o rigOptions, adjust func(*serveConfig)) *serveRig {
	t.Helper()
	o.adjust = adjust
	return startServe(t, fake, o)
}

// TestServeButtons: a double tap is processed once (the second press is answered and changes
// nothing), a button of an old message is recognised, and every press is answered.
func TestServeButtons(t *testing.T) {
	fake := telegramtest.New(t)
	startServe(t, fake, rigOptions{})
	p := fake.User(503, telegramtest.WithLanguageCode("en"))
	p.SendText("/start")
	picker := waitMessages(t, fake, 503, 1)[0]
	q1 := pressLast(t, p, "English")
	q2, err := p.PressOn(picker.ID, "English") // the same button again at once
	if err != nil {
		t.Fatal(err)
	}
	ms := waitMessages(t, fake, 503, 2)
	safe := ms[1]
	if !strings.Contains(safe.Text, "safe") {
		t.Fatalf("after the language, got %q", safe.Text)
	}
	pressLast(t, p, "Yes")
	waitMessages(t, fake, 503, 4)
	time.Sleep(300 * time.Millisecond) // let a wrongly doubled reply show up
	// An old button: "Not now" on the safety question, which is no longer current. (Its "Yes"
	// again within engine.DoubleTapWindow would be a double tap, ignored.)
	before := len(fake.BotMessages(503))
	q3, err := p.PressOn(safe.ID, "Not now")
	if err != nil {
		t.Fatal(err)
	}
	ms = waitMessages(t, fake, 503, before+1)
	if !strings.Contains(ms[len(ms)-1].Text, "earlier message") {
		t.Errorf("a press on an old message got %q, want the stale-button notice and the current question", ms[len(ms)-1].Text)
	}
	for _, id := range []string{q1, q2, q3} {
		waitFor(t, "callback answer "+id, 5*time.Second, func() bool { _, ok := fake.CallbackAnswer(id); return ok })
	}
	// The double tap: one language reply ("Is it safe…") only.
	n := 0
	for _, m := range fake.BotMessages(503) {
		if m.ID != safe.ID && m.Text == safe.Text {
			n++
		}
	}
	if n > 0 {
		t.Errorf("the double tap showed the safety question %d extra times", n)
	}
}

// TestServeOrderAndManyChats: two messages of one chat sent back to back are processed in
// order, and 200 chats at once each get their replies.
func TestServeOrderAndManyChats(t *testing.T) {
	fake := telegramtest.New(t)
	startServe(t, fake, rigOptions{args: []string{"--workers", "16"}})
	const chats = 200
	people := make([]*telegramtest.Person, chats)
	for i := range people {
		people[i] = fake.User(int64(10_000+i), telegramtest.WithLanguageCode("en"))
		people[i].SendText("/start")
		people[i].SendText("/help")
	}
	for _, p := range people {
		ms := waitMessages(t, fake, p.ChatID(), 2)
		if !strings.Contains(ms[0].Text, "choose your language") || !strings.Contains(ms[1].Text, "/back") {
			t.Fatalf("chat %d: replies out of order: %q then %q", p.ChatID(), ms[0].Text, ms[1].Text)
		}
	}
}

// TestServeRateLimitStorm: with 429 retry_after=3 for one chat, nothing goes to that chat for
// 3 s, then every reply arrives exactly once; another chat is not held up.
func TestServeRateLimitStorm(t *testing.T) {
	fake := telegramtest.New(t)
	startServe(t, fake, rigOptions{})
	const storm, calm = 601, 602
	fake.Inject(telegramtest.TooManyRequests("sendMessage", storm, 3, 1))
	p := fake.User(storm, telegramtest.WithLanguageCode("en"))
	q := fake.User(calm, telegramtest.WithLanguageCode("en"))
	p.SendText("/start")
	p.SendText("/help")
	p.SendText("/help")
	q.SendText("/start")
	waitMessages(t, fake, calm, 1)
	ms := waitMessages(t, fake, storm, 3)
	var limited time.Time
	for _, c := range fake.CallsTo("sendMessage", storm) {
		if c.ErrorCode == http.StatusTooManyRequests {
			limited = c.At
			continue
		}
		if limited.IsZero() {
			t.Fatal("a message went out before the 429")
		}
		if gap := c.At.Sub(limited); gap < 3*time.Second {
			t.Errorf("a message went to the limited chat %v after the 429 (retry_after 3 s)", gap)
		}
	}
	if calmAt := fake.CallsTo("sendMessage", calm)[0].At; calmAt.Sub(limited) > 2*time.Second {
		t.Errorf("the other chat waited %v", calmAt.Sub(limited))
	}
	time.Sleep(300 * time.Millisecond)
	if got := len(fake.BotMessages(storm)); got != 3 || !strings.Contains(ms[0].Text, "language") {
		t.Errorf("after the storm the chat has %d messages (want 3, the first the picker: %q)", got, ms[0].Text)
	}
}

// TestServeDeclinesWhatItCannotRead: stickers, photos, voice, documents, locations, contacts and
// edits get one polite notice each; a group gets a refusal and no intake.
func TestServeDeclinesWhatItCannotRead(t *testing.T) {
	fake := telegramtest.New(t)
	r := startServe(t, fake, rigOptions{})
	p := fake.User(701, telegramtest.WithLanguageCode("kmr"))
	sends := []func() telegramtest.Sent{
		func() telegramtest.Sent { return p.SendSticker("🙂") },
		p.SendPhoto,
		func() telegramtest.Sent { return p.SendVoice(3) },
		func() telegramtest.Sent { return p.SendDocument("x.pdf") },
		func() telegramtest.Sent { return p.SendLocation(36.86, 42.99) },
		func() telegramtest.Sent { return p.SendContact("+9647501234567", "CANARY") },
	}
	for i, send := range sends {
		send()
		ms := waitMessages(t, fake, 701, i+1)
		if !strings.Contains(ms[i].Text, "tenê dikarim peyamên nivîsandî") {
			t.Fatalf("media %d: reply %q, want the Kurmanji decline", i, ms[i].Text)
		}
	}
	sent := p.SendText("CANARY first text")
	waitMessages(t, fake, 701, len(sends)+1)
	if _, err := p.Edit(sent.Message.ID, "CANARY edited"); err != nil {
		t.Fatal(err)
	}
	ms := waitMessages(t, fake, 701, len(sends)+2)
	if !strings.Contains(ms[len(ms)-1].Text, "Guhertinên peyameke") {
		t.Errorf("edit: reply %q, want the edit notice", ms[len(ms)-1].Text)
	}
	g := fake.GroupMember(-800, 702, telegramtest.WithLanguageCode("en"))
	g.SendText("/start")
	gm := waitMessages(t, fake, -800, 1)
	if gm[0].Text != "This bot works only in private chats." || len(gm[0].Keyboard) != 0 {
		t.Errorf("group: reply %q, want the refusal alone", gm[0].Text)
	}
	assertNoPersonalData(t, r.logs.String())
}

// TestServeHostileText: 4096-character texts mixing Arabic, Kurdish, emoji, an RTL override and
// zero-width characters, and markup-looking text, are accepted without a failed send; the answer
// is sealed and opens back exactly.
func TestServeHostileText(t *testing.T) {
	fake := telegramtest.New(t)
	r := startServe(t, fake, rigOptions{})
	p := fake.User(801, telegramtest.WithLanguageCode("en"))
	unit := "دهوك Duhok کوردی 🙂\u202Eevil\u202C\u200B\u200D"
	long := strings.Repeat(unit, 4096/len([]rune(unit))+1)
	long = string([]rune(long)[:4096])
	p.SendText(long)
	waitMessages(t, fake, 801, 1)

	_, steps := readGolden(t, "en-immediate-danger.txt")
	markup := `<b>bold</b> & \(x\) *x* <a href="https://evil.example">link</a> CANARY`
	for i := 1; i < len(steps); i++ {
		prev := steps[i-1].replies
		if len(prev) > 0 && strings.Contains(prev[len(prev)-1], "When is it safe to call you") {
			steps[i].text = markup
		}
	}
	person := fake.User(802, telegramtest.WithLanguageCode("en"))
	playGolden(t, fake, person, steps)
	for _, c := range fake.Calls() {
		if !c.OK() && c.ErrorCode != http.StatusTooManyRequests {
			t.Errorf("%s to chat %d failed: %d %s", c.Method, c.ChatID, c.ErrorCode, c.Description)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "", "cases", "list", "--data", r.data)
	if err != nil || out == "" {
		t.Fatalf("cases list: %v %q", err, out)
	}
	ref := strings.Fields(out)[0]
	view, _, err := runCmd(t, "", "cases", "open", ref, "--data", r.data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(view, markup) {
		t.Errorf("the officer's view lacks the exact text typed:\n%s", view)
	}
	assertNoPersonalData(t, r.logs.String())
}

// TestServeFloodLimit: past the limit one polite notice, then silence until the window passes.
func TestServeFloodLimit(t *testing.T) {
	fake := telegramtest.New(t)
	startServe(t, fake, rigOptions{args: []string{"--flood-limit", "3"}})
	p := fake.User(901, telegramtest.WithLanguageCode("en"))
	for i := 0; i < 6; i++ {
		p.SendText("/help")
	}
	ms := waitMessages(t, fake, 901, 4)
	time.Sleep(500 * time.Millisecond)
	ms = fake.BotMessages(901)
	if len(ms) != 4 || !strings.Contains(ms[3].Text, "arriving very fast") {
		texts := []string{}
		for _, m := range ms {
			texts = append(texts, m.Text[:min(30, len(m.Text))])
		}
		t.Fatalf("got %d messages %q, want 3 replies and one notice", len(ms), texts)
	}
}

// TestServeWebhookMode: through a real webhook, an intake starts, a wrong secret is refused, and
// the same update posted three times at once has one effect.
func TestServeWebhookMode(t *testing.T) {
	fake := telegramtest.New(t)
	r := startServe(t, fake, rigOptions{webhook: true})
	if fake.WebhookURL() == "" {
		t.Fatal("serve did not call setWebhook")
	}
	p := fake.User(1101, telegramtest.WithLanguageCode("ckb"))
	p.SendText("/start")
	waitMessages(t, fake, 1101, 1)
	pressLast(t, p, "کوردی (سۆرانی)")
	waitMessages(t, fake, 1101, 2)

	body := []byte(`{"update_id": 900000001, "message": {"message_id": 77, "date": 1700000000, "text": "/help",
		"chat": {"id": 1102, "type": "private"}, "from": {"id": 1102, "first_name": "A", "language_code": "en"}}}`)
	fake.User(1102)
	post := func(secret string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+r.hook+"/telegram", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set(bot.SecretHeader, secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("wrong-secret-wrong-secret-wrong-secret"); got != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d, want 401", got)
	}
	if got := post(""); got != http.StatusUnauthorized {
		t.Errorf("no secret: %d, want 401", got)
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := post(testSecret); got != http.StatusOK {
				t.Errorf("right secret: %d, want 200", got)
			}
		}()
	}
	wg.Wait()
	waitMessages(t, fake, 1102, 1)
	time.Sleep(500 * time.Millisecond)
	if n := len(fake.BotMessages(1102)); n != 1 {
		t.Errorf("the same update three times produced %d replies, want 1", n)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestServeFailsFast: a bad token, no master key without --dev, and a malformed webhook secret
// each stop serve at once with a clear message.
func TestServeFailsFast(t *testing.T) {
	fake := telegramtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad token", []string{"--telegram-token", "123:wrong", "--dev"}, "rejected the bot token"},
		{"no master key", []string{"--telegram-token", fake.Token()}, "no master key"},
		{"short secret", []string{"--telegram-token", fake.Token(), "--dev", "--webhook", "https://x.example/t", "--webhook-secret", "short"}, "--webhook-secret"},
		{"no token", []string{"--dev"}, "no bot token"},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"serve", "--telegram-api", fake.URL(), "--data", t.TempDir()}, tc.args...)
		err := run(ctx, args, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one mentioning %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), fake.Token()) {
			t.Errorf("%s: the error quotes the token", tc.name)
		}
	}
}

// panickyStore makes the next TrackMessages panic once armed: a stand-in for any bug inside a
// turn (the dispatcher tracks the person's message before the turn).
type panickyStore struct {
	intake.Store
	armed atomic.Bool
}

func (p *panickyStore) TrackMessages(ctx context.Context, chat intake.SessionKey, msgs []intake.TrackedMessage) error {
	if p.armed.CompareAndSwap(true, false) {
		panic("test: a bug inside the turn")
	}
	return p.Store.TrackMessages(ctx, chat, msgs)
}

// TestServePanicBecomesApology: a panic inside a turn becomes the localized "something went
// wrong, your answers are safe" and an alert; serve keeps running and the next message works.
func TestServePanicBecomesApology(t *testing.T) {
	fake := telegramtest.New(t)
	ps := &panickyStore{}
	r := startServeWith(t, fake, rigOptions{}, func(c *serveConfig) {
		c.wrapStore = func(s intake.Store) intake.Store { ps.Store = s; return ps }
	})
	p := fake.User(1201, telegramtest.WithLanguageCode("ar"))
	ps.armed.Store(true)
	p.SendText("/start")
	ms := waitMessages(t, fake, 1201, 1)
	if !strings.Contains(ms[0].Text, "حدث خطأ من جهتنا") {
		t.Fatalf("after a panic the person got %q, want the Arabic apology", ms[0].Text)
	}
	p.SendText("/start")
	ms = waitMessages(t, fake, 1201, 2)
	if !strings.Contains(ms[1].Text, "Please choose your language") {
		t.Errorf("after the panic, /start got %q, want the language picker", ms[1].Text)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "turn panicked") || !strings.Contains(logs, "alert=true") {
		t.Errorf("no alert logged for the panic:\n%s", logs)
	}
	if strings.Contains(logs, "a bug inside the turn") {
		t.Error("the panic value was logged; it may quote what a person typed")
	}
}

// TestServeAutoClear: with --auto-clear, a finished conversation's messages are deleted after
// the delay, leaving nothing; the command menu is set in three languages.
func TestServeAutoClear(t *testing.T) {
	fake := telegramtest.New(t)
	startServe(t, fake, rigOptions{args: []string{"--auto-clear", "300ms"}})
	p := fake.User(1301, telegramtest.WithLanguageCode("en"))
	p.SendText("/start")
	waitMessages(t, fake, 1301, 1)
	pressLast(t, p, "English")
	waitMessages(t, fake, 1301, 2)
	pressLast(t, p, "Not now") // "is it safe to talk?" → no: the flow ends
	waitMessages(t, fake, 1301, 3)
	waitFor(t, "the automatic clear", 10*time.Second, func() bool { return len(fake.Visible(1301)) == 0 })
	// The person's /start and the bot's three messages (presses are not messages), all deleted.
	if n := len(fake.Transcript(1301)); n != 4 {
		t.Errorf("transcript has %d messages, want 4, all deleted", n)
	}
	for _, code := range []string{"", "ar", "ku"} {
		cmds := fake.Commands("default", code)
		if len(cmds) != 6 || cmds[0].Command != "start" {
			t.Errorf("command menu %q: %+v", code, cmds)
		}
	}
	if d := fake.Commands("default", "ar"); len(d) > 0 && d[0].Description != "البدء أو البدء من جديد" {
		t.Errorf("Arabic menu: %q", d[0].Description)
	}
}

// TestServeOnRedis: the same intake through serve with the Redis store (a real redis-server),
// in Kurmanji and Arabic, and in webhook mode.
func TestServeOnRedis(t *testing.T) {
	url, stop, _ := redistest.Start(t)
	defer stop()
	fake := telegramtest.New(t)
	r := startServe(t, fake, rigOptions{webhook: true, args: []string{"--store", url}})
	var wg sync.WaitGroup
	for i, name := range []string{"kmr-sexual-violence-medical.txt", "ar-immediate-danger.txt"} {
		hint, steps := readGolden(t, name)
		p := fake.User(int64(1400+i), telegramtest.WithLanguageCode(hint))
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(name, func(t *testing.T) { playGolden(t, fake, p, steps) })
		}()
	}
	wg.Wait()
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmdEnv(t, map[string]string{"PENAH_STORE": url}, "cases", "list", "--data", r.data)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "queued"); n != 2 {
		t.Errorf("want 2 queued cases in Redis, got:\n%s", out)
	}
}

// TestServeCommandsParsedByPenah: "/start@botname" and a command after a right-to-left mark are
// recognised (go-telegram/bot's own matching misses both).
func TestServeCommandsParsedByPenah(t *testing.T) {
	fake := telegramtest.New(t)
	startServe(t, fake, rigOptions{})
	p := fake.User(1501, telegramtest.WithLanguageCode("ar"))
	p.SendText("/start@" + fake.Bot().Username)
	ms := waitMessages(t, fake, 1501, 1)
	if !strings.Contains(ms[0].Text, "الرجاء اختيار لغتك") {
		t.Fatalf("/start@bot: %q", ms[0].Text)
	}
	pressLast(t, p, "العربية")
	waitMessages(t, fake, 1501, 2)
	p.SendText("\u200F/help")
	ms = waitMessages(t, fake, 1501, 3)
	if !strings.Contains(ms[2].Text, "يمكنك كتابة هذه الأوامر") {
		t.Errorf("RLM + /help: %q", ms[2].Text)
	}
}

// runCmdEnv is runCmd with environment variables.
func runCmdEnv(t *testing.T, vars map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return vars[k] }, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

// TestServeForget: /forget after a submission asks first; confirmed, it withdraws and shreds the
// case and clears the chat, leaving only the confirmation.
func TestServeForget(t *testing.T) {
	fake := telegramtest.New(t)
	r := startServe(t, fake, rigOptions{})
	_, steps := readGolden(t, "en-skip-everything.txt")
	p := fake.User(1601, telegramtest.WithLanguageCode("en"))
	playGolden(t, fake, p, steps)
	n := len(fake.BotMessages(1601))
	p.SendText("/forget")
	ms := waitMessages(t, fake, 1601, n+1)
	if !strings.Contains(ms[n].Text, "cannot be undone") {
		t.Fatalf("/forget did not ask first: %q", ms[n].Text)
	}
	pressLast(t, p, "Yes, erase everything")
	waitFor(t, "the clear", 10*time.Second, func() bool { v := fake.Visible(1601); return len(v) == 1 && v[0].FromBot })
	if got := fake.Visible(1601)[0].Text; got != "Everything you told us here has been erased." {
		t.Errorf("left %q", got)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "", "cases", "list", "--data", r.data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "withdrawn") || strings.Contains(out, "queued") {
		t.Errorf("after /forget the case is not withdrawn:\n%s", out)
	}
}

// TestDevKeysCompletedAfterInterruptedStart: a first `--dev` start killed after it wrote the
// master key but before the escrow and team keys (found by TestServeCrash) is completed by the
// next start, so submissions work.
func TestDevKeysCompletedAfterInterruptedStart(t *testing.T) {
	data := t.TempDir()
	m, err := seal.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := vault.WriteMasterKeys(masterKeyPath(data), m); err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	c, err := openCore(context.Background(), data, func(string) string { return "" }, true, &errb)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.vault.Team(vault.DefaultTeam); !ok || c.vault.Escrow() == nil {
		t.Fatalf("the interrupted key set was not completed (team %v, escrow %v)", ok, c.vault.Escrow() != nil)
	}
	if !strings.Contains(errb.String(), "created development keys") {
		t.Errorf("no notice on stderr: %q", errb.String())
	}
}
