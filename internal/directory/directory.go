package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/internal/intake"
)

// Store is what the directory needs of storage: its sealed records and the audit chain.
type Store interface {
	intake.Directory
	intake.Audit
}

// Keys is what the directory needs of the vault (*vault.Vault): the master keyring, to seal
// records at rest, and blind indexes.
type Keys interface {
	Keyring() *seal.Keyring
	Index(domain, value string) string
}

// Shorthands of the storage errors this package wraps.
var (
	errNotFound = intake.ErrNotFound
	errConflict = intake.ErrConflict
)

// ActorCLI is the audit actor of changes made with the penah command.
const ActorCLI = "admin:cli"

// MaxAttempts bounds the read-change-write rounds of a change that meets a concurrent one.
const MaxAttempts = 5

// Errors, besides *InvalidError for a bad field and wrapped intake errors (ErrNotFound for an
// unknown team or officer, ErrConflict for a stale Version).
var (
	// ErrInvalidInvite is returned by Redeem for an unknown, used or expired invite alike, so a
	// guesser learns nothing.
	ErrInvalidInvite = errors.New("this invite link is not valid: it may be used, expired or mistyped; ask for a new one")
	// ErrAlreadyRegistered is returned by Redeem and AddOfficer for a Telegram account that
	// is already an officer's.
	ErrAlreadyRegistered = errors.New("this Telegram account is already registered as an officer")
	// ErrDisabled is returned for a change that a disabled officer cannot have (going on duty).
	ErrDisabled = errors.New("the officer is disabled")
)

// Record names. The store keeps them in families by prefix; the ids in them are a team name, an
// officer id or a blind index (hex), never a Telegram id.
const (
	teamPrefix    = "team:"
	officerPrefix = "officer:"
	tgPrefix      = "tg:"     // blind index of a Telegram user id → officer id
	invitePrefix  = "invite:" // blind index of an invite token → the invite
)

// Blind-index domains.
const (
	tgDomain     = "tg-officer"
	inviteDomain = "officer-invite"
)

// recordFormat is the version of the records' layout. A record of a newer format is refused
// (upgrade Penah); an older one would be migrated forward when read.
const recordFormat = 1

type record struct {
	Format int             `json:"format"`
	Body   json.RawMessage `json:"body"`
}

// Directory is the officer side's configuration: teams, officers and invites, every record
// sealed at rest under the master key (seal.PurposeDirectory, bound to the record's name), every
// change audited. It keeps nothing in memory: each call reads the store, so a change made by one
// replica or by the command line is seen by all at once. It is safe for concurrent use.
type Directory struct {
	store Store
	keys  Keys
}

// New returns the directory kept in store.
func New(store Store, keys Keys) *Directory { return &Directory{store: store, keys: keys} }

func label(name string) string { return "directory:" + name }

// get reads and opens record name into v; the version is 0 when there is none.
func (d *Directory) get(ctx context.Context, name string, v any) (intake.Version, error) {
	sealed, ver, err := d.store.DirRecord(ctx, name)
	if err != nil || sealed == nil {
		return 0, err
	}
	return ver, d.open(name, sealed, v)
}

// open opens sealed record name into v.
func (d *Directory) open(name string, sealed []byte, v any) error {
	plain, err := d.keys.Keyring().OpenSecret(seal.PurposeDirectory, label(name), sealed)
	if err != nil {
		return fmt.Errorf("directory: record %s does not open with this master key (wrong key, or tampered)", name)
	}
	var r record
	if err := json.Unmarshal(plain, &r); err != nil {
		return fmt.Errorf("directory: record %s: %w", name, err)
	}
	if r.Format != recordFormat {
		return fmt.Errorf("directory: record %s has format %d, this Penah reads %d: upgrade Penah", name, r.Format, recordFormat)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("directory: record %s: %w", name, err)
	}
	return nil
}

// put seals v and writes it as record name if its version is still expect.
func (d *Directory) put(ctx context.Context, name string, v any, expect intake.Version) (intake.Version, error) {
	sealed, err := d.seal(name, v)
	if err != nil {
		return 0, err
	}
	return d.store.PutDirRecord(ctx, name, sealed, expect)
}

// seal seals v as record name.
func (d *Directory) seal(name string, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(record{Format: recordFormat, Body: body})
	if err != nil {
		return nil, err
	}
	return d.keys.Keyring().SealSecret(seal.PurposeDirectory, label(name), plain)
}

// audit appends an entry for a change already made. A failure is reported as such: the change
// stands, and retrying it would make another.
func (d *Directory) audit(ctx context.Context, actor, action, reason string, now time.Time) error {
	err := d.store.AppendAudit(ctx, intake.AuditEntry{Time: now, Actor: actor, Action: action, Reason: reason})
	if err != nil {
		return fmt.Errorf("directory: %s: done, but the audit entry was not written: %w", action, err)
	}
	return nil
}

func checkActor(actor string) error {
	if actor == "" {
		return errors.New("directory: a change needs an actor for the audit")
	}
	return nil
}

// Teams.

// Team returns a team by name (wrapping intake.ErrNotFound when there is none).
func (d *Directory) Team(ctx context.Context, name string) (*Team, error) {
	if !TeamNamePattern.MatchString(name) {
		return nil, fmt.Errorf("directory: team %q: %w", name, intake.ErrNotFound)
	}
	t := new(Team)
	ver, err := d.get(ctx, teamPrefix+name, t)
	if err != nil {
		return nil, err
	}
	if ver == 0 {
		return nil, fmt.Errorf("directory: team %q: %w", name, intake.ErrNotFound)
	}
	t.Version = ver
	return t, nil
}

// Teams lists every team, by name.
func (d *Directory) Teams(ctx context.Context) ([]*Team, error) {
	names, err := d.store.DirRecordNames(ctx, teamPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]*Team, 0, len(names))
	for _, n := range names {
		t, err := d.Team(ctx, strings.TrimPrefix(n, teamPrefix))
		if errors.Is(err, intake.ErrNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// PutTeam creates a team (t.Version 0) or changes one (t.Version as read), after checking it
// (Validate; its backup team exists; its supervisors are active officers with a supervising
// role). A stale Version is intake.ErrConflict and nothing is written. On success t.Version is
// the new version and an audit entry "team added" or "team changed" names the team and, for a
// change, the fields that changed.
func (d *Directory) PutTeam(ctx context.Context, t *Team, actor string, now time.Time) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	if err := d.CheckTeam(ctx, t); err != nil {
		return err
	}
	var old *Team
	if t.Version != 0 {
		var err error
		if old, err = d.Team(ctx, t.Name); errors.Is(err, intake.ErrNotFound) {
			return fmt.Errorf("directory: team %s: %w", t.Name, intake.ErrConflict)
		} else if err != nil {
			return err
		}
	}
	v, err := d.put(ctx, teamPrefix+t.Name, t, t.Version)
	if err != nil {
		return fmt.Errorf("directory: team %s: %w", t.Name, err)
	}
	t.Version = v
	if old == nil {
		return d.audit(ctx, actor, "team added", "team "+t.Name, now)
	}
	return d.audit(ctx, actor, "team changed", "team "+t.Name+": "+strings.Join(teamChanges(old, t), ", "), now)
}

// CheckTeam checks a team as PutTeam does, without writing it: Validate, and that its backup
// team exists and its supervisors are active officers with a supervising role.
func (d *Directory) CheckTeam(ctx context.Context, t *Team) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if t.Backup != "" {
		if _, err := d.Team(ctx, t.Backup); errors.Is(err, intake.ErrNotFound) {
			return invalid("backup", "there is no team %q", t.Backup)
		} else if err != nil {
			return err
		}
	}
	for _, id := range t.Supervisors {
		o, err := d.Officer(ctx, id)
		if errors.Is(err, intake.ErrNotFound) {
			return invalid("supervisors", "there is no officer %s", id)
		}
		if err != nil {
			return err
		}
		if !o.Active() {
			return invalid("supervisors", "officer %s is disabled", id)
		}
		if !o.Role.Supervises() {
			return invalid("supervisors", "officer %s is an officer, not a supervisor or admin", id)
		}
	}
	return nil
}

// teamChanges names the fields that differ.
func teamChanges(a, b *Team) []string {
	var out []string
	add := func(field string, same bool) {
		if !same {
			out = append(out, field)
		}
	}
	add("languages", slices.Equal(a.Languages, b.Languages))
	add("governorates", slices.Equal(a.Governorates, b.Governorates))
	add("supervisors", slices.Equal(a.Supervisors, b.Supervisors))
	add("backup", a.Backup == b.Backup)
	add("sla", maps.Equal(a.SLA, b.SLA))
	add("hours", a.Hours.String() == b.Hours.String())
	if len(out) == 0 {
		out = append(out, "nothing")
	}
	return out
}

// Officers.

// Officer returns an officer by id (wrapping intake.ErrNotFound when there is none).
func (d *Directory) Officer(ctx context.Context, id string) (*Officer, error) {
	if !officerIDPattern.MatchString(id) {
		return nil, fmt.Errorf("directory: officer %q: %w", id, intake.ErrNotFound)
	}
	o := new(Officer)
	ver, err := d.get(ctx, officerPrefix+id, o)
	if err != nil {
		return nil, err
	}
	if ver == 0 || o.ID != id {
		return nil, fmt.Errorf("directory: officer %s: %w", id, intake.ErrNotFound)
	}
	o.Version = ver
	return o, nil
}

func (d *Directory) tgName(telegramID int64) string {
	return tgPrefix + d.keys.Index(tgDomain, strconv.FormatInt(telegramID, 10))
}

// tgLink is the index record from a Telegram user id to its officer.
type tgLink struct {
	Officer string    `json:"officer"`
	At      time.Time `json:"at"` // when it was written (see RegistrationGrace)
}

// OfficerByTelegram returns the officer registered with a Telegram user id, in one read of the
// index and one of the officer (wrapping intake.ErrNotFound when there is none). Disabled
// officers are returned too: check Active.
func (d *Directory) OfficerByTelegram(ctx context.Context, telegramID int64) (*Officer, error) {
	notFound := fmt.Errorf("directory: no officer has this Telegram account: %w", intake.ErrNotFound)
	if telegramID <= 0 {
		return nil, notFound
	}
	var link tgLink
	ver, err := d.get(ctx, d.tgName(telegramID), &link)
	if err != nil {
		return nil, err
	}
	if ver == 0 {
		return nil, notFound
	}
	o, err := d.Officer(ctx, link.Officer)
	if errors.Is(err, intake.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if o.TelegramID != telegramID { // an index left over from a failed registration
		return nil, notFound
	}
	return o, nil
}

// Officers lists every officer, disabled ones included, by id.
func (d *Directory) Officers(ctx context.Context) ([]*Officer, error) {
	names, err := d.store.DirRecordNames(ctx, officerPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]*Officer, 0, len(names))
	for _, n := range names {
		o, err := d.Officer(ctx, strings.TrimPrefix(n, officerPrefix))
		if errors.Is(err, intake.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// TeamOfficers lists a team's officers, disabled ones included, by id.
func (d *Directory) TeamOfficers(ctx context.Context, team string) ([]*Officer, error) {
	all, err := d.Officers(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(o *Officer) bool { return o.Team != team }), nil
}

// requireTeam checks that a team exists.
func (d *Directory) requireTeam(ctx context.Context, name string) error {
	if _, err := d.Team(ctx, name); errors.Is(err, intake.ErrNotFound) {
		return invalid("team", "there is no team %q (add it with `penah teams add`)", name)
	} else if err != nil {
		return err
	}
	return nil
}

// AddOfficer registers an officer without an invite (set-up scripts, tests): o's ID, Created
// and Version are set here, and its Telegram account must not be registered yet
// (ErrAlreadyRegistered). The audit entry "officer added" names the new id, team and role.
func (d *Directory) AddOfficer(ctx context.Context, o Officer, actor string, now time.Time) (*Officer, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	added, err := d.addOfficer(ctx, o, now)
	if err != nil {
		return nil, err
	}
	return added, d.audit(ctx, actor, "officer added", officerReason(added), now)
}

func officerReason(o *Officer) string {
	return fmt.Sprintf("officer %s, team %s, role %s", o.ID, o.Team, o.Role)
}

// RegistrationGrace is how long an index record whose officer record is missing counts as a
// registration in progress (refusing a second one of the same account) rather than the leftover
// of one that failed half way (which a new registration replaces).
const RegistrationGrace = time.Minute

// addOfficer writes a new officer: first the index record of its Telegram account (it claims the
// account, so of two registrations of one account one wins), then the officer record under a
// fresh id.
func (d *Directory) addOfficer(ctx context.Context, o Officer, now time.Time) (*Officer, error) {
	id, err := NewOfficerID()
	if err != nil {
		return nil, err
	}
	o.ID, o.Languages, o.Created, o.Version = id, slices.Clone(o.Languages), now.UTC(), 0
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := d.requireTeam(ctx, o.Team); err != nil {
		return nil, err
	}
	if _, err := d.OfficerByTelegram(ctx, o.TelegramID); err == nil {
		return nil, ErrAlreadyRegistered
	} else if !errors.Is(err, intake.ErrNotFound) {
		return nil, err
	}
	tg := d.tgName(o.TelegramID)
	var link tgLink
	tgVer, err := d.get(ctx, tg, &link)
	if err != nil {
		return nil, err
	}
	if tgVer != 0 && now.Sub(link.At) < RegistrationGrace {
		return nil, ErrAlreadyRegistered // being registered at this very moment
	}
	if tgVer, err = d.put(ctx, tg, tgLink{Officer: o.ID, At: now.UTC()}, tgVer); errors.Is(err, intake.ErrConflict) {
		return nil, ErrAlreadyRegistered
	} else if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		v, err := d.put(ctx, officerPrefix+o.ID, &o, 0)
		if errors.Is(err, intake.ErrConflict) && attempt < MaxAttempts {
			// The id is taken (40 bits: all but impossible): draw another, and point the index
			// at it.
			if o.ID, err = NewOfficerID(); err != nil {
				return nil, err
			}
			if tgVer, err = d.put(ctx, tg, tgLink{Officer: o.ID, At: now.UTC()}, tgVer); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		o.Version = v
		return &o, nil
	}
}

// PutOfficer changes an officer (o.Version as read): team, role, languages, gender, duty,
// disabled. Its ID, Telegram id and creation time cannot change. A stale Version is
// intake.ErrConflict. The audit entry "officer changed" names the officer and the fields.
func (d *Directory) PutOfficer(ctx context.Context, o *Officer, actor string, now time.Time) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	old, err := d.Officer(ctx, o.ID)
	if err != nil {
		return err
	}
	if old.TelegramID != o.TelegramID || !old.Created.Equal(o.Created) {
		return invalid("telegram-id", "an officer's Telegram account and creation time cannot change; add a new officer")
	}
	if o.Team != old.Team {
		if err := d.requireTeam(ctx, o.Team); err != nil {
			return err
		}
	}
	v, err := d.put(ctx, officerPrefix+o.ID, o, o.Version)
	if err != nil {
		return fmt.Errorf("directory: officer %s: %w", o.ID, err)
	}
	o.Version = v
	return d.audit(ctx, actor, "officer changed", "officer "+o.ID+": "+strings.Join(officerChanges(old, o), ", "), now)
}

func officerChanges(a, b *Officer) []string {
	var out []string
	add := func(field string, same bool) {
		if !same {
			out = append(out, field)
		}
	}
	add("team", a.Team == b.Team)
	add("role", a.Role == b.Role)
	add("languages", slices.Equal(a.Languages, b.Languages))
	add("gender", a.Gender == b.Gender)
	add("on duty", a.OnDuty == b.OnDuty)
	add("disabled", a.Disabled == b.Disabled)
	if len(out) == 0 {
		out = append(out, "nothing")
	}
	return out
}

// change applies f to the stored officer and writes it, reading again when a concurrent change
// came first. f reports whether it changed anything; when it did not, nothing is written or
// audited and changed is false.
func (d *Directory) change(ctx context.Context, id string, f func(*Officer) (bool, error)) (o *Officer, changed bool, err error) {
	for attempt := 0; attempt < MaxAttempts; attempt++ {
		if o, err = d.Officer(ctx, id); err != nil {
			return nil, false, err
		}
		changed, err := f(o)
		if err != nil || !changed {
			return o, false, err
		}
		v, err := d.put(ctx, officerPrefix+o.ID, o, o.Version)
		if errors.Is(err, intake.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		o.Version = v
		return o, true, nil
	}
	return nil, false, fmt.Errorf("directory: officer %s: %w", id, intake.ErrConflict)
}

// SetOnDuty switches an officer's duty; a disabled officer cannot go on duty (ErrDisabled).
// The audit entry is "duty on" or "duty off", naming the officer; a switch to the state it is
// in writes nothing.
func (d *Directory) SetOnDuty(ctx context.Context, id string, on bool, actor string, now time.Time) (*Officer, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	o, changed, err := d.change(ctx, id, func(o *Officer) (bool, error) {
		if on && o.Disabled {
			return false, ErrDisabled
		}
		if o.OnDuty == on {
			return false, nil
		}
		o.OnDuty = on
		return true, nil
	})
	if err != nil || !changed {
		return o, err
	}
	action := "duty off"
	if on {
		action = "duty on"
	}
	return o, d.audit(ctx, actor, action, "officer "+id, now)
}

// Disable takes every right from an officer at once (and takes them off duty); the record stays,
// listed as disabled. Disabling a disabled officer writes nothing. Audit: "officer disabled".
func (d *Directory) Disable(ctx context.Context, id string, actor string, now time.Time) (*Officer, error) {
	return d.setDisabled(ctx, id, true, actor, now)
}

// Enable gives a disabled officer their rights back (off duty). Audit: "officer enabled".
func (d *Directory) Enable(ctx context.Context, id string, actor string, now time.Time) (*Officer, error) {
	return d.setDisabled(ctx, id, false, actor, now)
}

func (d *Directory) setDisabled(ctx context.Context, id string, disabled bool, actor string, now time.Time) (*Officer, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	o, changed, err := d.change(ctx, id, func(o *Officer) (bool, error) {
		if o.Disabled == disabled {
			return false, nil
		}
		o.Disabled, o.OnDuty = disabled, false
		return true, nil
	})
	if err != nil || !changed {
		return o, err
	}
	action := "officer enabled"
	if disabled {
		action = "officer disabled"
	}
	return o, d.audit(ctx, actor, action, "officer "+id, now)
}
