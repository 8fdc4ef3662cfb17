package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/penahbot/penah/internal/intake"
)

// LoadSession implements intake.Sessions.
func (s *Store) LoadSession(ctx context.Context, key intake.SessionKey) ([]byte, intake.Version, error) {
	vals, err := s.rdb.HMGet(ctx, s.k.session(key), "v", "b").Result()
	if err != nil {
		return nil, 0, s.fail("load session", err)
	}
	vt, ok := vals[0].(string)
	if !ok {
		return nil, 0, nil
	}
	v, err := strconv.ParseUint(vt, 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("redisstore: session version %q: %w", vt, err)
	}
	b, _ := vals[1].(string)
	return []byte(b), intake.Version(v), nil
}

// Commit implements intake.Sessions: one run of scripts/apply.lua writes the session, marks the
// update done, creates the case in its queue, enqueues the outbox and appends the audit entries,
// or writes nothing. It reads first only when the turn appends audit entries (the chain's head)
// or forgets (the person's cases); those reads are confirmed by the script, and read again when
// another writer moved them. After a Forget the server's files are rewritten, so that neither the
// shredded cases nor the person's deleted session remain in them (see ErrNotScrubbed).
func (s *Store) Commit(ctx context.Context, c intake.Commit) (intake.Version, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: commit: %w", err)
	}
	if !textOK(string(c.Key)) {
		return 0, fmt.Errorf("redisstore: commit: session key: %w", errBadText)
	}
	var (
		version intake.Version
		forgot  bool
	)
	err := retry(ctx, "commit", func() (bool, error) {
		p, err := s.commitPlan(ctx, c)
		if err != nil {
			return false, err
		}
		res, err := s.apply(ctx, "commit", p)
		if err != nil {
			return false, err
		}
		switch res[0] {
		case replyOK:
			v, err := strconv.ParseUint(res[1], 10, 64)
			if err != nil {
				return false, fmt.Errorf("redisstore: commit: version %q: %w", res[1], err)
			}
			version, forgot = intake.Version(v), c.Forget
			return true, nil
		case replyStale:
			return false, nil
		case replyConflict:
			if res[1] == "done" {
				return false, fmt.Errorf("redisstore: commit: update %d is not pending in this chat: %w", c.Done, intake.ErrConflict)
			}
			return false, fmt.Errorf("redisstore: commit: session moved: %w", intake.ErrConflict)
		case replyDupID:
			return false, fmt.Errorf("redisstore: commit: an outbox id is already in use: %w", intake.ErrConflict)
		}
		ref := intake.Ref("")
		if c.NewCase != nil {
			ref = c.NewCase.Ref
		}
		_, err = caseReply(ref, res)
		if err == nil {
			err = fmt.Errorf("redisstore: commit: unexpected reply %q", res[0])
		}
		return false, err
	})
	if err != nil {
		return 0, err
	}
	if forgot {
		if err := s.scrubFiles(ctx); err != nil {
			return version, fmt.Errorf("redisstore: commit: %w: %v", ErrNotScrubbed, err)
		}
	}
	return version, nil
}

// commitPlan builds the plan of one commit attempt.
func (s *Store) commitPlan(ctx context.Context, c intake.Commit) (*plan, error) {
	p := new(plan)
	sp := &sessPlan{K: p.key(s.k.session(c.Key)), Expect: u64(uint64(c.Expect)), TTL: "0"}
	if c.Session != nil {
		sp.Data = p.blob(c.Session)
		if c.SessionTTL > 0 {
			sp.TTL = strconv.FormatInt(max(c.SessionTTL.Milliseconds(), 1), 10)
		}
	}
	p.Sess = sp
	if c.Done != 0 {
		p.Done = &donePlan{
			Q: p.key(s.k.inboxQueue(c.Key)), B: p.key(s.k.inboxBodies(c.Key)),
			Chats: p.key(s.k.inboxChats()), Chat: string(c.Key), ID: strconv.FormatInt(c.Done, 10),
		}
	}
	if nc := c.NewCase; nc != nil {
		n := *nc
		n.Version = 1
		cp, err := s.writeCase(p, &n, nil, string(c.Key))
		if err != nil {
			return nil, err
		}
		cp.Link = p.key(s.k.links(c.Key))
	}
	entries := c.Audit
	if c.Forget {
		more, err := s.forgetPlan(ctx, p, c)
		if err != nil {
			return nil, err
		}
		// The withdrawals come first: they are what the person asked for; the turn's own
		// entries follow.
		entries = append(more, entries...)
	}
	if len(c.Outbox) > 0 {
		op := &outPlan{
			Msg: p.key(s.k.outboxMessages()), Seq: p.key(s.k.outboxSeq()),
			Due: p.key(s.k.outboxDue()), Head: p.key(s.k.outboxHeads()),
		}
		seen := map[intake.OutboxID]bool{}
		for _, m := range c.Outbox {
			if !textOK(string(m.ID)) || !textOK(string(m.Chat)) {
				return nil, fmt.Errorf("redisstore: commit: outbox message: %w", errBadText)
			}
			if seen[m.ID] {
				return nil, fmt.Errorf("redisstore: commit: outbox id used twice: %w", intake.ErrConflict)
			}
			seen[m.ID] = true
			doc, err := json.Marshal(newOutboxDoc(m))
			if err != nil {
				return nil, fmt.Errorf("redisstore: commit: encoding an outbox message: %w", err)
			}
			op.Items = append(op.Items, &outItem{
				ID: string(m.ID), Chat: string(m.Chat), Q: p.key(s.k.outboxQueue(m.Chat)), Doc: p.blob(doc),
			})
		}
		p.Out = op
	}
	p.entries = entries
	return p, nil
}

// forgetPlan adds to p the shredding of every case linked to c.Key, each unlinked on its own (a
// case created by the same commit stays linked), and returns their audit entries. The links are
// confirmed by the session's version: only a commit of this key adds one.
func (s *Store) forgetPlan(ctx context.Context, p *plan, c intake.Commit) ([]intake.AuditEntry, error) {
	members, err := s.rdb.SMembers(ctx, s.k.links(c.Key)).Result()
	if err != nil {
		return nil, s.fail("commit: reading the person's cases", err)
	}
	refs := make([]intake.Ref, len(members))
	for i, m := range members {
		refs[i] = intake.Ref(m)
	}
	sts, err := s.readCases(ctx, refs)
	if err != nil {
		return nil, err
	}
	// Oldest case first, as they were created.
	sts = slices.DeleteFunc(sts, func(st *stored) bool { return st == nil })
	slices.SortFunc(sts, func(a, b *stored) int {
		return cmp.Or(a.c.Created.Compare(b.c.Created), strings.Compare(string(a.c.Ref), string(b.c.Ref)))
	})
	var entries []intake.AuditEntry
	for _, st := range sts {
		old := *st.c
		t := st.c
		t.Tombstone(intake.StatusWithdrawn, c.Now)
		t.Version = old.Version + 1
		cp, err := s.writeCase(p, t, &old, "")
		if err != nil {
			return nil, err
		}
		cp.Unlink = p.key(s.k.links(c.Key))
		entries = append(entries, intake.AuditEntry{
			Time: c.Now, Actor: "person", Action: "withdrawn", Ref: t.Ref, From: old.Status, To: intake.StatusWithdrawn,
		})
	}
	return entries, nil
}
