package routing

import (
	_ "embed"
	"fmt"

	"github.com/penahbot/penah/flows"
)

// SpecVersion is the rules format this code reads.
const SpecVersion = 1

// Limits of a rules file, checked when it is read (size) and validated (the rest).
const (
	MaxFileBytes     = 256 << 10 // size of one rules file
	MaxRules         = 100       // rules in one list (priorities or teams)
	MaxRuleNameBytes = 40        // bytes of a rule name
	MaxTeamNameBytes = 32        // bytes of a team name (as internal/vault accepts them)
)

// Priorities. 1 is the most urgent.
const (
	HighestPriority = 1
	LowestPriority  = 3
	// DefaultPriority is the priority of a case that no priority rule matches.
	DefaultPriority = LowestPriority
)

// LanguageField is the name rules use for the language the person wrote in (ar, ckb, kmr, en).
// It is not saved by a flow: Route takes it from the case.
const LanguageField flows.FieldID = "language"

// DefaultFile names the shipped rules in messages.
const DefaultFile = "internal/routing/default.yaml"

//go:embed default.yaml
var defaultYAML []byte

// Default returns the rules Penah ships with (default.yaml): P1 for immediate danger and for
// sexual violence with medical care asked (the clinical window), P2 for trafficking indicators,
// P3 otherwise, every case to the team "default". A test holds them valid against the built-in
// flows. Each call returns a fresh copy.
func Default() *Rules {
	r, err := Parse(defaultYAML, DefaultFile)
	if err != nil {
		panic(fmt.Sprintf("routing: the shipped rules do not parse: %v", err)) // a test prevents it
	}
	return r
}

// DefaultYAML returns the text of the shipped rules, a starting point for an operator's own file.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Rules is one parsed rules file. Positions are kept so that every problem and every
// explanation can name a line.
type Rules struct {
	Spec        int
	DefaultTeam string
	Priorities  []*Rule // first match wins; no match: DefaultPriority
	Teams       []*Rule // first match wins; no match: DefaultTeam

	// File is the name the rules were read from, for messages.
	File string

	specLine, defaultTeamLine int
}

// Rule is one entry of a list. A priority rule sets Priority, a team rule sets Team.
type Rule struct {
	Name     string
	When     []Cond // in the order of the file; empty: every case
	Priority int
	Team     string

	// Line is where the rule starts in the file.
	Line int

	hasWhen                          bool
	nameLine, priorityLine, teamLine int
}

// Cond is one field of a rule's `when`: the case must have at least one of Values.
type Cond struct {
	Field  flows.FieldID
	Values []string
	Line   int

	valueLines []int
}

// Unconditional reports whether the rule matches every case (`when: {}`).
func (r *Rule) Unconditional() bool { return len(r.When) == 0 }

// list names the two lists in messages.
type list string

const (
	listPriorities list = "priorities"
	listTeams      list = "teams"
)

// Rule returns the rule of either list with the given name, or nil.
func (r *Rules) Rule(name string) *Rule {
	for _, l := range [][]*Rule{r.Priorities, r.Teams} {
		for _, rule := range l {
			if rule.Name == name {
				return rule
			}
		}
	}
	return nil
}
