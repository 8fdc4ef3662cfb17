package intake_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/flows/library"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
	"github.com/penahbot/penah/internal/vault"
	"github.com/penahbot/penah/locales"
)

var refRe = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$`)

func TestRefsAreWellFormedAndUnique(t *testing.T) {
	seen := map[intake.Ref]bool{}
	for i := 0; i < 10000; i++ {
		r, err := intake.NewRef()
		if err != nil {
			t.Fatal(err)
		}
		if !refRe.MatchString(string(r)) {
			t.Fatalf("malformed ref %q", r)
		}
		if seen[r] {
			t.Fatalf("duplicate ref %q", r)
		}
		seen[r] = true
		back, ok := intake.ParseRef(strings.ToLower(strings.ReplaceAll(string(r), "-", " ")))
		if !ok || back != r {
			t.Fatalf("ParseRef(%q) = %q %v", r, back, ok)
		}
	}
	for _, bad := range []string{"", "AAAA-BBBB-CCCC", "AAAA-BBBB-CCCC-DDDDD", "AAAA-BBBB-CCCC-DDDU", "ÄAAA-BBBB-CCCC-DDDD"} {
		if _, ok := intake.ParseRef(bad); ok {
			t.Errorf("ParseRef accepted %q", bad)
		}
	}
	code, err := intake.NewCode()
	if err != nil || !regexp.MustCompile(`^[0-9A-Z]{3}-[0-9A-Z]{3}$`).MatchString(code) {
		t.Fatalf("code %q %v", code, err)
	}
}

type fixture struct {
	vault  *vault.Vault
	escrow *seal.Identity
	svc    *intake.Service
	store  intake.Store
	lib    *engine.Set
	cat    *locales.Catalog
	logs   *bytes.Buffer
	now    time.Time
}

func newFixture(t testing.TB, wrap func(intake.Store) intake.Store) *fixture {
	t.Helper()
	fs, err := library.Load()
	if err != nil {
		t.Fatal(err)
	}
	set, err := engine.CompileAll(fs)
	if err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "penah.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var store intake.Store = st
	if wrap != nil {
		store = wrap(st)
	}
	cat := locales.MustLoad()
	fx := &fixture{store: store, lib: set, cat: cat, logs: &bytes.Buffer{}, now: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	clock := func() time.Time { fx.now = fx.now.Add(time.Second); return fx.now }
	master, _ := seal.NewMasterKey()
	kr, _ := seal.NewKeyring(master)
	v, err := vault.Open(context.Background(), kr, st, clock)
	if err != nil {
		t.Fatal(err)
	}
	if fx.escrow, err = seal.GenerateIdentity(); err != nil {
		t.Fatal(err)
	}
	if err := v.SetEscrow(context.Background(), fx.escrow.Recipient()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.AddTeamKey(context.Background(), vault.DefaultTeam, false); err != nil {
		t.Fatal(err)
	}
	fx.vault = v
	route := func(*intake.Case) (intake.Route, error) {
		return intake.Route{Team: vault.DefaultTeam, Priority: 2, SLA: time.Hour}, nil
	}
	fx.svc = intake.NewService(engine.New(cat, set, library.Main), store, v, route, cat, clock, slog.New(slog.NewTextHandler(fx.logs, nil)))
	return fx
}

// play sends inputs; "#N" presses button N of the last message with buttons.
func (fx *fixture) play(t *testing.T, key intake.SessionKey, inputs ...string) intake.Outcome {
	t.Helper()
	var (
		buttons []engine.Button
		out     intake.Outcome
		err     error
	)
	for _, in := range inputs {
		var input engine.Input
		if n, ok := strings.CutPrefix(in, "#"); ok {
			i := 0
			for _, c := range n {
				i = i*10 + int(c-'0')
			}
			input.Data = buttons[i-1].Data
		} else {
			input.Text = in
		}
		out, err = fx.svc.Handle(context.Background(), key, input)
		if err != nil {
			t.Fatalf("input %q: %v", in, err)
		}
		for _, r := range out.Replies {
			if len(r.Buttons) > 0 {
				buttons = nil
				for _, row := range r.Buttons {
					buttons = append(buttons, row...)
				}
			}
		}
	}
	return out
}

const marker = "CANARY-7f3a9"

// completeIntake answers the English intake with a phone contact whose times contain marker.
var completeIntake = []string{"/start", "#4", "#1", "#1", "#3", "#1", "#10", "#1", "#2", "#7", "#1", "#1", "#2", "0750 123 4567", "after 6pm " + marker, "#1", "#9", "#1"}

func TestSubmissionCreatesCase(t *testing.T) {
	fx := newFixture(t, nil)
	out := fx.play(t, "person-1", completeIntake...)
	if out.Case == nil {
		t.Fatalf("no case created; last replies %+v", out.Replies)
	}
	c := out.Case
	if !refRe.MatchString(string(c.Ref)) {
		t.Fatalf("ref %q", c.Ref)
	}
	last := out.Replies[len(out.Replies)-1].Text
	if !strings.Contains(last, string(c.Ref)) || !strings.Contains(last, c.Code) || strings.Contains(last, "{ref}") {
		t.Fatalf("reply does not carry the reference and code: %q", last)
	}
	stored, body, err := fx.svc.OpenCase(context.Background(), c.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if got := stored.Routing["services"]; len(got) != 1 || got[0] != "medical" {
		t.Fatalf("routing services %v", got)
	}
	if _, ok := stored.Routing["safe_phone"]; ok {
		t.Fatal("a sensitive answer is in the routing fields")
	}
	// The router's decision: priority, and the SLA as a breach time with a first look at half.
	if stored.Priority != 2 || stored.ClaimBy.Sub(stored.Created) != time.Hour || stored.Deadline.Sub(stored.Created) != 30*time.Minute {
		t.Fatalf("routing: priority %d, claim by +%v, deadline +%v", stored.Priority, stored.ClaimBy.Sub(stored.Created), stored.Deadline.Sub(stored.Created))
	}
	var got []string
	for _, e := range body {
		got = append(got, string(e.Field)+"="+e.Text)
	}
	if strings.Join(got, ";") != "safe_phone=+9647501234567;safe_times=after 6pm "+marker {
		t.Fatalf("body %v", got)
	}
	if bytes.Contains(stored.Answers, []byte(marker)) || stored.Envelope == nil {
		t.Fatal("the stored answers are not sealed")
	}
	view := stored.OfficerView(fx.lib, fx.cat, locales.EN, body)
	for _, want := range []string{"case: " + string(c.Ref), "Help wanted (services): Medical care", marker, "verification code: " + c.Code} {
		if !strings.Contains(view, want) {
			t.Errorf("officer view lacks %q:\n%s", want, view)
		}
	}
	sealed, _, _ := fx.store.LoadSession(context.Background(), "person-1")
	plain, err := fx.vault.OpenSession("person-1", sealed)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain, []byte(marker)) || bytes.Contains(plain, []byte("7501234567")) {
		t.Fatal("the session keeps answers after the case was created")
	}
	if strings.Contains(fx.logs.String(), marker) || strings.Contains(fx.logs.String(), "7501234567") {
		t.Fatalf("answers leaked into logs:\n%s", fx.logs)
	}
}

func TestForgetErasesTheCase(t *testing.T) {
	fx := newFixture(t, nil)
	out := fx.play(t, "person-2", completeIntake...)
	ref := out.Case.Ref
	before, err := fx.store.Case(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	fx.play(t, "person-2", "/forget", "#1")
	assertShredded(t, fx, ref, before)
	if _, ver, _ := fx.store.LoadSession(context.Background(), "person-2"); ver != 0 {
		t.Fatal("session still there after /forget")
	}
}

// assertShredded checks that a case is a tombstone and that its old envelope and answers, even if
// an attacker kept a copy (a backup, an AOF file), open with no key: not the team's, not escrow.
func assertShredded(t *testing.T, fx *fixture, ref intake.Ref, before *intake.Case) {
	t.Helper()
	tomb, body, err := fx.svc.OpenCase(context.Background(), ref)
	if err != nil || body != nil || tomb.Envelope != nil || tomb.Answers != nil || tomb.Status != intake.StatusWithdrawn {
		t.Fatalf("not a tombstone: %+v %v", tomb, err)
	}
	if tomb.Routing["services"] == nil || tomb.Created.IsZero() || tomb.Code != "" {
		t.Fatalf("the tombstone should keep routing fields and dates, and drop the code: %+v", tomb)
	}
	// The old bytes with every key there is: the team's (server-held), the escrow key.
	if _, err := fx.vault.OpenCase(string(ref), tomb.Team, intake.KindAnswers, tomb.Envelope, before.Answers, fx.escrow); err == nil {
		t.Fatal("shredded answers opened")
	}
	// Without the envelope the data key is gone; the old envelope itself is what shredding
	// deletes from the store, so only a copy kept elsewhere could still open, and that is what
	// the store-level compaction test covers.
}

func TestEscrowOpensAndStrangersDoNot(t *testing.T) {
	fx := newFixture(t, nil)
	c := fx.play(t, "p", completeIntake...).Case
	stored, err := fx.store.Case(context.Background(), c.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.vault.OpenCase(string(c.Ref), "nobody", intake.KindAnswers, stored.Envelope, stored.Answers, fx.escrow); err != nil {
		t.Fatalf("escrow cannot open: %v", err)
	}
	stranger, _ := seal.GenerateIdentity()
	if _, err := fx.vault.OpenCase(string(c.Ref), "nobody", intake.KindAnswers, stored.Envelope, stored.Answers, stranger); err == nil {
		t.Fatal("a stranger's key opened a case")
	}
}

func TestExitDeletesTheSession(t *testing.T) {
	fx := newFixture(t, nil)
	fx.play(t, "p", "/start", "#4", "#1")
	out := fx.play(t, "p", "/exit")
	if len(out.Replies) != 1 || out.Replies[0].Text != fx.cat.T(locales.EN, locales.MsgExitDone, nil) {
		t.Fatalf("exit replies %+v", out.Replies)
	}
	if _, ver, _ := fx.store.LoadSession(context.Background(), "p"); ver != 0 {
		t.Fatal("session survives /exit")
	}
}

// flaky fails commits on demand.
type flaky struct {
	intake.Store
	conflicts int
	fail      error
}

func (f *flaky) Commit(ctx context.Context, c intake.Commit) (intake.Version, error) {
	if f.conflicts > 0 {
		f.conflicts--
		return 0, intake.ErrConflict
	}
	if f.fail != nil {
		return 0, f.fail
	}
	return f.Store.Commit(ctx, c)
}

func TestConflictIsRetried(t *testing.T) {
	var fl *flaky
	fx := newFixture(t, func(s intake.Store) intake.Store { fl = &flaky{Store: s}; return fl })
	fl.conflicts = intake.MaxCommitAttempts - 1
	fx.play(t, "p", "/start")
	if _, ver, _ := fx.store.LoadSession(context.Background(), "p"); ver != 1 {
		t.Fatal("turn not committed after retries")
	}
}

func TestStoreFailureGivesLocalizedErrorAndKeepsSession(t *testing.T) {
	var fl *flaky
	fx := newFixture(t, func(s intake.Store) intake.Store { fl = &flaky{Store: s}; return fl })
	fx.play(t, "p", "/start", "#1") // Arabic
	before, ver, _ := fx.store.LoadSession(context.Background(), "p")
	fl.fail = errors.New("disk full")
	out, err := fx.svc.Handle(context.Background(), "p", engine.Input{Text: "1", LangHint: "en"})
	if err == nil {
		t.Fatal("want an error")
	}
	if len(out.Replies) != 1 || out.Replies[0].Text != fx.cat.T(locales.AR, locales.MsgErrorGeneric, nil) {
		t.Fatalf("replies %+v", out.Replies)
	}
	after, ver2, _ := fx.store.LoadSession(context.Background(), "p")
	if ver2 != ver || !bytes.Equal(after, before) {
		t.Fatal("a failed turn changed the stored session")
	}
	if strings.Contains(fx.logs.String(), "disk full") == false {
		t.Fatal("the error class should be logged")
	}
}

// BenchmarkHandleDurable measures one whole turn through the service on the embedded store:
// load, engine step, commit with fsync. Each iteration is a multi-choice tick and untick on the
// services question, so the session stays where it is.
func BenchmarkHandleDurable(b *testing.B) {
	fx := newFixture(b, nil)
	ctx := context.Background()
	var buttons []engine.Button
	for _, in := range []string{"/start", "#4", "#1", "#1", "#3"} {
		input := engine.Input{Text: in}
		if n, ok := strings.CutPrefix(in, "#"); ok {
			input = engine.Input{Data: buttons[int(n[0]-'0')-1].Data}
		}
		out, err := fx.svc.Handle(ctx, "bench", input)
		if err != nil {
			b.Fatal(err)
		}
		last := out.Replies[len(out.Replies)-1]
		buttons = nil
		for _, row := range last.Buttons {
			buttons = append(buttons, row...)
		}
	}
	tick := engine.Input{Data: buttons[0].Data}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := fx.svc.Handle(ctx, "bench", tick); err != nil {
			b.Fatal(err)
		}
	}
}

// TestForgetAfterExitStillErases: a person who sent a request and cleared the chat with /exit
// can still erase it with /forget.
func TestForgetAfterExitStillErases(t *testing.T) {
	fx := newFixture(t, nil)
	ref := fx.play(t, "p", completeIntake...).Case.Ref
	fx.play(t, "p", "/exit")
	before, err := fx.store.Case(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	out := fx.play(t, "p", "/forget", "#1")
	if got := out.Replies[0].Text; got != fx.cat.T(locales.EN, locales.MsgForgetDone, nil) {
		t.Fatalf("reply %q", got)
	}
	assertShredded(t, fx, ref, before)
}

func TestSessionSealedAtRest(t *testing.T) {
	fx := newFixture(t, nil)
	// Stop right after the free-text answer, before the case exists.
	fx.play(t, "p", completeIntake[:15]...)
	sealed, _, err := fx.store.LoadSession(context.Background(), "p")
	if err != nil || sealed == nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(marker)) || bytes.Contains(sealed, []byte("7501234567")) {
		t.Fatal("an answer in progress is stored in the clear")
	}
	plain, err := fx.vault.OpenSession("p", sealed)
	if err != nil || !bytes.Contains(plain, []byte(marker)) {
		t.Fatalf("the sealed session should hold the answer: %v", err)
	}
	// A session record moved under another person's key does not open there: that person starts
	// over instead of seeing someone else's answers.
	if _, err := fx.store.Commit(context.Background(), intake.Commit{Key: "q", Session: sealed}); err != nil {
		t.Fatal(err)
	}
	out := fx.play(t, "q", "hello")
	if !strings.Contains(out.Replies[0].Text, fx.cat.T(locales.EN, locales.MsgChooseLanguage, nil)) {
		t.Fatalf("a moved session must not open: %q", out.Replies[0].Text)
	}
	if !strings.Contains(fx.logs.String(), "does not open") {
		t.Fatal("a session that does not open should be logged (without content)")
	}
}

func TestRetentionShredsOnlyClosedCasesPastTheirTime(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	old := fx.play(t, "a", completeIntake...).Case.Ref
	recent := fx.play(t, "b", completeIntake...).Case.Ref
	open := fx.play(t, "c", completeIntake...).Case.Ref
	closeAt := func(ref intake.Ref, at time.Time) {
		if err := fx.store.UpdateCase(ctx, ref, 0, func(c *intake.Case) error {
			c.Status, c.Closed = intake.StatusClosed, at
			return nil
		}, &intake.AuditEntry{Time: at, Actor: "test", Action: "close", Ref: ref, To: intake.StatusClosed}); err != nil {
			t.Fatal(err)
		}
	}
	now := fx.now
	closeAt(old, now.Add(-intake.DefaultRetention-time.Hour))
	closeAt(recent, now.Add(-intake.DefaultRetention+time.Hour))
	for _, ref := range []intake.Ref{old, recent} { // the relay's links back to the person's chat
		if _, err := fx.store.PutDirRecord(ctx, intake.CaseChatRecord(ref), []byte("sealed chat id"), 0); err != nil {
			t.Fatal(err)
		}
	}
	n, err := fx.svc.ApplyRetention(ctx, now, intake.DefaultRetention)
	if err != nil || n != 1 {
		t.Fatalf("shredded %d: %v", n, err)
	}
	for ref, wantLink := range map[intake.Ref]bool{old: false, recent: true} {
		if rec, _, err := fx.store.DirRecord(ctx, intake.CaseChatRecord(ref)); err != nil || (rec != nil) != wantLink {
			t.Errorf("case %s: chat link present %v (%v), want %v", ref, rec != nil, err, wantLink)
		}
	}
	for ref, wantShredded := range map[intake.Ref]bool{old: true, recent: false, open: false} {
		c, body, err := fx.svc.OpenCase(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if shredded := c.Envelope == nil; shredded != wantShredded || (body == nil) != wantShredded {
			t.Errorf("case %s: shredded %v, want %v", ref, shredded, wantShredded)
		}
		if wantShredded && c.Status != intake.StatusShredded {
			t.Errorf("status %s", c.Status)
		}
	}
}

// ttlRecorder records the session lifetime of each commit.
type ttlRecorder struct {
	intake.Store
	ttls []time.Duration
}

func (r *ttlRecorder) Commit(ctx context.Context, c intake.Commit) (intake.Version, error) {
	r.ttls = append(r.ttls, c.SessionTTL)
	return r.Store.Commit(ctx, c)
}

// TestSessionsExpireInTheStore: a stored session is given the flow's expiry plus a grace period
// as its store lifetime on every commit (turns and notices alike), so an abandoned conversation's
// sealed answers do not stay in the database; a deleted session gets none.
func TestSessionsExpireInTheStore(t *testing.T) {
	rec := &ttlRecorder{}
	fx := newFixture(t, func(s intake.Store) intake.Store { rec.Store = s; return rec })
	fx.play(t, "person-ttl", "/start")
	key := intake.SessionKey("person-ttl")
	if err := fx.svc.Notify(context.Background(), intake.Turn{Key: key}, locales.MsgFloodNotice); err != nil {
		t.Fatal(err)
	}
	fx.play(t, "person-ttl", "/exit")
	want := flows.DefaultExpireAfter + intake.SessionGrace
	if len(rec.ttls) != 3 || rec.ttls[0] != want || rec.ttls[1] != want || rec.ttls[2] != 0 {
		t.Fatalf("session lifetimes %v, want [%v %v 0]", rec.ttls, want, want)
	}
}
