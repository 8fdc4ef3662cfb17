package intake

import (
	"context"
	"errors"
	"fmt"

	"github.com/looplab/fsm"
)

// More statuses of the officer side (DESIGN.md §5): queued → claimed → in_contact → referred →
// closed, with escalated, withdrawn and shredded.
const (
	StatusInContact Status = "in_contact" // the officer has written to the person
	StatusReferred  Status = "referred"   // referred to at least one service, with consent
)

// Event is something done to a case; the lifecycle decides where it leads.
type Event string

// Events of the case lifecycle.
const (
	EventClaim    Event = "claim"    // an officer takes an unclaimed case
	EventRelease  Event = "release"  // the officer gives it back to the queue
	EventContact  Event = "contact"  // the officer's first message reached the person
	EventRefer    Event = "refer"    // a referral to a service (repeatable)
	EventClose    Event = "close"    // the officer closes the case with an outcome
	EventEscalate Event = "escalate" // an unclaimed case passed its SLA
	EventWithdraw Event = "withdraw" // the person used /forget
	EventShred    Event = "shred"    // retention
)

// ErrIllegalTransition is returned (wrapped, with the status and event) for an event the case's
// status does not allow.
var ErrIllegalTransition = errors.New("not allowed in the case's current status")

// lifecycle is the case state machine's table. Release goes back to queued; the store turns it
// into escalated when the case had been escalated (Queues.Release).
var lifecycle = fsm.Events{
	{Name: string(EventClaim), Src: []string{string(StatusQueued), string(StatusEscalated)}, Dst: string(StatusClaimed)},
	{Name: string(EventRelease), Src: []string{string(StatusClaimed), string(StatusInContact)}, Dst: string(StatusQueued)},
	{Name: string(EventContact), Src: []string{string(StatusClaimed)}, Dst: string(StatusInContact)},
	{Name: string(EventRefer), Src: []string{string(StatusClaimed), string(StatusInContact), string(StatusReferred)}, Dst: string(StatusReferred)},
	{Name: string(EventClose), Src: []string{string(StatusClaimed), string(StatusInContact), string(StatusReferred)}, Dst: string(StatusClosed)},
	{Name: string(EventEscalate), Src: []string{string(StatusQueued), string(StatusEscalated)}, Dst: string(StatusEscalated)},
	{Name: string(EventWithdraw), Src: []string{string(StatusQueued), string(StatusEscalated), string(StatusClaimed),
		string(StatusInContact), string(StatusReferred), string(StatusClosed)}, Dst: string(StatusWithdrawn)},
	{Name: string(EventShred), Src: []string{string(StatusClosed)}, Dst: string(StatusShredded)},
}

// Transition returns the status event leads to from status from, on github.com/looplab/fsm, or
// ErrIllegalTransition. An event that keeps the status (a second referral, a higher escalation)
// is legal.
func Transition(from Status, ev Event) (Status, error) {
	m := fsm.NewFSM(string(from), lifecycle, nil)
	err := m.Event(context.Background(), string(ev))
	var same fsm.NoTransitionError
	switch {
	case err == nil, errors.As(err, &same):
		return Status(m.Current()), nil
	}
	return from, fmt.Errorf("%w: %s a %s case", ErrIllegalTransition, ev, from)
}

// Active reports whether a case is still being worked on (not closed, withdrawn or shredded).
func (c *Case) Active() bool {
	switch c.Status {
	case StatusClosed, StatusWithdrawn, StatusShredded:
		return false
	}
	return true
}
