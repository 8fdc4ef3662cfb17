package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/locales"
)

// The officer desk (issue 6, DESIGN.md §5): officers talk to the same bot as people do; the
// dispatcher recognises them by their Telegram user id and hands their updates here. Everything
// an officer does is authorised against the case (team, claimant, supervisor), refused in one
// neutral way whatever the reason ("no such case" and "not yours" read the same), and audited.

// Callback data of the desk's buttons ("d:" never starts a flow's callback data).
const (
	deskPrefix   = "d:"
	dataClaim    = deskPrefix + "c:" // + case reference
	dataInfoFlow = deskPrefix + "info"
)

// Outcomes an officer closes a case with (/close REF OUTCOME).
var Outcomes = []string{
	"referred_health", "referred_psychosocial", "referred_legal", "referred_shelter", "referred_livelihood",
	"information_given", "no_contact", "duplicate", "withdrawn",
}

// Services a case can be referred to (/refer REF SERVICE): the values of the intake's share_with
// question, which is the person's consent.
var Services = []string{"health", "psychosocial", "legal", "shelter", "livelihood"}

// consentField is the routing field that holds the services the person agreed to share with.
const consentField flows.FieldID = "share_with"

// MaxQueueShown bounds the cases one /queue or /mine lists.
const MaxQueueShown = 20

// officerCommands are the desk's commands. A person who types one is refused like anyone else
// without the right: nothing tells them more.
var officerCommands = []string{"duty", "queue", "mine", "case", "release", "close", "refer", "note", "msg"}

// parseDeskCommand splits "/cmd[@bot] args" into its name and arguments.
func parseDeskCommand(text string) (cmd, args string) {
	text = strings.TrimSpace(strings.TrimLeft(text, "\u200e\u200f"))
	if !strings.HasPrefix(text, "/") {
		return "", ""
	}
	head, rest, _ := strings.Cut(text[1:], " ")
	if i := strings.IndexByte(head, '\n'); i >= 0 {
		head, rest = head[:i], head[i+1:]+" "+rest
	}
	head, _, _ = strings.Cut(head, "@")
	return strings.ToLower(head), strings.TrimSpace(rest)
}

// desk handles what belongs to the officer side; handled is false for a person's ordinary
// update (it then goes to the flows).
func (d *Dispatcher) desk(ctx context.Context, u *intake.Update, in Incoming) (handled bool, err error) {
	off, err := d.Roster.OfficerByTelegram(ctx, in.UserID)
	if err != nil {
		return true, err
	}
	cmd, args := "", ""
	if in.Kind == KindText {
		cmd, args = parseDeskCommand(in.Text)
	}
	deskPress := in.Kind == KindCallback && strings.HasPrefix(in.Data, deskPrefix) && in.Data != dataInfoFlow
	switch {
	case off != nil && off.Active:
		return true, d.officerTurn(ctx, u, in, off, cmd, args)
	case cmd == "start" && d.Roster.IsInvite(args):
		return true, d.redeem(ctx, u, in, args)
	case slices.Contains(officerCommands, cmd) || deskPress:
		actor := "unknown"
		if off != nil {
			actor = off.ID // a disabled officer
		}
		return true, d.refuse(ctx, u, in, actor, "officer "+cmdName(cmd, deskPress), args, locales.Lang(""))
	}
	return d.personDesk(ctx, u, in, cmd)
}

func cmdName(cmd string, press bool) string {
	if press {
		return "button"
	}
	return "/" + cmd
}

// reply commits the update done with msgs (and a press answered).
func (d *Dispatcher) reply(ctx context.Context, u *intake.Update, in Incoming, msgs ...intake.OutboxMessage) error {
	turn := intake.Turn{Key: u.Chat, UpdateID: u.ID, Input: engine.Input{LangHint: in.LangCode},
		Deliver: func(*intake.Outcome) ([]intake.OutboxMessage, error) {
			var out []intake.OutboxMessage
			if in.Kind == KindCallback {
				m, err := d.outbox(u.Chat, &OutboundRequest{Method: MethodAnswerCallbackQuery, CallbackQueryID: in.CallbackID})
				if err != nil {
					return nil, err
				}
				out = append(out, m)
			}
			return append(out, msgs...), nil
		}}
	return d.settle(ctx, u, d.Service.Notify(ctx, turn, ""))
}

// say builds a message to chatID (blind key key) in lang from a catalog message, optionally
// followed by plain text (escaped by Render, never interpreted) and with buttons.
func (d *Dispatcher) say(key intake.SessionKey, chatID int64, lang locales.Lang, id locales.MsgID, data map[string]any, extra string, buttons [][]engine.Button) ([]intake.OutboxMessage, error) {
	text := d.Catalog.T(lang, id, data)
	if extra != "" {
		text += "\n\n" + extra
	}
	return d.messages(key, chatID, engine.Reply{Text: text, Lang: lang, Buttons: buttons})
}

// messages renders a reply into sendMessage requests to chatID (blind key key).
func (d *Dispatcher) messages(key intake.SessionKey, chatID int64, reply engine.Reply) ([]intake.OutboxMessage, error) {
	var out []intake.OutboxMessage
	for _, part := range Render(reply) {
		r := SendMessageRequest(chatID, part)
		m, err := d.outbox(key, &r)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// sayTo is say to the update's own chat.
func (d *Dispatcher) sayTo(u *intake.Update, in Incoming, lang locales.Lang, id locales.MsgID, data map[string]any, extra string, buttons [][]engine.Button) ([]intake.OutboxMessage, error) {
	return d.say(u.Chat, in.ChatID, lang, id, data, extra, buttons)
}

// refuse answers an officer action that is not allowed — whatever the reason — with one neutral
// line, and audits the attempt (the reference only if it is well-formed; never the Telegram id).
func (d *Dispatcher) refuse(ctx context.Context, u *intake.Update, in Incoming, actor, what, args string, lang locales.Lang) error {
	if lang == "" {
		lang = d.Service.LangOf(ctx, u.Chat, in.LangCode)
	}
	e := intake.AuditEntry{Time: d.now(), Actor: actor, Action: "refused", Reason: what}
	ref, _ := intake.ParseRef(firstField(args))
	if in.Kind == KindCallback {
		ref, _ = intake.ParseRef(strings.TrimPrefix(in.Data, dataClaim))
	}
	e.Ref = ref
	if err := d.Store.AppendAudit(ctx, e); err != nil {
		return err
	}
	msgs, err := d.sayTo(u, in, lang, locales.MsgNotAllowed, nil, "", nil)
	if err != nil {
		return err
	}
	return d.reply(ctx, u, in, msgs...)
}

func firstField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// redeem registers an officer from an invite deep link.
func (d *Dispatcher) redeem(ctx context.Context, u *intake.Update, in Incoming, token string) error {
	off, err := d.Roster.Redeem(ctx, token, in.UserID, d.now())
	if errors.Is(err, ErrInvalidInvite) {
		return d.refuse(ctx, u, in, "unknown", "invite", "", "")
	}
	if err != nil {
		return err
	}
	msgs, err := d.sayTo(u, in, off.Lang(), locales.MsgOfficerWelcome, map[string]any{"Role": off.Role, "Team": off.Team}, "", nil)
	if err != nil {
		return err
	}
	return d.reply(ctx, u, in, msgs...)
}

// officerTurn runs one update of an active officer.
func (d *Dispatcher) officerTurn(ctx context.Context, u *intake.Update, in Incoming, off *OfficerInfo, cmd, args string) error {
	lang := off.Lang()
	say := func(id locales.MsgID, data map[string]any, extra string, buttons [][]engine.Button) error {
		msgs, err := d.sayTo(u, in, lang, id, data, extra, buttons)
		if err != nil {
			return err
		}
		return d.reply(ctx, u, in, msgs...)
	}
	refuse := func(what string) error { return d.refuse(ctx, u, in, off.ID, what, args, lang) }
	if in.Kind == KindCallback {
		if ref, ok := strings.CutPrefix(in.Data, dataClaim); ok {
			return d.claimCase(ctx, u, in, off, ref)
		}
		return d.reply(ctx, u, in) // a person's button in an officer's chat: just answer it
	}
	if in.Kind != KindText {
		return say(locales.MsgNotText, nil, "", nil)
	}
	if cmd == "" && in.ReplyToText != "" {
		if ref, ok := refIn(in.ReplyToText); ok {
			return d.relayToPerson(ctx, u, in, off, ref, in.Text)
		}
	}
	switch cmd {
	case "duty":
		if err := d.Roster.SetOnDuty(ctx, off.ID, !off.OnDuty); err != nil {
			return err
		}
		if off.OnDuty {
			return say(locales.MsgDutyOff, nil, "", nil)
		}
		return say(locales.MsgDutyOn, nil, "", nil)
	case "queue":
		cases, err := d.Store.Queue(ctx, off.Team, MaxQueueShown)
		if err != nil {
			return err
		}
		if len(cases) == 0 {
			return say(locales.MsgQueueEmpty, nil, "", nil)
		}
		var msgs []intake.OutboxMessage
		for _, c := range cases {
			m, err := d.notice(u.Chat, in.ChatID, lang, c)
			if err != nil {
				return err
			}
			msgs = append(msgs, m...)
		}
		return d.reply(ctx, u, in, msgs...)
	case "mine":
		cases, err := d.mine(ctx, off)
		if err != nil {
			return err
		}
		if len(cases) == 0 {
			return say(locales.MsgMineEmpty, nil, "", nil)
		}
		var lines []string
		for _, c := range cases {
			lines = append(lines, fmt.Sprintf("%s · P%d · %s", c.Ref, c.Priority, c.Status))
		}
		msgs, err := d.plain(u.Chat, in.ChatID, lang, strings.Join(lines, "\n"))
		if err != nil {
			return err
		}
		return d.reply(ctx, u, in, msgs...)
	case "case", "release", "close", "refer", "note", "msg":
		f := strings.Fields(args)
		if len(f) == 0 {
			return say(locales.MsgOfficerHelp, nil, "", nil)
		}
		ref, ok := intake.ParseRef(f[0])
		if !ok {
			return refuse("/" + cmd)
		}
		c, err := d.Store.Case(ctx, ref)
		if errors.Is(err, intake.ErrNotFound) {
			return refuse("/" + cmd)
		}
		if err != nil {
			return err
		}
		rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(args), f[0]))
		return d.caseCommand(ctx, u, in, off, cmd, c, rest)
	}
	return say(locales.MsgOfficerHelp, nil, "", nil)
}

// plain builds a message of text that is not from a catalog (lists of references, a case).
func (d *Dispatcher) plain(key intake.SessionKey, chatID int64, lang locales.Lang, text string) ([]intake.OutboxMessage, error) {
	return d.messages(key, chatID, engine.Reply{Text: text, Lang: lang})
}

// refIn finds a case reference in a message the bot sent (the officer replied to it).
func refIn(text string) (intake.Ref, bool) {
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '\n' || r == '[' || r == ']' || r == ',' }) {
		if ref, ok := intake.ParseRef(w); ok {
			return ref, true
		}
	}
	return "", false
}

// mine lists the active cases an officer holds.
func (d *Dispatcher) mine(ctx context.Context, off *OfficerInfo) ([]*intake.Case, error) {
	all, err := d.Store.ListCases(ctx, intake.CaseFilter{Team: off.Team})
	if err != nil {
		return nil, err
	}
	var out []*intake.Case
	for _, c := range all {
		if c.ClaimedBy == off.ID && c.Active() && !c.Unclaimed() {
			out = append(out, c)
		}
	}
	return out, nil
}

// canSee: the claimant, and the team's supervisors.
func canSee(off *OfficerInfo, c *intake.Case) bool {
	if !c.Active() && c.Status != intake.StatusClosed {
		return false
	}
	return c.ClaimedBy == off.ID || off.Supervises(c.Team)
}

// canClaim: the team's officers; after escalation to the backup team, its officers too.
func (d *Dispatcher) canClaim(ctx context.Context, off *OfficerInfo, c *intake.Case) (bool, error) {
	if off.Team == c.Team {
		return true, nil
	}
	if c.Escalation < escalateBackup {
		return false, nil
	}
	t, err := d.Roster.Team(ctx, c.Team)
	if err != nil || t == nil {
		return false, err
	}
	return t.Backup != "" && t.Backup == off.Team, nil
}

// claimCase is the Claim button: atomic in the store, so of two officers one wins.
func (d *Dispatcher) claimCase(ctx context.Context, u *intake.Update, in Incoming, off *OfficerInfo, refText string) error {
	lang := off.Lang()
	ref, ok := intake.ParseRef(refText)
	var c *intake.Case
	var err error
	if ok {
		c, err = d.Store.Case(ctx, ref)
		if errors.Is(err, intake.ErrNotFound) {
			ok = false
		} else if err != nil {
			return err
		}
	}
	if ok {
		ok, err = d.canClaim(ctx, off, c)
		if err != nil {
			return err
		}
	}
	if !ok || (!c.Unclaimed() && c.ClaimedBy != off.ID) {
		if ok && c.ClaimedBy != "" && c.Active() {
			msgs, err := d.sayTo(u, in, lang, locales.MsgClaimedByOther, map[string]any{"Ref": string(c.Ref), "By": c.ClaimedBy}, "", nil)
			if err != nil {
				return err
			}
			return d.reply(ctx, u, in, msgs...)
		}
		return d.refuse(ctx, u, in, off.ID, "claim", refText, lang)
	}
	claimed, err := d.Store.Claim(ctx, ref, off.ID, d.now())
	var taken *intake.ClaimedError
	switch {
	case errors.As(err, &taken):
		msgs, err := d.sayTo(u, in, lang, locales.MsgClaimedByOther, map[string]any{"Ref": string(ref), "By": taken.By}, "", nil)
		if err != nil {
			return err
		}
		return d.reply(ctx, u, in, msgs...)
	case errors.Is(err, intake.ErrConflict):
		return d.refuse(ctx, u, in, off.ID, "claim", refText, lang)
	case err != nil:
		return err
	}
	if claimed.Touched.IsZero() {
		if err := d.Store.UpdateCase(ctx, ref, 0, func(c *intake.Case) error { c.Touched = d.now(); return nil }, nil); err != nil {
			return err
		}
	}
	msgs, err := d.sayTo(u, in, lang, locales.MsgClaimedOK, map[string]any{"Ref": string(ref)}, "", nil)
	if err != nil {
		return err
	}
	view, err := d.caseView(u.Chat, in.ChatID, lang, claimed)
	if err != nil {
		return err
	}
	return d.reply(ctx, u, in, append(msgs, view...)...)
}

// caseView is the case as its officer reads it: routing fields, the sealed answers and thread,
// opened with the team's server-held key, sent with protect_content. A sealed-only team's case
// cannot be opened here: the officer is told to open it with their key file.
func (d *Dispatcher) caseView(key intake.SessionKey, chatID int64, lang locales.Lang, c *intake.Case) ([]intake.OutboxMessage, error) {
	ctx := context.Background()
	stored, body, err := d.Service.OpenCase(ctx, c.Ref)
	var text string
	if err != nil {
		text = fmt.Sprintf("%s\n\nThis case cannot be opened on the server (a sealed-only team): use `penah cases open %s --identity FILE`.", c.Ref, c.Ref)
	} else {
		text = stored.OfficerView(d.Library, d.Catalog, lang, body)
		if thread, err := d.Service.OpenThread(stored); err == nil {
			for _, e := range thread {
				text += fmt.Sprintf("\n[%s %s %s] %s", e.At.UTC().Format("2006-01-02 15:04"), e.Kind, e.From, e.Text)
			}
		}
	}
	return d.plain(key, chatID, lang, text)
}

// caseCommand runs /case, /release, /close, /refer, /note and /msg on a loaded case.
func (d *Dispatcher) caseCommand(ctx context.Context, u *intake.Update, in Incoming, off *OfficerInfo, cmd string, c *intake.Case, rest string) error {
	lang, ref := off.Lang(), string(c.Ref)
	holder := c.ClaimedBy == off.ID && c.Active()
	refuse := func() error { return d.refuse(ctx, u, in, off.ID, "/"+cmd, ref, lang) }
	say := func(id locales.MsgID, data map[string]any) error {
		msgs, err := d.sayTo(u, in, lang, id, data, "", nil)
		if err != nil {
			return err
		}
		return d.reply(ctx, u, in, msgs...)
	}
	now := d.now()
	if c.ClaimedBy == off.ID && !c.Active() && cmd != "case" && !(cmd == "close" && c.Outcome == firstField(rest)) {
		// The officer's own case, closed (or withdrawn by the person): say so plainly.
		return d.stepNotPossible(ctx, u, in, off, cmd, c)
	}
	switch cmd {
	case "case":
		if !canSee(off, c) {
			return refuse()
		}
		view, err := d.caseView(u.Chat, in.ChatID, lang, c)
		if err != nil {
			return err
		}
		return d.reply(ctx, u, in, view...)
	case "release":
		if !holder {
			return refuse()
		}
		if err := d.Store.Release(ctx, c.Ref, off.ID, now); err != nil {
			var taken *intake.ClaimedError
			if errors.As(err, &taken) || errors.Is(err, intake.ErrConflict) {
				return refuse()
			}
			return err
		}
		return say(locales.MsgReleasedOK, map[string]any{"Ref": ref})
	case "close":
		outcome := firstField(rest)
		if !holder && !(c.Status == intake.StatusClosed && c.ClaimedBy == off.ID && c.Outcome == outcome) {
			return refuse()
		}
		if !slices.Contains(Outcomes, outcome) {
			return say(locales.MsgCloseUsage, map[string]any{"Outcomes": strings.Join(Outcomes, ", ")})
		}
		if c.Status != intake.StatusClosed {
			if err := d.transition(ctx, c, off, intake.EventClose, "closed", outcome, func(c *intake.Case) {
				c.Closed, c.Outcome = now, outcome
			}); err != nil {
				return d.transitionError(ctx, u, in, off, cmd, ref, err)
			}
		}
		msgs, err := d.sayTo(u, in, lang, locales.MsgClosedOK, map[string]any{"Ref": ref, "Outcome": outcome}, "", nil)
		if err != nil {
			return err
		}
		told, err := d.tellPerson(ctx, c, locales.MsgCaseClosedPerson, [][]engine.Button{{{Label: d.Catalog.T(c.Lang, locales.MsgInfoButton, nil), Data: dataInfoFlow}}})
		if err != nil {
			return err
		}
		return d.reply(ctx, u, in, append(msgs, told...)...)
	case "refer":
		if !holder {
			return refuse()
		}
		service := firstField(rest)
		if !slices.Contains(Services, service) {
			return say(locales.MsgReferUsage, map[string]any{"Services": strings.Join(Services, ", ")})
		}
		if !slices.Contains(c.Routing[consentField], service) {
			if err := d.Store.AppendAudit(ctx, intake.AuditEntry{Time: now, Actor: off.ID, Action: "referral refused", Ref: c.Ref, Reason: "no consent: " + service}); err != nil {
				return err
			}
			return say(locales.MsgReferNoConsent, map[string]any{"Service": service})
		}
		if err := d.transition(ctx, c, off, intake.EventRefer, "referred", service, func(c *intake.Case) {
			if !slices.Contains(c.Referrals, service) {
				c.Referrals = append(c.Referrals, service)
			}
		}); err != nil {
			return d.transitionError(ctx, u, in, off, cmd, ref, err)
		}
		return say(locales.MsgReferOK, map[string]any{"Ref": ref, "Service": service})
	case "note":
		if !canSee(off, c) || !c.Active() || rest == "" {
			return refuse()
		}
		if err := d.appendThread(ctx, c, off.ID, intake.KindNote, u.ID, rest, "note added"); err != nil {
			return err
		}
		return say(locales.MsgNoteOK, map[string]any{"Ref": ref})
	case "msg":
		if rest == "" {
			return refuse()
		}
		return d.relayToPerson(ctx, u, in, off, c.Ref, rest)
	}
	return refuse()
}

// transition applies a lifecycle event to a case with its audit entry, in one store transaction.
func (d *Dispatcher) transition(ctx context.Context, c *intake.Case, off *OfficerInfo, ev intake.Event, action, reason string, change func(*intake.Case)) error {
	now := d.now()
	audit := &intake.AuditEntry{Time: now, Actor: off.ID, Action: action, Ref: c.Ref, Reason: reason}
	return d.Store.UpdateCase(ctx, c.Ref, 0, func(s *intake.Case) error {
		if s.ClaimedBy != off.ID {
			return intake.ErrConflict
		}
		to, err := intake.Transition(s.Status, ev)
		if err != nil {
			return err
		}
		audit.From, audit.To = s.Status, to
		s.Status, s.Touched = to, now
		change(s)
		return nil
	}, audit)
}

// transitionError answers a refused lifecycle step. The officer holds the case, so they are told
// plainly that its status does not allow the step (and the attempt is audited).
func (d *Dispatcher) transitionError(ctx context.Context, u *intake.Update, in Incoming, off *OfficerInfo, cmd, ref string, err error) error {
	if !errors.Is(err, intake.ErrIllegalTransition) && !errors.Is(err, intake.ErrConflict) {
		return err
	}
	r, _ := intake.ParseRef(ref)
	c, cerr := d.Store.Case(ctx, r)
	if cerr != nil || c.ClaimedBy != off.ID {
		return d.refuse(ctx, u, in, off.ID, "/"+cmd, ref, off.Lang())
	}
	return d.stepNotPossible(ctx, u, in, off, cmd, c)
}

// stepNotPossible tells the officer who holds (or held) a case that its status does not allow
// the step, and audits the attempt.
func (d *Dispatcher) stepNotPossible(ctx context.Context, u *intake.Update, in Incoming, off *OfficerInfo, cmd string, c *intake.Case) error {
	if err := d.Store.AppendAudit(ctx, intake.AuditEntry{Time: d.now(), Actor: off.ID, Action: "refused", Ref: c.Ref, From: c.Status, Reason: "/" + cmd + " not allowed"}); err != nil {
		return err
	}
	msgs, err := d.sayTo(u, in, off.Lang(), locales.MsgStepNotPossible, map[string]any{"Ref": string(c.Ref), "Status": string(c.Status)}, "", nil)
	if err != nil {
		return err
	}
	return d.reply(ctx, u, in, msgs...)
}

// appendThread seals text into the case's thread (once per update) and audits it.
func (d *Dispatcher) appendThread(ctx context.Context, c *intake.Case, from, kind string, update int64, text, action string) error {
	now := d.now()
	entry, err := d.Service.NewThreadEntry(c, kind, from, update, text, now)
	if err != nil {
		return err
	}
	actor := from
	if from == "person" {
		actor = "person"
	}
	audit := &intake.AuditEntry{Time: now, Actor: actor, Action: action, Ref: c.Ref}
	return d.Store.UpdateCase(ctx, c.Ref, 0, func(s *intake.Case) error {
		if s.HasUpdate(update) {
			return errAlreadyApplied
		}
		if !s.Active() {
			return intake.ErrConflict
		}
		s.Thread = append(s.Thread, entry)
		if from != "person" {
			s.Touched = now
		}
		audit.From, audit.To = s.Status, s.Status
		return nil
	}, audit)
}

// errAlreadyApplied marks a case change a retried update had already made.
var errAlreadyApplied = errors.New("already applied")

// tellPerson builds a message to the person behind a case, in the case's language (nothing when
// the person is no longer linked, after /forget).
func (d *Dispatcher) tellPerson(ctx context.Context, c *intake.Case, id locales.MsgID, buttons [][]engine.Button) ([]intake.OutboxMessage, error) {
	var cc caseChat
	_, ok, err := d.dirGet(ctx, caseRecord(c.Ref), &cc)
	if err != nil || !ok {
		return nil, err
	}
	return d.say(cc.Key, cc.ChatID, c.Lang, id, map[string]any{"Ref": string(c.Ref)}, "", buttons)
}

// relayToPerson delivers an officer's message to the person: the first one carries the
// verification code the person was shown, and moves the case to in_contact.
func (d *Dispatcher) relayToPerson(ctx context.Context, u *intake.Update, in Incoming, off *OfficerInfo, ref intake.Ref, text string) error {
	lang := off.Lang()
	c, err := d.Store.Case(ctx, ref)
	if errors.Is(err, intake.ErrNotFound) || (err == nil && (c.ClaimedBy != off.ID || !c.Active() || c.Unclaimed())) {
		return d.refuse(ctx, u, in, off.ID, "relay", string(ref), lang)
	}
	if err != nil {
		return err
	}
	var cc caseChat
	if _, ok, err := d.dirGet(ctx, caseRecord(ref), &cc); err != nil {
		return err
	} else if !ok {
		msgs, err := d.sayTo(u, in, lang, locales.MsgRelayNotOpen, map[string]any{"Ref": string(ref)}, "", nil)
		if err != nil {
			return err
		}
		return d.reply(ctx, u, in, msgs...)
	}
	first := c.Status == intake.StatusClaimed
	if err := d.appendThread(ctx, c, off.ID, intake.KindRelay, u.ID, text, "relayed to person"); err != nil && !errors.Is(err, errAlreadyApplied) {
		return err
	}
	if first {
		if err := d.transition(ctx, c, off, intake.EventContact, "contact", "", func(*intake.Case) {}); err != nil && !errors.Is(err, intake.ErrIllegalTransition) {
			return err
		}
	}
	head, data := locales.MsgOfficerSays, map[string]any(nil)
	if first {
		head, data = locales.MsgOfficerFirst, map[string]any{"Code": c.Code}
	}
	msgs, err := d.say(cc.Key, cc.ChatID, c.Lang, head, data, text, nil)
	if err != nil {
		return err
	}
	return d.reply(ctx, u, in, msgs...)
}

// personDesk handles a person's /status and their messages to the officer of a claimed case.
func (d *Dispatcher) personDesk(ctx context.Context, u *intake.Update, in Incoming, cmd string) (bool, error) {
	if in.Kind == KindCallback && in.Data == dataInfoFlow {
		return false, nil // turned into "/start info" by the caller
	}
	if cmd != "status" && (in.Kind != KindText || cmd != "") {
		return false, nil
	}
	cases, err := d.personCases(ctx, u.Chat)
	if err != nil {
		return true, err
	}
	if cmd == "status" {
		lang := d.Service.LangOf(ctx, u.Chat, in.LangCode)
		id, data := locales.MsgStatusNone, map[string]any(nil)
		if len(cases) > 0 {
			c := cases[0]
			data = map[string]any{"Ref": string(c.Ref)}
			switch {
			case c.Unclaimed():
				id = locales.MsgStatusWaiting
			case c.Active():
				id = locales.MsgStatusClaimed
			default:
				id = locales.MsgStatusClosed
			}
		}
		msgs, err := d.sayTo(u, in, lang, id, data, "", nil)
		if err != nil {
			return true, err
		}
		return true, d.reply(ctx, u, in, msgs...)
	}
	// A message while no flow is in progress goes to the officer holding the newest case.
	var target *intake.Case
	for _, c := range cases {
		if c.Active() && !c.Unclaimed() {
			target = c
			break
		}
	}
	if target == nil {
		return false, nil
	}
	phase, err := d.Service.Phase(ctx, u.Chat)
	if err != nil {
		return true, err
	}
	if phase != engine.PhaseNew && phase != engine.PhaseDone {
		return false, nil // answering a flow
	}
	off, err := d.Roster.Officer(ctx, target.ClaimedBy)
	if err != nil {
		return true, err
	}
	if err := d.appendThread(ctx, target, "person", intake.KindRelay, u.ID, in.Text, "relayed to officer"); err != nil && !errors.Is(err, errAlreadyApplied) {
		return true, err
	}
	var msgs []intake.OutboxMessage
	if off != nil && off.Active {
		msgs, err = d.say(d.ChatKey(off.ChatID), off.ChatID, off.Lang(), locales.MsgRelayFromPerson, map[string]any{"Ref": string(target.Ref)}, in.Text, nil)
		if err != nil {
			return true, err
		}
	}
	return true, d.reply(ctx, u, in, msgs...)
}

// notice is a new-case notice: the routing fields only, with a Claim button.
func (d *Dispatcher) notice(key intake.SessionKey, chatID int64, lang locales.Lang, c *intake.Case) ([]intake.OutboxMessage, error) {
	age := d.now().Sub(c.Created).Round(time.Minute)
	var b strings.Builder
	comp, ok := d.Library.Get(c.Flow, c.Revision)
	for _, f := range []flows.FieldID{"topic", "services", "urgency", "governorate", "age_band", "officer_gender"} {
		vals, has := c.Routing[f]
		if !has || len(vals) == 0 {
			continue
		}
		title, labels := string(f), vals
		if ok {
			title, labels = fieldLabels(comp.Flow, d.Catalog, lang, f, vals)
		}
		fmt.Fprintf(&b, "%s: %s\n", title, strings.Join(labels, ", "))
	}
	fmt.Fprintf(&b, "language: %s", c.Lang)
	return d.say(key, chatID, lang, locales.MsgCaseNotice, map[string]any{"Ref": string(c.Ref), "Priority": c.Priority, "Age": age.String()},
		b.String(), [][]engine.Button{{{Label: d.Catalog.T(lang, locales.MsgClaimButton, nil) + " " + string(c.Ref), Data: dataClaim + string(c.Ref)}}})
}

// fieldLabels returns a routing field's title and its values' labels in lang, as the flow has them.
func fieldLabels(f *flows.Flow, cat *locales.Catalog, lang locales.Lang, field flows.FieldID, vals []string) (string, []string) {
	title := string(field)
	labels := slices.Clone(vals)
	for _, st := range f.States {
		if st.Save != field {
			continue
		}
		title = st.Title.In(lang, f.Base)
		for i, v := range vals {
			if st.Kind() == flows.KindGovernorate {
				labels[i] = cat.T(lang, locales.GovernorateMsg(v), nil)
				continue
			}
			for _, ch := range st.Choices {
				if string(ch.ID) == v {
					labels[i] = ch.Label.In(lang, f.Base)
				}
			}
		}
	}
	return title, labels
}

// newCaseNotices are the notices of a new case to the on-duty officers of its team who speak
// the case's language and match the gender the person asked for; when none does, to every
// on-duty officer of the team.
func (d *Dispatcher) newCaseNotices(ctx context.Context, c *intake.Case) ([]intake.OutboxMessage, error) {
	officers, err := d.Roster.TeamOfficers(ctx, c.Team)
	if err != nil {
		return nil, err
	}
	var onDuty, preferred []*OfficerInfo
	want := firstValue(c.Routing["officer_gender"])
	for _, o := range officers {
		if !o.Active || !o.OnDuty {
			continue
		}
		onDuty = append(onDuty, o)
		if slices.Contains(o.Langs, c.Lang) && (want == "" || want == "any" || o.Gender == want) {
			preferred = append(preferred, o)
		}
	}
	if len(preferred) == 0 {
		preferred = onDuty
	}
	var out []intake.OutboxMessage
	for _, o := range preferred {
		m, err := d.notice(d.ChatKey(o.ChatID), o.ChatID, o.Lang(), c)
		if err != nil {
			return nil, err
		}
		out = append(out, m...)
	}
	return out, nil
}

func firstValue(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// PersonBlocked tells the officers holding a person's cases that the person blocked the bot (the
// sender met a 403), so they stop writing into the void.
func (d *Dispatcher) PersonBlocked(ctx context.Context, chat intake.SessionKey) {
	cases, err := d.personCases(ctx, chat)
	if err != nil {
		d.logger().Warn("looking up a blocked person's cases failed", "chat", string(chat), "err", err)
		return
	}
	for _, c := range cases {
		if !c.Active() || c.Unclaimed() {
			continue
		}
		off, err := d.Roster.Officer(ctx, c.ClaimedBy)
		if err != nil || off == nil || !off.Active {
			continue
		}
		key := d.ChatKey(off.ChatID)
		deliver := func(*intake.Outcome) ([]intake.OutboxMessage, error) {
			return d.say(key, off.ChatID, off.Lang(), locales.MsgRelayBlocked, map[string]any{"Ref": string(c.Ref)}, "", nil)
		}
		if err := d.Service.Notify(ctx, intake.Turn{Key: key, Deliver: deliver}, ""); err != nil {
			d.logger().Warn("telling an officer of a block failed", "ref", string(c.Ref), "err", err)
		}
	}
	d.wakeSender()
}
