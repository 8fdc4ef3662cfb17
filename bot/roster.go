package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/locales"
)

// Roles of officers.
const (
	RoleOfficer    = "officer"
	RoleSupervisor = "supervisor"
	RoleAdmin      = "admin"
)

// OfficerInfo is what the desk needs of an officer (internal/directory keeps the records).
type OfficerInfo struct {
	ID     string // the officer's id in audits and to colleagues ("o-…"), never the Telegram id
	ChatID int64  // the officer's private chat with the bot (their Telegram user id)
	Team   string
	Role   string
	Langs  []locales.Lang
	Gender string // "female", "male" or ""
	OnDuty bool
	Active bool // false once disabled
}

// Lang is the language the officer reads the bot in.
func (o *OfficerInfo) Lang() locales.Lang {
	if len(o.Langs) > 0 {
		return o.Langs[0]
	}
	return locales.EN
}

// Supervises reports whether the officer may see the team's cases beyond their own.
func (o *OfficerInfo) Supervises(team string) bool {
	return o.Team == team && (o.Role == RoleSupervisor || o.Role == RoleAdmin)
}

// TeamInfo is what the desk and the SLA scheduler need of a team.
type TeamInfo struct {
	Name        string
	Supervisors []string // officer ids, besides the team's officers with the supervisor role
	Backup      string
	// Within reports whether t is inside the team's working hours; NextOpen is the next time it
	// is (nil: always open).
	Within   func(t time.Time) bool
	NextOpen func(t time.Time) time.Time
}

func (t *TeamInfo) open(at time.Time) bool { return t.Within == nil || t.Within(at) }

func (t *TeamInfo) nextOpen(at time.Time) time.Time {
	if t.NextOpen == nil {
		return at
	}
	return t.NextOpen(at)
}

// Roster is the officer directory as the desk sees it.
type Roster interface {
	// OfficerByTelegram returns the officer with that Telegram user id, or nil.
	OfficerByTelegram(ctx context.Context, telegramID int64) (*OfficerInfo, error)
	// Officer returns an officer by id, or nil.
	Officer(ctx context.Context, id string) (*OfficerInfo, error)
	// TeamOfficers lists a team's officers (disabled ones included; callers filter).
	TeamOfficers(ctx context.Context, team string) ([]*OfficerInfo, error)
	// Team returns a team, or nil.
	Team(ctx context.Context, name string) (*TeamInfo, error)
	// SetOnDuty switches an officer's duty (audited by the directory).
	SetOnDuty(ctx context.Context, id string, on bool) error
	// IsInvite tells an invite token from anything else a /start may carry.
	IsInvite(s string) bool
	// Redeem registers the Telegram account behind an invite (single use, expiring). Any invalid
	// invite is ErrInvalidInvite.
	Redeem(ctx context.Context, token string, telegramID int64, now time.Time) (*OfficerInfo, error)
}

// ErrInvalidInvite is returned by Roster.Redeem for an unknown, used or expired invite alike.
var ErrInvalidInvite = errors.New("invalid invite")

// personLink is a person's link to their cases, for the relay and /status; caseChat is the way
// back from a case to the person's chat. Both are sealed directory records, deleted by /forget.
type personLink struct {
	ChatID int64        `json:"chat"`
	Refs   []intake.Ref `json:"refs"`
}

type caseChat struct {
	ChatID int64             `json:"chat"`
	Key    intake.SessionKey `json:"key"`
}

func personRecord(key intake.SessionKey) string { return intake.PersonRecord(key) }
func caseRecord(ref intake.Ref) string          { return intake.CaseChatRecord(ref) }

// dirGet reads and opens a sealed directory record into v; ok is false when there is none.
func (d *Dispatcher) dirGet(ctx context.Context, name string, v any) (intake.Version, bool, error) {
	sealed, ver, err := d.Store.DirRecord(ctx, name)
	if err != nil || sealed == nil {
		return 0, false, err
	}
	plain, err := d.OpenDir(name, sealed)
	if err != nil {
		return ver, false, fmt.Errorf("directory record does not open: %w", err)
	}
	return ver, true, json.Unmarshal(plain, v)
}

// dirPut seals and writes v under name if its version is still expect.
func (d *Dispatcher) dirPut(ctx context.Context, name string, v any, expect intake.Version) error {
	plain, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sealed, err := d.SealDir(name, plain)
	if err != nil {
		return err
	}
	_, err = d.Store.PutDirRecord(ctx, name, sealed, expect)
	return err
}

// linkCase records that the person behind key (chat chatID) sent case ref.
func (d *Dispatcher) linkCase(ctx context.Context, key intake.SessionKey, chatID int64, ref intake.Ref) error {
	if err := d.dirPut(ctx, caseRecord(ref), caseChat{ChatID: chatID, Key: key}, 0); err != nil {
		return err
	}
	for attempt := 0; attempt < intake.MaxCommitAttempts; attempt++ {
		var link personLink
		ver, _, err := d.dirGet(ctx, personRecord(key), &link)
		if err != nil {
			return err
		}
		link.ChatID = chatID
		if !slices.Contains(link.Refs, ref) {
			link.Refs = append(link.Refs, ref)
		}
		if err = d.dirPut(ctx, personRecord(key), link, ver); !errors.Is(err, intake.ErrConflict) {
			return err
		}
	}
	return intake.ErrConflict
}

// unlinkPerson removes a person's links (after /forget): nothing leads from the case to them.
func (d *Dispatcher) unlinkPerson(ctx context.Context, key intake.SessionKey) error {
	var link personLink
	ver, ok, err := d.dirGet(ctx, personRecord(key), &link)
	if err != nil || !ok {
		return err
	}
	for _, ref := range link.Refs {
		_, v, err := d.Store.DirRecord(ctx, caseRecord(ref))
		if err != nil {
			return err
		}
		if err := d.Store.DeleteDirRecord(ctx, caseRecord(ref), v); err != nil {
			return err
		}
	}
	return d.Store.DeleteDirRecord(ctx, personRecord(key), ver)
}

// personCases returns the person's cases, newest first (shredded ones left out).
func (d *Dispatcher) personCases(ctx context.Context, key intake.SessionKey) ([]*intake.Case, error) {
	var link personLink
	if _, ok, err := d.dirGet(ctx, personRecord(key), &link); err != nil || !ok {
		return nil, err
	}
	var out []*intake.Case
	for i := len(link.Refs) - 1; i >= 0; i-- {
		c, err := d.Store.Case(ctx, link.Refs[i])
		if errors.Is(err, intake.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.Status != intake.StatusWithdrawn && c.Status != intake.StatusShredded {
			out = append(out, c)
		}
	}
	return out, nil
}
