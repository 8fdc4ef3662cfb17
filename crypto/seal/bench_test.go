package seal

import (
	"bytes"
	"testing"
)

// BenchmarkSealWrap3: seal a 2 KB body and wrap its data key to three recipients.
func BenchmarkSealWrap3(b *testing.B) {
	kr := mustKeyring(b)
	rs := []*Recipient{mustIdentity(b).Recipient(), mustIdentity(b).Recipient(), mustIdentity(b).Recipient()}
	body := bytes.Repeat([]byte("x"), 2048)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dk, _ := NewDataKey()
		if _, err := dk.Seal(ref, "answers", body); err != nil {
			b.Fatal(err)
		}
		if _, err := Wrap(dk, ref, kr.CurrentMAC(), rs...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen: verify the envelope, unwrap with one identity, open the 2 KB body.
func BenchmarkOpen(b *testing.B) {
	kr := mustKeyring(b)
	team := mustIdentity(b)
	dk, _ := NewDataKey()
	sealed, _ := dk.Seal(ref, "answers", bytes.Repeat([]byte("x"), 2048))
	env, _ := Wrap(dk, ref, kr.CurrentMAC(), team.Recipient(), mustIdentity(b).Recipient(), mustIdentity(b).Recipient())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		k, err := env.Unwrap(ref, kr, team)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.Open(ref, "answers", sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlindIndex(b *testing.B) {
	ix := mustKeyring(b).Indexer()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ix.Index("tg-user", "123456789")
	}
}
