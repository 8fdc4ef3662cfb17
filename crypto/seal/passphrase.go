package seal

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id parameters of a passphrase-wrapped key. They are stored in the
// file beside the ciphertext (and authenticated with it), so they can be raised later without
// breaking old files.
type Argon2Params struct {
	Time    uint32 // passes
	MemoryK uint32 // memory in KiB
	Threads uint8
}

// DefaultArgon2 is used for new files: 64 MiB and 3 passes, above OWASP's argon2id minimum, so a
// stolen escrow or officer key file resists offline guessing of its passphrase.
var DefaultArgon2 = Argon2Params{Time: 3, MemoryK: 64 << 10, Threads: 4}

// Bounds on parameters read from a file, so a crafted file cannot make Penah allocate gigabytes
// or spin for hours before failing.
const (
	MaxArgon2Time    = 16
	MaxArgon2MemoryK = 1 << 20 // 1 GiB
	MaxArgon2Threads = 16
	MinPassphrase    = 12 // bytes
)

const identityHeader = "penah-identity-v1"

// ErrWeakPassphrase is returned by WrapIdentity for a passphrase shorter than MinPassphrase.
var ErrWeakPassphrase = fmt.Errorf("seal: passphrase must be at least %d bytes", MinPassphrase)

// WrappedIdentity is a parsed passphrase-wrapped identity file, not yet opened.
type WrappedIdentity struct {
	Params Argon2Params
	ID     KeyID
	salt   []byte
	sealed []byte
	ad     []byte
}

// WrapIdentity encrypts an identity with a passphrase (argon2id, then XChaCha20-Poly1305) into a
// text file an officer or the escrow holder keeps offline.
func WrapIdentity(id *Identity, passphrase []byte, p Argon2Params) ([]byte, error) {
	if len(passphrase) < MinPassphrase {
		return nil, ErrWeakPassphrase
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("seal: reading crypto/rand: %w", err)
	}
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s\nkdf argon2id t=%d m=%d p=%d\nsalt %s\nid %s\n",
		identityHeader, p.Time, p.MemoryK, p.Threads, base64.StdEncoding.EncodeToString(salt), id.id)
	key := argon2.IDKey(passphrase, salt, p.Time, p.MemoryK, p.Threads, KeySize)
	sealed, err := sealWith(key, id.id, head.Bytes(), id.priv[:])
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&head, "sealed %s\n", base64.StdEncoding.EncodeToString(sealed))
	return head.Bytes(), nil
}

func (p Argon2Params) check() error {
	if p.Time < 1 || p.Time > MaxArgon2Time || p.MemoryK < 8*uint32(p.Threads) || p.MemoryK > MaxArgon2MemoryK ||
		p.Threads < 1 || p.Threads > MaxArgon2Threads {
		return errors.New("seal: argon2id parameters out of range")
	}
	return nil
}

// ParseWrappedIdentity reads a passphrase-wrapped identity file without opening it.
func ParseWrappedIdentity(data []byte) (*WrappedIdentity, error) {
	if len(data) > MaxKeyFileBytes {
		return nil, errors.New("seal: identity file too large")
	}
	bad := func(what string) (*WrappedIdentity, error) {
		return nil, fmt.Errorf("seal: malformed identity file: %s", what)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 512), MaxKeyFileBytes)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 5 {
			return bad("extra lines")
		}
	}
	if len(lines) != 5 || lines[0] != identityHeader {
		return bad("not a penah identity file")
	}
	w := &WrappedIdentity{}
	var t, m, p uint64
	if n, err := fmt.Sscanf(lines[1], "kdf argon2id t=%d m=%d p=%d", &t, &m, &p); err != nil || n != 3 ||
		lines[1] != fmt.Sprintf("kdf argon2id t=%d m=%d p=%d", t, m, p) || t > MaxArgon2Time || m > MaxArgon2MemoryK || p > MaxArgon2Threads {
		return bad("kdf line")
	}
	w.Params = Argon2Params{Time: uint32(t), MemoryK: uint32(m), Threads: uint8(p)}
	if w.Params.check() != nil {
		return bad("kdf parameters")
	}
	salt, ok := strings.CutPrefix(lines[2], "salt ")
	if !ok {
		return bad("salt line")
	}
	var err error
	if w.salt, err = base64.StdEncoding.DecodeString(salt); err != nil || len(w.salt) < 16 {
		return bad("salt")
	}
	id, ok := strings.CutPrefix(lines[3], "id ")
	if !ok {
		return bad("id line")
	}
	if w.ID, err = ParseKeyID(id); err != nil {
		return bad("id")
	}
	sealed, ok := strings.CutPrefix(lines[4], "sealed ")
	if !ok {
		return bad("sealed line")
	}
	if w.sealed, err = base64.StdEncoding.DecodeString(sealed); err != nil {
		return bad("sealed")
	}
	w.ad = []byte(strings.Join(lines[:4], "\n") + "\n")
	return w, nil
}

// Open derives the key from the passphrase and opens the identity. A wrong passphrase, like any
// tampering with the file, is ErrCannotDecrypt.
func (w *WrappedIdentity) Open(passphrase []byte) (*Identity, error) {
	key := argon2.IDKey(passphrase, w.salt, w.Params.Time, w.Params.MemoryK, w.Params.Threads, KeySize)
	priv, err := openWith(key, w.ID, w.ad, w.sealed)
	if err != nil {
		return nil, ErrCannotDecrypt
	}
	id, err := identityFrom(priv)
	if err != nil || id.id != w.ID {
		return nil, ErrCannotDecrypt
	}
	return id, nil
}

// UnwrapIdentity parses and opens a passphrase-wrapped identity file.
func UnwrapIdentity(data, passphrase []byte) (*Identity, error) {
	w, err := ParseWrappedIdentity(data)
	if err != nil {
		return nil, err
	}
	return w.Open(passphrase)
}

// String describes the parameters for messages.
func (p Argon2Params) String() string {
	return "argon2id t=" + strconv.Itoa(int(p.Time)) + " m=" + strconv.Itoa(int(p.MemoryK)) + "KiB p=" + strconv.Itoa(int(p.Threads))
}
