package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/penahbot/penah/crypto/seal"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/vault"
	"github.com/penahbot/penah/locales"
)

const keysUsage = `usage:
  penah keys init   [--data DIR] [--escrow-out FILE] [--passphrase-file F]
  penah keys rotate [--data DIR]
  penah keys rewrap [--data DIR] [--identity FILE --passphrase-file F]
  penah keys team TEAM [--data DIR] [--sealed-only --identity-out FILE --passphrase-file F]
  penah keys list   [--data DIR]
`

func runKeys(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errUsage
	}
	fl := flag.NewFlagSet("penah keys "+args[0], flag.ContinueOnError)
	fl.SetOutput(stderr)
	data := fl.String("data", "", "data directory (env PENAH_DATA, default ./penah-data)")
	passFile := fl.String("passphrase-file", "", "read the passphrase from this file instead of the terminal")
	switch args[0] {
	case "init":
		escrowOut := fl.String("escrow-out", "", "where to write the escrow recovery file (default DATA/"+escrowFile+")")
		if fl.Parse(args[1:]) != nil || fl.NArg() != 0 {
			return errUsage
		}
		return keysInit(ctx, dataDir(getenv, *data), *escrowOut, *passFile, getenv, stdin, stdout, stderr)
	case "rotate":
		if fl.Parse(args[1:]) != nil || fl.NArg() != 0 {
			return errUsage
		}
		return keysRotate(ctx, dataDir(getenv, *data), getenv, stdout, stderr)
	case "rewrap":
		identity := fl.String("identity", "", "a key file that opens cases the server cannot (sealed-only teams, escrow)")
		if fl.Parse(args[1:]) != nil || fl.NArg() != 0 {
			return errUsage
		}
		return keysRewrap(ctx, dataDir(getenv, *data), *identity, *passFile, getenv, stdin, stdout, stderr)
	case "team":
		sealedOnly := fl.Bool("sealed-only", false, "keep only the public key on the server")
		identityOut := fl.String("identity-out", "", "with --sealed-only: where to write the team's passphrase-wrapped private key")
		if len(args) < 2 {
			fmt.Fprint(stderr, keysUsage)
			return errUsage
		}
		if fl.Parse(args[2:]) != nil || fl.NArg() != 0 || (*sealedOnly && *identityOut == "") {
			fmt.Fprint(stderr, keysUsage)
			return errUsage
		}
		return keysTeam(ctx, dataDir(getenv, *data), args[1], *sealedOnly, *identityOut, *passFile, getenv, stdin, stdout, stderr)
	case "list":
		if fl.Parse(args[1:]) != nil || fl.NArg() != 0 {
			return errUsage
		}
		return keysList(ctx, dataDir(getenv, *data), getenv, stdout, stderr)
	}
	fmt.Fprint(stderr, keysUsage)
	return errUsage
}

func keysInit(ctx context.Context, data, escrowOut, passFile string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	path := masterKeyPath(data)
	if getenv(vault.MasterKeyEnv) == "" {
		if _, err := os.Stat(path); err == nil {
			// An earlier run may have stopped after writing the master key: it is kept, and the
			// rest is completed below unless it is all there.
			fmt.Fprintf(stdout, "master key: %s (exists)\n", path)
		} else {
			m, err := seal.NewMasterKey()
			if err != nil {
				return err
			}
			if err := vault.WriteMasterKeys(path, m); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "master key: %s (mode 0600; back it up apart from the database)\n", path)
		}
	} else {
		fmt.Fprintf(stdout, "master key: from %s\n", vault.MasterKeyEnv)
	}
	c, err := openCore(ctx, data, getenv, false, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, ok := c.vault.Team(vault.DefaultTeam); c.vault.Escrow() != nil && ok {
		return errors.New("keys are already initialised (use `penah keys rotate`)")
	}
	if escrowOut == "" {
		escrowOut = filepath.Join(data, escrowFile)
	}
	var pass []byte
	if c.vault.Escrow() == nil {
		if pass, err = readPassphrase(passFile, stdin, stderr, "escrow passphrase (at least 12 characters)", true); err != nil {
			return err
		}
	}
	if err := initKeys(ctx, c, pass, escrowOut, seal.DefaultArgon2); err != nil {
		return err
	}
	if pass != nil {
		fmt.Fprintf(stdout, "escrow recovery file: %s\n", escrowOut)
		fmt.Fprintln(stdout, "Move the escrow recovery file offline now (and keep its passphrase apart from it), then delete it here.")
	}
	fmt.Fprintf(stdout, "team %s: key %s (held by the server, sealed under the master key)\n", vault.DefaultTeam, mustTeam(c.vault, vault.DefaultTeam).Current().ID())
	return nil
}

func mustTeam(v *vault.Vault, name string) *vault.Team {
	t, _ := v.Team(name)
	return t
}

func keysRotate(ctx context.Context, data string, getenv env, stdout, stderr io.Writer) error {
	if getenv(vault.MasterKeyEnv) != "" {
		return fmt.Errorf("the master keys come from %s: add a new key there yourself (`penah keys rotate` edits only the key file)", vault.MasterKeyEnv)
	}
	path := masterKeyPath(data)
	keys, _, err := vault.LoadMasterKeys(getenv, path)
	if err != nil {
		return err
	}
	m, err := seal.NewMasterKey()
	if err != nil {
		return err
	}
	if err := vault.WriteMasterKeys(path, append(keys, m)...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "master key %s added to %s; the %d older key(s) stay for opening\n", m.ID(), path, len(keys))
	c, err := openCore(ctx, data, getenv, false, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, t := range c.vault.Teams() {
		if t.SealedOnly {
			fmt.Fprintf(stdout, "team %s is sealed-only: rotate it with `penah keys team %s --sealed-only`\n", t.Name, t.Name)
			continue
		}
		if _, err := c.vault.AddTeamKey(ctx, t.Name, false); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "team %s: new key %s; old keys kept for opening\n", t.Name, mustTeam(c.vault, t.Name).Current().ID())
	}
	fmt.Fprintln(stdout, "Run `penah keys rewrap` to move existing cases to the new keys.")
	return nil
}

func keysRewrap(ctx context.Context, data, identity, passFile string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	c, err := openCore(ctx, data, getenv, false, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	extra, err := extraIdentity(identity, passFile, stdin, stderr)
	if err != nil {
		return err
	}
	refs, err := c.store.Cases(ctx)
	if err != nil {
		return err
	}
	moved, skipped := 0, 0
	for _, ref := range refs {
		audit := &intake.AuditEntry{Time: time.Now(), Actor: "admin", Action: "rewrap", Ref: ref}
		err := c.store.UpdateCase(ctx, ref, 0, func(cs *intake.Case) error {
			if cs.Envelope == nil {
				return errSkip
			}
			env, err := c.vault.Rewrap(string(cs.Ref), cs.Team, cs.Envelope, extra...)
			if err != nil {
				return err
			}
			cs.Envelope = env
			return nil
		}, audit)
		switch {
		case err == nil:
			moved++
		case errors.Is(err, errSkip):
		case errors.Is(err, vault.ErrNoKey):
			skipped++
			fmt.Fprintf(stderr, "case %s: no key here opens it (sealed-only team? give --identity)\n", ref)
		default:
			return fmt.Errorf("case %s: %w", ref, err)
		}
	}
	fmt.Fprintf(stdout, "rewrapped %d case(s), %d could not be opened here\n", moved, skipped)
	if skipped > 0 {
		return errReported
	}
	return nil
}

var errSkip = errors.New("skip")

func keysTeam(ctx context.Context, data, team string, sealedOnly bool, identityOut, passFile string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	c, err := openCore(ctx, data, getenv, false, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	if sealedOnly {
		if _, err := os.Stat(identityOut); err == nil {
			return fmt.Errorf("%s already exists", identityOut)
		}
	}
	var pass []byte
	if sealedOnly {
		if pass, err = readPassphrase(passFile, stdin, stderr, "passphrase for the team key file", true); err != nil {
			return err
		}
		if len(pass) < seal.MinPassphrase {
			return seal.ErrWeakPassphrase
		}
	}
	id, err := c.vault.AddTeamKey(ctx, team, sealedOnly)
	if err != nil {
		return err
	}
	t := mustTeam(c.vault, team)
	if !sealedOnly {
		fmt.Fprintf(stdout, "team %s: key %s (held by the server, sealed under the master key)\n", team, t.Current().ID())
		return nil
	}
	wrapped, err := seal.WrapIdentity(id, pass, seal.DefaultArgon2)
	if err != nil {
		return err
	}
	if err := vault.WriteIdentityFile(identityOut, wrapped); err != nil {
		return fmt.Errorf("the team key was created but its file could not be written, so new cases could not be opened: %w; run the command again", err)
	}
	fmt.Fprintf(stdout, "team %s: key %s is sealed-only: the server keeps only the public key\n", team, t.Current().ID())
	fmt.Fprintf(stdout, "team key file: %s — give it to the team's officers; cases open with `penah cases open REF --identity %s`\n", identityOut, identityOut)
	return nil
}

func keysList(ctx context.Context, data string, getenv env, stdout, stderr io.Writer) error {
	c, err := openCore(ctx, data, getenv, false, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, m := range c.vault.Keyring().Masters() {
		fmt.Fprintf(stdout, "master %s\n", m.ID())
	}
	if e := c.vault.Escrow(); e != nil {
		fmt.Fprintf(stdout, "escrow %s\n", e.ID())
	}
	for _, t := range c.vault.Teams() {
		mode := "server-held"
		if t.SealedOnly {
			mode = "sealed-only"
		}
		fmt.Fprintf(stdout, "team %s %s current %s\n", t.Name, mode, t.Current().ID())
	}
	return nil
}

// cases commands.

const casesUsage = `usage:
  penah cases list [--data DIR]
  penah cases open REF [--data DIR] [--identity FILE --passphrase-file F] [--lang en]
  penah cases retention [--data DIR] [--days 90]   crypto-shred cases closed longer ago than that
`

func runCases(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, casesUsage)
		return errUsage
	}
	fl := flag.NewFlagSet("penah cases "+args[0], flag.ContinueOnError)
	fl.SetOutput(stderr)
	data := fl.String("data", "", "data directory (env PENAH_DATA, default ./penah-data)")
	switch args[0] {
	case "list":
		if fl.Parse(args[1:]) != nil || fl.NArg() != 0 {
			return errUsage
		}
		c, err := openCore(ctx, dataDir(getenv, *data), getenv, false, stderr)
		if err != nil {
			return err
		}
		defer c.Close()
		refs, err := c.store.Cases(ctx)
		if err != nil {
			return err
		}
		for _, ref := range refs {
			cs, err := c.store.Case(ctx, ref)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s  %-9s  %-10s  %s\n", cs.Ref, cs.Status, cs.Team, cs.Created.UTC().Format(time.RFC3339))
		}
		return nil
	case "retention":
		days := fl.Int("days", int(intake.DefaultRetention/(24*time.Hour)), "days a closed case stays readable")
		if fl.Parse(args[1:]) != nil || fl.NArg() != 0 || *days < 1 {
			fmt.Fprint(stderr, casesUsage)
			return errUsage
		}
		c, err := openService(ctx, dataDir(getenv, *data), getenv, false, stderr)
		if err != nil {
			return err
		}
		defer c.Close()
		n, err := c.svc.ApplyRetention(ctx, time.Now(), time.Duration(*days)*24*time.Hour)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "shredded %d case(s) closed more than %d days ago\n", n, *days)
		return nil
	case "open":
		identity := fl.String("identity", "", "passphrase-wrapped key file (an officer's, a sealed-only team's, the escrow key)")
		passFile := fl.String("passphrase-file", "", "read the passphrase from this file instead of the terminal")
		lang := fl.String("lang", "en", "language of the view")
		if len(args) < 2 || fl.Parse(args[2:]) != nil || fl.NArg() != 0 {
			fmt.Fprint(stderr, casesUsage)
			return errUsage
		}
		ref, ok := intake.ParseRef(args[1])
		if !ok {
			return fmt.Errorf("%q is not a case reference", args[1])
		}
		return casesOpen(ctx, dataDir(getenv, *data), ref, *identity, *passFile, *lang, getenv, stdin, stdout, stderr)
	}
	fmt.Fprint(stderr, casesUsage)
	return errUsage
}

func casesOpen(ctx context.Context, data string, ref intake.Ref, identity, passFile, lang string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	l, ok := locales.Parse(lang)
	if !ok {
		return fmt.Errorf("unknown --lang %q", lang)
	}
	c, err := openService(ctx, data, getenv, false, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	extra, err := extraIdentity(identity, passFile, stdin, stderr)
	if err != nil {
		return err
	}
	cs, body, err := c.svc.OpenCase(ctx, ref, extra...)
	switch {
	case errors.Is(err, intake.ErrNotFound):
		return fmt.Errorf("no case %s", ref)
	case errors.Is(err, vault.ErrNoKey):
		return fmt.Errorf("case %s: no key here opens it (sealed-only team: give --identity with the team's key file)", ref)
	case err != nil:
		return err
	}
	if cs.Envelope == nil {
		fmt.Fprintf(stdout, "case %s was shredded (%s, %s): its answers can no longer be opened by anyone\n\n", cs.Ref, cs.Status, cs.Shredded.UTC().Format(time.RFC3339))
	}
	fmt.Fprint(stdout, cs.OfficerView(c.lib, c.cat, l, body))
	return nil
}
