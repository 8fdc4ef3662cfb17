// Package boltstore is Penah's embedded storage engine on go.etcd.io/bbolt: one file, one writer,
// fsync on every commit, zero set-up. It is right for one bot process on one machine.
package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/internal/intake"
)

// OpenTimeout is how long Open waits for another process to release the file.
const OpenTimeout = time.Second

// ErrLocked is returned when another process has the database open.
var ErrLocked = errors.New("database is in use by another Penah process")

var (
	bucketSessions = []byte("sessions")
	bucketCases    = []byte("cases")
	bucketOwners   = []byte("case_owners") // session key -> list of refs, for /forget
)

// Store is the bbolt engine.
type Store struct {
	db *bolt.DB
}

var _ intake.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path. The directory is created with
// mode 0700 and the file with 0600: it holds people's conversations.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("boltstore: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: OpenTimeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("boltstore: %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSessions, bucketCases, bucketOwners} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: init %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// A stored session is its version (8 bytes, big endian) followed by its JSON.
func decodeSession(v []byte) (engine.Session, intake.Version, error) {
	var sess engine.Session
	if len(v) < 8 {
		return sess, 0, errors.New("boltstore: corrupt session record")
	}
	if err := json.Unmarshal(v[8:], &sess); err != nil {
		return sess, 0, fmt.Errorf("boltstore: corrupt session record: %w", err)
	}
	return sess, intake.Version(binary.BigEndian.Uint64(v[:8])), nil
}

// LoadSession implements intake.Store.
func (s *Store) LoadSession(ctx context.Context, key intake.SessionKey) (engine.Session, intake.Version, error) {
	var (
		sess engine.Session
		ver  intake.Version
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get([]byte(key))
		if v == nil {
			return nil
		}
		var err error
		sess, ver, err = decodeSession(v)
		return err
	})
	return sess, ver, err
}

// Commit implements intake.Store: one bbolt transaction, fsynced before it returns.
func (s *Store) Commit(ctx context.Context, c intake.Commit) (intake.Version, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var next intake.Version
	err := s.db.Update(func(tx *bolt.Tx) error {
		sessions := tx.Bucket(bucketSessions)
		var cur intake.Version
		if v := sessions.Get([]byte(c.Key)); v != nil {
			cur = intake.Version(binary.BigEndian.Uint64(v[:8]))
		}
		if cur != c.Expect {
			return intake.ErrConflict
		}
		if c.Session == nil {
			if err := sessions.Delete([]byte(c.Key)); err != nil {
				return err
			}
		} else {
			body, err := json.Marshal(c.Session)
			if err != nil {
				return err
			}
			next = cur + 1
			rec := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(body)), uint64(next))
			if err := sessions.Put([]byte(c.Key), append(rec, body...)); err != nil {
				return err
			}
		}
		owners := tx.Bucket(bucketOwners)
		if c.Forget {
			var refs []intake.Ref
			if v := owners.Get([]byte(c.Key)); v != nil {
				if err := json.Unmarshal(v, &refs); err != nil {
					return err
				}
			}
			for _, r := range refs {
				if err := tx.Bucket(bucketCases).Delete([]byte(r)); err != nil {
					return err
				}
			}
			if err := owners.Delete([]byte(c.Key)); err != nil {
				return err
			}
		}
		if c.NewCase != nil {
			cases := tx.Bucket(bucketCases)
			if cases.Get([]byte(c.NewCase.Ref)) != nil {
				return fmt.Errorf("boltstore: case reference collision")
			}
			body, err := json.Marshal(c.NewCase)
			if err != nil {
				return err
			}
			if err := cases.Put([]byte(c.NewCase.Ref), body); err != nil {
				return err
			}
			var refs []intake.Ref
			if v := owners.Get([]byte(c.Key)); v != nil {
				if err := json.Unmarshal(v, &refs); err != nil {
					return err
				}
			}
			refs = append(refs, c.NewCase.Ref)
			list, err := json.Marshal(refs)
			if err != nil {
				return err
			}
			if err := owners.Put([]byte(c.Key), list); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return next, nil
}

// Case implements intake.Store.
func (s *Store) Case(ctx context.Context, ref intake.Ref) (*intake.Case, error) {
	var c *intake.Case
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketCases).Get([]byte(ref))
		if v == nil {
			return intake.ErrNotFound
		}
		c = new(intake.Case)
		return json.Unmarshal(v, c)
	})
	return c, err
}

// Cases implements intake.Store.
func (s *Store) Cases(ctx context.Context) ([]intake.Ref, error) {
	type item struct {
		ref     intake.Ref
		created time.Time
	}
	var items []item
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCases).ForEach(func(k, v []byte) error {
			var c struct {
				Created time.Time `json:"created"`
			}
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			items = append(items, item{intake.Ref(k), c.Created})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(items, func(a, b item) int { return a.created.Compare(b.created) })
	refs := make([]intake.Ref, 0, len(items))
	for _, it := range items {
		refs = append(refs, it.ref)
	}
	return refs, nil
}
