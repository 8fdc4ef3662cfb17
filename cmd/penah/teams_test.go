package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/penahbot/penah/bot"
	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/internal/directory"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
	"github.com/penahbot/penah/internal/vault"
	"github.com/penahbot/penah/locales"
)

// dirEnv is the environment of a fresh data directory with a master key (as after `penah keys
// init`), on bbolt or, with a URL, on Redis.
func dirEnv(t *testing.T, storeURL string) map[string]string {
	t.Helper()
	data := t.TempDir()
	m, err := seal.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := vault.WriteMasterKeys(filepath.Join(data, vault.MasterKeyFile), m); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"PENAH_DATA": data, "PENAH_STORE": storeURL}
}

type dirCmd func(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error

func runDir(t *testing.T, cmd dirCmd, e map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := cmd(context.Background(), args, func(k string) string { return e[k] }, &out, &errb)
	return out.String() + errb.String(), err
}

func mustDir(t *testing.T, cmd dirCmd, e map[string]string, args ...string) string {
	t.Helper()
	out, err := runDir(t, cmd, e, args...)
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return out
}

// withDirectory opens the data directory as the bot would, for what the commands cannot do
// (redeeming an invite from Telegram) and to read the audit chain.
func withDirectory(t *testing.T, e map[string]string, f func(c *dirCore)) {
	t.Helper()
	c, err := openDirectory(context.Background(), "", "", func(k string) string { return e[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f(c)
}

// listed returns the fields of the line of a listing that starts with first.
func listed(t *testing.T, out, first string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == first {
			return f
		}
	}
	t.Fatalf("no line for %s in:\n%s", first, out)
	return nil
}

var inviteLink = regexp.MustCompile(`(?m)^https://t\.me/PenahBot\?start=(inv-[A-Za-z0-9_-]+)$`)

// TestTeamsAndOfficersOnBothEngines: the whole set-up an operator does, on bbolt and on Redis:
// teams with their keys, an officer added by Telegram id, an invite redeemed as the bot would,
// supervisors and a backup team, duty, disable and enable; the audit chain holds and names no
// Telegram id.
func TestTeamsAndOfficersOnBothEngines(t *testing.T) {
	url, stop, _ := redistest.Start(t)
	defer stop()
	for name, e := range map[string]map[string]string{"bolt": dirEnv(t, ""), "redis": dirEnv(t, url)} {
		t.Run(name, func(t *testing.T) {
			out := mustDir(t, runTeams, e, "add", "duhok", "--languages", "kmr,ar", "--governorates", "duhok,nineveh",
				"--hours", "Sun-Thu 08:00-16:00 Asia/Baghdad")
			for _, want := range []string{"team duhok added: languages kmr,ar; governorates duhok,nineveh; supervisors -; backup -; SLA 1=15m,2=4h,3=24h; hours Sun-Thu 08:00-16:00 Asia/Baghdad", "team key ", "held by the server"} {
				if !strings.Contains(out, want) {
					t.Errorf("teams add lacks %q:\n%s", want, out)
				}
			}
			mustDir(t, runTeams, e, "add", "--languages", "all", "--governorates", "all", "--backup", "duhok", "--sla", "1=10m", "erbil")
			out = mustDir(t, runTeams, e, "list")
			f := listed(t, out, "duhok")
			if strings.Join(f, " ") != "duhok kmr,ar duhok,nineveh - - 1=15m,2=4h,3=24h Sun-Thu 08:00-16:00 Asia/Baghdad 0 (0 on duty) held by the server" {
				t.Errorf("teams list, duhok: %q", f)
			}
			if f := listed(t, out, "erbil"); f[1] != "ar,ckb,kmr,en" || f[4] != "duhok" || f[5] != "1=10m,2=4h,3=24h" {
				t.Errorf("teams list, erbil: %q", f)
			}

			// Officers: one added by Telegram id, one by invite.
			out = mustDir(t, runOfficers, e, "add", "--team", "duhok", "--role", "supervisor", "--telegram-id", "7000000001", "--gender", "female")
			supID := regexp.MustCompile(`officer (o-[0-9A-Z]{8}) added to team duhok as supervisor`).FindStringSubmatch(out)
			if supID == nil {
				t.Fatalf("officers add: %s", out)
			}
			out = mustDir(t, runOfficers, e, "invite", "--team", "duhok", "--role", "officer", "--bot-username", "@PenahBot", "--languages", "kmr")
			m := inviteLink.FindStringSubmatch(out)
			if m == nil || !directory.IsInviteToken(m[1]) || !strings.Contains(out, "valid for 72 hours, until 20") {
				t.Fatalf("officers invite: %s", out)
			}
			var registered *directory.Officer
			withDirectory(t, e, func(c *dirCore) {
				o, err := c.dir.Redeem(context.Background(), m[1], 7000000002, time.Now())
				if err != nil {
					t.Fatalf("redeeming the printed invite: %v", err)
				}
				registered = o
				if _, err := c.dir.Redeem(context.Background(), m[1], 7000000003, time.Now()); !errors.Is(err, directory.ErrInvalidInvite) {
					t.Fatalf("the invite worked twice: %v", err)
				}
				if _, err := c.dir.SetOnDuty(context.Background(), o.ID, true, o.ID, time.Now()); err != nil {
					t.Fatal(err)
				}
			})
			out = mustDir(t, runOfficers, e, "list")
			if f := listed(t, out, registered.ID); strings.Join(f, " ") != registered.ID+" duhok officer kmr - yes no" {
				t.Errorf("officers list, the invited officer: %q", f)
			}
			if f := listed(t, out, supID[1]); strings.Join(f, " ") != supID[1]+" duhok supervisor kmr,ar female no no" {
				t.Errorf("officers list, the added supervisor: %q", f)
			}
			if strings.Contains(out, "700000000") {
				t.Fatalf("officers list shows a Telegram id:\n%s", out)
			}

			// Edit: only the flags given change.
			out = mustDir(t, runTeams, e, "edit", "duhok", "--supervisors", supID[1], "--hours", "Sun-Sat 00:00-24:00")
			if !strings.Contains(out, "team duhok changed: languages kmr,ar; governorates duhok,nineveh; supervisors "+supID[1]+"; backup -; SLA 1=15m,2=4h,3=24h; hours Sun-Sat 00:00-24:00 Asia/Baghdad") {
				t.Errorf("teams edit: %s", out)
			}
			if out := mustDir(t, runTeams, e, "list"); listed(t, out, "duhok")[7] != "00:00-24:00" || listed(t, out, "duhok")[9] != "2" || listed(t, out, "duhok")[11] != "on" {
				t.Errorf("teams list after the edit: %q", listed(t, out, "duhok"))
			}
			if out := mustDir(t, runTeams, e, "edit", "duhok", "--backup", ""); !strings.Contains(out, "unchanged") {
				t.Errorf("an edit that changes nothing: %s", out)
			}

			// Disable and enable.
			if out := mustDir(t, runOfficers, e, "disable", strings.ToLower(registered.ID)); !strings.Contains(out, "disabled") {
				t.Errorf("officers disable: %s", out)
			}
			if out := mustDir(t, runOfficers, e, "disable", registered.ID); !strings.Contains(out, "already disabled") {
				t.Errorf("officers disable twice: %s", out)
			}
			if f := listed(t, mustDir(t, runOfficers, e, "list"), registered.ID); f[5] != "no" || f[6] != "yes" {
				t.Errorf("a disabled officer is listed as %q, want off duty and disabled", f)
			}
			withDirectory(t, e, func(c *dirCore) {
				o, err := c.dir.OfficerByTelegram(context.Background(), 7000000002)
				if err != nil || o.Active() {
					t.Fatalf("the disabled officer as the bot sees them: %+v, %v", o, err)
				}
			})
			mustDir(t, runOfficers, e, "enable", registered.ID)

			// The audit chain holds, names the CLI or the officer, and no Telegram id.
			withDirectory(t, e, func(c *dirCore) {
				n, err := intake.VerifyAudit(context.Background(), c.store)
				if err != nil {
					t.Fatal(err)
				}
				es, err := c.store.AuditEntries(context.Background(), 0, 0)
				if err != nil || len(es) != n {
					t.Fatal(err)
				}
				var actions []string
				for _, e := range es {
					actions = append(actions, e.Actor+" "+e.Action)
					if strings.Contains(e.Reason, "700000000") || strings.Contains(e.Actor, "700000000") {
						t.Fatalf("audit entry with a Telegram id: %+v", e)
					}
				}
				want := []string{"admin:cli team added", "admin:cli team added", "admin:cli officer added", "admin:cli officer invited",
					registered.ID + " officer registered", registered.ID + " duty on", "admin:cli team changed",
					"admin:cli officer disabled", "admin:cli officer enabled"}
				if strings.Join(actions, "\n") != strings.Join(want, "\n") {
					t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
				}
			})
		})
	}
}

// TestTeamsErrorsNameTheFlag: a bad value is refused with the flag's name, and nothing is written.
func TestTeamsErrorsNameTheFlag(t *testing.T) {
	e := dirEnv(t, "")
	mustDir(t, runTeams, e, "add", "duhok", "--languages", "kmr", "--governorates", "duhok")
	mustDir(t, runOfficers, e, "add", "--team", "duhok", "--role", "officer", "--telegram-id", "5")
	var plainID string
	withDirectory(t, e, func(c *dirCore) {
		all, _ := c.dir.Officers(context.Background())
		plainID = all[0].ID
	})
	before := mustDir(t, runTeams, e, "list")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"add", "erbil", "--governorates", "erbil"}, "--languages is needed"},
		{[]string{"add", "erbil", "--languages", "ckb"}, "--governorates is needed"},
		{[]string{"add", "erbil", "--languages", "ckb,fr", "--governorates", "erbil"}, `--languages: "fr" is not one of`},
		{[]string{"add", "erbil", "--languages", "ckb,ckb", "--governorates", "erbil"}, `--languages: "ckb" is given twice`},
		{[]string{"add", "erbil", "--languages", "ckb", "--governorates", "erbil,arbil"}, `--governorates: "arbil" is not one of`},
		{[]string{"add", "erbil", "--languages", "ckb", "--governorates", "erbil", "--sla", "1=forever"}, "--sla:"},
		{[]string{"add", "erbil", "--languages", "ckb", "--governorates", "erbil", "--sla", "4=1h"}, "--sla: priority 4"},
		{[]string{"add", "erbil", "--languages", "ckb", "--governorates", "erbil", "--sla", "1=30s"}, "--sla: priority 1"},
		{[]string{"add", "erbil", "--languages", "ckb", "--governorates", "erbil", "--hours", "Sun-Thu 16:00-08:00"}, "--hours:"},
		{[]string{"add", "erbil", "--languages", "ckb", "--governorates", "erbil", "--hours", "Sun-Thu 08:00-16:00 Mars/Olympus"}, "--hours:"},
		{[]string{"add", "erbil", "--languages", "ckb", "--governorates", "erbil", "--backup", "basra"}, `--backup: there is no team "basra"`},
		{[]string{"add", "erbil", "--languages", "ckb", "--governorates", "erbil", "--backup", "erbil"}, "--backup: a team cannot be its own backup"},
		{[]string{"add", "erbil", "--languages", "ckb", "--governorates", "erbil", "--supervisors", "o-00000000"}, "--supervisors: there is no officer o-00000000"},
		{[]string{"add", "erbil", "--languages", "ckb", "--governorates", "erbil", "--supervisors", plainID}, "--supervisors: officer " + plainID + " is an officer"},
		{[]string{"add", "erbil", "--languages", "ckb", "--governorates", "erbil", "--supervisors", "alice"}, `--supervisors: "alice" is not an officer id`},
		{[]string{"add", "Erbil", "--languages", "ckb", "--governorates", "erbil"}, `team name "Erbil"`},
		{[]string{"add", "e" + strings.Repeat("x", directory.MaxTeamNameBytes), "--languages", "ckb", "--governorates", "erbil"}, "team name"},
		{[]string{"add", "erbil", "--languages", "ckb", "--governorates", "erbil", "--sealed-only"}, "--sealed-only needs --identity-out"},
		{[]string{"add", "duhok", "--languages", "ckb", "--governorates", "erbil"}, "team duhok exists"},
		{[]string{"edit", "basra", "--languages", "ar"}, `there is no team "basra"`},
		{[]string{"edit", "duhok"}, "nothing to change"},
		{[]string{"edit", "duhok", "--languages", "xx"}, "--languages:"},
		{[]string{"edit", "duhok", "--backup", "duhok"}, "--backup:"},
	} {
		out, err := runDir(t, runTeams, e, tc.args...)
		if err == nil || !strings.Contains(err.Error()+out, tc.want) {
			t.Errorf("teams %v: %v\n%s\nwant an error with %q", tc.args, err, out, tc.want)
		}
	}
	if after := mustDir(t, runTeams, e, "list"); after != before {
		t.Fatalf("refused commands changed the teams:\n%s\nwas:\n%s", after, before)
	}
	// A name at the limit is taken.
	long := "e" + strings.Repeat("x", directory.MaxTeamNameBytes-1)
	mustDir(t, runTeams, e, "add", long, "--languages", "ckb", "--governorates", "erbil")
	// Usage errors: exit code 2.
	for _, args := range [][]string{nil, {"frobnicate"}, {"add"}, {"add", "a", "b"}, {"list", "x"}, {"add", "x", "--nope"}} {
		if _, err := runDir(t, runTeams, e, args...); exitCode(err) != 2 {
			t.Errorf("teams %v: %v, want a usage error", args, err)
		}
	}
}

func TestOfficersErrorsNameTheFlag(t *testing.T) {
	e := dirEnv(t, "")
	e["PENAH_BOT_USERNAME"] = "PenahBot"
	mustDir(t, runTeams, e, "add", "duhok", "--languages", "kmr", "--governorates", "duhok")
	// The bot's username from the environment.
	if out := mustDir(t, runOfficers, e, "invite", "--team", "duhok", "--role", "admin"); !inviteLink.MatchString(out) {
		t.Fatalf("invite with %s: %s", BotUsernameEnv, out)
	}
	mustDir(t, runOfficers, e, "add", "--team", "duhok", "--role", "officer", "--telegram-id", "12345")
	before := mustDir(t, runOfficers, e, "list")
	noBot := map[string]string{"PENAH_DATA": e["PENAH_DATA"]}
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{e, []string{"invite", "--role", "officer"}, "--team is needed"},
		{e, []string{"invite", "--team", "basra", "--role", "officer"}, `--team: there is no team "basra"`},
		{e, []string{"invite", "--team", "duhok", "--role", "boss"}, `--role: "boss"`},
		{e, []string{"invite", "--team", "duhok", "--role", "officer", "--languages", "fr"}, "--languages:"},
		{e, []string{"invite", "--team", "duhok", "--role", "officer", "--gender", "x"}, "--gender:"},
		{e, []string{"invite", "--team", "duhok", "--role", "officer", "--bot-username", "penah"}, `--bot-username: "penah" is not a bot's username`},
		{noBot, []string{"invite", "--team", "duhok", "--role", "officer"}, "--bot-username: give the bot's Telegram username (or set PENAH_BOT_USERNAME)"},
		{e, []string{"add", "--team", "duhok", "--role", "officer"}, "--telegram-id"},
		{e, []string{"add", "--team", "duhok", "--role", "officer", "--telegram-id", "-4"}, "--telegram-id"},
		{e, []string{"add", "--team", "duhok", "--role", "officer", "--telegram-id", "12345"}, "--telegram-id: this Telegram account is already registered"},
		{e, []string{"add", "--team", "basra", "--role", "officer", "--telegram-id", "9"}, `--team: there is no team "basra"`},
		{e, []string{"disable", "o-ILOU0000"}, `officer id "o-ILOU0000"`},
		{e, []string{"disable", "o-00000000"}, "there is no officer o-00000000"},
	} {
		out, err := runDir(t, runOfficers, tc.env, tc.args...)
		if err == nil || !strings.Contains(err.Error()+out, tc.want) {
			t.Errorf("officers %v: %v\n%s\nwant an error with %q", tc.args, err, out, tc.want)
		}
	}
	if after := mustDir(t, runOfficers, e, "list"); after != before || strings.Contains(after, "12345") {
		t.Fatalf("officers list after refused commands:\n%s\nwas:\n%s", after, before)
	}
	for _, args := range [][]string{nil, {"frobnicate"}, {"list", "x"}, {"disable"}, {"invite", "x"}} {
		if _, err := runDir(t, runOfficers, e, args...); exitCode(err) != 2 {
			t.Errorf("officers %v: %v, want a usage error", args, err)
		}
	}
}

// TestTeamsSealedOnly: a sealed-only team's private key goes to a passphrase-wrapped file and the
// server keeps only the public key; a team whose key exists keeps it.
func TestTeamsSealedOnly(t *testing.T) {
	e := dirEnv(t, "")
	dir := t.TempDir()
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("a long test passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "ninewa.penahkey")
	out := mustDir(t, runTeams, e, "add", "ninewa", "--languages", "ar", "--governorates", "nineveh", "--sealed-only", "--identity-out", keyFile, "--passphrase-file", pass)
	if !strings.Contains(out, "sealed-only") || !strings.Contains(out, keyFile) {
		t.Fatalf("teams add --sealed-only: %s", out)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("team key file: %v %v", fi, err)
	}
	if f := listed(t, mustDir(t, runTeams, e, "list"), "ninewa"); f[len(f)-1] != "sealed-only" {
		t.Fatalf("teams list: %q", f)
	}
	// A team whose key was made with `penah keys team` keeps it.
	withDirectory(t, e, func(c *dirCore) {
		if _, err := c.vault.AddTeamKey(context.Background(), "duhok", false); err != nil {
			t.Fatal(err)
		}
	})
	if out := mustDir(t, runTeams, e, "add", "duhok", "--languages", "kmr", "--governorates", "duhok"); !strings.Contains(out, "exists (held by the server)") {
		t.Fatalf("teams add of a team with a key: %s", out)
	}
	if _, err := runDir(t, runTeams, e, "add", "erbil", "--languages", "ckb", "--governorates", "erbil", "--sealed-only", "--identity-out", filepath.Join(dir, "e"), "--passphrase-file", filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "--passphrase-file") {
		t.Fatalf("a missing passphrase file: %v", err)
	}
}

// TestOfficersRoster: the directory as the bot's desk sees it (bot.Roster): an invite printed by
// the command registers the account that opens it, unknown ids are nil, a bad or second use of an
// invite is bot.ErrInvalidInvite, duty switches are the officer's own, teams carry their hours.
func TestOfficersRoster(t *testing.T) {
	e := dirEnv(t, "")
	mustDir(t, runTeams, e, "add", "duhok", "--languages", "kmr,ar", "--governorates", "duhok", "--hours", "Sun-Thu 08:00-16:00")
	mustDir(t, runTeams, e, "add", "erbil", "--languages", "ckb", "--governorates", "erbil", "--backup", "duhok")
	out := mustDir(t, runOfficers, e, "invite", "--team", "duhok", "--role", "supervisor", "--bot-username", "PenahBot", "--gender", "male")
	token := inviteLink.FindStringSubmatch(out)[1]
	other := mustDir(t, runOfficers, e, "invite", "--team", "erbil", "--role", "officer", "--bot-username", "PenahBot")
	second := inviteLink.FindStringSubmatch(other)[1]
	ctx := context.Background()
	withDirectory(t, e, func(c *dirCore) {
		now := time.Date(2031, 3, 6, 6, 0, 0, 0, time.UTC) // Thursday 09:00 in Baghdad
		r := newDirRoster(c.dir, func() time.Time { return now })
		if !r.IsInvite(token) || r.IsInvite("info") {
			t.Fatal("IsInvite")
		}
		if o, err := r.OfficerByTelegram(ctx, 555); o != nil || err != nil {
			t.Fatalf("an unknown account = %+v, %v; want nil, nil", o, err)
		}
		o, err := r.Redeem(ctx, token, 555, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if o.ChatID != 555 || o.Team != "duhok" || o.Role != bot.RoleSupervisor || o.Gender != "male" || !o.Active || o.OnDuty ||
			!slices.Equal(o.Langs, []locales.Lang{locales.KMR, locales.AR}) || o.Lang() != locales.KMR || !o.Supervises("duhok") {
			t.Fatalf("registered officer = %+v", o)
		}
		if _, err := r.Redeem(ctx, token, 556, time.Now()); !errors.Is(err, bot.ErrInvalidInvite) {
			t.Fatalf("a used invite: %v", err)
		}
		if _, err := r.Redeem(ctx, second, 555, time.Now()); !errors.Is(err, bot.ErrInvalidInvite) {
			t.Fatalf("a registered account with a second invite: %v", err)
		}
		if err := r.SetOnDuty(ctx, o.ID, true); err != nil {
			t.Fatal(err)
		}
		byID, err := r.Officer(ctx, o.ID)
		if err != nil || !byID.OnDuty {
			t.Fatalf("after /duty: %+v, %v", byID, err)
		}
		if none, err := r.Officer(ctx, "o-00000000"); none != nil || err != nil {
			t.Fatalf("an unknown officer = %+v, %v", none, err)
		}
		if team, err := r.TeamOfficers(ctx, "duhok"); err != nil || len(team) != 1 || team[0].ID != o.ID {
			t.Fatalf("TeamOfficers = %+v, %v", team, err)
		}
		tm, err := r.Team(ctx, "duhok")
		if err != nil || tm.Name != "duhok" || !tm.Within(now) || tm.Within(now.Add(24*time.Hour)) {
			t.Fatalf("Team(duhok) = %+v, %v; open on Thursday morning, closed on Friday", tm, err)
		}
		if next := tm.NextOpen(now.Add(24 * time.Hour)); !next.Equal(time.Date(2031, 3, 9, 5, 0, 0, 0, time.UTC)) {
			t.Fatalf("NextOpen from Friday = %v, want Sunday 08:00 Baghdad", next)
		}
		if tm, err := r.Team(ctx, "erbil"); err != nil || tm.Backup != "duhok" {
			t.Fatalf("Team(erbil) = %+v, %v", tm, err)
		}
		if none, err := r.Team(ctx, "basra"); none != nil || err != nil {
			t.Fatalf("an unknown team = %+v, %v", none, err)
		}
		if _, err := c.dir.Disable(ctx, o.ID, directory.ActorCLI, now); err != nil {
			t.Fatal(err)
		}
		if got, err := r.OfficerByTelegram(ctx, 555); err != nil || got == nil || got.Active || got.OnDuty {
			t.Fatalf("a disabled officer = %+v, %v; want found, inactive, off duty", got, err)
		}
	})
}
