// Package vault holds Penah's keys at run time: the master keyring, each team's key pairs and
// the escrow public key. It seals sessions and case bodies and opens them for whoever holds a
// key, on top of crypto/seal. Key records are kept in the store sealed under the master key, so
// a stolen database reveals no private key and a tampered one is refused (an attacker with write
// access cannot swap in their own public key).
package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/penahbot/penah/crypto/seal"
)

// MasterKeyEnv names the environment variable that may hold the master keys.
const MasterKeyEnv = "PENAH_MASTER_KEY"

// MasterKeyFile is the master key file's name in the data directory.
const MasterKeyFile = "master.key"

// DefaultTeam is the team cases go to until routing (issue 6) names others.
const DefaultTeam = "default"

// ErrNoMasterKey is returned when neither PENAH_MASTER_KEY nor a key file exists.
var ErrNoMasterKey = errors.New("no master key: run `penah keys init` or set " + MasterKeyEnv)

// ErrNoKey is returned when nobody present holds a key that opens a case.
var ErrNoKey = errors.New("no key here opens this case")

// Store keeps sealed key records by name. The vault seals and authenticates every record; the
// store sees opaque bytes.
type Store interface {
	KeyRecord(ctx context.Context, name string) ([]byte, error) // nil, nil when absent
	PutKeyRecord(ctx context.Context, name string, sealed []byte) error
	KeyRecordNames(ctx context.Context) ([]string, error)
}

// LoadMasterKeys reads the master keys from PENAH_MASTER_KEY, or else from the key file at path
// (which must be mode 0600). source says where they came from, for one line of log.
func LoadMasterKeys(getenv func(string) string, path string) (keys []*seal.MasterKey, source string, err error) {
	if v := getenv(MasterKeyEnv); v != "" {
		keys, err := seal.ParseMasterKeys([]byte(v))
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", MasterKeyEnv, err)
		}
		return keys, MasterKeyEnv, nil
	}
	data, err := seal.ReadKeyFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", ErrNoMasterKey
	}
	if err != nil {
		return nil, "", err
	}
	keys, err = seal.ParseMasterKeys(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return keys, path, nil
}

// WriteMasterKeys writes the key file with mode 0600, atomically (temp file, fsync, rename), so
// a crash never leaves a half-written key file.
func WriteMasterKeys(path string, keys ...*seal.MasterKey) error {
	return writeSecretFile(path, seal.FormatMasterKeys(keys...))
}

func writeSecretFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WriteIdentityFile writes a passphrase-wrapped identity to path (mode 0600), refusing to
// overwrite an existing file.
func WriteIdentityFile(path string, wrapped []byte) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s already exists; move it away first", path)
	}
	return writeSecretFile(path, wrapped)
}

// teamRecord is a team's keys as stored (sealed) in the database.
type teamRecord struct {
	Name       string      `json:"name"`
	SealedOnly bool        `json:"sealed_only"`
	Keys       []keyRecord `json:"keys"` // oldest first; the last is current
}

type keyRecord struct {
	Public  string    `json:"public"`
	Private []byte    `json:"private,omitempty"` // sealed under the master key; absent when sealed-only
	Created time.Time `json:"created"`
}

type escrowRecord struct {
	Public  string    `json:"public"`
	Created time.Time `json:"created"`
}

// Team is a team's keys as loaded.
type Team struct {
	Name       string
	SealedOnly bool
	recipients []*seal.Recipient // oldest first
	identities []*seal.Identity  // server-held private keys, any version
}

// Current returns the team's newest public key.
func (t *Team) Current() *seal.Recipient { return t.recipients[len(t.recipients)-1] }

// Vault is the run-time key holder. It is safe for concurrent use.
type Vault struct {
	kr    *seal.Keyring
	store Store
	now   func() time.Time

	mu     sync.RWMutex
	teams  map[string]*Team
	escrow *seal.Recipient
}

const (
	recordEscrow = "escrow"
	teamPrefix   = "team:"
)

var teamNameRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// Open loads every key record from the store, checking each under the master key.
func Open(ctx context.Context, kr *seal.Keyring, store Store, now func() time.Time) (*Vault, error) {
	v := &Vault{kr: kr, store: store, now: now, teams: map[string]*Team{}}
	names, err := store.KeyRecordNames(ctx)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		switch {
		case name == recordEscrow:
			var rec escrowRecord
			if err := v.load(ctx, name, &rec); err != nil {
				return nil, err
			}
			if v.escrow, err = seal.ParseRecipient(rec.Public); err != nil {
				return nil, fmt.Errorf("vault: escrow key: %w", err)
			}
		case strings.HasPrefix(name, teamPrefix):
			var rec teamRecord
			if err := v.load(ctx, name, &rec); err != nil {
				return nil, err
			}
			t, err := v.team(rec)
			if err != nil {
				return nil, err
			}
			v.teams[t.Name] = t
		}
	}
	return v, nil
}

func (v *Vault) load(ctx context.Context, name string, into any) error {
	sealed, err := v.store.KeyRecord(ctx, name)
	if err != nil {
		return err
	}
	plain, err := v.kr.OpenSecret(seal.PurposeTeamWrap, "keyrecord:"+name, sealed)
	if err != nil {
		return fmt.Errorf("vault: key record %q does not open with this master key (wrong key, or tampered): %w", name, err)
	}
	return json.Unmarshal(plain, into)
}

func (v *Vault) save(ctx context.Context, name string, rec any) error {
	plain, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	sealed, err := v.kr.SealSecret(seal.PurposeTeamWrap, "keyrecord:"+name, plain)
	if err != nil {
		return err
	}
	return v.store.PutKeyRecord(ctx, name, sealed)
}

func (v *Vault) team(rec teamRecord) (*Team, error) {
	t := &Team{Name: rec.Name, SealedOnly: rec.SealedOnly}
	for _, k := range rec.Keys {
		r, err := seal.ParseRecipient(k.Public)
		if err != nil {
			return nil, fmt.Errorf("vault: team %s: %w", rec.Name, err)
		}
		t.recipients = append(t.recipients, r)
		if len(k.Private) > 0 {
			id, err := v.kr.UnwrapIdentity(teamLabel(rec.Name, r.ID()), k.Private)
			if err != nil || id.ID() != r.ID() {
				return nil, fmt.Errorf("vault: team %s: private key does not open", rec.Name)
			}
			t.identities = append(t.identities, id)
		}
	}
	if len(t.recipients) == 0 {
		return nil, fmt.Errorf("vault: team %s has no key", rec.Name)
	}
	return t, nil
}

func teamLabel(team string, id seal.KeyID) string { return "team:" + team + ":" + id.String() }

// Keyring returns the master keyring.
func (v *Vault) Keyring() *seal.Keyring { return v.kr }

// Index returns the blind index of a value (e.g. a Telegram user id) in a domain.
func (v *Vault) Index(domain, value string) string { return v.kr.Indexer().Index(domain, value) }

// SetEscrow records the escrow public key. The private half never reaches the server.
func (v *Vault) SetEscrow(ctx context.Context, r *seal.Recipient) error {
	if err := v.save(ctx, recordEscrow, escrowRecord{Public: r.String(), Created: v.now().UTC()}); err != nil {
		return err
	}
	v.mu.Lock()
	v.escrow = r
	v.mu.Unlock()
	return nil
}

// Escrow returns the escrow public key, or nil when none is set.
func (v *Vault) Escrow() *seal.Recipient {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.escrow
}

// AddTeamKey creates a new key pair for a team (creating the team) and makes it current. For a
// sealed-only team the private key is returned to the caller, to be wrapped with a passphrase and
// handed to its officers, and the server keeps only the public key; otherwise the server keeps
// the private key sealed under the master key and returns nil.
func (v *Vault) AddTeamKey(ctx context.Context, team string, sealedOnly bool) (*seal.Identity, error) {
	if !teamNameRe.MatchString(team) {
		return nil, fmt.Errorf("team name %q: use lowercase letters, digits, - and _", team)
	}
	id, err := seal.GenerateIdentity()
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	rec := teamRecord{Name: team, SealedOnly: sealedOnly}
	if old, ok := v.teams[team]; ok {
		if err := v.load(ctx, teamPrefix+team, &rec); err != nil {
			return nil, err
		}
		if old.SealedOnly && !sealedOnly {
			return nil, fmt.Errorf("team %s is sealed-only; its cases cannot be moved to a server-held key this way", team)
		}
		rec.SealedOnly = sealedOnly
	}
	k := keyRecord{Public: id.Recipient().String(), Created: v.now().UTC()}
	if !sealedOnly {
		if k.Private, err = v.kr.WrapIdentity(teamLabel(team, id.ID()), id); err != nil {
			return nil, err
		}
	}
	rec.Keys = append(rec.Keys, k)
	t, err := v.team(rec)
	if err != nil {
		return nil, err
	}
	if err := v.save(ctx, teamPrefix+team, rec); err != nil {
		return nil, err
	}
	v.teams[team] = t
	if sealedOnly {
		return id, nil
	}
	return nil, nil
}

// Teams lists the teams, sorted by name.
func (v *Vault) Teams() []*Team {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]*Team, 0, len(v.teams))
	for _, t := range v.teams {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Team returns a team by name.
func (v *Vault) Team(name string) (*Team, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	t, ok := v.teams[name]
	return t, ok
}

// SealSession seals a session in progress under the session key, bound to its storage key.
func (v *Vault) SealSession(key string, plain []byte) ([]byte, error) {
	return v.kr.SealSecret(seal.PurposeSession, "session:"+key, plain)
}

// OpenSession opens a session sealed by SealSession.
func (v *Vault) OpenSession(key string, sealed []byte) ([]byte, error) {
	return v.kr.OpenSecret(seal.PurposeSession, "session:"+key, sealed)
}

// SealCase seals a case body with a fresh data key wrapped to the team's current key and the
// escrow key, under the current envelope MAC key.
func (v *Vault) SealCase(ref, team, kind string, body []byte) (*seal.Envelope, []byte, error) {
	recipients, err := v.recipients(team)
	if err != nil {
		return nil, nil, err
	}
	dk, err := seal.NewDataKey()
	if err != nil {
		return nil, nil, err
	}
	sealed, err := dk.Seal(ref, kind, body)
	if err != nil {
		return nil, nil, err
	}
	env, err := seal.Wrap(dk, ref, v.kr.CurrentMAC(), recipients...)
	if err != nil {
		return nil, nil, err
	}
	return env, sealed, nil
}

func (v *Vault) recipients(team string) ([]*seal.Recipient, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	t, ok := v.teams[team]
	if !ok {
		return nil, fmt.Errorf("vault: team %q has no key: run `penah keys team %s`", team, team)
	}
	if v.escrow == nil {
		return nil, errors.New("vault: no escrow key: run `penah keys init`")
	}
	return []*seal.Recipient{t.Current(), v.escrow}, nil
}

// OpenCase opens a case record with the server-held keys of the team and any extra identities
// (an officer's or the escrow key, from a file). Without a key that opens it: ErrNoKey.
func (v *Vault) OpenCase(ref, team, kind string, env *seal.Envelope, sealed []byte, extra ...*seal.Identity) ([]byte, error) {
	if env == nil {
		return nil, ErrNoKey
	}
	ids := append([]*seal.Identity(nil), extra...)
	v.mu.RLock()
	if t, ok := v.teams[team]; ok {
		ids = append(ids, t.identities...)
	}
	v.mu.RUnlock()
	dk, err := env.Unwrap(ref, v.kr, ids...)
	if err != nil {
		return nil, ErrNoKey
	}
	return dk.Open(ref, kind, sealed)
}

// Rewrap moves a case's data key to the team's current key and the escrow key under the current
// MAC key, after a rotation. It needs a key that opens the case (server-held, or extra).
func (v *Vault) Rewrap(ref, team string, env *seal.Envelope, extra ...*seal.Identity) (*seal.Envelope, error) {
	recipients, err := v.recipients(team)
	if err != nil {
		return nil, err
	}
	ids := append([]*seal.Identity(nil), extra...)
	v.mu.RLock()
	if t, ok := v.teams[team]; ok {
		ids = append(ids, t.identities...)
	}
	v.mu.RUnlock()
	out, err := env.Rewrap(ref, v.kr, ids, v.kr.CurrentMAC(), recipients...)
	if err != nil {
		return nil, ErrNoKey
	}
	return out, nil
}
