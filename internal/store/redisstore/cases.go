package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
)

// stored is a case as read, with what the next write of it needs.
type stored struct {
	c     *intake.Case
	owner string // the session key it is linked to ("" once shredded)
}

// caseFields are the fields of a case record that readers need.
var caseFields = []string{"doc", "owner"}

func decodeCase(ref intake.Ref, vals []any) (*stored, error) {
	doc, ok := vals[0].(string)
	if !ok {
		return nil, nil
	}
	c := new(intake.Case)
	if err := json.Unmarshal([]byte(doc), c); err != nil {
		return nil, fmt.Errorf("redisstore: case %s does not decode: %w", ref, err)
	}
	owner, _ := vals[1].(string)
	return &stored{c: c, owner: owner}, nil
}

// readCases reads cases by reference in one round trip; a missing case is nil.
func (s *Store) readCases(ctx context.Context, refs []intake.Ref) ([]*stored, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(refs))
	for i, r := range refs {
		cmds[i] = pipe.HMGet(ctx, s.k.caseRecord(r), caseFields...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, s.fail("reading cases", err)
	}
	out := make([]*stored, len(refs))
	for i, cmd := range cmds {
		st, err := decodeCase(refs[i], cmd.Val())
		if err != nil {
			return nil, err
		}
		out[i] = st
	}
	return out, nil
}

func (s *Store) readCase(ctx context.Context, ref intake.Ref) (*stored, error) {
	cs, err := s.readCases(ctx, []intake.Ref{ref})
	if err != nil {
		return nil, err
	}
	if cs[0] == nil {
		return nil, fmt.Errorf("redisstore: case %s: %w", ref, intake.ErrNotFound)
	}
	return cs[0], nil
}

// casesOf reads refs and keeps the cases that exist, in order.
func (s *Store) casesOf(ctx context.Context, refs []intake.Ref) ([]*intake.Case, error) {
	sts, err := s.readCases(ctx, refs)
	if err != nil {
		return nil, err
	}
	out := make([]*intake.Case, 0, len(sts))
	for _, st := range sts {
		if st != nil {
			out = append(out, st.c)
		}
	}
	return out, nil
}

// writeCase adds to p the write of c, whose Version the caller has already raised. old is the
// case as read (nil for a new case); owner is the session key it stays linked to.
func (s *Store) writeCase(p *plan, c *intake.Case, old *intake.Case, owner string) (*casePlan, error) {
	for _, id := range []string{string(c.Ref), c.Team, string(c.Status), c.ClaimedBy, owner} {
		if !textOK(id) {
			return nil, fmt.Errorf("redisstore: case: %w", errBadText)
		}
	}
	if c.Ref == "" {
		return nil, errors.New("redisstore: a case needs a reference")
	}
	doc, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("redisstore: encoding case %s: %w", c.Ref, err)
	}
	cp := &casePlan{
		K: p.key(s.k.caseRecord(c.Ref)), Ref: string(c.Ref), Expect: "0",
		Doc: p.blob(doc), V: u64(uint64(c.Version)), St: string(c.Status), Team: c.Team,
		By: c.ClaimedBy, Esc: strconv.Itoa(c.Escalation), Owner: owner, CM: createdMember(c),
		All: p.key(s.k.casesAll()), TNew: p.key(s.k.casesByTeam(c.Team)),
		SNew: p.key(s.k.casesByStatus(c.Status)), QNew: p.key(s.k.queue(c.Team)),
		OV: p.key(s.k.overdue()),
	}
	if c.Unclaimed() {
		cp.QM = queueMember(c)
		if !c.Deadline.IsZero() {
			cp.OM = overdueMember(c)
		}
	}
	if old != nil {
		cp.Expect = u64(uint64(old.Version))
		cp.TOld = p.key(s.k.casesByTeam(old.Team))
		cp.SOld = p.key(s.k.casesByStatus(old.Status))
		cp.QOld = p.key(s.k.queue(old.Team))
	}
	p.Cases = append(p.Cases, cp)
	return cp, nil
}

// caseReply turns a refusal of a case write into an error; stale is reported apart.
func caseReply(ref intake.Ref, res []string) (stale bool, err error) {
	switch res[0] {
	case replyOK:
		return false, nil
	case replyStale:
		return true, nil
	case replyNotFound:
		return false, fmt.Errorf("redisstore: case %s: %w", ref, intake.ErrNotFound)
	case replyExists:
		return false, fmt.Errorf("redisstore: case %s exists: %w", ref, intake.ErrConflict)
	case replyClaimed, replyNotClaimant:
		return false, claimedErr(ref, res[1], intake.Status(res[2]))
	}
	return false, fmt.Errorf("redisstore: case %s: unexpected reply %q", ref, res[0])
}

// claimedErr is the error for a case that is not (or not any more) in the state a claim or
// release expected: held by someone is *intake.ClaimedError, anything else is a conflict.
func claimedErr(ref intake.Ref, by string, st intake.Status) error {
	if st == intake.StatusClaimed && by != "" {
		return &intake.ClaimedError{By: by}
	}
	return fmt.Errorf("redisstore: case %s is %s: %w", ref, st, intake.ErrConflict)
}

// Case implements intake.Cases.
func (s *Store) Case(ctx context.Context, ref intake.Ref) (*intake.Case, error) {
	st, err := s.readCase(ctx, ref)
	if err != nil {
		return nil, err
	}
	return st.c, nil
}

// casesPage bounds one read of an index.
const casesPage = 1000

// Cases implements intake.Cases: every reference, oldest first (tombstones too).
func (s *Store) Cases(ctx context.Context) ([]intake.Ref, error) {
	var out []intake.Ref
	for off := int64(0); ; off += casesPage {
		ms, err := s.rdb.ZRangeByLex(ctx, s.k.casesAll(), &redis.ZRangeBy{Min: "-", Max: "+", Offset: off, Count: casesPage}).Result()
		if err != nil {
			return nil, s.fail("listing cases", err)
		}
		for _, m := range ms {
			out = append(out, refOfMember(m))
		}
		if len(ms) < casesPage {
			return out, nil
		}
	}
}

// ListCases implements intake.Cases. It walks the narrowest index the filter allows (team, else
// status, else all) between the creation bounds, and filters the rest in Go.
func (s *Store) ListCases(ctx context.Context, f intake.CaseFilter) ([]*intake.Case, error) {
	limit := intake.ClampLimit(f.Limit)
	idx := s.k.casesAll()
	switch {
	case f.Team != "":
		idx = s.k.casesByTeam(f.Team)
	case f.Status != "":
		idx = s.k.casesByStatus(f.Status)
	}
	lo, hi := "-", "+"
	if !f.CreatedAfter.IsZero() {
		// Exclusive: past every member of that instant ("<time>|<ref>" < "<time>|\xff").
		lo = "(" + encTime(f.CreatedAfter) + memberSep + "\xff"
	}
	if !f.CreatedBefore.IsZero() {
		hi = "(" + encTime(f.CreatedBefore)
	}
	var out []*intake.Case
	for off := int64(0); ; off += casesPage {
		ms, err := s.rdb.ZRangeByLex(ctx, idx, &redis.ZRangeBy{Min: lo, Max: hi, Offset: off, Count: casesPage}).Result()
		if err != nil {
			return nil, s.fail("listing cases", err)
		}
		refs := make([]intake.Ref, len(ms))
		for i, m := range ms {
			refs[i] = refOfMember(m)
		}
		cs, err := s.casesOf(ctx, refs)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if (f.Team != "" && c.Team != f.Team) || (f.Status != "" && c.Status != f.Status) {
				continue
			}
			out = append(out, c)
			if len(out) == limit {
				return out, nil
			}
		}
		if len(ms) < casesPage {
			return out, nil
		}
	}
}

// UpdateCase implements intake.Cases.
func (s *Store) UpdateCase(ctx context.Context, ref intake.Ref, expect intake.Version, f func(*intake.Case) error, audit *intake.AuditEntry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: update case: %w", err)
	}
	return retry(ctx, "update case", func() (bool, error) {
		st, err := s.readCase(ctx, ref)
		if err != nil {
			return false, err
		}
		c := st.c
		if expect != 0 && c.Version != expect {
			return false, fmt.Errorf("redisstore: case %s is at version %d, not %d: %w", ref, c.Version, expect, intake.ErrConflict)
		}
		old := *c // f gets c, freshly decoded; old keeps what the indexes hold
		if err := f(c); err != nil {
			return false, err
		}
		if c.Ref != ref {
			return false, fmt.Errorf("redisstore: case %s: an update may not change the reference", ref)
		}
		c.Version = old.Version + 1
		var p plan
		if _, err := s.writeCase(&p, c, &old, st.owner); err != nil {
			return false, err
		}
		var entries []intake.AuditEntry
		if audit != nil {
			entries = []intake.AuditEntry{*audit}
		}
		return s.applyCases(ctx, "update case", &p, entries, ref)
	})
}

// applyCases applies p, a plan of case writes, with entries appended to the audit chain; it
// reports done false when a case or the chain moved and the caller must read again.
func (s *Store) applyCases(ctx context.Context, op string, p *plan, entries []intake.AuditEntry, ref intake.Ref) (bool, error) {
	p.entries = append(p.entries, entries...)
	res, err := s.apply(ctx, op, p)
	if err != nil {
		return false, err
	}
	stale, err := caseReply(ref, res)
	return !stale, err
}
