package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
)

// Audit actions of the queue operations.
const (
	ActionClaimed   = "claimed"
	ActionReleased  = "released"
	ActionEscalated = "escalated"
)

// refsByLex reads up to limit references from a lexicographic index between lo and hi.
func (s *Store) refsByLex(ctx context.Context, op, key, lo, hi string, limit int) ([]intake.Ref, error) {
	ms, err := s.rdb.ZRangeByLex(ctx, key, &redis.ZRangeBy{Min: lo, Max: hi, Count: int64(limit)}).Result()
	if err != nil {
		return nil, s.fail(op, err)
	}
	refs := make([]intake.Ref, len(ms))
	for i, m := range ms {
		refs[i] = refOfMember(m)
	}
	return refs, nil
}

// unclaimedOf reads refs and keeps the cases still unclaimed (an index read and a case read are
// two steps; a claim may come between them).
func (s *Store) unclaimedOf(ctx context.Context, refs []intake.Ref) ([]*intake.Case, error) {
	cs, err := s.casesOf(ctx, refs)
	if err != nil {
		return nil, err
	}
	out := cs[:0]
	for _, c := range cs {
		if c.Unclaimed() {
			out = append(out, c)
		}
	}
	return out, nil
}

// Queue implements intake.Queues.
func (s *Store) Queue(ctx context.Context, team string, limit int) ([]*intake.Case, error) {
	refs, err := s.refsByLex(ctx, "queue", s.k.queue(team), "-", "+", intake.ClampLimit(limit))
	if err != nil {
		return nil, err
	}
	return s.unclaimedOf(ctx, refs)
}

// Overdue implements intake.Queues: unclaimed cases whose deadline is at or before now, the most
// overdue first.
func (s *Store) Overdue(ctx context.Context, now time.Time, limit int) ([]*intake.Case, error) {
	// Every member of an instant at or before now sorts below the encoding of now + 1 ns.
	refs, err := s.refsByLex(ctx, "overdue", s.k.overdue(), "-", "("+encTime(now.Add(time.Nanosecond)), intake.ClampLimit(limit))
	if err != nil {
		return nil, err
	}
	return s.unclaimedOf(ctx, refs)
}

// Claim implements intake.Queues. The script checks, at the moment it runs, that the case is
// still unclaimed: of racing officers exactly one changes it, the others get the winner's name
// in an *intake.ClaimedError.
func (s *Store) Claim(ctx context.Context, ref intake.Ref, officer string, now time.Time) (*intake.Case, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: claim: %w", err)
	}
	var claimed *intake.Case
	err := retry(ctx, "claim", func() (bool, error) {
		st, err := s.readCase(ctx, ref)
		if err != nil {
			return false, err
		}
		c := st.c
		if c.Status == intake.StatusClaimed && c.ClaimedBy == officer {
			claimed = c // claiming again what one holds changes nothing
			return true, nil
		}
		if !c.Unclaimed() {
			return false, claimedErr(ref, c.ClaimedBy, c.Status)
		}
		old := *c
		c.Status, c.ClaimedBy, c.Claimed, c.Version = intake.StatusClaimed, officer, now, old.Version+1
		var p plan
		cp, err := s.writeCase(&p, c, &old, st.owner)
		if err != nil {
			return false, err
		}
		cp.Guard = guardUnclaimed
		entry := intake.AuditEntry{Time: now, Actor: officer, Action: ActionClaimed, Ref: ref, From: old.Status, To: c.Status}
		done, err := s.applyCases(ctx, "claim", &p, []intake.AuditEntry{entry}, ref)
		if done && err == nil {
			claimed = c
		}
		return done, err
	})
	return claimed, err
}

// Release implements intake.Queues: the case goes back to its queue, escalated if it had been.
func (s *Store) Release(ctx context.Context, ref intake.Ref, officer string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: release: %w", err)
	}
	return retry(ctx, "release", func() (bool, error) {
		st, err := s.readCase(ctx, ref)
		if err != nil {
			return false, err
		}
		c := st.c
		if c.Status != intake.StatusClaimed || c.ClaimedBy != officer {
			return false, claimedErr(ref, c.ClaimedBy, c.Status)
		}
		old := *c
		c.Status = intake.StatusQueued
		if c.Escalation > 0 {
			c.Status = intake.StatusEscalated
		}
		c.ClaimedBy, c.Claimed, c.Version = "", time.Time{}, old.Version+1
		var p plan
		cp, err := s.writeCase(&p, c, &old, st.owner)
		if err != nil {
			return false, err
		}
		cp.Guard, cp.ByWas = guardClaimant, officer
		entry := intake.AuditEntry{Time: now, Actor: officer, Action: ActionReleased, Ref: ref, From: old.Status, To: c.Status}
		return s.applyCases(ctx, "release", &p, []intake.AuditEntry{entry}, ref)
	})
}

// Escalate implements intake.Queues. The script raises the level only if the stored one is
// lower (set-if-greater), so of racing schedulers one reports true. A queued case becomes
// escalated, a claimed one stays claimed; a closed or shredded case is not escalated.
func (s *Store) Escalate(ctx context.Context, ref intake.Ref, level int, now time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("redisstore: escalate: %w", err)
	}
	raised := false
	err := retry(ctx, "escalate", func() (bool, error) {
		st, err := s.readCase(ctx, ref)
		if err != nil {
			return false, err
		}
		c := st.c
		if c.Escalation >= level || !(c.Unclaimed() || c.Status == intake.StatusClaimed) {
			return true, nil
		}
		old := *c
		c.Escalation, c.Version = level, old.Version+1
		if c.Status == intake.StatusQueued {
			c.Status = intake.StatusEscalated
		}
		var p plan
		cp, err := s.writeCase(&p, c, &old, st.owner)
		if err != nil {
			return false, err
		}
		cp.Guard = guardRaise
		entry := intake.AuditEntry{
			Time: now, Actor: "system", Action: ActionEscalated, Ref: ref, From: old.Status, To: c.Status,
			Reason: fmt.Sprintf("level %d", level),
		}
		p.entries = []intake.AuditEntry{entry}
		res, err := s.apply(ctx, "escalate", &p)
		if err != nil {
			return false, err
		}
		if res[0] == replyNoop {
			return true, nil
		}
		stale, err := caseReply(ref, res)
		raised = !stale && err == nil
		return !stale, err
	})
	return raised, err
}
