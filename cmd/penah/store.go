package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
	"github.com/penahbot/penah/internal/store/redisstore"
)

const storeUsage = `usage:
  penah store check  [--data DIR] [--store URL]   connectivity, settings, counts
  penah audit verify [--data DIR] [--store URL]   walk the audit hash chain
`

// storeFlags are the flags every storage command shares.
func storeFlags(name string, stderr io.Writer) (*flag.FlagSet, *string, *string) {
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.SetOutput(stderr)
	data := fl.String("data", "", "data directory (env PENAH_DATA, default ./penah-data)")
	store := fl.String("store", "", "storage engine: bolt:///path/penah.db (default DATA/penah.db) or a redis:// address (env PENAH_STORE)")
	return fl, data, store
}

func storeSpec(getenv env, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return getenv("PENAH_STORE")
}

func runStore(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, storeUsage)
		return errUsage
	}
	fl, data, spec := storeFlags("penah store check", stderr)
	if fl.Parse(args[1:]) != nil || fl.NArg() != 0 {
		return errUsage
	}
	st, err := openStore(ctx, storeSpec(getenv, *spec), dataDir(getenv, *data))
	if err != nil {
		return err
	}
	defer st.Close()
	switch e := st.(type) {
	case *redisstore.Store:
		r, err := e.Check(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "engine: redis (%s) %s, version %s, TLS %v\n", r.Mode, strings.Join(r.Addrs, ","), r.ServerVersion, r.TLS)
		fmt.Fprintf(stdout, "maxmemory-policy: %s, appendonly: %s, appendfsync: %s\n", r.MaxmemoryPolicy, r.AppendOnly, r.AppendFsync)
		for _, a := range r.Advice {
			fmt.Fprintf(stdout, "advice: %s\n", a)
		}
		fmt.Fprintf(stdout, "unclaimed: %d, pending chats: %d, outbox: %d, key records: %d\n", r.Counts.Unclaimed, r.Counts.PendingChats, r.Counts.Outbox, r.Counts.KeyRecords)
	case *boltstore.Store:
		fmt.Fprintf(stdout, "engine: bolt %s (one process; fsync on every commit)\n", e.Path())
	}
	refs, err := st.Cases(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "cases: %d\n", len(refs))
	n, err := intake.VerifyAudit(ctx, st)
	if err != nil {
		return fmt.Errorf("audit: %w (after %d good entries)", err, n)
	}
	fmt.Fprintf(stdout, "audit entries: %d, chain intact\n", n)
	return nil
}

func runAudit(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprint(stderr, storeUsage)
		return errUsage
	}
	fl, data, spec := storeFlags("penah audit verify", stderr)
	if fl.Parse(args[1:]) != nil || fl.NArg() != 0 {
		return errUsage
	}
	st, err := openStore(ctx, storeSpec(getenv, *spec), dataDir(getenv, *data))
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := intake.VerifyAudit(ctx, st)
	if err != nil {
		fmt.Fprintf(stdout, "audit chain BROKEN after %d good entries: %v\n", n, err)
		return errReported
	}
	fmt.Fprintf(stdout, "audit chain intact: %d entries\n", n)
	return nil
}
