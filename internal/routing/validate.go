package routing

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Problem is one thing wrong with a rules file: where, and in which rule when it is in one. Parse
// returns one as its error; Validate returns all it finds. Every problem blocks using the file.
type Problem struct {
	File string
	Line int
	Rule string // the rule's name, when the problem is in a rule that has one
	Msg  string
}

// String formats the problem as "FILE:LINE: error: rule "NAME": MESSAGE".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": error: ")
	if p.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", p.Rule)
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is String, so that Parse can return a Problem as its error.
func (p Problem) Error() string { return p.String() }

// Problems is Validate's report, in the order of the file.
type Problems []Problem

// Err returns nil when there are no problems, and otherwise an error listing each on its line.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// Option changes what Validate checks.
type Option func(*options)

type options struct {
	teams []string
}

// WithTeams makes Validate refuse a team (default_team included) that is not in teams, the
// teams that exist. Without it, team names are only checked for their form.
func WithTeams(teams []string) Option {
	return func(o *options) { o.teams = slices.Clone(teams) }
}

var (
	ruleNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	// teamNameRe is the form internal/vault gives team names: a team needs a key to receive
	// cases, and its name is the key's name.
	teamNameRe = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
)

// Load parses data and validates it against v: the rules, or an error listing every problem.
func Load(data []byte, file string, v *Vocabulary, opts ...Option) (*Rules, error) {
	r, err := Parse(data, file)
	if err != nil {
		return nil, err
	}
	if err := r.Validate(v, opts...).Err(); err != nil {
		return nil, err
	}
	return r, nil
}

// Validate is the publish gate: it returns every problem of the rules, each with its line; v is
// what the flows can produce (see NewVocabulary) and must not be nil. Rules
// with problems must not route cases. The checks: the spec; a default team; team names well
// formed (and known, WithTeams); at most MaxRules rules per list; rule names unique and well
// formed; every rule with a `when`; every field and value one the flows can produce (v); a
// priority of 1 to 3; no rule that can never decide, because an earlier rule matches every case
// it matches.
func (r *Rules) Validate(v *Vocabulary, opts ...Option) Problems {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	c := &checker{r: r, v: v, o: o, names: map[string]int{}}
	if r.Spec != SpecVersion {
		c.add(r.specLine, nil, "spec must be %d", SpecVersion)
	}
	if r.defaultTeamLine == 0 {
		c.add(1, nil, "missing \"default_team\": the team that receives every case no team rule matches")
	} else {
		c.team(r.defaultTeamLine, nil, "default_team", r.DefaultTeam)
	}
	c.list(listPriorities, r.Priorities)
	c.list(listTeams, r.Teams)
	return c.ps
}

type checker struct {
	r     *Rules
	v     *Vocabulary
	o     *options
	ps    Problems
	names map[string]int // rule name → line of its first use
}

func (c *checker) add(line int, rule *Rule, format string, args ...any) {
	p := Problem{File: c.r.File, Line: line, Msg: fmt.Sprintf(format, args...)}
	if rule != nil {
		p.Rule = rule.Name
		if p.Line == 0 {
			p.Line = rule.Line
		}
	}
	c.ps = append(c.ps, p)
}

func (c *checker) team(line int, rule *Rule, key, name string) {
	switch {
	case name == "":
		c.add(line, rule, "%s: a team name is needed", key)
	case !teamNameRe.MatchString(name) || len(name) > MaxTeamNameBytes:
		c.add(line, rule, "%s: team name %q: use lowercase letters, digits, - and _, starting with a letter, at most %d bytes",
			key, shorten(name), MaxTeamNameBytes)
	case c.o.teams != nil && !slices.Contains(c.o.teams, name):
		msg := fmt.Sprintf("%s: unknown team %q", key, name)
		if s := suggest(name, c.o.teams); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		if len(c.o.teams) == 0 {
			c.add(line, rule, "%s; there are no teams yet", msg)
		} else {
			c.add(line, rule, "%s; the teams are %s", msg, strings.Join(c.o.teams, ", "))
		}
	}
}

func (c *checker) list(l list, rules []*Rule) {
	if len(rules) > MaxRules {
		c.add(rules[MaxRules].Line, nil, "%s has %d rules, at most %d", l, len(rules), MaxRules)
	}
	for i, rule := range rules {
		c.rule(l, rule)
		c.reachable(rules[:min(i, MaxRules)], rule) // bounded: a file of thousands of rules is refused anyway
	}
}

func (c *checker) rule(l list, r *Rule) {
	switch {
	case r.Name == "":
		c.add(r.Line, r, "a rule needs a name")
	case !ruleNameRe.MatchString(r.Name) || len(r.Name) > MaxRuleNameBytes:
		c.add(r.nameLine, r, "rule name must be lowercase letters, digits and -, at most %d bytes", MaxRuleNameBytes)
	default:
		if first, dup := c.names[r.Name]; dup {
			c.add(r.nameLine, r, "rule name already used at line %d", first)
		} else {
			c.names[r.Name] = r.nameLine
		}
	}
	if !r.hasWhen {
		c.add(r.Line, r, "no \"when\"; write \"when: {}\" for a rule that matches every case")
	}
	for _, cond := range r.When {
		c.cond(r, cond)
	}
	switch l {
	case listPriorities:
		if r.priorityLine == 0 {
			c.add(r.Line, r, "no \"priority\" (%d to %d)", HighestPriority, LowestPriority)
		} else if r.Priority < HighestPriority || r.Priority > LowestPriority {
			c.add(r.priorityLine, r, "priority %d: must be %d to %d (%d is the most urgent)", r.Priority, HighestPriority, LowestPriority, HighestPriority)
		}
	case listTeams:
		if r.teamLine == 0 {
			c.add(r.Line, r, "no \"team\"")
		} else {
			c.team(r.teamLine, r, "team", r.Team)
		}
	}
}

func (c *checker) cond(r *Rule, cond Cond) {
	if err := c.v.CheckField(cond.Field); err != nil {
		c.add(cond.Line, r, "%v", err)
		return
	}
	if len(cond.Values) == 0 {
		c.add(cond.Line, r, "%s: no values, so the rule could never match; %s takes %s",
			cond.Field, cond.Field, strings.Join(c.v.Values(cond.Field), ", "))
		return
	}
	for i, val := range cond.Values {
		line := cond.valueLines[i]
		if err := c.v.CheckValue(cond.Field, val); err != nil {
			c.add(line, r, "%v", err)
		} else if slices.Contains(cond.Values[:i], val) {
			c.add(line, r, "%s: value %q listed twice", cond.Field, val)
		}
	}
}

// reachable reports r when one of the rules before it matches every case r matches: r could
// then never decide anything. That is so when each field of the earlier rule is also in r, with
// r's values a subset of the earlier rule's (a case r matches has one of r's values, which is
// then one of the earlier rule's values too). A rule with an empty `when` covers every later
// rule.
func (c *checker) reachable(before []*Rule, r *Rule) {
	for _, e := range before {
		if !covers(e, r) {
			continue
		}
		if e.Unconditional() {
			c.add(r.Line, r, "unreachable: rule %q (line %d) before it matches every case; a rule with \"when: {}\" must be the last of its list", e.Name, e.Line)
		} else {
			c.add(r.Line, r, "unreachable: every case it matches is matched first by rule %q (line %d)", e.Name, e.Line)
		}
		return
	}
}

// covers reports whether every case later matches is matched by earlier.
func covers(earlier, later *Rule) bool {
	if !earlier.hasWhen || !later.hasWhen {
		return false // reported as a missing "when"
	}
	for _, lc := range later.When {
		if len(lc.Values) == 0 {
			return false // reported as never matching
		}
	}
	for _, ec := range earlier.When {
		i := slices.IndexFunc(later.When, func(lc Cond) bool { return lc.Field == ec.Field })
		if i < 0 {
			return false
		}
		for _, v := range later.When[i].Values {
			if !slices.Contains(ec.Values, v) {
				return false
			}
		}
	}
	return true
}
