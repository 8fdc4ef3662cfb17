package redisstore

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/penahbot/penah/internal/intake"
)

// Every Redis key the engine uses is built here and nowhere else.
//
// Layout: <prefix>{<tag>}:<kind>[:<id>]. Redis Cluster hashes only the text between the first
// "{" and the next "}" (the hash tag), so keys with one tag share one slot and a Lua script may
// touch them together.
//
//   - The ledger tag, {l}: every record that some atomic operation combines with another —
//     sessions, the inbox, the outbox, cases and their indexes, team queues, the audit chain, key
//     records — and the Telegram edge's bookkeeping (tracked message ids, scheduled clears, dead
//     letters) and the directory (teams, officers, invites), whose scripts touch several of its
//     keys (a record and its index; a restore writes them all with the rest of the ledger). A turn (intake.Commit) writes a session, marks an inbox update done, enqueues
//     outbox messages for any chat (officer notices included), creates a case in its team's queue
//     and appends to the one global audit chain, all at once; see doc.go for why these share one
//     slot rather than one slot per chat and per team.
//   - A per-chat tag, {c:<chat>}: the chat's lease, which no other operation touches.
//   - A per-counter tag, {r:<key>}: each rate-limit window counter.
//
// Ids inside a key after the tag (chat keys, refs, update ids) need no escaping: every kind has
// its own fixed word before the id, and the id runs to the end of the key. Ids inside a tag are
// hex-encoded when they contain a brace, so they cannot end the tag early.

// DefaultPrefix starts every key unless Open is given another (WithPrefix).
const DefaultPrefix = "penah:"

// ledgerTag is the hash tag of every record that atomic operations combine.
const ledgerTag = "{l}"

// keys builds the key names of one store (one prefix).
type keys struct {
	prefix string // e.g. "penah:"
	ledger string // prefix + "{l}:"
}

func newKeys(prefix string) keys {
	return keys{prefix: prefix, ledger: prefix + ledgerTag + ":"}
}

// tagSafe makes s usable inside a hash tag.
func tagSafe(s string) string {
	if strings.ContainsAny(s, "{}") {
		return "x" + hex.EncodeToString([]byte(s))
	}
	return s
}

// Sessions.

// session is the hash {v: version, b: sealed session} of a chat (expires after SessionTTL).
func (k keys) session(chat intake.SessionKey) string { return k.ledger + "sess:" + string(chat) }

// links is the set of case refs created from a chat's turns (what /forget shreds).
func (k keys) links(chat intake.SessionKey) string { return k.ledger + "links:" + string(chat) }

// Inbox.

// seen marks an update id stored, for InboxDedupTTL (a string with PX).
func (k keys) seen(id int64) string { return k.ledger + "seen:" + strconv.FormatInt(id, 10) }

// inboxQueue is a chat's pending update ids, a sorted set scored by update id.
func (k keys) inboxQueue(chat intake.SessionKey) string { return k.ledger + "inq:" + string(chat) }

// inboxBodies holds a chat's pending updates: hash update id -> encoded update.
func (k keys) inboxBodies(chat intake.SessionKey) string { return k.ledger + "inb:" + string(chat) }

// inboxChats is the sorted set of chats with pending updates, scored by their lowest update id.
func (k keys) inboxChats() string { return k.ledger + "inchats" }

// offset is the persisted getUpdates offset.
func (k keys) offset() string { return k.ledger + "offset" }

// Outbox.

// outboxMessages is the hash message id -> encoded message (chat, body, due, attempts, seq).
func (k keys) outboxMessages() string { return k.ledger + "obmsg" }

// outboxQueue is a chat's message ids, a sorted set scored by Seq.
func (k keys) outboxQueue(chat intake.SessionKey) string { return k.ledger + "obq:" + string(chat) }

// outboxDue is the sorted set of chats with messages, scored by the due time (µs, rounded down)
// of the chat's first message: DueMessages reads the heads that are due without looking at the
// rest.
func (k keys) outboxDue() string { return k.ledger + "obdue" }

// outboxHeads is the hash chat -> id of the chat's first message.
func (k keys) outboxHeads() string { return k.ledger + "obhead" }

// outboxSeq is the counter that numbers outbox messages.
func (k keys) outboxSeq() string { return k.ledger + "obseq" }

// Cases.

// caseRecord is the hash of one case: doc (the JSON of intake.Case, authoritative) and the fields
// scripts decide on — v (version), st (status), team, by (claimant), esc (escalation level) — and
// the members under which it is indexed (cm, qm, om).
func (k keys) caseRecord(ref intake.Ref) string { return k.ledger + "case:" + string(ref) }

// casesAll indexes every case by creation time (lexicographic sorted set of createdMember).
func (k keys) casesAll() string { return k.ledger + "cases" }

// casesByTeam indexes a team's cases by creation time.
func (k keys) casesByTeam(team string) string { return k.ledger + "cases:team:" + team }

// casesByStatus indexes the cases in one status by creation time.
func (k keys) casesByStatus(st intake.Status) string { return k.ledger + "cases:st:" + string(st) }

// queue is a team's unclaimed cases: lexicographic sorted set of queueMember (priority, created).
func (k keys) queue(team string) string { return k.ledger + "q:" + team }

// overdue indexes unclaimed cases with a deadline: lexicographic sorted set of overdueMember.
func (k keys) overdue() string { return k.ledger + "overdue" }

// Audit.

// auditLog is the hash seq -> JSON of intake.AuditEntry.
func (k keys) auditLog() string { return k.ledger + "audit" }

// auditHead is the hash {seq, hash} of the last entry: appends compare-and-set on it.
func (k keys) auditHead() string { return k.ledger + "audit:head" }

// Key records.

// keyRecords is the hash name -> sealed key record of the vault.
func (k keys) keyRecords() string { return k.ledger + "keyrec" }

// The directory (intake.Directory). A record's name runs to the end of its key, after the tag, so
// no name can move it to another slot.

// dirRecord is one directory record: hash {v: version, b: sealed record}.
func (k keys) dirRecord(name string) string { return k.ledger + "dir:" + name }

// dirNames indexes the directory records by name: a sorted set with every score 0, read by lex
// range (DirRecordNames by prefix, Dump).
func (k keys) dirNames() string { return k.ledger + "dirs" }

// The Telegram edge's bookkeeping. Each of its scripts changes a record together with its index,
// so those keys must share a slot: they are in the ledger's.

// tracked is a chat's tracked messages: hash message id (decimal) -> trackedMember; it expires
// intake.TrackedTTL after the last TrackMessages (PEXPIRE).
func (k keys) tracked(chat intake.SessionKey) string { return k.ledger + "track:" + string(chat) }

// trackedOrder is the same messages as a lexicographic sorted set of trackedMember (oldest
// first: the ones dropped beyond intake.MaxTrackedMessages); it expires with tracked.
func (k keys) trackedOrder(chat intake.SessionKey) string {
	return k.ledger + "trackord:" + string(chat)
}

// clears is the hash chat -> encTime(at) followed by the sealed target, of scheduled clears.
func (k keys) clears() string { return k.ledger + "clears" }

// clearsDue indexes the scheduled clears: lexicographic sorted set of clearMember.
func (k keys) clearsDue() string { return k.ledger + "clears:due" }

// deadLetter is one dead letter: hash {m: its deadMember, doc: JSON of its fields, b: the sealed
// body}; it expires intake.DeadLetterTTL after it was stored (PX).
func (k keys) deadLetter(id string) string { return k.ledger + "dl:" + id }

// deadLetters indexes dead letters by received time, then id: lexicographic sorted set of
// deadMember. A member whose dead letter expired stays until a later PutDeadLetter prunes it;
// readers skip it.
func (k keys) deadLetters() string { return k.ledger + "dlidx" }

// deadLettersAge holds the same members scored by the order they were stored in (deadLetterSeq),
// which is the order they expire in: PutDeadLetter prunes from its start.
func (k keys) deadLettersAge() string { return k.ledger + "dlage" }

// deadLetterSeq is the counter that numbers stored dead letters.
func (k keys) deadLetterSeq() string { return k.ledger + "dlseq" }

// Keys outside the ledger slot.

// lease is a chat's lease: a string holding the owner, with PX.
func (k keys) lease(chat intake.SessionKey) string {
	return k.prefix + "{c:" + tagSafe(string(chat)) + "}:lease"
}

// rate is the counter of key in the fixed window number n of length window.
func (k keys) rate(key string, window time.Duration, n int64) string {
	return fmt.Sprintf("%s{r:%s}:%d:%d", k.prefix, tagSafe(key), window.Milliseconds(), n)
}

// Index members. Sorted sets holding them have every score 0 and are read with ZRANGEBYLEX, so
// members sort by their bytes: times are encoded fixed-width, which keeps nanosecond order where
// a float64 score would not.

// timeOffset shifts Unix seconds so that every time from year 1 on encodes as a non-negative
// number.
const timeOffset = 62135596800

// encTime is t as 21 fixed-width digits (seconds since year 1, then nanoseconds): byte order is
// time order.
func encTime(t time.Time) string {
	s := t.Unix() + timeOffset
	if s < 0 {
		s = 0
	}
	return fmt.Sprintf("%012d%09d", s, t.Nanosecond())
}

// memberSep separates the parts of an index member; refs never contain it.
const memberSep = "|"

// createdMember orders cases by creation time, then reference.
func createdMember(c *intake.Case) string { return encTime(c.Created) + memberSep + string(c.Ref) }

// Priorities in queue members: 0 (none given) counts as the lowest, maxPriority bounds the
// digits.
const (
	defaultPriority = 3
	maxPriority     = 999
)

// queueMember orders a team's queue by priority (1 first), then creation time, then reference.
func queueMember(c *intake.Case) string {
	p := c.Priority
	if p <= 0 {
		p = defaultPriority
	}
	p = min(p, maxPriority)
	return fmt.Sprintf("%03d%s%s%s%s", p, memberSep, encTime(c.Created), memberSep, c.Ref)
}

// overdueMember orders cases by deadline, then reference.
func overdueMember(c *intake.Case) string { return encTime(c.Deadline) + memberSep + string(c.Ref) }

// refOfMember returns the reference that ends an index member.
func refOfMember(m string) intake.Ref {
	return intake.Ref(m[strings.LastIndex(m, memberSep)+1:])
}

// encTimeLen is the length of encTime's text.
const encTimeLen = 21

// decTime reads back a time encoded by encTime, in UTC.
func decTime(s string) (time.Time, error) {
	if len(s) < encTimeLen {
		return time.Time{}, fmt.Errorf("time %q is too short", s)
	}
	sec, err := strconv.ParseInt(s[:12], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	ns, err := strconv.ParseInt(s[12:encTimeLen], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	return time.Unix(sec-timeOffset, ns).UTC(), nil
}

// trackedMember orders a chat's tracked messages by time, then id: encTime(at), the id as 20
// fixed-width digits of its sign-flipped value (so byte order is numeric order), then the id in
// decimal (the hash field), each after memberSep.
func trackedMember(m intake.TrackedMessage) string {
	return fmt.Sprintf("%s%s%020d%s%d", encTime(m.At), memberSep, uint64(m.ID)^(1<<63), memberSep, m.ID)
}

// trackedIDAt is where the decimal id starts in a trackedMember (1-based, as Lua counts).
const trackedIDAt = encTimeLen + 1 + 20 + 1 + 1

// clearMember orders scheduled clears by time, then chat.
func clearMember(at time.Time, chat intake.SessionKey) string {
	return encTime(at) + memberSep + string(chat)
}

// deadMember orders dead letters by received time, then id.
func deadMember(received time.Time, id string) string { return encTime(received) + memberSep + id }
