package boltstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/penahbot/penah/internal/intake"
)

var _ intake.Dumper = (*Store)(nil)

// errChainsDiffer is the intake.ErrConflict of a restored audit entry that does not fit the
// stored chain.
var errChainsDiffer = fmt.Errorf("%w: the audit chains differ", intake.ErrConflict)

// Dump implements intake.Dumper in one read transaction, so the records are a consistent
// snapshot. f runs inside that transaction: it must not call this store (a write would wait for
// the read to end). Expired sessions and dedupe ids that were not pruned yet are left out, as
// reads treat them as absent.
//
// The Telegram edge's bookkeeping is not dumped, on purpose: tracked message ids, scheduled clears
// and dead letters (buckets tracked, clears, clear_due, dead_letters, dead_received) are
// short-lived operational records (a week at most) with no intake.RecordKind, so a migration
// leaves them behind. After one, /exit cannot delete messages shown before it, and clears
// scheduled before it do not run.
func (s *Store) Dump(ctx context.Context, f func(intake.Record) error) error {
	err := s.view(ctx, func(tx *bolt.Tx) error {
		now := s.now()
		for _, dump := range []func(*bolt.Tx, time.Time, func(intake.Record) error) error{
			dumpKeys, dumpDir, dumpCases, dumpSessions, dumpUpdates, dumpDedupe, dumpOutbox, dumpAudit, dumpOffset,
		} {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := dump(tx, now, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore: dump: %w", err)
	}
	return nil
}

func dumpKeys(tx *bolt.Tx, _ time.Time, f func(intake.Record) error) error {
	return tx.Bucket(bucketKeys).ForEach(func(k, v []byte) error {
		return f(intake.Record{Kind: intake.RecordKey, Name: string(k), Data: clone(v)})
	})
}

// dumpDir gives the directory records by name, with their versions.
func dumpDir(tx *bolt.Tx, _ time.Time, f func(intake.Record) error) error {
	return tx.Bucket(bucketDirectory).ForEach(func(k, v []byte) error {
		ver, sealed, err := readDir(v)
		if err != nil {
			return err
		}
		return f(intake.Record{Kind: intake.RecordDir, Name: string(k), Version: ver, Data: clone(sealed)})
	})
}

// dumpCases gives the cases oldest first, each with the session key it is linked to.
func dumpCases(tx *bolt.Tx, _ time.Time, f func(intake.Record) error) error {
	owners := tx.Bucket(bucketCaseOwner)
	return tx.Bucket(bucketCaseCreated).ForEach(func(k, _ []byte) error {
		if len(k) < timeLen {
			return errCorrupt
		}
		ref := intake.Ref(k[timeLen:])
		c, err := getCase(tx, ref)
		if err != nil {
			return fmt.Errorf("case %s: %w", ref, err)
		}
		return f(intake.Record{Kind: intake.RecordCase, Name: string(owners.Get([]byte(ref))), Case: c})
	})
}

func dumpSessions(tx *bolt.Tx, now time.Time, f func(intake.Record) error) error {
	return tx.Bucket(bucketSessions).ForEach(func(k, _ []byte) error {
		st, err := loadSession(tx, intake.SessionKey(k), now)
		if err != nil || st.version == 0 {
			return err
		}
		return f(intake.Record{
			Kind: intake.RecordSession, Name: string(k), Version: st.version,
			Data: append([]byte{}, st.sealed...), Expires: st.expiry,
		})
	})
}

func dumpUpdates(tx *bolt.Tx, _ time.Time, f func(intake.Record) error) error {
	return tx.Bucket(bucketInbox).ForEach(func(k, v []byte) error {
		chat, rest, err := readStr(k)
		if err != nil {
			return err
		}
		if len(rest) != timeLen || len(v) < timeLen {
			return errCorrupt
		}
		return f(intake.Record{Kind: intake.RecordUpdate, Update: &intake.Update{
			ID: readInt(rest), Chat: intake.SessionKey(chat),
			Received: readTime(v[:timeLen]), Body: append([]byte{}, v[timeLen:]...),
		}})
	})
}

func dumpDedupe(tx *bolt.Tx, now time.Time, f func(intake.Record) error) error {
	return tx.Bucket(bucketDedupe).ForEach(func(k, v []byte) error {
		if len(k) != timeLen || len(v) != timeLen {
			return errCorrupt
		}
		at := readTime(v)
		if expired(at, now) {
			return nil
		}
		return f(intake.Record{Kind: intake.RecordDedupe, UpdateID: readInt(k), Expires: at})
	})
}

func dumpOutbox(tx *bolt.Tx, _ time.Time, f func(intake.Record) error) error {
	return tx.Bucket(bucketOutbox).ForEach(func(_, v []byte) error {
		m, err := readMessage(v)
		if err != nil {
			return err
		}
		return f(intake.Record{Kind: intake.RecordOutbox, Outbox: &m})
	})
}

func dumpAudit(tx *bolt.Tx, _ time.Time, f func(intake.Record) error) error {
	return tx.Bucket(bucketAudit).ForEach(func(_, v []byte) error {
		e := new(intake.AuditEntry)
		if err := json.Unmarshal(v, e); err != nil {
			return fmt.Errorf("audit record: %w", err)
		}
		return f(intake.Record{Kind: intake.RecordAudit, Audit: e})
	})
}

func dumpOffset(tx *bolt.Tx, _ time.Time, f func(intake.Record) error) error {
	v := tx.Bucket(bucketMeta).Get(metaOffset)
	if v == nil {
		return nil
	}
	if len(v) != timeLen {
		return errCorrupt
	}
	return f(intake.Record{Kind: intake.RecordOffset, Offset: readInt(v)})
}

// Restore implements intake.Dumper in one write transaction: all the records or, when one is
// refused, none. A session or dedupe id whose Expires has passed on the store's clock replaces
// the stored one with nothing. An outbox message keeps its Seq, and the counter that numbers new
// messages moves past it; a message whose chat and Seq another message holds is an
// intake.ErrConflict. Audit entries continue the stored chain: one at or below its end must have
// the stored entry's Hash, the next one must link to that end (Prev), and any other is an
// intake.ErrConflict. The getUpdates offset is raised, never lowered, as SetOffset does. A pending
// update is identified by its chat and id. A directory record keeps its Version, so a
// compare-and-set after the move goes on from it. Of several records with one identity in a call, the
// last wins. When a restored case replaces a stored one whose sealed body it no longer has (the
// case was shredded at the source), the file is compacted as after Shred (see ErrNotCompacted).
func (s *Store) Restore(ctx context.Context, rs []intake.Record) error {
	if err := validateRecords(rs); err != nil {
		return fmt.Errorf("boltstore: restore: %w", err)
	}
	shredded := false
	err := s.update(ctx, func(tx *bolt.Tx, now time.Time) error {
		shredded = false
		var msgs []intake.OutboxMessage
		for i, r := range rs {
			var err error
			switch r.Kind {
			case intake.RecordKey:
				err = tx.Bucket(bucketKeys).Put([]byte(r.Name), append([]byte{}, r.Data...))
			case intake.RecordDir:
				err = tx.Bucket(bucketDirectory).Put([]byte(r.Name), encodeDir(r.Version, r.Data))
			case intake.RecordCase:
				var body bool
				body, err = restoreCase(tx, r)
				shredded = shredded || body
			case intake.RecordSession:
				err = restoreSession(tx, r, now)
			case intake.RecordUpdate:
				err = restoreUpdate(tx, r.Update)
			case intake.RecordDedupe:
				err = restoreDedupe(tx, r, now)
			case intake.RecordOutbox:
				msgs = append(msgs, *r.Outbox) // below, all at once
			case intake.RecordAudit:
				err = restoreAudit(tx, r.Audit)
			case intake.RecordOffset:
				err = restoreOffset(tx, r.Offset)
			}
			if err != nil {
				return fmt.Errorf("record %d (%s): %w", i, r.Kind, err)
			}
		}
		return restoreOutbox(tx, msgs)
	})
	if err != nil {
		return fmt.Errorf("boltstore: restore: %w", err)
	}
	if shredded {
		if err := s.Compact(); err != nil {
			return fmt.Errorf("boltstore: restore: %w: %w", ErrNotCompacted, err)
		}
	}
	return nil
}

// validateRecords refuses a record that lacks what its kind needs, before anything is written.
func validateRecords(rs []intake.Record) error {
	for i, r := range rs {
		var bad string
		switch r.Kind {
		case intake.RecordKey:
		case intake.RecordDir:
			switch {
			case r.Version == 0:
				bad = "a directory record at version 0"
			case intake.CheckDirName(r.Name) != nil:
				bad = intake.ErrDirName.Error()
			case intake.CheckDirRecord(r.Data) != nil:
				bad = intake.ErrDirSize.Error()
			}
		case intake.RecordCase:
			switch {
			case r.Case == nil:
				bad = "no case"
			case r.Case.Ref == "":
				bad = "a case without a reference"
			case r.Case.Version == 0:
				bad = "a case at version 0"
			}
		case intake.RecordSession:
			if r.Version == 0 {
				bad = "a session at version 0"
			}
		case intake.RecordUpdate:
			if r.Update == nil {
				bad = "no update"
			}
		case intake.RecordDedupe:
		case intake.RecordOutbox:
			switch {
			case r.Outbox == nil:
				bad = "no message"
			case r.Outbox.ID == "":
				bad = "a message without an id"
			case r.Outbox.Seq == 0:
				bad = "a message without a Seq"
			}
		case intake.RecordAudit:
			if r.Audit == nil || r.Audit.Seq == 0 {
				bad = "no audit entry, or one without a Seq"
			}
		case intake.RecordOffset:
		default:
			bad = "unknown kind"
		}
		if bad != "" {
			return fmt.Errorf("record %d (%q): %s", i, r.Kind, bad)
		}
	}
	return nil
}

// restoreCase writes a case with its Version, moves its indexes from those of the stored one and
// links it to the record's session key. It reports whether a stored sealed body is gone.
func restoreCase(tx *bolt.Tx, r intake.Record) (bool, error) {
	c := *r.Case
	old, err := getCase(tx, c.Ref)
	if errors.Is(err, intake.ErrNotFound) {
		old, err = nil, nil
	}
	if err != nil {
		return false, err
	}
	if err := putCase(tx, old, &c); err != nil {
		return false, err
	}
	if err := unlink(tx, c.Ref); err != nil {
		return false, err
	}
	if r.Name != "" {
		if err := link(tx, intake.SessionKey(r.Name), c.Ref); err != nil {
			return false, err
		}
	}
	hadBody := old != nil && (old.Envelope != nil || len(old.Answers) > 0)
	return hadBody && c.Envelope == nil && len(c.Answers) == 0, nil
}

func restoreSession(tx *bolt.Tx, r intake.Record, now time.Time) error {
	b, key := tx.Bucket(bucketSessions), []byte(r.Name)
	var oldExpiry time.Time
	if v := b.Get(key); v != nil && len(v) >= sessionHeader {
		oldExpiry = readTime(v[8:16])
	}
	if expired(r.Expires, now) {
		if err := b.Delete(key); err != nil {
			return err
		}
		return setExpiry(tx, kindSession, key, oldExpiry, time.Time{})
	}
	if err := b.Put(key, encodeSession(r.Version, r.Expires, r.Data)); err != nil {
		return err
	}
	return setExpiry(tx, kindSession, key, oldExpiry, r.Expires)
}

// restoreUpdate stores a pending update. It is identified by its chat and id: Telegram's update
// ids are unique, so one id never comes in two chats.
func restoreUpdate(tx *bolt.Tx, u *intake.Update) error {
	inbox := tx.Bucket(bucketInbox)
	k := inboxKey(u.Chat, u.ID)
	if inbox.Get(k) == nil {
		if err := countPending(tx, u.Chat, +1); err != nil {
			return err
		}
	}
	v := appendTime(make([]byte, 0, timeLen+len(u.Body)), u.Received)
	return inbox.Put(k, append(v, u.Body...))
}

func restoreDedupe(tx *bolt.Tx, r intake.Record, now time.Time) error {
	dd, k := tx.Bucket(bucketDedupe), dedupeKey(r.UpdateID)
	var oldExpiry time.Time
	if v := dd.Get(k); v != nil {
		if len(v) != timeLen {
			return errCorrupt
		}
		oldExpiry = readTime(v)
	}
	if expired(r.Expires, now) {
		if err := dd.Delete(k); err != nil {
			return err
		}
		return setExpiry(tx, kindDedupe, k, oldExpiry, time.Time{})
	}
	if err := dd.Put(k, appendTime(nil, r.Expires)); err != nil {
		return err
	}
	return setExpiry(tx, kindDedupe, k, oldExpiry, r.Expires)
}

// restoreOutbox writes messages at their chat and Seq; of several with one id, the last wins.
// Every message of the batch first leaves its stored place, so a batch may move messages among
// themselves; then each takes its place, which must be free. The chats concerned get their heads
// re-indexed.
func restoreOutbox(tx *bolt.Tx, msgs []intake.OutboxMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	last := map[intake.OutboxID]int{}
	for i, m := range msgs {
		last[m.ID] = i
	}
	kept := msgs[:0] // msgs is Restore's own slice
	for i, m := range msgs {
		if last[m.ID] == i {
			kept = append(kept, m)
		}
	}
	msgs = kept
	out, ids := tx.Bucket(bucketOutbox), tx.Bucket(bucketOutboxIDs)
	chats := map[intake.SessionKey]bool{}
	for _, m := range msgs {
		k := clone(ids.Get([]byte(m.ID)))
		if k == nil {
			continue
		}
		chat, _, err := readStr(k)
		if err != nil {
			return err
		}
		chats[intake.SessionKey(chat)] = true
		if err := out.Delete(k); err != nil {
			return err
		}
		if err := ids.Delete([]byte(m.ID)); err != nil {
			return err
		}
	}
	var maxSeq uint64
	for _, m := range msgs {
		k := outboxKey(m.Chat, m.Seq)
		if v := out.Get(k); v != nil {
			held, err := readMessage(v)
			if err != nil {
				return err
			}
			if held.ID != m.ID {
				return fmt.Errorf("%w: outbox message %s: Seq %d of its chat is held by another message", intake.ErrConflict, m.ID, m.Seq)
			}
		}
		if err := putMessage(out, k, m); err != nil {
			return err
		}
		if err := ids.Put([]byte(m.ID), k); err != nil {
			return err
		}
		chats[m.Chat] = true
		maxSeq = max(maxSeq, m.Seq)
	}
	if maxSeq > out.Sequence() {
		if err := out.SetSequence(maxSeq); err != nil {
			return err
		}
	}
	for chat := range chats {
		if err := refreshHead(tx, chat); err != nil {
			return err
		}
	}
	return nil
}

// restoreAudit writes e verbatim if it continues the stored chain, and checks that it equals the
// stored entry if the chain already holds its Seq.
func restoreAudit(tx *bolt.Tx, e *intake.AuditEntry) error {
	b := tx.Bucket(bucketAudit)
	var last intake.AuditEntry
	if k, v := b.Cursor().Last(); k != nil {
		if err := json.Unmarshal(v, &last); err != nil {
			return fmt.Errorf("audit record: %w", err)
		}
	}
	switch {
	case e.Seq <= last.Seq:
		v := b.Get(putUint(e.Seq))
		if v == nil {
			return fmt.Errorf("%w: entry %d is missing from the stored chain", intake.ErrAuditBroken, e.Seq)
		}
		var stored intake.AuditEntry
		if err := json.Unmarshal(v, &stored); err != nil {
			return fmt.Errorf("audit record: %w", err)
		}
		if !bytes.Equal(stored.Hash, e.Hash) {
			return fmt.Errorf("%w: entry %d has another hash", errChainsDiffer, e.Seq)
		}
		return nil
	case e.Seq == last.Seq+1:
		prev := last.Hash
		if last.Seq == 0 {
			prev = make([]byte, sha256.Size) // what the first entry links to
		}
		if !bytes.Equal(e.Prev, prev) {
			return fmt.Errorf("%w: entry %d does not link to entry %d", errChainsDiffer, e.Seq, last.Seq)
		}
		v, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return b.Put(putUint(e.Seq), v)
	}
	return fmt.Errorf("%w: entry %d does not follow entry %d, the chain's end", errChainsDiffer, e.Seq, last.Seq)
}

func restoreOffset(tx *bolt.Tx, offset int64) error {
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(metaOffset); v != nil && len(v) == timeLen && readInt(v) >= offset {
		return nil
	}
	return meta.Put(metaOffset, appendInt(nil, offset))
}
