package telegramtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is an in-process fake of the Telegram Bot API. It is safe for concurrent use.
type Server struct {
	tb      testing.TB
	srv     *httptest.Server
	token   string
	bot     User
	clock   Clock
	methods map[string]methodFunc

	webhookMinBackoff time.Duration
	webhookMaxBackoff time.Duration
	webhookClient     *http.Client

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	workers   sync.WaitGroup

	mu           sync.Mutex
	changed      chan struct{} // closed and replaced on every change of the state below
	nextUpdateID int64
	pending      []queuedUpdate
	allowed      []string
	chats        map[int64]*chatState
	callbacks    map[string]*callbackState
	nextCallback int64
	poller       chan struct{} // closed to end the current getUpdates with 409
	webhook      *webhookState
	webhookLog   []WebhookAttempt
	calls        []Call
	faults       []*Fault
	commands     map[string][]BotCommand
}

type chatState struct {
	info     Chat
	nextID   int
	messages []*Message
	blocked  bool
}

type queuedUpdate struct {
	id   int64
	kind string
	body json.RawMessage
}

type callbackState struct {
	answered bool
	answer   CallbackAnswer
}

// CallbackAnswer is what the bot answered to one callback query.
type CallbackAnswer struct {
	Text      string
	ShowAlert bool
	URL       string
	At        time.Time
}

// Option configures a Server.
type Option func(*Server)

// WithClock makes the Server read time from c (message dates, DeleteWindow, fault windows).
func WithClock(c Clock) Option { return func(s *Server) { s.clock = c } }

// WithToken sets the bot token instead of a random one. It must look like "<bot id>:<secret>".
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithBotUsername sets the username getMe reports (default "penah_test_bot").
func WithBotUsername(name string) Option { return func(s *Server) { s.bot.Username = name } }

// WithWebhookBackoff sets the delays between webhook delivery attempts while the webhook fails:
// min after the first failure, doubling up to max. The defaults (50 ms, 1 s) keep tests fast;
// Telegram's own delays are longer and unpublished.
func WithWebhookBackoff(min, max time.Duration) Option {
	return func(s *Server) { s.webhookMinBackoff, s.webhookMaxBackoff = min, max }
}

// New starts a fake Bot API server and closes it when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		tb:                tb,
		clock:             realClock{},
		bot:               User{IsBot: true, FirstName: "Penah Test", Username: "penah_test_bot", CanJoinGroups: true},
		webhookMinBackoff: 50 * time.Millisecond,
		webhookMaxBackoff: time.Second,
		webhookClient:     &http.Client{Timeout: 10 * time.Second},
		done:              make(chan struct{}),
		changed:           make(chan struct{}),
		nextUpdateID:      100000,
		chats:             map[int64]*chatState{},
		callbacks:         map[string]*callbackState{},
		commands:          map[string][]BotCommand{},
	}
	var secret [12]byte
	_, _ = rand.Read(secret[:])
	s.token = "7000000001:FAKE" + hex.EncodeToString(secret[:])
	for _, o := range opts {
		o(s)
	}
	id, err := strconv.ParseInt(strings.SplitN(s.token, ":", 2)[0], 10, 64)
	if err != nil || !strings.Contains(s.token, ":") {
		tb.Fatalf("telegramtest: token %q is not <bot id>:<secret>", s.token)
	}
	s.bot.ID = id
	s.methods = s.methodTable()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	tb.Cleanup(s.Close)
	return s
}

// URL returns the base URL to give the client (bot.WithServerURL).
func (s *Server) URL() string { return s.srv.URL }

// Token returns the bot token the Server accepts.
func (s *Server) Token() string { return s.token }

// Bot returns the bot's own user, as getMe reports it.
func (s *Server) Bot() User { return s.bot }

// Now returns the Server's clock reading.
func (s *Server) Now() time.Time { return s.clock.Now() }

// Close ends pending long polls and webhook deliveries and shuts the server down. It is called
// automatically when the test ends and may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.mu.Lock()
		s.stopWebhookLocked()
		s.mu.Unlock()
		s.workers.Wait()
		s.srv.Close()
	})
}

// notifyLocked wakes every waiter; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// apiError is an error answer of the Bot API.
type apiError struct {
	Code        int
	Description string
	RetryAfter  int
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Description) }

func badRequest(format string, args ...any) *apiError {
	return &apiError{Code: http.StatusBadRequest, Description: "Bad Request: " + fmt.Sprintf(format, args...)}
}

// request is one parsed call.
type request struct {
	ctx    context.Context
	method string
	params url.Values
	chatID int64
}

type methodFunc func(r *request) (any, *apiError)

// Call is the record of one request to the Server.
type Call struct {
	Method      string     // as the client spelled it
	Params      url.Values // every form field, JSON-encoded fields as sent
	ChatID      int64      // chat_id parsed, 0 when absent or not numeric
	At          time.Time  // arrival, by the Server's clock
	ErrorCode   int        // 0 when the call succeeded, -1 when the connection was dropped
	Description string     // the error description, if any
	Injected    bool       // the answer came from an injected Fault
}

// OK reports whether the call succeeded.
func (c Call) OK() bool { return c.ErrorCode == 0 }

func (s *Server) serveHTTP(w http.ResponseWriter, hr *http.Request) {
	rest, ok := strings.CutPrefix(hr.URL.Path, "/bot")
	if !ok {
		writeError(w, &apiError{Code: http.StatusNotFound, Description: "Not Found"})
		return
	}
	token, method, ok := strings.Cut(rest, "/")
	if !ok || method == "" || strings.Contains(method, "/") {
		writeError(w, &apiError{Code: http.StatusNotFound, Description: "Not Found"})
		return
	}
	if !constantTimeEqual(token, s.token) {
		writeError(w, &apiError{Code: http.StatusUnauthorized, Description: "Unauthorized"})
		return
	}
	fn, ok := s.methods[strings.ToLower(method)]
	if !ok {
		writeError(w, &apiError{Code: http.StatusNotFound, Description: "Not Found"})
		return
	}
	params, err := parseParams(hr)
	if err != nil {
		writeError(w, badRequest("%s", err))
		return
	}
	r := &request{ctx: hr.Context(), method: method, params: params}
	r.chatID, _ = strconv.ParseInt(params.Get("chat_id"), 10, 64)
	call := Call{Method: method, Params: params, ChatID: r.chatID, At: s.clock.Now()}

	f := s.matchFault(r)
	if f != nil {
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-hr.Context().Done():
			case <-s.done:
			}
			t.Stop()
		}
		if f.Drop {
			call.ErrorCode, call.Description, call.Injected = -1, "connection dropped", true
			s.record(call)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		if f.Status != 0 {
			e := f.answer(s.clock.Now())
			call.ErrorCode, call.Description, call.Injected = e.Code, e.Description, true
			s.record(call)
			writeError(w, e)
			return
		}
	}
	result, aerr := fn(r)
	if aerr != nil {
		call.ErrorCode, call.Description = aerr.Code, aerr.Description
		s.record(call)
		writeError(w, aerr)
		return
	}
	s.record(call)
	writeResult(w, result)
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.notifyLocked()
	s.mu.Unlock()
}

func writeResult(w http.ResponseWriter, result any) {
	body, err := json.Marshal(struct {
		OK     bool `json:"ok"`
		Result any  `json:"result"`
	}{true, result})
	if err != nil {
		writeError(w, &apiError{Code: http.StatusInternalServerError, Description: "Internal Server Error"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, e *apiError) {
	type parameters struct {
		RetryAfter int `json:"retry_after,omitempty"`
	}
	v := struct {
		OK          bool        `json:"ok"`
		ErrorCode   int         `json:"error_code"`
		Description string      `json:"description"`
		Parameters  *parameters `json:"parameters,omitempty"`
	}{OK: false, ErrorCode: e.Code, Description: e.Description}
	if e.RetryAfter > 0 {
		v.Parameters = &parameters{RetryAfter: e.RetryAfter}
	}
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Code)
	_, _ = w.Write(body)
}

// parseParams reads the call's parameters from the query string and from a multipart, urlencoded or
// JSON body, as the Bot API accepts all four. Files of a multipart body are recorded by file name.
func parseParams(hr *http.Request) (url.Values, error) {
	params := hr.URL.Query()
	body, err := io.ReadAll(http.MaxBytesReader(nil, hr.Body, MaxRequestBytes))
	if err != nil {
		return nil, fmt.Errorf("request body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return params, nil
	}
	ct, ctParams, _ := mime.ParseMediaType(hr.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(body), ctParams["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("multipart: %w", err)
			}
			v, err := io.ReadAll(p)
			if err != nil {
				return nil, fmt.Errorf("multipart: %w", err)
			}
			if p.FileName() != "" {
				params.Add(p.FormName(), "attach://"+p.FileName())
				continue
			}
			params.Add(p.FormName(), string(v))
		}
	case "application/json":
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("can't parse JSON: %w", err)
		}
		for k, raw := range m {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				params.Add(k, str)
			} else {
				params.Add(k, string(raw))
			}
		}
	default:
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("can't parse form: %w", err)
		}
		for k, vs := range vals {
			params[k] = append(params[k], vs...)
		}
	}
	return params, nil
}

// Calls returns every call recorded so far, in order of completion.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsTo returns the calls of method (case-insensitive) and, unless chatID is 0, of that chat.
func (s *Server) CallsTo(method string, chatID int64) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if strings.EqualFold(c.Method, method) && (chatID == 0 || c.ChatID == chatID) {
			out = append(out, c)
		}
	}
	return out
}

// CallCount returns how many calls of method (case-insensitive) were made, successful or not.
func (s *Server) CallCount(method string) int { return len(s.CallsTo(method, 0)) }

// WaitCalls waits until at least n calls of method to chatID (0: any chat) are recorded and returns them.
func (s *Server) WaitCalls(ctx context.Context, method string, chatID int64, n int) ([]Call, error) {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cs := s.CallsTo(method, chatID); len(cs) >= n {
			return cs, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s.CallsTo(method, chatID), fmt.Errorf("telegramtest: waiting for %d %s calls: %w", n, method, ctx.Err())
		}
	}
}
