package boltstore

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/penahbot/penah/internal/intake"
)

// Queue implements intake.Queues: the team's part of case_queue is already in order.
func (s *Store) Queue(ctx context.Context, team string, limit int) ([]*intake.Case, error) {
	limit = intake.ClampLimit(limit)
	var out []*intake.Case
	err := s.view(ctx, func(tx *bolt.Tx) error {
		prefix := queuePrefix(team)
		const rest = 1 + timeLen // priority, created
		return scanPrefix(tx.Bucket(bucketCaseQueue), prefix, func(k, _ []byte) (bool, error) {
			if len(k) < len(prefix)+rest {
				return false, errCorrupt
			}
			c, err := getCase(tx, intake.Ref(k[len(prefix)+rest:]))
			if err != nil {
				return false, err
			}
			out = append(out, c)
			return len(out) < limit, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: queue: %w", err)
	}
	return out, nil
}

// Claim implements intake.Queues. bbolt has one writer at a time, so of two claims the second
// sees the first's result.
func (s *Store) Claim(ctx context.Context, ref intake.Ref, officer string, now time.Time) (*intake.Case, error) {
	var out *intake.Case
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error {
		c, err := getCase(tx, ref)
		if err != nil {
			return err
		}
		if c.Status == intake.StatusClaimed {
			if c.ClaimedBy == officer {
				out = c
				return nil
			}
			return &intake.ClaimedError{By: c.ClaimedBy}
		}
		if !c.Unclaimed() {
			return fmt.Errorf("%w: the case is %s", intake.ErrConflict, c.Status)
		}
		from := c.Status
		out, err = changeCase(tx, ref, func(c *intake.Case) error {
			c.Status, c.ClaimedBy, c.Claimed = intake.StatusClaimed, officer, now
			return nil
		})
		if err != nil {
			return err
		}
		return appendAudit(tx, intake.AuditEntry{Time: now, Actor: officer, Action: "claimed", Ref: ref, From: from, To: intake.StatusClaimed})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: claim: %w", err)
	}
	return out, nil
}

// Release implements intake.Queues.
func (s *Store) Release(ctx context.Context, ref intake.Ref, officer string, now time.Time) error {
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error {
		c, err := getCase(tx, ref)
		if err != nil {
			return err
		}
		if c.Status != intake.StatusClaimed {
			return fmt.Errorf("%w: the case is %s", intake.ErrConflict, c.Status)
		}
		if c.ClaimedBy != officer {
			return &intake.ClaimedError{By: c.ClaimedBy}
		}
		to := intake.StatusQueued
		if c.Escalation > 0 {
			to = intake.StatusEscalated
		}
		if _, err := changeCase(tx, ref, func(c *intake.Case) error {
			c.Status, c.ClaimedBy, c.Claimed = to, "", time.Time{}
			return nil
		}); err != nil {
			return err
		}
		return appendAudit(tx, intake.AuditEntry{Time: now, Actor: officer, Action: "released", Ref: ref, From: intake.StatusClaimed, To: to})
	})
	if err != nil {
		return fmt.Errorf("boltstore: release: %w", err)
	}
	return nil
}

// Overdue implements intake.Queues: case_deadline holds only unclaimed cases with a deadline,
// earliest first.
func (s *Store) Overdue(ctx context.Context, now time.Time, limit int) ([]*intake.Case, error) {
	limit = intake.ClampLimit(limit)
	var out []*intake.Case
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketCaseDeadline).Cursor()
		end := timeNanos(now)
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) < timeLen {
				return errCorrupt
			}
			if readInt(k[:timeLen]) > end {
				break
			}
			cs, err := getCase(tx, intake.Ref(k[timeLen:]))
			if err != nil {
				return err
			}
			out = append(out, cs)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: overdue: %w", err)
	}
	return out, nil
}

// Escalate implements intake.Queues.
func (s *Store) Escalate(ctx context.Context, ref intake.Ref, level int, now time.Time) (bool, error) {
	raised := false
	err := s.update(ctx, func(tx *bolt.Tx, _ time.Time) error {
		c, err := getCase(tx, ref)
		if err != nil {
			return err
		}
		if (!c.Unclaimed() && c.Status != intake.StatusClaimed) || level <= c.Escalation {
			return nil
		}
		from, to := c.Status, c.Status
		if c.Unclaimed() {
			to = intake.StatusEscalated
		}
		if _, err := changeCase(tx, ref, func(c *intake.Case) error {
			c.Escalation, c.Status = level, to
			return nil
		}); err != nil {
			return err
		}
		raised = true
		return appendAudit(tx, intake.AuditEntry{Time: now, Actor: "system", Action: "escalated", Ref: ref, From: from, To: to, Reason: fmt.Sprintf("level %d", level)})
	})
	if err != nil {
		return false, fmt.Errorf("boltstore: escalate: %w", err)
	}
	return raised, nil
}
