package boltstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/penahbot/penah/internal/intake"
)

// A stored session is its version (8 bytes), its expiry (8 bytes, the zero time for none) and
// the sealed session.
const sessionHeader = 16

func encodeSession(v intake.Version, expiry time.Time, sealed []byte) []byte {
	b := make([]byte, 0, sessionHeader+len(sealed))
	b = append(b, putUint(uint64(v))...)
	b = appendTime(b, expiry)
	return append(b, sealed...)
}

// storedSession is a session record read inside a transaction.
type storedSession struct {
	version intake.Version
	expiry  time.Time
	sealed  []byte // valid inside the transaction only
}

// loadSession reads a session; an absent or expired one is the zero storedSession.
func loadSession(tx *bolt.Tx, key intake.SessionKey, now time.Time) (storedSession, error) {
	v := tx.Bucket(bucketSessions).Get([]byte(key))
	if v == nil {
		return storedSession{}, nil
	}
	if len(v) < sessionHeader {
		return storedSession{}, errCorrupt
	}
	ver, _ := getUint(v[:8])
	s := storedSession{version: intake.Version(ver), expiry: readTime(v[8:16]), sealed: v[sessionHeader:]}
	if expired(s.expiry, now) {
		return storedSession{}, nil
	}
	return s, nil
}

// LoadSession implements intake.Sessions.
func (s *Store) LoadSession(ctx context.Context, key intake.SessionKey) ([]byte, intake.Version, error) {
	var (
		sealed []byte
		ver    intake.Version
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		st, err := loadSession(tx, key, s.now())
		if err != nil {
			return err
		}
		if st.version != 0 {
			ver, sealed = st.version, append([]byte{}, st.sealed...)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("boltstore: load session: %w", err)
	}
	return sealed, ver, nil
}

// errCaseExists is the ErrConflict of a NewCase whose Ref is taken.
var errCaseExists = fmt.Errorf("%w: a case with that reference exists", intake.ErrConflict)

// Commit implements intake.Sessions: one bbolt transaction, fsynced before it returns. After a
// Forget the file is compacted, so nothing of the shredded cases or the deleted session remains
// in freed pages (see ErrNotCompacted).
func (s *Store) Commit(ctx context.Context, c intake.Commit) (intake.Version, error) {
	var next intake.Version
	err := s.update(ctx, func(tx *bolt.Tx, now time.Time) error {
		cur, err := loadSession(tx, c.Key, now)
		if err != nil {
			return err
		}
		if cur.version != c.Expect {
			return intake.ErrConflict
		}
		if c.Done != 0 {
			if err := doneUpdate(tx, c.Key, c.Done); err != nil {
				if errors.Is(err, intake.ErrNotFound) {
					return fmt.Errorf("%w: update %d is not pending", intake.ErrConflict, c.Done)
				}
				return err
			}
		}
		if c.Forget {
			if err := forget(tx, c.Key, c.Now); err != nil {
				return err
			}
		}
		if c.NewCase != nil {
			if tx.Bucket(bucketCases).Get([]byte(c.NewCase.Ref)) != nil {
				return errCaseExists
			}
			nc := *c.NewCase
			nc.Version = 1
			if err := putCase(tx, nil, &nc); err != nil {
				return err
			}
			if err := link(tx, c.Key, nc.Ref); err != nil {
				return err
			}
		}
		if next, err = writeSession(tx, c, cur, now); err != nil {
			return err
		}
		for _, m := range c.Outbox {
			if err := enqueue(tx, m); err != nil {
				return err
			}
		}
		for _, e := range c.Audit {
			if err := appendAudit(tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: commit: %w", err)
	}
	if c.Forget {
		if err := s.Compact(); err != nil {
			return next, fmt.Errorf("boltstore: commit: %w: %w", ErrNotCompacted, err)
		}
	}
	return next, nil
}

// writeSession stores or deletes the commit's session and returns its new version.
func writeSession(tx *bolt.Tx, c intake.Commit, cur storedSession, now time.Time) (intake.Version, error) {
	b := tx.Bucket(bucketSessions)
	key := []byte(c.Key)
	// The stored record may be an expired one that reads as absent: its index entry goes too.
	var oldExpiry time.Time
	if v := b.Get(key); v != nil && len(v) >= sessionHeader {
		oldExpiry = readTime(v[8:16])
	}
	if c.Session == nil {
		if err := b.Delete(key); err != nil {
			return 0, err
		}
		return 0, setExpiry(tx, kindSession, key, oldExpiry, time.Time{})
	}
	var expiry time.Time
	if c.SessionTTL > 0 {
		expiry = now.Add(c.SessionTTL)
	}
	next := cur.version + 1
	if err := b.Put(key, encodeSession(next, expiry, c.Session)); err != nil {
		return 0, err
	}
	return next, setExpiry(tx, kindSession, key, oldExpiry, expiry)
}
