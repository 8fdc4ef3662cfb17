package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/locales"
)

// MaxCommitAttempts bounds how often a turn is retried when another writer changed the session
// between load and commit. Updates of one chat are processed in order, so a conflict is rare.
const MaxCommitAttempts = 3

// KindAnswers is the record kind of a case's sealed sensitive answers.
const KindAnswers = "answers"

// Sealer seals what the service stores: sessions in progress under the server's session key,
// case bodies under a fresh data key wrapped to the team and the escrow key. internal/vault
// implements it.
type Sealer interface {
	SealSession(key string, plain []byte) ([]byte, error)
	OpenSession(key string, sealed []byte) ([]byte, error)
	SealCase(ref, team, kind string, body []byte) (*seal.Envelope, []byte, error)
	OpenCase(ref, team, kind string, env *seal.Envelope, sealed []byte, extra ...*seal.Identity) ([]byte, error)
}

// Route is where a case goes: its team, its priority (1 most urgent … 3) and the time within
// which it should be claimed (the team's SLA for that priority; 0: none).
type Route struct {
	Team     string
	Priority int
	SLA      time.Duration
}

// Router routes a new case from its routing fields and language (internal/routing's rules and the
// teams' SLAs).
type Router func(c *Case) (Route, error)

// Service runs turns: load, step, build the case, commit.
type Service struct {
	eng    *engine.Engine
	store  Store
	sealer Sealer
	route  Router
	cat    *locales.Catalog
	now    func() time.Time
	log    *slog.Logger
}

// NewService wires a service. now is the clock (time.Now in production, a fake in tests).
func NewService(eng *engine.Engine, store Store, sealer Sealer, route Router, cat *locales.Catalog, now func() time.Time, log *slog.Logger) *Service {
	return &Service{eng: eng, store: store, sealer: sealer, route: route, cat: cat, now: now, log: log.With("comp", "intake")}
}

// Outcome is what one turn produced for the edge to deliver.
type Outcome struct {
	Replies []engine.Reply
	Effects []engine.Effect
	// Case is the case created in this turn, if the flow submitted.
	Case *Case
}

// Turn is one update for the service to process.
type Turn struct {
	Key   SessionKey
	Input engine.Input
	// UpdateID is the inbox update the turn processes (0: none, as in `penah chat`); the commit
	// marks it done, so its effects happen once even if it is processed twice.
	UpdateID int64
	// Deliver, when set, turns the turn's outcome (after {ref} and {code} are filled) into the
	// outbox messages committed with it: the replies reach the person if and only if the turn is
	// durable.
	Deliver func(out *Outcome) ([]OutboxMessage, error)
}

// Handle runs one turn for the person behind key and commits it (see Run).
func (s *Service) Handle(ctx context.Context, key SessionKey, in engine.Input) (Outcome, error) {
	return s.Run(ctx, Turn{Key: key, Input: in})
}

// Run runs one turn and commits it. On an internal fault it returns a localized "something went
// wrong, your answers are safe" reply together with the error, and the stored session stays as it
// was; nothing is committed (the edge then calls Notify to deliver that reply and mark the update
// done, or retries later when the store was unavailable).
func (s *Service) Run(ctx context.Context, t Turn) (Outcome, error) {
	var (
		lastErr error
		lang    locales.Lang
	)
	for attempt := 0; attempt < MaxCommitAttempts; attempt++ {
		out, err := s.turn(ctx, t, &lang)
		if err == nil {
			return out, nil
		}
		lastErr = err
		if !errors.Is(err, ErrConflict) {
			break
		}
	}
	// Log the blind key and the error class only: never the input or any answer.
	s.log.Error("turn failed", "session", string(t.Key), "update_id", t.UpdateID, "err", lastErr)
	if lang == "" {
		lang = s.hintLang(t.Input.LangHint)
	}
	return Outcome{Replies: []engine.Reply{{Text: s.cat.T(lang, locales.MsgErrorGeneric, nil), Lang: lang}}}, lastErr
}

func (s *Service) hintLang(hint string) locales.Lang {
	if l, ok := locales.Match(hint); ok {
		return l
	}
	return locales.EN
}

// Notify answers an update without running a turn: the session stays exactly as stored, the
// update (t.UpdateID, if any) is marked done, and the reply msg — in the person's language, or
// the language Telegram reports for a person without one — is delivered through t.Deliver with
// the same commit. An empty msg delivers no reply (Deliver still runs, for a callback's answer).
// The edge uses it for what is not a turn: a flood notice, a declined photo, a group chat, the
// error reply after a turn failed, or a scheduled clear (with no update).
func (s *Service) Notify(ctx context.Context, t Turn, msg locales.MsgID) error {
	var lastErr error
	for attempt := 0; attempt < MaxCommitAttempts; attempt++ {
		sealed, ver, err := s.store.LoadSession(ctx, t.Key)
		if err != nil {
			return fmt.Errorf("load session: %w", err)
		}
		lang := s.hintLang(t.Input.LangHint)
		var sess engine.Session
		if sealed != nil {
			if plain, err := s.sealer.OpenSession(string(t.Key), sealed); err == nil && json.Unmarshal(plain, &sess) == nil && sess.Lang != "" {
				lang = sess.Lang
			}
		}
		var out Outcome
		if msg != "" {
			out.Replies = []engine.Reply{{Text: s.cat.T(lang, msg, nil), Lang: lang}}
		}
		c := Commit{Key: t.Key, Expect: ver, Session: sealed, Done: t.UpdateID, Now: s.now(), SessionTTL: s.sessionTTL(sess)}
		if t.Deliver != nil {
			if c.Outbox, err = t.Deliver(&out); err != nil {
				return fmt.Errorf("deliver: %w", err)
			}
		}
		if _, err := s.store.Commit(ctx, c); err == nil {
			return nil
		} else if lastErr = err; !errors.Is(err, ErrConflict) || t.UpdateID != 0 && !s.pending(ctx, t) {
			break
		}
	}
	return fmt.Errorf("commit notice: %w", lastErr)
}

// SessionGrace is kept beyond a session's expiry before the store drops it: the engine forgets an
// idle session after its flow's expiry anyway, and the store then removes the sealed bytes too,
// so an abandoned conversation does not stay in the database.
const SessionGrace = 24 * time.Hour

// sessionTTL is the store lifetime of a session (0 for none stored, or one that did not open).
func (s *Service) sessionTTL(sess engine.Session) time.Duration {
	if !sess.Active() {
		return 0
	}
	if e := s.eng.Expiry(sess); e > 0 {
		return e + SessionGrace
	}
	return 0
}

// pending reports whether the turn's update is still waiting (a conflict on a done update is
// final; one on the session version is worth another attempt).
func (s *Service) pending(ctx context.Context, t Turn) bool {
	u, err := s.store.NextUpdate(ctx, t.Key)
	return err == nil && u != nil && u.ID == t.UpdateID
}

// loadSession opens the stored session. One that does not open (a lost master key, a record
// moved from another key) is treated like an expired one: the person starts over, nothing
// crashes, and the old bytes are overwritten on commit.
func (s *Service) loadSession(ctx context.Context, key SessionKey) (engine.Session, Version, error) {
	var sess engine.Session
	sealed, ver, err := s.store.LoadSession(ctx, key)
	if err != nil || sealed == nil {
		return sess, ver, err
	}
	plain, err := s.sealer.OpenSession(string(key), sealed)
	if err == nil {
		err = json.Unmarshal(plain, &sess)
	}
	if err != nil {
		s.log.Warn("stored session does not open; starting over", "session", string(key))
		return engine.Session{}, ver, nil
	}
	return sess, ver, nil
}

// turn runs one attempt; lang receives the person's language as soon as it is known, for the
// error reply.
func (s *Service) turn(ctx context.Context, t Turn, lang *locales.Lang) (Outcome, error) {
	key, in := t.Key, t.Input
	sess, ver, err := s.loadSession(ctx, key)
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
	c := Commit{Key: key, Expect: ver, Done: t.UpdateID, Forget: res.Has(engine.EffectForget), Now: now, SessionTTL: s.sessionTTL(res.Session)}
	if res.Session.Active() { // exit, forget, or nothing begun: keep no record
		plain, err := json.Marshal(res.Session)
		if err != nil {
			return Outcome{}, err
		}
		if c.Session, err = s.sealer.SealSession(string(key), plain); err != nil {
			return Outcome{}, fmt.Errorf("seal session: %w", err)
		}
	}
	for _, e := range res.Effects {
		if e.Kind != engine.EffectSubmit {
			continue
		}
		if out.Case, err = s.submit(e, now); err != nil {
			return Outcome{}, err
		}
		c.NewCase = out.Case
		c.Audit = append(c.Audit, AuditEntry{Time: now, Actor: "system", Action: "case created", Ref: out.Case.Ref, To: StatusQueued})
		for i := range out.Replies {
			out.Replies[i].Fill(string(out.Case.Ref), out.Case.Code)
		}
	}
	if t.Deliver != nil {
		if c.Outbox, err = t.Deliver(&out); err != nil {
			return Outcome{}, fmt.Errorf("deliver: %w", err)
		}
	}
	if _, err := s.store.Commit(ctx, c); errors.Is(err, ErrNotCompacted) {
		// The turn is durable; only the purge of old copies failed. Go on, and say so loudly.
		s.log.Error("shredding committed but the store is not compacted", "session", string(key), "err", err)
	} else if err != nil {
		return Outcome{}, fmt.Errorf("commit turn: %w", err)
	}
	if out.Case != nil {
		s.log.Info("case created", "session", string(key), "flow", string(out.Case.Flow), "rev", out.Case.Revision, "team", out.Case.Team)
	}
	return out, nil
}

// submit builds the case of a submission and seals its sensitive answers.
func (s *Service) submit(e engine.Effect, now time.Time) (*Case, error) {
	ref, err := NewRef()
	if err != nil {
		return nil, err
	}
	code, err := NewCode()
	if err != nil {
		return nil, err
	}
	c, body := newCase(ref, code, e, now)
	r, err := s.route(c)
	if err != nil {
		return nil, fmt.Errorf("route: %w", err)
	}
	c.Team, c.Priority = r.Team, r.Priority
	if r.SLA > 0 {
		// The scheduler looks first at half the SLA (a reminder), then at the breach.
		c.ClaimBy, c.Deadline = now.Add(r.SLA), now.Add(r.SLA/2)
	}
	plain, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	if c.Envelope, c.Answers, err = s.sealer.SealCase(string(ref), c.Team, KindAnswers, plain); err != nil {
		return nil, fmt.Errorf("seal case: %w", err)
	}
	return c, nil
}

// OpenCase loads a case and opens its sensitive answers with the team's server-held key or the
// extra identities given (an officer's, the escrow key). A shredded case has no answers to open.
func (s *Service) OpenCase(ctx context.Context, ref Ref, extra ...*seal.Identity) (*Case, []BodyEntry, error) {
	c, err := s.store.Case(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	if c.Envelope == nil {
		return c, nil, nil
	}
	plain, err := s.sealer.OpenCase(string(c.Ref), c.Team, KindAnswers, c.Envelope, c.Answers, extra...)
	if err != nil {
		return c, nil, err
	}
	var body []BodyEntry
	if err := json.Unmarshal(plain, &body); err != nil {
		return c, nil, fmt.Errorf("case %s: malformed body", c.Ref)
	}
	return c, body, nil
}

// ApplyRetention crypto-shreds every case closed longer ago than retention (DefaultRetention
// unless the operator sets another) and returns how many it shredded.
func (s *Service) ApplyRetention(ctx context.Context, now time.Time, retention time.Duration) (int, error) {
	refs, err := s.store.Cases(ctx)
	if err != nil {
		return 0, err
	}
	var due []Ref
	for _, ref := range refs {
		c, err := s.store.Case(ctx, ref)
		if err != nil {
			return 0, err
		}
		if c.Status == StatusClosed && c.Envelope != nil && !c.Closed.IsZero() && now.Sub(c.Closed) > retention {
			due = append(due, ref)
		}
	}
	if len(due) == 0 {
		return 0, nil
	}
	if err := s.store.Shred(ctx, due, StatusShredded, now); errors.Is(err, ErrNotCompacted) {
		s.log.Error("retention committed but the store is not compacted", "err", err)
	} else if err != nil {
		return 0, err
	}
	// The way back from a shredded case to the person's chat (the relay's record) goes too.
	for _, ref := range due {
		_, ver, err := s.store.DirRecord(ctx, CaseChatRecord(ref))
		if err == nil && ver != 0 {
			err = s.store.DeleteDirRecord(ctx, CaseChatRecord(ref), ver)
		}
		if err != nil {
			s.log.Error("removing a shredded case's chat link failed", "alert", true, "ref", string(ref), "err", err)
		}
	}

	s.log.Info("retention applied", "shredded", len(due))
	return len(due), nil
}

// NewThreadEntry seals one relay message or note of a case (kind KindRelay or KindNote) under a
// fresh data key wrapped to the case's team and the escrow key.
func (s *Service) NewThreadEntry(c *Case, kind, from string, update int64, text string, now time.Time) (ThreadEntry, error) {
	env, sealed, err := s.sealer.SealCase(string(c.Ref), c.Team, kind, []byte(text))
	if err != nil {
		return ThreadEntry{}, fmt.Errorf("seal %s: %w", kind, err)
	}
	return ThreadEntry{At: now, From: from, Kind: kind, Update: update, Envelope: env, Sealed: sealed}, nil
}

// ThreadText is one opened thread entry.
type ThreadText struct {
	At   time.Time
	From string
	Kind string
	Text string
}

// OpenThread opens a case's thread with the team's server-held key or the extra identities.
func (s *Service) OpenThread(c *Case, extra ...*seal.Identity) ([]ThreadText, error) {
	out := make([]ThreadText, 0, len(c.Thread))
	for _, e := range c.Thread {
		plain, err := s.sealer.OpenCase(string(c.Ref), c.Team, e.Kind, e.Envelope, e.Sealed, extra...)
		if err != nil {
			return nil, err
		}
		out = append(out, ThreadText{At: e.At, From: e.From, Kind: e.Kind, Text: string(plain)})
	}
	return out, nil
}

// Phase returns the phase of the person's stored conversation (PhaseNew when there is none or
// it does not open), for the edge to tell a flow answer from a message to an officer.
func (s *Service) Phase(ctx context.Context, key SessionKey) (engine.Phase, error) {
	sess, _, err := s.loadSession(ctx, key)
	if err != nil {
		return "", err
	}
	if sess.Active() && s.now().Sub(sess.Updated) > s.eng.Expiry(sess) {
		return engine.PhaseNew, nil
	}
	return sess.Phase, nil
}

// LangOf is the language to answer the person behind key in: their conversation's, else the
// one Telegram reports (hint), else English.
func (s *Service) LangOf(ctx context.Context, key SessionKey, hint string) locales.Lang {
	if sess, _, err := s.loadSession(ctx, key); err == nil && sess.Lang != "" {
		return sess.Lang
	}
	return s.hintLang(hint)
}

// Names of the directory records that link people and their cases for the relay (the Telegram
// edge writes them; retention and /forget remove them).
func CaseChatRecord(ref Ref) string      { return "casechat:" + string(ref) }
func PersonRecord(key SessionKey) string { return "person:" + string(key) }
