package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/nacl/box"
)

const ref = "K7Q2-MX9D-4F8H-ZT3N"

// fastArgon keeps tests quick; DefaultArgon2 is exercised once in TestDefaultArgon2.
var fastArgon = Argon2Params{Time: 1, MemoryK: 64, Threads: 1}

func mustIdentity(t testing.TB) *Identity {
	t.Helper()
	id, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustKeyring(t testing.TB) *Keyring {
	t.Helper()
	m, err := NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := NewKeyring(m)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// Known answers. The derived key and the blind index were checked independently (Python's hmac
// and hashlib, RFC 5869 HKDF); the record and envelope are golden outputs of this code and keep
// the on-disk formats stable: changing them breaks every stored case.
func TestKnownAnswers(t *testing.T) {
	m := masterFrom(bytes.Repeat([]byte{0x42}, 32))
	if got := hex.EncodeToString(m.derive(PurposeSession)); got != "6a63de88a8c68cf81727658d7f39414f5b3d91d315a773f6fde4edea7d6318a6" {
		t.Errorf("HKDF session key %s", got)
	}
	kr, _ := NewKeyring(m)
	if got := kr.Indexer().Index("tg-user", "123456789"); got != "f844f974a03d7baa977d0ad12fa6e752" {
		t.Errorf("blind index %s", got)
	}
	// RFC 7748 §6.1: Alice's private and public key.
	priv, _ := hex.DecodeString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	alice, err := identityFrom(priv)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(alice.pub[:]); got != "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" {
		t.Errorf("X25519 public key %s", got)
	}

	dk := dataKeyFrom(bytes.Repeat([]byte{0x07}, 32))
	record, _ := hex.DecodeString("011be3832390502bf3aad6133d5082941d27578f3a998f22163cb015dcdd9c50aae17920f0fedc79d834ee7c2a0d360ad84db2826a375db5ecc689d18f")
	pt, err := dk.Open(ref, "answers", record)
	if err != nil || string(pt) != "known answer" {
		t.Fatalf("golden record: %q %v", pt, err)
	}
	var env Envelope
	golden := `{"k":"1be3832390502bf3","w":[{"t":"e2ffb0c70cda136e","b":"23kslbnmp+RrJ0v6ylcD3PmwJQ2AyL8qVxbHKcSj9h/SObhLSgkZVpoK+3ILxR5aR72po99z6PGJvtVaPoFpv6O/E+2cT2wUzyX1Z9Vi9Gk="}],"a":"18148b7a866eea34","m":"izs3ftZlzCZsgvZt7gHFrzPwtlXa87mGoZvY/s5aJxo="}`
	if err := json.Unmarshal([]byte(golden), &env); err != nil {
		t.Fatal(err)
	}
	team, _ := identityFrom(bytes.Repeat([]byte{0x09}, 32))
	got, err := env.Unwrap(ref, kr, team)
	if err != nil || got.k != dk.k {
		t.Fatalf("golden envelope: %v", err)
	}
}

func TestRoundTripThreeRecipients(t *testing.T) {
	kr := mustKeyring(t)
	team, backup, escrow := mustIdentity(t), mustIdentity(t), mustIdentity(t)
	dk, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("answer "), 300)
	sealed, err := dk.Seal(ref, "answers", body)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("answer")) {
		t.Fatal("plaintext visible in the sealed record")
	}
	env, err := Wrap(dk, ref, kr.CurrentMAC(), team.Recipient(), backup.Recipient(), escrow.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []*Identity{team, backup, escrow} {
		got, err := env.Unwrap(ref, kr, id)
		if err != nil {
			t.Fatalf("recipient %s: %v", id.ID(), err)
		}
		pt, err := got.Open(ref, "answers", sealed)
		if err != nil || !bytes.Equal(pt, body) {
			t.Fatalf("open: %v", err)
		}
	}
}

// TestEverythingWrongIsTheOneError: wrong case, kind, recipient, key id, MAC key and passphrase
// all fail with ErrCannotDecrypt and nothing else.
func TestEverythingWrongIsTheOneError(t *testing.T) {
	kr, other := mustKeyring(t), mustKeyring(t)
	team, stranger := mustIdentity(t), mustIdentity(t)
	dk, _ := NewDataKey()
	dk2, _ := NewDataKey()
	sealed, _ := dk.Seal(ref, "answers", []byte("secret"))
	env, _ := Wrap(dk, ref, kr.CurrentMAC(), team.Recipient())
	wrapped, err := WrapIdentity(team, []byte("correct horse battery"), fastArgon)
	if err != nil {
		t.Fatal(err)
	}
	otherID := sealed[:len(sealed):len(sealed)]
	otherID = append([]byte(nil), otherID...)
	otherID[1] ^= 1 // another key id
	cases := map[string]func() error{
		"wrong case":      func() error { _, err := dk.Open("AAAA-BBBB-CCCC-DDDD", "answers", sealed); return err },
		"wrong kind":      func() error { _, err := dk.Open(ref, "relay", sealed); return err },
		"wrong data key":  func() error { _, err := dk2.Open(ref, "answers", sealed); return err },
		"wrong key id":    func() error { _, err := dk.Open(ref, "answers", otherID); return err },
		"wrong recipient": func() error { _, err := env.Unwrap(ref, kr, stranger); return err },
		"wrong MAC key":   func() error { _, err := env.Unwrap(ref, other, team); return err },
		"envelope moved":  func() error { _, err := env.Unwrap("AAAA-BBBB-CCCC-DDDD", kr, team); return err },
		"wrong passphrase": func() error {
			_, err := UnwrapIdentity(wrapped, []byte("correct horse battery!"))
			return err
		},
		"empty record": func() error { _, err := dk.Open(ref, "answers", nil); return err },
		"secret under another label": func() error {
			s, _ := kr.SealSecret(PurposeSession, "session-a", []byte("x"))
			_, err := kr.OpenSecret(PurposeSession, "session-b", s)
			return err
		},
		"secret of another purpose": func() error {
			s, _ := kr.SealSecret(PurposeSession, "a", []byte("x"))
			_, err := kr.OpenSecret(PurposeTeamWrap, "a", s)
			return err
		},
	}
	for name, f := range cases {
		if err := f(); err != ErrCannotDecrypt {
			t.Errorf("%s: got %v, want ErrCannotDecrypt", name, err)
		}
	}
}

// TestTamperAnyByte flips every byte of every part and expects the open to fail.
func TestTamperAnyByte(t *testing.T) {
	kr := mustKeyring(t)
	team := mustIdentity(t)
	dk, _ := NewDataKey()
	sealed, _ := dk.Seal(ref, "answers", []byte("a short body"))
	for i := range sealed {
		bad := append([]byte(nil), sealed...)
		bad[i] ^= 0x80
		if _, err := dk.Open(ref, "answers", bad); err != ErrCannotDecrypt {
			t.Fatalf("record byte %d flipped: %v", i, err)
		}
	}
	for n := 0; n < len(sealed); n++ {
		if _, err := dk.Open(ref, "answers", sealed[:n]); err != ErrCannotDecrypt {
			t.Fatalf("record truncated to %d: %v", n, err)
		}
	}
	env, _ := Wrap(dk, ref, kr.CurrentMAC(), team.Recipient())
	mutate := func(f func(e *Envelope)) error {
		e := *env
		e.Wraps = []Wrapped{{To: env.Wraps[0].To, Box: append([]byte(nil), env.Wraps[0].Box...)}}
		e.MAC = append([]byte(nil), env.MAC...)
		f(&e)
		_, err := e.Unwrap(ref, kr, team)
		return err
	}
	for i := range env.Wraps[0].Box {
		if err := mutate(func(e *Envelope) { e.Wraps[0].Box[i] ^= 1 }); err != ErrCannotDecrypt {
			t.Fatalf("wrap byte %d: %v", i, err)
		}
	}
	for i := range env.MAC {
		if err := mutate(func(e *Envelope) { e.MAC[i] ^= 1 }); err != ErrCannotDecrypt {
			t.Fatalf("MAC byte %d: %v", i, err)
		}
	}
	for i := 0; i < KeyIDSize; i++ {
		if err := mutate(func(e *Envelope) { e.Key[i] ^= 1 }); err != ErrCannotDecrypt {
			t.Fatalf("key id byte %d: %v", i, err)
		}
		if err := mutate(func(e *Envelope) { e.Auth[i] ^= 1 }); err != ErrCannotDecrypt {
			t.Fatalf("auth id byte %d: %v", i, err)
		}
	}
	wrapped, _ := WrapIdentity(team, []byte("correct horse battery"), fastArgon)
	for i := range wrapped {
		bad := append([]byte(nil), wrapped...)
		bad[i] ^= 0x01
		if _, err := UnwrapIdentity(bad, []byte("correct horse battery")); err == nil {
			t.Fatalf("identity file byte %d flipped and still opened", i)
		}
	}
}

// TestForgedWrapRejected: an attacker who can write to the database but does not hold the server
// key boxes their own data key to the team. The anonymous box opens, but the envelope MAC does not
// verify, so the forged key is never used.
func TestForgedWrapRejected(t *testing.T) {
	kr := mustKeyring(t)
	team := mustIdentity(t)
	dk, _ := NewDataKey()
	env, _ := Wrap(dk, ref, kr.CurrentMAC(), team.Recipient())
	evil, _ := NewDataKey()
	attacker := mustKeyring(t)
	forged, _ := Wrap(evil, ref, attacker.CurrentMAC(), team.Recipient())
	spliced := *env
	spliced.Wraps = forged.Wraps
	spliced.Key = forged.Key
	if _, err := spliced.Unwrap(ref, kr, team); err != ErrCannotDecrypt {
		t.Fatalf("spliced wrap: %v", err)
	}
	if _, err := forged.Unwrap(ref, kr, team); err != ErrCannotDecrypt {
		t.Fatalf("envelope under an unknown MAC key: %v", err)
	}
}

func TestRotationKeepsOldCases(t *testing.T) {
	m1, _ := NewMasterKey()
	kr1, _ := NewKeyring(m1)
	oldTeam, newTeam := mustIdentity(t), mustIdentity(t)
	dk, _ := NewDataKey()
	env, _ := Wrap(dk, ref, kr1.CurrentMAC(), oldTeam.Recipient())
	session, _ := kr1.SealSecret(PurposeSession, "s", []byte("in progress"))

	m2, _ := NewMasterKey()
	kr2, _ := NewKeyring(m1, m2)
	if kr2.Indexer().Index("tg-user", "1") != kr1.Indexer().Index("tg-user", "1") {
		t.Fatal("rotation changed blind indexes")
	}
	if pt, err := kr2.OpenSecret(PurposeSession, "s", session); err != nil || string(pt) != "in progress" {
		t.Fatalf("old session after rotation: %v", err)
	}
	fresh, _ := kr2.SealSecret(PurposeSession, "s", []byte("new"))
	if id, _ := SealedKeyID(fresh); id == mustSealedID(t, session) {
		t.Fatal("new secrets should use the new key")
	}
	if _, err := env.Unwrap(ref, kr2, oldTeam); err != nil {
		t.Fatalf("old envelope after rotation: %v", err)
	}
	moved, err := env.Rewrap(ref, kr2, []*Identity{oldTeam}, kr2.CurrentMAC(), newTeam.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	got, err := moved.Unwrap(ref, kr2, newTeam)
	if err != nil || got.k != dk.k {
		t.Fatalf("rewrapped: %v", err)
	}
	if _, err := moved.Unwrap(ref, kr2, oldTeam); err != ErrCannotDecrypt {
		t.Fatal("the old team key still opens a rewrapped case")
	}
}

func mustSealedID(t *testing.T, b []byte) KeyID {
	t.Helper()
	id, ok := SealedKeyID(b)
	if !ok {
		t.Fatal("no key id")
	}
	return id
}

func TestTeamKeyWrappedByMaster(t *testing.T) {
	kr := mustKeyring(t)
	team := mustIdentity(t)
	stored, err := kr.WrapIdentity("team:duhok", team)
	if err != nil {
		t.Fatal(err)
	}
	got, err := kr.UnwrapIdentity("team:duhok", stored)
	if err != nil || got.ID() != team.ID() {
		t.Fatalf("unwrap: %v", err)
	}
	if _, err := kr.UnwrapIdentity("team:erbil", stored); err != ErrCannotDecrypt {
		t.Fatal("a team key opened under another team's label")
	}
	if _, err := mustKeyring(t).UnwrapIdentity("team:duhok", stored); err != ErrCannotDecrypt {
		t.Fatal("a team key opened with another master key")
	}
}

func TestMasterKeyFile(t *testing.T) {
	m1, _ := NewMasterKey()
	m2, _ := NewMasterKey()
	keys, err := ParseMasterKeys(FormatMasterKeys(m1, m2))
	if err != nil || len(keys) != 2 || keys[0].k != m1.k || keys[1].k != m2.k {
		t.Fatalf("round trip: %v", err)
	}
	bare := []byte(strings.Fields(string(FormatMasterKeys(m1)))[len(strings.Fields(string(FormatMasterKeys(m1))))-1])
	if keys, err := ParseMasterKeys(bare); err != nil || keys[0].k != m1.k {
		t.Fatalf("bare base64 key (PENAH_MASTER_KEY): %v", err)
	}
	for _, bad := range []string{"", "# only a comment\n", "penah-master-v1 AAAA\n", "penah-master-v1 !!!!\n"} {
		if _, err := ParseMasterKeys([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	// Errors never echo key material.
	secret := "penah-master-v1 c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\n"
	if _, err := ParseMasterKeys([]byte(secret)); err == nil || strings.Contains(err.Error(), "c2Vj") {
		t.Errorf("error %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	if err := os.WriteFile(path, FormatMasterKeys(m1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKeyFile(path); !errors.Is(err, ErrKeyFileMode) {
		t.Fatalf("a world-readable key file must be refused: %v", err)
	}
	os.Chmod(path, 0o600)
	if _, err := ReadKeyFile(path); err != nil {
		t.Fatal(err)
	}
}

func TestPassphraseRules(t *testing.T) {
	id := mustIdentity(t)
	if _, err := WrapIdentity(id, []byte("short"), fastArgon); err != ErrWeakPassphrase {
		t.Fatalf("short passphrase: %v", err)
	}
	at := bytes.Repeat([]byte("x"), MinPassphrase)
	if _, err := WrapIdentity(id, at, fastArgon); err != nil {
		t.Fatalf("passphrase at the minimum: %v", err)
	}
	for _, p := range []Argon2Params{{0, 64, 1}, {MaxArgon2Time + 1, 64, 1}, {1, MaxArgon2MemoryK + 1, 1}, {1, 64, 0}, {1, 64, MaxArgon2Threads + 1}} {
		if _, err := WrapIdentity(id, at, p); err == nil {
			t.Errorf("accepted parameters %+v", p)
		}
	}
}

func TestDefaultArgon2(t *testing.T) {
	if DefaultArgon2.MemoryK < 64<<10 || DefaultArgon2.Time < 3 {
		t.Fatalf("defaults below 64 MiB / t=3: %+v", DefaultArgon2)
	}
	id := mustIdentity(t)
	file, err := WrapIdentity(id, []byte("a long escrow passphrase"), DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ParseWrappedIdentity(file)
	if err != nil || w.Params != DefaultArgon2 {
		t.Fatalf("parameters not stored beside the ciphertext: %+v %v", w, err)
	}
	got, err := w.Open([]byte("a long escrow passphrase"))
	if err != nil || got.ID() != id.ID() {
		t.Fatal(err)
	}
}

func TestRecipientText(t *testing.T) {
	id := mustIdentity(t)
	r, err := ParseRecipient(id.Recipient().String())
	if err != nil || r.ID() != id.ID() {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"", "penah-pub1:", "age1xyz", "penah-pub1:AAAA"} {
		if _, err := ParseRecipient(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestWrapLimits(t *testing.T) {
	kr := mustKeyring(t)
	dk, _ := NewDataKey()
	if _, err := Wrap(dk, ref, kr.CurrentMAC()); err == nil {
		t.Error("an envelope with no recipient")
	}
	rs := make([]*Recipient, MaxRecipients+1)
	for i := range rs {
		rs[i] = mustIdentity(t).Recipient()
	}
	if _, err := Wrap(dk, ref, kr.CurrentMAC(), rs[:MaxRecipients]...); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	if _, err := Wrap(dk, ref, kr.CurrentMAC(), rs...); err == nil {
		t.Error("past the limit")
	}
}

// TestWrapsAreNaClAnonymousBoxes: wraps made here open with nacl/box.OpenAnonymous, and boxes made
// by box.SealAnonymous open here, so the construction is NaCl's, only computed faster.
func TestWrapsAreNaClAnonymousBoxes(t *testing.T) {
	kr := mustKeyring(t)
	a, b := mustIdentity(t), mustIdentity(t)
	dk, _ := NewDataKey()
	env, err := Wrap(dk, ref, kr.CurrentMAC(), a.Recipient(), b.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []*Identity{a, b} {
		k, ok := box.OpenAnonymous(nil, env.Wraps[i].Box, &id.pub, &id.priv)
		if !ok || !bytes.Equal(k, dk.k[:]) {
			t.Fatalf("wrap %d does not open with nacl/box", i)
		}
	}
	theirs, err := box.SealAnonymous(nil, []byte("from nacl"), &a.pub, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := a.openAnon(theirs); !ok || string(got) != "from nacl" {
		t.Fatal("a nacl/box anonymous box does not open here")
	}
	if _, ok := b.openAnon(theirs); ok {
		t.Fatal("a box opened for the wrong identity")
	}
}

func TestWrapRefusesLowOrderKey(t *testing.T) {
	kr := mustKeyring(t)
	dk, _ := NewDataKey()
	zero, err := ParseRecipient(recipientPrefix + base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Wrap(dk, ref, kr.CurrentMAC(), zero); err == nil {
		t.Fatal("wrapped a data key to the all-zero public key")
	}
}
