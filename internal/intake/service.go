package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/locales"
)

// MaxCommitAttempts bounds how often a turn is retried when another writer changed the session
// between load and commit. Updates of one chat are processed in order, so a conflict is rare.
const MaxCommitAttempts = 3

// Service runs turns: load, step, build the case, commit.
type Service struct {
	eng   *engine.Engine
	store Store
	cat   *locales.Catalog
	now   func() time.Time
	log   *slog.Logger
}

// NewService wires a service. now is the clock (time.Now in production, a fake in tests).
func NewService(eng *engine.Engine, store Store, cat *locales.Catalog, now func() time.Time, log *slog.Logger) *Service {
	return &Service{eng: eng, store: store, cat: cat, now: now, log: log.With("comp", "intake")}
}

// Outcome is what one turn produced for the edge to deliver.
type Outcome struct {
	Replies []engine.Reply
	Effects []engine.Effect
	// Case is the case created in this turn, if the flow submitted.
	Case *Case
}

// Handle runs one turn for the person behind key and commits it. On an internal fault it returns
// a localized "something went wrong, your answers are safe" reply together with the error, and
// the stored session stays as it was.
func (s *Service) Handle(ctx context.Context, key SessionKey, in engine.Input) (Outcome, error) {
	var (
		lastErr error
		lang    locales.Lang
	)
	for attempt := 0; attempt < MaxCommitAttempts; attempt++ {
		out, err := s.turn(ctx, key, in, &lang)
		if err == nil {
			return out, nil
		}
		lastErr = err
		if !errors.Is(err, ErrConflict) {
			break
		}
	}
	// Log the blind key and the error class only: never the input or any answer.
	s.log.Error("turn failed", "session", string(key), "err", lastErr)
	if lang == "" {
		lang, _ = locales.Match(in.LangHint)
	}
	if lang == "" {
		lang = locales.EN
	}
	return Outcome{Replies: []engine.Reply{{Text: s.cat.T(lang, locales.MsgErrorGeneric, nil), Lang: lang}}}, lastErr
}

// turn runs one attempt; lang receives the person's language as soon as it is known, for the
// error reply.
func (s *Service) turn(ctx context.Context, key SessionKey, in engine.Input, lang *locales.Lang) (Outcome, error) {
	sess, ver, err := s.store.LoadSession(ctx, key)
	if err != nil {
		return Outcome{}, fmt.Errorf("load session: %w", err)
	}
	*lang = sess.Lang
	now := s.now()
	res, err := s.eng.Step(sess, in, now)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Replies: res.Replies, Effects: res.Effects}
	c := Commit{Key: key, Expect: ver, Session: &res.Session}
	if !res.Session.Active() {
		c.Session = nil // exit, forget, or nothing begun: keep no record
	}
	c.Forget = res.Has(engine.EffectForget)
	for _, e := range res.Effects {
		if e.Kind != engine.EffectSubmit {
			continue
		}
		ref, err := NewRef()
		if err != nil {
			return Outcome{}, err
		}
		code, err := NewCode()
		if err != nil {
			return Outcome{}, err
		}
		out.Case = newCase(ref, code, e, now)
		c.NewCase = out.Case
		for i := range out.Replies {
			out.Replies[i].Fill(string(ref), code)
		}
	}
	if _, err := s.store.Commit(ctx, c); err != nil {
		return Outcome{}, fmt.Errorf("commit turn: %w", err)
	}
	if out.Case != nil {
		s.log.Info("case created", "session", string(key), "flow", string(out.Case.Flow), "rev", out.Case.Revision)
	}
	return out, nil
}
