package engine

import (
	"slices"
	"time"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/locales"
)

// Phase is where a session is outside the flow's own states.
type Phase string

// Phases of a session.
const (
	PhaseNew      Phase = ""         // nothing yet: the next input starts the language picker
	PhaseLanguage Phase = "language" // the language picker is showing
	PhaseFlow     Phase = "flow"     // inside the flow, at State
	PhaseResume   Phase = "resume"   // after a pause: waiting for "is it safe to continue?"
	PhaseForget   Phase = "forget"   // waiting for the person to confirm /forget
	PhaseDone     Phase = "done"     // the flow reached an end state
)

// Session is one person's conversation state. It is plain data: the engine never keeps a live
// state machine between turns, it rebuilds one at State for each turn. Stores serialise it.
type Session struct {
	Flow     flows.ID      `json:"f,omitempty"`
	Revision int           `json:"r,omitempty"`
	State    flows.StateID `json:"s,omitempty"`
	Phase    Phase         `json:"p,omitempty"`
	// Return is the phase to go back to after the language picker or a /forget confirmation.
	Return Phase        `json:"rp,omitempty"`
	Lang   locales.Lang `json:"l,omitempty"`
	// Answers holds saved fields, one entry per field.
	Answers []Answer `json:"a,omitempty"`
	// Selected holds the choices ticked so far in a multi-choice state.
	Selected []flows.ChoiceID `json:"m,omitempty"`
	// History holds the questions asked before the current one, oldest first, for /back.
	History []flows.StateID `json:"h,omitempty"`
	// Submitted is set once the flow's submit state has run.
	Submitted bool      `json:"sub,omitempty"`
	Started   time.Time `json:"t0,omitempty"`
	Updated   time.Time `json:"t,omitempty"`
	// LastData and LastAt are the last button pressed and when, to recognise a double tap.
	LastData string    `json:"ld,omitempty"`
	LastAt   time.Time `json:"la,omitempty"`
}

// Answer is one saved field.
type Answer struct {
	Field flows.FieldID `json:"k"`
	// By is the state that saved or set it; /back drops answers of the states it goes back over.
	By flows.StateID `json:"b"`
	// Values holds routing values: choice ids or a governorate id.
	Values []string `json:"v,omitempty"`
	// Text holds a sensitive answer (free text, a number, a phone number in E.164 form).
	Text      string `json:"x,omitempty"`
	Skipped   bool   `json:"n,omitempty"`
	Sensitive bool   `json:"z,omitempty"`
}

// Values returns the routing values of a field; sensitive answers are never visible to conditions.
func (s *Session) Values(f flows.FieldID) ([]string, bool) {
	for _, a := range s.Answers {
		if a.Field == f && !a.Sensitive {
			return a.Values, !a.Skipped
		}
	}
	return nil, false
}

// Answer returns the saved answer of a field.
func (s *Session) Answer(f flows.FieldID) (Answer, bool) {
	for _, a := range s.Answers {
		if a.Field == f {
			return a, true
		}
	}
	return Answer{}, false
}

func (s *Session) put(a Answer) {
	for i := range s.Answers {
		if s.Answers[i].Field == a.Field {
			s.Answers[i] = a
			return
		}
	}
	s.Answers = append(s.Answers, a)
}

// dropAfter removes the answers saved by states that are no longer in the history, as when /back
// returns to an earlier question.
func (s *Session) dropAfter(keep []flows.StateID) {
	s.Answers = slices.DeleteFunc(s.Answers, func(a Answer) bool {
		return !slices.Contains(keep, a.By)
	})
}

// Active reports whether the session holds a conversation in progress.
func (s *Session) Active() bool { return s.Phase != PhaseNew }
