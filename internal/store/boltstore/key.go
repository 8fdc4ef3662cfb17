package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Keys and small values. Numbers are big-endian so byte order is numeric order; signed numbers
// have their sign bit flipped so negatives sort first; strings are prefixed by their length
// (uvarint) so a composite key can be split again and no string's key is a prefix of another's.

var errCorrupt = errors.New("boltstore: corrupt record")

func putUint(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func getUint(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, errCorrupt
	}
	return binary.BigEndian.Uint64(b), nil
}

func appendInt(b []byte, n int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(n)^(1<<63)) }

func readInt(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// Times in keys are Unix nanoseconds, clamped to what an int64 holds (years 1678 to 2262); the
// zero time sorts first.
var (
	minKeyTime = time.Unix(0, math.MinInt64)
	maxKeyTime = time.Unix(0, math.MaxInt64)
)

func timeNanos(t time.Time) int64 {
	switch {
	case t.IsZero() || t.Before(minKeyTime):
		return math.MinInt64
	case t.After(maxKeyTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func appendTime(b []byte, t time.Time) []byte { return appendInt(b, timeNanos(t)) }

func readTime(b []byte) time.Time {
	n := readInt(b)
	if n == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// timeLen is the width of an encoded time or number.
const timeLen = 8

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// readStr splits a length-prefixed string off the front of b.
func readStr(b []byte) (string, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return "", nil, errCorrupt
	}
	return string(b[w : w+int(n)]), b[w+int(n):], nil
}

func strKey(s string) []byte { return appendStr(nil, s) }

// scanPrefix calls f for each key of bucket b that starts with prefix, in order, until f returns
// false or an error. Keys and values are only valid inside the transaction.
func scanPrefix(b *bolt.Bucket, prefix []byte, f func(k, v []byte) (bool, error)) error {
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		more, err := f(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// deleteKeys deletes keys collected during a scan (deleting under a cursor can skip keys).
func deleteKeys(b *bolt.Bucket, keys [][]byte) error {
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
