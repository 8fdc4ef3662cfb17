package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/penahbot/penah/bot"
	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/internal/directory"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/vault"
	"github.com/penahbot/penah/locales"
)

// penah teams … and penah officers …: the officer directory (internal/directory). Every change
// is audited with the actor directory.ActorCLI. With the default bbolt store the bot must be
// stopped first (one process at a time opens the file); with Redis changes reach a running bot
// at once, since it reads the directory on every action.

const teamsUsage = `usage:
  penah teams add NAME --languages ar,kmr --governorates duhok,nineveh [--supervisors o-…,o-…]
        [--backup TEAM] [--sla 1=15m,2=4h,3=24h] [--hours "Sun-Thu 08:00-16:00 Asia/Baghdad"]
        [--sealed-only --identity-out FILE --passphrase-file F]
        add a team, and its key unless it has one ("all" lists every language or governorate)
  penah teams edit NAME [--languages …] [--governorates …] [--supervisors …] [--backup …] [--sla …] [--hours …]
        change the flags given, and only those (an empty value clears --supervisors and --backup)
  penah teams list
Every command takes --data DIR (env PENAH_DATA) and --store URL (env PENAH_STORE).
`

const officersUsage = `usage:
  penah officers invite --team T --role officer|supervisor|admin [--bot-username NAME]
        [--languages ar,kmr] [--gender female|male]
        print a one-time link that registers the Telegram account that opens it (72 hours; the bot's
        username comes from --bot-username or PENAH_BOT_USERNAME; languages default to the team's)
  penah officers list
  penah officers disable ID      take every right from an officer at once
  penah officers enable ID
  penah officers add --team T --role R --telegram-id N [--languages …] [--gender …]
        register an officer by Telegram user id without an invite: for set-up scripts and tests
Every command takes --data DIR (env PENAH_DATA) and --store URL (env PENAH_STORE).
`

// BotUsernameEnv names the environment variable with the bot's username, for invite links.
const BotUsernameEnv = "PENAH_BOT_USERNAME"

// botUsernameRe is a Telegram bot username: 5 to 32 letters, digits and _, ending in "bot".
var botUsernameRe = regexp.MustCompile(`(?i)^[a-z][a-z0-9_]{1,28}bot$`)

// dirCore is the opened core with the directory on top of it.
type dirCore struct {
	*core
	dir *directory.Directory
}

// dirFlags adds the flags every teams and officers command takes.
func dirFlags(fl *flag.FlagSet) (data, store *string) {
	data = fl.String("data", "", "data directory (env PENAH_DATA, default ./penah-data)")
	store = fl.String("store", "", "storage engine: bolt:///path/penah.db or a redis:// address (env PENAH_STORE)")
	return data, store
}

func openDirectory(ctx context.Context, data, storeSpec string, getenv env, stderr io.Writer) (*dirCore, error) {
	if storeSpec == "" {
		storeSpec = getenv("PENAH_STORE")
	}
	c, err := openCoreWith(ctx, dataDir(getenv, data), storeSpec, getenv, false, stderr)
	if err != nil {
		return nil, err
	}
	return &dirCore{core: c, dir: directory.New(c.store, c.vault)}, nil
}

// parseNamed parses flags around one positional argument (a team name, an officer id), which may
// come before or after them.
func parseNamed(fl *flag.FlagSet, args []string) (string, bool) {
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if fl.Parse(args) != nil {
		return "", false
	}
	switch {
	case name == "" && fl.NArg() == 1:
		name = fl.Arg(0)
	case fl.NArg() != 0:
		return "", false
	}
	return name, name != ""
}

// flagError names the flag behind a directory validation error.
func flagError(err error) error {
	var ie *directory.InvalidError
	if !errors.As(err, &ie) {
		return err
	}
	switch ie.Field {
	case "name":
		return fmt.Errorf("team name %s", ie.Problem)
	case "id":
		return fmt.Errorf("officer id %s", ie.Problem)
	}
	return fmt.Errorf("--%s: %s", ie.Field, ie.Problem)
}

// set reports which flags were given.
func set(fl *flag.FlagSet) map[string]bool {
	given := map[string]bool{}
	fl.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}

// teamFlags are the flags that describe a team.
type teamFlags struct {
	languages, governorates, supervisors, backup, sla, hours *string
}

func addTeamFlags(fl *flag.FlagSet) teamFlags {
	return teamFlags{
		languages:    fl.String("languages", "", "languages the team's officers speak: ar, ckb, kmr, en, or all"),
		governorates: fl.String("governorates", "", "governorates the team serves (ids such as duhok, nineveh), or all"),
		supervisors:  fl.String("supervisors", "", "officer ids that get escalations"),
		backup:       fl.String("backup", "", "the team escalations go to next"),
		sla:          fl.String("sla", "", "claim deadline per priority, e.g. 1=15m,2=4h,3=24h (default)"),
		hours:        fl.String("hours", "", `working hours, e.g. "Sun-Thu 08:00-16:00 Asia/Baghdad" (default)`),
	}
}

// apply sets on t the fields whose flags were given.
func (f teamFlags) apply(t *directory.Team, given map[string]bool) error {
	if given["languages"] {
		t.Languages = directory.ParseLanguages(*f.languages)
	}
	if given["governorates"] {
		t.Governorates = directory.ParseGovernorates(*f.governorates)
	}
	if given["supervisors"] {
		t.Supervisors = nil
		for _, s := range strings.Split(*f.supervisors, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			id, ok := directory.ParseOfficerID(s)
			if !ok {
				return fmt.Errorf("--supervisors: %q is not an officer id (o-XXXXXXXX)", s)
			}
			t.Supervisors = append(t.Supervisors, id)
		}
	}
	if given["backup"] {
		t.Backup = strings.TrimSpace(*f.backup)
	}
	if given["sla"] {
		sla, err := directory.ParseSLA(*f.sla)
		if err != nil {
			return flagError(err)
		}
		for p, d := range sla { // priorities not given keep their deadline
			t.SLA[p] = d
		}
	}
	if given["hours"] {
		h, err := directory.ParseWorkingHours(*f.hours)
		if err != nil {
			return fmt.Errorf("--hours: %w", err)
		}
		t.Hours = h
	}
	return nil
}

func runTeams(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, teamsUsage)
		return errUsage
	}
	fl := flag.NewFlagSet("penah teams "+args[0], flag.ContinueOnError)
	fl.SetOutput(stderr)
	data, store := dirFlags(fl)
	switch args[0] {
	case "add", "edit":
		tf := addTeamFlags(fl)
		var sealedOnly *bool
		var identityOut, passFile *string
		if args[0] == "add" {
			sealedOnly = fl.Bool("sealed-only", false, "keep only the team key's public half on the server (see penah keys team)")
			identityOut = fl.String("identity-out", "", "with --sealed-only: where to write the team's passphrase-wrapped private key")
			passFile = fl.String("passphrase-file", "", "with --sealed-only: the passphrase for that file")
		}
		name, ok := parseNamed(fl, args[1:])
		if !ok {
			fmt.Fprint(stderr, teamsUsage)
			return errUsage
		}
		given := set(fl)
		if args[0] == "edit" {
			return teamsEdit(ctx, name, tf, given, *data, *store, getenv, stdout, stderr)
		}
		if *sealedOnly && (*identityOut == "" || *passFile == "") {
			return errors.New("--sealed-only needs --identity-out FILE and --passphrase-file F")
		}
		return teamsAdd(ctx, name, tf, given, *sealedOnly, *identityOut, *passFile, *data, *store, getenv, stdout, stderr)
	case "list":
		if fl.Parse(args[1:]) != nil || fl.NArg() != 0 {
			fmt.Fprint(stderr, teamsUsage)
			return errUsage
		}
		return teamsList(ctx, *data, *store, getenv, stdout, stderr)
	}
	fmt.Fprint(stderr, teamsUsage)
	return errUsage
}

func teamsAdd(ctx context.Context, name string, tf teamFlags, given map[string]bool, sealedOnly bool, identityOut, passFile, data, store string, getenv env, stdout, stderr io.Writer) error {
	for _, required := range []string{"languages", "governorates"} {
		if !given[required] {
			return fmt.Errorf("--%s is needed to add a team", required)
		}
	}
	t := directory.NewTeam(name)
	if err := tf.apply(t, given); err != nil {
		return err
	}
	if err := t.Validate(); err != nil { // before opening anything
		return flagError(err)
	}
	c, err := openDirectory(ctx, data, store, getenv, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.dir.Team(ctx, name); err == nil {
		return fmt.Errorf("team %s exists: change it with `penah teams edit %s`", name, name)
	} else if !errors.Is(err, intake.ErrNotFound) {
		return err
	}
	if err := c.dir.CheckTeam(ctx, t); err != nil {
		return flagError(err)
	}
	keyNote, err := teamKey(ctx, c.core, name, sealedOnly, identityOut, passFile, stderr)
	if err != nil {
		return err
	}
	if err := c.dir.PutTeam(ctx, t, directory.ActorCLI, time.Now()); err != nil {
		if errors.Is(err, intake.ErrConflict) {
			return fmt.Errorf("team %s was added meanwhile by someone else: see `penah teams list`", name)
		}
		return flagError(err)
	}
	fmt.Fprintf(stdout, "team %s added: %s\n", name, describeTeam(t))
	fmt.Fprintln(stdout, keyNote)
	return nil
}

// teamKey makes the team's key unless the vault has one, and says which it is.
func teamKey(ctx context.Context, c *core, name string, sealedOnly bool, identityOut, passFile string, stderr io.Writer) (string, error) {
	if k, ok := c.vault.Team(name); ok {
		if sealedOnly && !k.SealedOnly {
			return "", fmt.Errorf("--sealed-only: team %s already has a key held by the server; see `penah keys team`", name)
		}
		return fmt.Sprintf("team key %s exists (%s)", k.Current().ID(), keyMode(k)), nil
	}
	var pass []byte
	if sealedOnly {
		if _, err := os.Stat(identityOut); err == nil {
			return "", fmt.Errorf("--identity-out: %s already exists", identityOut)
		}
		var err error
		if pass, err = readPassphrase(passFile, nil, stderr, "", false); err != nil {
			return "", fmt.Errorf("--passphrase-file: %w", err)
		}
		if len(pass) < seal.MinPassphrase {
			return "", fmt.Errorf("--passphrase-file: %w", seal.ErrWeakPassphrase)
		}
	}
	id, err := c.vault.AddTeamKey(ctx, name, sealedOnly)
	if err != nil {
		return "", err
	}
	k, _ := c.vault.Team(name)
	if !sealedOnly {
		return fmt.Sprintf("team key %s made (held by the server, sealed under the master key)", k.Current().ID()), nil
	}
	wrapped, err := seal.WrapIdentity(id, pass, seal.DefaultArgon2)
	if err != nil {
		return "", err
	}
	if err := vault.WriteIdentityFile(identityOut, wrapped); err != nil {
		return "", fmt.Errorf("the team key was made but its file could not be written, so its cases could not be opened: %w; rotate it with `penah keys team %s --sealed-only`", err, name)
	}
	return fmt.Sprintf("team key %s made, sealed-only: the server keeps only the public key; the private key is in %s — give it to the team's officers", k.Current().ID(), identityOut), nil
}

func keyMode(k *vault.Team) string {
	if k.SealedOnly {
		return "sealed-only"
	}
	return "held by the server"
}

func teamsEdit(ctx context.Context, name string, tf teamFlags, given map[string]bool, data, store string, getenv env, stdout, stderr io.Writer) error {
	delete(given, "data")
	delete(given, "store")
	if len(given) == 0 {
		return errors.New("nothing to change: give the flags to change (see `penah teams`)")
	}
	c, err := openDirectory(ctx, data, store, getenv, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	t, err := c.dir.Team(ctx, name)
	if errors.Is(err, intake.ErrNotFound) {
		return fmt.Errorf("there is no team %q (add it with `penah teams add`)", name)
	}
	if err != nil {
		return err
	}
	before := describeTeam(t)
	if err := tf.apply(t, given); err != nil {
		return err
	}
	if describeTeam(t) == before {
		fmt.Fprintf(stdout, "team %s unchanged: %s\n", name, before)
		return nil
	}
	if err := c.dir.PutTeam(ctx, t, directory.ActorCLI, time.Now()); err != nil {
		if errors.Is(err, intake.ErrConflict) {
			return fmt.Errorf("team %s was changed meanwhile by someone else: run the command again", name)
		}
		return flagError(err)
	}
	fmt.Fprintf(stdout, "team %s changed: %s\n", name, describeTeam(t))
	return nil
}

// describeTeam is a team in one line.
func describeTeam(t *directory.Team) string {
	return fmt.Sprintf("languages %s; governorates %s; supervisors %s; backup %s; SLA %s; hours %s",
		langs(t.Languages), orNone(strings.Join(t.Governorates, ",")), orNone(strings.Join(t.Supervisors, ",")),
		orNone(t.Backup), directory.FormatSLA(fullSLA(t)), t.Hours)
}

// fullSLA is the deadline of every priority, the defaults included.
func fullSLA(t *directory.Team) map[int]time.Duration {
	out := map[int]time.Duration{}
	for p := 1; p <= directory.NumPriorities; p++ {
		out[p] = t.ClaimSLA(p)
	}
	return out
}

func langs(ls []locales.Lang) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = string(l)
	}
	return orNone(strings.Join(s, ","))
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func teamsList(ctx context.Context, data, store string, getenv env, stdout, stderr io.Writer) error {
	c, err := openDirectory(ctx, data, store, getenv, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	teams, err := c.dir.Teams(ctx)
	if err != nil {
		return err
	}
	officers, err := c.dir.Officers(ctx)
	if err != nil {
		return err
	}
	if len(teams) == 0 {
		fmt.Fprintln(stdout, "no teams yet: add one with `penah teams add`")
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TEAM\tLANGUAGES\tGOVERNORATES\tSUPERVISORS\tBACKUP\tSLA\tHOURS\tOFFICERS\tKEY")
	for _, t := range teams {
		active, onDuty := 0, 0
		for _, o := range officers {
			if o.Team == t.Name && o.Active() {
				active++
				if o.OnDuty {
					onDuty++
				}
			}
		}
		key := "none: run `penah keys team " + t.Name + "`"
		if k, ok := c.vault.Team(t.Name); ok {
			key = keyMode(k)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d (%d on duty)\t%s\n", t.Name, langs(t.Languages),
			orNone(strings.Join(t.Governorates, ",")), orNone(strings.Join(t.Supervisors, ",")), orNone(t.Backup),
			directory.FormatSLA(fullSLA(t)), t.Hours, active, onDuty, key)
	}
	return w.Flush()
}

// officers.

func runOfficers(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, officersUsage)
		return errUsage
	}
	fl := flag.NewFlagSet("penah officers "+args[0], flag.ContinueOnError)
	fl.SetOutput(stderr)
	data, store := dirFlags(fl)
	usage := func() error {
		fmt.Fprint(stderr, officersUsage)
		return errUsage
	}
	switch args[0] {
	case "invite", "add":
		team := fl.String("team", "", "the officer's team")
		role := fl.String("role", "", "officer, supervisor or admin")
		languages := fl.String("languages", "", "languages the officer speaks (default: the team's)")
		gender := fl.String("gender", "", "female or male, for people who ask for an officer of a gender (default: unsaid)")
		var botName *string
		var tgID *int64
		if args[0] == "invite" {
			botName = fl.String("bot-username", "", "the bot's Telegram username, for the link (env "+BotUsernameEnv+")")
		} else {
			tgID = fl.Int64("telegram-id", 0, "the officer's Telegram numeric user id")
		}
		if fl.Parse(args[1:]) != nil || fl.NArg() != 0 {
			return usage()
		}
		if *team == "" {
			return errors.New("--team is needed")
		}
		r, ok := directory.ParseRole(*role)
		if !ok {
			return fmt.Errorf("--role: %q: use officer, supervisor or admin", *role)
		}
		var ls []locales.Lang
		if *languages != "" {
			ls = directory.ParseLanguages(*languages)
		}
		if args[0] == "add" {
			if *tgID <= 0 {
				return errors.New("--telegram-id: give the officer's Telegram numeric user id (a positive number)")
			}
			return officersAdd(ctx, directory.Officer{TelegramID: *tgID, Team: *team, Role: r, Languages: ls, Gender: *gender}, *data, *store, getenv, stdout, stderr)
		}
		bot := strings.TrimPrefix(*botName, "@")
		if bot == "" {
			bot = strings.TrimPrefix(getenv(BotUsernameEnv), "@")
		}
		if !botUsernameRe.MatchString(bot) {
			if bot == "" {
				return fmt.Errorf("--bot-username: give the bot's Telegram username (or set %s)", BotUsernameEnv)
			}
			return fmt.Errorf("--bot-username: %q is not a bot's username (5 to 32 letters, digits and _, ending in \"bot\")", bot)
		}
		return officersInvite(ctx, directory.InviteSpec{Team: *team, Role: r, Languages: ls, Gender: *gender}, bot, *data, *store, getenv, stdout, stderr)
	case "list":
		if fl.Parse(args[1:]) != nil || fl.NArg() != 0 {
			return usage()
		}
		return officersList(ctx, *data, *store, getenv, stdout, stderr)
	case "disable", "enable":
		raw, ok := parseNamed(fl, args[1:])
		if !ok {
			return usage()
		}
		id, ok := directory.ParseOfficerID(raw)
		if !ok {
			return fmt.Errorf("officer id %q: want o- and 8 letters or digits, as `penah officers list` shows", raw)
		}
		return officersSetDisabled(ctx, id, args[0] == "disable", *data, *store, getenv, stdout, stderr)
	}
	return usage()
}

func officersInvite(ctx context.Context, spec directory.InviteSpec, bot, data, store string, getenv env, stdout, stderr io.Writer) error {
	c, err := openDirectory(ctx, data, store, getenv, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	now := time.Now()
	token, err := c.dir.Invite(ctx, spec, directory.ActorCLI, now)
	if err != nil {
		return flagError(err)
	}
	fmt.Fprintf(stdout, "https://t.me/%s?start=%s\n", bot, token)
	fmt.Fprintf(stdout, "one-time invite to team %s as %s, valid for %d hours, until %s: send it to them privately; the Telegram account that opens it becomes the officer\n",
		spec.Team, spec.Role, int(directory.InviteTTL.Hours()), now.Add(directory.InviteTTL).UTC().Format("2006-01-02 15:04 MST"))
	return nil
}

func officersAdd(ctx context.Context, o directory.Officer, data, store string, getenv env, stdout, stderr io.Writer) error {
	c, err := openDirectory(ctx, data, store, getenv, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	if len(o.Languages) == 0 {
		t, err := c.dir.Team(ctx, o.Team)
		if errors.Is(err, intake.ErrNotFound) {
			return fmt.Errorf("--team: there is no team %q (add it with `penah teams add`)", o.Team)
		}
		if err != nil {
			return err
		}
		o.Languages = t.Languages
	}
	added, err := c.dir.AddOfficer(ctx, o, directory.ActorCLI, time.Now())
	if errors.Is(err, directory.ErrAlreadyRegistered) {
		return fmt.Errorf("--telegram-id: %w", err)
	}
	if err != nil {
		return flagError(err)
	}
	fmt.Fprintf(stdout, "officer %s added to team %s as %s (off duty)\n", added.ID, added.Team, added.Role)
	return nil
}

func officersList(ctx context.Context, data, store string, getenv env, stdout, stderr io.Writer) error {
	c, err := openDirectory(ctx, data, store, getenv, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	officers, err := c.dir.Officers(ctx)
	if err != nil {
		return err
	}
	if len(officers) == 0 {
		fmt.Fprintln(stdout, "no officers yet: invite one with `penah officers invite`")
		return nil
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	// Never the Telegram id: a listing is easily copied around.
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tTEAM\tROLE\tLANGUAGES\tGENDER\tON DUTY\tDISABLED")
	for _, o := range officers {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.ID, o.Team, o.Role, langs(o.Languages), orNone(o.Gender), yes(o.OnDuty), yes(o.Disabled))
	}
	return w.Flush()
}

func officersSetDisabled(ctx context.Context, id string, disable bool, data, store string, getenv env, stdout, stderr io.Writer) error {
	c, err := openDirectory(ctx, data, store, getenv, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	before, err := c.dir.Officer(ctx, id)
	if errors.Is(err, intake.ErrNotFound) {
		return fmt.Errorf("there is no officer %s (see `penah officers list`)", id)
	}
	if err != nil {
		return err
	}
	var o *directory.Officer
	if disable {
		o, err = c.dir.Disable(ctx, id, directory.ActorCLI, time.Now())
	} else {
		o, err = c.dir.Enable(ctx, id, directory.ActorCLI, time.Now())
	}
	if err != nil {
		return err
	}
	switch {
	case before.Disabled == o.Disabled && disable:
		fmt.Fprintf(stdout, "officer %s was already disabled\n", id)
	case before.Disabled == o.Disabled:
		fmt.Fprintf(stdout, "officer %s is not disabled\n", id)
	case disable:
		fmt.Fprintf(stdout, "officer %s disabled: every right is gone at once\n", id)
	default:
		fmt.Fprintf(stdout, "officer %s enabled (off duty: they switch on with /duty)\n", id)
	}
	return nil
}

// dirRoster is the officer directory as the bot's desk sees it: bot.Roster over
// internal/directory. penah serve sets it as serveConfig.roster:
//
//	roster: newDirRoster(directory.New(c.store, c.vault), time.Now)
type dirRoster struct {
	dir *directory.Directory
	now func() time.Time // the time of audit entries (duty switches)
}

var _ bot.Roster = (*dirRoster)(nil)

func newDirRoster(dir *directory.Directory, now func() time.Time) *dirRoster {
	return &dirRoster{dir: dir, now: now}
}

func officerInfo(o *directory.Officer) *bot.OfficerInfo {
	return &bot.OfficerInfo{
		ID: o.ID, ChatID: o.TelegramID, Team: o.Team, Role: string(o.Role),
		Langs: slices.Clone(o.Languages), Gender: o.Gender, OnDuty: o.OnDuty, Active: o.Active(),
	}
}

// found turns the directory's not-found into the roster's nil.
func found[T any](v *T, err error) (*T, error) {
	if errors.Is(err, intake.ErrNotFound) {
		return nil, nil
	}
	return v, err
}

func (r *dirRoster) OfficerByTelegram(ctx context.Context, telegramID int64) (*bot.OfficerInfo, error) {
	o, err := found(r.dir.OfficerByTelegram(ctx, telegramID))
	if o == nil || err != nil {
		return nil, err
	}
	return officerInfo(o), nil
}

func (r *dirRoster) Officer(ctx context.Context, id string) (*bot.OfficerInfo, error) {
	o, err := found(r.dir.Officer(ctx, id))
	if o == nil || err != nil {
		return nil, err
	}
	return officerInfo(o), nil
}

func (r *dirRoster) TeamOfficers(ctx context.Context, team string) ([]*bot.OfficerInfo, error) {
	officers, err := r.dir.TeamOfficers(ctx, team)
	if err != nil {
		return nil, err
	}
	out := make([]*bot.OfficerInfo, len(officers))
	for i, o := range officers {
		out[i] = officerInfo(o)
	}
	return out, nil
}

func (r *dirRoster) Team(ctx context.Context, name string) (*bot.TeamInfo, error) {
	t, err := found(r.dir.Team(ctx, name))
	if t == nil || err != nil {
		return nil, err
	}
	return &bot.TeamInfo{
		Name: t.Name, Supervisors: slices.Clone(t.Supervisors), Backup: t.Backup,
		Within: t.Within, NextOpen: t.NextOpen,
	}, nil
}

// SetOnDuty switches an officer's own duty: the officer is the audit's actor.
func (r *dirRoster) SetOnDuty(ctx context.Context, id string, on bool) error {
	_, err := r.dir.SetOnDuty(ctx, id, on, id, r.now())
	return err
}

func (r *dirRoster) IsInvite(s string) bool { return directory.IsInviteToken(s) }

// Redeem answers an account that is an officer's already (a disabled officer trying a new
// invite) as it answers a bad invite: the invite stays usable, and nothing is revealed.
func (r *dirRoster) Redeem(ctx context.Context, token string, telegramID int64, now time.Time) (*bot.OfficerInfo, error) {
	o, err := r.dir.Redeem(ctx, token, telegramID, now)
	if errors.Is(err, directory.ErrInvalidInvite) || errors.Is(err, directory.ErrAlreadyRegistered) {
		return nil, bot.ErrInvalidInvite
	}
	if err != nil {
		return nil, err
	}
	return officerInfo(o), nil
}
