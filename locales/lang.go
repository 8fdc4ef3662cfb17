package locales

import (
	"strings"

	"golang.org/x/text/language"
)

// Lang is one of the languages Penah speaks. Its value is the code used in
// flows, catalogs and stored sessions.
type Lang string

// The supported languages.
const (
	AR  Lang = "ar"  // Arabic
	CKB Lang = "ckb" // Sorani (Central) Kurdish, Arabic script
	KMR Lang = "kmr" // Kurmanji/Badini (Northern) Kurdish, Latin script
	EN  Lang = "en"  // English, the source language of the catalogs
)

// All lists the supported languages in the display order of the language
// picker.
var All = []Lang{AR, CKB, KMR, EN}

// Base is the language the catalogs are translated from. An unsupported
// Lang passed to a Catalog falls back to it.
const Base = EN

// Reviewed tells, per language, whether a native speaker has reviewed the
// chrome catalog. English is the source. The console shows a warning for
// every language that is not true here; a test keeps the "NOT yet reviewed"
// comment at the top of each catalog file in step with this map.
var Reviewed = map[Lang]bool{EN: true}

// Parse returns the Lang for an exact supported code ("ar", "ckb", "kmr",
// "en"), ignoring case. It does not guess: use [Match] for Telegram codes.
func Parse(code string) (Lang, bool) {
	for _, l := range All {
		if strings.EqualFold(code, string(l)) {
			return l, true
		}
	}
	return "", false
}

// Valid reports whether l is one of the supported languages.
func (l Lang) Valid() bool {
	switch l {
	case AR, CKB, KMR, EN:
		return true
	}
	return false
}

// RTL reports whether l is written right to left (Arabic and Sorani).
func (l Lang) RTL() bool {
	return l == AR || l == CKB
}

// Name returns the endonym of l as shown on the language picker, or "" for
// an unsupported language.
func (l Lang) Name() string {
	switch l {
	case AR:
		return "العربية"
	case CKB:
		return "کوردی (سۆرانی)"
	case KMR:
		return "Kurdî (Badînî)"
	case EN:
		return "English"
	}
	return ""
}

// bundleTag is the go-i18n language tag under which l's messages are
// stored. go-i18n has no plural rule for "kmr"; CLDR's "ku" is Kurmanji
// and has the same one/other rule, so Kurmanji lives under "ku".
func (l Lang) bundleTag() language.Tag {
	if l == KMR {
		return language.Make("ku")
	}
	return language.Make(string(l))
}

// arabicVarieties are ISO 639-3 individual languages in the Arabic
// macrolanguage that x/text does not match to "ar".
var arabicVarieties = map[string]bool{
	"aao": true, "abh": true, "abv": true, "acm": true, "acq": true,
	"acw": true, "acx": true, "acy": true, "adf": true, "aeb": true,
	"aec": true, "afb": true, "ajp": true, "apc": true, "apd": true,
	"arq": true, "ars": true, "ary": true, "arz": true,
	"auz": true, "avl": true, "ayh": true, "ayl": true, "ayn": true,
	"ayp": true, "pga": true, "shu": true, "ssh": true,
}

var (
	matchSupported = []language.Tag{language.Arabic, language.Make("ckb"), language.Make("ku"), language.English}
	matchLangs     = []Lang{AR, CKB, KMR, EN}
	matcher        = language.NewMatcher(matchSupported)
	scriptArab     = language.MustParseScript("Arab")
	regionIR       = language.MustParseRegion("IR")
)

// Match suggests a Lang for the language_code Telegram sends with a user
// ("ar", "en-US", "ku", "ckb-IQ", …). ok is false when no supported
// language is a sensible suggestion; callers then suggest nothing.
//
// Telegram reports the language of the person's app (an IETF tag such as
// "ar", "en-US", "ku"), not what the person reads best, so Match only
// suggests: the picker is always shown. The rules below are explicit where
// CLDR's answer is wrong for displaced people in Iraq (x/text matches
// "ku-Arab" to Arabic and "fa" to nothing, and knows nothing of Iraqi
// Arabic varieties such as "acm" or "ayp").
//
//   - ar, ar-*, and the ISO 639-3 varieties of Arabic (acm Mesopotamian,
//     ayp North Mesopotamian, apc, ajp, arz, afb, …) → AR.
//   - ckb, ckb-* → CKB. sdh (Southern Kurdish, spoken by Feyli Kurds in
//     Iraq, Arabic script, closer to Sorani than to Kurmanji) → CKB.
//   - kmr, kmr-* → KMR, whatever the script: the dialect matters more than
//     the script. (Many Badini speakers schooled in the Kurdistan Region
//     read Kurdish in Arabic script; the kmr catalog is Latin. The picker,
//     not this suggestion, lets them choose Sorani or Arabic instead.)
//   - ku with an explicit script: ku-Arab → CKB (Arabic-script Kurdish in
//     Iraq is mostly Sorani); ku-Latn (and ku-Cyrl, Kurmanji of the former
//     Soviet Union) → KMR.
//   - bare ku, and ku with a region but no script → KMR, except ku-IR → CKB.
//     Rationale: "ku" in CLDR, Android and iOS is Kurmanji in Latin script;
//     phones with a Sorani UI report "ckb". A phone that says plain "ku" is
//     therefore set to Kurmanji, which in Iraq means Badini (Duhok) and the
//     Kurmanji of Sinjar's Yazidis, both large displaced populations. In
//     Iran the Kurdish that is written is mostly Sorani in Arabic script.
//   - fa (Persian) → CKB. Sorani speakers, including Kurdish refugees from
//     Iran living in the Kurdistan Region, often use Persian-language
//     phones, and a Persian reader can read Arabic-script Sorani far more
//     easily than Latin Kurmanji.
//   - tr (Turkish) → no suggestion. In Iraq a Turkish UI is typical of Iraqi
//     Turkmen (Kirkuk, Tal Afar, Tuz Khurmatu), who more often read Arabic
//     than Kurmanji; suggesting a Kurdish dialect to them would be a guess,
//     and a wrong guess on a sensitive subject is worse than none.
//   - en, en-* → EN.
//   - anything else: x/text's Matcher over the four languages, accepted only
//     with High or Exact confidence; otherwise ok is false and callers
//     suggest nothing. The Matcher maps "arb" (Standard Arabic) to Arabic,
//     and, following CLDR's data on second languages, languages such as
//     Bengali, Nepali, Sinhala, Tamil, Urdu, Swahili, Somali, Oromo and
//     Tigrinya to English. That helps migrant domestic workers, a group at
//     high risk of trafficking in Iraq, for whom English is the only
//     supported language they are likely to read.
func Match(telegramCode string) (Lang, bool) {
	code := strings.ReplaceAll(strings.TrimSpace(telegramCode), "_", "-")
	if code == "" {
		return "", false
	}
	tag, err := language.Parse(code)
	if err != nil {
		// A malformed or unknown region or variant should not hide a
		// known language: retry with the primary subtag alone.
		primary, _, _ := strings.Cut(code, "-")
		if tag, err = language.Parse(primary); err != nil {
			return "", false
		}
	}
	base, conf := tag.Base()
	if conf != language.Exact {
		return "", false // "und" or an inferred language: nothing to go on
	}
	script, sconf := tag.Script()
	explicitScript := sconf == language.Exact
	region, rconf := tag.Region()
	explicitRegion := rconf == language.Exact

	switch b := base.String(); {
	case b == "ar" || arabicVarieties[b]:
		return AR, true
	case b == "ckb" || b == "sdh":
		return CKB, true
	case b == "kmr":
		return KMR, true
	case b == "ku":
		switch {
		case explicitScript && script == scriptArab:
			return CKB, true
		case explicitScript:
			return KMR, true // Latin, or Kurmanji in Cyrillic
		case explicitRegion && region == regionIR:
			return CKB, true
		}
		return KMR, true
	case b == "fa":
		return CKB, true
	case b == "tr":
		return "", false
	case b == "en":
		return EN, true
	}
	// Region and script only lower the Matcher's confidence here ("bn-BD"
	// is less sure than "bn"); the language alone decides.
	_, i, mconf := matcher.Match(language.Make(base.String()))
	if mconf >= language.High {
		return matchLangs[i], true
	}
	return "", false
}
