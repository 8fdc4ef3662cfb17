package intake

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/locales"
)

// Status is where a case is in its lifecycle.
type Status string

// Statuses. The full lifecycle (claim, contact, referral, escalation) arrives with the officer side.
const (
	StatusQueued    Status = "queued"
	StatusClaimed   Status = "claimed"
	StatusEscalated Status = "escalated"
	StatusClosed    Status = "closed"
	StatusWithdrawn Status = "withdrawn" // the person used /forget: shredded
	StatusShredded  Status = "shredded"  // past retention: shredded
)

// DefaultRetention is how long a closed case stays readable before it is shredded.
const DefaultRetention = 90 * 24 * time.Hour

// Case is one person's request for help, created when a flow submits.
type Case struct {
	Ref      Ref          `json:"ref"`
	Code     string       `json:"code"` // verification code an officer quotes in the first message
	Flow     flows.ID     `json:"flow"`
	Revision int          `json:"rev"`
	Lang     locales.Lang `json:"lang"`
	Status   Status       `json:"status"`
	Created  time.Time    `json:"created"`
	// Routing holds the routing fields in the clear: closed choice values only, no free text.
	Routing map[flows.FieldID][]string `json:"routing,omitempty"`
	// Skipped lists the questions the person chose not to answer.
	Skipped []flows.FieldID `json:"skipped,omitempty"`
	// Team is the team the case is routed to; its key (and the escrow key) opens the body.
	Team string `json:"team"`
	// Envelope wraps the case's data key to its recipients; Answers is the sensitive answers
	// (JSON []BodyEntry) sealed with that key as record kind "answers". Both are deleted when the
	// case is shredded, which makes every copy of Answers anywhere unreadable.
	Envelope *seal.Envelope `json:"envelope,omitempty"`
	Answers  []byte         `json:"answers,omitempty"`
	Closed   time.Time      `json:"closed,omitzero"`
	Shredded time.Time      `json:"shredded,omitzero"`

	// Version is the case's compare-and-set counter, set and incremented by the store.
	Version Version `json:"version"`
	// Priority is 1 (most urgent) to 3; Deadline is when an unclaimed case is overdue (its SLA).
	Priority int       `json:"priority"`
	Deadline time.Time `json:"deadline,omitzero"`
	// Escalation is the highest escalation level that has fired (0: none).
	Escalation int `json:"escalation,omitempty"`
	// ClaimedBy is the officer who holds the case, since Claimed.
	ClaimedBy string    `json:"claimed_by,omitempty"`
	Claimed   time.Time `json:"claimed,omitzero"`

	// ClaimBy is when the case breaches its claim SLA (Created + the team's SLA for its
	// priority); Deadline is the scheduler's next look at it (the 50 % reminder, the breach, the
	// backup escalation). Reminded records that the 50 % reminder went out.
	ClaimBy  time.Time `json:"claim_by,omitzero"`
	Reminded bool      `json:"reminded,omitempty"`
	// Touched is the officer's last action on a claimed case; IdleReminded the last reminder
	// that nothing was done since.
	Touched      time.Time `json:"touched,omitzero"`
	IdleReminded time.Time `json:"idle_reminded,omitzero"`
	// Outcome is the closing code; Referrals the services the case was referred to.
	Outcome   string   `json:"outcome,omitempty"`
	Referrals []string `json:"referrals,omitempty"`
	// Thread holds the relay messages (both ways) and the officers' notes, each sealed under its
	// own data key wrapped to the team and the escrow key, as the answers are.
	Thread []ThreadEntry `json:"thread,omitempty"`
}

// ThreadEntry is one relay message or note of a case, sealed.
type ThreadEntry struct {
	At   time.Time `json:"at"`
	From string    `json:"from"` // "person" or an officer id
	Kind string    `json:"kind"` // KindRelay or KindNote
	// Update is the Telegram update it came from, so a retried update appends it once.
	Update   int64          `json:"update,omitempty"`
	Envelope *seal.Envelope `json:"envelope,omitempty"`
	Sealed   []byte         `json:"sealed,omitempty"`
}

// Record kinds of a case's thread.
const (
	KindRelay = "relay"
	KindNote  = "note"
)

// HasUpdate reports whether the thread already holds an entry from update id.
func (c *Case) HasUpdate(id int64) bool {
	for _, e := range c.Thread {
		if id != 0 && e.Update == id {
			return true
		}
	}
	return false
}

// Unclaimed reports whether the case waits in its team's queue.
func (c *Case) Unclaimed() bool { return c.Status == StatusQueued || c.Status == StatusEscalated }

// Tombstone strips the case to what statistics need: reference, dates, language and routing
// fields. The verification code, the envelope and the sealed answers go.
func (c *Case) Tombstone(reason Status, now time.Time) {
	c.Status = reason
	c.Code = ""
	c.Envelope = nil
	c.Answers = nil
	c.Thread = nil
	c.Shredded = now
}

// BodyEntry is one sensitive answer.
type BodyEntry struct {
	Field flows.FieldID `json:"field"`
	Text  string        `json:"text"`
}

// newCase builds a case from a submission's answers; the sensitive ones are returned apart, to
// be sealed before anything is written.
func newCase(ref Ref, code string, e engine.Effect, now time.Time) (*Case, []BodyEntry) {
	c := &Case{
		Ref: ref, Code: code, Flow: e.Flow, Revision: e.Revision, Lang: e.Lang,
		Status: StatusQueued, Created: now, Routing: map[flows.FieldID][]string{},
	}
	var body []BodyEntry
	for _, a := range e.Answers {
		switch {
		case a.Skipped:
			c.Skipped = append(c.Skipped, a.Field)
		case a.Sensitive:
			body = append(body, BodyEntry{Field: a.Field, Text: a.Text})
		default:
			c.Routing[a.Field] = slices.Clone(a.Values)
		}
	}
	return c, body
}

// OfficerView renders the case as an officer reads it, in lang, with the flow's own titles and
// labels. Free-text answers are shown as given (a renderer escapes them for its medium) with
// bidi controls removed so they cannot reorder the view.
func (c *Case) OfficerView(lib engine.Library, cat *locales.Catalog, lang locales.Lang, body []BodyEntry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "case: %s\n", c.Ref)
	fmt.Fprintf(&b, "status: %s\n", c.Status)
	fmt.Fprintf(&b, "created: %s\n", c.Created.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "language: %s\n", c.Lang)
	fmt.Fprintf(&b, "flow: %s rev %d\n", c.Flow, c.Revision)
	fmt.Fprintf(&b, "verification code: %s\n", c.Code)
	fmt.Fprintf(&b, "team: %s\n", c.Team)
	comp, ok := lib.Get(c.Flow, c.Revision)
	if !ok {
		return b.String()
	}
	f := comp.Flow
	title := func(field flows.FieldID) (string, *flows.State) {
		for _, st := range f.States {
			if st.Save == field {
				return st.Title.In(lang, f.Base), st
			}
		}
		return string(field), nil
	}
	label := func(st *flows.State, v string) string {
		if st == nil {
			return v
		}
		if st.Kind() == flows.KindGovernorate {
			return cat.T(lang, locales.GovernorateMsg(v), nil)
		}
		if ch, ok := st.Choice(flows.ChoiceID(v)); ok {
			return ch.Label.In(lang, f.Base)
		}
		return v
	}
	fields := make([]flows.FieldID, 0, len(c.Routing))
	for k := range c.Routing {
		fields = append(fields, k)
	}
	slices.Sort(fields)
	b.WriteString("routing:\n")
	for _, k := range fields {
		t, st := title(k)
		var shown []string
		for _, v := range c.Routing[k] {
			shown = append(shown, label(st, v))
		}
		fmt.Fprintf(&b, "  %s (%s): %s\n", t, k, strings.Join(shown, ", "))
	}
	if len(c.Skipped) > 0 {
		b.WriteString("skipped:\n")
		for _, k := range c.Skipped {
			t, _ := title(k)
			fmt.Fprintf(&b, "  %s (%s)\n", t, k)
		}
	}
	if len(body) > 0 {
		b.WriteString("answers:\n")
		for _, e := range body {
			t, _ := title(e.Field)
			fmt.Fprintf(&b, "  %s (%s): %s\n", t, e.Field, locales.StripControls(e.Text))
		}
	}
	return b.String()
}
