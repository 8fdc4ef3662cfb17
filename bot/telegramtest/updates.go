package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"time"
)

// defaultAllowedUpdates are the update types delivered when allowed_updates was never set: all but
// chat_member, message_reaction and message_reaction_count, as on Telegram. The fake produces only
// the first three.
var defaultAllowedUpdates = []string{"message", "edited_message", "callback_query"}

// enqueueLocked gives u the next update_id and queues it, unless allowed_updates excludes its type
// (Telegram does not keep such updates). It returns the id, or 0 when the update was dropped.
func (s *Server) enqueueLocked(u *wireUpdate) int64 {
	allowed := s.allowed
	if len(allowed) == 0 {
		allowed = defaultAllowedUpdates
	}
	if !slices.Contains(allowed, u.kind()) {
		return 0
	}
	s.nextUpdateID++
	u.UpdateID = s.nextUpdateID
	body, err := json.Marshal(u)
	if err != nil {
		panic(fmt.Sprintf("telegramtest: encoding update: %v", err))
	}
	s.pending = append(s.pending, queuedUpdate{id: u.UpdateID, kind: u.kind(), body: body})
	s.notifyLocked()
	return u.UpdateID
}

// PendingUpdates returns how many updates wait to be confirmed (by getUpdates offset or webhook 2xx).
func (s *Server) PendingUpdates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Polling reports whether a getUpdates call is waiting for updates right now.
func (s *Server) Polling() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.poller != nil
}

// AllowedUpdates returns the allowed_updates last set by getUpdates or setWebhook (nil: default).
func (s *Server) AllowedUpdates() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.allowed...)
}

const (
	conflictWebhook = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
	conflictPoll    = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)

// getUpdates confirms the updates below offset, then returns up to limit updates, waiting up to
// timeout seconds for one to arrive. A second getUpdates ends the first with 409 Conflict.
func (s *Server) getUpdates(r *request) (any, *apiError) {
	offset, err := intParam(r, "offset", 0)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(r, "limit", MaxUpdatesLimit)
	if err != nil {
		return nil, err
	}
	limit = min(max(limit, 1), MaxUpdatesLimit)
	timeout, err := intParam(r, "timeout", 0)
	if err != nil {
		return nil, err
	}
	allowed, set, err := stringListParam(r, "allowed_updates")
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	if s.webhook != nil {
		s.mu.Unlock()
		return nil, &apiError{Code: http.StatusConflict, Description: conflictWebhook}
	}
	if set {
		s.allowed = allowed
	}
	if s.poller != nil {
		close(s.poller)
	}
	mine := make(chan struct{})
	s.poller = mine
	s.confirmLocked(int64(offset))
	s.mu.Unlock()

	defer func() {
		s.mu.Lock()
		if s.poller == mine {
			s.poller = nil
		}
		s.mu.Unlock()
	}()

	deadline := time.NewTimer(time.Duration(max(timeout, 0)) * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if s.webhook != nil {
			s.mu.Unlock()
			return nil, &apiError{Code: http.StatusConflict, Description: conflictWebhook}
		}
		out := make([]json.RawMessage, 0, limit)
		for _, u := range s.pending {
			if len(out) == limit {
				break
			}
			if offset <= 0 || u.id >= int64(offset) {
				out = append(out, u.body)
			}
		}
		ch := s.changed
		s.mu.Unlock()
		if len(out) > 0 || timeout <= 0 {
			return out, nil
		}
		select {
		case <-ch:
		case <-mine:
			s.mu.Lock()
			hooked := s.webhook != nil
			s.mu.Unlock()
			if hooked {
				return nil, &apiError{Code: http.StatusConflict, Description: conflictWebhook}
			}
			return nil, &apiError{Code: http.StatusConflict, Description: conflictPoll}
		case <-deadline.C:
			return out, nil
		case <-r.ctx.Done():
			return out, nil
		case <-s.done:
			return out, nil
		}
	}
}

// confirmLocked forgets the updates below offset; a negative offset keeps only the last -offset.
func (s *Server) confirmLocked(offset int64) {
	switch {
	case offset > 0:
		i := 0
		for i < len(s.pending) && s.pending[i].id < offset {
			i++
		}
		s.pending = s.pending[i:]
	case offset < 0:
		if keep := int(-offset); keep < len(s.pending) {
			s.pending = s.pending[len(s.pending)-keep:]
		}
	}
}

// secretRE is the alphabet of a webhook secret_token.
var secretRE = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)

// webhookState is the current webhook and its delivery loop.
type webhookState struct {
	url            string
	secret         string
	maxConnections int
	stop           chan struct{}
	lastErrorDate  time.Time
	lastErrorMsg   string
}

// WebhookAttempt is the record of one delivery of an update to the webhook.
type WebhookAttempt struct {
	UpdateID int64
	At       time.Time // by the Server's clock
	Status   int       // HTTP status, 0 on a transport error
	Err      string
}

func (s *Server) setWebhook(r *request) (any, *apiError) {
	u := r.params.Get("url")
	secret := r.params.Get("secret_token")
	if len(secret) > MaxSecretTokenChars || !secretRE.MatchString(secret) {
		return nil, badRequest("secret token contains unallowed characters")
	}
	allowed, set, err := stringListParam(r, "allowed_updates")
	if err != nil {
		return nil, err
	}
	maxConn, err := intParam(r, "max_connections", 40)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if set {
		s.allowed = allowed
	}
	if boolParam(r, "drop_pending_updates") {
		s.pending = nil
	}
	s.stopWebhookLocked()
	if u == "" {
		return true, nil
	}
	// Telegram insists on HTTPS and ports 443, 80, 88 or 8443; the fake accepts any URL so that
	// tests can point it at an httptest server.
	w := &webhookState{url: u, secret: secret, maxConnections: maxConn, stop: make(chan struct{})}
	s.webhook = w
	if s.poller != nil {
		close(s.poller)
		s.poller = nil
	}
	s.notifyLocked()
	s.workers.Add(1)
	go s.deliver(w)
	return true, nil
}

func (s *Server) deleteWebhook(r *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if boolParam(r, "drop_pending_updates") {
		s.pending = nil
	}
	s.stopWebhookLocked()
	return true, nil
}

func (s *Server) stopWebhookLocked() {
	if s.webhook != nil {
		close(s.webhook.stop)
		s.webhook = nil
		s.notifyLocked()
	}
}

func (s *Server) getWebhookInfo(*request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := map[string]any{"url": "", "has_custom_certificate": false, "pending_update_count": len(s.pending)}
	if w := s.webhook; w != nil {
		info["url"] = w.url
		info["max_connections"] = w.maxConnections
		if !w.lastErrorDate.IsZero() {
			info["last_error_date"] = w.lastErrorDate.Unix()
			info["last_error_message"] = w.lastErrorMsg
		}
	}
	if len(s.allowed) > 0 {
		info["allowed_updates"] = s.allowed
	}
	return info, nil
}

// deliver posts pending updates to the webhook one at a time, in order, retrying each with backoff
// while the webhook answers non-2xx or cannot be reached, until the webhook is replaced or removed.
func (s *Server) deliver(w *webhookState) {
	defer s.workers.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.stop:
		case <-s.done:
		}
		cancel()
	}()
	backoff := time.Duration(0)
	for {
		s.mu.Lock()
		if s.webhook != w {
			s.mu.Unlock()
			return
		}
		if len(s.pending) == 0 {
			ch := s.changed
			s.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return
			}
		}
		u := s.pending[0]
		s.mu.Unlock()

		status, derr := s.post(ctx, w, u.body)
		if ctx.Err() != nil {
			return
		}
		at := s.clock.Now()
		attempt := WebhookAttempt{UpdateID: u.id, At: at, Status: status}
		ok := derr == nil && status >= 200 && status < 300
		if derr != nil {
			attempt.Err = derr.Error()
		}
		s.mu.Lock()
		s.webhookLog = append(s.webhookLog, attempt)
		if ok {
			if len(s.pending) > 0 && s.pending[0].id == u.id {
				s.pending = s.pending[1:]
			}
			backoff = 0
		} else {
			w.lastErrorDate = at
			if derr != nil {
				w.lastErrorMsg = "Connection refused"
			} else {
				w.lastErrorMsg = fmt.Sprintf("Wrong response from the webhook: %d %s", status, http.StatusText(status))
			}
		}
		s.notifyLocked()
		s.mu.Unlock()
		if ok {
			continue
		}
		backoff = min(max(backoff*2, s.webhookMinBackoff), s.webhookMaxBackoff)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

func (s *Server) post(ctx context.Context, w *webhookState, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if w.secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", w.secret)
	}
	resp, err := s.webhookClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// WebhookAttempts returns every webhook delivery attempt so far.
func (s *Server) WebhookAttempts() []WebhookAttempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WebhookAttempt(nil), s.webhookLog...)
}

// WebhookURL returns the webhook currently set, or "".
func (s *Server) WebhookURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.webhook == nil {
		return ""
	}
	return s.webhook.url
}
