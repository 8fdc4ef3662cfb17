package directory

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/locales"
)

// Role is what an officer may do.
type Role string

// Roles, from least to most rights.
const (
	RoleOfficer    Role = "officer"    // claims and handles its team's cases
	RoleSupervisor Role = "supervisor" // also sees the team's queue and SLAs, gets escalations
	RoleAdmin      Role = "admin"      // also manages teams and officers
)

// Roles lists the roles, least rights first.
var Roles = []Role{RoleOfficer, RoleSupervisor, RoleAdmin}

// ParseRole reads a role name.
func ParseRole(s string) (Role, bool) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	return r, slices.Contains(Roles, r)
}

// Supervises reports whether the role may see its team's queue and receive escalations.
func (r Role) Supervises() bool { return r == RoleSupervisor || r == RoleAdmin }

// Genders an officer may give, for people who ask for an officer of a gender; "" is unsaid.
const (
	GenderFemale = "female"
	GenderMale   = "male"
)

// Officer ids: "o-" and OfficerIDSymbols symbols of Crockford's base32 without I, L, O and U
// (intake's reference alphabet), from crypto/rand: short to read out or type, never mistaken
// (0/O, 1/I/L), 40 bits so collisions in a directory of hundreds are negligible (and a
// collision is caught: a new officer record must not exist).
const (
	OfficerIDPrefix  = "o-"
	OfficerIDSymbols = 8
	idAlphabet       = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

var officerIDPattern = regexp.MustCompile(`^o-[0-9A-HJKMNP-TV-Z]{8}$`)

// NewOfficerID returns a fresh officer id such as "o-7KQ2MX9D".
func NewOfficerID() (string, error) {
	var b [OfficerIDSymbols]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("directory: reading crypto/rand: %w", err)
	}
	for i := range b {
		b[i] = idAlphabet[b[i]%32] // 256 is a multiple of 32: uniform
	}
	return OfficerIDPrefix + string(b[:]), nil
}

// ParseOfficerID normalises a typed officer id (any case, with or without the "o-") and reports
// whether it is well-formed.
func ParseOfficerID(s string) (string, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "O-")
	id := OfficerIDPrefix + s
	return id, officerIDPattern.MatchString(id)
}

// Officer is a protection officer registered with the bot. Officers are identified by their
// Telegram numeric user id (never a username, which its owner can change or give away); the id
// is sealed at rest with the rest of the record, and neither audits nor listings show it.
type Officer struct {
	ID         string         `json:"id"`
	TelegramID int64          `json:"telegram_id"` // also the officer's private chat with the bot
	Team       string         `json:"team"`
	Role       Role           `json:"role"`
	Languages  []locales.Lang `json:"languages"`
	Gender     string         `json:"gender,omitempty"` // GenderFemale, GenderMale or ""
	OnDuty     bool           `json:"on_duty"`
	Disabled   bool           `json:"disabled"`
	Created    time.Time      `json:"created"`
	// Version is the stored record's (0: not stored yet); PutOfficer compares and sets it.
	Version intake.Version `json:"-"`
}

// Active reports whether the officer may act: disabled officers stay listed, for the audit
// trail, but lose every right at once.
func (o *Officer) Active() bool { return !o.Disabled }

// Supervises reports whether the officer may see team's queue and cases beyond their own.
func (o *Officer) Supervises(team string) bool {
	return o.Active() && o.Team == team && o.Role.Supervises()
}

// Clone returns a deep copy.
func (o *Officer) Clone() *Officer {
	c := *o
	c.Languages = slices.Clone(o.Languages)
	return &c
}

// Validate checks what an officer record holds by itself (Directory checks that its team
// exists).
func (o *Officer) Validate() error {
	if !officerIDPattern.MatchString(o.ID) {
		return invalid("id", "%q is not an officer id (o-XXXXXXXX)", o.ID)
	}
	if o.TelegramID <= 0 {
		return invalid("telegram-id", "a Telegram user id is a positive number")
	}
	if !TeamNamePattern.MatchString(o.Team) {
		return invalid("team", "%q is not a team name", o.Team)
	}
	if !slices.Contains(Roles, o.Role) {
		return invalid("role", "%q: use officer, supervisor or admin", o.Role)
	}
	if err := checkLanguages(o.Languages, true); err != nil {
		return err
	}
	switch o.Gender {
	case "", GenderFemale, GenderMale:
	default:
		return invalid("gender", "%q: use female, male or leave it out", o.Gender)
	}
	if o.Created.IsZero() {
		return invalid("id", "no creation time")
	}
	return nil
}
