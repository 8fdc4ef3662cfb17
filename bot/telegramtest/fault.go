package telegramtest

import (
	"crypto/subtle"
	"math"
	"net/http"
	"strings"
	"time"
)

// Fault describes a misbehaviour of the Server for the calls it matches. Install one with
// Server.Inject; faults are checked in the order they were injected and the first that matches wins.
type Fault struct {
	// Method limits the fault to one method (case-insensitive); empty matches every method.
	Method string
	// ChatID limits the fault to calls whose chat_id is this chat; 0 matches every call.
	ChatID int64
	// Times, if positive, makes the fault affect only the next Times matching calls.
	Times int
	// Window, if positive, makes the fault affect matching calls for this long after Inject, by the
	// Server's clock. With neither Times nor Window the fault lasts until removed.
	Window time.Duration

	// Status is the error code to answer with (429, 500, 502, …); 0 answers normally (after Delay).
	Status int
	// RetryAfter is the retry_after of a 429, in seconds. When 0 and Window is set, it is the time
	// left in the window, rounded up, as Telegram's own flood wait counts down.
	RetryAfter int
	// Description overrides the error description.
	Description string
	// Delay holds the answer back this long (real time) before answering or dropping.
	Delay time.Duration
	// Drop closes the connection without an answer.
	Drop bool

	start time.Time
	hits  int
}

// TooManyRequests returns a Fault answering 429 with retry_after seconds to the next times calls of
// method to chatID (either may be zero for "any").
func TooManyRequests(method string, chatID int64, retryAfter, times int) Fault {
	return Fault{Method: method, ChatID: chatID, Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Times: times}
}

// FloodWait returns a Fault answering 429 to every call of method to chatID for window, each with
// the time left in the window as retry_after.
func FloodWait(method string, chatID int64, window time.Duration) Fault {
	return Fault{Method: method, ChatID: chatID, Status: http.StatusTooManyRequests, Window: window}
}

// ServerError returns a Fault answering status (a 5xx) to the next times calls of method.
func ServerError(method string, status, times int) Fault {
	return Fault{Method: method, Status: status, Times: times}
}

// Slow returns a Fault delaying the next times calls of method by d.
func Slow(method string, d time.Duration, times int) Fault {
	return Fault{Method: method, Delay: d, Times: times}
}

// DropConnection returns a Fault closing the connection of the next times calls of method.
func DropConnection(method string, times int) Fault {
	return Fault{Method: method, Drop: true, Times: times}
}

// Injection is a Fault installed on a Server.
type Injection struct {
	s *Server
	f *Fault
}

// Inject installs f and returns a handle to remove it or count its hits.
func (s *Server) Inject(f Fault) *Injection {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.start = s.clock.Now()
	fp := &f
	s.faults = append(s.faults, fp)
	return &Injection{s: s, f: fp}
}

// Remove uninstalls the fault; calls after it are answered normally.
func (in *Injection) Remove() {
	in.s.mu.Lock()
	defer in.s.mu.Unlock()
	in.s.removeFaultLocked(in.f)
}

// Hits returns how many calls the fault affected.
func (in *Injection) Hits() int {
	in.s.mu.Lock()
	defer in.s.mu.Unlock()
	return in.f.hits
}

func (s *Server) removeFaultLocked(f *Fault) {
	for i, g := range s.faults {
		if g == f {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return
		}
	}
}

// matchFault returns a copy of the fault that applies to r, counting the hit, or nil.
func (s *Server) matchFault(r *request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for i := 0; i < len(s.faults); i++ {
		f := s.faults[i]
		if f.Window > 0 && now.Sub(f.start) >= f.Window {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			i--
			continue
		}
		if f.Method != "" && !strings.EqualFold(f.Method, r.method) {
			continue
		}
		if f.ChatID != 0 && f.ChatID != r.chatID {
			continue
		}
		f.hits++
		c := *f
		if f.Times > 0 && f.hits >= f.Times {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return &c
	}
	return nil
}

// answer is the error the fault gives at now.
func (f *Fault) answer(now time.Time) *apiError {
	e := &apiError{Code: f.Status, Description: f.Description}
	if f.Status == http.StatusTooManyRequests {
		e.RetryAfter = f.RetryAfter
		if e.RetryAfter == 0 && f.Window > 0 {
			left := f.Window - now.Sub(f.start)
			e.RetryAfter = max(1, int(math.Ceil(left.Seconds())))
		}
		if e.RetryAfter == 0 {
			e.RetryAfter = 1
		}
		if e.Description == "" {
			e.Description = "Too Many Requests: retry after " + itoa(int64(e.RetryAfter))
		}
	}
	if e.Description == "" {
		switch f.Status {
		case http.StatusBadGateway:
			e.Description = "Bad Gateway"
		case http.StatusInternalServerError:
			e.Description = "Internal Server Error"
		case http.StatusForbidden:
			e.Description = "Forbidden: bot was blocked by the user"
		default:
			e.Description = http.StatusText(f.Status)
		}
	}
	return e
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
