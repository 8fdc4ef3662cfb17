package locales

import (
	"strings"
	"unicode"
)

// Phone number limits.
const (
	// MinE164Digits and MaxE164Digits bound the digits of a phone number in
	// E.164 form, country code included (ITU-T E.164 allows at most 15).
	MinE164Digits = 8
	MaxE164Digits = 15
	// MaxPhoneInputBytes bounds the input ParsePhone looks at; a longer
	// text is not a phone number. Room for 15 Arabic-Indic digits (2 bytes
	// each) with separators and stray bidi marks (3 bytes each).
	MaxPhoneInputBytes = 128

	// IraqCountryCode is Iraq's calling code.
	IraqCountryCode = "964"
	// IraqMobileDigits is the length of an Iraqi mobile number without the
	// trunk 0: 7XX XXX XXXX.
	IraqMobileDigits = 10
	// IraqLandlineMinDigits and IraqLandlineMaxDigits bound an Iraqi
	// landline number without the trunk 0: an area code (1 for Baghdad, two
	// digits elsewhere, starting 2–6) and the subscriber number.
	IraqLandlineMinDigits = 8
	IraqLandlineMaxDigits = 9
)

// ParsePhone reads a phone number the way people in Iraq write it and
// returns it in E.164 form ("+9647501234567").
//
// Digits may be ASCII, Arabic-Indic or Persian; spaces, dashes, dots and
// parentheses may separate them; bidi and zero-width marks (which phones
// insert around numbers in right-to-left text) are ignored. Accepted forms:
//
//   - Iraqi numbers written nationally: 07XX XXX XXXX (mobile), 0XX XXX
//     XXXX or 01 XXX XXXX (landline);
//   - Iraqi mobile numbers without the trunk 0: 7XX XXX XXXX;
//   - international numbers: +CC…, 00CC…, and 964… without the plus. For
//     Iraq (+964, also with a stray trunk 0 as in +964 0750…) the number
//     must be a mobile or landline number as above; for other countries
//     it must have MinE164Digits to MaxE164Digits digits and a country code
//     that does not start with 0.
//
// A number that starts with neither 0, 7, 964, 00 nor + is rejected: it
// could be from anywhere, and a wrong guess would send an officer's call
// to a stranger. So is anything with letters or other symbols.
func ParsePhone(s string) (e164 string, ok bool) {
	if len(s) > MaxPhoneInputBytes {
		return "", false
	}
	s = strings.TrimSpace(FoldDigits(StripControls(s)))
	var digits []byte
	plus := false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits = append(digits, byte(r))
		case r == '+':
			if i != 0 {
				return "", false // a plus only at the start
			}
			plus = true
		case unicode.IsSpace(r), r == '.', r == '(', r == ')', unicode.Is(unicode.Pd, r):
			// separator
		default:
			return "", false
		}
	}
	d := string(digits)
	switch {
	case plus:
		return international(d)
	case strings.HasPrefix(d, "00"):
		return international(d[2:])
	case strings.HasPrefix(d, "0"):
		return iraqi(d[1:])
	case strings.HasPrefix(d, IraqCountryCode):
		return iraqi(d[len(IraqCountryCode):])
	case strings.HasPrefix(d, "7") && len(d) == IraqMobileDigits:
		return iraqi(d)
	}
	return "", false
}

// international checks digits after "+" or "00".
func international(d string) (string, bool) {
	if strings.HasPrefix(d, IraqCountryCode) {
		return iraqi(d[len(IraqCountryCode):])
	}
	if len(d) < MinE164Digits || len(d) > MaxE164Digits || d[0] == '0' {
		return "", false
	}
	return "+" + d, true
}

// iraqi checks an Iraqi national significant number, allowing one trunk 0
// in front.
func iraqi(nsn string) (string, bool) {
	nsn = strings.TrimPrefix(nsn, "0")
	switch {
	case nsn == "":
		return "", false
	case nsn[0] == '7':
		if len(nsn) != IraqMobileDigits {
			return "", false
		}
	case nsn[0] >= '1' && nsn[0] <= '6':
		if len(nsn) < IraqLandlineMinDigits || len(nsn) > IraqLandlineMaxDigits {
			return "", false
		}
	default:
		return "", false
	}
	return "+" + IraqCountryCode + nsn, true
}
