package intake

import (
	"context"
	"time"
)

// RecordKind names what a dumped record holds.
type RecordKind string

// Record kinds, in the order Dump produces them and Restore expects them.
const (
	RecordKey     RecordKind = "key"     // Name: the key record's name; Data: the sealed record
	RecordDir     RecordKind = "dir"     // Name: the directory record's name; Version; Data: sealed
	RecordCase    RecordKind = "case"    // Case; Name: the session key it is linked to ("" when none)
	RecordSession RecordKind = "session" // Name: session key; Version; Data: sealed session; Expires
	RecordUpdate  RecordKind = "update"  // Update: a pending inbox update
	RecordDedupe  RecordKind = "dedupe"  // UpdateID: an update id remembered until Expires
	RecordOutbox  RecordKind = "outbox"  // Outbox: a message not yet sent (Seq kept)
	RecordAudit   RecordKind = "audit"   // Audit: an entry, verbatim (Seq, Prev, Hash)
	RecordOffset  RecordKind = "offset"  // Offset: the getUpdates offset
)

// RecordKinds lists the record kinds in the order Dump produces them.
var RecordKinds = []RecordKind{
	RecordKey, RecordDir, RecordCase, RecordSession, RecordUpdate, RecordDedupe, RecordOutbox,
	RecordAudit, RecordOffset,
}

// Record is one stored item in an engine-neutral form, for `penah store migrate`. Leases and
// rate-limit counters are short-lived and not dumped. Directory records (teams, officers,
// invites: intake.Directory) are configuration and are dumped with their versions, so a
// compare-and-set after a migration continues where it was.
type Record struct {
	Kind     RecordKind     `json:"kind"`
	Name     string         `json:"name,omitempty"`
	Data     []byte         `json:"data,omitempty"`
	Version  Version        `json:"version,omitempty"`
	Expires  time.Time      `json:"expires,omitzero"`
	Case     *Case          `json:"case,omitempty"`
	Update   *Update        `json:"update,omitempty"`
	Outbox   *OutboxMessage `json:"outbox,omitempty"`
	Audit    *AuditEntry    `json:"audit,omitempty"`
	UpdateID int64          `json:"update_id,omitempty"`
	Offset   int64          `json:"offset,omitempty"`
}

// Dumper copies a store's whole content out and in. Both engines implement it; `penah store
// migrate` uses it to move from one to the other. Run it with the bot stopped: a dump is a
// consistent snapshot only where the engine offers one (bbolt's read transaction).
type Dumper interface {
	// Dump calls f for every record, kinds in the order of the Record kind constants, audit
	// entries by Seq. It stops at the first error f returns.
	Dump(ctx context.Context, f func(Record) error) error
	// Restore writes records. A record whose identity (key name, directory record name, case ref,
	// session key, update id, outbox id, audit seq) already exists is replaced, so running a
	// migration twice changes nothing. An audit entry whose Seq exists with a different Hash is an
	// error: the chains differ. Indexes (queues, deadlines, links, heads) are rebuilt from the
	// records.
	Restore(ctx context.Context, rs []Record) error
}
