package intake

import (
	"errors"
	"testing"
)

func TestLifecycle(t *testing.T) {
	legal := []struct {
		from Status
		ev   Event
		to   Status
	}{
		{StatusQueued, EventClaim, StatusClaimed},
		{StatusEscalated, EventClaim, StatusClaimed},
		{StatusClaimed, EventContact, StatusInContact},
		{StatusInContact, EventRefer, StatusReferred},
		{StatusReferred, EventRefer, StatusReferred}, // a second service
		{StatusClaimed, EventRefer, StatusReferred},
		{StatusReferred, EventClose, StatusClosed},
		{StatusInContact, EventClose, StatusClosed},
		{StatusClaimed, EventRelease, StatusQueued},
		{StatusInContact, EventRelease, StatusQueued},
		{StatusQueued, EventEscalate, StatusEscalated},
		{StatusEscalated, EventEscalate, StatusEscalated},
		{StatusReferred, EventWithdraw, StatusWithdrawn},
		{StatusClosed, EventWithdraw, StatusWithdrawn},
		{StatusClosed, EventShred, StatusShredded},
	}
	for _, tc := range legal {
		got, err := Transition(tc.from, tc.ev)
		if err != nil || got != tc.to {
			t.Errorf("%s on %s: %s, %v; want %s", tc.ev, tc.from, got, err, tc.to)
		}
	}
	illegal := []struct {
		from Status
		ev   Event
	}{
		{StatusQueued, EventContact}, {StatusQueued, EventRefer}, {StatusQueued, EventClose},
		{StatusClaimed, EventClaim}, {StatusClaimed, EventEscalate},
		{StatusClosed, EventClaim}, {StatusClosed, EventRefer}, {StatusClosed, EventRelease},
		{StatusWithdrawn, EventClaim}, {StatusWithdrawn, EventWithdraw}, {StatusShredded, EventRefer},
		{StatusQueued, EventShred}, {StatusQueued, Event("nonsense")},
	}
	for _, tc := range illegal {
		got, err := Transition(tc.from, tc.ev)
		if !errors.Is(err, ErrIllegalTransition) || got != tc.from {
			t.Errorf("%s on %s: %s, %v; want ErrIllegalTransition", tc.ev, tc.from, got, err)
		}
	}
}
