package seal_test

import (
	"fmt"

	"github.com/penahbot/penah/crypto/seal"
)

// A case body is sealed with a fresh data key, which is wrapped to the team and the escrow key.
func Example() {
	master, _ := seal.NewMasterKey() // in production: read from a 0600 file
	keys, _ := seal.NewKeyring(master)
	team, _ := seal.GenerateIdentity()
	escrow, _ := seal.GenerateIdentity()

	const ref = "K7Q2-MX9D-4F8H-ZT3N"
	dk, _ := seal.NewDataKey()
	body, _ := dk.Seal(ref, "answers", []byte("safe to call after 6pm"))
	env, _ := seal.Wrap(dk, ref, keys.CurrentMAC(), team.Recipient(), escrow.Recipient())

	// Later, an authorised officer's request: the server unwraps with the team key.
	opened, _ := env.Unwrap(ref, keys, team)
	text, _ := opened.Open(ref, "answers", body)
	fmt.Println(string(text))

	// Someone else's key opens nothing, and says nothing about why.
	stranger, _ := seal.GenerateIdentity()
	_, err := env.Unwrap(ref, keys, stranger)
	fmt.Println(err)
	// Output:
	// safe to call after 6pm
	// seal: cannot decrypt
}

// Storage keys are blind indexes of Telegram ids: stable, but useless without the master key.
func ExampleIndexer() {
	master, _ := seal.NewMasterKey()
	keys, _ := seal.NewKeyring(master)
	a := keys.Indexer().Index("tg-user", "123456789")
	b := keys.Indexer().Index("tg-user", "123456789")
	fmt.Println(a == b, len(a))
	// Output: true 32
}

// The escrow key lives offline, wrapped with a passphrase.
func ExampleWrapIdentity() {
	escrow, _ := seal.GenerateIdentity()
	file, _ := seal.WrapIdentity(escrow, []byte("a long passphrase kept offline"), seal.DefaultArgon2)
	back, err := seal.UnwrapIdentity(file, []byte("a long passphrase kept offline"))
	fmt.Println(err == nil && back.ID() == escrow.ID())
	_, err = seal.UnwrapIdentity(file, []byte("a wrong passphrase, long enough"))
	fmt.Println(err)
	// Output:
	// true
	// seal: cannot decrypt
}
