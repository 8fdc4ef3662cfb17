package directory

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "time/tzdata" // zone data in the binary, so working hours work on machines without it
)

// Working hours: when a team's officers are expected to answer. Reminders outside them wait for
// the next opening, except for P1 cases (DESIGN.md §5).

// DefaultZone is the time zone of working hours when none is given: all of Iraq, the Kurdistan
// Region included, keeps Arabia Standard Time (UTC+3) with no daylight saving.
const DefaultZone = "Asia/Baghdad"

// Default working hours: Iraq's working week runs Sunday to Thursday.
const (
	DefaultStart = 8 * 60  // 08:00, minutes of the day
	DefaultEnd   = 16 * 60 // 16:00
)

// MinutesPerDay is the largest End: 24:00, the end of the day.
const MinutesPerDay = 24 * 60

// MaxZoneBytes bounds a time zone name (the longest IANA names have about 30 characters).
const MaxZoneBytes = 64

// MaxHoursBytes bounds a working-hours text such as "Sun-Thu 08:00-16:00 Asia/Baghdad".
const MaxHoursBytes = 128

// WorkingHours are the days and the daily interval [Start, End) in a time zone. The zero value
// is not valid: start from DefaultWorkingHours or ParseWorkingHours.
type WorkingHours struct {
	Zone  string         `json:"zone"`  // IANA name, e.g. "Asia/Baghdad"
	Days  []time.Weekday `json:"days"`  // distinct, Sunday first
	Start int            `json:"start"` // minutes after midnight, 0..1439
	End   int            `json:"end"`   // minutes after midnight, Start+1..1440 (24:00)
}

// DefaultWorkingHours returns Sunday to Thursday, 08:00 to 16:00, Asia/Baghdad.
func DefaultWorkingHours() WorkingHours {
	return WorkingHours{
		Zone:  DefaultZone,
		Days:  []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday},
		Start: DefaultStart, End: DefaultEnd,
	}
}

// zones caches loaded locations: time.LoadLocation parses zone data on every call.
var zones sync.Map // string → *time.Location

func loadZone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "" || len(name) > MaxZoneBytes {
		return nil, fmt.Errorf("time zone %q: give an IANA name such as %s", name, DefaultZone)
	}
	l, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, fmt.Errorf("time zone %q: not an IANA name such as %s", name, DefaultZone)
	}
	zones.Store(name, l)
	return l, nil
}

// Validate reports what is wrong with h, or nil.
func (h WorkingHours) Validate() error {
	if _, err := loadZone(h.Zone); err != nil {
		return err
	}
	if len(h.Days) == 0 {
		return fmt.Errorf("no working days")
	}
	seen := map[time.Weekday]bool{}
	for _, d := range h.Days {
		if d < time.Sunday || d > time.Saturday {
			return fmt.Errorf("day %d is not a weekday", d)
		}
		if seen[d] {
			return fmt.Errorf("%s is given twice", dayNames[d])
		}
		seen[d] = true
	}
	if h.Start < 0 || h.Start >= MinutesPerDay || h.End <= h.Start || h.End > MinutesPerDay {
		return fmt.Errorf("hours %s-%s: the start must come before the end, within 00:00-24:00", clock(h.Start), clock(h.End))
	}
	return nil
}

// Within reports whether t falls inside the working hours. Invalid hours are never open.
func (h WorkingHours) Within(t time.Time) bool {
	loc, err := loadZone(h.Zone)
	if err != nil {
		return false
	}
	lt := t.In(loc)
	if !slices.Contains(h.Days, lt.Weekday()) {
		return false
	}
	m := lt.Hour()*60 + lt.Minute()
	return m >= h.Start && m < h.End
}

// NextOpen returns t when it is within the working hours, or else the next time they begin. For
// invalid hours it returns the zero time.
func (h WorkingHours) NextOpen(t time.Time) time.Time {
	if h.Validate() != nil {
		return time.Time{}
	}
	if h.Within(t) {
		return t
	}
	loc, _ := loadZone(h.Zone)
	lt := t.In(loc)
	for i := 0; i <= 7; i++ {
		// time.Date normalises the day overflow, and a start that a clock change skips.
		start := time.Date(lt.Year(), lt.Month(), lt.Day()+i, h.Start/60, h.Start%60, 0, 0, loc)
		if start.After(t) && slices.Contains(h.Days, start.Weekday()) {
			return start
		}
	}
	return time.Time{} // unreachable for valid hours: some listed day comes within a week
}

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// String prints h as ParseWorkingHours reads it: days (ranges of consecutive days, a range may
// wrap past Saturday), the daily interval and the zone, e.g. "Sun-Thu 08:00-16:00 Asia/Baghdad".
func (h WorkingHours) String() string {
	return formatDays(h.Days) + " " + clock(h.Start) + "-" + clock(h.End) + " " + h.Zone
}

func clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

func formatDays(days []time.Weekday) string {
	var in [7]bool
	n := 0
	for _, d := range days {
		if d >= time.Sunday && d <= time.Saturday && !in[d] {
			in[d] = true
			n++
		}
	}
	switch n {
	case 0:
		return "-"
	case 7:
		return "Sun-Sat"
	}
	// Start at the first day of a run, so a run that wraps past Saturday prints as one range.
	first := 0
	for ; first < 7; first++ {
		if in[first] && !in[(first+6)%7] {
			break
		}
	}
	var parts []string
	for i := 0; i < 7; {
		d := (first + i) % 7
		if !in[d] {
			i++
			continue
		}
		j := i
		for j+1 < 7 && in[(first+j+1)%7] {
			j++
		}
		if j == i {
			parts = append(parts, dayNames[d])
		} else {
			parts = append(parts, dayNames[d]+"-"+dayNames[(first+j)%7])
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// ParseWorkingHours reads "DAYS HH:MM-HH:MM [ZONE]": DAYS is a comma-separated list of days and
// ranges of three-letter English day names ("Sun-Thu", "Sat,Mon-Wed", "Fri-Sun" wraps); the
// interval may end at 24:00; ZONE is an IANA name (default DefaultZone). Case does not matter in
// day names. The days come back Sunday first.
func ParseWorkingHours(s string) (WorkingHours, error) {
	if len(s) > MaxHoursBytes {
		return WorkingHours{}, fmt.Errorf("working hours: longer than %d bytes", MaxHoursBytes)
	}
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return WorkingHours{}, fmt.Errorf("working hours %q: want days, hours and an optional zone, e.g. %q", s, DefaultWorkingHours().String())
	}
	h := WorkingHours{Zone: DefaultZone}
	if len(f) == 3 {
		h.Zone = f[2]
	}
	var err error
	if h.Days, err = parseDays(f[0]); err != nil {
		return WorkingHours{}, err
	}
	from, to, ok := strings.Cut(f[1], "-")
	if !ok {
		return WorkingHours{}, fmt.Errorf("working hours %q: want HH:MM-HH:MM", f[1])
	}
	if h.Start, err = parseClock(from); err != nil {
		return WorkingHours{}, err
	}
	if h.End, err = parseClock(to); err != nil {
		return WorkingHours{}, err
	}
	if err := h.Validate(); err != nil {
		return WorkingHours{}, fmt.Errorf("working hours %q: %w", s, err)
	}
	return h, nil
}

func parseDay(s string) (time.Weekday, error) {
	for i, n := range dayNames {
		if strings.EqualFold(s, n) {
			return time.Weekday(i), nil
		}
	}
	return 0, fmt.Errorf("day %q: use Sun, Mon, Tue, Wed, Thu, Fri or Sat", s)
}

func parseDays(s string) ([]time.Weekday, error) {
	var in [7]bool
	for part := range strings.SplitSeq(s, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, err := parseDay(from)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseDay(to); err != nil {
				return nil, err
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			if in[d] {
				return nil, fmt.Errorf("days %q: %s comes twice", s, dayNames[d])
			}
			in[d] = true
			if d == b {
				break
			}
		}
	}
	var days []time.Weekday
	for d, ok := range in {
		if ok {
			days = append(days, time.Weekday(d))
		}
	}
	return days, nil
}

// parseClock reads HH:MM (two digits each), 00:00 to 24:00.
func parseClock(s string) (int, error) {
	bad := fmt.Errorf("time %q: want HH:MM, from 00:00 to 24:00", s)
	if len(s) != 5 || s[2] != ':' {
		return 0, bad
	}
	hh, err1 := strconv.Atoi(s[:2])
	mm, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || s[0] == '+' || s[0] == '-' || s[3] == '+' || s[3] == '-' ||
		hh > 24 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, bad
	}
	return hh*60 + mm, nil
}
