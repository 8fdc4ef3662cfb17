// Package crypto is the parent of Penah's cryptography. Issue 3 adds crypto/seal (envelope
// encryption, keyring, blind indexes, passphrase-wrapped keys on golang.org/x/crypto). Until it
// lands, sessions and cases in the embedded store are NOT encrypted: see README.md.
package crypto
