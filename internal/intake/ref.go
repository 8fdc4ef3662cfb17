package intake

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// Reference alphabet: Crockford's base32 without I, L, O and U, so a reference read over a bad
// phone line or copied by hand is not mistaken (0/O, 1/I/L) and spells no rude words.
const refAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Sizes of identifiers, in alphabet symbols of 5 bits each.
const (
	// RefSymbols gives a case reference 80 bits from crypto/rand: unguessable, short to read out.
	RefSymbols = 16
	// CodeSymbols gives the verification code 30 bits: enough to tell a real officer from a fake
	// one in a chat, short enough to remember.
	CodeSymbols = 6
)

// Ref is a case reference such as "K7Q2-MX9D-4F8H-ZT3N".
type Ref string

// NewRef returns a fresh case reference.
func NewRef() (Ref, error) {
	s, err := randomSymbols(RefSymbols)
	if err != nil {
		return "", err
	}
	return Ref(group(s, 4)), nil
}

// NewCode returns a fresh verification code such as "7QX-2MD".
func NewCode() (string, error) {
	s, err := randomSymbols(CodeSymbols)
	if err != nil {
		return "", err
	}
	return group(s, 3), nil
}

func randomSymbols(n int) (string, error) {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("intake: reading crypto/rand: %w", err)
	}
	out := make([]byte, n)
	for i, b := range buf {
		// 256 is a multiple of 32, so b%32 is uniform.
		out[i] = refAlphabet[b%32]
	}
	return string(out), nil
}

func group(s string, size int) string {
	var b strings.Builder
	for i := 0; i < len(s); i += size {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i:min(i+size, len(s))])
	}
	return b.String()
}

// ParseRef normalises a typed reference (any case, with or without dashes or spaces) and reports
// whether it is well-formed.
func ParseRef(s string) (Ref, bool) {
	var sym []byte
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r < 128 && strings.IndexByte(refAlphabet, byte(r)) >= 0:
			sym = append(sym, byte(r))
		default:
			return "", false
		}
	}
	if len(sym) != RefSymbols {
		return "", false
	}
	return Ref(group(string(sym), 4)), true
}
