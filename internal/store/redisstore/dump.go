package redisstore

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
)

var _ intake.Dumper = (*Store)(nil)

// dumpPage bounds the keys or records that one round trip of Dump reads.
const dumpPage = 500

// errChainsDiffer is the intake.ErrConflict of a restored audit entry that does not fit the
// stored chain.
var errChainsDiffer = fmt.Errorf("%w: the audit chains differ", intake.ErrConflict)

// Dump implements intake.Dumper. Most records are found through the indexes the engine keeps:
// key records, the outbox and the audit log are hashes, directory records are in their names
// index, cases in the creation index, pending updates in the chats of the inbox. Sessions and dedupe markers have no index (each is its own
// key, with its own lifetime), so they are found by SCAN over their key prefix, on every master
// of a Cluster. Lifetimes are read with PEXPIRETIME (Redis 7.0 or later) as absolute times, so a
// dump does not drift with the time it takes. Redis offers no snapshot across commands: dump with
// the bot stopped.
//
// The Telegram edge's bookkeeping is not dumped, on purpose: tracked message ids, scheduled clears
// and dead letters are short-lived operational records (a week at most) with no
// intake.RecordKind, so a migration leaves them behind. After one, /exit cannot delete messages
// shown before it, and clears scheduled before it do not run.
func (s *Store) Dump(ctx context.Context, f func(intake.Record) error) error {
	for _, step := range []func(context.Context, func(intake.Record) error) error{
		s.dumpKeys, s.dumpDir, s.dumpCases, s.dumpSessions, s.dumpUpdates, s.dumpDedupe, s.dumpOutbox,
		s.dumpAudit, s.dumpOffset,
	} {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("redisstore: dump: %w", err)
		}
		if err := step(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) dumpKeys(ctx context.Context, f func(intake.Record) error) error {
	m, err := s.rdb.HGetAll(ctx, s.k.keyRecords()).Result()
	if err != nil {
		return s.fail("dump: key records", err)
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if err := f(intake.Record{Kind: intake.RecordKey, Name: name, Data: []byte(m[name])}); err != nil {
			return err
		}
	}
	return nil
}

// dumpDir reads the directory records by name, with their versions, a page at a time.
func (s *Store) dumpDir(ctx context.Context, f func(intake.Record) error) error {
	names, err := s.rdb.ZRangeByLex(ctx, s.k.dirNames(), &redis.ZRangeBy{Min: "-", Max: "+"}).Result()
	if err != nil {
		return s.fail("dump: directory", err)
	}
	for page := range slices.Chunk(names, dumpPage) {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.SliceCmd, len(page))
		for i, name := range page {
			cmds[i] = pipe.HMGet(ctx, s.k.dirRecord(name), "v", "b")
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return s.fail("dump: directory", err)
		}
		for i, name := range page {
			v := cmds[i].Val()
			vt, _ := v[0].(string)
			b, ok := v[1].(string)
			ver, err := strconv.ParseUint(vt, 10, 64)
			if !ok || err != nil || ver == 0 {
				return fmt.Errorf("redisstore: dump: directory record %q is indexed but damaged or missing", name)
			}
			if err := f(intake.Record{Kind: intake.RecordDir, Name: name, Version: intake.Version(ver), Data: []byte(b)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// dumpCases walks the creation index, oldest first, a page at a time.
func (s *Store) dumpCases(ctx context.Context, f func(intake.Record) error) error {
	lo := "-"
	for {
		ms, err := s.rdb.ZRangeByLex(ctx, s.k.casesAll(), &redis.ZRangeBy{Min: lo, Max: "+", Count: dumpPage}).Result()
		if err != nil {
			return s.fail("dump: cases", err)
		}
		refs := make([]intake.Ref, len(ms))
		for i, m := range ms {
			refs[i] = refOfMember(m)
		}
		sts, err := s.readCases(ctx, refs)
		if err != nil {
			return err
		}
		for i, st := range sts {
			if st == nil {
				return fmt.Errorf("redisstore: dump: case %s is indexed but has no record", refs[i])
			}
			if err := f(intake.Record{Kind: intake.RecordCase, Name: st.owner, Case: st.c}); err != nil {
				return err
			}
		}
		if len(ms) < dumpPage {
			return nil
		}
		lo = "(" + ms[len(ms)-1]
	}
}

func (s *Store) dumpSessions(ctx context.Context, f func(intake.Record) error) error {
	base := s.k.session("")
	keys, err := s.scanLedger(ctx, base)
	if err != nil {
		return err
	}
	for page := range slices.Chunk(keys, dumpPage) {
		pipe := s.rdb.Pipeline()
		vals := make([]*redis.SliceCmd, len(page))
		exps := make([]*redis.DurationCmd, len(page))
		for i, k := range page {
			vals[i] = pipe.HMGet(ctx, k, "v", "b")
			exps[i] = pipe.PExpireTime(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return s.fail("dump: sessions", err)
		}
		for i, k := range page {
			v := vals[i].Val()
			vt, ok := v[0].(string)
			if !ok {
				continue // expired since the scan
			}
			ver, err := strconv.ParseUint(vt, 10, 64)
			if err != nil {
				return fmt.Errorf("redisstore: dump: session version %q: %w", vt, err)
			}
			at, ok := expireTime(exps[i].Val())
			if !ok {
				continue
			}
			b, _ := v[1].(string)
			r := intake.Record{
				Kind: intake.RecordSession, Name: strings.TrimPrefix(k, base), Version: intake.Version(ver),
				Data: []byte(b), Expires: at,
			}
			if err := f(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// dumpUpdates reads the pending updates of every chat in the inbox's set of chats.
func (s *Store) dumpUpdates(ctx context.Context, f func(intake.Record) error) error {
	chats, err := s.rdb.ZRange(ctx, s.k.inboxChats(), 0, -1).Result()
	if err != nil {
		return s.fail("dump: inbox chats", err)
	}
	slices.Sort(chats)
	for page := range slices.Chunk(chats, dumpPage) {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(page))
		for i, chat := range page {
			cmds[i] = pipe.HGetAll(ctx, s.k.inboxBodies(intake.SessionKey(chat)))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return s.fail("dump: inbox", err)
		}
		for _, cmd := range cmds {
			var us []intake.Update
			for _, raw := range cmd.Val() {
				var d updateDoc
				if err := json.Unmarshal([]byte(raw), &d); err != nil {
					return fmt.Errorf("redisstore: dump: inbox update does not decode: %w", err)
				}
				us = append(us, intake.Update{ID: d.ID, Chat: intake.SessionKey(d.Chat), Body: d.Body, Received: d.Received})
			}
			slices.SortFunc(us, func(a, b intake.Update) int { return cmp.Compare(a.ID, b.ID) })
			for i := range us {
				if err := f(intake.Record{Kind: intake.RecordUpdate, Update: &us[i]}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *Store) dumpDedupe(ctx context.Context, f func(intake.Record) error) error {
	base := strings.TrimSuffix(s.k.seen(0), "0") // the builder's text before the id
	keys, err := s.scanLedger(ctx, base)
	if err != nil {
		return err
	}
	ids := make([]int64, 0, len(keys))
	for _, k := range keys {
		id, err := strconv.ParseInt(strings.TrimPrefix(k, base), 10, 64)
		if err != nil {
			return fmt.Errorf("redisstore: dump: dedupe marker with a bad id: %w", err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for page := range slices.Chunk(ids, dumpPage) {
		pipe := s.rdb.Pipeline()
		exps := make([]*redis.DurationCmd, len(page))
		for i, id := range page {
			exps[i] = pipe.PExpireTime(ctx, s.k.seen(id))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return s.fail("dump: dedupe markers", err)
		}
		for i, id := range page {
			at, ok := expireTime(exps[i].Val())
			if !ok {
				continue
			}
			if err := f(intake.Record{Kind: intake.RecordDedupe, UpdateID: id, Expires: at}); err != nil {
				return err
			}
		}
	}
	return nil
}

// dumpOutbox reads the message hash with HSCAN, then gives the messages by chat and Seq.
func (s *Store) dumpOutbox(ctx context.Context, f func(intake.Record) error) error {
	docs := map[string]string{}
	var cursor uint64
	for {
		kv, next, err := s.rdb.HScan(ctx, s.k.outboxMessages(), cursor, "", dumpPage).Result()
		if err != nil {
			return s.fail("dump: outbox", err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			docs[kv[i]] = kv[i+1]
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	ms := make([]intake.OutboxMessage, 0, len(docs))
	for id, raw := range docs {
		var d outboxDoc
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return fmt.Errorf("redisstore: dump: outbox message does not decode: %w", err)
		}
		m, err := d.message(id)
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b intake.OutboxMessage) int {
		return cmp.Or(strings.Compare(string(a.Chat), string(b.Chat)), cmp.Compare(a.Seq, b.Seq))
	})
	for i := range ms {
		if err := f(intake.Record{Kind: intake.RecordOutbox, Outbox: &ms[i]}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) dumpAudit(ctx context.Context, f func(intake.Record) error) error {
	var after uint64
	for {
		es, err := s.AuditEntries(ctx, after, intake.MaxBatch)
		if err != nil {
			return err
		}
		for i := range es {
			if err := f(intake.Record{Kind: intake.RecordAudit, Audit: &es[i]}); err != nil {
				return err
			}
			after = es[i].Seq
		}
		if len(es) < intake.MaxBatch {
			return nil
		}
	}
}

func (s *Store) dumpOffset(ctx context.Context, f func(intake.Record) error) error {
	v, err := s.rdb.Get(ctx, s.k.offset()).Int64()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return s.fail("dump: offset", err)
	}
	return f(intake.Record{Kind: intake.RecordOffset, Offset: v})
}

// expireTime turns a PEXPIRETIME reply into a time: the zero time for a key without expiry,
// false for a key that is gone.
func expireTime(d time.Duration) (time.Time, bool) {
	switch d {
	case -2:
		return time.Time{}, false
	case -1:
		return time.Time{}, true
	}
	return time.UnixMilli(int64(d / time.Millisecond)).UTC(), true
}

// scanLedger lists the keys that start with base, a builder's text before its id (the id runs to
// the end of the key, so these are exactly that kind's keys), sorted. In a Cluster it scans every
// master: the ledger's slot is on one of them.
func (s *Store) scanLedger(ctx context.Context, base string) ([]string, error) {
	match := globEscape(base) + "*"
	seen := map[string]bool{}
	var mu sync.Mutex
	scan := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, match, dumpPage).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			for _, k := range keys {
				if strings.HasPrefix(k, base) { // SCAN may return a key twice; a set keeps one
					seen[k] = true
				}
			}
			mu.Unlock()
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	var err error
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, s.rdb)
	}
	if err != nil {
		return nil, s.fail("dump: scanning keys", err)
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

// globEscape quotes the characters SCAN's MATCH pattern treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\^`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Restore implements intake.Dumper with one run of scripts/restore.lua per call: all the records
// or, when one is refused, none. It reads first the cases and outbox messages the records replace
// (the indexes they leave), and the script confirms those reads, or the round is read again.
//
// A session or dedupe marker gets its Expires as an absolute expiry (PEXPIREAT, the server's
// clock, in whole milliseconds); one whose Expires has passed replaces the stored one with
// nothing. An outbox message keeps its Seq and the counter that numbers new messages moves past
// it; a message whose chat and Seq another message holds is an intake.ErrConflict. Audit entries
// continue the stored chain: one at or below its end must have the stored entry's Hash, the next
// one must link to that end, and any other is an intake.ErrConflict. The getUpdates offset is
// raised, never lowered, as SetOffset does. A pending update is identified by its chat and id
// (Telegram's update ids are unique, so one id never comes in two chats). A directory record
// keeps its Version, so a compare-and-set after the move goes on from it. Of several records with
// one identity in a call, the last wins. When a restored case replaces a stored one whose sealed
// body it no longer has (the case was shredded at the source), the server's files are rewritten
// as after Shred (see ErrNotScrubbed).
func (s *Store) Restore(ctx context.Context, rs []intake.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: restore: %w", err)
	}
	rs, err := prepareRestore(rs)
	if err != nil {
		return fmt.Errorf("redisstore: restore: %w", err)
	}
	if len(rs) == 0 {
		return nil
	}
	scrub := false
	err = retry(ctx, "restore", func() (bool, error) {
		p, shredded, err := s.restorePlan(ctx, rs)
		if err != nil {
			return false, err
		}
		res, err := s.runRestore(ctx, p)
		if err != nil {
			return false, err
		}
		switch res[0] {
		case replyOK:
			scrub = shredded
			return true, nil
		case replyStale, replyExists, replyNotFound:
			return false, nil
		case "seqtaken":
			return false, fmt.Errorf("redisstore: restore: outbox message %s: its Seq is held by another message of its chat: %w", arg(res, 1), intake.ErrConflict)
		case "missing":
			return false, fmt.Errorf("redisstore: restore: %w: entry %s is missing from the stored chain", intake.ErrAuditBroken, arg(res, 1))
		case "chain":
			return false, fmt.Errorf("redisstore: restore: audit entry %s has another hash or does not link to the stored chain: %w", arg(res, 1), errChainsDiffer)
		case "gap":
			return false, fmt.Errorf("redisstore: restore: audit entry %s does not follow the stored chain's end: %w", arg(res, 1), errChainsDiffer)
		}
		return false, fmt.Errorf("redisstore: restore: unexpected reply %q", res[0])
	})
	if err != nil {
		return err
	}
	if scrub {
		if err := s.scrubFiles(ctx); err != nil {
			return fmt.Errorf("redisstore: restore: %w: %v", ErrNotScrubbed, err)
		}
	}
	return nil
}

func arg(res []string, i int) string {
	if i < len(res) {
		return res[i]
	}
	return "?"
}

// runRestore runs a restore plan. It holds the process's audit cursor and forgets the head it
// remembered, since the script may move the chain's end.
func (s *Store) runRestore(ctx context.Context, p *restorePlan) ([]string, error) {
	js, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("redisstore: restore: %w", err)
	}
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	s.audit.head = auditHead{}
	res, err := s.sc.restore.Run(ctx, s.rdb, p.p.keys, append([]any{js}, p.p.blobs...)...).StringSlice()
	if err != nil {
		return nil, s.fail("restore", err)
	}
	if len(res) == 0 {
		return nil, errors.New("redisstore: restore: empty reply from the script")
	}
	return res, nil
}

// restorePlan is one run of scripts/restore.lua (see its header). p keeps the keys and binary
// values by position, and the case writes (writeCase adds them there).
type restorePlan struct {
	Keys     *keysRestore    `json:"keys,omitempty"`
	Dirs     *dirsRestore    `json:"dirs,omitempty"`
	Cases    []*casePlan     `json:"cases,omitempty"`
	Sessions []*sessRestore  `json:"sessions,omitempty"`
	Updates  *updatesRestore `json:"updates,omitempty"`
	Seen     []*seenRestore  `json:"seen,omitempty"`
	Out      *outRestore     `json:"out,omitempty"`
	Audit    *auditRestore   `json:"audit,omitempty"`
	Offset   *offsetRestore  `json:"offset,omitempty"`

	p *plan
}

type keysRestore struct {
	H     int          `json:"h"`
	Items []keyRestore `json:"items"`
}

type keyRestore struct {
	Name int `json:"name"`
	Data int `json:"data"`
}

type dirsRestore struct {
	Idx   int          `json:"idx"`
	Items []dirRestore `json:"items"`
}

type dirRestore struct {
	K    int    `json:"k"`
	Name string `json:"name"`
	V    string `json:"v"`
	Data int    `json:"data"`
}

type sessRestore struct {
	K    int    `json:"k"`
	V    string `json:"v"`
	Data int    `json:"data"`
	At   string `json:"at"`
}

type updatesRestore struct {
	Chats int              `json:"chats"`
	Items []*updateRestore `json:"items"`
}

type updateRestore struct {
	Q    int    `json:"q"`
	B    int    `json:"b"`
	Chat string `json:"chat"`
	ID   string `json:"id"`
	Doc  int    `json:"doc"`
}

type seenRestore struct {
	K  int    `json:"k"`
	At string `json:"at"`
}

type outRestore struct {
	Msg   int           `json:"msg"`
	Seq   int           `json:"seq"`
	Due   int           `json:"due"`
	Head  int           `json:"head"`
	Max   string        `json:"max"`
	Items []*outMessage `json:"items"`
}

type outMessage struct {
	ID   string  `json:"id"`
	Chat string  `json:"chat"`
	Q    int     `json:"q"`
	Seq  string  `json:"seq"`
	Doc  int     `json:"doc"`
	Was  *string `json:"was,omitempty"`
	WasQ int     `json:"wasq,omitempty"`
}

type auditRestore struct {
	Head  int              `json:"head"`
	Log   int              `json:"log"`
	Items []*auditRestItem `json:"items"`
}

type auditRestItem struct {
	Seq  string `json:"seq"`
	Doc  int    `json:"doc"`
	Hash int    `json:"hash"`
	H64  string `json:"h64"`
	Prev int    `json:"prev"`
}

type offsetRestore struct {
	K int    `json:"k"`
	V string `json:"v"`
}

// expiryArg is an Expires as the script takes it: Unix ms, "0" for none.
func expiryArg(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(max(t.UnixMilli(), 1), 10)
}

// prepareRestore checks every record and keeps, of several with one identity, the last (audit
// entries with one Seq must be equal). The order of the rest is kept.
func prepareRestore(rs []intake.Record) ([]intake.Record, error) {
	ids := make([]string, len(rs))
	last := map[string]int{}
	hashes := map[uint64][]byte{}
	for i, r := range rs {
		id, err := recordID(r)
		if err != nil {
			return nil, fmt.Errorf("record %d (%q): %w", i, r.Kind, err)
		}
		if r.Kind == intake.RecordAudit {
			if h, ok := hashes[r.Audit.Seq]; ok && string(h) != string(r.Audit.Hash) {
				return nil, fmt.Errorf("record %d: audit entry %d comes twice with different hashes: %w", i, r.Audit.Seq, errChainsDiffer)
			}
			hashes[r.Audit.Seq] = r.Audit.Hash
		}
		ids[i] = string(r.Kind) + "\n" + id
		last[ids[i]] = i
	}
	out := make([]intake.Record, 0, len(rs))
	for i, r := range rs {
		if r.Kind == intake.RecordOffset || last[ids[i]] == i {
			out = append(out, r)
		}
	}
	return out, nil
}

// recordID checks that r has what its kind needs and returns its identity within the kind.
func recordID(r intake.Record) (string, error) {
	bad := func(what string) (string, error) { return "", errors.New(what) }
	switch r.Kind {
	case intake.RecordKey:
		return r.Name, nil
	case intake.RecordDir:
		switch {
		case r.Version == 0:
			return bad("a directory record at version 0")
		case intake.CheckDirName(r.Name) != nil:
			return "", intake.ErrDirName
		case intake.CheckDirRecord(r.Data) != nil:
			return "", intake.ErrDirSize
		}
		return r.Name, nil
	case intake.RecordCase:
		switch {
		case r.Case == nil:
			return bad("no case")
		case r.Case.Ref == "":
			return bad("a case without a reference")
		case r.Case.Version == 0:
			return bad("a case at version 0")
		}
		return string(r.Case.Ref), nil
	case intake.RecordSession:
		switch {
		case r.Version == 0:
			return bad("a session at version 0")
		case !textOK(r.Name):
			return "", errBadText
		}
		return r.Name, nil
	case intake.RecordUpdate:
		switch {
		case r.Update == nil:
			return bad("no update")
		case !textOK(string(r.Update.Chat)):
			return "", errBadText
		}
		return string(r.Update.Chat) + "\n" + strconv.FormatInt(r.Update.ID, 10), nil
	case intake.RecordDedupe:
		return strconv.FormatInt(r.UpdateID, 10), nil
	case intake.RecordOutbox:
		switch {
		case r.Outbox == nil:
			return bad("no message")
		case r.Outbox.ID == "":
			return bad("a message without an id")
		case r.Outbox.Seq == 0:
			return bad("a message without a Seq")
		case !textOK(string(r.Outbox.ID)) || !textOK(string(r.Outbox.Chat)):
			return "", errBadText
		}
		return string(r.Outbox.ID), nil
	case intake.RecordAudit:
		if r.Audit == nil || r.Audit.Seq == 0 {
			return bad("no audit entry, or one without a Seq")
		}
		return strconv.FormatUint(r.Audit.Seq, 10), nil
	case intake.RecordOffset:
		return "", nil
	}
	return bad("unknown kind")
}

// restorePlan builds the plan of one restore round: it reads the cases and outbox messages the
// records replace. It reports whether a stored case loses its sealed body.
func (s *Store) restorePlan(ctx context.Context, rs []intake.Record) (*restorePlan, bool, error) {
	p := &plan{}
	rp := &restorePlan{p: p}
	var (
		refs     []intake.Ref
		caseRecs []intake.Record
		outRecs  []*intake.OutboxMessage
	)
	for _, r := range rs {
		switch r.Kind {
		case intake.RecordCase:
			refs, caseRecs = append(refs, r.Case.Ref), append(caseRecs, r)
		case intake.RecordOutbox:
			outRecs = append(outRecs, r.Outbox)
		}
	}
	sts, err := s.readCases(ctx, refs)
	if err != nil {
		return nil, false, err
	}
	shredded := false
	for i, r := range caseRecs {
		c := *r.Case
		var (
			old   *intake.Case
			owner string
		)
		if sts[i] != nil {
			old, owner = sts[i].c, sts[i].owner
			hadBody := old.Envelope != nil || len(old.Answers) > 0
			shredded = shredded || (hadBody && c.Envelope == nil && len(c.Answers) == 0)
		}
		cp, err := s.writeCase(p, &c, old, r.Name)
		if err != nil {
			return nil, false, err
		}
		if r.Name != "" {
			cp.Link = p.key(s.k.links(intake.SessionKey(r.Name)))
		}
		if owner != "" && owner != r.Name {
			cp.Unlink = p.key(s.k.links(intake.SessionKey(owner)))
		}
	}
	rp.Cases = p.Cases
	if err := s.planOutbox(ctx, rp, outRecs); err != nil {
		return nil, false, err
	}
	for _, r := range rs {
		if err := s.planRecord(rp, r); err != nil {
			return nil, false, err
		}
	}
	return rp, shredded, nil
}

// planRecord adds to rp a record that needs no read: key records, directory records, sessions, updates, dedupe
// markers, audit entries and the offset.
func (s *Store) planRecord(rp *restorePlan, r intake.Record) error {
	p := rp.p
	switch r.Kind {
	case intake.RecordKey:
		if rp.Keys == nil {
			rp.Keys = &keysRestore{H: p.key(s.k.keyRecords())}
		}
		rp.Keys.Items = append(rp.Keys.Items, keyRestore{Name: p.blob([]byte(r.Name)), Data: p.blob(r.Data)})
	case intake.RecordDir:
		if rp.Dirs == nil {
			rp.Dirs = &dirsRestore{Idx: p.key(s.k.dirNames())}
		}
		rp.Dirs.Items = append(rp.Dirs.Items, dirRestore{
			K: p.key(s.k.dirRecord(r.Name)), Name: r.Name, V: u64(uint64(r.Version)), Data: p.blob(r.Data),
		})
	case intake.RecordSession:
		rp.Sessions = append(rp.Sessions, &sessRestore{
			K: p.key(s.k.session(intake.SessionKey(r.Name))), V: u64(uint64(r.Version)),
			Data: p.blob(r.Data), At: expiryArg(r.Expires),
		})
	case intake.RecordUpdate:
		u := r.Update
		doc, err := json.Marshal(updateDoc{ID: u.ID, Chat: string(u.Chat), Body: u.Body, Received: u.Received})
		if err != nil {
			return fmt.Errorf("redisstore: restore: %w", err)
		}
		if rp.Updates == nil {
			rp.Updates = &updatesRestore{Chats: p.key(s.k.inboxChats())}
		}
		rp.Updates.Items = append(rp.Updates.Items, &updateRestore{
			Q: p.key(s.k.inboxQueue(u.Chat)), B: p.key(s.k.inboxBodies(u.Chat)), Chat: string(u.Chat),
			ID: strconv.FormatInt(u.ID, 10), Doc: p.blob(doc),
		})
	case intake.RecordDedupe:
		rp.Seen = append(rp.Seen, &seenRestore{K: p.key(s.k.seen(r.UpdateID)), At: expiryArg(r.Expires)})
	case intake.RecordAudit:
		e := r.Audit
		doc, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("redisstore: restore: encoding an audit entry: %w", err)
		}
		if rp.Audit == nil {
			rp.Audit = &auditRestore{Head: p.key(s.k.auditHead()), Log: p.key(s.k.auditLog())}
		}
		rp.Audit.Items = append(rp.Audit.Items, &auditRestItem{
			Seq: u64(e.Seq), Doc: p.blob(doc), Hash: p.blob(e.Hash), Prev: p.blob(e.Prev),
			H64: base64.StdEncoding.EncodeToString(e.Hash),
		})
	case intake.RecordOffset:
		if rp.Offset == nil {
			rp.Offset = &offsetRestore{K: p.key(s.k.offset()), V: strconv.FormatInt(r.Offset, 10)}
		} else if v, _ := strconv.ParseInt(rp.Offset.V, 10, 64); r.Offset > v {
			rp.Offset.V = strconv.FormatInt(r.Offset, 10)
		}
	}
	return nil
}

// planOutbox adds the outbox messages to rp, with the chat each id is stored in now.
func (s *Store) planOutbox(ctx context.Context, rp *restorePlan, ms []*intake.OutboxMessage) error {
	if len(ms) == 0 {
		return nil
	}
	p := rp.p
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = string(m.ID)
	}
	stored, err := s.rdb.HMGet(ctx, s.k.outboxMessages(), ids...).Result()
	if err != nil {
		return s.fail("restore: reading the outbox", err)
	}
	o := &outRestore{
		Msg: p.key(s.k.outboxMessages()), Seq: p.key(s.k.outboxSeq()),
		Due: p.key(s.k.outboxDue()), Head: p.key(s.k.outboxHeads()),
	}
	var maxSeq uint64
	for i, m := range ms {
		d := newOutboxDoc(*m)
		d.Seq = u64(m.Seq)
		doc, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("redisstore: restore: encoding an outbox message: %w", err)
		}
		om := &outMessage{
			ID: string(m.ID), Chat: string(m.Chat), Q: p.key(s.k.outboxQueue(m.Chat)), Seq: u64(m.Seq),
			Doc: p.blob(doc),
		}
		if raw, ok := stored[i].(string); ok {
			var was outboxDoc
			if err := json.Unmarshal([]byte(raw), &was); err != nil {
				return fmt.Errorf("redisstore: restore: outbox message does not decode: %w", err)
			}
			om.Was, om.WasQ = &was.Chat, p.key(s.k.outboxQueue(intake.SessionKey(was.Chat)))
		}
		o.Items = append(o.Items, om)
		maxSeq = max(maxSeq, m.Seq)
	}
	o.Max = u64(maxSeq)
	rp.Out = o
	return nil
}
