package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/penahbot/penah/internal/intake"
)

// The officer side's configuration (intake.Directory): teams, officers, invites, as sealed
// records by name. A record is its version (8 bytes) followed by the sealed bytes, keyed by its
// name in the directory bucket; bbolt keeps the names sorted, so a prefix is one cursor walk.

var _ intake.Directory = (*Store)(nil)

// readDir decodes a stored directory record: version and the sealed bytes (not copied).
func readDir(v []byte) (intake.Version, []byte, error) {
	if len(v) <= timeLen {
		return 0, nil, errCorrupt
	}
	ver, _ := getUint(v[:timeLen])
	if ver == 0 {
		return 0, nil, errCorrupt
	}
	return intake.Version(ver), v[timeLen:], nil
}

func encodeDir(v intake.Version, sealed []byte) []byte {
	return append(putUint(uint64(v)), sealed...)
}

// dirVersion returns the stored version of name (0 when absent).
func dirVersion(b *bolt.Bucket, name []byte) (intake.Version, error) {
	v := b.Get(name)
	if v == nil {
		return 0, nil
	}
	ver, _, err := readDir(v)
	return ver, err
}

// DirRecord implements intake.Directory.
func (s *Store) DirRecord(ctx context.Context, name string) ([]byte, intake.Version, error) {
	if err := intake.CheckDirName(name); err != nil {
		return nil, 0, fmt.Errorf("boltstore: directory record: %w", err)
	}
	var (
		out []byte
		ver intake.Version
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketDirectory).Get([]byte(name))
		if v == nil {
			return nil
		}
		var sealed []byte
		var err error
		if ver, sealed, err = readDir(v); err != nil {
			return err
		}
		out = bytes.Clone(sealed)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("boltstore: directory record: %w", err)
	}
	return out, ver, nil
}

// PutDirRecord implements intake.Directory. A name or record the contract does not allow is
// refused with an error that is not intake.ErrConflict, and nothing is written.
func (s *Store) PutDirRecord(ctx context.Context, name string, sealed []byte, expect intake.Version) (intake.Version, error) {
	if err := intake.CheckDirName(name); err != nil {
		return 0, fmt.Errorf("boltstore: put directory record: %w", err)
	}
	if err := intake.CheckDirRecord(sealed); err != nil {
		return 0, fmt.Errorf("boltstore: put directory record: %w", err)
	}
	next := expect + 1
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error {
		b, k := tx.Bucket(bucketDirectory), []byte(name)
		cur, err := dirVersion(b, k)
		if err != nil {
			return err
		}
		if cur != expect {
			return fmt.Errorf("%w: directory record at version %d, not %d", intake.ErrConflict, cur, expect)
		}
		return b.Put(k, encodeDir(next, sealed))
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: put directory record: %w", err)
	}
	return next, nil
}

// DeleteDirRecord implements intake.Directory.
func (s *Store) DeleteDirRecord(ctx context.Context, name string, expect intake.Version) error {
	if err := intake.CheckDirName(name); err != nil {
		return fmt.Errorf("boltstore: delete directory record: %w", err)
	}
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error {
		b, k := tx.Bucket(bucketDirectory), []byte(name)
		cur, err := dirVersion(b, k)
		if err != nil {
			return err
		}
		switch {
		case cur != expect:
			return fmt.Errorf("%w: directory record at version %d, not %d", intake.ErrConflict, cur, expect)
		case cur == 0:
			return nil
		}
		return b.Delete(k)
	})
	if err != nil {
		return fmt.Errorf("boltstore: delete directory record: %w", err)
	}
	return nil
}

// TakeDirRecord implements intake.Directory: read and delete in one write transaction, which
// bbolt runs one at a time, so of two takers the second finds nothing.
func (s *Store) TakeDirRecord(ctx context.Context, name string) ([]byte, error) {
	if err := intake.CheckDirName(name); err != nil {
		return nil, fmt.Errorf("boltstore: take directory record: %w", err)
	}
	var out []byte
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error {
		out = nil // a retried transaction starts again
		b, k := tx.Bucket(bucketDirectory), []byte(name)
		v := b.Get(k)
		if v == nil {
			return nil
		}
		_, sealed, err := readDir(v)
		if err != nil {
			return err
		}
		out = bytes.Clone(sealed)
		return b.Delete(k)
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: take directory record: %w", err)
	}
	return out, nil
}

// DirRecordNames implements intake.Directory; bbolt keeps them sorted.
func (s *Store) DirRecordNames(ctx context.Context, prefix string) ([]string, error) {
	if intake.CheckDirPrefix(prefix) != nil {
		return nil, fmt.Errorf("boltstore: directory record names: %w", intake.ErrDirPrefix)
	}
	var names []string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return scanPrefix(tx.Bucket(bucketDirectory), []byte(prefix), func(k, _ []byte) (bool, error) {
			names = append(names, string(k))
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: directory record names: %w", err)
	}
	return names, nil
}
