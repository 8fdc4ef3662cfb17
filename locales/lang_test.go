package locales

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		code string
		want Lang
		ok   bool
	}{
		{"ar", AR, true},
		{"AR", AR, true},
		{"ckb", CKB, true},
		{"CKB", CKB, true},
		{"kmr", KMR, true},
		{"Kmr", KMR, true},
		{"en", EN, true},
		{"EN", EN, true},
		{"", "", false},
		{"ku", "", false},     // Parse is exact; Match guesses
		{"en-US", "", false},  // exact codes only
		{" ar", "", false},    // no trimming
		{"arabic", "", false}, // not a code
		{"fa", "", false},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.code)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q) = %q, %v; want %q, %v", tt.code, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		code string
		want Lang // "" means no suggestion
	}{
		// Arabic, any region or script, and Arabic varieties CLDR does not match.
		{"ar", AR},
		{"ar-IQ", AR},
		{"ar-SA", AR},
		{"ar-EG", AR},
		{"ar-001", AR},
		{"ar_IQ", AR},
		{"AR-iq", AR},
		{"ar-Latn", AR},
		{"acm", AR}, // Mesopotamian (Iraqi) Arabic
		{"ayp", AR}, // North Mesopotamian Arabic (Mosul)
		{"apc", AR},
		{"arz", AR},
		{"arb", AR}, // by x/text's Matcher
		// Sorani.
		{"ckb", CKB},
		{"ckb-IQ", CKB},
		{"ckb-IR", CKB},
		{"ckb-Arab-IQ", CKB},
		{"ku-Arab", CKB},
		{"ku-Arab-IQ", CKB},
		{"ku-IR", CKB},
		{"sdh", CKB}, // Southern Kurdish (Feyli)
		{"fa", CKB},  // decision: Persian phones → Sorani
		{"fa-IR", CKB},
		// Kurmanji.
		{"kmr", KMR},
		{"kmr-TR", KMR},
		{"kmr-Arab", KMR}, // dialect over script
		{"ku", KMR},       // decision: bare "ku" is Kurmanji (CLDR, Android, iOS)
		{"KU", KMR},
		{"ku-Latn", KMR},
		{"ku-Latn-IQ", KMR},
		{"ku-TR", KMR},
		{"ku-IQ", KMR},
		{"ku-SY", KMR},
		{"ku-Cyrl", KMR},
		// English.
		{"en", EN},
		{"en-US", EN},
		{"en-GB", EN},
		{"en_us", EN},
		// English by x/text's Matcher (CLDR: English is a common second language).
		{"bn", EN},
		{"bn-BD", EN},
		{"ne", EN},
		{"si", EN},
		{"ur", EN},
		{"so", EN},
		{"ti", EN},
		// No suggestion.
		{"am", ""},
		{"fil", ""},
		{"tr", ""}, // decision: Turkish UI in Iraq is mostly Turkmen
		{"tr-TR", ""},
		{"", ""},
		{"   ", ""},
		{"und", ""},
		{"xx", ""},
		{"de", ""},
		{"ru", ""},
		{"he", ""},
		{"zh-hans", ""},
		{"not a tag", ""},
		{"-", ""},
	}
	for _, tt := range tests {
		got, ok := Match(tt.code)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("Match(%q) = %q, %v; want %q, %v", tt.code, got, ok, tt.want, tt.want != "")
		}
	}
}

func TestMatchMalformedRegionKeepsLanguage(t *testing.T) {
	// A region subtag x/text does not know must not hide a known language.
	for _, code := range []string{"ar-XQ", "ckb-ZZZZZ9", "en-XX"} {
		if _, ok := Match(code); !ok {
			t.Errorf("Match(%q): no suggestion", code)
		}
	}
}

func TestLangProperties(t *testing.T) {
	tests := []struct {
		l     Lang
		rtl   bool
		name  string
		valid bool
	}{
		{AR, true, "العربية", true},
		{CKB, true, "کوردی (سۆرانی)", true},
		{KMR, false, "Kurdî (Badînî)", true},
		{EN, false, "English", true},
		{"fa", false, "", false},
		{"AR", false, "", false},
		{"", false, "", false},
	}
	for _, tt := range tests {
		if got := tt.l.RTL(); got != tt.rtl {
			t.Errorf("%q.RTL() = %v", tt.l, got)
		}
		if got := tt.l.Name(); got != tt.name {
			t.Errorf("%q.Name() = %q, want %q", tt.l, got, tt.name)
		}
		if got := tt.l.Valid(); got != tt.valid {
			t.Errorf("%q.Valid() = %v", tt.l, got)
		}
	}
}

func TestAllOrder(t *testing.T) {
	want := []Lang{AR, CKB, KMR, EN}
	if len(All) != len(want) {
		t.Fatalf("All = %v", All)
	}
	for i := range want {
		if All[i] != want[i] {
			t.Fatalf("All = %v, want %v", All, want)
		}
	}
	if !Reviewed[EN] || Reviewed[AR] || Reviewed[CKB] || Reviewed[KMR] {
		t.Errorf("Reviewed = %v; only English (the source) is reviewed", Reviewed)
	}
}

func TestKurmanjiBundleTagIsKu(t *testing.T) {
	if got := KMR.bundleTag().String(); got != "ku" {
		t.Errorf("KMR.bundleTag() = %s, want ku", got)
	}
	if got := CKB.bundleTag().String(); got != "ckb" {
		t.Errorf("CKB.bundleTag() = %s, want ckb", got)
	}
}
