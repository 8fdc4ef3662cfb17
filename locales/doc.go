// Package locales holds Penah's user-interface chrome in its four
// languages and the small text helpers every input goes through.
//
// # Languages
//
// Penah speaks Arabic (AR), Sorani Kurdish in Arabic script (CKB),
// Kurmanji/Badini Kurdish in Latin script (KMR) and English (EN). [All] is
// the order of the language picker; [Match] turns the language_code Telegram
// reports for a user into a suggestion for that picker (never a decision:
// the person always chooses).
//
// # Chrome catalogs
//
// Buttons such as Back/Skip/Done, error replies, help, governorate names and
// the localized command words live in ar.yaml, ckb.yaml, kmr.yaml and
// en.yaml in go-i18n's format (a message is a string, or a map with the
// CLDR plural forms zero/one/two/few/many/other and an optional
// description). They are embedded in the binary; [Load] refuses a set of
// catalogs in which any language misses any [MsgID], lacks a plural form its
// CLDR rule needs, uses a template variable the English source does not, or
// lists a command word that folds to the same key as a word of another
// command. [LoadFS] reads the same files from any fs.FS so that admins can
// check edited translations without rebuilding.
//
// Conversation content (questions, choices) is not here: it lives in the
// flows. Texts returned by [Catalog.T] are plain text; renderers escape them
// (HTML) like any other text.
//
// go-i18n has no plural rule for "kmr", so Kurmanji messages are stored in
// the go-i18n bundle under "ku" (CLDR's Kurdish, which is Kurmanji, one/other
// rule). Sorani uses CLDR's "ckb" rule (one/other). Arabic has six forms.
//
// Only English, the source language, has been reviewed; the other catalogs
// were drafted by engineers and say so at the top. [Reviewed] lets the
// console show it.
//
// # Text helpers
//
// [Normalize] is applied to everything a person types before it is matched
// or stored: NFC, ASCII digits, one spelling of yeh and kaf, no tatweel, no
// invisible or bidi control characters, tidy whitespace. [Fold] goes further
// for matching only (case, diacritics, hamza seats, Sorani letters typed on
// Arabic keyboards). [StripControls] removes only invisible and bidi
// controls; renderers use it for officer views. [ParsePhone] reads phone
// numbers the way people in Iraq write them. [Catalog.ParseCommand]
// recognises /commands and localized command words.
//
// This package is a leaf: it imports no Telegram, network or storage code.
package locales
