package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
)

// The Telegram edge's bookkeeping: tracked message ids (intake.Tracker), scheduled clears and
// dead letters (intake.DeadLetters). Their lifetimes run on the server's clock: a chat's tracked
// set is renewed with PEXPIRE by each TrackMessages, a dead letter is stored with PX.

var _ intake.Tracker = (*Store)(nil)
var _ intake.DeadLetters = (*Store)(nil)

// TrackMessages implements intake.Tracker: one script adds the messages (HSETNX: an id already
// tracked, or repeated in msgs, keeps its first At), drops the oldest beyond
// intake.MaxTrackedMessages and renews the set's lifetime. A call with no messages changes
// nothing (the set's lifetime included).
func (s *Store) TrackMessages(ctx context.Context, chat intake.SessionKey, msgs []intake.TrackedMessage) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: track messages: %w", err)
	}
	if len(msgs) == 0 {
		return nil
	}
	args := make([]any, 0, 3+2*len(msgs))
	args = append(args, intake.TrackedTTL.Milliseconds(), intake.MaxTrackedMessages, trackedIDAt)
	for _, m := range msgs {
		args = append(args, strconv.FormatInt(m.ID, 10), trackedMember(m))
	}
	err := s.sc.trackAdd.Run(ctx, s.rdb, []string{s.k.tracked(chat), s.k.trackedOrder(chat)}, args...).Err()
	if err != nil {
		return s.fail("track messages", err)
	}
	return nil
}

// TrackedMessages implements intake.Tracker.
func (s *Store) TrackedMessages(ctx context.Context, chat intake.SessionKey) ([]intake.TrackedMessage, error) {
	m, err := s.rdb.HGetAll(ctx, s.k.tracked(chat)).Result()
	if err != nil {
		return nil, s.fail("tracked messages", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	out := make([]intake.TrackedMessage, 0, len(m))
	for field, member := range m {
		id, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redisstore: tracked message id %q: %w", field, err)
		}
		at, err := decTime(member)
		if err != nil {
			return nil, fmt.Errorf("redisstore: tracked message %d: %w", id, err)
		}
		out = append(out, intake.TrackedMessage{ID: id, At: at})
	}
	slices.SortFunc(out, func(a, b intake.TrackedMessage) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// UntrackMessages implements intake.Tracker. The set keeps its lifetime.
func (s *Store) UntrackMessages(ctx context.Context, chat intake.SessionKey, ids []int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: untrack messages: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = strconv.FormatInt(id, 10)
	}
	err := s.sc.trackRemove.Run(ctx, s.rdb, []string{s.k.tracked(chat), s.k.trackedOrder(chat)}, args...).Err()
	if err != nil {
		return s.fail("untrack messages", err)
	}
	return nil
}

// ScheduleClear implements intake.Tracker: the clear (its time and target) and its place in the
// due index change together, in one script.
func (s *Store) ScheduleClear(ctx context.Context, chat intake.SessionKey, at time.Time, target []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: schedule clear: %w", err)
	}
	member, value := "", ""
	if !at.IsZero() {
		member, value = clearMember(at, chat), encTime(at)+string(target)
	}
	err := s.sc.clearSet.Run(ctx, s.rdb, []string{s.k.clears(), s.k.clearsDue()},
		string(chat), member, value, encTimeLen, memberSep).Err()
	if err != nil {
		return s.fail("schedule clear", err)
	}
	return nil
}

// DueClears implements intake.Tracker; clears due at the same time come by chat.
func (s *Store) DueClears(ctx context.Context, now time.Time, limit int) ([]intake.ScheduledClear, error) {
	limit = intake.ClampLimit(limit)
	res, err := s.sc.clearDue.Run(ctx, s.rdb, []string{s.k.clearsDue(), s.k.clears()},
		"("+encTime(now.Add(time.Nanosecond)), limit, encTimeLen+len(memberSep)+1).StringSlice()
	if err != nil {
		return nil, s.fail("due clears", err)
	}
	out := make([]intake.ScheduledClear, 0, len(res)/2)
	for i := 0; i+1 < len(res); i += 2 {
		at, err := decTime(res[i+1])
		if err != nil {
			return nil, fmt.Errorf("redisstore: scheduled clear: %w", err)
		}
		out = append(out, intake.ScheduledClear{
			Chat: intake.SessionKey(res[i]), At: at, Target: []byte(res[i+1][encTimeLen:]),
		})
	}
	return out, nil
}

// deadDoc is a dead letter's fields as stored (field doc of its hash); the id is in its key and
// member, the body in field b, as raw bytes.
type deadDoc struct {
	Received time.Time `json:"received"`
	Source   string    `json:"source"`
	Reason   string    `json:"reason"`
	Size     int       `json:"size"`
}

// deadPrunePage bounds how many expired dead letters one PutDeadLetter takes out of the indexes.
const deadPrunePage = 100

// errDeadLetterTooLarge refuses a body over intake.MaxDeadLetterBytes.
var errDeadLetterTooLarge = fmt.Errorf("dead letter body over %d bytes", intake.MaxDeadLetterBytes)

// deadID returns the id that ends a deadMember.
func deadID(member string) (string, error) {
	if len(member) < encTimeLen+len(memberSep) {
		return "", fmt.Errorf("redisstore: dead letter index member %q is too short", member)
	}
	return member[encTimeLen+len(memberSep):], nil
}

// PutDeadLetter implements intake.DeadLetters. An empty ID is refused. An ID whose dead letter has
// expired may be used again. It also takes up to deadPrunePage expired dead letters out of the
// indexes (Redis expires the records themselves).
func (s *Store) PutDeadLetter(ctx context.Context, d intake.DeadLetter) error {
	switch {
	case len(d.Body) > intake.MaxDeadLetterBytes:
		return fmt.Errorf("redisstore: put dead letter: %w", errDeadLetterTooLarge)
	case d.ID == "":
		return errors.New("redisstore: put dead letter: no id")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: put dead letter: %w", err)
	}
	doc, err := json.Marshal(deadDoc{Received: d.Received, Source: d.Source, Reason: d.Reason, Size: d.Size})
	if err != nil {
		return fmt.Errorf("redisstore: put dead letter: %w", err)
	}
	oldest, err := s.rdb.ZRange(ctx, s.k.deadLettersAge(), 0, deadPrunePage-1).Result()
	if err != nil {
		return s.fail("put dead letter", err)
	}
	keys := []string{s.k.deadLetter(d.ID), s.k.deadLetters(), s.k.deadLettersAge(), s.k.deadLetterSeq()}
	args := []any{deadMember(d.Received, d.ID), doc, d.Body, intake.DeadLetterTTL.Milliseconds()}
	for _, m := range oldest {
		id, err := deadID(m)
		if err != nil {
			return err
		}
		keys, args = append(keys, s.k.deadLetter(id)), append(args, m)
	}
	n, err := s.sc.deadPut.Run(ctx, s.rdb, keys, args...).Int()
	if err != nil {
		return s.fail("put dead letter", err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: put dead letter: id in use: %w", intake.ErrConflict)
	}
	return nil
}

// DeadLetters implements intake.DeadLetters. It walks the index by received time and reads the
// dead letters a page at a time, skipping members whose dead letter expired.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]intake.DeadLetter, error) {
	limit = intake.ClampLimit(limit)
	var out []intake.DeadLetter
	lo := "-"
	for len(out) < limit {
		page := int64(limit - len(out))
		ms, err := s.rdb.ZRangeByLex(ctx, s.k.deadLetters(), &redis.ZRangeBy{Min: lo, Max: "+", Count: page}).Result()
		if err != nil {
			return nil, s.fail("dead letters", err)
		}
		if len(ms) == 0 {
			break
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.SliceCmd, len(ms))
		ids := make([]string, len(ms))
		for i, m := range ms {
			if ids[i], err = deadID(m); err != nil {
				return nil, err
			}
			cmds[i] = pipe.HMGet(ctx, s.k.deadLetter(ids[i]), "m", "doc", "b")
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, s.fail("dead letters", err)
		}
		for i, cmd := range cmds {
			v := cmd.Val()
			if m, _ := v[0].(string); m != ms[i] {
				continue // expired (and perhaps its id used again)
			}
			raw, _ := v[1].(string)
			var doc deadDoc
			if err := json.Unmarshal([]byte(raw), &doc); err != nil {
				return nil, fmt.Errorf("redisstore: dead letter does not decode: %w", err)
			}
			body, _ := v[2].(string)
			out = append(out, intake.DeadLetter{
				ID: ids[i], Received: doc.Received, Source: doc.Source, Reason: doc.Reason,
				Size: doc.Size, Body: []byte(body),
			})
		}
		if int64(len(ms)) < page {
			break
		}
		lo = "(" + ms[len(ms)-1]
	}
	return out, nil
}
