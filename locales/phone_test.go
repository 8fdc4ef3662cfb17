package locales

import (
	"strings"
	"testing"
)

func TestParsePhone(t *testing.T) {
	const (
		lrm = "\u200E"
		rlm = "\u200F"
	)
	tests := []struct {
		in   string
		want string // "" means rejected
	}{
		// Iraqi mobile, national forms.
		{"07501234567", "+9647501234567"},
		{"0750 123 4567", "+9647501234567"},
		{"0750-123-4567", "+9647501234567"},
		{"0750.123.4567", "+9647501234567"},
		{"(0750) 123 4567", "+9647501234567"},
		{" 0770 123 4567 ", "+9647701234567"},
		{"0750\u2011123\u20134567", "+9647501234567"}, // non-breaking hyphen, en dash
		{"0750\u00A0123\u00A04567", "+9647501234567"}, // no-break spaces
		{"7501234567", "+9647501234567"},
		{"750 123 4567", "+9647501234567"},
		// Iraqi mobile, international forms.
		{"+9647501234567", "+9647501234567"},
		{"+964 750 123 4567", "+9647501234567"},
		{"+964 (0) 750 123 4567", "+9647501234567"},
		{"+964 0750 123 4567", "+9647501234567"},
		{"00964 750 123 4567", "+9647501234567"},
		{"009647801234567", "+9647801234567"},
		{"9647501234567", "+9647501234567"},
		// Other digit scripts and bidi marks.
		{"٠٧٥٠١٢٣٤٥٦٧", "+9647501234567"},
		{"٠٧٥٠ ١٢٣ ٤٥٦٧", "+9647501234567"},
		{"۰۷۵۰ ۱۲۳ ۴۵۶۷", "+9647501234567"},
		{"+٩٦٤ ٧٥٠ ١٢٣ ٤٥٦٧", "+9647501234567"},
		{"07٥0 ۱23 4567", "+9647501234567"}, // mixed scripts
		{lrm + "0750 123 4567" + lrm, "+9647501234567"},
		{rlm + "+964" + lrm + " 750 123 4567", "+9647501234567"},
		{"\u2066+964 750 123 4567\u2069", "+9647501234567"},
		// Iraqi landlines.
		{"01 234 5678", "+96412345678"},
		{"066 123 4567", "+964661234567"},
		{"+964 66 123 4567", "+964661234567"},
		// Other countries.
		{"+90 532 123 45 67", "+905321234567"},
		{"+44 20 7946 0958", "+442079460958"},
		{"0049 30 123456", "+4930123456"},
		{"+1 (202) 555-0143", "+12025550143"},
		{"+12345678", "+12345678"},               // 8 digits: the minimum
		{"+123456789012345", "+123456789012345"}, // 15 digits: the maximum
		// Rejected: too short or too long.
		{"+1234567", ""},          // 7 digits
		{"+1234567890123456", ""}, // 16 digits
		{"0750 123 456", ""},      // Iraqi mobile one digit short
		{"0750 123 45678", ""},    // one digit long
		{"+964 750 123 456", ""},
		{"+964 750 123 45678", ""},
		{"750 123 456", ""},
		{"01 234 567", ""}, // landline too short
		{"066 123 45678", ""},
		{"", ""},
		{"   ", ""},
		{"+", ""},
		{"00", ""},
		{"0", ""},
		// Rejected: letters, symbols, misplaced plus.
		{"0750 123 456a", ""},
		{"tel 07501234567", ""},
		{"٠٧٥٠ ١٢٣ ٤٥٦٧ رقمي", ""},
		{"0750 123 4567 ext 2", ""},
		{"0750#1234567", ""},
		{"0750/123/4567", ""},
		{"++9647501234567", ""},
		{"9647501234567+", ""},
		{"0750 +123 4567", ""},
		{"+0750 123 4567", ""}, // country codes do not start with 0
		// Rejected: ambiguous without a country.
		{"5321234567", ""},
		{"123456789", ""},
		{"0944 123 456", ""}, // a Syrian national number is not Iraqi
		{"0912 345 6789", ""},
		{"0850 123 4567", ""},
		// Rejected: too long an input.
		{strings.Repeat(" ", MaxPhoneInputBytes) + "07501234567", ""},
	}
	for _, tt := range tests {
		got, ok := ParsePhone(tt.in)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("ParsePhone(%+q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.want != "")
		}
	}
}

func TestParsePhoneInputLimit(t *testing.T) {
	n := "07501234567"
	at := n + strings.Repeat(" ", MaxPhoneInputBytes-len(n))
	if _, ok := ParsePhone(at); !ok {
		t.Errorf("a %d-byte input was rejected", len(at))
	}
	if _, ok := ParsePhone(at + " "); ok {
		t.Errorf("a %d-byte input was accepted", len(at)+1)
	}
}

func validE164(s string) bool {
	if len(s) < 1+MinE164Digits || len(s) > 1+MaxE164Digits || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func FuzzParsePhone(f *testing.F) {
	for _, s := range []string{
		"07501234567", "0750 123 4567", "+964 750 123 4567", "00964 750 123 4567", "7501234567",
		"٠٧٥٠ ١٢٣ ٤٥٦٧", "۰۷۵۰ ۱۲۳ ۴۵۶۷", "\u200E0750\u200F1234567", "+1 (202) 555-0143", "+12345678",
		"+123456789012345", "+1234567890123456", "0750 abc", "++964", "+", "", "0", "964", "٩٦٤٠٠",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParsePhone(s)
		if !ok {
			if got != "" {
				t.Fatalf("ParsePhone(%+q) = %q with ok false", s, got)
			}
			return
		}
		if !validE164(got) {
			t.Fatalf("ParsePhone(%+q) = %q: not + and %d–%d ASCII digits", s, got, MinE164Digits, MaxE164Digits)
		}
		if again, ok := ParsePhone(got); !ok || again != got {
			t.Fatalf("ParsePhone(%q) = %q, %v: an E.164 result must parse to itself", got, again, ok)
		}
	})
}
