package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/penahbot/penah/internal/intake"
)

// RecommendedFsync is the appendfsync setting under which a write Redis acknowledged survives a
// crash of the server or the machine: Penah acknowledges an update to Telegram only once it is
// stored.
const RecommendedFsync = "always"

// Report is what Check finds: for `penah store check`.
type Report struct {
	Mode          string   // ModeSingle, ModeSentinel or ModeCluster
	Addrs         []string // the addresses Open was given
	TLS           bool
	ServerVersion string
	// MaxmemoryPolicy is the eviction policy ("" when CONFIG GET is refused); EvictionOK is
	// true only for noeviction.
	MaxmemoryPolicy string
	EvictionOK      bool
	// AppendOnly and AppendFsync are the AOF settings ("" when CONFIG GET is refused); Durable
	// is true for appendonly yes with appendfsync always.
	AppendOnly  string
	AppendFsync string
	Durable     bool
	// Advice lists what to change, in words for an operator.
	Advice []string
	Counts Counts
}

// Counts are the numbers of stored records.
type Counts struct {
	Cases        int64 // every case, tombstones included
	Unclaimed    int64 // queued or escalated
	PendingChats int64 // chats with updates waiting
	Outbox       int64 // messages waiting to be sent
	AuditEntries int64
	KeyRecords   int64
}

// Check reports the server's settings as they matter to Penah, and the record counts.
func (s *Store) Check(ctx context.Context) (Report, error) {
	r := Report{Mode: s.mode, Addrs: s.addrs, TLS: s.tlsUsed}
	node, err := s.ledgerNode(ctx)
	if err != nil {
		return r, err
	}
	info, err := node.Info(ctx, "server").Result()
	if err != nil {
		return r, s.fail("check", err)
	}
	r.ServerVersion = infoField(info, "redis_version")
	conf := map[string]string{}
	configOK := true
	for _, name := range []string{"maxmemory-policy", "appendonly", "appendfsync"} {
		vals, err := s.configGet(ctx, name)
		if err != nil {
			if isUnavailable(err) {
				return r, s.fail("check", err)
			}
			configOK = false
			break
		}
		conf[name] = vals[0]
		for _, v := range vals[1:] {
			if v != vals[0] {
				conf[name] = fmt.Sprintf("%s (differs between masters)", vals[0])
			}
		}
	}
	r.MaxmemoryPolicy, r.AppendOnly, r.AppendFsync = conf["maxmemory-policy"], conf["appendonly"], conf["appendfsync"]
	r.EvictionOK = r.MaxmemoryPolicy == RequiredEvictionPolicy
	r.Durable = r.AppendOnly == "yes" && r.AppendFsync == RecommendedFsync
	switch {
	case !configOK:
		r.Advice = append(r.Advice, "CONFIG GET is refused: check by hand that maxmemory-policy is noeviction and that AOF is on with appendfsync always")
	default:
		if !r.EvictionOK {
			r.Advice = append(r.Advice, "set maxmemory-policy noeviction: any other policy lets Redis delete reports when memory runs out")
		}
		if r.AppendOnly != "yes" {
			r.Advice = append(r.Advice, "set appendonly yes: without the AOF, a crash loses everything since the last snapshot")
		} else if r.AppendFsync != RecommendedFsync {
			r.Advice = append(r.Advice, "set appendfsync always: with "+strconv.Quote(r.AppendFsync)+", a crash can lose writes Penah already acknowledged to Telegram")
		}
	}
	if s.mode == ModeCluster {
		r.Advice = append(r.Advice, "Redis Cluster: all of Penah's records share one hash slot, so one master carries them; Cluster gives failover here, not more capacity (Sentinel does the same with less)")
	}
	pipe := s.rdb.Pipeline()
	cases := pipe.ZCard(ctx, s.k.casesAll())
	queued := pipe.ZCard(ctx, s.k.casesByStatus(intake.StatusQueued))
	escalated := pipe.ZCard(ctx, s.k.casesByStatus(intake.StatusEscalated))
	chats := pipe.ZCard(ctx, s.k.inboxChats())
	outbox := pipe.HLen(ctx, s.k.outboxMessages())
	audit := pipe.HLen(ctx, s.k.auditLog())
	keyrec := pipe.HLen(ctx, s.k.keyRecords())
	if _, err := pipe.Exec(ctx); err != nil {
		return r, s.fail("check: counting", err)
	}
	r.Counts = Counts{
		Cases: cases.Val(), Unclaimed: queued.Val() + escalated.Val(), PendingChats: chats.Val(),
		Outbox: outbox.Val(), AuditEntries: audit.Val(), KeyRecords: keyrec.Val(),
	}
	return r, nil
}

// infoField reads one "name:value" line of an INFO reply.
func infoField(info, name string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == name {
			return v
		}
	}
	return ""
}
