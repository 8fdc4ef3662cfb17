package seal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// MaxRecipients bounds the wraps of one envelope (a team, its backup team, escrow, a few
// officers of a sealed-only team).
const MaxRecipients = 16

// Envelope holds a case's data key wrapped to each recipient, authenticated as a whole.
type Envelope struct {
	// Key is the id of the wrapped data key; every wrap must hold that key.
	Key KeyID `json:"k"`
	// Wraps hold the data key, one anonymous box per recipient.
	Wraps []Wrapped `json:"w"`
	// Auth names the MAC key and MAC is HMAC-SHA256 over the reference, Key and every wrap.
	Auth KeyID  `json:"a"`
	MAC  []byte `json:"m"`
}

// Wrapped is the data key boxed to one recipient.
type Wrapped struct {
	To  KeyID  `json:"t"`
	Box []byte `json:"b"`
}

// MACKey authenticates envelopes. It is derived from the master key (PurposeEnvelope) and never
// leaves the server.
type MACKey struct {
	k  [KeySize]byte
	id KeyID
}

// MACKeys finds envelope authentication keys by id (a Keyring, or a single *MACKey).
type MACKeys interface {
	MACKey(id KeyID) (*MACKey, bool)
}

// NewMACKey makes a MAC key from 32 secret bytes.
func NewMACKey(secret []byte) (*MACKey, error) {
	if len(secret) != KeySize {
		return nil, errors.New("seal: a MAC key needs 32 bytes")
	}
	m := &MACKey{}
	copy(m.k[:], secret)
	m.id = keyID("penah envelope mac v1", m.k[:])
	return m, nil
}

// ID returns the key id.
func (m *MACKey) ID() KeyID { return m.id }

// MACKey implements MACKeys for a single key.
func (m *MACKey) MACKey(id KeyID) (*MACKey, bool) { return m, id == m.id }

func (e *Envelope) mac(ref string, m *MACKey) []byte {
	h := hmac.New(sha256.New, m.k[:])
	h.Write([]byte("penah envelope v1"))
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(ref)))
	h.Write(n[:])
	h.Write([]byte(ref))
	h.Write(e.Key[:])
	h.Write(e.Auth[:])
	binary.BigEndian.PutUint32(n[:], uint32(len(e.Wraps)))
	h.Write(n[:])
	for _, w := range e.Wraps {
		h.Write(w.To[:])
		binary.BigEndian.PutUint32(n[:], uint32(len(w.Box)))
		h.Write(n[:])
		h.Write(w.Box)
	}
	return h.Sum(nil)
}

// Wrap boxes the data key to each recipient and authenticates the envelope for case ref.
func Wrap(dk *DataKey, ref string, m *MACKey, to ...*Recipient) (*Envelope, error) {
	if len(to) == 0 || len(to) > MaxRecipients {
		return nil, fmt.Errorf("seal: an envelope needs 1 to %d recipients, got %d", MaxRecipients, len(to))
	}
	eph, err := newEphemeral()
	if err != nil {
		return nil, fmt.Errorf("seal: wrapping: %w", err)
	}
	e := &Envelope{Key: dk.id, Auth: m.id, Wraps: make([]Wrapped, 0, len(to))}
	for _, r := range to {
		b, err := eph.sealTo(r, dk.k[:])
		if err != nil {
			return nil, fmt.Errorf("seal: wrapping to %s: %w", r.id, err)
		}
		e.Wraps = append(e.Wraps, Wrapped{To: r.id, Box: b})
	}
	e.MAC = e.mac(ref, m)
	return e, nil
}

// Verify checks the envelope's authentication for case ref.
func (e *Envelope) Verify(ref string, keys MACKeys) error {
	m, ok := keys.MACKey(e.Auth)
	if !ok || !hmac.Equal(e.mac(ref, m), e.MAC) {
		return ErrCannotDecrypt
	}
	return nil
}

// Unwrap verifies the envelope for case ref and opens the data key with the first identity that
// has a wrap. Any failure is ErrCannotDecrypt.
func (e *Envelope) Unwrap(ref string, keys MACKeys, ids ...*Identity) (*DataKey, error) {
	if err := e.Verify(ref, keys); err != nil {
		return nil, err
	}
	for _, id := range ids {
		for _, w := range e.Wraps {
			if w.To != id.id {
				continue
			}
			k, ok := id.openAnon(w.Box)
			if !ok || len(k) != KeySize {
				return nil, ErrCannotDecrypt
			}
			dk := dataKeyFrom(k)
			if dk.id != e.Key {
				return nil, ErrCannotDecrypt
			}
			return dk, nil
		}
	}
	return nil, ErrCannotDecrypt
}

// Rewrap opens the envelope with ids and wraps the same data key to new recipients under the
// MAC key m: key rotation and re-routing move cases without re-sealing their records.
func (e *Envelope) Rewrap(ref string, keys MACKeys, ids []*Identity, m *MACKey, to ...*Recipient) (*Envelope, error) {
	dk, err := e.Unwrap(ref, keys, ids...)
	if err != nil {
		return nil, err
	}
	return Wrap(dk, ref, m, to...)
}

// Recipients lists the key ids the data key is wrapped to.
func (e *Envelope) Recipients() []KeyID {
	out := make([]KeyID, len(e.Wraps))
	for i, w := range e.Wraps {
		out[i] = w.To
	}
	return out
}

// MarshalText encodes a key id as hex (JSON, YAML, logs).
func (id KeyID) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(id[:])), nil }

// UnmarshalText decodes a key id from hex.
func (id *KeyID) UnmarshalText(b []byte) error {
	v, err := ParseKeyID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
