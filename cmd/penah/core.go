package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/flows/library"
	"github.com/penahbot/penah/internal/directory"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/routing"
	"github.com/penahbot/penah/internal/store/boltstore"
	"github.com/penahbot/penah/internal/store/redisstore"
	"github.com/penahbot/penah/internal/vault"
	"github.com/penahbot/penah/locales"
)

// Files in the data directory.
const (
	dbFile         = "penah.db"
	escrowFile     = "escrow-recovery.penahkey"
	devPassphrase  = "penah-development-only" // wraps the development escrow key; never for real cases
	defaultDataDir = "penah-data"
)

// core is the opened storage and keys every command that touches cases needs.
type core struct {
	data  string
	store intake.Store
	vault *vault.Vault
}

func (c *core) Close() error { return c.store.Close() }

func dataDir(getenv env, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if d := getenv("PENAH_DATA"); d != "" {
		return d
	}
	return defaultDataDir
}

func masterKeyPath(data string) string { return filepath.Join(data, vault.MasterKeyFile) }

// openCore opens the store and the vault. With dev set and no master key anywhere, it creates a
// development key set in the data directory and says so in one line on stderr: `penah chat`
// stays zero set-up, and nothing is ever written in the clear.
func openCore(ctx context.Context, data string, getenv env, dev bool, stderr io.Writer) (*core, error) {
	return openCoreWith(ctx, data, getenv("PENAH_STORE"), getenv, dev, stderr)
}

// openStore opens the storage engine a --store value names: bolt:///path/penah.db (the default,
// DATA/penah.db), or a Redis address: redis://, rediss://, redis-sentinel://, or a comma-separated
// list of cluster nodes.
func openStore(ctx context.Context, spec, data string) (intake.Store, error) {
	switch {
	case spec == "":
		return boltstore.Open(filepath.Join(data, dbFile))
	case strings.HasPrefix(spec, "bolt://"):
		return boltstore.Open(strings.TrimPrefix(spec, "bolt://"))
	case strings.HasPrefix(spec, "redis://"), strings.HasPrefix(spec, "rediss://"),
		strings.HasPrefix(spec, "redis-sentinel://"), strings.Contains(spec, ","):
		return redisstore.Open(ctx, spec)
	}
	return nil, fmt.Errorf("unknown --store %q: use bolt:///path/penah.db or a redis:// address", spec)
}

func openCoreWith(ctx context.Context, data, storeSpec string, getenv env, dev bool, stderr io.Writer) (*core, error) {
	keys, _, err := vault.LoadMasterKeys(getenv, masterKeyPath(data))
	created := false
	if errors.Is(err, vault.ErrNoMasterKey) && dev {
		m, err := seal.NewMasterKey()
		if err != nil {
			return nil, err
		}
		if err := vault.WriteMasterKeys(masterKeyPath(data), m); err != nil {
			return nil, err
		}
		keys, created = []*seal.MasterKey{m}, true
	} else if err != nil {
		return nil, err
	}
	kr, err := seal.NewKeyring(keys...)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, storeSpec, data)
	if err != nil {
		return nil, err
	}
	v, err := vault.Open(ctx, kr, store, time.Now)
	if err != nil {
		store.Close()
		return nil, err
	}
	c := &core{data: data, store: store, vault: v}
	_, hasTeam := v.Team(vault.DefaultTeam)
	// A development key set is also completed when an earlier start was killed half way (master
	// key written, escrow or team key not yet): otherwise every submission would fail.
	if created || (dev && (v.Escrow() == nil || !hasTeam)) {
		if err := initKeys(ctx, c, []byte(devPassphrase), filepath.Join(data, escrowFile), seal.DefaultArgon2); err != nil {
			store.Close()
			return nil, err
		}
		fmt.Fprintf(stderr, "penah: created development keys in %s (not for real cases; see `penah keys init`)\n", data)
	}
	return c, nil
}

// initKeys creates the escrow key pair (its private half written passphrase-wrapped to
// escrowPath, for the admin to move offline) and the default team's key. Each step is skipped
// when already done, so a run interrupted half way can be completed by running it again.
func initKeys(ctx context.Context, c *core, passphrase []byte, escrowPath string, params seal.Argon2Params) error {
	if c.vault.Escrow() == nil {
		if err := initEscrow(ctx, c, passphrase, escrowPath, params); err != nil {
			return err
		}
	}
	if _, ok := c.vault.Team(vault.DefaultTeam); !ok {
		if _, err := c.vault.AddTeamKey(ctx, vault.DefaultTeam, false); err != nil {
			return err
		}
	}
	return nil
}

// initEscrow creates the escrow key pair and stores its public half.
func initEscrow(ctx context.Context, c *core, passphrase []byte, escrowPath string, params seal.Argon2Params) error {
	escrow, err := seal.GenerateIdentity()
	if err != nil {
		return err
	}
	wrapped, err := seal.WrapIdentity(escrow, passphrase, params)
	if err != nil {
		return err
	}
	if err := vault.WriteIdentityFile(escrowPath, wrapped); err != nil {
		return err
	}
	return c.vault.SetEscrow(ctx, escrow.Recipient())
}

// MaxPassphraseBytes bounds a passphrase read from a file or a terminal.
const MaxPassphraseBytes = 1024

// readPassphrase reads a passphrase from file (first line), or from the terminal without echo;
// confirm asks twice. Scripts must give a file: a passphrase is never read from a pipe.
func readPassphrase(file string, stdin io.Reader, stderr io.Writer, prompt string, confirm bool) ([]byte, error) {
	if file != "" {
		data, err := readLimited(file, MaxPassphraseBytes)
		if err != nil {
			return nil, err
		}
		line, _, _ := bytes.Cut(data, []byte("\n"))
		return bytes.TrimRight(line, "\r"), nil
	}
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, errors.New("no terminal to ask for a passphrase: give --passphrase-file")
	}
	fmt.Fprint(stderr, prompt+": ")
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return nil, err
	}
	if confirm {
		fmt.Fprint(stderr, "again: ")
		q, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(p, q) {
			return nil, errors.New("the passphrases differ")
		}
	}
	return p, nil
}

// readIdentity opens a passphrase-wrapped identity file (an officer's, a sealed-only team's or
// the escrow key).
func readIdentity(path, passFile string, stdin io.Reader, stderr io.Writer) (*seal.Identity, error) {
	data, err := readLimited(path, seal.MaxKeyFileBytes)
	if err != nil {
		return nil, err
	}
	w, err := seal.ParseWrappedIdentity(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pass, err := readPassphrase(passFile, stdin, stderr, "passphrase for "+filepath.Base(path), false)
	if err != nil {
		return nil, err
	}
	id, err := w.Open(pass)
	if err != nil {
		return nil, fmt.Errorf("%s: wrong passphrase or damaged file", path)
	}
	return id, nil
}

// DefaultSLA is the claim SLA per priority of a team that sets none (DESIGN.md §5: P1 within
// 15 minutes).
var DefaultSLA = map[int]time.Duration{1: 15 * time.Minute, 2: 4 * time.Hour, 3: 24 * time.Hour}

// loadRouting reads the routing rules (file, or the shipped ones when file is "") and validates
// them against the built-in flows and the teams that have keys, so no rule can send a case to a
// team nobody can read.
func loadRouting(file string, v *vault.Vault) (*routing.Rules, error) {
	data, name := routing.DefaultYAML(), routing.DefaultFile
	if file != "" {
		var err error
		if data, err = readLimited(file, routing.MaxFileBytes); err != nil {
			return nil, err
		}
		name = file
	}
	fs, err := library.Load()
	if err != nil {
		return nil, err
	}
	var teams []string
	for _, t := range v.Teams() {
		teams = append(teams, t.Name)
	}
	return routing.Load(data, name, routing.NewVocabulary(fs), routing.WithTeams(teams))
}

// newRouter routes cases by the rules; sla gives a team's claim SLA for a priority. A team
// without a key (removed since the rules were checked) falls back to the default team, loudly:
// a case must never be lost to a routing mistake.
func newRouter(rules *routing.Rules, v *vault.Vault, sla func(team string, priority int) time.Duration, log *slog.Logger) intake.Router {
	return func(c *intake.Case) (intake.Route, error) {
		d := rules.Route(c.Routing, c.Lang)
		team := d.Team
		if _, ok := v.Team(team); !ok {
			log.Error("routed to a team without a key; using the default team", "alert", true, "team", team, "rule", d.TeamRule)
			team = vault.DefaultTeam
		}
		return intake.Route{Team: team, Priority: d.Priority, SLA: sla(team, d.Priority)}, nil
	}
}

// teamSLA gives a team's claim SLA from the directory, or DefaultSLA for a team it does not
// hold (the default team before `penah teams add default`).
func teamSLA(dir *directory.Directory, log *slog.Logger) func(team string, priority int) time.Duration {
	return func(team string, priority int) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t, err := dir.Team(ctx, team)
		if err != nil || t == nil {
			if err != nil && !errors.Is(err, intake.ErrNotFound) {
				log.Warn("reading a team's SLA failed; using the default", "team", team, "err", err)
			}
			return DefaultSLA[priority]
		}
		return t.ClaimSLA(priority)
	}
}

// flowsCore is the opened core with the conversation engine and the service on top of it.
type flowsCore struct {
	*core
	svc *intake.Service
	lib *engine.Set
	cat *locales.Catalog
}

// openService opens the core and builds the turn service over the built-in flows.
func openService(ctx context.Context, data string, getenv env, dev bool, stderr io.Writer) (*flowsCore, error) {
	return openServiceWith(ctx, data, getenv("PENAH_STORE"), getenv, dev, stderr, newLogger(stderr), serviceOptions{})
}

// serviceOptions adjust the service: the clock and the router (zero: time.Now and route).
type serviceOptions struct {
	now   func() time.Time
	route intake.Router
	// routingFile names the routing rules (""; PENAH_ROUTING, else the shipped rules).
	routingFile string
}

// openServiceWith is openService with the store named and the logger given.
func openServiceWith(ctx context.Context, data, storeSpec string, getenv env, dev bool, stderr io.Writer, log *slog.Logger, o serviceOptions) (*flowsCore, error) {
	if o.now == nil {
		o.now = time.Now
	}

	eng, set, cat, err := newEngine()
	if err != nil {
		return nil, err
	}
	c, err := openCoreWith(ctx, data, storeSpec, getenv, dev, stderr)
	if err != nil {
		return nil, err
	}
	if o.route == nil {
		file := o.routingFile
		if file == "" {
			file = getenv("PENAH_ROUTING")
		}
		rules, err := loadRouting(file, c.vault)
		if err != nil {
			c.Close()
			return nil, err
		}
		o.route = newRouter(rules, c.vault, teamSLA(directory.New(c.store, c.vault), log), log)
	}
	svc := intake.NewService(eng, c.store, c.vault, o.route, cat, o.now, log)
	return &flowsCore{core: c, svc: svc, lib: set, cat: cat}, nil
}

// extraIdentity opens the --identity key file when one is given.
func extraIdentity(path, passFile string, stdin io.Reader, stderr io.Writer) ([]*seal.Identity, error) {
	if path == "" {
		return nil, nil
	}
	id, err := readIdentity(path, passFile, stdin, stderr)
	if err != nil {
		return nil, err
	}
	return []*seal.Identity{id}, nil
}
