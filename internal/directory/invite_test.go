package directory_test

import (
	"bytes"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/directory"
	"github.com/penahbot/penah/locales"
)

// telegramStartParam is what Telegram accepts as a deep link's start parameter.
var telegramStartParam = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// flowID is the pattern of flow ids (flows/validate.go): an invite must never look like one.
var flowID = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func (fx *fixture) invite(t *testing.T, spec directory.InviteSpec, now time.Time) string {
	t.Helper()
	token, err := fx.dir.Invite(ctx, spec, directory.ActorCLI, now)
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	return token
}

func TestDirectoryInviteTokens(t *testing.T) {
	fx := newFixture(t, engines(t)["bolt"](t))
	fx.addTeam(t, "duhok", locales.KMR, locales.AR)
	if directory.InviteTokenBytes*8 < 128 {
		t.Fatal("an invite token must carry at least 128 random bits")
	}
	seen := map[string]bool{}
	var tokens []string
	for range 20 {
		tok := fx.invite(t, directory.InviteSpec{Team: "duhok", Role: directory.RoleOfficer}, t0)
		if !telegramStartParam.MatchString(tok) || len(tok) != directory.InviteTokenLen || len(tok) > 64 {
			t.Fatalf("token %q is not a Telegram start parameter of %d characters", tok, directory.InviteTokenLen)
		}
		if !directory.IsInviteToken(tok) || flowID.MatchString(tok) || !strings.HasPrefix(tok, directory.InviteTokenPrefix) {
			t.Fatalf("token %q: not recognisable as an invite, or looks like a flow id", tok)
		}
		if seen[tok] {
			t.Fatalf("token %q drawn twice", tok)
		}
		seen[tok] = true
		tokens = append(tokens, tok)
	}
	for _, s := range []string{"", "info", "intake", "inv-", "inv-short", tokens[0] + "x", tokens[0][:len(tokens[0])-1], strings.Replace(tokens[0], "inv-", "INV-", 1), tokens[0][:10] + "+" + tokens[0][11:]} {
		if directory.IsInviteToken(s) {
			t.Errorf("IsInviteToken(%q) = true", s)
		}
	}
	// The store holds neither a token nor its random part, in any record.
	all := fx.everything(t)
	for _, tok := range tokens {
		if bytes.Contains(all, []byte(tok)) || bytes.Contains(all, []byte(strings.TrimPrefix(tok, "inv-"))) {
			t.Fatal("the store holds an invite token")
		}
	}
}

// TestRedeem: a valid invite registers the account with the invite's team, role, languages and
// gender, once; used, unknown and expired tokens get one and the same error.
func TestDirectoryRedeem(t *testing.T) {
	eachEngine(t, func(t *testing.T, fx *fixture) {
		fx.addTeam(t, "duhok", locales.KMR, locales.AR)
		tok := fx.invite(t, directory.InviteSpec{Team: "duhok", Role: directory.RoleSupervisor, Gender: directory.GenderFemale}, t0)
		const tg = 424242
		o, err := fx.dir.Redeem(ctx, tok, tg, t0.Add(time.Hour))
		if err != nil {
			t.Fatalf("Redeem: %v", err)
		}
		if o.Team != "duhok" || o.Role != directory.RoleSupervisor || o.Gender != directory.GenderFemale || o.TelegramID != tg ||
			!slices.Equal(o.Languages, []locales.Lang{locales.KMR, locales.AR}) || o.OnDuty || !o.Active() {
			t.Fatalf("registered officer = %+v", o)
		}
		if got, err := fx.dir.OfficerByTelegram(ctx, tg); err != nil || got.ID != o.ID {
			t.Fatalf("OfficerByTelegram after Redeem = %+v, %v", got, err)
		}
		// Used, unknown, expired, malformed: the same error, word for word.
		expired := fx.invite(t, directory.InviteSpec{Team: "duhok", Role: directory.RoleOfficer, Languages: []locales.Lang{locales.AR}}, t0)
		unknown := "inv-" + strings.Repeat("A", directory.InviteTokenLen-4)
		var errs []error
		for _, tc := range []struct {
			token string
			at    time.Time
		}{{tok, t0.Add(time.Hour)}, {unknown, t0}, {expired, t0.Add(directory.InviteTTL)}, {"info", t0}, {expired, t0}} {
			_, err := fx.dir.Redeem(ctx, tc.token, 777, tc.at)
			errs = append(errs, err)
		}
		for i, err := range errs {
			if err != directory.ErrInvalidInvite {
				t.Fatalf("case %d: %v, want exactly ErrInvalidInvite", i, err)
			}
		}
		// The expired invite was taken out: it is gone even when the clock is turned back.
		if got, _ := fx.store.DirRecordNames(ctx, "invite:"); len(got) != 0 {
			t.Fatalf("invites left: %q", got)
		}
		// Just inside the lifetime it works.
		last := fx.invite(t, directory.InviteSpec{Team: "duhok", Role: directory.RoleOfficer}, t0)
		if _, err := fx.dir.Redeem(ctx, last, 778, t0.Add(directory.InviteTTL-time.Nanosecond)); err != nil {
			t.Fatalf("Redeem a moment before expiry: %v", err)
		}
		want := []string{
			"admin:cli|team added|team duhok",
			"admin:cli|officer invited|team duhok, role supervisor",
			o.ID + "|officer registered|officer " + o.ID + ", team duhok, role supervisor",
			"admin:cli|officer invited|team duhok, role officer",
			"admin:cli|officer invited|team duhok, role officer",
		}
		if got := fx.audit(t); len(got) != 6 || !slices.Equal(got[:5], want) || !strings.Contains(got[5], "|officer registered|") {
			t.Fatalf("audit =\n%s", strings.Join(got, "\n"))
		}
	})
}

// TestRedeemRegisteredAccount: an account that is an officer already is told so, and the invite
// stays usable for the person it was meant for.
func TestDirectoryRedeemRegisteredAccount(t *testing.T) {
	fx := newFixture(t, engines(t)["bolt"](t))
	fx.addTeam(t, "duhok", locales.KMR)
	fx.addOfficer(t, "duhok", directory.RoleOfficer, 1)
	tok := fx.invite(t, directory.InviteSpec{Team: "duhok", Role: directory.RoleOfficer}, t0)
	if _, err := fx.dir.Redeem(ctx, tok, 1, t0); !errors.Is(err, directory.ErrAlreadyRegistered) {
		t.Fatalf("Redeem by a registered account: %v", err)
	}
	if _, err := fx.dir.Redeem(ctx, tok, 2, t0); err != nil {
		t.Fatalf("the invite after a refused Redeem: %v", err)
	}
	if _, err := fx.dir.Redeem(ctx, tok, 0, t0); err == nil {
		t.Fatal("Redeem with Telegram id 0")
	}
}

// TestRedeemRaces: of 20 accounts opening one invite at once, exactly one is registered; of one
// account opening two invites at once, one registers it and the other invite stays usable.
func TestDirectoryRedeemRaces(t *testing.T) {
	eachEngine(t, func(t *testing.T, fx *fixture) {
		fx.addTeam(t, "duhok", locales.KMR)
		const n = 20
		for round := range 5 {
			tok := fx.invite(t, directory.InviteSpec{Team: "duhok", Role: directory.RoleOfficer}, t0)
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = fx.dir.Redeem(ctx, tok, int64(1000*(round+1)+i), t0)
				}()
			}
			close(start)
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case err != directory.ErrInvalidInvite:
					t.Fatalf("a losing redeemer got %v, want ErrInvalidInvite", err)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d accounts registered with one invite, want 1", round, won)
			}
		}
		if all, _ := fx.dir.Officers(ctx); len(all) != 5 {
			t.Fatalf("%d officers after 5 invites", len(all))
		}

		a := fx.invite(t, directory.InviteSpec{Team: "duhok", Role: directory.RoleOfficer}, t0)
		b := fx.invite(t, directory.InviteSpec{Team: "duhok", Role: directory.RoleAdmin}, t0)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, tok := range []string{a, b} {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = fx.dir.Redeem(ctx, tok, 99, t0) }()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, directory.ErrAlreadyRegistered) {
				t.Fatalf("one account, two invites: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("one account registered %d times", ok)
		}
		// Exactly one officer has that account, and the other invite still works for someone else.
		n99 := 0
		all, _ := fx.dir.Officers(ctx)
		for _, o := range all {
			if o.TelegramID == 99 {
				n99++
			}
		}
		if n99 != 1 {
			t.Fatalf("%d officers with one Telegram account", n99)
		}
		left, _ := fx.store.DirRecordNames(ctx, "invite:")
		if len(left) != 1 {
			t.Fatalf("invites left = %d, want the unused one", len(left))
		}
		var used int
		for _, tok := range []string{a, b} {
			if _, err := fx.dir.Redeem(ctx, tok, 100, t0); err == nil {
				used++
			}
		}
		if used != 1 {
			t.Fatalf("the invite the account did not use: %d redeemed", used)
		}
		fx.audit(t)
	})
}

// TestInvitesArePruned: expired invites leave the store when the next invite is made.
func TestDirectoryInvitesArePruned(t *testing.T) {
	fx := newFixture(t, engines(t)["bolt"](t))
	fx.addTeam(t, "duhok", locales.KMR)
	for range 3 {
		fx.invite(t, directory.InviteSpec{Team: "duhok", Role: directory.RoleOfficer}, t0)
	}
	fx.invite(t, directory.InviteSpec{Team: "duhok", Role: directory.RoleOfficer}, t0.Add(time.Hour))
	if got, _ := fx.store.DirRecordNames(ctx, "invite:"); len(got) != 4 {
		t.Fatalf("%d invites, want 4", len(got))
	}
	fx.invite(t, directory.InviteSpec{Team: "duhok", Role: directory.RoleOfficer}, t0.Add(directory.InviteTTL))
	if got, _ := fx.store.DirRecordNames(ctx, "invite:"); len(got) != 2 {
		t.Fatalf("%d invites after expiry of 3, want 2", len(got))
	}
	var ie *directory.InvalidError
	for name, spec := range map[string]directory.InviteSpec{
		"team":      {Team: "basra", Role: directory.RoleOfficer},
		"role":      {Team: "duhok", Role: "boss"},
		"languages": {Team: "duhok", Role: directory.RoleOfficer, Languages: []locales.Lang{"fr"}},
		"gender":    {Team: "duhok", Role: directory.RoleOfficer, Gender: "unknown"},
	} {
		if _, err := fx.dir.Invite(ctx, spec, directory.ActorCLI, t0); !errors.As(err, &ie) || ie.Field != name {
			t.Errorf("an invite with a bad %s: %v", name, err)
		}
	}
}
