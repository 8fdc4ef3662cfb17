package seal

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrCannotDecrypt is the one error for anything that does not open: wrong key, wrong case or
// record kind, tampered or truncated bytes, wrong passphrase. It never carries details.
var ErrCannotDecrypt = errors.New("seal: cannot decrypt")

// KeySize is the size of every symmetric and X25519 key.
const KeySize = 32

// KeyIDSize is the size of a key id.
const KeyIDSize = 8

// KeyID names a key without revealing it: the first bytes of SHA-256 over a label and the public
// key (or, for a symmetric key, over a label and the key).
type KeyID [KeyIDSize]byte

func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// ParseKeyID reads a key id in its hex form.
func ParseKeyID(s string) (KeyID, error) {
	var id KeyID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != KeyIDSize {
		return id, fmt.Errorf("seal: malformed key id")
	}
	copy(id[:], b)
	return id, nil
}

func keyID(label string, key []byte) KeyID {
	h := sha256.New()
	h.Write([]byte(label))
	h.Write(key)
	var id KeyID
	copy(id[:], h.Sum(nil))
	return id
}

// Identity is an X25519 private key: a team's, an officer's or the escrow key.
type Identity struct {
	priv [KeySize]byte
	pub  [KeySize]byte
	id   KeyID
	ecdh *ecdh.PrivateKey // the same key, ready for X25519 without recomputing the public key
}

// Recipient is the public half of an Identity: what a data key is wrapped to.
type Recipient struct {
	pub  [KeySize]byte
	id   KeyID
	ecdh *ecdh.PublicKey
}

// GenerateIdentity makes a new X25519 key pair from crypto/rand.
func GenerateIdentity() (*Identity, error) {
	var priv [KeySize]byte
	if _, err := rand.Read(priv[:]); err != nil {
		return nil, fmt.Errorf("seal: reading crypto/rand: %w", err)
	}
	return identityFrom(priv[:])
}

func identityFrom(priv []byte) (*Identity, error) {
	k, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		return nil, ErrCannotDecrypt
	}
	id := &Identity{ecdh: k}
	copy(id.priv[:], priv)
	copy(id.pub[:], k.PublicKey().Bytes())
	id.id = keyID("penah x25519 v1", id.pub[:])
	return id, nil
}

// ID returns the key id, shared with the identity's Recipient.
func (i *Identity) ID() KeyID { return i.id }

// Recipient returns the public key to wrap data keys to.
func (i *Identity) Recipient() *Recipient {
	return &Recipient{pub: i.pub, id: i.id, ecdh: i.ecdh.PublicKey()}
}

// ID returns the key id.
func (r *Recipient) ID() KeyID { return r.id }

const recipientPrefix = "penah-pub1:"

// String encodes the recipient as text, e.g. for a team's public key in configuration.
func (r *Recipient) String() string {
	return recipientPrefix + base64.RawURLEncoding.EncodeToString(r.pub[:])
}

// ParseRecipient reads a recipient from its text form.
func ParseRecipient(s string) (*Recipient, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), recipientPrefix)
	if !ok {
		return nil, errors.New("seal: not a penah public key")
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) != KeySize {
		return nil, errors.New("seal: malformed public key")
	}
	pk, err := ecdh.X25519().NewPublicKey(b)
	if err != nil {
		return nil, errors.New("seal: malformed public key")
	}
	r := &Recipient{ecdh: pk}
	copy(r.pub[:], b)
	r.id = keyID("penah x25519 v1", r.pub[:])
	return r, nil
}
