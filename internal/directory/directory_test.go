package directory_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/internal/directory"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
	"github.com/penahbot/penah/internal/store/redisstore"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
	"github.com/penahbot/penah/internal/vault"
	"github.com/penahbot/penah/locales"
)

var ctx = context.Background()

// t0 is the tests' "now": a Thursday morning in Baghdad.
var t0 = time.Date(2031, 3, 6, 6, 0, 0, 0, time.UTC)

type store interface {
	intake.Store
	intake.Dumper
}

type fixture struct {
	dir   *directory.Directory
	store store
	vault *vault.Vault
	kr    *seal.Keyring
}

var prefixes atomic.Int64

// engines opens a fresh store of each engine; the Redis one on a real server.
func engines(t *testing.T) map[string]func(t *testing.T) store {
	return map[string]func(t *testing.T) store{
		"bolt": func(t *testing.T) store {
			s, err := boltstore.Open(filepath.Join(t.TempDir(), "penah.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"redis": func(t *testing.T) store {
			url, _, _ := redistest.Start(t)
			prefix := fmt.Sprintf("penahdir:%d:%d:", time.Now().UnixNano(), prefixes.Add(1))
			s, err := redisstore.Open(ctx, url, redisstore.WithPrefix(prefix))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

func newFixture(t *testing.T, s store) *fixture {
	t.Helper()
	m, err := seal.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := seal.NewKeyring(m)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, kr, s, func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{dir: directory.New(s, v), store: s, vault: v, kr: kr}
}

// eachEngine runs f on a fresh fixture of each engine.
func eachEngine(t *testing.T, f func(t *testing.T, fx *fixture)) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) { f(t, newFixture(t, open(t))) })
	}
}

func (fx *fixture) addTeam(t *testing.T, name string, langs ...locales.Lang) *directory.Team {
	t.Helper()
	tm := directory.NewTeam(name)
	tm.Languages = langs
	tm.Governorates = []string{"duhok"}
	if err := fx.dir.PutTeam(ctx, tm, directory.ActorCLI, t0); err != nil {
		t.Fatalf("PutTeam(%s): %v", name, err)
	}
	return tm
}

func (fx *fixture) addOfficer(t *testing.T, team string, role directory.Role, tg int64) *directory.Officer {
	t.Helper()
	o, err := fx.dir.AddOfficer(ctx, directory.Officer{TelegramID: tg, Team: team, Role: role, Languages: []locales.Lang{locales.KMR}}, directory.ActorCLI, t0)
	if err != nil {
		t.Fatalf("AddOfficer: %v", err)
	}
	return o
}

// audit returns "actor|action|reason" of every entry, and checks the chain.
func (fx *fixture) audit(t *testing.T) []string {
	t.Helper()
	if _, err := intake.VerifyAudit(ctx, fx.store); err != nil {
		t.Fatal(err)
	}
	es, err := fx.store.AuditEntries(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Actor+"|"+e.Action+"|"+e.Reason)
	}
	return out
}

// everything returns every byte the store holds (its dump, the audit chain included), to check
// what is kept in the clear.
func (fx *fixture) everything(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	err := fx.store.Dump(ctx, func(r intake.Record) error {
		fmt.Fprintf(&b, "%s\n%s\n%s\n", r.Kind, r.Name, r.Data)
		if r.Audit != nil {
			fmt.Fprintf(&b, "%+v\n", *r.Audit)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDirectoryTeams(t *testing.T) {
	eachEngine(t, func(t *testing.T, fx *fixture) {
		if _, err := fx.dir.Team(ctx, "duhok"); !errors.Is(err, intake.ErrNotFound) {
			t.Fatalf("Team of none: %v", err)
		}
		fx.addTeam(t, "erbil", locales.CKB)
		tm := fx.addTeam(t, "duhok", locales.KMR, locales.AR)
		if tm.Version != 1 {
			t.Fatalf("a new team's Version = %d", tm.Version)
		}
		// A second "add" of a stored team is a conflict.
		again := directory.NewTeam("duhok")
		again.Languages, again.Governorates = []locales.Lang{locales.AR}, []string{"duhok"}
		if err := fx.dir.PutTeam(ctx, again, directory.ActorCLI, t0); !errors.Is(err, intake.ErrConflict) {
			t.Fatalf("adding a team twice: %v, want ErrConflict", err)
		}
		// Edit with the version read; a stale copy then conflicts.
		got, err := fx.dir.Team(ctx, "duhok")
		if err != nil {
			t.Fatal(err)
		}
		stale := got.Clone()
		got.Backup = "erbil"
		got.Hours, _ = directory.ParseWorkingHours("Sun-Sat 00:00-24:00")
		if err := fx.dir.PutTeam(ctx, got, "o-ADMIN001", t0); err != nil {
			t.Fatalf("editing: %v", err)
		}
		if got.Version != 2 {
			t.Fatalf("version after the edit = %d", got.Version)
		}
		stale.SLA[1] = time.Minute
		if err := fx.dir.PutTeam(ctx, stale, directory.ActorCLI, t0); !errors.Is(err, intake.ErrConflict) {
			t.Fatalf("a stale edit: %v, want ErrConflict", err)
		}
		reread, err := fx.dir.Team(ctx, "duhok")
		if err != nil || reread.Backup != "erbil" || reread.ClaimSLA(1) != 15*time.Minute || reread.Hours.String() != "Sun-Sat 00:00-24:00 Asia/Baghdad" {
			t.Fatalf("team after the edits = %+v, %v", reread, err)
		}
		// References must exist.
		bad := reread.Clone()
		bad.Backup = "nineveh"
		var ie *directory.InvalidError
		if err := fx.dir.PutTeam(ctx, bad, directory.ActorCLI, t0); !errors.As(err, &ie) || ie.Field != "backup" {
			t.Fatalf("an unknown backup team: %v", err)
		}
		bad = reread.Clone()
		bad.Supervisors = []string{"o-00000000"}
		if err := fx.dir.PutTeam(ctx, bad, directory.ActorCLI, t0); !errors.As(err, &ie) || ie.Field != "supervisors" {
			t.Fatalf("an unknown supervisor: %v", err)
		}
		plain := fx.addOfficer(t, "duhok", directory.RoleOfficer, 111)
		sup := fx.addOfficer(t, "erbil", directory.RoleSupervisor, 222)
		bad.Supervisors = []string{plain.ID}
		if err := fx.dir.PutTeam(ctx, bad, directory.ActorCLI, t0); !errors.As(err, &ie) || ie.Field != "supervisors" {
			t.Fatalf("a supervisor who is a plain officer: %v", err)
		}
		good := reread.Clone()
		good.Supervisors = []string{sup.ID}
		if err := fx.dir.PutTeam(ctx, good, directory.ActorCLI, t0); err != nil {
			t.Fatalf("a supervisor of another team: %v", err)
		}
		if _, err := fx.dir.Disable(ctx, sup.ID, directory.ActorCLI, t0); err != nil {
			t.Fatal(err)
		}
		if err := fx.dir.PutTeam(ctx, good, directory.ActorCLI, t0); !errors.As(err, &ie) || ie.Field != "supervisors" {
			t.Fatalf("a disabled supervisor: %v", err)
		}
		if err := fx.dir.PutTeam(ctx, good, "", t0); err == nil {
			t.Fatal("a change without an actor was made")
		}
		teams, err := fx.dir.Teams(ctx)
		if err != nil || len(teams) != 2 || teams[0].Name != "duhok" || teams[1].Name != "erbil" {
			t.Fatalf("Teams = %v, %v", teams, err)
		}
		want := []string{
			"admin:cli|team added|team erbil",
			"admin:cli|team added|team duhok",
			"o-ADMIN001|team changed|team duhok: backup, hours",
			"admin:cli|officer added|officer " + plain.ID + ", team duhok, role officer",
			"admin:cli|officer added|officer " + sup.ID + ", team erbil, role supervisor",
			"admin:cli|team changed|team duhok: supervisors",
			"admin:cli|officer disabled|officer " + sup.ID,
		}
		if got := fx.audit(t); !slices.Equal(got, want) {
			t.Fatalf("audit =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestDirectoryOfficers(t *testing.T) {
	eachEngine(t, func(t *testing.T, fx *fixture) {
		fx.addTeam(t, "duhok", locales.KMR)
		fx.addTeam(t, "erbil", locales.CKB)
		const tg = 987654321987
		o := fx.addOfficer(t, "duhok", directory.RoleOfficer, tg)
		if !strings.HasPrefix(o.ID, "o-") || o.Version != 1 || !o.Active() || o.OnDuty || !o.Created.Equal(t0) {
			t.Fatalf("new officer = %+v", o)
		}
		other := fx.addOfficer(t, "erbil", directory.RoleAdmin, 5)
		byTG, err := fx.dir.OfficerByTelegram(ctx, tg)
		if err != nil || byTG.ID != o.ID || byTG.TelegramID != tg {
			t.Fatalf("OfficerByTelegram = %+v, %v", byTG, err)
		}
		for _, unknown := range []int64{0, -1, 6, tg + 1} {
			if _, err := fx.dir.OfficerByTelegram(ctx, unknown); !errors.Is(err, intake.ErrNotFound) {
				t.Fatalf("OfficerByTelegram(%d): %v, want ErrNotFound", unknown, err)
			}
		}
		if _, err := fx.dir.AddOfficer(ctx, directory.Officer{TelegramID: tg, Team: "erbil", Role: directory.RoleOfficer, Languages: []locales.Lang{"ar"}}, directory.ActorCLI, t0); !errors.Is(err, directory.ErrAlreadyRegistered) {
			t.Fatalf("a second officer with one Telegram account: %v", err)
		}
		var ie *directory.InvalidError
		if _, err := fx.dir.AddOfficer(ctx, directory.Officer{TelegramID: 7, Team: "basra", Role: directory.RoleOfficer, Languages: []locales.Lang{"ar"}}, directory.ActorCLI, t0); !errors.As(err, &ie) || ie.Field != "team" {
			t.Fatalf("an officer of an unknown team: %v", err)
		}
		// Duty.
		if got, err := fx.dir.SetOnDuty(ctx, o.ID, true, o.ID, t0); err != nil || !got.OnDuty || got.Version != 2 {
			t.Fatalf("SetOnDuty(on) = %+v, %v", got, err)
		}
		if got, err := fx.dir.SetOnDuty(ctx, o.ID, true, o.ID, t0); err != nil || got.Version != 2 {
			t.Fatalf("SetOnDuty(on) again = %+v, %v: it must write nothing", got, err)
		}
		// Edit: team and languages; the Telegram account cannot change.
		cur, _ := fx.dir.Officer(ctx, o.ID)
		cur.Team, cur.Languages, cur.Gender = "erbil", []locales.Lang{locales.CKB, locales.AR}, directory.GenderFemale
		if err := fx.dir.PutOfficer(ctx, cur, directory.ActorCLI, t0); err != nil {
			t.Fatal(err)
		}
		moved := cur.Clone()
		moved.TelegramID = 42
		if err := fx.dir.PutOfficer(ctx, moved, directory.ActorCLI, t0); !errors.As(err, &ie) {
			t.Fatalf("changing the Telegram id: %v", err)
		}
		stale := cur.Clone()
		stale.Version--
		if err := fx.dir.PutOfficer(ctx, stale, directory.ActorCLI, t0); !errors.Is(err, intake.ErrConflict) {
			t.Fatalf("a stale officer edit: %v", err)
		}
		// Disable: listed, inactive, off duty, cannot go on duty; enable again.
		dis, err := fx.dir.Disable(ctx, o.ID, directory.ActorCLI, t0)
		if err != nil || dis.Active() || dis.OnDuty || dis.Supervises("erbil") {
			t.Fatalf("Disable = %+v, %v", dis, err)
		}
		if _, err := fx.dir.SetOnDuty(ctx, o.ID, true, o.ID, t0); !errors.Is(err, directory.ErrDisabled) {
			t.Fatalf("a disabled officer going on duty: %v", err)
		}
		if got, err := fx.dir.OfficerByTelegram(ctx, tg); err != nil || got.Active() {
			t.Fatalf("a disabled officer by Telegram id = %+v, %v: found, inactive", got, err)
		}
		all, err := fx.dir.Officers(ctx)
		if err != nil || len(all) != 2 {
			t.Fatalf("Officers = %v, %v", all, err)
		}
		erbil, err := fx.dir.TeamOfficers(ctx, "erbil")
		if err != nil || len(erbil) != 2 {
			t.Fatalf("TeamOfficers(erbil) = %v, %v", erbil, err)
		}
		if duhok, _ := fx.dir.TeamOfficers(ctx, "duhok"); len(duhok) != 0 {
			t.Fatalf("TeamOfficers(duhok) = %v", duhok)
		}
		if en, err := fx.dir.Enable(ctx, o.ID, directory.ActorCLI, t0); err != nil || !en.Active() || en.OnDuty {
			t.Fatalf("Enable = %+v, %v", en, err)
		}
		if !other.Supervises("erbil") || other.Supervises("duhok") {
			t.Fatal("an admin supervises their own team only")
		}
		want := []string{
			"admin:cli|team added|team duhok",
			"admin:cli|team added|team erbil",
			"admin:cli|officer added|officer " + o.ID + ", team duhok, role officer",
			"admin:cli|officer added|officer " + other.ID + ", team erbil, role admin",
			o.ID + "|duty on|officer " + o.ID,
			"admin:cli|officer changed|officer " + o.ID + ": team, languages, gender",
			"admin:cli|officer disabled|officer " + o.ID,
			"admin:cli|officer enabled|officer " + o.ID,
		}
		if got := fx.audit(t); !slices.Equal(got, want) {
			t.Fatalf("audit =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// Nothing the store holds shows the Telegram id, and records are sealed.
		all2 := fx.everything(t)
		if bytes.Contains(all2, []byte(strconv.Itoa(tg))) {
			t.Fatal("the store holds the Telegram id in the clear")
		}
		for _, clear := range []string{`"telegram_id"`, `"languages"`, "female", "Asia/Baghdad"} {
			if bytes.Contains(all2, []byte(clear)) {
				t.Fatalf("the store holds %q in the clear", clear)
			}
		}
	})
}

// TestRecordsAreBound: a record copied under another name, or opened with another master key,
// does not open.
func TestDirectoryRecordsAreBound(t *testing.T) {
	open := engines(t)["bolt"]
	s := open(t)
	fx := newFixture(t, s)
	fx.addTeam(t, "duhok", locales.KMR)
	fx.addTeam(t, "erbil", locales.CKB)
	sealed, _, err := s.DirRecord(ctx, "team:duhok")
	if err != nil {
		t.Fatal(err)
	}
	_, v, _ := s.DirRecord(ctx, "team:erbil")
	if _, err := s.PutDirRecord(ctx, "team:erbil", sealed, v); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.dir.Team(ctx, "erbil"); err == nil || errors.Is(err, intake.ErrNotFound) || !strings.Contains(err.Error(), "does not open") {
		t.Fatalf("a record moved to another name: %v, want a refusal", err)
	}
	// The same records read with another master key.
	other := newFixture(t, s)
	if _, err := other.dir.Team(ctx, "duhok"); err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Fatalf("a record read with another master key: %v", err)
	}
	// A record sealed for another purpose (the bot's, with the same label) does not open either.
	fake, err := fx.kr.SealSecret(seal.PurposeSession, "directory:team:duhok", []byte(`{"format":1,"body":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, v, _ = s.DirRecord(ctx, "team:duhok")
	if _, err := s.PutDirRecord(ctx, "team:duhok", fake, v); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.dir.Team(ctx, "duhok"); err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Fatalf("a record sealed for another purpose: %v", err)
	}
}

// TestConcurrentDutySwitches: officers switching duty while an admin edits them lose no change.
func TestDirectoryConcurrentDutySwitches(t *testing.T) {
	eachEngine(t, func(t *testing.T, fx *fixture) {
		fx.addTeam(t, "duhok", locales.KMR)
		o := fx.addOfficer(t, "duhok", directory.RoleOfficer, 1)
		done := make(chan error, 2)
		go func() {
			for i := range 10 {
				if _, err := fx.dir.SetOnDuty(ctx, o.ID, i%2 == 0, o.ID, t0); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		go func() { // an admin's edit, read again after each conflict until it is made
			for {
				cur, err := fx.dir.Officer(ctx, o.ID)
				if err != nil {
					done <- err
					return
				}
				cur.Gender = directory.GenderFemale
				err = fx.dir.PutOfficer(ctx, cur, directory.ActorCLI, t0)
				if !errors.Is(err, intake.ErrConflict) {
					done <- err
					return
				}
			}
		}()
		for range 2 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		final, err := fx.dir.Officer(ctx, o.ID)
		if err != nil || final.OnDuty || final.Gender != directory.GenderFemale {
			t.Fatalf("after the race: %+v, %v (the last duty switch was off)", final, err)
		}
		fx.audit(t) // the chain holds
	})
}
