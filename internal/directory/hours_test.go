package directory

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDirectoryParseWorkingHours(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want: String() of the result, or "" for an error
		days     []time.Weekday
	}{
		{"Sun-Thu 08:00-16:00 Asia/Baghdad", "Sun-Thu 08:00-16:00 Asia/Baghdad", []time.Weekday{0, 1, 2, 3, 4}},
		{"sun-thu 08:00-16:00", "Sun-Thu 08:00-16:00 Asia/Baghdad", []time.Weekday{0, 1, 2, 3, 4}},
		{"Fri-Sun 20:00-24:00 UTC", "Fri-Sun 20:00-24:00 UTC", []time.Weekday{0, 5, 6}},
		{"Sat,Mon-Wed 09:30-13:00 Europe/Berlin", "Mon-Wed,Sat 09:30-13:00 Europe/Berlin", []time.Weekday{1, 2, 3, 6}},
		{"Mon,Wed,Fri 00:00-00:01", "Mon,Wed,Fri 00:00-00:01 Asia/Baghdad", []time.Weekday{1, 3, 5}},
		{"Sun-Sat 00:00-24:00", "Sun-Sat 00:00-24:00 Asia/Baghdad", []time.Weekday{0, 1, 2, 3, 4, 5, 6}},
		{"Mon-Sun 00:00-24:00", "Sun-Sat 00:00-24:00 Asia/Baghdad", nil},
		{"Thu 08:00-16:00", "Thu 08:00-16:00 Asia/Baghdad", []time.Weekday{4}},
		// Refused.
		{in: ""},
		{in: "Sun-Thu"},
		{in: "Sun-Thu 08:00-16:00 Asia/Baghdad extra"},
		{in: "Sun-Thu 16:00-08:00"},      // overnight: not supported
		{in: "Sun-Thu 08:00-08:00"},      // empty
		{in: "Sun-Thu 08:00-24:01"},      // past the end of the day
		{in: "Sun-Thu 8:00-16:00"},       // HH
		{in: "Sun-Thu 08:60-16:00"},      // minutes
		{in: "Sun-Thu +8:00-16:00"},      // sign
		{in: "Sun-Thu 08:00-16:00 Mars"}, // zone
		{in: "Sun-Thu 08:00-16:00 Local"},
		{in: "Sun-Xyz 08:00-16:00"},
		{in: "Sun,Sun 08:00-16:00"},
		{in: "Sun-Thu,Mon 08:00-16:00"},
		{in: "Sun-Thu 08:00-16:00 " + strings.Repeat("A", MaxHoursBytes)},
	} {
		h, err := ParseWorkingHours(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseWorkingHours(%q) = %v, want an error", tc.in, h)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseWorkingHours(%q): %v", tc.in, err)
			continue
		}
		if got := h.String(); got != tc.want {
			t.Errorf("ParseWorkingHours(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		if tc.days != nil && !slices.Equal(h.Days, tc.days) {
			t.Errorf("ParseWorkingHours(%q).Days = %v, want %v", tc.in, h.Days, tc.days)
		}
	}
	if got := DefaultWorkingHours().String(); got != "Sun-Thu 08:00-16:00 Asia/Baghdad" {
		t.Errorf("default hours = %q", got)
	}
}

// baghdad returns a time in Baghdad (UTC+3 all year).
func baghdad(t *testing.T, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Baghdad")
	if err != nil {
		t.Fatal(err)
	}
	at, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func TestDirectoryWithinAndNextOpen(t *testing.T) {
	h := DefaultWorkingHours()
	// 2031-03-06 is a Thursday, 2031-03-07 a Friday, 2031-03-09 a Sunday.
	for _, tc := range []struct {
		at     string
		within bool
		next   string
	}{
		{"2031-03-06 08:00", true, "2031-03-06 08:00"},
		{"2031-03-06 07:59", false, "2031-03-06 08:00"},
		{"2031-03-06 15:59", true, "2031-03-06 15:59"},
		{"2031-03-06 16:00", false, "2031-03-09 08:00"}, // Thursday evening: Sunday morning
		{"2031-03-07 11:00", false, "2031-03-09 08:00"}, // Friday
		{"2031-03-08 23:59", false, "2031-03-09 08:00"}, // Saturday night
		{"2031-03-09 00:00", false, "2031-03-09 08:00"},
		{"2031-03-05 16:30", false, "2031-03-06 08:00"}, // Wednesday evening: Thursday morning
	} {
		at := baghdad(t, tc.at)
		if got := h.Within(at); got != tc.within {
			t.Errorf("Within(%s) = %v, want %v", tc.at, got, tc.within)
		}
		// The same instant in UTC gives the same answers.
		if got := h.Within(at.UTC()); got != tc.within {
			t.Errorf("Within(%s in UTC) = %v, want %v", tc.at, got, tc.within)
		}
		if got, want := h.NextOpen(at.UTC()), baghdad(t, tc.next); !got.Equal(want) {
			t.Errorf("NextOpen(%s) = %v, want %v", tc.at, got, want)
		}
	}
	// A day that ends at 24:00 and a week that wraps past Saturday.
	late, err := ParseWorkingHours("Fri-Sun 20:00-24:00 Asia/Baghdad")
	if err != nil {
		t.Fatal(err)
	}
	if !late.Within(baghdad(t, "2031-03-09 23:59")) || late.Within(baghdad(t, "2031-03-10 00:00")) {
		t.Error("Fri-Sun 20:00-24:00: Sunday 23:59 must be in, Monday 00:00 out")
	}
	if got, want := late.NextOpen(baghdad(t, "2031-03-10 00:00")), baghdad(t, "2031-03-14 20:00"); !got.Equal(want) {
		t.Errorf("NextOpen after the weekend = %v, want next Friday 20:00 %v", got, want)
	}
	// A zone with daylight saving: Berlin moves to summer time on 2031-03-30 (02:00 → 03:00).
	berlin, err := ParseWorkingHours("Sun 02:30-05:00 Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Europe/Berlin")
	sat := time.Date(2031, 3, 29, 12, 0, 0, 0, loc)
	next := berlin.NextOpen(sat)
	if next.IsZero() || !next.After(sat) || next.In(loc).Weekday() != time.Sunday || next.Sub(sat) > 24*time.Hour {
		t.Errorf("NextOpen across a clock change = %v", next)
	}
	// Invalid hours are never open and have no next opening.
	var zero WorkingHours
	if zero.Within(sat) || !zero.NextOpen(sat).IsZero() {
		t.Error("the zero WorkingHours must never be open")
	}
}

// FuzzParseWorkingHours: whatever parses prints back to a text that parses to the same hours,
// and NextOpen of valid hours is always within them.
func FuzzParseWorkingHours(f *testing.F) {
	for _, s := range []string{"Sun-Thu 08:00-16:00 Asia/Baghdad", "Fri-Sun 20:00-24:00 UTC", "Sat,Mon-Wed 09:30-13:00", "Mon 00:00-00:01"} {
		f.Add(s)
	}
	at := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseWorkingHours(s)
		if err != nil {
			return
		}
		again, err := ParseWorkingHours(h.String())
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, h.String(), err)
		}
		if again.String() != h.String() || !slices.Equal(again.Days, h.Days) || again.Start != h.Start || again.End != h.End || again.Zone != h.Zone {
			t.Fatalf("%q → %q → %q", s, h.String(), again.String())
		}
		if n := h.NextOpen(at); n.IsZero() || !h.Within(n) || n.Before(at) || n.Sub(at) > 8*24*time.Hour {
			t.Fatalf("%q: NextOpen(%v) = %v", s, at, n)
		}
	})
}
