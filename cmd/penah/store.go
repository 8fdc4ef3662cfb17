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
  penah store migrate --from URL --to URL [--data DIR]   copy everything (run with the bot stopped)
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

// openStoreFromFlags parses --data and --store and opens that store.
func openStoreFromFlags(ctx context.Context, name string, args []string, getenv env, stderr io.Writer) (intake.Store, error) {
	fl, data, spec := storeFlags(name, stderr)
	if fl.Parse(args) != nil || fl.NArg() != 0 {
		return nil, errUsage
	}
	return openStore(ctx, storeSpec(getenv, *spec), dataDir(getenv, *data))
}

func storeSpec(getenv env, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return getenv("PENAH_STORE")
}

func runStore(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "migrate" {
		return storeMigrate(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, storeUsage)
		return errUsage
	}
	st, err := openStoreFromFlags(ctx, "penah store check", args[1:], getenv, stderr)
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
	st, err := openStoreFromFlags(ctx, "penah audit verify", args[1:], getenv, stderr)
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

// MigrateBatch is how many records one Restore call writes.
const MigrateBatch = 500

// storeMigrate copies every record from one engine to another, then checks that the target holds
// the same number of records of each kind and an intact audit chain. Restore replaces records with
// the same identity, so running it again is harmless.
func storeMigrate(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("penah store migrate", flag.ContinueOnError)
	fl.SetOutput(stderr)
	data := fl.String("data", "", "data directory (env PENAH_DATA, default ./penah-data), for a bolt store given as \"\"")
	from := fl.String("from", "", "source store: bolt:///path/penah.db or a redis:// address")
	to := fl.String("to", "", "target store")
	if fl.Parse(args) != nil || fl.NArg() != 0 || *from == "" || *to == "" || *from == *to {
		fmt.Fprint(stderr, storeUsage)
		return errUsage
	}
	dir := dataDir(getenv, *data)
	src, err := openStore(ctx, *from, dir)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	dst, err := openStore(ctx, *to, dir)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer dst.Close()
	sd, ok1 := src.(intake.Dumper)
	dd, ok2 := dst.(intake.Dumper)
	if !ok1 || !ok2 {
		return fmt.Errorf("these engines cannot be migrated")
	}
	if n, err := intake.VerifyAudit(ctx, src); err != nil {
		return fmt.Errorf("source audit chain: %w (after %d good entries): not migrating", err, n)
	}
	copied := map[intake.RecordKind]int{}
	var batch []intake.Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := dd.Restore(ctx, batch)
		batch = batch[:0]
		return err
	}
	err = sd.Dump(ctx, func(r intake.Record) error {
		copied[r.Kind]++
		batch = append(batch, r)
		if len(batch) == MigrateBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("copying: %w (safe to run again)", err)
	}
	there := map[intake.RecordKind]int{}
	if err := dd.Dump(ctx, func(r intake.Record) error { there[r.Kind]++; return nil }); err != nil {
		return fmt.Errorf("counting the target: %w", err)
	}
	mismatch := false
	for _, k := range intake.RecordKinds {
		fmt.Fprintf(stdout, "%-8s copied %d, target holds %d\n", k, copied[k], there[k])
		mismatch = mismatch || copied[k] != there[k]
	}
	if mismatch {
		fmt.Fprintln(stdout, "the target holds other records than the source: was it empty, and is the bot stopped?")
		return errReported
	}
	n, err := intake.VerifyAudit(ctx, dst)
	if err != nil {
		return fmt.Errorf("target audit chain: %w (after %d good entries)", err, n)
	}
	fmt.Fprintf(stdout, "migrated; audit chain intact on the target (%d entries)\n", n)
	return nil
}
