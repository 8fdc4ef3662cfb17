package directory

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/locales"
)

// Limits of a team.
const (
	// MaxTeamNameBytes bounds a team name; TeamNamePattern says what it may hold. They are the
	// vault's, since a team's key carries its name.
	MaxTeamNameBytes = 32
	// MaxLanguages bounds the languages of a team or an officer: each supported one once.
	MaxLanguages = 4
	// MaxGovernorates bounds a team's governorates: each of locales.Governorates once.
	MaxGovernorates = 19
	// MaxSupervisors bounds the supervisors named on a team (escalation notices go to each).
	MaxSupervisors = 16
	// MinSLA and MaxSLA bound a claim deadline.
	MinSLA = time.Minute
	MaxSLA = 7 * 24 * time.Hour
	// Priorities run from 1 (most urgent) to NumPriorities.
	NumPriorities = 3
)

// TeamNamePattern is what a team name may look like: lowercase letters, digits, - and _,
// starting with a letter, at most MaxTeamNameBytes.
var TeamNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// defaultSLA is the claim deadline per priority when a team sets none: P1 (immediate danger, the
// clinical window after sexual violence) within 15 minutes, P2 within 4 hours, P3 within a day.
var defaultSLA = map[int]time.Duration{1: 15 * time.Minute, 2: 4 * time.Hour, 3: 24 * time.Hour}

// DefaultSLA returns the default claim deadlines by priority (a fresh map).
func DefaultSLA() map[int]time.Duration { return maps.Clone(defaultSLA) }

// Team is a group of officers that cases are routed to.
type Team struct {
	Name         string         `json:"name"`
	Languages    []locales.Lang `json:"languages"`
	Governorates []string       `json:"governorates"` // ids of locales.Governorates
	Supervisors  []string       `json:"supervisors,omitempty"`
	Backup       string         `json:"backup,omitempty"` // the team escalations go to next
	// SLA is the claim deadline per priority (1..NumPriorities); a missing one is DefaultSLA's.
	SLA   map[int]time.Duration `json:"sla"`
	Hours WorkingHours          `json:"hours"`
	// Version is the stored record's (0: not stored yet); PutTeam compares and sets it.
	Version intake.Version `json:"-"`
}

// NewTeam returns a team with the default SLA and working hours, and nothing else set.
func NewTeam(name string) *Team {
	return &Team{Name: name, SLA: DefaultSLA(), Hours: DefaultWorkingHours()}
}

// ClaimSLA returns how long a case of priority p may wait for a claim. A priority outside
// 1..NumPriorities counts as the lowest, as the queues do.
func (t *Team) ClaimSLA(p int) time.Duration {
	if p < 1 || p > NumPriorities {
		p = NumPriorities
	}
	if d, ok := t.SLA[p]; ok {
		return d
	}
	return defaultSLA[p]
}

// Within reports whether t is inside the team's working hours.
func (t *Team) Within(at time.Time) bool { return t.Hours.Within(at) }

// NextOpen returns at when the team is working then, or else when it next starts.
func (t *Team) NextOpen(at time.Time) time.Time { return t.Hours.NextOpen(at) }

// Clone returns a deep copy.
func (t *Team) Clone() *Team {
	c := *t
	c.Languages = slices.Clone(t.Languages)
	c.Governorates = slices.Clone(t.Governorates)
	c.Supervisors = slices.Clone(t.Supervisors)
	c.SLA = maps.Clone(t.SLA)
	c.Hours.Days = slices.Clone(t.Hours.Days)
	return &c
}

// InvalidError says which field of a team or an officer is wrong and why. Field names match
// the command-line flags that set them.
type InvalidError struct {
	Field   string // "name", "languages", "governorates", "supervisors", "backup", "sla", "hours", "team", "role", "telegram-id", "gender", "id"
	Problem string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Problem }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Validate checks what a team holds by itself (Directory.PutTeam also checks that its backup
// and supervisors exist).
func (t *Team) Validate() error {
	if !TeamNamePattern.MatchString(t.Name) {
		return invalid("name", "%q: use 1 to %d lowercase letters, digits, - and _, starting with a letter", t.Name, MaxTeamNameBytes)
	}
	if err := checkLanguages(t.Languages, true); err != nil {
		return err
	}
	switch n := len(t.Governorates); {
	case n == 0:
		return invalid("governorates", "at least one is needed")
	case n > MaxGovernorates:
		return invalid("governorates", "%d given, at most %d", n, MaxGovernorates)
	}
	seen := map[string]bool{}
	for _, g := range t.Governorates {
		if !locales.IsGovernorate(g) {
			return invalid("governorates", "%q is not one of %s", g, strings.Join(locales.Governorates, ", "))
		}
		if seen[g] {
			return invalid("governorates", "%q is given twice", g)
		}
		seen[g] = true
	}
	if n := len(t.Supervisors); n > MaxSupervisors {
		return invalid("supervisors", "%d given, at most %d", n, MaxSupervisors)
	}
	seen = map[string]bool{}
	for _, id := range t.Supervisors {
		if !officerIDPattern.MatchString(id) {
			return invalid("supervisors", "%q is not an officer id (o-XXXXXXXX)", id)
		}
		if seen[id] {
			return invalid("supervisors", "%q is given twice", id)
		}
		seen[id] = true
	}
	if t.Backup != "" {
		if !TeamNamePattern.MatchString(t.Backup) {
			return invalid("backup", "%q is not a team name", t.Backup)
		}
		if t.Backup == t.Name {
			return invalid("backup", "a team cannot be its own backup")
		}
	}
	for p, d := range t.SLA {
		if p < 1 || p > NumPriorities {
			return invalid("sla", "priority %d: priorities run from 1 to %d", p, NumPriorities)
		}
		if d < MinSLA || d > MaxSLA {
			return invalid("sla", "priority %d: %v is not between %v and %v", p, d, MinSLA, MaxSLA)
		}
	}
	if err := t.Hours.Validate(); err != nil {
		return invalid("hours", "%v", err)
	}
	return nil
}

// checkLanguages refuses an unsupported or repeated language, more than MaxLanguages, and none
// when one is needed.
func checkLanguages(ls []locales.Lang, needOne bool) error {
	switch n := len(ls); {
	case n == 0 && needOne:
		return invalid("languages", "at least one is needed")
	case n > MaxLanguages:
		return invalid("languages", "%d given, at most %d", n, MaxLanguages)
	}
	seen := map[locales.Lang]bool{}
	for _, l := range ls {
		if !l.Valid() {
			return invalid("languages", "%q is not one of %s", l, langList())
		}
		if seen[l] {
			return invalid("languages", "%q is given twice", l)
		}
		seen[l] = true
	}
	return nil
}

func langList() string {
	s := make([]string, len(locales.All))
	for i, l := range locales.All {
		s[i] = string(l)
	}
	return strings.Join(s, ", ")
}

// ParseLanguages reads a comma-separated list of language codes ("ar,kmr"); "all" is every
// supported language. It does not check the list; Validate does.
func ParseLanguages(s string) []locales.Lang {
	if strings.TrimSpace(s) == "all" {
		return slices.Clone(locales.All)
	}
	var out []locales.Lang
	for _, f := range splitList(s) {
		if l, ok := locales.Parse(f); ok {
			out = append(out, l)
		} else {
			out = append(out, locales.Lang(f))
		}
	}
	return out
}

// ParseGovernorates reads a comma-separated list of governorate ids; "all" is every one of
// locales.Governorates.
func ParseGovernorates(s string) []string {
	if strings.TrimSpace(s) == "all" {
		return slices.Clone(locales.Governorates)
	}
	return splitList(s)
}

// splitList splits a comma-separated list, trimming spaces and dropping empty items.
func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ParseSLA reads claim deadlines as "1=15m,2=4h,3=24h" (any of the priorities; Go durations).
func ParseSLA(s string) (map[int]time.Duration, error) {
	out := map[int]time.Duration{}
	for _, f := range splitList(s) {
		ps, ds, ok := strings.Cut(f, "=")
		p, err := strconv.Atoi(strings.TrimSpace(ps))
		if !ok || err != nil {
			return nil, invalid("sla", "%q: want PRIORITY=DURATION, e.g. 1=15m", f)
		}
		d, err := time.ParseDuration(strings.TrimSpace(ds))
		if err != nil {
			return nil, invalid("sla", "%q: %q is not a duration such as 15m or 4h", f, ds)
		}
		if _, dup := out[p]; dup {
			return nil, invalid("sla", "priority %d is given twice", p)
		}
		out[p] = d
	}
	if len(out) == 0 {
		return nil, invalid("sla", "%q: want PRIORITY=DURATION,…, e.g. 1=15m,2=4h,3=24h", s)
	}
	return out, nil
}

// FormatSLA prints deadlines as ParseSLA reads them, by priority.
func FormatSLA(sla map[int]time.Duration) string {
	ps := slices.Collect(maps.Keys(sla))
	sort.Ints(ps)
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = strconv.Itoa(p) + "=" + shortDuration(sla[p])
	}
	return strings.Join(parts, ",")
}

// shortDuration prints 4h rather than 4h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
