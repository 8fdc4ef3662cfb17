package boltstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/penahbot/penah/internal/intake"
)

// An outbox message is keyed by chat and Seq (so a chat's messages are in order) and found by id
// through outbox_ids. Each chat's first message, its head, is indexed by Due in outbox_heads, so
// DueMessages reads the longest-waiting heads first and touches only what it returns.

func outboxKey(chat intake.SessionKey, seq uint64) []byte {
	return append(appendStr(nil, string(chat)), putUint(seq)...)
}

// enqueue adds m at the end of its chat's messages.
func enqueue(tx *bolt.Tx, m intake.OutboxMessage) error {
	ids := tx.Bucket(bucketOutboxIDs)
	if ids.Get([]byte(m.ID)) != nil {
		return fmt.Errorf("%w: outbox message id in use", intake.ErrConflict)
	}
	out := tx.Bucket(bucketOutbox)
	seq, err := out.NextSequence()
	if err != nil {
		return err
	}
	m.Seq = seq
	k := outboxKey(m.Chat, seq)
	if err := putMessage(out, k, m); err != nil {
		return err
	}
	if err := ids.Put([]byte(m.ID), k); err != nil {
		return err
	}
	return refreshHead(tx, m.Chat)
}

func putMessage(b *bolt.Bucket, k []byte, m intake.OutboxMessage) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return b.Put(k, v)
}

func readMessage(v []byte) (intake.OutboxMessage, error) {
	var m intake.OutboxMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return m, fmt.Errorf("outbox record: %w", err)
	}
	return m, nil
}

// head returns a chat's first message, if any.
func head(tx *bolt.Tx, chat intake.SessionKey) (*intake.OutboxMessage, error) {
	var h *intake.OutboxMessage
	err := scanPrefix(tx.Bucket(bucketOutbox), strKey(string(chat)), func(_, v []byte) (bool, error) {
		m, err := readMessage(v)
		h = &m
		return false, err
	})
	return h, err
}

// refreshHead re-indexes a chat's head after its messages changed.
func refreshHead(tx *bolt.Tx, chat intake.SessionKey) error {
	heads, chats := tx.Bucket(bucketOutboxHeads), tx.Bucket(bucketOutboxChats)
	if old := chats.Get([]byte(chat)); old != nil {
		if err := heads.Delete(clone(old)); err != nil {
			return err
		}
		if err := chats.Delete([]byte(chat)); err != nil {
			return err
		}
	}
	h, err := head(tx, chat)
	if err != nil || h == nil {
		return err
	}
	hk := appendStr(appendTime(nil, h.Due), string(chat))
	if err := heads.Put(hk, nil); err != nil {
		return err
	}
	return chats.Put([]byte(chat), hk)
}

// DueMessages implements intake.Outbox.
func (s *Store) DueMessages(ctx context.Context, now time.Time, limit int) ([]intake.OutboxMessage, error) {
	limit = intake.ClampLimit(limit)
	var out []intake.OutboxMessage
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutboxHeads).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) < timeLen {
				return errCorrupt
			}
			if readTime(k[:timeLen]).After(now) {
				break
			}
			chat, _, err := readStr(k[timeLen:])
			if err != nil {
				return err
			}
			h, err := head(tx, intake.SessionKey(chat))
			if err != nil {
				return err
			}
			if h == nil {
				return errCorrupt
			}
			out = append(out, *h)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: due messages: %w", err)
	}
	return out, nil
}

// changeMessage finds message id and either removes it (f nil) or rewrites it with f.
func (s *Store) changeMessage(ctx context.Context, op string, id intake.OutboxID, f func(*intake.OutboxMessage)) error {
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error {
		ids, out := tx.Bucket(bucketOutboxIDs), tx.Bucket(bucketOutbox)
		k := clone(ids.Get([]byte(id)))
		if k == nil {
			return intake.ErrNotFound
		}
		v := out.Get(k)
		if v == nil {
			return errCorrupt
		}
		m, err := readMessage(v)
		if err != nil {
			return err
		}
		if f == nil {
			if err := out.Delete(k); err != nil {
				return err
			}
			if err := ids.Delete([]byte(id)); err != nil {
				return err
			}
		} else {
			f(&m)
			if err := putMessage(out, k, m); err != nil {
				return err
			}
		}
		return refreshHead(tx, m.Chat)
	})
	if err != nil {
		return fmt.Errorf("boltstore: %s: %w", op, err)
	}
	return nil
}

// MarkSent implements intake.Outbox.
func (s *Store) MarkSent(ctx context.Context, id intake.OutboxID) error {
	return s.changeMessage(ctx, "mark sent", id, nil)
}

// MarkFailed implements intake.Outbox.
func (s *Store) MarkFailed(ctx context.Context, id intake.OutboxID) error {
	return s.changeMessage(ctx, "mark failed", id, nil)
}

// Retry implements intake.Outbox.
func (s *Store) Retry(ctx context.Context, id intake.OutboxID, at time.Time) error {
	return s.changeMessage(ctx, "retry", id, func(m *intake.OutboxMessage) {
		m.Attempts++
		m.Due = at
	})
}

// DropChat implements intake.Outbox.
func (s *Store) DropChat(ctx context.Context, chat intake.SessionKey) (int, error) {
	n := 0
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error {
		out, ids := tx.Bucket(bucketOutbox), tx.Bucket(bucketOutboxIDs)
		var keys [][]byte
		err := scanPrefix(out, strKey(string(chat)), func(k, v []byte) (bool, error) {
			m, err := readMessage(v)
			if err != nil {
				return false, err
			}
			if err := ids.Delete([]byte(m.ID)); err != nil {
				return false, err
			}
			keys = append(keys, clone(k))
			return true, nil
		})
		if err != nil {
			return err
		}
		if err := deleteKeys(out, keys); err != nil {
			return err
		}
		n = len(keys)
		return refreshHead(tx, chat)
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: drop chat: %w", err)
	}
	return n, nil
}
