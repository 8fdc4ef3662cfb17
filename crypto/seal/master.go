package seal

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/hkdf"
)

// Purpose names what a key derived from the master key is for. One purpose, one key: a leak of
// one derived key does not expose the others, and no key is used in two constructions.
type Purpose string

// Purposes.
const (
	PurposeSession    Purpose = "session"       // sessions in progress, sealed at rest
	PurposeBlindIndex Purpose = "blind-index"   // the pepper of blind indexes
	PurposeTeamWrap   Purpose = "team-wrap"     // team private keys at rest
	PurposeEnvelope   Purpose = "envelope-auth" // MAC over case envelopes
	PurposeDirectory  Purpose = "directory"     // the officer directory at rest (teams, officers, invites)
)

// MaxMasterKeys bounds a keyring file (one key per rotation).
const MaxMasterKeys = 64

// MaxKeyFileBytes bounds any key file this package reads.
const MaxKeyFileBytes = 64 << 10

// MasterKey is the root secret: 32 random bytes. It is kept in a file with mode 0600 (or in
// PENAH_MASTER_KEY) and never stored in the database.
type MasterKey struct {
	k  [KeySize]byte
	id KeyID
}

// NewMasterKey draws a master key from crypto/rand.
func NewMasterKey() (*MasterKey, error) {
	var k [KeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, fmt.Errorf("seal: reading crypto/rand: %w", err)
	}
	return masterFrom(k[:]), nil
}

func masterFrom(b []byte) *MasterKey {
	m := &MasterKey{}
	copy(m.k[:], b)
	m.id = keyID("penah master v1", m.k[:])
	return m
}

// ID returns the key id.
func (m *MasterKey) ID() KeyID { return m.id }

// derive returns the purpose key: HKDF-SHA256 with the master key as secret and the purpose in
// the info string.
func (m *MasterKey) derive(p Purpose) []byte {
	out := make([]byte, KeySize)
	r := hkdf.New(sha256.New, m.k[:], nil, []byte("penah v1 "+string(p)))
	if _, err := io.ReadFull(r, out); err != nil {
		panic("seal: hkdf: " + err.Error()) // cannot happen for 32 bytes of SHA-256 HKDF
	}
	return out
}

const masterLinePrefix = "penah-master-v1 "

// FormatMasterKeys writes keys in the key-file format, oldest first.
func FormatMasterKeys(keys ...*MasterKey) []byte {
	var b bytes.Buffer
	b.WriteString("# Penah master keys, oldest first; the last one is current.\n")
	b.WriteString("# Keep this file secret (mode 0600) and backed up apart from the database.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s%s\n", masterLinePrefix, base64.StdEncoding.EncodeToString(k.k[:]))
	}
	return b.Bytes()
}

// ParseMasterKeys reads the key-file format: comment lines, blank lines, and one
// "penah-master-v1 BASE64" line per key. A bare base64 key (as in PENAH_MASTER_KEY) is accepted
// too. Errors never include key material.
func ParseMasterKeys(data []byte) ([]*MasterKey, error) {
	if len(data) > MaxKeyFileBytes {
		return nil, errors.New("seal: master key file too large")
	}
	var keys []*MasterKey
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 256), MaxKeyFileBytes)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		enc, _ := strings.CutPrefix(line, masterLinePrefix)
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
		if err != nil || len(b) != KeySize {
			return nil, fmt.Errorf("seal: master key line %d is not 32 base64-encoded bytes", n)
		}
		if len(keys) == MaxMasterKeys {
			return nil, fmt.Errorf("seal: more than %d master keys", MaxMasterKeys)
		}
		keys = append(keys, masterFrom(b))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("seal: reading master keys: %w", err)
	}
	if len(keys) == 0 {
		return nil, errors.New("seal: no master key found")
	}
	return keys, nil
}

// ErrKeyFileMode is returned for a key file that others than its owner may read.
var ErrKeyFileMode = errors.New("key file is readable by others: run chmod 600 on it")

// ReadKeyFile reads a secret key file, refusing one that group or others may read or write.
func ReadKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrKeyFileMode)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxKeyFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxKeyFileBytes {
		return nil, fmt.Errorf("%s: key file too large", path)
	}
	return data, nil
}

// Keyring holds the master keys, oldest first, and the keys derived from them. New secrets are
// sealed with the newest; any of them opens.
type Keyring struct {
	masters []*MasterKey
	derived map[KeyID]derivedKey // by derived key id
	macs    map[KeyID]*MACKey
	current map[Purpose]derivedKey
	curMAC  *MACKey
	index   *Indexer
}

type derivedKey struct {
	k  []byte
	id KeyID
}

// NewKeyring makes a keyring from master keys, oldest first.
func NewKeyring(masters ...*MasterKey) (*Keyring, error) {
	if len(masters) == 0 {
		return nil, errors.New("seal: a keyring needs a master key")
	}
	kr := &Keyring{
		masters: masters,
		derived: map[KeyID]derivedKey{},
		macs:    map[KeyID]*MACKey{},
		current: map[Purpose]derivedKey{},
	}
	for _, m := range masters {
		for _, p := range []Purpose{PurposeSession, PurposeTeamWrap, PurposeDirectory} {
			k := m.derive(p)
			d := derivedKey{k: k, id: keyID("penah "+string(p)+" v1", k)}
			kr.derived[d.id] = d
			kr.current[p] = d // the last master wins
		}
		mac, _ := NewMACKey(m.derive(PurposeEnvelope)) // 32 bytes: cannot fail
		kr.macs[mac.id] = mac
		kr.curMAC = mac
	}
	// The blind-index pepper comes from the first master key and never rotates: every stored key
	// is an index, and rotating it would orphan them all.
	kr.index = &Indexer{}
	copy(kr.index.k[:], masters[0].derive(PurposeBlindIndex))
	return kr, nil
}

// Current returns the newest master key.
func (kr *Keyring) Current() *MasterKey { return kr.masters[len(kr.masters)-1] }

// Masters returns the master keys, oldest first.
func (kr *Keyring) Masters() []*MasterKey { return append([]*MasterKey(nil), kr.masters...) }

// Indexer returns the blind indexer.
func (kr *Keyring) Indexer() *Indexer { return kr.index }

// MACKey implements MACKeys.
func (kr *Keyring) MACKey(id KeyID) (*MACKey, bool) {
	m, ok := kr.macs[id]
	return m, ok
}

// CurrentMAC returns the envelope MAC key of the newest master key.
func (kr *Keyring) CurrentMAC() *MACKey { return kr.curMAC }

func secretAD(p Purpose, label string) []byte {
	return recordAD("secret:"+string(p), label)
}

// SealSecret seals a server-side secret (a session, a team private key) with the newest key of
// purpose p. label binds the ciphertext to what it belongs to (e.g. the session's storage key),
// so it cannot be moved to another record.
func (kr *Keyring) SealSecret(p Purpose, label string, plaintext []byte) ([]byte, error) {
	d, ok := kr.current[p]
	if !ok {
		return nil, fmt.Errorf("seal: no key for purpose %q", p)
	}
	return sealWith(d.k, d.id, secretAD(p, label), plaintext)
}

// OpenSecret opens what SealSecret sealed, with whichever master key's purpose key sealed it.
func (kr *Keyring) OpenSecret(p Purpose, label string, sealed []byte) ([]byte, error) {
	id, ok := SealedKeyID(sealed)
	if !ok {
		return nil, ErrCannotDecrypt
	}
	d, ok := kr.derived[id]
	if !ok {
		return nil, ErrCannotDecrypt
	}
	return openWith(d.k, d.id, secretAD(p, label), sealed)
}

// WrapIdentity seals a private key (a team's) for storage in the database.
func (kr *Keyring) WrapIdentity(label string, id *Identity) ([]byte, error) {
	return kr.SealSecret(PurposeTeamWrap, label, id.priv[:])
}

// UnwrapIdentity opens a private key sealed by WrapIdentity.
func (kr *Keyring) UnwrapIdentity(label string, sealed []byte) (*Identity, error) {
	priv, err := kr.OpenSecret(PurposeTeamWrap, label, sealed)
	if err != nil {
		return nil, err
	}
	return identityFrom(priv)
}

// Indexer computes blind indexes: HMAC-SHA256 under a pepper derived from the master key. Equal
// inputs give equal indexes, so storage can be keyed by them, while a stolen database cannot be
// searched for a known Telegram id without the master key.
type Indexer struct {
	k [KeySize]byte
}

// IndexSize is the number of HMAC bytes kept in an index (128 bits).
const IndexSize = 16

// Index returns the blind index of value within a domain (e.g. "tg-user"), as hex.
func (ix *Indexer) Index(domain, value string) string {
	h := hmac.New(sha256.New, ix.k[:])
	h.Write([]byte(domain))
	h.Write([]byte{0})
	h.Write([]byte(value))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:IndexSize])
}
