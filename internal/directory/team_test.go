package directory

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/penahbot/penah/locales"
)

// validTeam is a team that passes Validate.
func validTeam() *Team {
	t := NewTeam("duhok")
	t.Languages = []locales.Lang{locales.KMR, locales.AR}
	t.Governorates = []string{"duhok", "nineveh"}
	return t
}

// wantInvalid fails unless err is an *InvalidError about field.
func wantInvalid(t *testing.T, what string, err error, field string) {
	t.Helper()
	var ie *InvalidError
	if !errors.As(err, &ie) || ie.Field != field {
		t.Fatalf("%s: %v, want an *InvalidError about %q", what, err, field)
	}
}

// TestTeamLimits: each limit of a team is accepted at its value and refused one past it.
func TestDirectoryTeamLimits(t *testing.T) {
	if err := validTeam().Validate(); err != nil {
		t.Fatalf("a valid team: %v", err)
	}
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("o-%08d", i)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		field string
		at    func(*Team) // at the limit: valid
		past  func(*Team) // one past: refused
	}{
		{"name length", "name",
			func(t *Team) { t.Name = "a" + strings.Repeat("b", MaxTeamNameBytes-1) },
			func(t *Team) { t.Name = "a" + strings.Repeat("b", MaxTeamNameBytes) }},
		{"languages", "languages",
			func(t *Team) { t.Languages = append([]locales.Lang(nil), locales.All...) },
			func(t *Team) { t.Languages = append(append([]locales.Lang(nil), locales.All...), locales.AR) }},
		{"governorates", "governorates",
			func(t *Team) { t.Governorates = append([]string(nil), locales.Governorates...) },
			func(t *Team) { t.Governorates = append(append([]string(nil), locales.Governorates...), "duhok") }},
		{"supervisors", "supervisors",
			func(t *Team) { t.Supervisors = ids(MaxSupervisors) },
			func(t *Team) { t.Supervisors = ids(MaxSupervisors + 1) }},
		{"shortest SLA", "sla",
			func(t *Team) { t.SLA[1] = MinSLA },
			func(t *Team) { t.SLA[1] = MinSLA - time.Nanosecond }},
		{"longest SLA", "sla",
			func(t *Team) { t.SLA[3] = MaxSLA },
			func(t *Team) { t.SLA[3] = MaxSLA + time.Nanosecond }},
		{"priorities", "sla",
			func(t *Team) { t.SLA[NumPriorities] = time.Hour },
			func(t *Team) { t.SLA[NumPriorities+1] = time.Hour }},
		{"end of day", "hours",
			func(t *Team) { t.Hours.End = MinutesPerDay },
			func(t *Team) { t.Hours.End = MinutesPerDay + 1 }},
		{"zone name", "hours",
			func(t *Team) { t.Hours.Zone = "America/Argentina/ComodRivadavia" },
			func(t *Team) { t.Hours.Zone = strings.Repeat("A", MaxZoneBytes+1) }},
	} {
		at, past := validTeam(), validTeam()
		tc.at(at)
		tc.past(past)
		if err := at.Validate(); err != nil {
			t.Errorf("%s at the limit: %v", tc.name, err)
		}
		err := past.Validate()
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Field != tc.field {
			t.Errorf("%s past the limit: %v, want an *InvalidError about %q", tc.name, err, tc.field)
		}
	}
	for name, tc := range map[string]struct {
		field string
		f     func(*Team)
	}{
		"upper case name":      {"name", func(t *Team) { t.Name = "Duhok" }},
		"empty name":           {"name", func(t *Team) { t.Name = "" }},
		"no language":          {"languages", func(t *Team) { t.Languages = nil }},
		"unknown language":     {"languages", func(t *Team) { t.Languages = []locales.Lang{"fr"} }},
		"repeated language":    {"languages", func(t *Team) { t.Languages = []locales.Lang{"ar", "ar"} }},
		"no governorate":       {"governorates", func(t *Team) { t.Governorates = nil }},
		"unknown governorate":  {"governorates", func(t *Team) { t.Governorates = []string{"dohuk"} }},
		"bad supervisor id":    {"supervisors", func(t *Team) { t.Supervisors = []string{"alice"} }},
		"repeated supervisor":  {"supervisors", func(t *Team) { t.Supervisors = []string{"o-00000001", "o-00000001"} }},
		"backup is itself":     {"backup", func(t *Team) { t.Backup = t.Name }},
		"backup not a name":    {"backup", func(t *Team) { t.Backup = "Erbil!" }},
		"priority 0":           {"sla", func(t *Team) { t.SLA[0] = time.Hour }},
		"no working days":      {"hours", func(t *Team) { t.Hours.Days = nil }},
		"start after end":      {"hours", func(t *Team) { t.Hours.Start, t.Hours.End = 600, 500 }},
		"unknown zone":         {"hours", func(t *Team) { t.Hours.Zone = "Asia/Duhok" }},
		"repeated working day": {"hours", func(t *Team) { t.Hours.Days = []time.Weekday{1, 1} }},
	} {
		tm := validTeam()
		tc.f(tm)
		wantInvalid(t, name, tm.Validate(), tc.field)
	}
}

func TestDirectorySLA(t *testing.T) {
	sla, err := ParseSLA("1=10m, 2=2h30m,3=48h")
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatSLA(sla); got != "1=10m,2=2h30m,3=48h" {
		t.Fatalf("FormatSLA = %q", got)
	}
	if got := FormatSLA(DefaultSLA()); got != "1=15m,2=4h,3=24h" {
		t.Fatalf("default SLA = %q", got)
	}
	for _, bad := range []string{"", "1", "1=", "x=1h", "1=soon", "1=1h,1=2h"} {
		if _, err := ParseSLA(bad); err == nil {
			t.Errorf("ParseSLA(%q) succeeded", bad)
		} else {
			wantInvalid(t, "ParseSLA("+bad+")", err, "sla")
		}
	}
	tm := NewTeam("t")
	tm.SLA = map[int]time.Duration{1: 5 * time.Minute} // the others are the defaults
	for p, want := range map[int]time.Duration{1: 5 * time.Minute, 2: 4 * time.Hour, 3: 24 * time.Hour, 0: 24 * time.Hour, 7: 24 * time.Hour} {
		if got := tm.ClaimSLA(p); got != want {
			t.Errorf("ClaimSLA(%d) = %v, want %v", p, got, want)
		}
	}
}

func TestDirectoryParseLists(t *testing.T) {
	if got := ParseLanguages("ar, KMR"); len(got) != 2 || got[0] != locales.AR || got[1] != locales.KMR {
		t.Errorf("ParseLanguages = %v", got)
	}
	if got := ParseLanguages("all"); len(got) != len(locales.All) {
		t.Errorf("ParseLanguages(all) = %v", got)
	}
	if got := ParseGovernorates("all"); len(got) != MaxGovernorates {
		t.Errorf("ParseGovernorates(all) = %d, want MaxGovernorates = %d", len(got), MaxGovernorates)
	}
	if MaxLanguages != len(locales.All) || MaxGovernorates != len(locales.Governorates) {
		t.Error("MaxLanguages and MaxGovernorates must follow the locales package")
	}
}

func TestDirectoryOfficerIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id, err := NewOfficerID()
		if err != nil {
			t.Fatal(err)
		}
		if !officerIDPattern.MatchString(id) || len(id) != len(OfficerIDPrefix)+OfficerIDSymbols {
			t.Fatalf("officer id %q", id)
		}
		if seen[id] {
			t.Fatalf("officer id %q drawn twice", id)
		}
		seen[id] = true
		if got, ok := ParseOfficerID(strings.ToLower(strings.TrimPrefix(id, "o-"))); !ok || got != id {
			t.Fatalf("ParseOfficerID of %q typed without prefix in lower case = %q %v", id, got, ok)
		}
	}
	for _, bad := range []string{"", "o-", "o-1234567", "o-123456789", "o-ILOU1234", "x-12345678"} {
		if _, ok := ParseOfficerID(bad); ok {
			t.Errorf("ParseOfficerID(%q) accepted", bad)
		}
	}
}
