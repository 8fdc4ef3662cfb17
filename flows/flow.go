// Package flows holds the model of Penah's conversations: a flow is versioned data (YAML, see
// FORMAT.md) that admins edit and the validator checks before it is published. The engine in
// flows/engine runs one turn of a compiled flow; this package does no I/O beyond reading bytes.
package flows

import (
	"fmt"
	"strings"
	"time"

	"github.com/penahbot/penah/locales"
)

// SpecVersion is the flow format this code reads natively. Older specs are migrated on read.
const SpecVersion = 1

// Limits. Telegram's own limits are the ones that matter to a person: a message over 4096
// characters or a button with callback data over 64 bytes is refused by the Bot API.
const (
	MaxTextChars     = 4096    // characters (UTF-16 code units, as Telegram counts) in one message
	MaxLabelChars    = 64      // characters in one button label
	MaxCallbackBytes = 64      // bytes of callback data on one button
	MaxButtons       = 100     // buttons on one message, chrome included
	MaxStates        = 200     // states in one flow
	MaxChoices       = 40      // choices in one state
	MaxFileBytes     = 1 << 20 // size of one flow file
	MaxFlowIDBytes   = 16      // bytes of a flow id
	MaxStateIDBytes  = 24      // bytes of a state id
	MaxChoiceIDBytes = 20      // bytes of a choice id
	MaxFieldIDBytes  = 24      // bytes of a field name
	MaxTextAnswer    = 1000    // characters of one free-text answer (the ceiling for max_len)
	MaxNumberDigits  = 9       // digits of a number answer
	// RevisionReserve is the revision assumed when checking callback data length, so that
	// publishing later revisions never pushes an accepted flow over MaxCallbackBytes.
	RevisionReserve = 999999
)

// Default durations when a flow does not set its own.
const (
	DefaultExpireAfter = 72 * time.Hour
	DefaultResumeAfter = 30 * time.Minute
)

// ID names a flow.
type ID string

// StateID names a state within a flow.
type StateID string

// ChoiceID names a choice within a state.
type ChoiceID string

// FieldID names a saved answer.
type FieldID string

// Text is one piece of content in each of a flow's languages.
type Text map[locales.Lang]string

// In returns the text in lang, or in base when lang has none. The validator guarantees that a
// published flow has every text in every declared language, so the fallback is a last resort.
func (t Text) In(lang, base locales.Lang) string {
	if s, ok := t[lang]; ok && s != "" {
		return s
	}
	return t[base]
}

// Kind is what a state asks of the person.
type Kind int

// The kinds of state. The kind follows from the keys a state has (see FORMAT.md).
const (
	KindMessage Kind = iota + 1
	KindChoice
	KindMulti
	KindText
	KindNumber
	KindPhone
	KindGovernorate
	KindSubmit
	KindEnd
)

var kindNames = map[Kind]string{
	KindMessage: "message", KindChoice: "choice", KindMulti: "multi", KindText: "text",
	KindNumber: "number", KindPhone: "phone", KindGovernorate: "governorate",
	KindSubmit: "submit", KindEnd: "end",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// WaitsForInput reports whether a state of this kind stops the flow until the person answers.
func (k Kind) WaitsForInput() bool {
	switch k {
	case KindMessage, KindSubmit, KindEnd:
		return false
	}
	return true
}

// Question reports whether the kind asks the person something whose answer can be saved.
func (k Kind) Question() bool { return k.WaitsForInput() }

// Sensitive reports whether answers of this kind are free data (sealed, never routed).
func (k Kind) Sensitive() bool {
	return k == KindText || k == KindNumber || k == KindPhone
}

// Flow is one parsed flow definition. Positions of its parts in the source file are kept so that
// every problem the validator finds can name a line.
type Flow struct {
	Spec        int            `yaml:"spec"`
	ID          ID             `yaml:"id"`
	Revision    int            `yaml:"revision"`
	Languages   []locales.Lang `yaml:"languages"`
	Base        locales.Lang   `yaml:"base"`
	Reviewed    []locales.Lang `yaml:"reviewed"`
	ExpireAfter Duration       `yaml:"expire_after"`
	ResumeAfter Duration       `yaml:"resume_after"`
	Consent     StateID        `yaml:"consent"`
	Start       StateID        `yaml:"start"`
	States      []*State       `yaml:"states"`

	// File is the name the flow was read from, for messages.
	File string `yaml:"-"`
	// lines maps YAML paths ("$.states[2].say.ar") to source lines.
	lines map[string]int
	byID  map[StateID]*State
}

// State is one step of a flow.
type State struct {
	ID        StateID            `yaml:"id"`
	Say       Text               `yaml:"say"`
	Title     Text               `yaml:"title"`
	Choices   []*Choice          `yaml:"choices"`
	Multi     bool               `yaml:"multi"`
	Input     string             `yaml:"input"`
	Min       *int64             `yaml:"min"`
	Max       *int64             `yaml:"max"`
	MaxLen    int                `yaml:"max_len"`
	Save      FieldID            `yaml:"save"`
	Set       map[FieldID]string `yaml:"set"`
	Sensitive bool               `yaml:"sensitive"`
	Optional  bool               `yaml:"optional"`
	Submit    bool               `yaml:"submit"`
	End       bool               `yaml:"end"`
	Next      Next               `yaml:"next"`

	// Index is the position of the state in the file.
	Index int `yaml:"-"`
	kind  Kind
}

// Choice is one button of a choice state.
type Choice struct {
	ID      ChoiceID `yaml:"id"`
	Label   Text     `yaml:"label"`
	Next    Next     `yaml:"next"`
	Skip    bool     `yaml:"skip"`
	Consent bool     `yaml:"consent"`
	// Exclusive, in a multi-choice state, clears the other ticks when chosen and is cleared when
	// another is ticked (e.g. "None of them").
	Exclusive bool `yaml:"exclusive"`
}

// Kind returns what the state asks, derived from its keys when the flow was read.
func (s *State) Kind() Kind { return s.kind }

// SensitiveField reports whether the state's saved answer is sealed and kept out of routing.
func (s *State) SensitiveField() bool { return s.kind.Sensitive() || s.Sensitive }

// AnswerMaxLen is the longest free-text answer the state accepts.
func (s *State) AnswerMaxLen() int {
	if s.MaxLen > 0 && s.MaxLen < MaxTextAnswer {
		return s.MaxLen
	}
	return MaxTextAnswer
}

// Choice returns the choice with the given id.
func (s *State) Choice(id ChoiceID) (*Choice, bool) {
	for _, c := range s.Choices {
		if c.ID == id {
			return c, true
		}
	}
	return nil, false
}

// State returns the state with the given id.
func (f *Flow) State(id StateID) (*State, bool) {
	s, ok := f.byID[id]
	return s, ok
}

// Expiry is how long an idle session lives.
func (f *Flow) Expiry() time.Duration {
	if f.ExpireAfter > 0 {
		return time.Duration(f.ExpireAfter)
	}
	return DefaultExpireAfter
}

// ResumeCheck is the pause after which the person is asked whether it is safe to continue.
func (f *Flow) ResumeCheck() time.Duration {
	if f.ResumeAfter > 0 {
		return time.Duration(f.ResumeAfter)
	}
	return DefaultResumeAfter
}

// IsReviewed reports whether a native speaker has reviewed the flow's texts in lang.
func (f *Flow) IsReviewed(lang locales.Lang) bool {
	if lang == f.Base {
		return true
	}
	for _, l := range f.Reviewed {
		if l == lang {
			return true
		}
	}
	return false
}

// HasLanguage reports whether lang is one of the flow's declared languages.
func (f *Flow) HasLanguage(lang locales.Lang) bool {
	for _, l := range f.Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// Line returns the source line of a YAML path, or of its nearest ancestor, or 0.
func (f *Flow) Line(path string) int {
	for p := path; p != ""; {
		if n, ok := f.lines[p]; ok {
			return n
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// Duration is a time.Duration written as "72h" or "30m" in YAML.
type Duration time.Duration

// Next says where a state or choice leads: a list of branches, the first whose condition holds wins.
type Next []Branch

// Branch is one possible way on.
type Branch struct {
	When *Cond   `yaml:"when"`
	To   StateID `yaml:"to"`
}

// Cond is a structured condition on saved routing fields. Exactly one form is set.
type Cond struct {
	Field FieldID  `yaml:"field"`
	Is    []string `yaml:"is"`
	Not   []string `yaml:"not"`
	All   []*Cond  `yaml:"all"`
	Any   []*Cond  `yaml:"any"`
}

// Values gives read access to saved routing answers for conditions.
type Values interface {
	// Values returns the saved values of a field and whether it was answered.
	Values(f FieldID) ([]string, bool)
}

// Holds evaluates the condition against saved answers.
func (c *Cond) Holds(v Values) bool {
	if c == nil {
		return true
	}
	switch {
	case len(c.All) > 0:
		for _, sub := range c.All {
			if !sub.Holds(v) {
				return false
			}
		}
		return true
	case len(c.Any) > 0:
		for _, sub := range c.Any {
			if sub.Holds(v) {
				return true
			}
		}
		return false
	case len(c.Is) > 0:
		got, _ := v.Values(c.Field)
		return intersects(got, c.Is)
	case len(c.Not) > 0:
		got, _ := v.Values(c.Field)
		return !intersects(got, c.Not)
	}
	return false
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// Target returns the first branch target whose condition holds.
func (n Next) Target(v Values) (StateID, bool) {
	for _, b := range n {
		if b.When.Holds(v) {
			return b.To, true
		}
	}
	return "", false
}

// Targets lists every state the branches may lead to.
func (n Next) Targets() []StateID {
	out := make([]StateID, 0, len(n))
	for _, b := range n {
		out = append(out, b.To)
	}
	return out
}
