package intake

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Storage errors, classified once here so adapters and callers agree.
var (
	// ErrNotFound: no such session, case, update or message.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the record changed since it was loaded (compare-and-set failed).
	ErrConflict = errors.New("version conflict")
	// ErrUnavailable: the storage engine cannot be reached or refused the operation for now
	// (Redis down, a timeout). It is temporary: the Telegram edge must not acknowledge an update
	// it could not store, and retries later. Adapters wrap their own error with it.
	ErrUnavailable = errors.New("storage unavailable")
)

// ErrNotCompacted is returned (wrapped) by a Shred or a Forget commit whose change is durable but
// whose engine could not yet purge old copies from its files (bbolt's compaction). The write
// happened: callers must not retry it, and should alert an operator.
var ErrNotCompacted = errors.New("shredded, but the store's files are not compacted yet")

// ClaimedError is returned by Claim when another officer holds the case.
type ClaimedError struct{ By string }

func (e *ClaimedError) Error() string { return "case already claimed by " + e.By }

// Limits and lifetimes of stored records.
const (
	// InboxDedupTTL is how long an update id is remembered to drop redeliveries. Telegram keeps
	// undelivered updates for 24 hours; twice that leaves room for clock skew and outages.
	InboxDedupTTL = 48 * time.Hour
	// MaxBatch bounds every list a store returns in one call.
	MaxBatch = 1000
)

// SessionKey identifies one person's conversation (and, in a private chat, the chat) in storage.
// The Telegram edge makes it a blind index of the chat id, never the id itself.
type SessionKey string

// Version is a compare-and-set counter; 0 means "no stored record".
type Version uint64

// Update is one Telegram update in the inbox.
type Update struct {
	ID       int64      // Telegram's update_id: unique, increasing
	Chat     SessionKey // blind index of the chat it belongs to
	Body     []byte     // the update, sealed (it holds what the person typed)
	Received time.Time
}

// OutboxID names an outbox message; callers draw it from crypto/rand (NewOutboxID).
type OutboxID string

// OutboxMessage is one message waiting to be sent to Telegram.
type OutboxMessage struct {
	ID   OutboxID
	Chat SessionKey // blind index of the chat; the raw chat id is inside Body
	Body []byte     // the request to send, sealed
	// Due is when it may be sent (now, or a retry time).
	Due      time.Time
	Attempts int
	// Seq orders a chat's messages; the store assigns it when the message is enqueued (in a
	// Commit, in slice order), increasing per chat.
	Seq uint64
}

// AuditEntry is one line of the append-only, hash-chained audit log. The store assigns Seq,
// Prev and Hash when it appends, in the same transaction as the change it records.
type AuditEntry struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"` // "system", a blind-indexed person, an officer id
	Action string    `json:"action"`
	Ref    Ref       `json:"ref,omitempty"`
	From   Status    `json:"from,omitempty"`
	To     Status    `json:"to,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Prev   []byte    `json:"prev"` // Hash of the previous entry; 32 zero bytes for the first
	Hash   []byte    `json:"hash"`
}

// CaseFilter selects cases for ListCases. Zero fields match everything.
type CaseFilter struct {
	Team          string
	Status        Status
	CreatedAfter  time.Time // exclusive
	CreatedBefore time.Time // exclusive
	Limit         int       // at most MaxBatch; 0 means MaxBatch
}

// Commit is everything one turn writes, applied atomically: all of it or none of it.
type Commit struct {
	Key SessionKey
	// Expect is the version the turn loaded; the commit fails with ErrConflict if it moved.
	Expect Version
	// Session is the new session, sealed, or nil to delete it. A stored session's version goes
	// up by one per commit; a session created where none is stored (never, deleted or expired)
	// starts again at 1: the store keeps no trace of a deleted session, and the per-chat lease
	// orders turns across a deletion.
	Session []byte
	// SessionTTL lets the store drop a session left idle this long (0: keep until deleted). Each
	// commit sets the session's lifetime anew; an expired session reads as absent (version 0).
	SessionTTL time.Duration
	// Done marks the inbox update this turn processed (0: none): update Done of chat Key. If it is
	// not pending (already done by another turn, or never stored) the commit fails with
	// ErrConflict, so an update has its effects once.
	Done int64
	// NewCase, when set, is created with Version 1, linked to Key, put in its team's queue. If a
	// case with its Ref exists the commit fails with ErrConflict.
	NewCase *Case
	// Outbox messages are enqueued (replies, officer notices); their Chat may differ from Key. An
	// ID already in the outbox fails the commit with ErrConflict.
	Outbox []OutboxMessage
	// Audit entries are appended to the chain, after the entries of Forget.
	Audit []AuditEntry
	// Forget crypto-shreds every case linked to Key (the person's /forget): their envelopes and
	// sealed records are deleted, a tombstone stays (see Case.Tombstone, reason StatusWithdrawn),
	// an audit entry {Actor "person", Action "withdrawn", Ref, From: old status, To: withdrawn} is
	// appended per case (in Ref order), the link from Key to the cases is removed, and no copy of
	// the envelopes remains in the store's files.
	Forget bool
	// Now is the time of the turn (tombstones' shredding time).
	Now time.Time
}

// Store is the storage contract: small interfaces grouped by use, all implemented by each engine
// (internal/store/boltstore, internal/store/redisstore) with the same behaviour, proven by
// internal/store/storetest. Stores see sealed bytes for sessions, updates, outbox messages and
// case bodies, never plaintext. A write is all or nothing: one that fails with ErrConflict or
// ErrNotFound wrote nothing; after ErrUnavailable (a timeout) it may have been applied, but never
// in part. Stores keep no reference to the caller's slices and return copies. Lifetimes (session
// TTL, dedupe, leases) run on the store's clock; every other time is passed in.
type Store interface {
	Sessions
	Inbox
	Outbox
	Cases
	Queues
	Leases
	Audit
	RateLimits
	KeyRecords
	Tracker
	DeadLetters
	Directory
	Close() error
}

// Sessions are the conversations in progress.
type Sessions interface {
	// LoadSession returns the stored (sealed) session and its version, or nil and version 0.
	LoadSession(ctx context.Context, key SessionKey) ([]byte, Version, error)
	// Commit applies one turn's writes atomically and returns the session's new version (0 when
	// the session was deleted).
	Commit(ctx context.Context, c Commit) (Version, error)
}

// Inbox holds updates from Telegram between their arrival and their processing.
type Inbox interface {
	// PutUpdate stores an update durably, unless an update with the same ID was stored in the last
	// InboxDedupTTL: then dup is true and nothing is written. Only after PutUpdate returns nil may
	// the update be acknowledged to Telegram.
	PutUpdate(ctx context.Context, u Update) (dup bool, err error)
	// PutUpdates stores updates as PutUpdate does, in order, and reports which were duplicates.
	// An engine may write them in one transaction; after an error some may be stored (their
	// dedupe makes storing them again harmless). The edge stores one chat's updates of a
	// getUpdates batch with one call.
	PutUpdates(ctx context.Context, us []Update) (dups []bool, err error)
	// NextUpdate returns the chat's pending update with the lowest ID, or nil (and no error).
	NextUpdate(ctx context.Context, chat SessionKey) (*Update, error)
	// PendingChats lists up to limit chats that have pending updates, each once, in no set order.
	PendingChats(ctx context.Context, limit int) ([]SessionKey, error)
	// DoneUpdate marks an update processed (a turn does it atomically through Commit.Done); an
	// update that is not pending is ErrNotFound. A done update stays remembered for dedupe.
	DoneUpdate(ctx context.Context, chat SessionKey, id int64) error
	// Offset returns the persisted getUpdates offset (0 when none); SetOffset stores a new one,
	// ignoring one lower than the stored offset.
	Offset(ctx context.Context) (int64, error)
	SetOffset(ctx context.Context, offset int64) error
}

// Outbox holds messages to send, written in the same transaction as the state they belong to.
type Outbox interface {
	// DueMessages returns up to limit messages due at now, at most one per chat: each chat's
	// lowest-Seq message, and only if that one is due, so a chat's messages go out in order. The
	// longest-waiting (earliest Due) come first, so no chat starves.
	DueMessages(ctx context.Context, now time.Time, limit int) ([]OutboxMessage, error)
	// MarkSent removes a sent message. MarkSent, Retry and MarkFailed of an id that is not in the
	// outbox return ErrNotFound.
	MarkSent(ctx context.Context, id OutboxID) error
	// Retry counts an attempt (Attempts+1) and makes the message due again at at; it stays its
	// chat's head, so the chat's later messages wait for it.
	Retry(ctx context.Context, id OutboxID, at time.Time) error
	// MarkFailed removes a message that will never be sent (a permanent error).
	MarkFailed(ctx context.Context, id OutboxID) error
	// DropChat removes every pending message of a chat (the person blocked the bot) and returns
	// how many.
	DropChat(ctx context.Context, chat SessionKey) (int, error)
}

// Cases are the requests for help.
type Cases interface {
	// Case loads a case by reference (ErrNotFound when there is none).
	Case(ctx context.Context, ref Ref) (*Case, error)
	// Cases lists every case reference, tombstones included, oldest first (by Created, then Ref).
	Cases(ctx context.Context) ([]Ref, error)
	// ListCases returns the cases that match, oldest first (by Created, then Ref).
	ListCases(ctx context.Context, f CaseFilter) ([]*Case, error)
	// UpdateCase changes a case in one transaction: f gets the stored case and changes it; with
	// expect != 0 the case's Version must equal expect (else ErrConflict). Version is incremented
	// and audit, when set, is appended in the same transaction; the queue and deadline indexes
	// follow the changed Status, Team, Priority and Deadline. An error from f is returned (wrapped
	// or not) and nothing is written; f may not change Ref (the update fails) and its change to
	// Version is ignored. An unknown ref is ErrNotFound.
	UpdateCase(ctx context.Context, ref Ref, expect Version, f func(*Case) error, audit *AuditEntry) error
	// Shred turns cases into tombstones (crypto-shredding), at time now, for reason, appending one
	// audit entry per case {Actor "system", Action "shredded", Ref, From: old status, To: reason}
	// in the same transaction. When it returns, no copy of their envelopes remains in the store's
	// files. A reference that does not exist is ErrNotFound and nothing is shredded. Shredding
	// increments Version, takes the case out of its queue and removes the link from the person's
	// key to the case (a later Forget of that key does not touch it).
	Shred(ctx context.Context, refs []Ref, reason Status, now time.Time) error
}

// Queues are each team's unclaimed cases.
type Queues interface {
	// Queue returns up to limit unclaimed cases (queued or escalated) of a team, by Priority
	// (1 first; a Priority outside 1..3, such as 0, counts as 3), then oldest first (by Created,
	// then Ref).
	Queue(ctx context.Context, team string, limit int) ([]*Case, error)
	// Claim gives an unclaimed case to officer, atomically: of two officers claiming at once, one
	// wins and the other gets *ClaimedError naming the winner. The case becomes StatusClaimed with
	// ClaimedBy and Claimed set, Version+1, out of the queue, and the audit entry {Actor officer,
	// Action "claimed", Ref, From: old status, To: claimed} is appended. Claiming a case the
	// officer already holds returns it unchanged; a closed or shredded case is ErrConflict; an
	// unknown ref is ErrNotFound.
	Claim(ctx context.Context, ref Ref, officer string, now time.Time) (*Case, error)
	// Release puts a claimed case back in its queue (only its claimant may: anyone else gets
	// *ClaimedError naming the claimant; a case not claimed is ErrConflict): Status goes back to
	// queued (escalated if Escalation > 0), ClaimedBy and Claimed are cleared, Version+1, and the
	// audit entry {Actor officer, Action "released", Ref, From: claimed, To: new status} is
	// appended.
	Release(ctx context.Context, ref Ref, officer string, now time.Time) error
	// Overdue returns up to limit unclaimed cases whose Deadline is set and at or before now,
	// earliest Deadline first, across teams.
	Overdue(ctx context.Context, now time.Time, limit int) ([]*Case, error)
	// Escalate records escalation level on a case; it reports true only for the call that raised
	// the level, so each level fires once even with several schedulers. Raising sets Escalation,
	// turns an unclaimed case's Status to escalated (a claimed one stays claimed), Version+1, and
	// appends {Actor "system", Action "escalated", Ref, From: old status, To: new status, Reason
	// "level N"}. A level at or below the recorded one, or a closed or shredded case, is false
	// with no change; an unknown ref is ErrNotFound.
	Escalate(ctx context.Context, ref Ref, level int, now time.Time) (bool, error)
}

// Leases let one replica at a time work on a chat.
type Leases interface {
	// AcquireLease takes or renews the lease of a chat for owner, for ttl from now; false when
	// someone else holds an unexpired lease.
	AcquireLease(ctx context.Context, chat SessionKey, owner string, ttl time.Duration) (bool, error)
	// ReleaseLease gives up owner's lease (a no-op for someone else's).
	ReleaseLease(ctx context.Context, chat SessionKey, owner string) error
}

// Audit is the append-only, hash-chained log of everything done to cases.
type Audit interface {
	// AppendAudit appends one entry (Commit and UpdateCase append inside their transactions). The
	// store sets Seq, Prev and Hash (see AuditEntry.Link), ignoring the caller's, and keeps Time
	// to the nanosecond, which the hash covers.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// AuditEntries returns up to limit entries with Seq > after, in order.
	AuditEntries(ctx context.Context, after uint64, limit int) ([]AuditEntry, error)
}

// RateLimits count events per key in fixed windows.
type RateLimits interface {
	// Hit counts one event for key in the window containing now and returns the count so far.
	// Windows are aligned to the Unix epoch (the one containing now starts at the last multiple of
	// window since 1970-01-01 UTC); a counter may be dropped once its window has passed.
	Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int, error)
}

// KeyRecords are the sealed blobs internal/vault keeps (team keys, the escrow public key).
type KeyRecords interface {
	KeyRecord(ctx context.Context, name string) ([]byte, error) // nil, nil when absent
	PutKeyRecord(ctx context.Context, name string, sealed []byte) error
	KeyRecordNames(ctx context.Context) ([]string, error) // sorted
}

// ClampLimit applies MaxBatch to a requested list size.
func ClampLimit(n int) int {
	if n <= 0 || n > MaxBatch {
		return MaxBatch
	}
	return n
}

// ErrAuditBroken is returned by VerifyAudit when the chain does not hold.
var ErrAuditBroken = errors.New("audit chain broken")

// VerifyAudit walks the whole audit chain and checks every link; it returns how many entries it
// checked. Both engines are verified by this one function.
func VerifyAudit(ctx context.Context, a Audit) (int, error) {
	prev := make([]byte, 32)
	var after uint64
	n := 0
	for {
		batch, err := a.AuditEntries(ctx, after, MaxBatch)
		if err != nil {
			return n, err
		}
		for _, e := range batch {
			if e.Seq != after+1 {
				return n, fmt.Errorf("%w: entry %d follows %d", ErrAuditBroken, e.Seq, after)
			}
			if string(e.Prev) != string(prev) {
				return n, fmt.Errorf("%w: entry %d does not link to the one before", ErrAuditBroken, e.Seq)
			}
			if string(e.Hash) != string(e.ChainHash()) {
				return n, fmt.Errorf("%w: entry %d was altered", ErrAuditBroken, e.Seq)
			}
			prev, after = e.Hash, e.Seq
			n++
		}
		if len(batch) < MaxBatch {
			return n, nil
		}
	}
}

// Limits of the edge's bookkeeping records.
const (
	// MaxTrackedMessages bounds the message ids remembered per chat for /exit: beyond it the oldest
	// (by At, then ID) are dropped. A full intake shows a few dozen messages.
	MaxTrackedMessages = 1000
	// TrackedTTL is how long a chat's tracked messages are kept after the last one was added.
	// Telegram lets a bot delete private-chat messages for 48 hours only; the ids are kept a
	// little longer so /exit can tell the person that older messages could not be cleared.
	TrackedTTL = 7 * 24 * time.Hour
	// DeadLetterTTL is how long a dead letter is kept for an operator to look at.
	DeadLetterTTL = 7 * 24 * time.Hour
	// MaxDeadLetterBytes bounds the sealed body of one dead letter (a webhook body is at most
	// 1 MiB; sealing adds a few dozen bytes).
	MaxDeadLetterBytes = 1<<20 + 1024
)

// TrackedMessage is one message shown in a chat, by either side.
type TrackedMessage struct {
	ID int64     // Telegram's message_id in the chat
	At time.Time // when it was sent (Telegram's date), for the 48-hour delete window
}

// Tracker remembers which messages a conversation showed, so /exit can delete them (DESIGN.md §6:
// quick exit). Keys are blind indexes; message ids are small per-chat counters, not content.
type Tracker interface {
	// TrackMessages adds message ids to a chat's set. An id already tracked keeps its first At.
	// The set's lifetime is TrackedTTL from this call (the store's clock); beyond
	// MaxTrackedMessages the oldest are dropped.
	TrackMessages(ctx context.Context, chat SessionKey, msgs []TrackedMessage) error
	// TrackedMessages returns a chat's tracked messages ordered by ID (nil when none).
	TrackedMessages(ctx context.Context, chat SessionKey) ([]TrackedMessage, error)
	// UntrackMessages removes ids from a chat's set; ids not tracked are ignored.
	UntrackMessages(ctx context.Context, chat SessionKey, ids []int64) error
	// ScheduleClear sets (or, with a zero at, cancels) the time a chat's conversation is cleared
	// automatically; target is the sealed request the clear needs (it holds the raw chat id).
	// A later call replaces an earlier one.
	ScheduleClear(ctx context.Context, chat SessionKey, at time.Time, target []byte) error
	// DueClears returns up to limit scheduled clears whose time is at or before now, earliest
	// first, without removing them (the caller cancels each once it has acted on it).
	DueClears(ctx context.Context, now time.Time, limit int) ([]ScheduledClear, error)
}

// ScheduledClear is one pending automatic clear of a conversation.
type ScheduledClear struct {
	Chat   SessionKey
	At     time.Time
	Target []byte // sealed
}

// DeadLetter is an incoming request Penah could not understand (a webhook body that is not an
// update). It is kept, sealed, for an operator to inspect; nothing of it is logged.
type DeadLetter struct {
	ID       string    // from crypto/rand (NewOutboxID's alphabet)
	Received time.Time // when it arrived
	Source   string    // "webhook" or "poll"
	Reason   string    // an error class such as "json", never the content
	Size     int       // the body's length in bytes
	Body     []byte    // the body, sealed; at most MaxDeadLetterBytes
}

// DeadLetters store requests that could not be processed.
type DeadLetters interface {
	// PutDeadLetter stores one; it is dropped after DeadLetterTTL (the store's clock). A body
	// longer than MaxDeadLetterBytes is refused with an error and nothing stored; an ID already
	// stored is ErrConflict.
	PutDeadLetter(ctx context.Context, d DeadLetter) error
	// DeadLetters returns up to limit dead letters, oldest first (by Received, then ID).
	DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
}

// Directory holds the officer side's configuration (teams, officers, invites): small sealed
// records by name, each with a compare-and-set version. Names are ASCII, at most
// MaxDirNameBytes, in families by prefix ("team:", "officer:", "invite:" …); the store does not
// interpret them. Directories are small (hundreds of records), so listing returns them all.
type Directory interface {
	// DirRecord returns a record and its version, or nil and version 0 when there is none.
	DirRecord(ctx context.Context, name string) ([]byte, Version, error)
	// PutDirRecord writes a record if its stored version is still expect (0: it must not exist)
	// and returns the new version (expect+1); otherwise ErrConflict and nothing is written.
	PutDirRecord(ctx context.Context, name string, sealed []byte, expect Version) (Version, error)
	// DeleteDirRecord removes a record if its version is expect (ErrConflict otherwise; deleting
	// an absent record with expect 0 is not an error).
	DeleteDirRecord(ctx context.Context, name string, expect Version) error
	// TakeDirRecord reads and deletes a record in one step (single-use invites): of two callers
	// at once, one gets the record and the other nil. Absent: nil, nil.
	TakeDirRecord(ctx context.Context, name string) ([]byte, error)
	// DirRecordNames lists the names that start with prefix, sorted.
	DirRecordNames(ctx context.Context, prefix string) ([]string, error)
}

// Limits of directory records.
const (
	MaxDirNameBytes   = 200
	MaxDirRecordBytes = 64 << 10
)

// Errors of directory records the contract refuses before anything is written (both engines
// check them the same way).
var (
	ErrDirName   = fmt.Errorf("directory record name: empty, over %d bytes, or not printable ASCII", MaxDirNameBytes)
	ErrDirPrefix = errors.New("directory name prefix: not printable ASCII")
	ErrDirSize   = fmt.Errorf("directory record: empty, or over %d bytes", MaxDirRecordBytes)
)

// CheckDirName refuses a name the contract does not allow: empty, longer than MaxDirNameBytes,
// or with a byte outside printable ASCII (space and controls included).
func CheckDirName(name string) error {
	if name == "" || len(name) > MaxDirNameBytes || !printableASCII(name) {
		return ErrDirName
	}
	return nil
}

// CheckDirPrefix refuses a listing prefix outside printable ASCII.
func CheckDirPrefix(prefix string) error {
	if !printableASCII(prefix) {
		return ErrDirPrefix
	}
	return nil
}

// CheckDirRecord refuses an empty record (it would read back like an absent one) and one over
// MaxDirRecordBytes.
func CheckDirRecord(sealed []byte) error {
	if len(sealed) == 0 || len(sealed) > MaxDirRecordBytes {
		return ErrDirSize
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
