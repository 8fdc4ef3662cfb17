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
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

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
	bucketKeys     = []byte("keys")        // sealed key records of the vault
)

// Store is the bbolt engine.
type Store struct {
	path string
	// mu guards db: every transaction holds it shared; compaction, which replaces the file,
	// holds it exclusively.
	mu sync.RWMutex
	db *bolt.DB
}

func (s *Store) view(f func(*bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.View(f)
}

func (s *Store) update(f func(*bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.Update(f)
}

// CompactTxBytes bounds one transaction of a compaction.
const CompactTxBytes = 16 << 20

// Compact rewrites the database into a fresh file holding only live data, and replaces the old
// file with it. bbolt never overwrites freed pages in place, so without this a deleted envelope
// (a crypto-shredded case's wrapped data key) or an old session version could still be read from
// the file by someone who also holds the master key. It runs after every shredding. Blocks that
// the filesystem itself keeps are out of its reach: use full-disk encryption.
func (s *Store) Compact() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tmp := s.path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: OpenTimeout})
	if err != nil {
		return fmt.Errorf("boltstore: compact: %w", err)
	}
	if err := bolt.Compact(dst, s.db, CompactTxBytes); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("boltstore: compact: %w", err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("boltstore: compact: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("boltstore: compact: %w", err)
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: compact: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("boltstore: compact: %w", err)
	}
	if d, err := os.Open(filepath.Dir(s.path)); err == nil {
		d.Sync() // make the rename durable
		d.Close()
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: OpenTimeout})
	if err != nil {
		return fmt.Errorf("boltstore: reopening after compaction: %w", err)
	}
	s.db = db
	return nil
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
		for _, b := range [][]byte{bucketSessions, bucketCases, bucketOwners, bucketKeys} {
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
	return &Store{path: path, db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Close()
}

// A stored session is its version (8 bytes, big endian) followed by the sealed session.

// LoadSession implements intake.Store.
func (s *Store) LoadSession(ctx context.Context, key intake.SessionKey) ([]byte, intake.Version, error) {
	var (
		sealed []byte
		ver    intake.Version
	)
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get([]byte(key))
		if v == nil {
			return nil
		}
		if len(v) < 8 {
			return errors.New("boltstore: corrupt session record")
		}
		ver = intake.Version(binary.BigEndian.Uint64(v[:8]))
		sealed = append([]byte(nil), v[8:]...) // bbolt's memory is only valid inside the transaction
		return nil
	})
	return sealed, ver, err
}

// Commit implements intake.Store: one bbolt transaction, fsynced before it returns.
func (s *Store) Commit(ctx context.Context, c intake.Commit) (intake.Version, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var next intake.Version
	err := s.update(func(tx *bolt.Tx) error {
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
			next = cur + 1
			rec := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(c.Session)), uint64(next))
			if err := sessions.Put([]byte(c.Key), append(rec, c.Session...)); err != nil {
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
				if err := shred(tx, r, intake.StatusWithdrawn, c.Now); err != nil && !errors.Is(err, intake.ErrNotFound) {
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
	if c.Forget {
		if err := s.Compact(); err != nil {
			return next, err
		}
	}
	return next, nil
}

// shred replaces a case by its tombstone inside a transaction.
func shred(tx *bolt.Tx, ref intake.Ref, reason intake.Status, now time.Time) error {
	return updateCase(tx, ref, func(c *intake.Case) error {
		c.Tombstone(reason, now)
		return nil
	})
}

func updateCase(tx *bolt.Tx, ref intake.Ref, f func(*intake.Case) error) error {
	cases := tx.Bucket(bucketCases)
	v := cases.Get([]byte(ref))
	if v == nil {
		return intake.ErrNotFound
	}
	c := new(intake.Case)
	if err := json.Unmarshal(v, c); err != nil {
		return err
	}
	if err := f(c); err != nil {
		return err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return cases.Put([]byte(ref), body)
}

// UpdateCase implements intake.Store.
func (s *Store) UpdateCase(ctx context.Context, ref intake.Ref, f func(*intake.Case) error) error {
	return s.update(func(tx *bolt.Tx) error { return updateCase(tx, ref, f) })
}

// Shred implements intake.Store.
func (s *Store) Shred(ctx context.Context, refs []intake.Ref, reason intake.Status, now time.Time) error {
	err := s.update(func(tx *bolt.Tx) error {
		for _, ref := range refs {
			if err := shred(tx, ref, reason, now); err != nil {
				return fmt.Errorf("case %s: %w", ref, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.Compact()
}

// KeyRecord implements intake.Store.
func (s *Store) KeyRecord(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketKeys).Get([]byte(name)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// PutKeyRecord implements intake.Store.
func (s *Store) PutKeyRecord(ctx context.Context, name string, sealed []byte) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketKeys).Put([]byte(name), sealed) })
}

// KeyRecordNames implements intake.Store.
func (s *Store) KeyRecordNames(ctx context.Context) ([]string, error) {
	var names []string
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKeys).ForEach(func(k, _ []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	return names, err
}

// Case implements intake.Store.
func (s *Store) Case(ctx context.Context, ref intake.Ref) (*intake.Case, error) {
	var c *intake.Case
	err := s.view(func(tx *bolt.Tx) error {
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
	err := s.view(func(tx *bolt.Tx) error {
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
