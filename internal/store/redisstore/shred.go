package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
)

// Shred implements intake.Cases: one script turns every case into a tombstone, takes it out of
// its queue, unlinks it from the person and appends one audit entry per case; then the server's
// persistence files are rewritten (scrubFiles) so that the deleted envelopes are in no file.
func (s *Store) Shred(ctx context.Context, refs []intake.Ref, reason intake.Status, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: shred: %w", err)
	}
	refs = slices.Compact(slices.Sorted(slices.Values(refs)))
	if len(refs) == 0 {
		return nil
	}
	err := retry(ctx, "shred", func() (bool, error) {
		sts, err := s.readCases(ctx, refs)
		if err != nil {
			return false, err
		}
		var (
			p       plan
			entries []intake.AuditEntry
		)
		for i, st := range sts {
			if st == nil {
				return false, fmt.Errorf("redisstore: shred: case %s: %w", refs[i], intake.ErrNotFound)
			}
			old := *st.c
			t := st.c
			t.Tombstone(reason, now)
			t.Version = old.Version + 1
			cp, err := s.writeCase(&p, t, &old, "")
			if err != nil {
				return false, err
			}
			if st.owner != "" {
				cp.Unlink = p.key(s.k.links(intake.SessionKey(st.owner)))
			}
			entries = append(entries, intake.AuditEntry{
				Time: now, Actor: "system", Action: "shredded", Ref: t.Ref, From: old.Status, To: reason,
			})
		}
		return s.applyCases(ctx, "shred", &p, entries, "")
	})
	if err != nil {
		return err
	}
	if err := s.scrubFiles(ctx); err != nil {
		return fmt.Errorf("redisstore: shred: %w: %v", ErrNotScrubbed, err)
	}
	return nil
}

// scrubPoll is how often scrubFiles looks whether a rewrite has finished.
const scrubPoll = 20 * time.Millisecond

// ErrNotScrubbed is returned (wrapped, with the rewrite's own error as text) by a Shred or a
// Forget commit whose change is applied but whose rewrite of the server's persistence files
// failed: copies of the shredded envelopes may remain in the AOF or RDB file until the next
// rewrite succeeds (every later Shred or Forget rewrites them, and Redis rewrites the AOF on its
// own as it grows). It is an intake.ErrNotCompacted: not a failure of the write, so callers must
// not retry it, and not intake.ErrUnavailable even when the server went away during the rewrite.
var ErrNotScrubbed = fmt.Errorf("%w: the Redis server's files are not rewritten yet", intake.ErrNotCompacted)

// errScrub marks a failed rewrite.
var errScrub = errors.New("rewrite failed")

// scrubFiles makes the server rewrite its persistence files after envelopes were deleted: an
// append-only file keeps every command ever written, an RDB snapshot the data of its time, so
// without a rewrite a deleted envelope could still be read from them. It starts an AOF rewrite
// (BGREWRITEAOF) when AOF is on and an RDB save (BGSAVE) when snapshots are configured, each
// after any rewrite already running (that one forked before the deletion), and waits for them.
// Redis 7 deletes the old AOF files when the rewrite is done. Out of its reach: replicas' own
// files (they rewrite on their own schedule), backups, and blocks the filesystem keeps.
func (s *Store) scrubFiles(ctx context.Context) error {
	if !s.scrub {
		return nil
	}
	node, err := s.ledgerNode(ctx)
	if err != nil {
		return err
	}
	info, err := persistenceInfo(ctx, node)
	if err != nil {
		return s.fail("scrub", err)
	}
	if info["aof_enabled"] == "1" {
		if err := s.rewrite(ctx, node, "aof"); err != nil {
			return err
		}
	}
	save, err := node.ConfigGet(ctx, "save").Result()
	if err == nil && strings.TrimSpace(save["save"]) != "" {
		if err := s.rewrite(ctx, node, "rdb"); err != nil {
			return err
		}
	}
	return nil
}

// ledgerNode is the server holding the ledger slot (in a Cluster, that slot's master).
func (s *Store) ledgerNode(ctx context.Context) (redis.UniversalClient, error) {
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		c, err := cc.MasterForKey(ctx, s.k.auditHead())
		if err != nil {
			return nil, s.fail("finding the ledger's master", err)
		}
		return c, nil
	}
	return s.rdb, nil
}

func persistenceInfo(ctx context.Context, node redis.Cmdable) (map[string]string, error) {
	text, err := node.Info(ctx, "persistence").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for line := range strings.SplitSeq(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out, nil
}

// rewrite starts an AOF rewrite ("aof") or an RDB save ("rdb") that begins after now, and waits
// until it has finished well.
func (s *Store) rewrite(ctx context.Context, node redis.UniversalClient, kind string) error {
	busy, status := "aof_rewrite_in_progress", "aof_last_bgrewrite_status"
	start := func() error { return node.BgRewriteAOF(ctx).Err() }
	if kind == "rdb" {
		busy, status = "rdb_bgsave_in_progress", "rdb_last_bgsave_status"
		start = func() error { return node.Do(ctx, "BGSAVE", "SCHEDULE").Err() }
	}
	t := time.NewTicker(scrubPoll)
	defer t.Stop()
	wait := func() (map[string]string, error) {
		for {
			info, err := persistenceInfo(ctx, node)
			if err != nil {
				return nil, s.fail("scrub", err)
			}
			if info[busy] == "0" && info["aof_rewrite_scheduled"] != "1" && info["rdb_bgsave_in_progress"] == "0" {
				return info, nil
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("redisstore: scrub: %w", ctx.Err())
			case <-t.C:
			}
		}
	}
	for {
		err := start()
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "in progress") {
			return fmt.Errorf("redisstore: %w: %s: %w", errScrub, kind, err)
		}
		// One is running, forked before our change: let it end, then start ours.
		if _, err := wait(); err != nil {
			return err
		}
	}
	info, err := wait()
	if err != nil {
		return err
	}
	if info[status] != "ok" {
		return fmt.Errorf("redisstore: %w: %s ended with status %s", errScrub, kind, strconv.Quote(info[status]))
	}
	return nil
}
