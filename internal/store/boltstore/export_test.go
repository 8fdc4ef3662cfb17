package boltstore

import (
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/penahbot/penah/internal/intake"
)

// AdvanceClock moves the store's clock forward by d, for tests of lifetimes.
func AdvanceClock(s *Store, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.clock
	s.clock = func() time.Time { return prev().Add(d) }
}

// TamperAudit changes the stored audit entry seq with f, behind the store's back, as someone
// editing the file would.
func TamperAudit(s *Store, seq uint64, f func(*intake.AuditEntry)) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		var e intake.AuditEntry
		v := b.Get(putUint(seq))
		if v == nil {
			return intake.ErrNotFound
		}
		if err := json.Unmarshal(v, &e); err != nil {
			return err
		}
		f(&e)
		v, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return b.Put(putUint(seq), v)
	})
}

// CheckFile runs bbolt's consistency check over the whole file (pages, freelist, buckets).
func CheckFile(s *Store) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
}

// BucketLen counts the records of a bucket, for tests of pruning and indexes.
func BucketLen(s *Store, name string) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(name)).ForEach(func(_, _ []byte) error { n++; return nil })
	})
	return n, err
}
