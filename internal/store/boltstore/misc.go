package boltstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/penahbot/penah/internal/intake"
)

// A lease record is its expiry (8 bytes) and its owner.

// AcquireLease implements intake.Leases.
func (s *Store) AcquireLease(ctx context.Context, chat intake.SessionKey, owner string, ttl time.Duration) (bool, error) {
	ok := false
	err := s.update(ctx, func(tx *bolt.Tx, now time.Time) error {
		b, k := tx.Bucket(bucketLeases), []byte(chat)
		var oldExpiry time.Time
		if v := b.Get(k); v != nil {
			if len(v) < timeLen {
				return errCorrupt
			}
			oldExpiry = readTime(v[:timeLen])
			if string(v[timeLen:]) != owner && !expired(oldExpiry, now) {
				return nil
			}
		}
		expiry := now.Add(ttl)
		if err := b.Put(k, append(appendTime(nil, expiry), owner...)); err != nil {
			return err
		}
		ok = true
		return setExpiry(tx, kindLease, k, oldExpiry, expiry)
	})
	if err != nil {
		return false, fmt.Errorf("boltstore: acquire lease: %w", err)
	}
	return ok, nil
}

// ReleaseLease implements intake.Leases.
func (s *Store) ReleaseLease(ctx context.Context, chat intake.SessionKey, owner string) error {
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error {
		b, k := tx.Bucket(bucketLeases), []byte(chat)
		v := b.Get(k)
		if v == nil || len(v) < timeLen || string(v[timeLen:]) != owner {
			return nil
		}
		oldExpiry := readTime(v[:timeLen])
		if err := b.Delete(k); err != nil {
			return err
		}
		return setExpiry(tx, kindLease, k, oldExpiry, time.Time{})
	})
	if err != nil {
		return fmt.Errorf("boltstore: release lease: %w", err)
	}
	return nil
}

// appendAudit links e after the last entry and stores it.
func appendAudit(tx *bolt.Tx, e intake.AuditEntry) error {
	b := tx.Bucket(bucketAudit)
	var prev *intake.AuditEntry
	if k, v := b.Cursor().Last(); k != nil {
		prev = new(intake.AuditEntry)
		if err := json.Unmarshal(v, prev); err != nil {
			return fmt.Errorf("audit record: %w", err)
		}
	}
	e.Link(prev)
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return b.Put(putUint(e.Seq), v)
}

// AppendAudit implements intake.Audit.
func (s *Store) AppendAudit(ctx context.Context, e intake.AuditEntry) error {
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error { return appendAudit(tx, e) })
	if err != nil {
		return fmt.Errorf("boltstore: append audit: %w", err)
	}
	return nil
}

// AuditEntries implements intake.Audit.
func (s *Store) AuditEntries(ctx context.Context, after uint64, limit int) ([]intake.AuditEntry, error) {
	limit = intake.ClampLimit(limit)
	var out []intake.AuditEntry
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Seek(putUint(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var e intake.AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("audit record: %w", err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: audit entries: %w", err)
	}
	return out, nil
}

// A rate counter is keyed by key, window length and window start, and holds the count and the
// time it may be pruned: one window after its own ended, so a caller whose clock lags the
// store's a little still finds its counter.

// Hit implements intake.RateLimits.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	if window <= 0 {
		return 0, fmt.Errorf("boltstore: hit: window %v is not positive", window)
	}
	n := 0
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error {
		ns := now.UnixNano()
		start := ns - ns%int64(window)
		if ns%int64(window) < 0 { // before 1970: round down, not toward zero
			start -= int64(window)
		}
		k := appendInt(appendInt(appendStr(nil, key), int64(window)), start)
		b := tx.Bucket(bucketRates)
		var count uint64
		expiry := time.Unix(0, start).Add(2 * window).UTC()
		if v := b.Get(k); v != nil {
			if len(v) != 2*timeLen {
				return errCorrupt
			}
			count, _ = getUint(v[:timeLen])
		} else if err := setExpiry(tx, kindRate, k, time.Time{}, expiry); err != nil {
			return err
		}
		count++
		n = int(count)
		return b.Put(k, appendTime(putUint(count), expiry))
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: hit: %w", err)
	}
	return n, nil
}

// KeyRecord implements intake.KeyRecords.
func (s *Store) KeyRecord(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		out = clone(tx.Bucket(bucketKeys).Get([]byte(name)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: key record: %w", err)
	}
	return out, nil
}

// PutKeyRecord implements intake.KeyRecords.
func (s *Store) PutKeyRecord(ctx context.Context, name string, sealed []byte) error {
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error { return tx.Bucket(bucketKeys).Put([]byte(name), sealed) })
	if err != nil {
		return fmt.Errorf("boltstore: put key record: %w", err)
	}
	return nil
}

// KeyRecordNames implements intake.KeyRecords; bbolt keeps them sorted.
func (s *Store) KeyRecordNames(ctx context.Context) ([]string, error) {
	var names []string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKeys).ForEach(func(k, _ []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: key record names: %w", err)
	}
	return names, nil
}
