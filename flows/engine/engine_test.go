package engine

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/flows/library"
	"github.com/penahbot/penah/locales"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// testFlow is small on purpose: one of each input kind, a consent, a submit.
const testFlow = `spec: 1
id: mini
revision: REV
languages: [en, ar]
base: en
reviewed: [ar]
consent: consent
start: consent
states:
  - id: consent
    say: {en: "Agree?", ar: "موافق؟"}
    save: consent
    title: {en: "Consent", ar: "موافقة"}
    choices:
      - {id: "yes", label: {en: "Yes", ar: "نعم"}, consent: true, next: help}
      - {id: "no", label: {en: "No", ar: "لا"}, next: bye}
  - id: help
    say: {en: "What help?", ar: "ما المساعدة؟"}
    multi: true
    optional: true
    save: help
    title: {en: "Help", ar: "مساعدة"}
    choices:
      - {id: medical, label: {en: "Medical", ar: "طبية"}}
      - {id: legal, label: {en: "Legal", ar: "قانونية"}}
      - {id: none, label: {en: "None", ar: "لا شيء"}, exclusive: true}
    next: age
  - id: age
    say: {en: "Age?", ar: "العمر؟"}
    input: number
    min: 1
    max: 120
    optional: true
    save: age
    title: {en: "Age", ar: "العمر"}
    next: phone
  - id: phone
    say: {en: "Phone?", ar: "الهاتف؟"}
    input: phone
    optional: true
    save: phone
    title: {en: "Phone", ar: "الهاتف"}
    next: note
  - id: note
    say: {en: "Anything else?", ar: "شيء آخر؟"}
    input: text
    max_len: 10
    optional: true
    save: note
    title: {en: "Note", ar: "ملاحظة"}
    next: summary
  - id: summary
    say: {en: "You said:\n{answers}", ar: "قلت:\n{answers}"}
    choices:
      - {id: send, label: {en: "Send", ar: "أرسل"}, next: submit}
      - {id: change, label: {en: "Change", ar: "تغيير"}, next: help}
  - id: submit
    submit: true
    next: sent
  - id: sent
    say: {en: "Sent as {ref}, code {code}", ar: "أرسل {ref} {code}"}
    end: true
  - id: bye
    say: {en: "Bye", ar: "مع السلامة"}
    end: true
`

func compileMini(t testing.TB, rev string) *Compiled {
	t.Helper()
	f, err := flows.Read("mini.yaml", []byte(strings.Replace(testFlow, "REV", rev, 1)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// driver plays one person against an engine.
type driver struct {
	t    testing.TB
	eng  *Engine
	s    Session
	now  time.Time
	last Result
}

func newDriver(t testing.TB, cs ...*Compiled) *driver {
	t.Helper()
	return &driver{t: t, eng: New(locales.MustLoad(), NewSet(cs...), cs[0].Flow.ID), now: t0}
}

func (d *driver) step(in Input) Result {
	d.t.Helper()
	d.now = d.now.Add(time.Second)
	res, err := d.eng.Step(d.s, in, d.now)
	if err != nil {
		d.t.Fatalf("step %+v: %v", in, err)
	}
	d.s, d.last = res.Session, res
	return res
}

func (d *driver) text(s string) Result { d.t.Helper(); return d.step(Input{Text: s}) }

// press presses the button whose label is label on the last reply.
func (d *driver) press(label string) Result {
	d.t.Helper()
	for _, r := range d.last.Replies {
		for _, row := range r.Buttons {
			for _, b := range row {
				if strings.TrimPrefix(b.Label, "✓ ") == label {
					return d.step(Input{Data: b.Data})
				}
			}
		}
	}
	d.t.Fatalf("no button %q in %+v", label, d.last.Replies)
	return Result{}
}

func (d *driver) lastText() string {
	if len(d.last.Replies) == 0 {
		return ""
	}
	return d.last.Replies[len(d.last.Replies)-1].Text
}

func TestMiniFlowEndToEnd(t *testing.T) {
	d := newDriver(t, compileMini(t, "1"))
	d.text("/start")
	if d.s.Phase != PhaseLanguage {
		t.Fatalf("phase %q, want language picker", d.s.Phase)
	}
	d.press("English")
	d.press("Yes")
	d.press("Legal")
	d.press("Medical")
	if got := d.s.Selected; !reflect.DeepEqual(got, []flows.ChoiceID{"legal", "medical"}) {
		t.Fatalf("selected %v", got)
	}
	if !d.last.Replies[0].Edit {
		t.Error("a tick should edit the message it came from")
	}
	d.press("Done")
	d.text("٤٢") // Arabic-Indic digits
	d.text("+964 ٧٥٠ ١٢٣ ٤٥٦٧")
	d.text("short")
	if !strings.Contains(d.lastText(), "• Help: Medical, Legal") || !strings.Contains(d.lastText(), "• Age: ") {
		t.Fatalf("summary: %q", d.lastText())
	}
	if strings.Contains(d.lastText(), "42") || strings.Contains(d.lastText(), "short") {
		t.Fatalf("summary repeats a sensitive answer: %q", d.lastText())
	}
	res := d.press("Send")
	if !res.Has(EffectSubmit) || !res.Has(EffectEnd) {
		t.Fatalf("effects %+v", res.Effects)
	}
	sub := res.Effects[0]
	want := []Answer{
		{Field: "consent", By: "consent", Values: []string{"yes"}},
		{Field: "help", By: "help", Values: []string{"medical", "legal"}}, // flow order, not tap order
		{Field: "age", By: "age", Text: "42", Sensitive: true},
		{Field: "phone", By: "phone", Text: "+9647501234567", Sensitive: true},
		{Field: "note", By: "note", Text: "short", Sensitive: true},
	}
	if !reflect.DeepEqual(sub.Answers, want) {
		t.Fatalf("answers\n got %+v\nwant %+v", sub.Answers, want)
	}
	if len(d.s.Answers) != 0 || d.s.Phase != PhaseDone {
		t.Fatalf("after submit the session keeps no answers: %+v", d.s)
	}
	if !strings.Contains(d.lastText(), flows.PlaceRef) {
		t.Fatalf("the caller fills {ref}: %q", d.lastText())
	}
}

func TestInvalidInputReasksAndKeepsAnswers(t *testing.T) {
	d := newDriver(t, compileMini(t, "1"))
	d.text("/start")
	d.press("English")
	d.text("maybe") // not a choice
	if d.s.State != "consent" || !strings.Contains(d.lastText(), "Agree?") {
		t.Fatalf("invalid choice must re-ask: state %q text %q", d.s.State, d.lastText())
	}
	d.text("1") // typed number selects the first choice
	d.press("Done")
	if d.s.State != "age" {
		t.Fatalf("done with nothing ticked on an optional question skips it; at %q", d.s.State)
	}
	for _, bad := range []string{"abc", "0", "121", "12345678901234567890", "-5"} {
		d.text(bad)
		if d.s.State != "age" {
			t.Fatalf("%q accepted as an age", bad)
		}
	}
	d.text("120") // at the limit
	for _, bad := range []string{"12", "hello", "+1 2", "07501234567890123"} {
		d.text(bad)
		if d.s.State != "phone" {
			t.Fatalf("%q accepted as a phone number", bad)
		}
	}
	d.text("0750 123 4567")
	d.text("12345678901") // 11 characters, max_len is 10
	if d.s.State != "note" {
		t.Fatal("text past max_len accepted")
	}
	d.text("1234567890") // exactly at the limit
	if d.s.State != "summary" {
		t.Fatalf("text at max_len refused; at %q", d.s.State)
	}
	if a, _ := d.s.Answer("age"); a.Text != "120" {
		t.Fatalf("answers lost during re-asks: %+v", d.s.Answers)
	}
}

func TestBackDropsLaterAnswers(t *testing.T) {
	d := newDriver(t, compileMini(t, "1"))
	d.text("/start")
	d.press("English")
	d.press("Yes")
	d.press("Skip")
	d.text("33")
	d.text("/back")
	if d.s.State != "age" {
		t.Fatalf("/back from phone should return to age, at %q", d.s.State)
	}
	if _, ok := d.s.Answer("age"); ok {
		t.Fatal("/back keeps the answer of the question it returns to")
	}
	d.text("رجوع") // Arabic word for back works in an English session too
	if d.s.State != "help" {
		t.Fatalf("second back should reach help, at %q", d.s.State)
	}
	d.text("/back")
	d.text("/back")
	if d.s.State != "consent" || !strings.Contains(d.lastText(), "Agree?") {
		t.Fatalf("back past the first question: %q %q", d.s.State, d.lastText())
	}
}

func TestStaleButtonsAndQuickExit(t *testing.T) {
	d := newDriver(t, compileMini(t, "1"))
	d.text("/start")
	d.press("English")
	old := d.last
	d.press("Yes")
	d.last = old
	d.press("No") // a button of an earlier message
	if d.s.State != "help" {
		t.Fatalf("a stale press moved the session to %q", d.s.State)
	}
	d.last = old
	res := d.press("Exit") // exit works even from a stale message
	if !res.Has(EffectExit) || d.s.Active() {
		t.Fatalf("exit: %+v %+v", res.Effects, d.s)
	}
	if len(res.Replies) != 1 {
		t.Fatalf("exit leaves one neutral line, got %d replies", len(res.Replies))
	}
}

func TestRevisionPinnedAndExpiry(t *testing.T) {
	r1, r2 := compileMini(t, "1"), compileMini(t, "2")
	d := newDriver(t, r1)
	d.text("/start")
	d.press("English")
	d.eng.lib.(*Set).Add(r2)
	d.press("Yes")
	if d.s.Revision != 1 || d.s.State != "help" {
		t.Fatalf("session should stay on revision 1: %+v", d.s)
	}
	// A pause longer than resume_after asks first whether it is safe; the input is not applied.
	d.now = d.now.Add(flows.DefaultResumeAfter + time.Minute)
	d.press("Medical")
	if d.s.Phase != PhaseResume || len(d.s.Selected) != 0 {
		t.Fatalf("resume check expected, got %+v", d.s)
	}
	d.press(d.eng.cat.T(locales.EN, locales.MsgYesSafe, nil))
	if d.s.Phase != PhaseFlow || d.s.State != "help" {
		t.Fatalf("after yes: %+v", d.s)
	}
	// Past expire_after everything is cleared and a new conversation starts on the latest revision.
	d.now = d.now.Add(flows.DefaultExpireAfter + time.Minute)
	d.text("hello")
	if d.s.Revision != 2 || d.s.Phase != PhaseLanguage || len(d.s.Answers) != 0 {
		t.Fatalf("after expiry: %+v", d.s)
	}
}

func TestStepDoesNotMutateItsInput(t *testing.T) {
	d := newDriver(t, compileMini(t, "1"))
	d.text("/start")
	d.press("English")
	d.press("Yes")
	d.press("Legal")
	before := d.s.clone()
	if _, err := d.eng.Step(d.s, Input{Text: "/back"}, d.now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, d.s) {
		t.Fatal("Step changed the session it was given")
	}
}

func TestMoveRefusesTransitionsOutsideTheTable(t *testing.T) {
	c := compileMini(t, "1")
	tr := &turn{c: c}
	if err := tr.move("consent", "summary"); err == nil {
		t.Fatal("consent -> summary is not an edge of the flow; the state machine must refuse it")
	}
	if err := tr.move("consent", "help"); err != nil {
		t.Fatal(err)
	}
	if want := []flows.StateID{"consent"}; !reflect.DeepEqual(tr.s.History, want) {
		t.Fatalf("history %v", tr.s.History)
	}
}

func TestCorruptStateIsInternalError(t *testing.T) {
	d := newDriver(t, compileMini(t, "1"))
	d.text("/start")
	d.press("English")
	s := d.s
	s.State = "nowhere"
	if _, err := d.eng.Step(s, Input{Text: "1"}, d.now.Add(time.Second)); err == nil {
		t.Fatal("a state the flow does not know must be an internal error, not a guess")
	}
}

func TestLanguageMidFlowKeepsAnswers(t *testing.T) {
	d := newDriver(t, compileMini(t, "1"))
	d.text("/start")
	d.press("English")
	d.press("Yes")
	d.text("/language")
	d.press("العربية")
	if d.s.Lang != locales.AR || d.s.State != "help" || !strings.Contains(d.lastText(), "ما المساعدة؟") {
		t.Fatalf("after switching language: %+v %q", d.s, d.lastText())
	}
	if _, ok := d.s.Answer("consent"); !ok {
		t.Fatal("switching language lost an answer")
	}
}

func TestForgetNeedsConfirmation(t *testing.T) {
	d := newDriver(t, compileMini(t, "1"))
	d.text("/start")
	d.press("English")
	d.press("Yes")
	d.text("/forget")
	d.press(d.eng.cat.T(locales.EN, locales.MsgCancel, nil))
	if d.s.Phase != PhaseFlow || d.s.State != "help" {
		t.Fatalf("cancel should return to the question: %+v", d.s)
	}
	d.text("/forget")
	res := d.press(d.eng.cat.T(locales.EN, locales.MsgForgetYes, nil))
	if !res.Has(EffectForget) || d.s.Active() {
		t.Fatalf("forget: %+v", res)
	}
}

func TestLibraryFlowsCompile(t *testing.T) {
	fs, err := library.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) < 2 {
		t.Fatalf("expected the intake and info flows, got %d", len(fs))
	}
	for _, f := range fs {
		if _, err := Compile(f); err != nil {
			t.Errorf("%s: %v", f.File, err)
		}
	}
}

// BenchmarkTurn measures one turn of the default intake, FSM rebuild included: a button press on
// the services question (a multi-choice tick) and a single choice that moves to the next state.
func BenchmarkTurn(b *testing.B) {
	fs, err := library.Load()
	if err != nil {
		b.Fatal(err)
	}
	set, err := CompileAll(fs)
	if err != nil {
		b.Fatal(err)
	}
	d := &driver{t: b, eng: New(locales.MustLoad(), set, library.Main), now: t0}
	d.text("/start")
	d.press("English")
	d.press("Yes")
	d.text("1") // agree
	at := d.s
	in := Input{Data: d.last.Replies[len(d.last.Replies)-1].Buttons[2][0].Data} // "No, not right now"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.eng.Step(at, in, d.now.Add(time.Second)); err != nil {
			b.Fatal(err)
		}
	}
}

func TestChangeFromSummaryDropsLaterAnswers(t *testing.T) {
	d := newDriver(t, compileMini(t, "1"))
	d.text("/start")
	d.press("English")
	d.press("Yes")
	d.press("Legal")
	d.press("Done")
	d.text("30")
	d.text("0750 123 4567")
	d.text("note")
	d.press("Change") // back to the help question: everything from there on is asked again
	if d.s.State != "help" {
		t.Fatalf("at %q", d.s.State)
	}
	for _, f := range []flows.FieldID{"help", "age", "phone", "note"} {
		if _, ok := d.s.Answer(f); ok {
			t.Errorf("answer %q kept after going back to change it", f)
		}
	}
	if _, ok := d.s.Answer("consent"); !ok {
		t.Error("the answer before the changed question was dropped")
	}
	if want := []flows.StateID{"consent"}; !reflect.DeepEqual(d.s.History, want) {
		t.Errorf("history %v, want %v", d.s.History, want)
	}
}

func TestExclusiveChoice(t *testing.T) {
	d := newDriver(t, compileMini(t, "1"))
	d.text("/start")
	d.press("English")
	d.press("Yes")
	d.press("Legal")
	d.press("Medical")
	d.press("None")
	if want := []flows.ChoiceID{"none"}; !reflect.DeepEqual(d.s.Selected, want) {
		t.Fatalf("ticking an exclusive choice: %v", d.s.Selected)
	}
	d.press("Legal")
	if want := []flows.ChoiceID{"legal"}; !reflect.DeepEqual(d.s.Selected, want) {
		t.Fatalf("ticking another after the exclusive one: %v", d.s.Selected)
	}
}

func TestForgetWithoutConversationAndLanguageAfterEnd(t *testing.T) {
	d := newDriver(t, compileMini(t, "1"))
	d.text("/forget")
	if d.s.Phase != PhaseForget {
		t.Fatalf("/forget must ask for confirmation even with nothing in progress: %+v", d.s)
	}
	d.press(d.eng.cat.T(locales.EN, locales.MsgCancel, nil))
	if d.s.Active() {
		t.Fatalf("cancel with nothing in progress leaves nothing: %+v", d.s)
	}
	d.text("/start")
	d.press("English")
	d.press("No") // declined: the end state
	d.text("/language")
	d.press("العربية")
	if d.s.Phase != PhaseDone || !strings.Contains(d.lastText(), d.eng.cat.T(locales.AR, locales.MsgSessionDone, nil)) {
		t.Fatalf("after the end, a language change says the conversation is over: %+v %q", d.s, d.lastText())
	}
}

// TestDoubleTapIsIgnored: the same button pressed again on a message that is no longer current,
// within DoubleTapWindow, changes nothing and says nothing; after the window, or another old
// button, gets the stale notice.
func TestDoubleTapIsIgnored(t *testing.T) {
	d := newDriver(t, compileMini(t, "1"))
	d.text("/start")
	picker := d.last
	d.press("English")
	afterLang, question := d.s, d.last
	d.last = picker
	res := d.press("English") // the picker's button again, one second later
	if len(res.Replies) != 0 || d.s.State != afterLang.State || d.s.Lang != afterLang.Lang {
		t.Fatalf("a double tap on the picker: %d replies, state %q", len(res.Replies), d.s.State)
	}
	d.last = question
	d.press("Yes")
	state := d.s.State
	d.last = question
	res = d.press("Yes") // a double tap on a choice
	if len(res.Replies) != 0 || d.s.State != state {
		t.Fatalf("a double tap on a choice: %d replies, state %q (want %q)", len(res.Replies), d.s.State, state)
	}
	d.now = d.now.Add(DoubleTapWindow)
	d.last = question
	res = d.press("Yes") // the same old button, after the window: a stale press
	if len(res.Replies) != 1 || !strings.Contains(res.Replies[0].Text, "earlier message") || d.s.State != state {
		t.Fatalf("an old button after the window: %+v, state %q", res.Replies, d.s.State)
	}
}
