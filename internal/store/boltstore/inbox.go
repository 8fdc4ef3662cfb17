package boltstore

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/penahbot/penah/internal/intake"
)

// An inbox record is keyed by chat and update id and holds the time received and the sealed
// update.

func inboxKey(chat intake.SessionKey, id int64) []byte {
	return appendInt(appendStr(nil, string(chat)), id)
}

func dedupeKey(id int64) []byte { return appendInt(nil, id) }

// PutUpdate implements intake.Inbox.
func (s *Store) PutUpdate(ctx context.Context, u intake.Update) (bool, error) {
	dups, err := s.PutUpdates(ctx, []intake.Update{u})
	if err != nil {
		return false, err
	}
	return dups[0], nil
}

// PutUpdates implements intake.Inbox: every update in one transaction, in order.
func (s *Store) PutUpdates(ctx context.Context, us []intake.Update) ([]bool, error) {
	dups := make([]bool, len(us))
	err := s.update(ctx, func(tx *bolt.Tx, now time.Time) error {
		for i, u := range us {
			var err error
			if dups[i], err = putUpdate(tx, u, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: put update: %w", err)
	}
	return dups, nil
}

// putUpdate stores one update in tx unless its id is remembered (dup).
func putUpdate(tx *bolt.Tx, u intake.Update, now time.Time) (bool, error) {
	dd := tx.Bucket(bucketDedupe)
	dk := dedupeKey(u.ID)
	var oldExpiry time.Time
	if v := dd.Get(dk); v != nil {
		if len(v) != timeLen {
			return false, errCorrupt
		}
		if oldExpiry = readTime(v); !expired(oldExpiry, now) {
			return true, nil
		}
	}
	expiry := now.Add(intake.InboxDedupTTL)
	if err := dd.Put(dk, appendTime(nil, expiry)); err != nil {
		return false, err
	}
	if err := setExpiry(tx, kindDedupe, dk, oldExpiry, expiry); err != nil {
		return false, err
	}
	inbox := tx.Bucket(bucketInbox)
	k := inboxKey(u.Chat, u.ID)
	if inbox.Get(k) == nil {
		// An update pending longer than the dedupe window is not counted twice.
		if err := countPending(tx, u.Chat, +1); err != nil {
			return false, err
		}
	}
	v := appendTime(make([]byte, 0, timeLen+len(u.Body)), u.Received)
	return false, inbox.Put(k, append(v, u.Body...))
}

// countPending adds d to a chat's number of pending updates.
func countPending(tx *bolt.Tx, chat intake.SessionKey, d int) error {
	b := tx.Bucket(bucketInboxChats)
	var n uint64
	if v := b.Get([]byte(chat)); v != nil {
		var err error
		if n, err = getUint(v); err != nil {
			return err
		}
	}
	n += uint64(d)
	if n == 0 || int64(n) < 0 {
		return b.Delete([]byte(chat))
	}
	return b.Put([]byte(chat), putUint(n))
}

// NextUpdate implements intake.Inbox.
func (s *Store) NextUpdate(ctx context.Context, chat intake.SessionKey) (*intake.Update, error) {
	var u *intake.Update
	err := s.view(ctx, func(tx *bolt.Tx) error {
		prefix := strKey(string(chat))
		return scanPrefix(tx.Bucket(bucketInbox), prefix, func(k, v []byte) (bool, error) {
			if len(k) != len(prefix)+timeLen || len(v) < timeLen {
				return false, errCorrupt
			}
			u = &intake.Update{
				ID: readInt(k[len(prefix):]), Chat: chat,
				Received: readTime(v[:timeLen]), Body: append([]byte{}, v[timeLen:]...),
			}
			return false, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: next update: %w", err)
	}
	return u, nil
}

// PendingChats implements intake.Inbox.
func (s *Store) PendingChats(ctx context.Context, limit int) ([]intake.SessionKey, error) {
	limit = intake.ClampLimit(limit)
	var chats []intake.SessionKey
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketInboxChats).Cursor()
		for k, _ := c.First(); k != nil && len(chats) < limit; k, _ = c.Next() {
			chats = append(chats, intake.SessionKey(k))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: pending chats: %w", err)
	}
	return chats, nil
}

// DoneUpdate implements intake.Inbox.
func (s *Store) DoneUpdate(ctx context.Context, chat intake.SessionKey, id int64) error {
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error { return doneUpdate(tx, chat, id) })
	if err != nil {
		return fmt.Errorf("boltstore: done update: %w", err)
	}
	return nil
}

func doneUpdate(tx *bolt.Tx, chat intake.SessionKey, id int64) error {
	inbox := tx.Bucket(bucketInbox)
	k := inboxKey(chat, id)
	if inbox.Get(k) == nil {
		return intake.ErrNotFound
	}
	if err := inbox.Delete(k); err != nil {
		return err
	}
	return countPending(tx, chat, -1)
}

// Offset implements intake.Inbox.
func (s *Store) Offset(ctx context.Context) (int64, error) {
	var off int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(metaOffset); v != nil {
			if len(v) != timeLen {
				return errCorrupt
			}
			off = readInt(v)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: offset: %w", err)
	}
	return off, nil
}

// SetOffset implements intake.Inbox.
func (s *Store) SetOffset(ctx context.Context, offset int64) error {
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(metaOffset); v != nil && len(v) == timeLen && readInt(v) >= offset {
			return nil
		}
		return meta.Put(metaOffset, appendInt(nil, offset))
	})
	if err != nil {
		return fmt.Errorf("boltstore: set offset: %w", err)
	}
	return nil
}
