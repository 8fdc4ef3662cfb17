package seal

import (
	"crypto/ecdh"
	"crypto/rand"

	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/salsa20/salsa"
)

// Wraps are NaCl anonymous boxes, byte for byte what nacl/box.SealAnonymous makes and
// box.OpenAnonymous opens (tests check both ways): ephemeral public key || secretbox under
// HSalsa20(X25519(ephemeral, recipient)), nonce = BLAKE2b-192(ephemeral public || recipient
// public). They are computed here rather than through nacl/box for speed, not to change the
// construction:
//
//   - x/crypto's curve25519.ScalarMult, which nacl/box uses, goes through crypto/ecdh and derives
//     a public key it then throws away, doubling the cost of every X25519 operation; keeping
//     *ecdh.PrivateKey values avoids that;
//   - one envelope uses one ephemeral key for all its recipients (the same ephemeral public key
//     heads each wrap). Each wrap is still a valid anonymous box: the recipients' keys differ, so
//     the shared secrets, the keys and the nonces differ, and the envelope MAC binds them
//     together. This saves one X25519 operation per extra recipient.

var (
	zeros16   [16]byte
	anonOverh = box.AnonymousOverhead
)

// ephemeral is one envelope's ephemeral X25519 key.
type ephemeral struct {
	priv *ecdh.PrivateKey
	pub  [KeySize]byte
}

func newEphemeral() (*ephemeral, error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	e := &ephemeral{priv: k}
	copy(e.pub[:], k.PublicKey().Bytes())
	return e, nil
}

// boxKey is NaCl's box.Precompute from an X25519 shared secret.
func boxKey(shared []byte) *[KeySize]byte {
	var in, key [KeySize]byte
	copy(in[:], shared)
	salsa.HSalsa20(&key, &zeros16, &in, &salsa.Sigma)
	return &key
}

func anonNonce(ephemeralPub, recipientPub *[KeySize]byte) *[24]byte {
	h, _ := blake2b.New(24, nil) // a valid size and no key: cannot fail
	h.Write(ephemeralPub[:])
	h.Write(recipientPub[:])
	var n [24]byte
	h.Sum(n[:0])
	return &n
}

// sealTo boxes msg to a recipient with the envelope's ephemeral key.
func (e *ephemeral) sealTo(r *Recipient, msg []byte) ([]byte, error) {
	shared, err := e.priv.ECDH(r.ecdh)
	if err != nil {
		return nil, err // a low-order public key: refuse rather than box to a known key
	}
	out := make([]byte, 0, anonOverh+len(msg))
	out = append(out, e.pub[:]...)
	return secretbox.Seal(out, msg, anonNonce(&e.pub, &r.pub), boxKey(shared)), nil
}

// openAnon opens an anonymous box addressed to id.
func (id *Identity) openAnon(b []byte) ([]byte, bool) {
	if len(b) < anonOverh {
		return nil, false
	}
	var epk [KeySize]byte
	copy(epk[:], b[:KeySize])
	pub, err := ecdh.X25519().NewPublicKey(epk[:])
	if err != nil {
		return nil, false
	}
	shared, err := id.ecdh.ECDH(pub)
	if err != nil {
		return nil, false
	}
	return secretbox.Open(nil, b[KeySize:], anonNonce(&epk, &id.pub), boxKey(shared))
}
