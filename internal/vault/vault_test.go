package vault

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/penahbot/penah/crypto/seal"
)

// memStore is the smallest Store: sealed blobs in a map.
type memStore map[string][]byte

func (m memStore) KeyRecord(_ context.Context, name string) ([]byte, error) { return m[name], nil }
func (m memStore) PutKeyRecord(_ context.Context, name string, b []byte) error {
	m[name] = append([]byte(nil), b...)
	return nil
}
func (m memStore) KeyRecordNames(context.Context) ([]string, error) {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

const ref = "K7Q2-MX9D-4F8H-ZT3N"

func setup(t *testing.T) (*Vault, *seal.Keyring, memStore, *seal.Identity) {
	t.Helper()
	m, _ := seal.NewMasterKey()
	kr, _ := seal.NewKeyring(m)
	st := memStore{}
	v, err := Open(context.Background(), kr, st, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	escrow, _ := seal.GenerateIdentity()
	if err := v.SetEscrow(context.Background(), escrow.Recipient()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.AddTeamKey(context.Background(), "duhok", false); err != nil {
		t.Fatal(err)
	}
	return v, kr, st, escrow
}

func TestCaseOpensForTeamAndEscrowOnly(t *testing.T) {
	v, kr, st, escrow := setup(t)
	env, sealed, err := v.SealCase(ref, "duhok", "answers", []byte("body"))
	if err != nil {
		t.Fatal(err)
	}
	// A fresh vault from the same store and master key: the team key was persisted, sealed.
	v2, err := Open(context.Background(), kr, st, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := v2.OpenCase(ref, "duhok", "answers", env, sealed); err != nil || string(pt) != "body" {
		t.Fatalf("team: %v", err)
	}
	if pt, err := v2.OpenCase(ref, "erbil", "answers", env, sealed, escrow); err != nil || string(pt) != "body" {
		t.Fatalf("escrow: %v", err)
	}
	if _, err := v2.AddTeamKey(context.Background(), "erbil", false); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.OpenCase(ref, "erbil", "answers", env, sealed); !errors.Is(err, ErrNoKey) {
		t.Fatalf("another team's key opened the case: %v", err)
	}
}

func TestKeyRecordsAreSealedAndChecked(t *testing.T) {
	_, kr, st, _ := setup(t)
	for name, b := range st {
		if strings.Contains(string(b), "penah-pub1") || strings.Contains(string(b), "duhok") {
			t.Fatalf("record %s is readable without the master key", name)
		}
	}
	// Another master key cannot read (or silently accept) the records.
	other, _ := seal.NewMasterKey()
	okr, _ := seal.NewKeyring(other)
	if _, err := Open(context.Background(), okr, st, time.Now); err == nil {
		t.Fatal("key records opened with another master key")
	}
	// An attacker with write access swaps the escrow record for one of their own making.
	attackerKR, _ := seal.NewKeyring(other)
	av, _ := Open(context.Background(), attackerKR, memStore{}, time.Now)
	evil, _ := seal.GenerateIdentity()
	fake := memStore{}
	av.store = fake
	if err := av.SetEscrow(context.Background(), evil.Recipient()); err != nil {
		t.Fatal(err)
	}
	st[recordEscrow] = fake[recordEscrow]
	if _, err := Open(context.Background(), kr, st, time.Now); err == nil {
		t.Fatal("a forged escrow record was accepted")
	}
}

func TestSealedOnlyTeam(t *testing.T) {
	v, kr, st, _ := setup(t)
	id, err := v.AddTeamKey(context.Background(), "ninewa", true)
	if err != nil || id == nil {
		t.Fatalf("sealed-only team must hand its key out: %v", err)
	}
	env, sealed, err := v.SealCase(ref, "ninewa", "answers", []byte("body"))
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := Open(context.Background(), kr, st, time.Now)
	if _, err := v2.OpenCase(ref, "ninewa", "answers", env, sealed); !errors.Is(err, ErrNoKey) {
		t.Fatal("the server opened a sealed-only team's case by itself")
	}
	if pt, err := v2.OpenCase(ref, "ninewa", "answers", env, sealed, id); err != nil || string(pt) != "body" {
		t.Fatalf("with the officers' key: %v", err)
	}
	if _, err := v2.AddTeamKey(context.Background(), "ninewa", false); err == nil {
		t.Fatal("a sealed-only team was silently turned server-held")
	}
}

func TestTeamRotationKeepsOldKeys(t *testing.T) {
	v, _, _, _ := setup(t)
	env, sealed, _ := v.SealCase(ref, "duhok", "answers", []byte("old"))
	before, _ := v.Team("duhok")
	oldID := before.Current().ID()
	if _, err := v.AddTeamKey(context.Background(), "duhok", false); err != nil {
		t.Fatal(err)
	}
	after, _ := v.Team("duhok")
	if after.Current().ID() == oldID {
		t.Fatal("rotation did not make a new key current")
	}
	if _, err := v.OpenCase(ref, "duhok", "answers", env, sealed); err != nil {
		t.Fatalf("old case after rotation: %v", err)
	}
	moved, err := v.Rewrap(ref, "duhok", env)
	if err != nil {
		t.Fatal(err)
	}
	if moved.Recipients()[0] != after.Current().ID() {
		t.Fatal("rewrap did not move the case to the current team key")
	}
	if _, err := v.OpenCase(ref, "duhok", "answers", moved, sealed); err != nil {
		t.Fatal(err)
	}
}

func TestSealCaseNeedsTeamAndEscrow(t *testing.T) {
	m, _ := seal.NewMasterKey()
	kr, _ := seal.NewKeyring(m)
	v, _ := Open(context.Background(), kr, memStore{}, time.Now)
	if _, err := v.AddTeamKey(context.Background(), "duhok", false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.SealCase(ref, "duhok", "answers", nil); err == nil {
		t.Fatal("sealed a case with no escrow key")
	}
	if _, _, err := v.SealCase(ref, "nowhere", "answers", nil); err == nil {
		t.Fatal("sealed a case for a team with no key")
	}
	for _, bad := range []string{"", "Duhok", "a b", strings.Repeat("a", 33), "../x"} {
		if _, err := v.AddTeamKey(context.Background(), bad, false); err == nil {
			t.Errorf("team name %q accepted", bad)
		}
	}
}

func TestMasterKeyLoading(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MasterKeyFile)
	noenv := func(string) string { return "" }
	if _, _, err := LoadMasterKeys(noenv, path); !errors.Is(err, ErrNoMasterKey) {
		t.Fatalf("missing: %v", err)
	}
	m, _ := seal.NewMasterKey()
	if err := WriteMasterKeys(path, m); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode().Perm())
	}
	keys, src, err := LoadMasterKeys(noenv, path)
	if err != nil || len(keys) != 1 || keys[0].ID() != m.ID() || src != path {
		t.Fatalf("from file: %v %s", err, src)
	}
	m2, _ := seal.NewMasterKey()
	env := func(k string) string {
		if k == MasterKeyEnv {
			return string(seal.FormatMasterKeys(m2))
		}
		return ""
	}
	keys, src, err = LoadMasterKeys(env, path)
	if err != nil || keys[0].ID() != m2.ID() || src != MasterKeyEnv {
		t.Fatalf("the environment should win: %v %s", err, src)
	}
	os.Chmod(path, 0o640)
	if _, _, err := LoadMasterKeys(noenv, path); !errors.Is(err, seal.ErrKeyFileMode) {
		t.Fatalf("group-readable key file: %v", err)
	}
}
