package intake

import (
	"context"
	"errors"

	"github.com/penahbot/penah/flows/engine"
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
	// Session is the new session, or nil to delete it.
	Session *engine.Session
	// NewCase, when set, is created in the same transaction and linked to Key.
	NewCase *Case
	// Forget erases every case linked to Key (the person's /forget). The encryption issue turns
	// this into crypto-shredding; here the records are deleted.
	Forget bool
}

// Store is the storage contract of the conversation core. The storage issue grows it (inbox,
// outbox, queues, audit); both engines implement every method with the same behaviour.
type Store interface {
	// LoadSession returns the stored session and its version, or a zero session and version 0.
	LoadSession(ctx context.Context, key SessionKey) (engine.Session, Version, error)
	// Commit applies one turn's writes atomically and returns the session's new version.
	Commit(ctx context.Context, c Commit) (Version, error)
	// Case loads a case by reference.
	Case(ctx context.Context, ref Ref) (*Case, error)
	// Cases lists every case reference, oldest first.
	Cases(ctx context.Context) ([]Ref, error)
	Close() error
}
