// storetest is ready

// Package storetest is the conformance suite of the storage contract (intake.Store): one set of
// behaviour tests that every engine runs from its own tests, so bbolt and Redis behave the same.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) intake.Store { return openEmpty(t) }, storetest.Options{...})
//	}
//
// Times are passed in wherever the contract takes them, so most tests need no clock. Lifetimes
// that run on the store's own clock (session TTL, leases) are tested with short real waits (at
// most a second each) and assertions that only get truer as time passes, so a slow machine cannot
// make them fail.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/internal/intake"
)

// Options adapts the suite to an engine. The zero value runs every engine-independent test.
type Options struct {
	// Tamper alters the stored audit entry with Seq seq behind the store's back (a field changed in
	// place, as an attacker with the file or the server would), so the suite can check that
	// intake.VerifyAudit then fails with intake.ErrAuditBroken. When nil, the suite still checks
	// tamper detection on altered, dropped and reordered entries as the engine returns them.
	Tamper func(t *testing.T, s intake.Store, seq uint64)
	// Advance moves the store's clock forward by d (lifetimes: dedupe, sessions, leases, tracked
	// messages, dead letters). Engines whose clock a test can move provide it; the suite then also
	// checks that an update id is forgotten after intake.InboxDedupTTL, tracked messages after
	// intake.TrackedTTL and dead letters after intake.DeadLetterTTL.
	Advance func(t *testing.T, s intake.Store, d time.Duration)
	// RequireDumper makes the Dumper tests fail, rather than skip, when a store does not
	// implement intake.Dumper.
	RequireDumper bool
}

// Run runs every behaviour test of the contract as a subtest. open must return a new, empty store
// for each call and arrange for it to be closed and removed (t.Cleanup). Subtests run one after
// the other, so open may reuse one server; the Dumper tests call it more than once in a subtest
// (a restore needs a second, empty store). At most one Options may be given.
func Run(t *testing.T, open func(t *testing.T) intake.Store, opts ...Options) {
	var o Options
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		t.Fatal("storetest.Run: at most one Options")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil store")
			}
			tc.run(t, s, o)
		})
	}
	runDumper(t, open, o)
}

// RunOnly runs the behaviour tests whose names start with prefix (such as "Directory/"), as Run
// does but without the Dumper group: a quick run of one part of the contract.
func RunOnly(t *testing.T, open func(t *testing.T) intake.Store, prefix string, opts ...Options) {
	if len(opts) > 1 {
		t.Fatal("storetest.RunOnly: at most one Options")
	}
	var o Options
	if len(opts) == 1 {
		o = opts[0]
	}
	n := 0
	for _, tc := range tests {
		if !strings.HasPrefix(tc.name, prefix) {
			continue
		}
		n++
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil store")
			}
			tc.run(t, s, o)
		})
	}
	if n == 0 {
		t.Fatalf("storetest.RunOnly: no test starts with %q", prefix)
	}
}

type test struct {
	name string
	run  func(t *testing.T, s intake.Store, o Options)
}

// tests lists the behaviours, grouped as the contract is.
var tests = []test{
	// Sessions and Commit.
	{"Session/Empty", testSessionEmpty},
	{"Session/VersionsAndConflicts", testSessionVersions},
	{"Session/DeleteAndRecreate", testSessionDelete},
	{"Session/KeysAreIndependent", testSessionKeys},
	{"Session/CopiesBytes", testSessionCopies},
	{"Session/ConcurrentCommitsOneWins", testSessionConcurrent},
	{"Session/TTLExpires", testSessionTTL},
	{"Session/TTLRenewedByCommit", testSessionTTLRenewed},
	{"Commit/CancelledContextWritesNothing", testCommitCancelled},
	{"Commit/ConflictWritesNothing", testCommitConflictWritesNothing},
	{"Commit/CaseRefCollisionWritesNothing", testCommitRefCollision},
	{"Commit/DuplicateOutboxIDWritesNothing", testCommitDuplicateOutbox},
	{"Commit/DoneNotPendingWritesNothing", testCommitDoneNotPending},
	{"Commit/AllParts", testCommitAllParts},
	// Inbox.
	{"Inbox/Dedupe", testInboxDedupe},
	{"Inbox/DedupeConcurrent", testInboxDedupeConcurrent},
	{"Inbox/DedupeAfterDone", testInboxDedupeAfterDone},
	{"Inbox/DedupeExpires", testInboxDedupeExpires},
	{"Inbox/PerChatOrder", testInboxOrder},
	{"Inbox/PutUpdates", testInboxPutUpdates},
	{"Inbox/PendingChats", testInboxPendingChats},
	{"Inbox/Offset", testInboxOffset},
	// Outbox.
	{"Outbox/OnePerChatInOrder", testOutboxOrder},
	{"Outbox/RetryHoldsTheLine", testOutboxRetry},
	{"Outbox/MarkFailed", testOutboxMarkFailed},
	{"Outbox/UnknownID", testOutboxUnknown},
	{"Outbox/OldestDueFirst", testOutboxOldestFirst},
	{"Outbox/SeqAcrossCommits", testOutboxSeqAcrossCommits},
	{"Outbox/DropChat", testOutboxDropChat},
	// Cases.
	{"Cases/CreateWithQueueEntry", testCaseCreate},
	{"Cases/ListOldestFirst", testCasesList},
	{"Cases/ListFilters", testListCases},
	{"Cases/UpdateVersionAndAudit", testUpdateCase},
	{"Cases/UpdateFuncErrorWritesNothing", testUpdateCaseFuncError},
	{"Cases/UpdateMovesIndexes", testUpdateCaseIndexes},
	{"Cases/UpdateConcurrentOneWins", testUpdateCaseConcurrent},
	// Queues.
	{"Queue/PriorityThenAge", testQueueOrder},
	{"Queue/Claim", testClaim},
	{"Queue/ClaimRace", testClaimRace},
	{"Queue/Release", testRelease},
	{"Queue/Overdue", testOverdue},
	{"Queue/EscalateOncePerLevel", testEscalate},
	{"Queue/EscalateConcurrentOneFires", testEscalateConcurrent},
	// Leases.
	{"Lease/Exclusive", testLeaseExclusive},
	{"Lease/Expires", testLeaseExpires},
	{"Lease/ConcurrentOneWins", testLeaseConcurrent},
	// Audit.
	{"Audit/AppendAndRead", testAuditAppend},
	{"Audit/ConcurrentWritersKeepTheChain", testAuditConcurrent},
	{"Audit/PagesPastMaxBatch", testAuditPaging},
	{"Audit/TamperDetected", testAuditTamper},
	// Shredding.
	{"Shred/Tombstones", testShred},
	{"Shred/UnknownRefShredsNothing", testShredUnknown},
	{"Shred/Forget", testForget},
	{"Shred/ForgetInFailedCommitShredsNothing", testForgetConflict},
	{"Shred/ShredUnlinksFromPerson", testShredUnlinks},
	// Rate limits and key records.
	{"RateLimit/Windows", testRateWindows},
	{"RateLimit/Concurrent", testRateConcurrent},
	{"KeyRecords", testKeyRecords},
	// The Telegram edge's bookkeeping: tracked messages, scheduled clears, dead letters.
	{"Tracker/OrderAndDuplicates", testTrackOrderAndDuplicates},
	{"Tracker/Untrack", testTrackUntrack},
	{"Tracker/ChatsAreIndependent", testTrackChatsIndependent},
	{"Tracker/LimitDropsOldest", testTrackLimit},
	{"Tracker/Concurrent", testTrackConcurrent},
	{"Tracker/TTLExpires", testTrackTTL},
	{"Clear/ScheduleReplaceCancel", testClearSchedule},
	{"Clear/LimitAndTies", testClearLimitAndTies},
	{"Clear/CopiesTarget", testClearCopiesTarget},
	{"DeadLetters/PutAndList", testDeadLetters},
	{"DeadLetters/SizeLimit", testDeadLetterSize},
	{"DeadLetters/DuplicateConcurrent", testDeadLetterConcurrent},
	{"DeadLetters/TTLExpires", testDeadLetterTTL},
	// The directory: teams, officers, invites.
	{"Directory/CompareAndSet", testDirCAS},
	{"Directory/ConcurrentCompareAndSetOneWins", testDirConcurrentCAS},
	{"Directory/DeleteWithVersion", testDirDelete},
	{"Directory/TakeExactlyOnce", testDirTakeOnce},
	{"Directory/NamesByPrefix", testDirNames},
	{"Directory/Limits", testDirLimits},
	{"Directory/CopiesNotAliased", testDirCopies},
}

// t0 is the suite's "now": far enough from the epoch that no zero value is mistaken for it,
// whole minutes so that rate windows start on it.
var t0 = time.Date(2031, 3, 4, 5, 0, 0, 0, time.UTC)

var ctx = context.Background()

// ref makes a distinct case reference for test i.
func ref(i int) intake.Ref { return intake.Ref(fmt.Sprintf("TEST-%04d-CASE-REF0", i)) }

// newCase returns a queued case as intake builds them, with a body that must disappear when it is
// shredded.
func newCase(r intake.Ref, team string, priority int, created time.Time) *intake.Case {
	return &intake.Case{
		Ref: r, Code: "7QX-2MD", Flow: "intake", Revision: 2, Lang: "ckb",
		Status: intake.StatusQueued, Created: created,
		Routing:  map[flows.FieldID][]string{"governorate": {"erbil"}},
		Team:     team,
		Answers:  []byte("sealed answers of " + string(r)),
		Priority: priority,
	}
}

// addCase creates c in a commit of key, whatever the key's session version is now.
func addCase(t *testing.T, s intake.Store, key intake.SessionKey, c *intake.Case) {
	t.Helper()
	_, v, err := s.LoadSession(ctx, key)
	if err != nil {
		t.Fatalf("LoadSession: %v", err)
	}
	if _, err := s.Commit(ctx, intake.Commit{Key: key, Expect: v, Session: []byte("session"), NewCase: c, Now: c.Created}); err != nil {
		t.Fatalf("Commit with NewCase %s: %v", c.Ref, err)
	}
}

func mustCase(t *testing.T, s intake.Store, r intake.Ref) *intake.Case {
	t.Helper()
	c, err := s.Case(ctx, r)
	if err != nil {
		t.Fatalf("Case(%s): %v", r, err)
	}
	if c.Ref != r {
		t.Fatalf("Case(%s) returned case %s", r, c.Ref)
	}
	return c
}

func auditAll(t *testing.T, s intake.Store) []intake.AuditEntry {
	t.Helper()
	var all []intake.AuditEntry
	var after uint64
	for {
		batch, err := s.AuditEntries(ctx, after, intake.MaxBatch)
		if err != nil {
			t.Fatalf("AuditEntries: %v", err)
		}
		all = append(all, batch...)
		if len(batch) < intake.MaxBatch {
			return all
		}
		after = batch[len(batch)-1].Seq
	}
}

func verify(t *testing.T, s intake.Store, want int) {
	t.Helper()
	n, err := intake.VerifyAudit(ctx, s)
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	if n != want {
		t.Fatalf("VerifyAudit checked %d entries, want %d", n, want)
	}
}

// actions lists "action ref" for each audit entry.
func actions(es []intake.AuditEntry) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Action+" "+string(e.Ref))
	}
	return out
}

func caseRefs(cs []*intake.Case) []intake.Ref {
	out := make([]intake.Ref, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Ref)
	}
	return out
}

func queue(t *testing.T, s intake.Store, team string) []intake.Ref {
	t.Helper()
	cs, err := s.Queue(ctx, team, 0)
	if err != nil {
		t.Fatalf("Queue(%s): %v", team, err)
	}
	return caseRefs(cs)
}

func pending(t *testing.T, s intake.Store, chat intake.SessionKey) int64 {
	t.Helper()
	u, err := s.NextUpdate(ctx, chat)
	if err != nil {
		t.Fatalf("NextUpdate: %v", err)
	}
	if u == nil {
		return 0
	}
	return u.ID
}

func putUpdate(t *testing.T, s intake.Store, chat intake.SessionKey, id int64) {
	t.Helper()
	dup, err := s.PutUpdate(ctx, intake.Update{ID: id, Chat: chat, Body: []byte(fmt.Sprintf("sealed update %d", id)), Received: t0})
	if err != nil || dup {
		t.Fatalf("PutUpdate(%d): dup %v, %v", id, dup, err)
	}
}

// heads returns the due messages at now by chat.
func heads(t *testing.T, s intake.Store, now time.Time) map[intake.SessionKey]intake.OutboxMessage {
	t.Helper()
	ms, err := s.DueMessages(ctx, now, 0)
	if err != nil {
		t.Fatalf("DueMessages: %v", err)
	}
	out := map[intake.SessionKey]intake.OutboxMessage{}
	for _, m := range ms {
		if _, ok := out[m.Chat]; ok {
			t.Fatalf("DueMessages returned two messages of one chat: %v", ms)
		}
		out[m.Chat] = m
	}
	return out
}

func msg(id string, chat intake.SessionKey, due time.Time) intake.OutboxMessage {
	return intake.OutboxMessage{ID: intake.OutboxID(id), Chat: chat, Body: []byte("sealed request " + id), Due: due}
}

// race runs f(i) for i in [0,n) in n goroutines released at once, and waits for them.
func race(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

func sameRefs(got, want []intake.Ref) bool { return slices.Equal(got, want) }

func isConflict(err error) bool { return errors.Is(err, intake.ErrConflict) }
