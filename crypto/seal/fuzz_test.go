package seal

import (
	"bytes"
	"testing"
)

// FuzzOpen: arbitrary bytes given as a record, a secret or a wrap never open and never panic.
func FuzzOpen(f *testing.F) {
	dk := dataKeyFrom(bytes.Repeat([]byte{0x07}, 32))
	good, _ := dk.Seal(ref, "answers", []byte("known answer"))
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{recordV1})
	f.Add(make([]byte, recordOverhead))
	kr, _ := NewKeyring(masterFrom(bytes.Repeat([]byte{0x42}, 32)))
	secret, _ := kr.SealSecret(PurposeSession, "s", []byte("x"))
	f.Add(secret)
	team, _ := identityFrom(bytes.Repeat([]byte{0x09}, 32))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Only records this test sealed can open (seeds are re-sealed in each fuzz worker, with
		// fresh nonces, so compare plaintexts, not bytes).
		if pt, err := dk.Open(ref, "answers", b); err == nil && string(pt) != "known answer" {
			t.Fatalf("forged record opened: %q", pt)
		} else if err != nil && err != ErrCannotDecrypt {
			t.Fatalf("error other than ErrCannotDecrypt: %v", err)
		}
		if pt, err := kr.OpenSecret(PurposeSession, "s", b); err == nil && string(pt) != "x" {
			t.Fatal("forged secret opened")
		}
		e := &Envelope{Key: dk.id, Auth: kr.CurrentMAC().id, Wraps: []Wrapped{{To: team.id, Box: b}}, MAC: b}
		if _, err := e.Unwrap(ref, kr, team); err != ErrCannotDecrypt {
			t.Fatalf("forged envelope: %v", err)
		}
	})
}

// FuzzKeyFiles: the master key and identity file parsers never panic, and what they accept
// formats back to something they accept again.
func FuzzKeyFiles(f *testing.F) {
	m := masterFrom(bytes.Repeat([]byte{0x42}, 32))
	f.Add(FormatMasterKeys(m))
	id, _ := identityFrom(bytes.Repeat([]byte{0x09}, 32))
	file, _ := WrapIdentity(id, []byte("correct horse battery"), fastArgon)
	f.Add(file)
	f.Add([]byte("penah-identity-v1\nkdf argon2id t=1 m=64 p=1\nsalt AAAAAAAAAAAAAAAAAAAAAA==\nid 0011223344556677\nsealed AAAA\n"))
	f.Add([]byte("penah-identity-v1\nkdf argon2id t=99999 m=99999999 p=255\n"))
	f.Add([]byte(id.Recipient().String()))
	f.Fuzz(func(t *testing.T, b []byte) {
		if keys, err := ParseMasterKeys(b); err == nil {
			again, err := ParseMasterKeys(FormatMasterKeys(keys...))
			if err != nil || len(again) != len(keys) {
				t.Fatalf("master keys do not round-trip: %v", err)
			}
		}
		if w, err := ParseWrappedIdentity(b); err == nil {
			if w.Params.check() != nil {
				t.Fatalf("accepted out-of-range parameters %+v", w.Params)
			}
			if w.Params.MemoryK <= 1024 && w.Params.Time <= 2 { // keep the fuzzer fast
				if _, err := w.Open([]byte("correct horse battery")); err != nil && err != ErrCannotDecrypt {
					t.Fatalf("open: %v", err)
				}
			}
		}
		if r, err := ParseRecipient(string(b)); err == nil {
			if _, err := ParseRecipient(r.String()); err != nil {
				t.Fatal("recipient does not round-trip")
			}
		}
	})
}
