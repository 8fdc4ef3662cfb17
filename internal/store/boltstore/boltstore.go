// Package boltstore is Penah's embedded storage engine on go.etcd.io/bbolt: one file, one writer,
// fsync on every commit, zero set-up. It is right for one bot process on one machine.
//
// # Layout
//
// One bucket per record type, plus index buckets whose keys sort the way the contract reads them
// (bbolt keeps keys in byte order, so a cursor walks an index in order). Composite keys are built
// from fixed-width big-endian numbers and length-prefixed strings (see key.go), so no string can
// run into the next field and one chat's keys are never a prefix of another's.
//
//	sessions      session key → version, expiry, sealed session
//	cases         ref → case (JSON)
//	case_created  created, ref → ∅                    (Cases, ListCases: oldest first)
//	case_queue    team, priority, created, ref → ∅    (Queue: unclaimed cases only)
//	case_deadline deadline, ref → ∅                   (Overdue: unclaimed cases with a deadline)
//	case_links    session key, ref → ∅                (Forget: a person's cases)
//	case_owner    ref → session key                   (Shred: remove the link)
//	inbox         chat, update id → received, sealed update
//	inbox_chats   chat → number of pending updates    (PendingChats)
//	dedupe        update id → expiry                  (PutUpdate: redeliveries)
//	outbox        chat, seq → message (JSON)
//	outbox_ids    message id → its outbox key
//	outbox_heads  due, chat → ∅                       (DueMessages: each chat's first message)
//	outbox_chats  chat → its outbox_heads key
//	leases        chat → expiry, owner
//	rates         key, window, window start → count
//	tracked       chat → expiry, (message id, at)…    (Tracker: a chat's ids, by id)
//	clears        chat → time, sealed target          (ScheduleClear)
//	clear_due     time, chat → ∅                      (DueClears: earliest first)
//	dead_letters  id → expiry, received, source, reason, size, sealed body
//	dead_received received, id → ∅                    (DeadLetters: oldest first)
//	expiry        expiry, kind, record key → ∅        (pruning of sessions, dedupe, leases,
//	                                                   rates, tracked ids, dead letters)
//	audit         seq → entry (JSON)
//	keys          name → sealed key record
//	directory     name → version, sealed record        (teams, officers, invites)
//	meta          "schema" → layout version; "offset" → getUpdates offset
//
// # Expiry
//
// bbolt has no TTLs. Records with a lifetime store their expiry time, reads treat an expired
// record as absent, and every write transaction also deletes up to MaxPrunePerTx expired records
// found through the expiry index, so the file does not grow with dead records while no write
// does more than a bounded amount of extra work.
package boltstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/penahbot/penah/internal/intake"
)

// OpenTimeout is how long Open waits for another process to release the file.
const OpenTimeout = time.Second

// MaxPrunePerTx bounds how many expired records one write transaction deletes on the side.
const MaxPrunePerTx = 100

// SchemaVersion is the layout described in the package comment. Open migrates older files.
// Layout 2 added the buckets of the Telegram edge's bookkeeping (tracked, clears, clear_due,
// dead_letters, dead_received); they start empty, so moving a file from layout 1 needs no
// more than creating them. The number went up because a file of layout 2 can hold expiry index
// entries of kinds layout 1 does not know, and an older Penah must refuse it rather than fail
// on them later. Layout 3 added the directory bucket (teams, officers, invites); it starts empty
// too. The number went up because an older Penah would not dump it, and `penah store migrate`
// run with one would silently leave every team and officer behind.
const SchemaVersion = 3

// ErrLocked is returned when another process has the database open.
var ErrLocked = errors.New("database is in use by another Penah process")

// ErrNotCompacted is returned (wrapped, with the compaction's own error) by a Shred or a Forget
// commit whose change is durable but whose compaction failed: copies of the shredded envelopes may
// remain in freed pages of the file until the next compaction succeeds. It is not a failure of the
// write, so callers must not retry it.
var ErrNotCompacted = intake.ErrNotCompacted

var (
	bucketSessions     = []byte("sessions")
	bucketCases        = []byte("cases")
	bucketCaseCreated  = []byte("case_created")
	bucketCaseQueue    = []byte("case_queue")
	bucketCaseDeadline = []byte("case_deadline")
	bucketCaseLinks    = []byte("case_links")
	bucketCaseOwner    = []byte("case_owner")
	bucketInbox        = []byte("inbox")
	bucketInboxChats   = []byte("inbox_chats")
	bucketDedupe       = []byte("dedupe")
	bucketOutbox       = []byte("outbox")
	bucketOutboxIDs    = []byte("outbox_ids")
	bucketOutboxHeads  = []byte("outbox_heads")
	bucketOutboxChats  = []byte("outbox_chats")
	bucketLeases       = []byte("leases")
	bucketRates        = []byte("rates")
	bucketExpiry       = []byte("expiry")
	bucketAudit        = []byte("audit")
	bucketKeys         = []byte("keys") // sealed key records of the vault
	bucketMeta         = []byte("meta")

	bucketTracked         = []byte("tracked")
	bucketClears          = []byte("clears")
	bucketClearDue        = []byte("clear_due")
	bucketDeadLetters     = []byte("dead_letters")
	bucketDeadLetterOrder = []byte("dead_received")

	bucketDirectory = []byte("directory")

	allBuckets = [][]byte{
		bucketSessions, bucketCases, bucketCaseCreated, bucketCaseQueue, bucketCaseDeadline,
		bucketCaseLinks, bucketCaseOwner, bucketInbox, bucketInboxChats, bucketDedupe, bucketOutbox,
		bucketOutboxIDs, bucketOutboxHeads, bucketOutboxChats, bucketLeases, bucketRates,
		bucketExpiry, bucketAudit, bucketKeys, bucketMeta,
		bucketTracked, bucketClears, bucketClearDue, bucketDeadLetters, bucketDeadLetterOrder,
		bucketDirectory,
	}

	metaSchema = []byte("schema")
	metaOffset = []byte("offset")
)

// Store is the bbolt engine.
type Store struct {
	path string
	// mu guards db: every transaction holds it shared; compaction, which replaces the file,
	// holds it exclusively.
	mu sync.RWMutex
	db *bolt.DB
	// clock is the store's own clock, for lifetimes (sessions, dedupe, leases, tracked messages,
	// dead letters); tests move it.
	clock func() time.Time
}

var _ intake.Store = (*Store)(nil)

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Open opens (creating if needed) the database file at path. The directory is created with
// mode 0700 and the file with 0600: it holds people's conversations. A file written by an older
// version is migrated to the current layout.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("boltstore: %w", err)
	}
	db, err := openDB(path)
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("boltstore: %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	if err := db.Update(initSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: init %s: %w", path, err)
	}
	return &Store{path: path, db: db, clock: time.Now}, nil
}

// Close closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Close()
}

func (s *Store) now() time.Time { return s.clock() }

func (s *Store) view(ctx context.Context, f func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.View(f)
}

// BatchDelay is how long a write waits for others to share its transaction (bbolt's
// MaxBatchDelay, 10 ms by default): short, since a lone write pays it in full, and writers that
// arrive while a transaction is being fsynced join the next one anyway.
const BatchDelay = time.Millisecond

// openDB opens the bbolt file with Penah's settings.
func openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: OpenTimeout})
	if err != nil {
		return nil, err
	}
	db.MaxBatchDelay = BatchDelay
	return db, nil
}

// update runs f in a write transaction, fsynced before it returns, after pruning expired records.
// When f fails nothing is written, the pruning included.
//
// Writes go through bbolt's Batch: writes that arrive together (the dispatcher's chats, the
// poller, the sender) share one transaction and one fsync — group commit, which is what lets a
// disk that fsyncs a few hundred times a second carry thousands of writes. Each caller still
// returns only once its write is durable, and a failing f fails alone (bbolt runs it again by
// itself). f may therefore run more than once: it must have no effect outside tx but on
// variables it sets afresh each run.
func (s *Store) update(ctx context.Context, f func(*bolt.Tx, time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.Batch(func(tx *bolt.Tx) error {
		now := s.now()
		if err := prune(tx, now); err != nil {
			return err
		}
		return f(tx, now)
	})
}

// CompactTxBytes bounds one transaction of a compaction.
const CompactTxBytes = 16 << 20

// Compact rewrites the database into a fresh file holding only live data, and replaces the old
// file with it. bbolt never overwrites freed pages in place, so without this a deleted envelope
// (a crypto-shredded case's wrapped data key) or an old session version could still be read from
// the file by someone who also holds the master key. It runs after every shredding. Blocks that
// the filesystem itself keeps are out of its reach: use full-disk encryption.
func (s *Store) Compact() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tmp := s.path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: OpenTimeout})
	if err != nil {
		return fmt.Errorf("boltstore: compact: %w", err)
	}
	if err := bolt.Compact(dst, s.db, CompactTxBytes); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("boltstore: compact: %w", err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("boltstore: compact: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("boltstore: compact: %w", err)
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: compact: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("boltstore: compact: %w", err)
	}
	if d, err := os.Open(filepath.Dir(s.path)); err == nil {
		d.Sync() // make the rename durable
		d.Close()
	}
	db, err := openDB(s.path)
	if err != nil {
		return fmt.Errorf("boltstore: reopening after compaction: %w", err)
	}
	s.db = db
	return nil
}

// initSchema creates the buckets and migrates a file of an older layout.
func initSchema(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	var version uint64
	if v := meta.Get(metaSchema); v != nil {
		if version, err = getUint(v); err != nil {
			return fmt.Errorf("schema version: %w", err)
		}
	}
	if version > SchemaVersion {
		return fmt.Errorf("the file has layout %d, newer than this Penah (%d): upgrade Penah", version, SchemaVersion)
	}
	// A file from before the schema version had sessions, cases, key records and a JSON list of
	// refs per session key (case_owners), and needs its indexes built.
	legacy := version == 0 && tx.Bucket(bucketCases) != nil
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	if legacy {
		if err := migrateV0(tx); err != nil {
			return fmt.Errorf("migrating to layout 1: %w", err)
		}
	}
	return meta.Put(metaSchema, putUint(SchemaVersion))
}

// legacyOwners is the layout-0 bucket: session key → JSON list of refs.
var legacyOwners = []byte("case_owners")

// migrateV0 builds the case indexes, numbers case versions from 1, and turns the old owner lists
// into links. Layout-0 sessions had no expiry field; they are rewritten with none.
func migrateV0(tx *bolt.Tx) error {
	type legacy struct{ k, v []byte }
	var cases, sessions []legacy
	if err := tx.Bucket(bucketCases).ForEach(func(k, v []byte) error {
		cases = append(cases, legacy{clone(k), clone(v)})
		return nil
	}); err != nil {
		return err
	}
	for _, kv := range cases {
		c := new(intake.Case)
		if err := json.Unmarshal(kv.v, c); err != nil {
			return fmt.Errorf("case record: %w", err)
		}
		if c.Version == 0 {
			c.Version = 1
		}
		if err := putCase(tx, nil, c); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
		sessions = append(sessions, legacy{clone(k), clone(v)})
		return nil
	}); err != nil {
		return err
	}
	for _, kv := range sessions {
		if len(kv.v) < 8 {
			return errors.New("corrupt session record")
		}
		ver, _ := getUint(kv.v[:8])
		if err := tx.Bucket(bucketSessions).Put(kv.k, encodeSession(intake.Version(ver), time.Time{}, kv.v[8:])); err != nil {
			return err
		}
	}
	if old := tx.Bucket(legacyOwners); old != nil {
		err := old.ForEach(func(k, v []byte) error {
			var refs []intake.Ref
			if err := json.Unmarshal(v, &refs); err != nil {
				return fmt.Errorf("owner record: %w", err)
			}
			for _, r := range refs {
				if err := link(tx, intake.SessionKey(k), r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket(legacyOwners); err != nil {
			return err
		}
	}
	return nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}
