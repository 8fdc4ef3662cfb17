// Package engine runs one turn of a conversation: Step takes a compiled flow, a session and what
// the person sent, and returns the new session, the replies and the effects for the caller to
// carry out (create a case, clear the chat, erase data). It does no I/O and reads no clock: the
// caller passes the time, so a turn is deterministic and replayable.
//
// Each flow revision is compiled once into a github.com/looplab/fsm event table. A turn rebuilds
// a small state machine at the stored state and fires one event, so the machine — not ad-hoc code
// — decides whether a move is allowed. Navigation that is not a move of the flow (/back, /start,
// the language picker) sets the stored state directly.
package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/looplab/fsm"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/locales"
)

// ErrInvalidFlow is returned by Compile for a flow that does not pass the validator.
var ErrInvalidFlow = errors.New("flow does not pass validation")

// Compiled is a validated flow with its state machine event table, built once per revision and
// shared read-only by every turn.
type Compiled struct {
	Flow *flows.Flow
	// events holds, per source state, one event per state it may move to. Keeping a table per
	// state keeps the machine a turn rebuilds small: a handful of events, not the whole flow.
	events map[flows.StateID][]fsm.EventDesc
	// data holds the callback data of every button, built once so a turn does not format strings.
	data map[flows.StateID]map[flows.ChoiceID]string
}

// buttonData returns the callback data of a button of a state.
func (c *Compiled) buttonData(state flows.StateID, choice flows.ChoiceID) string {
	if d, ok := c.data[state][choice]; ok {
		return d
	}
	return flows.CallbackData(c.Flow.ID, c.Flow.Revision, state, choice)
}

// choiceFor returns the choice a callback of the given state carries, if any.
func (c *Compiled) choiceFor(state flows.StateID, data string) (flows.ChoiceID, bool) {
	for id, d := range c.data[state] {
		if d == data {
			return id, true
		}
	}
	return "", false
}

// eventName is the name of the event that moves to a state.
func eventName(to flows.StateID) string { return "to:" + string(to) }

// Compile validates f and builds its event table.
func Compile(f *flows.Flow) (*Compiled, error) {
	if errs := flows.Validate(f).Errors(); len(errs) > 0 {
		msgs := make([]string, 0, 3)
		for i, p := range errs {
			if i == 3 {
				msgs = append(msgs, fmt.Sprintf("and %d more", len(errs)-3))
				break
			}
			msgs = append(msgs, p.String())
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidFlow, strings.Join(msgs, "; "))
	}
	c := &Compiled{
		Flow:   f,
		events: make(map[flows.StateID][]fsm.EventDesc, len(f.States)),
		data:   make(map[flows.StateID]map[flows.ChoiceID]string, len(f.States)),
	}
	for _, s := range f.States {
		ids := []flows.ChoiceID{flows.ChromeBack, flows.ChromeSkip, flows.ChromeDone}
		for _, ch := range s.Choices {
			ids = append(ids, ch.ID)
		}
		if s.Kind() == flows.KindGovernorate {
			for _, g := range locales.Governorates {
				ids = append(ids, flows.ChoiceID(g))
			}
		}
		c.data[s.ID] = make(map[flows.ChoiceID]string, len(ids))
		for _, id := range ids {
			c.data[s.ID][id] = flows.CallbackData(f.ID, f.Revision, s.ID, id)
		}
		seen := map[flows.StateID]bool{}
		add := func(n flows.Next) {
			for _, to := range n.Targets() {
				if !seen[to] {
					seen[to] = true
					c.events[s.ID] = append(c.events[s.ID], fsm.EventDesc{
						Name: eventName(to), Src: []string{string(s.ID)}, Dst: string(to),
					})
				}
			}
		}
		add(s.Next)
		for _, ch := range s.Choices {
			add(ch.Next)
		}
	}
	return c, nil
}

// Library finds compiled flows. A session pins the revision it started with, so a library keeps
// every revision that live sessions may still use.
type Library interface {
	// Get returns one revision of a flow.
	Get(id flows.ID, revision int) (*Compiled, bool)
	// Latest returns the newest revision of a flow.
	Latest(id flows.ID) (*Compiled, bool)
}

// Set is an in-memory Library.
type Set struct {
	byKey  map[setKey]*Compiled
	latest map[flows.ID]*Compiled
}

type setKey struct {
	id  flows.ID
	rev int
}

var _ Library = (*Set)(nil)

// NewSet returns a library holding the given compiled flows.
func NewSet(cs ...*Compiled) *Set {
	s := &Set{byKey: map[setKey]*Compiled{}, latest: map[flows.ID]*Compiled{}}
	for _, c := range cs {
		s.Add(c)
	}
	return s
}

// CompileAll compiles flows into a new set; the first flow that does not validate is an error.
func CompileAll(fs []*flows.Flow) (*Set, error) {
	set := NewSet()
	for _, f := range fs {
		c, err := Compile(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.File, err)
		}
		set.Add(c)
	}
	return set, nil
}

// Add puts a compiled flow in the set; it becomes the latest when its revision is the highest.
func (s *Set) Add(c *Compiled) {
	s.byKey[setKey{c.Flow.ID, c.Flow.Revision}] = c
	if old, ok := s.latest[c.Flow.ID]; !ok || old.Flow.Revision < c.Flow.Revision {
		s.latest[c.Flow.ID] = c
	}
}

// Get implements Library.
func (s *Set) Get(id flows.ID, revision int) (*Compiled, bool) {
	c, ok := s.byKey[setKey{id, revision}]
	return c, ok
}

// Latest implements Library.
func (s *Set) Latest(id flows.ID) (*Compiled, bool) {
	c, ok := s.latest[id]
	return c, ok
}
