// Package seal is Penah's cryptography: a small API with safe defaults, in the spirit of
// filippo.io/age, on golang.org/x/crypto. Nothing else in Penah touches a cipher.
//
// # What it protects
//
// A person's answers must not be readable from a stolen database or backup. Each case gets a
// fresh random [DataKey]; its records are sealed with XChaCha20-Poly1305 and the associated data
// binds the case reference and the record kind, so a record copied into another case, or
// relabelled as another kind, does not open. The data key is wrapped ([Wrap]) to each recipient —
// the routed team and the offline escrow key — as a NaCl anonymous X25519 box (the format of
// nacl/box.SealAnonymous; see anonbox.go for why it is computed here). An anonymous box proves
// nothing about who made it, so the whole
// envelope (reference and every wrap) is authenticated with HMAC-SHA256 under a server key:
// a forged or swapped wrap is refused before any private key is used.
//
// Deleting a case's envelope crypto-shreds it: the sealed records left in database files, Redis
// AOF files and backups can no longer be opened by anyone, escrow included.
//
// # Keys
//
// A [MasterKey] (32 random bytes in a 0600 file, or PENAH_MASTER_KEY) is the root. HKDF-SHA256
// derives one key per [Purpose]: sessions in progress, blind indexes, wrapping team private keys,
// authenticating envelopes. Every ciphertext names the key that made it ([KeyID]), so keys rotate
// by adding a new one and keeping the old ones for opening ([Keyring]). Private keys kept outside
// the server (officers, escrow) are wrapped with a passphrase through argon2id
// ([WrapIdentity]); the parameters are stored beside the ciphertext.
//
// Blind indexes ([Indexer]) replace Telegram ids in storage keys: HMAC-SHA256 under a pepper
// derived from the first master key, so lookups keep working after rotation.
//
// # Errors
//
// Every failure to open — wrong key, wrong case, wrong kind, tampered bytes, wrong passphrase —
// is [ErrCannotDecrypt] and nothing more, so no error can echo or hint at plaintext.
package seal
