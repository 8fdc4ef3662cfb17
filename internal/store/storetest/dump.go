package storetest

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/internal/intake"
)

// DumpStore is a store that can also be dumped and restored.
type DumpStore interface {
	intake.Store
	intake.Dumper
}

// dumperTests are the behaviours of intake.Dumper. Each opens its stores itself: a restore needs
// a second, empty one.
var dumperTests = []struct {
	name string
	run  func(t *testing.T, open func(t *testing.T) DumpStore, o Options)
}{
	{"Dumper/RoundTrip", testDumpRoundTrip},
	{"Dumper/RestoreTwiceChangesNothing", testRestoreTwice},
	{"Dumper/RestoreReplacesByIdentity", testRestoreReplaces},
	{"Dumper/AuditChainsDiffer", testRestoreChainsDiffer},
	{"Dumper/BadRecordsWriteNothing", testRestoreBadRecords},
}

// runDumper runs the Dumper group. A store that does not implement intake.Dumper skips it, or
// fails it when o.RequireDumper is set.
func runDumper(t *testing.T, open func(t *testing.T) intake.Store, o Options) {
	openDump := func(t *testing.T) DumpStore {
		t.Helper()
		s := open(t)
		d, ok := s.(DumpStore)
		if !ok {
			if o.RequireDumper {
				t.Fatalf("%T does not implement intake.Dumper, and Options.RequireDumper is set", s)
			}
			t.Skipf("%T does not implement intake.Dumper", s)
		}
		return d
	}
	for _, tc := range dumperTests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, openDump, o) })
	}
}

// RestoreBatch is how many records the suite hands to one Restore call: small, so that kinds
// straddle calls (penah store migrate uses larger batches).
const RestoreBatch = 7

// PopulatedCounts is how many records of each kind Populate writes.
func PopulatedCounts() map[intake.RecordKind]int {
	return map[intake.RecordKind]int{
		intake.RecordKey: 2, intake.RecordDir: 3, intake.RecordCase: 6, intake.RecordSession: 2, intake.RecordUpdate: 3,
		intake.RecordDedupe: 4, intake.RecordOutbox: 3, intake.RecordAudit: 5, intake.RecordOffset: 1,
	}
}

// SessionTTL is the lifetime Populate gives alice's session.
const SessionTTL = time.Hour

// Populate writes every kind of record a dump holds: key records; directory records "team:t" (at
// version 2), "officer:o-1" and "invite:x" (at version 1); sessions of "alice" (with
// SessionTTL) and "bob" (none); cases of both in team "t" and "u" — ref(1) queued with a deadline
// and an envelope, ref(2) claimed by officer-1, ref(3) escalated, ref(4) shredded, ref(5) closed,
// ref(6) queued with priority 1; pending updates 101 and 103 of alice and 102 of bob, update 100
// of carol done (so only remembered); outbox messages a1, a2 to alice and o1 (retried once) to
// "officer"; the getUpdates offset 104; and the audit entries all that made, plus one appended.
func Populate(t *testing.T, s intake.Store) {
	t.Helper()
	for name, data := range map[string]string{"team/t": "sealed team key", "escrow": "sealed escrow key"} {
		if err := s.PutKeyRecord(ctx, name, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []struct {
		name, data string
		expect     intake.Version
	}{{"team:t", "sealed team t", 0}, {"team:t", "sealed team t, edited", 1}, {"officer:o-1", "sealed officer", 0}, {"invite:x", "sealed invite", 0}} {
		if _, err := s.PutDirRecord(ctx, d.name, []byte(d.data), d.expect); err != nil {
			t.Fatal(err)
		}
	}
	c1 := newCase(ref(1), "t", 2, t0)
	c1.Deadline = t0.Add(time.Hour)
	c1.Envelope = &seal.Envelope{Wraps: []seal.Wrapped{{Box: []byte("wrapped data key")}}, MAC: []byte("mac")}
	addCase(t, s, "alice", c1)
	addCase(t, s, "alice", newCase(ref(2), "t", 1, t0.Add(time.Minute)))
	addCase(t, s, "bob", newCase(ref(3), "u", 2, t0.Add(2*time.Minute)))
	addCase(t, s, "bob", newCase(ref(4), "t", 3, t0.Add(3*time.Minute)))
	addCase(t, s, "alice", newCase(ref(5), "u", 2, t0.Add(4*time.Minute)))
	addCase(t, s, "bob", newCase(ref(6), "t", 1, t0.Add(5*time.Minute)))
	if _, err := s.Claim(ctx, ref(2), "officer-1", t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Escalate(ctx, ref(3), 1, t0.Add(11*time.Minute)); !ok || err != nil {
		t.Fatalf("Escalate: %v %v", ok, err)
	}
	if err := s.Shred(ctx, []intake.Ref{ref(4)}, intake.StatusShredded, t0.Add(12*time.Minute)); err != nil {
		t.Fatal(err)
	}
	closeCase(t, s, ref(5), t0.Add(13*time.Minute))
	for _, e := range []intake.AuditEntry{
		{Time: t0.Add(14 * time.Minute), Actor: "system", Action: "note", Reason: "before the move"},
	} {
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	putUpdate(t, s, "carol", 100)
	if err := s.DoneUpdate(ctx, "carol", 100); err != nil {
		t.Fatal(err)
	}
	putUpdate(t, s, "alice", 103)
	putUpdate(t, s, "bob", 102)
	putUpdate(t, s, "alice", 101)
	enqueue(t, s, "alice", msg("a1", "alice", t0), msg("a2", "alice", t0), msg("o1", "officer", t0.Add(time.Minute)))
	if err := s.Retry(ctx, "o1", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOffset(ctx, 104); err != nil {
		t.Fatal(err)
	}
	for key, ttl := range map[intake.SessionKey]time.Duration{"alice": SessionTTL, "bob": 0} {
		_, v, err := s.LoadSession(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Commit(ctx, intake.Commit{Key: key, Expect: v, Session: []byte("sealed session of " + string(key)), SessionTTL: ttl}); err != nil {
			t.Fatal(err)
		}
	}
}

// DumpRecords dumps d and checks the order the contract gives: kinds in the order of the Record
// kind constants, audit entries by Seq.
func DumpRecords(t *testing.T, d intake.Dumper) []intake.Record {
	t.Helper()
	var rs []intake.Record
	if err := d.Dump(ctx, func(r intake.Record) error { rs = append(rs, r); return nil }); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	rank := map[intake.RecordKind]int{}
	for i, k := range recordKinds {
		rank[k] = i
	}
	var seq uint64
	for i, r := range rs {
		rk, ok := rank[r.Kind]
		if !ok {
			t.Fatalf("Dump gave record %d of unknown kind %q", i, r.Kind)
		}
		if i > 0 && rk < rank[rs[i-1].Kind] {
			t.Fatalf("Dump gave a %s record after a %s record", r.Kind, rs[i-1].Kind)
		}
		if r.Kind == intake.RecordAudit {
			if r.Audit.Seq <= seq {
				t.Fatalf("Dump gave audit entry %d after %d", r.Audit.Seq, seq)
			}
			seq = r.Audit.Seq
		}
	}
	return rs
}

var recordKinds = intake.RecordKinds

// RestoreRecords restores rs into d, batch records per call.
func RestoreRecords(t *testing.T, d intake.Dumper, rs []intake.Record, batch int) {
	t.Helper()
	for part := range slices.Chunk(rs, batch) {
		if err := d.Restore(ctx, part); err != nil {
			t.Fatalf("Restore: %v", err)
		}
	}
}

// Counts counts records by kind.
func Counts(rs []intake.Record) map[intake.RecordKind]int {
	n := map[intake.RecordKind]int{}
	for _, r := range rs {
		n[r.Kind]++
	}
	return n
}

// CompareRecords fails t unless got and want hold the same records, in any order within a kind.
// Times are compared as instants; Expires after truncating both to precision (0: exactly), for
// engines that keep lifetimes in whole milliseconds.
func CompareRecords(t *testing.T, got, want []intake.Record, precision time.Duration) {
	t.Helper()
	g, w := canonAll(t, got, precision), canonAll(t, want, precision)
	if slices.Equal(g, w) {
		return
	}
	var missing, extra []string
	for _, s := range w {
		if _, ok := slices.BinarySearch(g, s); !ok {
			missing = append(missing, s)
		}
	}
	for _, s := range g {
		if _, ok := slices.BinarySearch(w, s); !ok {
			extra = append(extra, s)
		}
	}
	t.Fatalf("dumps differ (%d records, want %d)\nmissing:\n%s\nunexpected:\n%s", len(got), len(want),
		strings.Join(missing, "\n"), strings.Join(extra, "\n"))
}

func canonAll(t *testing.T, rs []intake.Record, precision time.Duration) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = canon(t, r, precision)
	}
	slices.Sort(out)
	return out
}

// canon is a record as JSON with every time in UTC.
func canon(t *testing.T, r intake.Record, precision time.Duration) string {
	t.Helper()
	utc := func(x time.Time) time.Time {
		if x.IsZero() {
			return time.Time{}
		}
		return x.UTC()
	}
	r.Expires = utc(r.Expires)
	if precision > 0 {
		r.Expires = r.Expires.Truncate(precision)
	}
	if r.Case != nil {
		c := *r.Case
		c.Created, c.Closed, c.Shredded = utc(c.Created), utc(c.Closed), utc(c.Shredded)
		c.Deadline, c.Claimed = utc(c.Deadline), utc(c.Claimed)
		r.Case = &c
	}
	if r.Update != nil {
		u := *r.Update
		u.Received = utc(u.Received)
		r.Update = &u
	}
	if r.Outbox != nil {
		m := *r.Outbox
		m.Due = utc(m.Due)
		r.Outbox = &m
	}
	if r.Audit != nil {
		e := *r.Audit
		e.Time = utc(e.Time)
		r.Audit = &e
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testDumpRoundTrip: a populated store dumps every kind; restored into an empty store, it dumps
// the same records, and the restored store behaves as the original: queues, claims, the inbox,
// the outbox, sessions, Forget through the restored links, and the audit chain continued.
func testDumpRoundTrip(t *testing.T, open func(t *testing.T) DumpStore, o Options) {
	src := open(t)
	Populate(t, src)
	want := DumpRecords(t, src)
	if got := Counts(want); !maps.Equal(got, PopulatedCounts()) {
		t.Fatalf("dump counts = %v, want %v", got, PopulatedCounts())
	}
	dst := open(t)
	RestoreRecords(t, dst, want, RestoreBatch)
	CompareRecords(t, DumpRecords(t, dst), want, 0)

	// Directory records: the same bytes and versions; compare-and-set goes on from them, and the
	// single-use record is taken once.
	if got := dirNames(t, dst, ""); !slices.Equal(got, []string{"invite:x", "officer:o-1", "team:t"}) {
		t.Fatalf("restored directory names = %q", got)
	}
	wantDir(t, dst, "team:t", "sealed team t, edited", 2)
	if _, err := dst.PutDirRecord(ctx, "team:t", []byte("stale"), 1); !isConflict(err) {
		t.Fatalf("a stale compare-and-set on the restored directory: %v, want ErrConflict", err)
	}
	dirPut(t, dst, "team:t", "after the move", 2)
	if b, err := dst.TakeDirRecord(ctx, "invite:x"); err != nil || string(b) != "sealed invite" {
		t.Fatalf("TakeDirRecord on the restored store = %q, %v", b, err)
	}
	if b, err := dst.TakeDirRecord(ctx, "invite:x"); err != nil || b != nil {
		t.Fatalf("a second TakeDirRecord = %q, %v", b, err)
	}

	// Queues, deadlines and claims.
	for _, team := range []string{"t", "u"} {
		if got, w := queue(t, dst, team), queue(t, src, team); !sameRefs(got, w) || len(w) == 0 {
			t.Fatalf("restored queue %s = %v, want %v", team, got, w)
		}
	}
	if q := queue(t, dst, "t"); !sameRefs(q, []intake.Ref{ref(6), ref(1)}) {
		t.Fatalf("restored queue t = %v, want priority then age", q)
	}
	if got := overdue(t, dst, t0.Add(2*time.Hour)); !sameRefs(got, []intake.Ref{ref(1)}) {
		t.Fatalf("restored Overdue = %v", got)
	}
	before := mustCase(t, dst, ref(1))
	c, err := dst.Claim(ctx, ref(1), "officer-2", t0.Add(time.Hour))
	if err != nil || c.Version != before.Version+1 || c.ClaimedBy != "officer-2" {
		t.Fatalf("Claim on the restored store = %+v, %v", c, err)
	}
	if _, err := dst.Claim(ctx, ref(2), "officer-2", t0.Add(time.Hour)); err == nil {
		t.Fatal("a case claimed before the move was claimed again")
	} else if by, ok := claimedBy(err); !ok || by != "officer-1" {
		t.Fatalf("Claim of the restored claimed case: %v, want *ClaimedError by officer-1", err)
	}
	if _, err := dst.Claim(ctx, ref(4), "officer-2", t0.Add(time.Hour)); !isConflict(err) {
		t.Fatalf("Claim of the restored tombstone: %v, want ErrConflict", err)
	}

	// Inbox: order, pending chats, dedupe.
	if id := pending(t, dst, "alice"); id != 101 {
		t.Fatalf("restored NextUpdate(alice) = %d, want 101", id)
	}
	if err := dst.DoneUpdate(ctx, "alice", 101); err != nil {
		t.Fatal(err)
	}
	if id := pending(t, dst, "alice"); id != 103 {
		t.Fatalf("NextUpdate(alice) after done = %d, want 103", id)
	}
	chats, err := dst.PendingChats(ctx, 0)
	slices.Sort(chats)
	if err != nil || !slices.Equal(chats, []intake.SessionKey{"alice", "bob"}) {
		t.Fatalf("restored PendingChats = %v, %v", chats, err)
	}
	for _, id := range []int64{100, 101, 102} {
		dup, err := dst.PutUpdate(ctx, intake.Update{ID: id, Chat: "carol", Body: []byte("again"), Received: t0})
		if err != nil || !dup {
			t.Fatalf("PutUpdate(%d) on the restored store: dup %v, %v; the id must be remembered", id, dup, err)
		}
	}
	if off, err := dst.Offset(ctx); err != nil || off != 104 {
		t.Fatalf("restored Offset = %d, %v", off, err)
	}

	// Outbox: the same heads, Seqs kept, new messages numbered after them.
	now := t0.Add(time.Hour)
	got, w := heads(t, dst, now), heads(t, src, now)
	if len(got) != 2 || got["alice"].ID != "a1" || got["officer"].ID != "o1" || got["officer"].Attempts != 1 {
		t.Fatalf("restored DueMessages = %+v", got)
	}
	for chat, m := range w {
		if g := got[chat]; g.Seq != m.Seq || !g.Due.Equal(m.Due) {
			t.Fatalf("restored head of %s = %+v, want %+v", chat, g, m)
		}
	}
	var maxSeq uint64
	for _, r := range want {
		if r.Kind == intake.RecordOutbox {
			maxSeq = max(maxSeq, r.Outbox.Seq)
		}
	}
	enqueue(t, dst, "carol", msg("a3", "alice", t0))
	for _, id := range []intake.OutboxID{"a1", "a2"} {
		if err := dst.MarkSent(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if h := heads(t, dst, now)["alice"]; h.ID != "a3" || h.Seq <= maxSeq {
		t.Fatalf("a message enqueued after the restore = %+v; its Seq must follow the restored ones (up to %d)", h, maxSeq)
	}

	// Sessions: same bytes and version; the version goes on from there.
	for _, key := range []intake.SessionKey{"alice", "bob"} {
		sg, vg := loadSession(t, dst, key)
		sw, vw := loadSession(t, src, key)
		if sg != sw || vg != vw || vg == 0 {
			t.Fatalf("restored session %s = %q v%d, want %q v%d", key, sg, vg, sw, vw)
		}
	}
	_, v := loadSession(t, dst, "bob")
	if next := commitSession(t, dst, "bob", v, "later"); next != v+1 {
		t.Fatalf("commit after the restore gave version %d, want %d", next, v+1)
	}

	// Forget through the restored links shreds alice's cases, and only hers.
	n := len(auditAll(t, dst))
	_, v = loadSession(t, dst, "alice")
	if _, err := dst.Commit(ctx, intake.Commit{Key: "alice", Expect: v, Forget: true, Now: now}); err != nil {
		t.Fatalf("Forget on the restored store: %v", err)
	}
	for _, r := range []intake.Ref{ref(1), ref(2), ref(5)} {
		if c := mustCase(t, dst, r); c.Status != intake.StatusWithdrawn || c.Answers != nil || c.Envelope != nil {
			t.Fatalf("restored case %s of alice was not shredded by Forget: %+v", r, c)
		}
	}
	for _, r := range []intake.Ref{ref(3), ref(6)} {
		if c := mustCase(t, dst, r); c.Status == intake.StatusWithdrawn || c.Answers == nil {
			t.Fatalf("Forget of alice shredded bob's case %s: %+v", r, c)
		}
	}
	es := auditAll(t, dst)
	if got := actions(es[n:]); !slices.Equal(got, []string{
		"withdrawn " + string(ref(1)), "withdrawn " + string(ref(2)), "withdrawn " + string(ref(5)),
	}) {
		t.Fatalf("audit of Forget on the restored store = %q", got)
	}

	// The chain goes on after the restored one.
	var restored *intake.AuditEntry
	for _, r := range want {
		if r.Kind == intake.RecordAudit {
			restored = r.Audit
		}
	}
	first := es[restored.Seq] // the entry after the restored chain (es is indexed from Seq 1)
	if first.Seq != restored.Seq+1 || string(first.Prev) != string(restored.Hash) {
		t.Fatalf("entry after the restored chain = seq %d prev %x; want seq %d prev %x", first.Seq, first.Prev, restored.Seq+1, restored.Hash)
	}
	if err := dst.AppendAudit(ctx, intake.AuditEntry{Time: now, Actor: "system", Action: "after"}); err != nil {
		t.Fatal(err)
	}
	verify(t, dst, len(es)+1)

	// Lifetimes came with the records: alice's session ends after its TTL, bob's does not.
	if o.Advance != nil {
		o.Advance(t, dst, SessionTTL+time.Minute)
		if _, v := loadSession(t, dst, "alice"); v != 0 {
			t.Fatal("alice's restored session outlived its TTL")
		}
		if _, v := loadSession(t, dst, "bob"); v == 0 {
			t.Fatal("bob's restored session, which has no TTL, expired")
		}
	}
}

// testRestoreTwice: restoring the same records again — into the restored store or into the
// source itself — changes nothing.
func testRestoreTwice(t *testing.T, open func(t *testing.T) DumpStore, _ Options) {
	src := open(t)
	Populate(t, src)
	want := DumpRecords(t, src)
	dst := open(t)
	RestoreRecords(t, dst, want, RestoreBatch)
	RestoreRecords(t, dst, want, len(want)) // again, in one call
	CompareRecords(t, DumpRecords(t, dst), want, 0)
	RestoreRecords(t, src, want, RestoreBatch)
	CompareRecords(t, DumpRecords(t, src), want, 0)
	for _, s := range []DumpStore{src, dst} {
		if q := queue(t, s, "t"); !sameRefs(q, []intake.Ref{ref(6), ref(1)}) {
			t.Fatalf("queue t after restoring twice = %v", q)
		}
		if id := pending(t, s, "alice"); id != 101 {
			t.Fatalf("NextUpdate(alice) after restoring twice = %d", id)
		}
		verify(t, s, PopulatedCounts()[intake.RecordAudit])
	}
	// One more restore of a dump with duplicates in a call: the last record of an identity wins.
	dup := append(slices.Clone(want), want...)
	if err := dst.Restore(ctx, dup); err != nil {
		t.Fatalf("Restore with every record twice: %v", err)
	}
	CompareRecords(t, DumpRecords(t, dst), want, 0)
}

// testRestoreReplaces: records with a stored identity replace the stored ones and move their
// indexes; none is added.
func testRestoreReplaces(t *testing.T, open func(t *testing.T) DumpStore, _ Options) {
	src := open(t)
	Populate(t, src)
	want := DumpRecords(t, src)
	dst := open(t)
	RestoreRecords(t, dst, want, RestoreBatch)

	var changed []intake.Record
	for _, r := range want {
		switch {
		case r.Kind == intake.RecordCase && r.Case.Ref == ref(6): // to team u, priority 2
			c := *r.Case
			c.Team, c.Priority = "u", 2
			r.Case = &c
		case r.Kind == intake.RecordCase && r.Case.Ref == ref(1): // shredded at the source since
			c := *r.Case
			c.Tombstone(intake.StatusShredded, t0.Add(time.Hour))
			c.Version++
			r.Case, r.Name = &c, ""
		case r.Kind == intake.RecordSession && r.Name == "bob":
			r.Version, r.Data = 7, []byte("newer session of bob")
		case r.Kind == intake.RecordSession && r.Name == "alice": // expired on the way
			r.Expires = time.Now().Add(-time.Minute)
		case r.Kind == intake.RecordOutbox && r.Outbox.ID == "a1":
			m := *r.Outbox
			m.Due, m.Attempts = t0.Add(5*time.Hour), 3
			r.Outbox = &m
		case r.Kind == intake.RecordUpdate && r.Update.ID == 101:
			u := *r.Update
			u.Body = []byte("replaced body")
			r.Update = &u
		case r.Kind == intake.RecordKey && r.Name == "escrow":
			r.Data = []byte("rotated escrow key")
		case r.Kind == intake.RecordDir && r.Name == "officer:o-1": // edited twice at the source
			r.Version, r.Data = 3, []byte("sealed officer, disabled")
		default:
			continue
		}
		changed = append(changed, r)
	}
	if len(changed) != 8 {
		t.Fatalf("the test changed %d records, want 8", len(changed))
	}
	if err := dst.Restore(ctx, changed); err != nil {
		t.Fatalf("Restore of changed records: %v", err)
	}
	got := DumpRecords(t, dst)
	wantCounts := Counts(want)
	wantCounts[intake.RecordSession]-- // alice's expired
	if c := Counts(got); !maps.Equal(c, wantCounts) {
		t.Fatalf("counts after replacing = %v, want %v", c, wantCounts)
	}
	if q := queue(t, dst, "t"); len(q) != 0 {
		t.Fatalf("queue t = %v: the moved and the shredded case must have left it", q)
	}
	if q := queue(t, dst, "u"); !sameRefs(q, []intake.Ref{ref(3), ref(6)}) {
		t.Fatalf("queue u = %v, want the escalated case then the moved one", q)
	}
	if got := overdue(t, dst, t0.Add(2*time.Hour)); len(got) != 0 {
		t.Fatalf("Overdue = %v: the shredded case must have left the deadlines", got)
	}
	if c := mustCase(t, dst, ref(1)); c.Envelope != nil || c.Answers != nil || c.Status != intake.StatusShredded {
		t.Fatalf("restored tombstone = %+v", c)
	}
	if sb, v := loadSession(t, dst, "bob"); sb != "newer session of bob" || v != 7 {
		t.Fatalf("replaced session = %q v%d", sb, v)
	}
	if _, v := loadSession(t, dst, "alice"); v != 0 {
		t.Fatal("a session restored with an Expires past is there")
	}
	if h := heads(t, dst, t0.Add(time.Hour)); h["alice"].ID != "" || h["officer"].ID != "o1" {
		t.Fatalf("DueMessages = %+v: alice's head a1 is now due later and holds her line", h)
	}
	if h := heads(t, dst, t0.Add(5*time.Hour))["alice"]; h.ID != "a1" || h.Attempts != 3 {
		t.Fatalf("alice's head later = %+v", h)
	}
	u, err := dst.NextUpdate(ctx, "alice")
	if err != nil || u == nil || u.ID != 101 || string(u.Body) != "replaced body" {
		t.Fatalf("replaced update = %+v, %v", u, err)
	}
	if k, err := dst.KeyRecord(ctx, "escrow"); err != nil || string(k) != "rotated escrow key" {
		t.Fatalf("replaced key record = %q, %v", k, err)
	}
	wantDir(t, dst, "officer:o-1", "sealed officer, disabled", 3)
	wantDir(t, dst, "team:t", "sealed team t, edited", 2)
	// The shredded case is no longer linked: Forget of alice withdraws only ref(2) and ref(5).
	n := len(auditAll(t, dst))
	if _, err := dst.Commit(ctx, intake.Commit{Key: "alice", Forget: true, Now: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := actions(auditAll(t, dst)[n:]); !slices.Equal(got, []string{"withdrawn " + string(ref(2)), "withdrawn " + string(ref(5))}) {
		t.Fatalf("Forget after the replacement = %q", got)
	}
	verify(t, dst, n+2)
}

// testRestoreChainsDiffer: an audit entry whose Seq is stored with another Hash, one that does
// not link to the chain's end, or one past it is refused with ErrConflict, and nothing of that
// Restore is written.
func testRestoreChainsDiffer(t *testing.T, open func(t *testing.T) DumpStore, _ Options) {
	src := open(t)
	Populate(t, src)
	want := DumpRecords(t, src)
	var entries []intake.AuditEntry
	for _, r := range want {
		if r.Kind == intake.RecordAudit {
			entries = append(entries, *r.Audit)
		}
	}

	// A store with a chain of its own.
	other := open(t)
	if err := other.AppendAudit(ctx, intake.AuditEntry{Time: t0, Actor: "system", Action: "elsewhere"}); err != nil {
		t.Fatal(err)
	}
	before := DumpRecords(t, other)
	if err := other.Restore(ctx, want); !isConflict(err) {
		t.Fatalf("Restore onto another chain: %v, want ErrConflict", err)
	}
	CompareRecords(t, DumpRecords(t, other), before, 0)

	dst := open(t)
	RestoreRecords(t, dst, want, RestoreBatch)
	before = DumpRecords(t, dst)
	altered := entries[1]
	altered.Hash = append([]byte(nil), altered.Hash...)
	altered.Hash[0] ^= 1
	unlinked := intake.AuditEntry{Time: t0, Actor: "system", Action: "next", Prev: make([]byte, 32)}
	unlinked.Seq = entries[len(entries)-1].Seq + 1
	unlinked.Hash = unlinked.ChainHash()
	past := intake.AuditEntry{Time: t0, Actor: "system", Action: "far"}
	past.Link(&entries[len(entries)-1])
	past.Seq += 5
	past.Hash = past.ChainHash()
	for name, e := range map[string]intake.AuditEntry{
		"same Seq, another Hash": altered, "not linked to the end": unlinked, "past the end": past,
	} {
		rs := []intake.Record{
			{Kind: intake.RecordKey, Name: "written only with the entry", Data: []byte("x")},
			{Kind: intake.RecordAudit, Audit: &e},
		}
		if err := dst.Restore(ctx, rs); !isConflict(err) {
			t.Fatalf("Restore of an audit entry %s: %v, want ErrConflict", name, err)
		}
		CompareRecords(t, DumpRecords(t, dst), before, 0)
	}
	verify(t, dst, len(entries))
}

// testRestoreBadRecords: a record without what its kind needs is refused and nothing is written.
func testRestoreBadRecords(t *testing.T, open func(t *testing.T) DumpStore, _ Options) {
	dst := open(t)
	good := intake.Record{Kind: intake.RecordKey, Name: "k", Data: []byte("x")}
	for name, bad := range map[string]intake.Record{
		"unknown kind":         {Kind: "lease"},
		"case without a case":  {Kind: intake.RecordCase},
		"case at version 0":    {Kind: intake.RecordCase, Case: newCase(ref(1), "t", 1, t0)},
		"session at version 0": {Kind: intake.RecordSession, Name: "k", Data: []byte("s")},
		"outbox without Seq":   {Kind: intake.RecordOutbox, Outbox: &intake.OutboxMessage{ID: "m", Chat: "k"}},
		"audit without entry":  {Kind: intake.RecordAudit},
		"dir at version 0":     {Kind: intake.RecordDir, Name: "team:t", Data: []byte("x")},
		"dir without a name":   {Kind: intake.RecordDir, Version: 1, Data: []byte("x")},
		"dir name too long":    {Kind: intake.RecordDir, Name: strings.Repeat("n", intake.MaxDirNameBytes+1), Version: 1, Data: []byte("x")},
		"dir record too large": {Kind: intake.RecordDir, Name: "team:t", Version: 1, Data: make([]byte, intake.MaxDirRecordBytes+1)},
		"empty dir record":     {Kind: intake.RecordDir, Name: "team:t", Version: 1},
	} {
		err := dst.Restore(ctx, []intake.Record{good, bad})
		if err == nil {
			t.Fatalf("Restore of a %s succeeded", name)
		}
		if errors.Is(err, intake.ErrUnavailable) {
			t.Fatalf("Restore of a %s: %v, a temporary error", name, err)
		}
		if rs := DumpRecords(t, dst); len(rs) != 0 {
			t.Fatalf("Restore of a %s wrote %d records", name, len(rs))
		}
	}
}
