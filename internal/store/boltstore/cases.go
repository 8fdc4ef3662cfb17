package boltstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/penahbot/penah/internal/intake"
)

// Case priorities as the queue index orders them (intake.Case.Priority).
const (
	priorityMostUrgent  = 1
	priorityLeastUrgent = 3
)

// queuePriority maps a case's Priority to its place in the queue: outside 1..3 counts as 3.
func queuePriority(p int) byte {
	if p < priorityMostUrgent || p > priorityLeastUrgent {
		return priorityLeastUrgent
	}
	return byte(p)
}

func createdKey(c *intake.Case) []byte {
	return append(appendTime(nil, c.Created), c.Ref...)
}

func queuePrefix(team string) []byte { return appendStr(nil, team) }

func queueKey(c *intake.Case) []byte {
	k := append(queuePrefix(c.Team), queuePriority(c.Priority))
	return append(appendTime(k, c.Created), c.Ref...)
}

func deadlineKey(c *intake.Case) []byte {
	return append(appendTime(nil, c.Deadline), c.Ref...)
}

// indexes lists the index entries a case has: bucket and key.
func indexes(c *intake.Case) [][2][]byte {
	out := [][2][]byte{{bucketCaseCreated, createdKey(c)}}
	if c.Unclaimed() {
		out = append(out, [2][]byte{bucketCaseQueue, queueKey(c)})
		if !c.Deadline.IsZero() {
			out = append(out, [2][]byte{bucketCaseDeadline, deadlineKey(c)})
		}
	}
	return out
}

// putCase writes c and moves its index entries from those of old (nil for a new case).
func putCase(tx *bolt.Tx, old, c *intake.Case) error {
	if old != nil {
		for _, ix := range indexes(old) {
			if err := tx.Bucket(ix[0]).Delete(ix[1]); err != nil {
				return err
			}
		}
	}
	for _, ix := range indexes(c) {
		if err := tx.Bucket(ix[0]).Put(ix[1], nil); err != nil {
			return err
		}
	}
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketCases).Put([]byte(c.Ref), v)
}

func getCase(tx *bolt.Tx, ref intake.Ref) (*intake.Case, error) {
	v := tx.Bucket(bucketCases).Get([]byte(ref))
	if v == nil {
		return nil, intake.ErrNotFound
	}
	c := new(intake.Case)
	if err := json.Unmarshal(v, c); err != nil {
		return nil, fmt.Errorf("case record: %w", err)
	}
	return c, nil
}

// changeCase loads a case, lets f change it, bumps its Version, re-indexes and stores it.
func changeCase(tx *bolt.Tx, ref intake.Ref, f func(*intake.Case) error) (*intake.Case, error) {
	c, err := getCase(tx, ref)
	if err != nil {
		return nil, err
	}
	old := *c
	if err := f(c); err != nil {
		return nil, err
	}
	if c.Ref != ref {
		return nil, errRefChanged
	}
	c.Version = old.Version + 1
	return c, putCase(tx, &old, c)
}

var errRefChanged = errors.New("a case's reference cannot change")

// link records that the person with key has case ref, for Forget.
func link(tx *bolt.Tx, key intake.SessionKey, ref intake.Ref) error {
	if err := tx.Bucket(bucketCaseLinks).Put(append(strKey(string(key)), ref...), nil); err != nil {
		return err
	}
	return tx.Bucket(bucketCaseOwner).Put([]byte(ref), []byte(key))
}

// unlink removes the link between a case and its person.
func unlink(tx *bolt.Tx, ref intake.Ref) error {
	owners := tx.Bucket(bucketCaseOwner)
	key := owners.Get([]byte(ref))
	if key == nil {
		return nil
	}
	if err := tx.Bucket(bucketCaseLinks).Delete(append(strKey(string(key)), ref...)); err != nil {
		return err
	}
	return owners.Delete([]byte(ref))
}

// shredCase turns a case into its tombstone and records it in the audit log.
func shredCase(tx *bolt.Tx, ref intake.Ref, reason intake.Status, now time.Time, actor, action string) error {
	var from intake.Status
	if _, err := changeCase(tx, ref, func(c *intake.Case) error {
		from = c.Status
		c.Tombstone(reason, now)
		return nil
	}); err != nil {
		return err
	}
	if err := unlink(tx, ref); err != nil {
		return err
	}
	return appendAudit(tx, intake.AuditEntry{Time: now, Actor: actor, Action: action, Ref: ref, From: from, To: reason})
}

// forget shreds every case linked to key (the person's /forget), in Ref order.
func forget(tx *bolt.Tx, key intake.SessionKey, now time.Time) error {
	prefix := strKey(string(key))
	var refs []intake.Ref
	err := scanPrefix(tx.Bucket(bucketCaseLinks), prefix, func(k, _ []byte) (bool, error) {
		refs = append(refs, intake.Ref(k[len(prefix):]))
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, r := range refs {
		if err := shredCase(tx, r, intake.StatusWithdrawn, now, "person", "withdrawn"); err != nil {
			return fmt.Errorf("case %s: %w", r, err)
		}
	}
	return nil
}

// Case implements intake.Cases.
func (s *Store) Case(ctx context.Context, ref intake.Ref) (*intake.Case, error) {
	var c *intake.Case
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		c, err = getCase(tx, ref)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: case: %w", err)
	}
	return c, nil
}

// Cases implements intake.Cases.
func (s *Store) Cases(ctx context.Context) ([]intake.Ref, error) {
	var refs []intake.Ref
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCaseCreated).ForEach(func(k, _ []byte) error {
			if len(k) < timeLen {
				return errCorrupt
			}
			refs = append(refs, intake.Ref(k[timeLen:]))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: cases: %w", err)
	}
	return refs, nil
}

// ListCases implements intake.Cases. It walks the creation index between the filter's times and
// reads each case in that range.
func (s *Store) ListCases(ctx context.Context, f intake.CaseFilter) ([]*intake.Case, error) {
	limit := intake.ClampLimit(f.Limit)
	var out []*intake.Case
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketCaseCreated).Cursor()
		after, before := timeNanos(f.CreatedAfter), timeNanos(f.CreatedBefore)
		for k, _ := c.Seek(appendTime(nil, f.CreatedAfter)); k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) < timeLen {
				return errCorrupt
			}
			created := readInt(k[:timeLen])
			if !f.CreatedAfter.IsZero() && created <= after {
				continue
			}
			if !f.CreatedBefore.IsZero() && created >= before {
				break
			}
			cs, err := getCase(tx, intake.Ref(k[timeLen:]))
			if err != nil {
				return err
			}
			if (f.Team == "" || cs.Team == f.Team) && (f.Status == "" || cs.Status == f.Status) {
				out = append(out, cs)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: list cases: %w", err)
	}
	return out, nil
}

// UpdateCase implements intake.Cases. f runs inside the write transaction: it must not call the
// store.
func (s *Store) UpdateCase(ctx context.Context, ref intake.Ref, expect intake.Version, f func(*intake.Case) error, audit *intake.AuditEntry) error {
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error {
		_, err := changeCase(tx, ref, func(c *intake.Case) error {
			if expect != 0 && c.Version != expect {
				return intake.ErrConflict
			}
			return f(c)
		})
		if err != nil || audit == nil {
			return err
		}
		return appendAudit(tx, *audit)
	})
	if err != nil {
		return fmt.Errorf("boltstore: update case: %w", err)
	}
	return nil
}

// Shred implements intake.Cases, then compacts the file so no copy of the envelopes remains (see
// ErrNotCompacted).
func (s *Store) Shred(ctx context.Context, refs []intake.Ref, reason intake.Status, now time.Time) error {
	if len(refs) == 0 {
		return ctx.Err()
	}
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error {
		for _, ref := range refs {
			if err := shredCase(tx, ref, reason, now, "system", "shredded"); err != nil {
				return fmt.Errorf("case %s: %w", ref, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore: shred: %w", err)
	}
	if err := s.Compact(); err != nil {
		return fmt.Errorf("boltstore: shred: %w: %w", ErrNotCompacted, err)
	}
	return nil
}
