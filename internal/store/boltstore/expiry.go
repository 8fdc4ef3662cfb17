package boltstore

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// expKind names the kind of record an expiry index entry points to.
type expKind byte

const (
	kindSession expKind = 's'
	kindDedupe  expKind = 'd'
	kindLease   expKind = 'l'
	kindRate    expKind = 'r'
	kindTracked expKind = 't'
	kindDead    expKind = 'x'
)

// expiring describes where each kind of record lives and where in its value the expiry is.
var expiring = map[expKind]struct {
	bucket []byte
	at     int // offset of the expiry time in the record's value
	// drop, when set, removes what else points to the record (its index entries) before prune
	// deletes it; v is the record's value.
	drop func(tx *bolt.Tx, key, v []byte) error
}{
	kindSession: {bucketSessions, 8, nil},
	kindDedupe:  {bucketDedupe, 0, nil},
	kindLease:   {bucketLeases, 0, nil},
	kindRate:    {bucketRates, 8, nil},
	kindTracked: {bucketTracked, 0, nil},
	kindDead:    {bucketDeadLetters, 0, unindexDeadLetter},
}

func expiryKey(at time.Time, kind expKind, key []byte) []byte {
	k := appendTime(make([]byte, 0, timeLen+1+len(key)), at)
	k = append(k, byte(kind))
	return append(k, key...)
}

// setExpiry moves a record's expiry index entry from old to at (a zero time: none).
func setExpiry(tx *bolt.Tx, kind expKind, key []byte, old, at time.Time) error {
	b := tx.Bucket(bucketExpiry)
	if !old.IsZero() {
		if err := b.Delete(expiryKey(old, kind, key)); err != nil {
			return err
		}
	}
	if at.IsZero() {
		return nil
	}
	return b.Put(expiryKey(at, kind, key), nil)
}

// expired reports whether a record with expiry at (zero: none) is gone at now.
func expired(at, now time.Time) bool { return !at.IsZero() && !at.After(now) }

// prune deletes up to MaxPrunePerTx records whose expiry has passed, oldest first. A record is
// only deleted if it still carries the expiry of the index entry (a renewal moves the entry, so
// this is a second line of defence).
func prune(tx *bolt.Tx, now time.Time) error {
	idx := tx.Bucket(bucketExpiry)
	var done [][]byte
	c := idx.Cursor()
	for k, _ := c.First(); k != nil && len(done) < MaxPrunePerTx; k, _ = c.Next() {
		if len(k) < timeLen+1 {
			return errCorrupt
		}
		at := readTime(k[:timeLen])
		if at.After(now) {
			break
		}
		kind, key := expKind(k[timeLen]), k[timeLen+1:]
		where, ok := expiring[kind]
		if !ok {
			return errCorrupt
		}
		b := tx.Bucket(where.bucket)
		if v := b.Get(key); v != nil && len(v) >= where.at+timeLen && readTime(v[where.at:]).Equal(at) {
			if where.drop != nil {
				if err := where.drop(tx, key, v); err != nil {
					return err
				}
			}
			if err := b.Delete(key); err != nil {
				return err
			}
		}
		done = append(done, clone(k))
	}
	return deleteKeys(idx, done)
}
