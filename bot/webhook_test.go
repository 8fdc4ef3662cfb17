package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
)

const hookSecret = "0123456789abcdef0123456789abcdef"

// flakyInbox makes the store unavailable while down is set.
type flakyInbox struct {
	*boltstore.Store
	down atomic.Bool
}

func (f *flakyInbox) PutUpdate(ctx context.Context, u intake.Update) (bool, error) {
	if f.down.Load() {
		return false, fmt.Errorf("%w: test outage", intake.ErrUnavailable)
	}
	return f.Store.PutUpdate(ctx, u)
}

func (f *flakyInbox) PutDeadLetter(ctx context.Context, d intake.DeadLetter) error {
	if f.down.Load() {
		return fmt.Errorf("%w: test outage", intake.ErrUnavailable)
	}
	return f.Store.PutDeadLetter(ctx, d)
}

type hookRig struct {
	store  *flakyInbox
	h      *Webhook
	stored atomic.Int32
}

func newHookRig(t *testing.T) *hookRig {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "penah.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &hookRig{store: &flakyInbox{Store: st}}
	r.h = &Webhook{
		Secret:  hookSecret,
		Store:   r.store,
		Seal:    func(_ int64, raw []byte) ([]byte, error) { return outboxSeal(raw), nil },
		ChatKey: chatKey,
		DeadLetter: NewDeadLetterFunc(r.store, func(_ string, raw []byte) ([]byte, error) {
			return outboxSeal(raw), nil
		}, nil),
		Stored: func() { r.stored.Add(1) },
	}
	return r
}

func (r *hookRig) post(secret string, body []byte) int {
	req := httptest.NewRequest(http.MethodPost, "/telegram", bytes.NewReader(body))
	if secret != "" {
		req.Header.Set(SecretHeader, secret)
	}
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	return w.Code
}

func textUpdate(id, chat int64, text string) []byte {
	b, _ := json.Marshal(map[string]any{"update_id": id, "message": map[string]any{
		"message_id": 1, "date": 1700000000, "text": text,
		"chat": map[string]any{"id": chat, "type": "private"}, "from": map[string]any{"id": chat, "first_name": "A"}}})
	return b
}

func (r *hookRig) pending(t *testing.T, chat int64) []int64 {
	t.Helper()
	var ids []int64
	for {
		u, err := r.store.NextUpdate(context.Background(), chatKey(chat))
		if err != nil {
			t.Fatal(err)
		}
		if u == nil {
			return ids
		}
		ids = append(ids, u.ID)
		if err := r.store.DoneUpdate(context.Background(), chatKey(chat), u.ID); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWebhookSecret(t *testing.T) {
	r := newHookRig(t)
	body := textUpdate(1, 42, "hello")
	for _, tc := range []struct {
		name, secret string
		want         int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong", strings.Repeat("x", len(hookSecret)), http.StatusUnauthorized},
		{"prefix", hookSecret[:len(hookSecret)-1], http.StatusUnauthorized},
		{"longer", hookSecret + "x", http.StatusUnauthorized},
		{"right", hookSecret, http.StatusOK},
	} {
		if got := r.post(tc.secret, body); got != tc.want {
			t.Errorf("%s secret: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := r.pending(t, 42); len(got) != 1 || got[0] != 1 {
		t.Fatalf("stored updates %v, want [1] (only the request with the right secret)", got)
	}
	// A webhook configured without a secret refuses everything rather than accepting anyone.
	r.h.Secret = ""
	if got := r.post("", textUpdate(2, 42, "x")); got != http.StatusUnauthorized {
		t.Errorf("no configured secret: status %d, want 401", got)
	}
	req := httptest.NewRequest(http.MethodGet, "/telegram", nil)
	req.Header.Set(SecretHeader, hookSecret)
	w := httptest.NewRecorder()
	r.h.Secret = hookSecret
	r.h.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", w.Code)
	}
}

func TestWebhookBodyLimit(t *testing.T) {
	r := newHookRig(t)
	// At the limit: a (padded) update of exactly MaxWebhookBody bytes is read and stored.
	base := textUpdate(7, 42, "")
	pad := MaxWebhookBody - len(base)
	atLimit := bytes.Replace(base, []byte(`"text":""`), []byte(`"text":"`+strings.Repeat("a", pad)+`"`), 1)
	if len(atLimit) != MaxWebhookBody {
		t.Fatalf("body is %d bytes, want %d", len(atLimit), MaxWebhookBody)
	}
	if got := r.post(hookSecret, atLimit); got != http.StatusOK {
		t.Errorf("body at the limit: status %d, want 200", got)
	}
	over := append(bytes.Clone(atLimit[:len(atLimit)-1]), []byte(` }`)...)
	if got := r.post(hookSecret, over); got != http.StatusRequestEntityTooLarge {
		t.Errorf("body one byte past the limit: status %d, want 413", got)
	}
	big := bytes.Repeat([]byte("x"), 2<<20)
	if got := r.post(hookSecret, big); got != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB body: status %d, want 413", got)
	}
	if got := r.pending(t, 42); len(got) != 1 {
		t.Errorf("stored %v, want only the update at the limit", got)
	}
}

func TestWebhookMalformedJSONIsDeadLettered(t *testing.T) {
	r := newHookRig(t)
	for i, body := range []string{`{"update_id": 5, "message": `, `not json at all`, `{"update_id": 0}`, `[]`} {
		if got := r.post(hookSecret, []byte(body)); got != http.StatusOK {
			t.Errorf("body %d: status %d, want 200 (so Telegram does not redeliver it forever)", i, got)
		}
	}
	dl, err := r.store.DeadLetters(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dl) != 4 {
		t.Fatalf("%d dead letters, want 4", len(dl))
	}
	for _, d := range dl {
		if d.Source != "webhook" || d.Reason != "json" || d.Size == 0 || bytes.Contains(d.Body, []byte("not json")) {
			t.Errorf("dead letter %+v: want source webhook, reason json, size, and a sealed body", d)
		}
	}
	// Storage down: the dead letter cannot be kept, so Telegram must retry.
	r.store.down.Store(true)
	if got := r.post(hookSecret, []byte("{")); got != http.StatusServiceUnavailable {
		t.Errorf("malformed body while storage is down: status %d, want 503", got)
	}
}

func TestWebhookSameUpdateConcurrently(t *testing.T) {
	r := newHookRig(t)
	body := textUpdate(9, 42, "once")
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = r.post(hookSecret, body) }()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("delivery %d: status %d, want 200", i, c)
		}
	}
	if got := r.pending(t, 42); len(got) != 1 || got[0] != 9 {
		t.Fatalf("inbox holds %v, want [9] once", got)
	}
}

func TestWebhookStorageDown(t *testing.T) {
	r := newHookRig(t)
	r.store.down.Store(true)
	body := textUpdate(11, 42, "wait")
	if got := r.post(hookSecret, body); got != http.StatusServiceUnavailable {
		t.Fatalf("storage down: status %d, want 503", got)
	}
	if r.stored.Load() != 0 {
		t.Error("the dispatcher was woken for an update that was not stored")
	}
	r.store.down.Store(false)
	if got := r.post(hookSecret, body); got != http.StatusOK {
		t.Fatalf("storage back: status %d, want 200", got)
	}
	if got := r.pending(t, 42); len(got) != 1 || got[0] != 11 {
		t.Fatalf("inbox holds %v, want [11]", got)
	}
	if r.stored.Load() != 1 {
		t.Errorf("dispatcher woken %d times, want 1", r.stored.Load())
	}
}

func TestStatusFor(t *testing.T) {
	if statusFor(fmt.Errorf("x: %w", intake.ErrUnavailable)) != http.StatusServiceUnavailable || statusFor(errors.New("other")) != http.StatusInternalServerError {
		t.Error("statusFor does not map storage errors to 503 and others to 500")
	}
}
