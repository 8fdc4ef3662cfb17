package routing

import (
	"fmt"
	"slices"
	"strings"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/locales"
)

// Decision is where a case goes, and why.
type Decision struct {
	Team     string
	Priority int
	// TeamRule and PriorityRule name the rules that decided; "" when none matched and the
	// default applied.
	TeamRule, PriorityRule string
	// Why says, one line each, how each rule tried before the deciding one failed (briefly: the
	// fields that did not match), which rule matched on which values, or that none did.
	Why []string
}

// Route decides a case's team and priority from its routing fields (closed values, as the case
// holds them; several for a multi-choice field) and its language. A field that is absent or has
// no values was skipped and matches no rule. A "language" entry of fields is ignored: lang is the
// case's language. Route expects rules that Validate accepted; it never fails.
func (r *Rules) Route(fields map[flows.FieldID][]string, lang locales.Lang) Decision {
	d := Decision{Team: r.DefaultTeam, Priority: DefaultPriority}
	c := caseValues{fields: fields, lang: lang}
	if rule := decide(&d.Why, listPriorities, r.Priorities, c); rule != nil {
		d.Priority, d.PriorityRule = rule.Priority, rule.Name
		d.Why[len(d.Why)-1] += fmt.Sprintf(" → priority %d", rule.Priority)
	} else {
		d.Why = append(d.Why, fmt.Sprintf("priorities: no rule matched → priority %d", DefaultPriority))
	}
	if rule := decide(&d.Why, listTeams, r.Teams, c); rule != nil {
		d.Team, d.TeamRule = rule.Team, rule.Name
		d.Why[len(d.Why)-1] += fmt.Sprintf(" → team %s", rule.Team)
	} else {
		d.Why = append(d.Why, fmt.Sprintf("teams: no rule matched → default team %s", r.DefaultTeam))
	}
	return d
}

// decide returns the first rule of the list that matches c, adding a line to why for each rule
// it tries.
func decide(why *[]string, l list, rules []*Rule, c caseValues) *Rule {
	for _, rule := range rules {
		matched, reasons := rule.match(c)
		if matched {
			if len(reasons) == 0 {
				reasons = []string{"matches every case"}
			}
			*why = append(*why, fmt.Sprintf("%s: rule %q (line %d) matched: %s", l, rule.Name, rule.Line, strings.Join(reasons, ", ")))
			return rule
		}
		*why = append(*why, fmt.Sprintf("%s: rule %q (line %d) did not match: %s", l, rule.Name, rule.Line, strings.Join(reasons, "; ")))
	}
	return nil
}

// caseValues is what rules test: the routing fields and the language.
type caseValues struct {
	fields map[flows.FieldID][]string
	lang   locales.Lang
}

func (c caseValues) get(f flows.FieldID) []string {
	if f == LanguageField {
		if c.lang == "" {
			return nil
		}
		return []string{string(c.lang)}
	}
	return c.fields[f]
}

// match reports whether every condition of the rule holds. With a match, reasons are the values
// that matched ("topic=forced_work"); without, the conditions that failed ("urgency not
// given", "topic is other, not sexual_violence").
func (r *Rule) match(c caseValues) (bool, []string) {
	var hits, misses []string
	for _, cond := range r.When {
		have := c.get(cond.Field)
		var hit []string
		for _, v := range have {
			if slices.Contains(cond.Values, v) && !slices.Contains(hit, v) {
				hit = append(hit, v)
			}
		}
		switch {
		case len(hit) > 0:
			hits = append(hits, fmt.Sprintf("%s=%s", cond.Field, strings.Join(hit, ",")))
		case len(have) == 0: // skipped, never asked, or (language) not known
			misses = append(misses, fmt.Sprintf("%s not given", cond.Field))
		default:
			misses = append(misses, fmt.Sprintf("%s is %s, not %s", cond.Field, strings.Join(have, ","), strings.Join(cond.Values, " or ")))
		}
	}
	if len(misses) > 0 {
		return false, misses
	}
	return true, hits
}
