package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
)

// The audit chain lives in two keys of the ledger slot: a hash seq -> entry (JSON) and a head
// {seq, hash} of the last entry. Redis' Lua has no SHA-256, so a writer links and hashes its
// entries in Go (intake.AuditEntry.Link) after the head it knows, and hands them to
// scripts/apply.lua together with the change they record; the script appends them only if the
// head is still that one (compare-and-set on seq), else it writes nothing at all and the writer
// reads the head again (Store.apply).
// The chain therefore never forks and never has a gap, and an entry is never written without
// its change, nor a change without its entry.

// auditHead is the last entry of the chain as this process last saw it.
type auditHead struct {
	known bool
	seq   uint64
	hash  []byte
}

// auditCursor serialises this process's audit appends and remembers the chain's head between
// them, so that an append costs one round trip and this process's writers never race each
// other; writers of other processes still can, and the script's compare-and-set settles those.
type auditCursor struct {
	mu   sync.Mutex
	head auditHead
}

// readAuditHead reads the chain's head from the server.
func (s *Store) readAuditHead(ctx context.Context) (auditHead, error) {
	vals, err := s.rdb.HMGet(ctx, s.k.auditHead(), "seq", "hash").Result()
	if err != nil {
		return auditHead{}, s.fail("reading the audit head", err)
	}
	h := auditHead{known: true}
	if seqText, ok := vals[0].(string); ok {
		if h.seq, err = strconv.ParseUint(seqText, 10, 64); err != nil {
			return auditHead{}, fmt.Errorf("redisstore: audit head seq %q: %w", seqText, err)
		}
		hash, _ := vals[1].(string)
		h.hash = []byte(hash)
	}
	return h, nil
}

// linkAudit links p's audit entries after head and adds them to p; it returns the new head.
func (s *Store) linkAudit(p *plan, head auditHead) (auditHead, error) {
	var prev *intake.AuditEntry
	if head.seq > 0 {
		prev = &intake.AuditEntry{Seq: head.seq, Hash: head.hash}
	}
	ap := &auditPlan{Head: p.key(s.k.auditHead()), Log: p.key(s.k.auditLog()), After: u64(head.seq)}
	for _, e := range p.entries {
		e.Link(prev)
		doc, err := json.Marshal(&e)
		if err != nil {
			return head, fmt.Errorf("redisstore: encoding an audit entry: %w", err)
		}
		ap.Items = append(ap.Items, &auditItem{Seq: u64(e.Seq), Doc: p.blob(doc), Hash: p.blob(e.Hash)})
		prev = &e
	}
	p.Audit = ap
	return auditHead{known: true, seq: prev.Seq, hash: prev.Hash}, nil
}

// AppendAudit implements intake.Audit.
func (s *Store) AppendAudit(ctx context.Context, e intake.AuditEntry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: append audit: %w", err)
	}
	return retry(ctx, "append audit", func() (bool, error) {
		p := plan{entries: []intake.AuditEntry{e}}
		res, err := s.apply(ctx, "append audit", &p)
		if err != nil {
			return false, err
		}
		switch res[0] {
		case replyOK:
			return true, nil
		case replyStale:
			return false, nil
		}
		return false, fmt.Errorf("redisstore: append audit: unexpected reply %q", res[0])
	})
}

// AuditEntries implements intake.Audit. An entry missing below the head (deleted behind the
// store's back) is reported as intake.ErrAuditBroken rather than skipped, so that VerifyAudit
// cannot be fooled by a gap or a cut end.
func (s *Store) AuditEntries(ctx context.Context, after uint64, limit int) ([]intake.AuditEntry, error) {
	limit = intake.ClampLimit(limit)
	fields := make([]string, limit)
	for i := range fields {
		fields[i] = u64(after + 1 + uint64(i))
	}
	pipe := s.rdb.Pipeline()
	headCmd := pipe.HGet(ctx, s.k.auditHead(), "seq")
	logCmd := pipe.HMGet(ctx, s.k.auditLog(), fields...)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, s.fail("reading the audit log", err)
	}
	head, _ := strconv.ParseUint(headCmd.Val(), 10, 64)
	var out []intake.AuditEntry
	for i, v := range logCmd.Val() {
		seq := after + 1 + uint64(i)
		doc, ok := v.(string)
		if !ok {
			if seq <= head {
				return out, fmt.Errorf("redisstore: %w: entry %d is missing", intake.ErrAuditBroken, seq)
			}
			break
		}
		var e intake.AuditEntry
		if err := json.Unmarshal([]byte(doc), &e); err != nil {
			return out, fmt.Errorf("redisstore: %w: entry %d does not decode: %w", intake.ErrAuditBroken, seq, err)
		}
		out = append(out, e)
	}
	return out, nil
}
