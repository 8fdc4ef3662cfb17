package intake

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// ChainHash is the entry's hash in the audit chain: SHA-256 over a fixed, length-prefixed
// encoding of every field and of Prev, so changing, removing or reordering any entry breaks every
// link after it. Stores set e.Hash = e.ChainHash() after setting Seq and Prev.
func (e *AuditEntry) ChainHash() []byte {
	h := sha256.New()
	h.Write([]byte("penah audit v1"))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], e.Seq)
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.Time.UnixNano()))
	h.Write(n[:])
	for _, s := range []string{e.Actor, e.Action, string(e.Ref), string(e.From), string(e.To), e.Reason} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	binary.BigEndian.PutUint64(n[:], uint64(len(e.Prev)))
	h.Write(n[:])
	h.Write(e.Prev)
	return h.Sum(nil)
}

// Link fills Seq, Prev and Hash of an entry appended after prev (nil for the first entry).
func (e *AuditEntry) Link(prev *AuditEntry) {
	if prev == nil {
		e.Seq, e.Prev = 1, make([]byte, sha256.Size)
	} else {
		e.Seq, e.Prev = prev.Seq+1, append([]byte(nil), prev.Hash...)
	}
	e.Time = e.Time.UTC()
	e.Hash = e.ChainHash()
}

// NewOutboxID returns a fresh outbox message id from crypto/rand.
func NewOutboxID() (OutboxID, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("intake: reading crypto/rand: %w", err)
	}
	return OutboxID(hex.EncodeToString(b[:])), nil
}
