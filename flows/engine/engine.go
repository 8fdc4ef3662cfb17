package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/looplab/fsm"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/locales"
)

// MaxAutoSteps bounds how many states that wait for nothing (messages, submit) one turn may pass.
// The validator refuses loops of such states; this is the engine's own guard.
const MaxAutoSteps = 50

// DoubleTapWindow is how soon after a press the same button, pressed again on a message that is
// no longer current, counts as a double tap: it is ignored without a word (the edge still answers
// the press), instead of showing the "earlier message" notice.
const DoubleTapWindow = 5 * time.Second

// ErrInternal marks a turn that could not be completed because of a fault in Penah (for example
// a stored state the compiled flow does not know). The caller answers with a localized
// "something went wrong, your answers are safe" and keeps the stored session unchanged.
var ErrInternal = errors.New("engine: internal error")

// Input is what the person sent in one update: typed text or the data of a pressed button.
type Input struct {
	Text string
	Data string
	// LangHint is Telegram's language_code, used only as the first suggestion of the picker.
	LangHint string
}

// Reply is one message to show. Text is plain text: renderers escape it (HTML) and never
// interpret markup in it.
type Reply struct {
	Text    string
	Lang    locales.Lang
	Buttons [][]Button
	// Expect is the kind of answer the message waits for, zero when it waits for none.
	Expect flows.Kind
	// Edit asks to replace the message the pressed button belongs to (multi-choice ticks).
	Edit bool
}

// Button is one inline button.
type Button struct {
	Label string
	Data  string
}

// Fill replaces the {ref} and {code} placeholders once the caller has created the case.
func (r *Reply) Fill(ref, code string) {
	r.Text = strings.NewReplacer(flows.PlaceRef, ref, flows.PlaceCode, code).Replace(r.Text)
}

// EffectKind names something the caller must do after a turn.
type EffectKind int

// Effects.
const (
	// EffectSubmit: create a case from Effect.Answers, atomically with saving the session.
	EffectSubmit EffectKind = iota + 1
	// EffectExit: quick exit. Delete the conversation's messages and the session.
	EffectExit
	// EffectForget: erase the session and withdraw (crypto-shred) the person's case.
	EffectForget
	// EffectEnd: the flow reached an end state.
	EffectEnd
)

func (k EffectKind) String() string {
	switch k {
	case EffectSubmit:
		return "submit"
	case EffectExit:
		return "exit"
	case EffectForget:
		return "forget"
	case EffectEnd:
		return "end"
	}
	return "effect(" + strconv.Itoa(int(k)) + ")"
}

// Effect is one thing for the caller to do.
type Effect struct {
	Kind EffectKind
	// Flow, Revision, Lang and Answers describe the submission (EffectSubmit only).
	Flow     flows.ID
	Revision int
	Lang     locales.Lang
	Answers  []Answer
}

// Result is the outcome of one turn.
type Result struct {
	Session Session
	Replies []Reply
	Effects []Effect
}

// Has reports whether the result carries an effect of the given kind.
func (r *Result) Has(k EffectKind) bool {
	for _, e := range r.Effects {
		if e.Kind == k {
			return true
		}
	}
	return false
}

// Engine runs turns against a library of flows and the UI chrome catalogs.
type Engine struct {
	cat  *locales.Catalog
	lib  Library
	main flows.ID
}

// New returns an engine; main is the flow a plain /start begins.
func New(cat *locales.Catalog, lib Library, main flows.ID) *Engine {
	return &Engine{cat: cat, lib: lib, main: main}
}

// Global callback data, for buttons that are not part of a flow.
const (
	dataExit      = "~exit"
	dataRestart   = "~restart"
	dataLangPre   = "~lang:"
	dataResumeYes = "~resume:yes"
	dataResumeNo  = "~resume:no"
	dataForgetYes = "~forget:yes"
	dataForgetNo  = "~forget:no"
)

// Step runs one turn. It never mutates s. A non-nil error wraps ErrInternal; the stored session
// must then be left as it was.
func (e *Engine) Step(s Session, in Input, now time.Time) (Result, error) {
	t := &turn{e: e, s: s.clone(), in: in, now: now}
	if err := t.run(); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrInternal, err)
	}
	if t.s.Active() {
		t.s.Updated = now
		if in.Data != "" {
			t.s.LastData, t.s.LastAt = in.Data, now
		}
	}
	return Result{Session: t.s, Replies: t.replies, Effects: t.effects}, nil
}

func (s Session) clone() Session {
	s.Answers = slices.Clone(s.Answers)
	for i := range s.Answers {
		s.Answers[i].Values = slices.Clone(s.Answers[i].Values)
	}
	s.Selected = slices.Clone(s.Selected)
	s.History = slices.Clone(s.History)
	return s
}

type turn struct {
	e       *Engine
	s       Session
	in      Input
	now     time.Time
	c       *Compiled
	replies []Reply
	effects []Effect
	// notes are chrome lines (an error, a notice) put before the next question.
	notes []string
	edit  bool
}

func (t *turn) lang() locales.Lang {
	if t.s.Lang != "" {
		return t.s.Lang
	}
	if l, ok := locales.Match(t.in.LangHint); ok {
		return l
	}
	return locales.EN
}

func (t *turn) tr(id locales.MsgID) string { return t.e.cat.T(t.lang(), id, nil) }

func (t *turn) note(id locales.MsgID, data map[string]any) {
	t.notes = append(t.notes, t.e.cat.T(t.lang(), id, data))
}

// say adds a reply with pending notes before text.
func (t *turn) say(text string, buttons [][]Button, expect flows.Kind) {
	if len(t.notes) > 0 {
		text = strings.Join(append(t.notes, text), "\n\n")
		t.notes = nil
	}
	t.replies = append(t.replies, Reply{Text: text, Lang: t.lang(), Buttons: buttons, Expect: expect, Edit: t.edit})
	t.edit = false
}

func (t *turn) run() error {
	cmd, arg, isCmd := locales.Command(""), "", false
	if t.in.Data == "" {
		cmd, arg, isCmd = t.e.cat.ParseCommand(t.in.Text)
	}
	// Quick exit works always, from any state, even on a stale message.
	if (isCmd && cmd == locales.CmdExit) || t.in.Data == dataExit || strings.HasSuffix(t.in.Data, ":"+string(flows.ChromeExit)) {
		return t.exit()
	}
	if t.s.Active() && t.s.Flow != "" {
		c, ok := t.e.lib.Get(t.s.Flow, t.s.Revision)
		if !ok {
			// The pinned revision is gone (it should be kept while sessions use it): start over
			// rather than guess at a state of another revision.
			t.note(locales.MsgExpired, nil)
			return t.start(t.e.main)
		}
		t.c = c
		idle := t.now.Sub(t.s.Updated)
		if idle > c.Flow.Expiry() {
			lang := t.s.Lang
			t.s = Session{Lang: lang}
			t.note(locales.MsgExpired, nil)
			if isCmd && cmd == locales.CmdStart {
				return t.start(t.flowFromArg(arg))
			}
			return t.start(t.e.main)
		}
		if t.s.Phase == PhaseFlow && idle > c.Flow.ResumeCheck() && !(isCmd && (cmd == locales.CmdStart || cmd == locales.CmdForget)) {
			t.s.Phase = PhaseResume
			t.resumeQuestion()
			return nil
		}
	}
	if t.in.Data == dataRestart {
		return t.start(t.e.main)
	}
	if strings.HasPrefix(t.in.Data, dataLangPre) {
		return t.pickLanguage()
	}
	if isCmd {
		switch cmd {
		case locales.CmdStart:
			return t.start(t.flowFromArg(arg))
		case locales.CmdHelp:
			t.note(locales.MsgHelp, nil)
			return t.again()
		case locales.CmdLanguage:
			if t.s.Phase != PhaseLanguage {
				t.s.Return = t.s.Phase
			}
			t.s.Phase = PhaseLanguage
			t.languagePicker()
			return nil
		case locales.CmdForget:
			// Always ask, even with no conversation in progress: the person may have sent a
			// request and cleared the chat since, and the caller erases whatever it keeps.
			if t.s.Phase != PhaseForget {
				t.s.Return = t.s.Phase
			}
			t.s.Phase = PhaseForget
			t.forgetQuestion()
			return nil
		}
	}
	switch t.s.Phase {
	case PhaseNew:
		return t.start(t.e.main)
	case PhaseLanguage:
		return t.pickLanguage()
	case PhaseResume:
		return t.resume()
	case PhaseForget:
		return t.forget()
	case PhaseDone:
		t.ended()
		return nil
	case PhaseFlow:
		if isCmd {
			switch cmd {
			case locales.CmdBack:
				return t.back()
			case locales.CmdSkip:
				return t.skip()
			case locales.CmdDone:
				return t.done()
			}
		}
		return t.answer()
	}
	return fmt.Errorf("unknown phase %q", t.s.Phase)
}

// ended tells the person the conversation is over and offers a new one.
func (t *turn) ended() {
	t.say(t.tr(locales.MsgSessionDone), [][]Button{
		{{Label: t.tr(locales.MsgStartAgain), Data: dataRestart}},
		{{Label: t.tr(locales.MsgExit), Data: dataExit}},
	}, 0)
}

// flowFromArg picks the flow a /start payload names (a deep link such as /start info), or the main flow.
func (t *turn) flowFromArg(arg string) flows.ID {
	if arg != "" {
		if _, ok := t.e.lib.Latest(flows.ID(arg)); ok {
			return flows.ID(arg)
		}
	}
	return t.e.main
}

// again re-shows whatever the person was last asked.
func (t *turn) again() error {
	switch t.s.Phase {
	case PhaseFlow:
		return t.ask()
	case PhaseLanguage:
		t.languagePicker()
	case PhaseResume:
		t.resumeQuestion()
	case PhaseForget:
		t.forgetQuestion()
	case PhaseDone:
		t.ended()
	default:
		return t.start(t.e.main)
	}
	return nil
}

func (t *turn) exit() error {
	lang := t.lang()
	t.s = Session{}
	t.effects = append(t.effects, Effect{Kind: EffectExit})
	t.replies = append(t.replies, Reply{Text: t.e.cat.T(lang, locales.MsgExitDone, nil), Lang: lang})
	return nil
}

// start begins a flow afresh at the language picker. Answers not yet submitted are dropped.
func (t *turn) start(id flows.ID) error {
	c, ok := t.e.lib.Latest(id)
	if !ok {
		return fmt.Errorf("flow %q not in library", id)
	}
	t.c = c
	lang := t.s.Lang
	t.s = Session{Flow: c.Flow.ID, Revision: c.Flow.Revision, Phase: PhaseLanguage, Lang: lang, Started: t.now}
	t.languagePicker()
	return nil
}

// pickerOrder lists the languages with the suggestion from Telegram's language_code first.
func (t *turn) pickerOrder() []locales.Lang {
	order := slices.Clone(locales.All)
	if l, ok := locales.Match(t.in.LangHint); ok {
		i := slices.Index(order, l)
		order = append(append([]locales.Lang{l}, order[:i]...), order[i+1:]...)
	}
	if t.c != nil {
		order = slices.DeleteFunc(order, func(l locales.Lang) bool { return !t.c.Flow.HasLanguage(l) })
	}
	return order
}

func (t *turn) languagePicker() {
	order := t.pickerOrder()
	lines := make([]string, 0, len(order))
	rows := make([][]Button, 0, len(order)+1)
	for _, l := range order {
		lines = append(lines, t.e.cat.T(l, locales.MsgChooseLanguage, nil))
		rows = append(rows, []Button{{Label: l.Name(), Data: dataLangPre + string(l)}})
	}
	rows = append(rows, []Button{{Label: t.e.cat.T(order[0], locales.MsgExit, nil), Data: dataExit}})
	text := strings.Join(lines, "\n")
	if len(t.notes) > 0 {
		text = strings.Join(append(t.notes, text), "\n\n")
		t.notes = nil
	}
	// The picker speaks every language at once; its own direction is the suggestion's.
	t.replies = append(t.replies, Reply{Text: text, Lang: order[0], Buttons: rows, Expect: flows.KindChoice})
}

func (t *turn) pickLanguage() error {
	var chosen locales.Lang
	if strings.HasPrefix(t.in.Data, dataLangPre) {
		if l, ok := locales.Parse(strings.TrimPrefix(t.in.Data, dataLangPre)); ok {
			chosen = l
		}
	} else {
		text := locales.Normalize(t.in.Text)
		key := locales.Fold(text)
		order := t.pickerOrder()
		if n, err := strconv.Atoi(text); err == nil && n >= 1 && n <= len(order) {
			chosen = order[n-1]
		}
		for _, l := range order {
			if key == locales.Fold(string(l)) || key == locales.Fold(l.Name()) {
				chosen = l
			}
		}
	}
	if t.c == nil {
		return t.start(t.e.main)
	}
	if chosen == "" || !t.c.Flow.HasLanguage(chosen) {
		if t.s.Phase != PhaseLanguage {
			// A picker button pressed on an old message while elsewhere: show where they are.
			return t.stale(t.again)
		}
		t.note(locales.MsgInvalidChoice, nil)
		t.languagePicker()
		return nil
	}
	if t.s.Phase != PhaseLanguage && chosen == t.s.Lang && t.doubleTap() {
		return nil
	}
	t.s.Lang = chosen
	if t.s.Phase == PhaseLanguage && t.s.Return != PhaseNew && t.s.Return != PhaseLanguage {
		t.s.Phase, t.s.Return = t.s.Return, ""
		return t.again()
	}
	if t.s.Phase != PhaseLanguage {
		return t.again()
	}
	t.s.Phase, t.s.Return = PhaseFlow, ""
	return t.enter(t.c.Flow.Start)
}

func (t *turn) resumeQuestion() {
	t.say(t.tr(locales.MsgResumeCheck), [][]Button{
		{{Label: t.tr(locales.MsgYesSafe), Data: dataResumeYes}},
		{{Label: t.tr(locales.MsgNotNow), Data: dataResumeNo}},
		{{Label: t.tr(locales.MsgExit), Data: dataExit}},
	}, flows.KindChoice)
}

// yesNo reads a two-button answer given as button data, a typed number (1 or 2) or a typed label.
func (t *turn) yesNo(yesData, noData string, yesMsg, noMsg locales.MsgID) (yes, no bool) {
	switch t.in.Data {
	case yesData:
		return true, false
	case noData:
		return false, true
	case "":
	default:
		return false, false
	}
	text := locales.Normalize(t.in.Text)
	key := locales.Fold(text)
	switch {
	case text == "1" || key == locales.Fold(t.tr(yesMsg)):
		return true, false
	case text == "2" || key == locales.Fold(t.tr(noMsg)):
		return false, true
	}
	return false, false
}

func (t *turn) resume() error {
	yes, no := t.yesNo(dataResumeYes, dataResumeNo, locales.MsgYesSafe, locales.MsgNotNow)
	switch {
	case yes:
		t.s.Phase = PhaseFlow
		return t.ask()
	case no:
		t.say(t.tr(locales.MsgResumeLater), [][]Button{{{Label: t.tr(locales.MsgExit), Data: dataExit}}}, 0)
		return nil
	}
	t.resumeQuestion()
	return nil
}

func (t *turn) forgetQuestion() {
	t.say(t.tr(locales.MsgForgetConfirm), [][]Button{
		{{Label: t.tr(locales.MsgForgetYes), Data: dataForgetYes}},
		{{Label: t.tr(locales.MsgCancel), Data: dataForgetNo}},
		{{Label: t.tr(locales.MsgExit), Data: dataExit}},
	}, flows.KindChoice)
}

func (t *turn) forget() error {
	yes, no := t.yesNo(dataForgetYes, dataForgetNo, locales.MsgForgetYes, locales.MsgCancel)
	switch {
	case yes:
		lang := t.lang()
		t.s = Session{}
		t.effects = append(t.effects, Effect{Kind: EffectForget})
		t.replies = append(t.replies, Reply{Text: t.e.cat.T(lang, locales.MsgForgetDone, nil), Lang: lang})
		return nil
	case no:
		t.s.Phase, t.s.Return = t.s.Return, ""
		if t.s.Phase == PhaseNew {
			t.s = Session{Lang: t.s.Lang}
			t.say(t.tr(locales.MsgForgetCancelled), nil, 0)
			return nil
		}
		t.note(locales.MsgForgetCancelled, nil)
		return t.again()
	}
	t.forgetQuestion()
	return nil
}

// current returns the state the session is at.
func (t *turn) current() (*flows.State, error) {
	st, ok := t.c.Flow.State(t.s.State)
	if !ok {
		return nil, fmt.Errorf("state %q not in flow %s revision %d", t.s.State, t.c.Flow.ID, t.c.Flow.Revision)
	}
	return st, nil
}

// back returns to the previous question, dropping the answers given since.
func (t *turn) back() error {
	// History holds every state passed; go back to the latest one that asked something.
	for i := len(t.s.History) - 1; i >= 0; i-- {
		prev, ok := t.c.Flow.State(t.s.History[i])
		if ok && prev.Kind().WaitsForInput() {
			t.s.History = t.s.History[:i]
			t.s.State = prev.ID
			t.s.Selected = nil
			t.s.dropAfter(t.s.History)
			return t.ask()
		}
	}
	t.note(locales.MsgNothingBack, nil)
	return t.ask()
}

// answer reads the person's answer to the current question.
func (t *turn) answer() error {
	st, err := t.current()
	if err != nil {
		return err
	}
	var choice flows.ChoiceID
	if t.in.Data != "" {
		id, ok := t.pressed(st)
		if !ok {
			return t.stale(t.ask)
		}
		switch id {
		case flows.ChromeBack:
			return t.back()
		case flows.ChromeSkip:
			return t.skip()
		case flows.ChromeDone:
			return t.done()
		}
		choice = id
	}
	switch st.Kind() {
	case flows.KindChoice, flows.KindMulti, flows.KindGovernorate:
		if choice == "" {
			var ok bool
			if choice, ok = t.typedChoice(st); !ok {
				t.note(locales.MsgInvalidChoice, nil)
				return t.ask()
			}
		}
		return t.choose(st, choice)
	}
	if choice != "" {
		t.note(locales.MsgStaleButton, nil)
		return t.ask()
	}
	return t.typed(st)
}

// doubleTap reports whether this press repeats the previous one within DoubleTapWindow.
func (t *turn) doubleTap() bool {
	return t.in.Data != "" && t.in.Data == t.s.LastData && t.now.Sub(t.s.LastAt) < DoubleTapWindow
}

// stale answers a button of a message that is no longer current: a double tap is ignored,
// anything else gets the notice and the current question again (show).
func (t *turn) stale(show func() error) error {
	if t.doubleTap() {
		return nil
	}
	t.note(locales.MsgStaleButton, nil)
	return show()
}

// pressed decodes button data for the current state; ok is false for a button of another state,
// flow or revision.
func (t *turn) pressed(st *flows.State) (flows.ChoiceID, bool) {
	return t.c.choiceFor(st.ID, t.in.Data)
}

// options lists a choice state's values and labels in the current language, as shown.
func (t *turn) options(st *flows.State) (ids []flows.ChoiceID, labels []string) {
	if st.Kind() == flows.KindGovernorate {
		for _, g := range locales.Governorates {
			ids = append(ids, flows.ChoiceID(g))
			labels = append(labels, t.e.cat.T(t.lang(), locales.GovernorateMsg(g), nil))
		}
		return ids, labels
	}
	for _, c := range st.Choices {
		ids = append(ids, c.ID)
		labels = append(labels, c.Label.In(t.lang(), t.c.Flow.Base))
	}
	return ids, labels
}

// typedChoice accepts a typed number ("2", "٢") or a typed label instead of a button press.
func (t *turn) typedChoice(st *flows.State) (flows.ChoiceID, bool) {
	text := locales.Normalize(t.in.Text)
	ids, labels := t.options(st)
	if n, err := strconv.Atoi(text); err == nil && n >= 1 && n <= len(ids) {
		return ids[n-1], true
	}
	key := locales.Fold(text)
	for i, l := range labels {
		if key == locales.Fold(l) {
			return ids[i], true
		}
	}
	return "", false
}

func (t *turn) choose(st *flows.State, id flows.ChoiceID) error {
	if st.Kind() == flows.KindMulti {
		if i := slices.Index(t.s.Selected, id); i >= 0 {
			t.s.Selected = slices.Delete(t.s.Selected, i, i+1)
		} else {
			c, _ := st.Choice(id)
			// An exclusive choice ("None of them") and the others cannot be ticked together.
			t.s.Selected = slices.DeleteFunc(t.s.Selected, func(other flows.ChoiceID) bool {
				o, _ := st.Choice(other)
				return c.Exclusive || (o != nil && o.Exclusive)
			})
			t.s.Selected = append(t.s.Selected, id)
		}
		t.edit = t.in.Data != ""
		return t.ask()
	}
	if st.Save != "" {
		t.s.put(Answer{Field: st.Save, By: st.ID, Values: []string{string(id)}, Sensitive: st.SensitiveField()})
	}
	next := st.Next
	if c, ok := st.Choice(id); ok && len(c.Next) > 0 {
		next = c.Next
	}
	return t.follow(st, next)
}

func (t *turn) done() error {
	st, err := t.current()
	if err != nil {
		return err
	}
	if st.Kind() != flows.KindMulti {
		t.note(locales.MsgInvalidChoice, nil)
		return t.ask()
	}
	if len(t.s.Selected) == 0 {
		if st.Optional {
			return t.skip()
		}
		t.note(locales.MsgNeedOne, nil)
		return t.ask()
	}
	// Keep the flow's order, not the order of taps.
	var vals []string
	for _, c := range st.Choices {
		if slices.Contains(t.s.Selected, c.ID) {
			vals = append(vals, string(c.ID))
		}
	}
	t.s.Selected = nil
	if st.Save != "" {
		t.s.put(Answer{Field: st.Save, By: st.ID, Values: vals, Sensitive: st.SensitiveField()})
	}
	return t.follow(st, st.Next)
}

func (t *turn) skip() error {
	st, err := t.current()
	if err != nil {
		return err
	}
	if !st.Optional {
		for _, c := range st.Choices {
			if c.Skip {
				return t.choose(st, c.ID)
			}
		}
		t.note(locales.MsgNotSkippable, nil)
		return t.ask()
	}
	t.s.Selected = nil
	if st.Save != "" {
		t.s.put(Answer{Field: st.Save, By: st.ID, Skipped: true, Sensitive: st.SensitiveField()})
	}
	return t.follow(st, st.Next)
}

// typed reads a free answer: text, number or phone.
func (t *turn) typed(st *flows.State) error {
	text := locales.Normalize(t.in.Text)
	var value string
	switch st.Kind() {
	case flows.KindText:
		n := utf8.RuneCountInString(text)
		switch {
		case n == 0:
			t.note(locales.MsgTextEmpty, nil)
			return t.ask()
		case n > st.AnswerMaxLen():
			t.notes = append(t.notes, t.e.cat.Plural(t.lang(), locales.MsgTextTooLong, st.AnswerMaxLen(), nil))
			return t.ask()
		}
		value = text
	case flows.KindNumber:
		lo, hi := numberRange(st)
		digits := strings.TrimSpace(text)
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || len(digits) > flows.MaxNumberDigits+1 || n < lo || n > hi {
			t.note(locales.MsgInvalidNumber, map[string]any{"Min": lo, "Max": hi})
			return t.ask()
		}
		value = strconv.FormatInt(n, 10)
	case flows.KindPhone:
		p, ok := locales.ParsePhone(text)
		if !ok {
			t.note(locales.MsgInvalidPhone, nil)
			return t.ask()
		}
		value = p
	default:
		t.note(locales.MsgInvalidChoice, nil)
		return t.ask()
	}
	if st.Save != "" {
		t.s.put(Answer{Field: st.Save, By: st.ID, Text: value, Sensitive: true})
	}
	return t.follow(st, st.Next)
}

func numberRange(st *flows.State) (lo, hi int64) {
	lo, hi = 0, 999_999_999
	if st.Min != nil {
		lo = *st.Min
	}
	if st.Max != nil {
		hi = *st.Max
	}
	return lo, hi
}

// follow moves on along the first branch whose condition holds.
func (t *turn) follow(from *flows.State, next flows.Next) error {
	to, ok := next.Target(&t.s)
	if !ok {
		return fmt.Errorf("state %q has no way on", from.ID)
	}
	if err := t.move(from.ID, to); err != nil {
		return err
	}
	return t.enter(to)
}

// move fires the flow's state machine for one step. The machine is rebuilt at the stored state
// from the compiled table of that state; a move the table does not allow is an internal error.
func (t *turn) move(from, to flows.StateID) error {
	m := fsm.NewFSM(string(from), t.c.events[from], nil)
	err := m.Event(context.Background(), eventName(to))
	var none fsm.NoTransitionError
	if err != nil && !errors.As(err, &none) { // a self-loop (re-ask by design) is not an error
		return fmt.Errorf("move %s -> %s: %w", from, to, err)
	}
	if m.Current() != string(to) {
		return fmt.Errorf("move %s -> %s ended in %s", from, to, m.Current())
	}
	t.s.History = append(t.s.History, from)
	return nil
}

// enter arrives at a state and runs every state that waits for nothing, until a question or an end.
func (t *turn) enter(id flows.StateID) error {
	for hops := 0; ; hops++ {
		if hops > MaxAutoSteps {
			return fmt.Errorf("more than %d states without a question", MaxAutoSteps)
		}
		st, ok := t.c.Flow.State(id)
		if !ok {
			return fmt.Errorf("unknown state %q", id)
		}
		// Coming back to a state already passed (e.g. "change something" from the summary) means
		// answering again from there: drop what was said since, as /back would.
		if i := slices.Index(t.s.History, id); i >= 0 {
			t.s.History = t.s.History[:i]
			t.s.dropAfter(t.s.History)
		}
		t.s.State = id
		t.s.Selected = nil
		for _, f := range sortedFields(st.Set) {
			t.s.put(Answer{Field: f, By: st.ID, Values: []string{st.Set[f]}})
		}
		switch st.Kind() {
		case flows.KindMessage:
			t.say(t.text(st), nil, 0)
		case flows.KindSubmit:
			if len(st.Say) > 0 {
				t.say(t.text(st), nil, 0)
			}
			t.effects = append(t.effects, Effect{
				Kind: EffectSubmit, Flow: t.c.Flow.ID, Revision: t.c.Flow.Revision, Lang: t.lang(),
				Answers: slices.Clone(t.s.Answers),
			})
			// The case now holds the answers; the session keeps none of them.
			t.s.Submitted = true
			t.s.Answers = nil
		case flows.KindEnd:
			t.say(t.text(st), [][]Button{{{Label: t.tr(locales.MsgExit), Data: dataExit}}}, 0)
			t.s.Phase = PhaseDone
			t.s.History = nil
			t.s.Answers = nil
			t.effects = append(t.effects, Effect{Kind: EffectEnd})
			return nil
		default:
			return t.ask()
		}
		to, ok := st.Next.Target(&t.s)
		if !ok {
			return fmt.Errorf("state %q has no way on", st.ID)
		}
		if err := t.move(st.ID, to); err != nil {
			return err
		}
		id = to
	}
}

func sortedFields(m map[flows.FieldID]string) []flows.FieldID {
	out := make([]flows.FieldID, 0, len(m))
	for f := range m {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// text is a state's text in the session's language, with {answers} filled in.
func (t *turn) text(st *flows.State) string {
	s := st.Say.In(t.lang(), t.c.Flow.Base)
	if strings.Contains(s, flows.PlaceAnswers) {
		s = strings.ReplaceAll(s, flows.PlaceAnswers, t.summary())
	}
	return s
}

// summary lists the answers in flow order, in the person's language. Sensitive answers are not
// repeated back: they would sit in the chat history on the phone.
func (t *turn) summary() string {
	var b strings.Builder
	for _, st := range t.c.Flow.States {
		if st.Save == "" {
			continue
		}
		a, ok := t.s.Answer(st.Save)
		if !ok {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("• ")
		b.WriteString(st.Title.In(t.lang(), t.c.Flow.Base))
		b.WriteString(": ")
		switch {
		case a.Skipped:
			b.WriteString(t.tr(locales.MsgSkipped))
		case a.Sensitive:
			b.WriteString(t.tr(locales.MsgAnswered))
		default:
			ids, labels := t.options(st)
			var shown []string
			for _, v := range a.Values {
				if i := slices.Index(ids, flows.ChoiceID(v)); i >= 0 {
					shown = append(shown, labels[i])
				}
			}
			b.WriteString(strings.Join(shown, ", "))
		}
	}
	return b.String()
}

// ask shows the current question with its buttons.
func (t *turn) ask() error {
	st, err := t.current()
	if err != nil {
		return err
	}
	k := st.Kind()
	n, perRow := len(st.Choices), 1
	if k == flows.KindGovernorate {
		n, perRow = len(locales.Governorates), 2
	}
	// One backing array for every button, sliced into rows: a question costs few allocations.
	buf := make([]Button, 0, n+4)
	rows := make([][]Button, 0, (n+perRow-1)/perRow+2)
	add := func(label string, id flows.ChoiceID) {
		buf = append(buf, Button{Label: label, Data: t.c.buttonData(st.ID, id)})
	}
	row := func(from int) {
		if len(buf) > from {
			rows = append(rows, buf[from:len(buf):len(buf)])
		}
	}
	if k == flows.KindGovernorate {
		for i, g := range locales.Governorates {
			from := len(buf)
			add(t.e.cat.T(t.lang(), locales.GovernorateMsg(g), nil), flows.ChoiceID(g))
			if i%2 == 1 || i == len(locales.Governorates)-1 {
				row(from - i%2)
			}
		}
	}
	for _, c := range st.Choices {
		from := len(buf)
		label := c.Label.In(t.lang(), t.c.Flow.Base)
		if k == flows.KindMulti && slices.Contains(t.s.Selected, c.ID) {
			label = "✓ " + label
		}
		add(label, c.ID)
		row(from)
	}
	from := len(buf)
	if len(t.s.History) > 0 {
		add(t.tr(locales.MsgBack), flows.ChromeBack)
	}
	if st.Optional {
		add(t.tr(locales.MsgSkip), flows.ChromeSkip)
	}
	if k == flows.KindMulti {
		add(t.tr(locales.MsgDone), flows.ChromeDone)
	}
	row(from)
	rows = append(rows, []Button{{Label: t.tr(locales.MsgExit), Data: dataExit}})
	text := t.text(st)
	if k == flows.KindMulti && len(t.s.Selected) > 0 {
		text += "\n\n" + t.e.cat.Plural(t.lang(), locales.MsgSelected, len(t.s.Selected), nil)
	}
	t.say(text, rows, k)
	return nil
}

// Expiry is how long the session may stay idle before it is forgotten (its flow's expiry; the
// main flow's for a session without one).
func (e *Engine) Expiry(s Session) time.Duration {
	if c, ok := e.lib.Get(s.Flow, s.Revision); ok {
		return c.Flow.Expiry()
	}
	if c, ok := e.lib.Latest(e.main); ok {
		return c.Flow.Expiry()
	}
	return 0
}
