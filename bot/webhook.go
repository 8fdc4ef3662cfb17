package bot

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/penahbot/penah/internal/intake"
)

// Limits of the webhook.
const (
	// MaxWebhookBody is the largest update body the webhook reads (Telegram's updates are a few
	// KiB; a larger body is refused with 413 before it is read in full).
	MaxWebhookBody = 1 << 20
	// SecretHeader carries the secret token given to setWebhook on every delivery.
	SecretHeader = "X-Telegram-Bot-Api-Secret-Token"
	// MinWebhookSecret and MaxWebhookSecret bound the secret token (Telegram allows 1–256
	// characters of A-Z, a-z, 0-9, _ and -; Penah asks for at least 32 so it cannot be guessed).
	MinWebhookSecret = 32
	MaxWebhookSecret = 256
	// webhookWriteTimeout bounds the inbox write of one delivery.
	webhookWriteTimeout = 10 * time.Second
)

// DeadLetterFunc keeps a request Penah could not understand (see NewDeadLetterFunc).
type DeadLetterFunc func(ctx context.Context, source, reason string, raw []byte) error

// NewDeadLetterFunc stores dead letters in store, sealed by seal under their id.
func NewDeadLetterFunc(store intake.DeadLetters, seal func(id string, raw []byte) ([]byte, error), now func() time.Time) DeadLetterFunc {
	return func(ctx context.Context, source, reason string, raw []byte) error {
		id, err := intake.NewOutboxID()
		if err != nil {
			return err
		}
		body, err := seal(string(id), raw)
		if err != nil {
			return err
		}
		return store.PutDeadLetter(ctx, intake.DeadLetter{ID: string(id), Received: nowOr(now), Source: source, Reason: reason, Size: len(raw), Body: body})
	}
}

// Webhook is Penah's own webhook handler (DESIGN.md §3). go-telegram/bot's handler answers 200
// before the update is processed, and even for a wrong secret; this one:
//
//   - answers 405 to anything but POST, and 401 when the secret header is missing or wrong
//     (compared in constant time);
//   - answers 413 to a body over MaxWebhookBody;
//   - answers 200 only after the update is durable in the inbox (or was already there);
//   - answers 503 while storage is unavailable and 500 on other failures, so Telegram delivers
//     the update again later;
//   - answers 200 to a body that is not an update, after keeping it as a dead letter (Telegram
//     would otherwise redeliver it forever); nothing of it is logged.
type Webhook struct {
	// Secret is the secret token given to setWebhook.
	Secret string
	// Store is the inbox.
	Store PollStore
	// Seal and ChatKey are as in Poller.
	Seal    func(updateID int64, raw []byte) ([]byte, error)
	ChatKey func(chatID int64) intake.SessionKey
	// DeadLetter keeps unreadable bodies.
	DeadLetter DeadLetterFunc
	// Stored, if set, is called after an update was written (the Dispatcher's Notify).
	Stored func()
	// Logger receives the webhook's logs, with comp=webhook (nil: slog.Default()).
	Logger *slog.Logger
	// Now stamps stored updates (nil: time.Now).
	Now func() time.Time
}

func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := componentLogger(h.Logger, "webhook")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get(SecretHeader)
	if h.Secret == "" || subtle.ConstantTimeCompare([]byte(got), []byte(h.Secret)) != 1 {
		log.Warn("request refused", "status", http.StatusUnauthorized, "secret_present", got != "")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.ContentLength > MaxWebhookBody {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), webhookWriteTimeout)
	defer cancel()
	var u models.Update
	if err := json.Unmarshal(raw, &u); err != nil || u.ID <= 0 {
		if h.DeadLetter != nil {
			if err := h.DeadLetter(ctx, "webhook", "json", raw); err != nil {
				log.Error("keeping a dead letter failed", "err", err)
				http.Error(w, "storage unavailable", statusFor(err))
				return
			}
		}
		log.Error("body is not an update; kept as a dead letter", "alert", true, "bytes", len(raw))
		w.WriteHeader(http.StatusOK)
		return
	}
	if _, err := putUpdate(ctx, h.Store, h.Seal, h.ChatKey, nowOr(h.Now), &u, raw); err != nil {
		log.Warn("inbox write failed; Telegram will redeliver", "update_id", u.ID, "err", err)
		http.Error(w, "storage unavailable", statusFor(err))
		return
	}
	if h.Stored != nil {
		h.Stored()
	}
	w.WriteHeader(http.StatusOK)
}

// statusFor is the answer to a failed write: 503 while storage is unavailable, 500 otherwise.
// Both make Telegram try again.
func statusFor(err error) int {
	if errors.Is(err, intake.ErrUnavailable) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
