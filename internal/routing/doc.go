// Package routing decides, for a submitted case, which team receives it and how urgent it is.
//
// The decision is data, not code: a rules file (YAML, see FORMAT.md) holds two ordered lists of
// rules. Each rule has a `when` that names routing fields and the values it accepts:
//
//	spec: 1
//	default_team: default
//	priorities:                        # first match wins; no match: priority 3
//	  - name: immediate-danger
//	    when: {urgency: [immediate]}
//	    priority: 1
//	teams:                             # first match wins; no match: default_team
//	  - name: duhok-kurmanji
//	    when: {governorate: [duhok], language: [kmr]}
//	    team: duhok
//
// A rule matches a case when, for every field in its `when`, the case has at least one of the
// listed values (so a multi-choice field such as services matches when any of the person's
// choices is listed). A field the person skipped matches nothing. `language` is the language
// the person used. A `when: {}` matches every case and may only be the last rule of its list.
// The two lists are decided independently, so an explanation can say which rule set the team and
// which set the priority.
//
// Reading and checking are separate steps, as for flows: [Parse] reads the file strictly
// (unknown keys, duplicate keys, YAML tags, anchors and aliases are refused with file:line), and
// [Rules.Validate] is the publish gate. It checks every field and value against what the flows
// actually save ([NewVocabulary]), so a rule cannot wait for a value no person can ever give.
// [Load] does both. [Default] returns the rules Penah ships with; [Rules.Route] decides a case.
//
// Only routing fields are ever read: closed choice values and governorate ids, never free text.
package routing
