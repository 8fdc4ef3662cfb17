package intake

import (
	"context"
	"errors"
	"time"
)

// Storage errors, classified once here so adapters and callers agree.
var (
	// ErrNotFound: no such session or case.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the session changed since it was loaded (compare-and-set failed).
	ErrConflict = errors.New("version conflict")
)

// SessionKey identifies one person's conversation in storage. The Telegram edge makes it a blind
// index of the chat id, never the id itself; the terminal chat uses a fixed local key.
type SessionKey string

// Version is a session's compare-and-set counter; 0 means "no stored session".
type Version uint64

// Commit is everything one turn writes, applied atomically: all of it or none of it.
type Commit struct {
	Key SessionKey
	// Expect is the version the turn loaded; the commit fails with ErrConflict if it moved.
	Expect Version
	// Session is the new session, sealed by the Sealer, or nil to delete it.
	Session []byte
	// NewCase, when set, is created in the same transaction and linked to Key.
	NewCase *Case
	// Forget crypto-shreds every case linked to Key (the person's /forget): their envelopes and
	// sealed records are deleted, a tombstone stays (see Case.Tombstone), and the link from Key to
	// the cases is removed.
	Forget bool
	// Now is the time of the turn (the tombstones' shredding time).
	Now time.Time
}

// Store is the storage contract of the conversation core. The storage issue grows it (inbox,
// outbox, queues, audit); both engines implement every method with the same behaviour. Stores
// see sealed bytes for sessions and case bodies, never plaintext.
type Store interface {
	// LoadSession returns the stored (sealed) session and its version, or nil and version 0.
	LoadSession(ctx context.Context, key SessionKey) ([]byte, Version, error)
	// Commit applies one turn's writes atomically and returns the session's new version.
	Commit(ctx context.Context, c Commit) (Version, error)
	// Case loads a case by reference.
	Case(ctx context.Context, ref Ref) (*Case, error)
	// Cases lists every case reference, oldest first.
	Cases(ctx context.Context) ([]Ref, error)
	// UpdateCase changes a case in one transaction: f gets the stored case and changes it.
	UpdateCase(ctx context.Context, ref Ref, f func(*Case) error) error
	// Shred turns cases into tombstones (crypto-shredding), at time now, for reason. When it
	// returns, no copy of their envelopes remains in the store's files.
	Shred(ctx context.Context, refs []Ref, reason Status, now time.Time) error

	// Key records: sealed blobs the vault keeps (team keys, escrow public key).
	KeyRecord(ctx context.Context, name string) ([]byte, error)
	PutKeyRecord(ctx context.Context, name string, sealed []byte) error
	KeyRecordNames(ctx context.Context) ([]string, error)

	Close() error
}
