package boltstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/penahbot/penah/internal/intake"
)

// The Telegram edge's bookkeeping: tracked message ids (intake.Tracker), scheduled clears and
// dead letters (intake.DeadLetters).

var _ intake.Tracker = (*Store)(nil)
var _ intake.DeadLetters = (*Store)(nil)

// A tracked record holds all of a chat's tracked messages: its expiry (8 bytes), then each
// message's id and time (8 bytes each), by id. A chat has at most intake.MaxTrackedMessages, so
// the record stays small (16 KB) and one read gives the whole set.
const trackedEntry = 2 * timeLen

func encodeTracked(expiry time.Time, ms []intake.TrackedMessage) []byte {
	b := appendTime(make([]byte, 0, timeLen+trackedEntry*len(ms)), expiry)
	for _, m := range ms {
		b = appendTime(appendInt(b, m.ID), m.At)
	}
	return b
}

// loadTracked reads a chat's record: its expiry (zero when there is none) and, unless it has
// expired at now, its messages by id.
func loadTracked(tx *bolt.Tx, chat intake.SessionKey, now time.Time) (time.Time, []intake.TrackedMessage, error) {
	v := tx.Bucket(bucketTracked).Get([]byte(chat))
	if v == nil {
		return time.Time{}, nil, nil
	}
	if len(v) < timeLen || (len(v)-timeLen)%trackedEntry != 0 {
		return time.Time{}, nil, errCorrupt
	}
	expiry := readTime(v[:timeLen])
	if expired(expiry, now) {
		return expiry, nil, nil
	}
	var ms []intake.TrackedMessage
	for e := v[timeLen:]; len(e) > 0; e = e[trackedEntry:] {
		ms = append(ms, intake.TrackedMessage{ID: readInt(e[:timeLen]), At: readTime(e[timeLen:trackedEntry])})
	}
	return expiry, ms, nil
}

func byID(a, b intake.TrackedMessage) int { return cmp.Compare(a.ID, b.ID) }

// TrackMessages implements intake.Tracker. A call with no messages changes nothing (the set's
// lifetime included).
func (s *Store) TrackMessages(ctx context.Context, chat intake.SessionKey, msgs []intake.TrackedMessage) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: track messages: %w", err)
	}
	if len(msgs) == 0 {
		return nil
	}
	err := s.update(ctx, func(tx *bolt.Tx, now time.Time) error {
		oldExpiry, ms, err := loadTracked(tx, chat, now)
		if err != nil {
			return err
		}
		have := make(map[int64]bool, len(ms)+len(msgs))
		for _, m := range ms {
			have[m.ID] = true
		}
		for _, m := range msgs { // an id already tracked, or repeated in msgs, keeps its first At
			if !have[m.ID] {
				have[m.ID] = true
				ms = append(ms, intake.TrackedMessage{ID: m.ID, At: m.At})
			}
		}
		if over := len(ms) - intake.MaxTrackedMessages; over > 0 {
			slices.SortFunc(ms, func(a, b intake.TrackedMessage) int {
				return cmp.Or(cmp.Compare(timeNanos(a.At), timeNanos(b.At)), cmp.Compare(a.ID, b.ID))
			})
			ms = ms[over:] // the oldest go
		}
		slices.SortFunc(ms, byID)
		expiry := now.Add(intake.TrackedTTL)
		k := []byte(chat)
		if err := tx.Bucket(bucketTracked).Put(k, encodeTracked(expiry, ms)); err != nil {
			return err
		}
		return setExpiry(tx, kindTracked, k, oldExpiry, expiry)
	})
	if err != nil {
		return fmt.Errorf("boltstore: track messages: %w", err)
	}
	return nil
}

// TrackedMessages implements intake.Tracker.
func (s *Store) TrackedMessages(ctx context.Context, chat intake.SessionKey) ([]intake.TrackedMessage, error) {
	var ms []intake.TrackedMessage
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		_, ms, err = loadTracked(tx, chat, s.now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: tracked messages: %w", err)
	}
	return ms, nil
}

// UntrackMessages implements intake.Tracker. The set keeps its lifetime; a set left empty is
// deleted.
func (s *Store) UntrackMessages(ctx context.Context, chat intake.SessionKey, ids []int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: untrack messages: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	err := s.update(ctx, func(tx *bolt.Tx, now time.Time) error {
		expiry, ms, err := loadTracked(tx, chat, now)
		if err != nil || len(ms) == 0 {
			return err
		}
		gone := make(map[int64]bool, len(ids))
		for _, id := range ids {
			gone[id] = true
		}
		kept := slices.DeleteFunc(ms, func(m intake.TrackedMessage) bool { return gone[m.ID] })
		if len(kept) == len(ms) {
			return nil // none of them tracked
		}
		b, k := tx.Bucket(bucketTracked), []byte(chat)
		if len(kept) == 0 {
			if err := b.Delete(k); err != nil {
				return err
			}
			return setExpiry(tx, kindTracked, k, expiry, time.Time{})
		}
		return b.Put(k, encodeTracked(expiry, kept))
	})
	if err != nil {
		return fmt.Errorf("boltstore: untrack messages: %w", err)
	}
	return nil
}

// A scheduled clear is its time (8 bytes) and the sealed target, keyed by chat, and indexed in
// clear_due by its time followed by the chat (which runs to the end of the key), so DueClears
// reads the earliest first, then by chat.

func clearDueKey(at time.Time, chat []byte) []byte {
	return append(appendTime(make([]byte, 0, timeLen+len(chat)), at), chat...)
}

// ScheduleClear implements intake.Tracker.
func (s *Store) ScheduleClear(ctx context.Context, chat intake.SessionKey, at time.Time, target []byte) error {
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error {
		clears, due, k := tx.Bucket(bucketClears), tx.Bucket(bucketClearDue), []byte(chat)
		if v := clears.Get(k); v != nil {
			if len(v) < timeLen {
				return errCorrupt
			}
			if err := due.Delete(clearDueKey(readTime(v[:timeLen]), k)); err != nil {
				return err
			}
		}
		if at.IsZero() {
			return clears.Delete(k)
		}
		v := append(appendTime(make([]byte, 0, timeLen+len(target)), at), target...)
		if err := clears.Put(k, v); err != nil {
			return err
		}
		return due.Put(clearDueKey(at, k), nil)
	})
	if err != nil {
		return fmt.Errorf("boltstore: schedule clear: %w", err)
	}
	return nil
}

// DueClears implements intake.Tracker; clears due at the same time come by chat.
func (s *Store) DueClears(ctx context.Context, now time.Time, limit int) ([]intake.ScheduledClear, error) {
	limit = intake.ClampLimit(limit)
	var out []intake.ScheduledClear
	err := s.view(ctx, func(tx *bolt.Tx) error {
		clears := tx.Bucket(bucketClears)
		c := tx.Bucket(bucketClearDue).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) < timeLen {
				return errCorrupt
			}
			if readTime(k[:timeLen]).After(now) {
				break
			}
			chat := k[timeLen:]
			v := clears.Get(chat)
			if len(v) < timeLen {
				return errCorrupt
			}
			out = append(out, intake.ScheduledClear{
				Chat: intake.SessionKey(chat), At: readTime(v[:timeLen]), Target: append([]byte{}, v[timeLen:]...),
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: due clears: %w", err)
	}
	return out, nil
}

// A dead letter is keyed by its id and holds its expiry and received time (8 bytes each), its
// source and reason (length-prefixed), its size (8 bytes) and the sealed body. dead_received
// indexes it by received time, then id (which runs to the end of the key).

// errDeadLetterTooLarge refuses a body over intake.MaxDeadLetterBytes.
var errDeadLetterTooLarge = fmt.Errorf("dead letter body over %d bytes", intake.MaxDeadLetterBytes)

func deadOrderKey(received time.Time, id []byte) []byte {
	return append(appendTime(make([]byte, 0, timeLen+len(id)), received), id...)
}

func encodeDeadLetter(expiry time.Time, d intake.DeadLetter) []byte {
	b := make([]byte, 0, 3*timeLen+len(d.Source)+len(d.Reason)+4+len(d.Body))
	b = appendTime(appendTime(b, expiry), d.Received)
	b = appendStr(appendStr(b, d.Source), d.Reason)
	b = appendInt(b, int64(d.Size))
	return append(b, d.Body...)
}

// decodeDeadLetter reads a record (its expiry aside), copying the body.
func decodeDeadLetter(id, v []byte) (intake.DeadLetter, error) {
	if len(v) < 2*timeLen {
		return intake.DeadLetter{}, errCorrupt
	}
	d := intake.DeadLetter{ID: string(id), Received: readTime(v[timeLen : 2*timeLen])}
	rest := v[2*timeLen:]
	var err error
	if d.Source, rest, err = readStr(rest); err != nil {
		return d, err
	}
	if d.Reason, rest, err = readStr(rest); err != nil {
		return d, err
	}
	if len(rest) < timeLen {
		return d, errCorrupt
	}
	d.Size = int(readInt(rest[:timeLen]))
	d.Body = append([]byte{}, rest[timeLen:]...)
	return d, nil
}

// unindexDeadLetter removes a dead letter's entry in dead_received (prune calls it).
func unindexDeadLetter(tx *bolt.Tx, id, v []byte) error {
	if len(v) < 2*timeLen {
		return errCorrupt
	}
	return tx.Bucket(bucketDeadLetterOrder).Delete(deadOrderKey(readTime(v[timeLen:2*timeLen]), id))
}

// PutDeadLetter implements intake.DeadLetters. An empty ID is refused. An ID whose dead letter
// has expired may be used again.
func (s *Store) PutDeadLetter(ctx context.Context, d intake.DeadLetter) error {
	switch {
	case len(d.Body) > intake.MaxDeadLetterBytes:
		return fmt.Errorf("boltstore: put dead letter: %w", errDeadLetterTooLarge)
	case d.ID == "":
		return errors.New("boltstore: put dead letter: no id")
	}
	err := s.update(ctx, func(tx *bolt.Tx, now time.Time) error {
		b, k := tx.Bucket(bucketDeadLetters), []byte(d.ID)
		var oldExpiry time.Time
		if v := b.Get(k); v != nil {
			if len(v) < 2*timeLen {
				return errCorrupt
			}
			if oldExpiry = readTime(v[:timeLen]); !expired(oldExpiry, now) {
				return fmt.Errorf("%w: dead letter id in use", intake.ErrConflict)
			}
			if err := unindexDeadLetter(tx, k, v); err != nil {
				return err
			}
		}
		expiry := now.Add(intake.DeadLetterTTL)
		if err := b.Put(k, encodeDeadLetter(expiry, d)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDeadLetterOrder).Put(deadOrderKey(d.Received, k), nil); err != nil {
			return err
		}
		return setExpiry(tx, kindDead, k, oldExpiry, expiry)
	})
	if err != nil {
		return fmt.Errorf("boltstore: put dead letter: %w", err)
	}
	return nil
}

// DeadLetters implements intake.DeadLetters.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]intake.DeadLetter, error) {
	limit = intake.ClampLimit(limit)
	var out []intake.DeadLetter
	err := s.view(ctx, func(tx *bolt.Tx) error {
		now := s.now()
		b := tx.Bucket(bucketDeadLetters)
		c := tx.Bucket(bucketDeadLetterOrder).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) < timeLen {
				return errCorrupt
			}
			id := k[timeLen:]
			v := b.Get(id)
			if len(v) < timeLen {
				return errCorrupt
			}
			if expired(readTime(v[:timeLen]), now) {
				continue // not pruned yet
			}
			d, err := decodeDeadLetter(id, v)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: dead letters: %w", err)
	}
	return out, nil
}
