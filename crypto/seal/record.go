package seal

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Record format version 1: version(1) | key id(8) | nonce(24) | XChaCha20-Poly1305 ciphertext.
// XChaCha20's 24-byte nonce is safe to draw at random for every record, so no counter state is
// needed across replicas.
const (
	recordV1       = 1
	recordHeader   = 1 + KeyIDSize + chacha20poly1305.NonceSizeX
	recordOverhead = recordHeader + chacha20poly1305.Overhead
)

// DataKey is the random key of one case. It seals the case's records and is itself stored only
// wrapped (see Wrap).
type DataKey struct {
	k  [KeySize]byte
	id KeyID
}

// NewDataKey draws a fresh data key from crypto/rand.
func NewDataKey() (*DataKey, error) {
	var k [KeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, fmt.Errorf("seal: reading crypto/rand: %w", err)
	}
	return dataKeyFrom(k[:]), nil
}

func dataKeyFrom(b []byte) *DataKey {
	dk := &DataKey{}
	copy(dk.k[:], b)
	dk.id = keyID("penah data key v1", dk.k[:])
	return dk
}

// ID returns the key id recorded in every record the key seals.
func (dk *DataKey) ID() KeyID { return dk.id }

// recordAD binds a record to its case and kind. Length prefixes keep ("ab","c") and ("a","bc")
// apart.
func recordAD(ref, kind string) []byte {
	ad := make([]byte, 0, 32+len(ref)+len(kind))
	ad = append(ad, "penah record v1"...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(ref)))
	ad = append(ad, ref...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(kind)))
	return append(ad, kind...)
}

// Seal encrypts one record of a case. ref is the case reference and kind the record kind (e.g.
// "answers", "relay"); both must be given again to open it.
func (dk *DataKey) Seal(ref, kind string, plaintext []byte) ([]byte, error) {
	return sealWith(dk.k[:], dk.id, recordAD(ref, kind), plaintext)
}

// Open decrypts a record sealed by Seal with the same reference and kind.
func (dk *DataKey) Open(ref, kind string, sealed []byte) ([]byte, error) {
	return openWith(dk.k[:], dk.id, recordAD(ref, kind), sealed)
}

func sealWith(key []byte, id KeyID, ad, plaintext []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, recordHeader, recordOverhead+len(plaintext))
	out[0] = recordV1
	copy(out[1:], id[:])
	nonce := out[1+KeyIDSize : recordHeader]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: reading crypto/rand: %w", err)
	}
	return aead.Seal(out, nonce, plaintext, ad), nil
}

func openWith(key []byte, id KeyID, ad, sealed []byte) ([]byte, error) {
	if len(sealed) < recordOverhead || sealed[0] != recordV1 {
		return nil, ErrCannotDecrypt
	}
	if subtle.ConstantTimeCompare(sealed[1:1+KeyIDSize], id[:]) != 1 {
		return nil, ErrCannotDecrypt
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, ErrCannotDecrypt
	}
	pt, err := aead.Open(nil, sealed[1+KeyIDSize:recordHeader], sealed[recordHeader:], ad)
	if err != nil {
		return nil, ErrCannotDecrypt
	}
	return pt, nil
}

// SealedKeyID returns the key id a sealed record names, so a keyring can pick the key to open it.
func SealedKeyID(sealed []byte) (KeyID, bool) {
	var id KeyID
	if len(sealed) < recordOverhead || sealed[0] != recordV1 {
		return id, false
	}
	copy(id[:], sealed[1:])
	return id, true
}
