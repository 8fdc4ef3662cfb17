package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/penahbot/penah/internal/intake"
)

// A plan is one run of scripts/apply.lua: the change as JSON, with every key and every binary
// value passed by position, so that scripts declare all the keys they touch and sealed bytes
// never go through Lua's JSON codec.
type plan struct {
	Sess  *sessPlan   `json:"sess,omitempty"`
	Done  *donePlan   `json:"done,omitempty"`
	Cases []*casePlan `json:"cases,omitempty"`
	Out   *outPlan    `json:"out,omitempty"`
	Audit *auditPlan  `json:"audit,omitempty"`

	keys  []string
	kidx  map[string]int
	blobs []any
	// entries are audit entries to append with the change; apply links them onto the chain.
	entries []intake.AuditEntry
}

type sessPlan struct {
	K      int    `json:"k"`
	Expect string `json:"expect"`
	Data   int    `json:"data,omitempty"`
	TTL    string `json:"ttl"`
}

type donePlan struct {
	Q     int    `json:"q"`
	B     int    `json:"b"`
	Chats int    `json:"chats"`
	Chat  string `json:"chat"`
	ID    string `json:"id"`
}

// casePlan is one case write; see case_check and case_put in scripts/lib.lua.
type casePlan struct {
	K      int    `json:"k"`
	Ref    string `json:"ref"`
	Expect string `json:"expect"`
	Guard  string `json:"guard,omitempty"`
	ByWas  string `json:"by_was,omitempty"`
	Doc    int    `json:"doc"`
	V      string `json:"v"`
	St     string `json:"st"`
	Team   string `json:"team"`
	By     string `json:"by,omitempty"`
	Esc    string `json:"esc"`
	Owner  string `json:"owner,omitempty"`
	CM     string `json:"cm"`
	QM     string `json:"qm,omitempty"`
	OM     string `json:"om,omitempty"`
	All    int    `json:"all"`
	TNew   int    `json:"tnew"`
	SNew   int    `json:"snew"`
	QNew   int    `json:"qnew"`
	OV     int    `json:"ov"`
	TOld   int    `json:"told,omitempty"`
	SOld   int    `json:"sold,omitempty"`
	QOld   int    `json:"qold,omitempty"`
	Link   int    `json:"link,omitempty"`
	Unlink int    `json:"unlink,omitempty"`
}

// Guards a case write can carry.
const (
	guardUnclaimed = "unclaimed" // Claim: the case must wait in its queue
	guardClaimant  = "claimant"  // Release: the case must be claimed by ByWas
	guardRaise     = "raise"     // Escalate: the stored level must be below Esc
)

type outPlan struct {
	Msg   int        `json:"msg"`
	Seq   int        `json:"seq"`
	Due   int        `json:"due"`
	Head  int        `json:"head"`
	Items []*outItem `json:"items"`
}

type outItem struct {
	ID   string `json:"id"`
	Chat string `json:"chat"`
	Q    int    `json:"q"`
	Doc  int    `json:"doc"`
}

type auditPlan struct {
	Head  int          `json:"head"`
	Log   int          `json:"log"`
	After string       `json:"after"`
	Items []*auditItem `json:"items"`
}

type auditItem struct {
	Seq  string `json:"seq"`
	Doc  int    `json:"doc"`
	Hash int    `json:"hash"`
}

// key returns the position (from 1) of k in KEYS, adding it once.
func (p *plan) key(k string) int {
	if p.kidx == nil {
		p.kidx = map[string]int{}
	}
	if i, ok := p.kidx[k]; ok {
		return i
	}
	p.keys = append(p.keys, k)
	p.kidx[k] = len(p.keys)
	return len(p.keys)
}

// blob returns the position in ARGV of a binary value (ARGV[1] is the plan itself).
func (p *plan) blob(b []byte) int {
	p.blobs = append(p.blobs, b)
	return len(p.blobs) + 1
}

// textOK reports whether an id can travel in the plan's JSON unchanged.
func textOK(s string) bool { return utf8.ValidString(s) }

// errBadText refuses ids that are not valid UTF-8: they name keys and index members and must
// reach Redis unchanged through the script's JSON.
var errBadText = errors.New("identifier is not valid UTF-8")

func u64(n uint64) string { return strconv.FormatUint(n, 10) }

// Apply replies (see the header of scripts/apply.lua).
const (
	replyOK          = "ok"
	replyConflict    = "conflict"
	replyDupID       = "dupid"
	replyExists      = "exists"
	replyNotFound    = "notfound"
	replyClaimed     = "claimed"
	replyNotClaimant = "notclaimant"
	replyNoop        = "noop"
	replyStale       = "stale"
)

// apply runs a plan and returns the script's reply. A plan with audit entries is linked onto the
// chain here, under the process's audit cursor.
func (s *Store) apply(ctx context.Context, op string, p *plan) ([]string, error) {
	if len(p.entries) == 0 {
		return s.run(ctx, op, p)
	}
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	head := s.audit.head
	if !head.known {
		var err error
		if head, err = s.readAuditHead(ctx); err != nil {
			return nil, err
		}
	}
	next, err := s.linkAudit(p, head)
	if err != nil {
		return nil, err
	}
	res, err := s.run(ctx, op, p)
	switch {
	case err == nil && res[0] == replyOK:
		s.audit.head = next
	case err == nil && res[0] != replyStale:
		// Refused for another reason: the chain did not move, the head still holds.
		s.audit.head = head
	default:
		// Another process appended, or the outcome is unknown: read the head next time.
		s.audit.head = auditHead{}
	}
	return res, err
}

// run sends a plan to scripts/apply.lua.
func (s *Store) run(ctx context.Context, op string, p *plan) ([]string, error) {
	js, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	args := append([]any{js}, p.blobs...)
	res, err := s.sc.apply.Run(ctx, s.rdb, p.keys, args...).StringSlice()
	if err != nil {
		return nil, s.fail(op, err)
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("redisstore: %s: empty reply from the script", op)
	}
	return res, nil
}

// Optimistic retries. Writes that append to the audit chain or change a case read first, compute
// in Go (the chain's SHA-256 cannot be computed in Redis' Lua) and apply with a compare-and-set;
// when another writer got there first, the script writes nothing and they read again.
const (
	// MaxStaleRetries bounds the read-compute-apply rounds of one write.
	MaxStaleRetries = 200
	// staleBackoff is the largest random pause between two rounds, spreading racing writers.
	staleBackoff = 2 * time.Millisecond
)

// errBusy is wrapped with intake.ErrUnavailable when a write lost MaxStaleRetries races.
var errBusy = errors.New("too many concurrent writers, try again")

// jitter returns a random pause in [0, max). It draws from crypto/rand like everything random in
// Penah, so no code path needs math/rand; the pause itself is not a secret.
func jitter(max time.Duration) time.Duration {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil || max <= 0 {
		return max / 2
	}
	return time.Duration(binary.BigEndian.Uint64(b[:]) % uint64(max))
}

// retry runs round until it reports done, pausing a little between rounds.
func retry(ctx context.Context, op string, round func() (done bool, err error)) error {
	for range MaxStaleRetries {
		done, err := round()
		if done || err != nil {
			return err
		}
		t := time.NewTimer(jitter(staleBackoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("redisstore: %s: %w", op, ctx.Err())
		case <-t.C:
		}
	}
	return fmt.Errorf("redisstore: %s: %w: %w", op, intake.ErrUnavailable, errBusy)
}
