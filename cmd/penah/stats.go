package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/penahbot/penah/flows/library"
	"github.com/penahbot/penah/internal/stats"
)

const statsUsage = `usage:
  penah stats [--data DIR] [--store URL] [--since DATE] [--until DATE] [--format text|csv]
        counts by status, priority, language, topic, governorate, age band and services,
        governorate × topic, and time to claim, for cases created from --since (included) to
        --until (not included); DATE is 2026-01-01 (UTC midnight) or RFC 3339. Counts below 11
        are shown as "<11"; withdrawn cases are counted by status only.
`

// runStats prints statistics of the cases. It opens the store only, without the master key:
// statistics read status, dates, priority, language and closed routing fields, never a sealed
// body, and without keys they could not.
func runStats(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("penah stats", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { fmt.Fprint(stderr, statsUsage) }
	data := fl.String("data", "", "data directory (env PENAH_DATA, default ./penah-data)")
	store := fl.String("store", "", "storage engine: bolt:///path/penah.db (default DATA/penah.db) or a redis:// address (env PENAH_STORE)")
	since := fl.String("since", "", "first day (or instant) of the period, included")
	until := fl.String("until", "", "end of the period, not included")
	format := fl.String("format", "text", "text or csv")
	if fl.Parse(args) != nil {
		return errUsage // fl.Usage has printed the usage
	}
	if fl.NArg() != 0 || (*format != "text" && *format != "csv") {
		fmt.Fprint(stderr, statsUsage)
		return errUsage
	}
	var p stats.Period
	var err error
	if p.Since, err = parseDay(*since); err != nil {
		fmt.Fprintf(stderr, "penah stats: --since: %v\n", err)
		return errUsage
	}
	if p.Until, err = parseDay(*until); err != nil {
		fmt.Fprintf(stderr, "penah stats: --until: %v\n", err)
		return errUsage
	}
	if !p.Since.IsZero() && !p.Until.IsZero() && !p.Since.Before(p.Until) {
		fmt.Fprintln(stderr, "penah stats: --until must be after --since")
		return errUsage
	}
	dir, spec := dataDir(getenv, *data), storeSpec(getenv, *store)
	if spec == "" {
		// Opening a bbolt file creates it: statistics of a directory that has none are an
		// error, not an empty report and a new database.
		if _, err := os.Stat(filepath.Join(dir, dbFile)); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no cases: %s does not exist", filepath.Join(dir, dbFile))
		}
	}
	st, err := openStore(ctx, spec, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	flowDefs, err := library.Load()
	if err != nil {
		return err
	}
	t := stats.NewTally()
	if err := stats.Read(ctx, st, p, 0, t.Add); err != nil {
		return err
	}
	r := t.Report(stats.DefaultCategories(flowDefs), p)
	if *format == "csv" {
		return r.WriteCSV(stdout)
	}
	return r.WriteText(stdout)
}

// parseDay reads a date (2026-01-01, midnight UTC) or an RFC 3339 instant; "" is the zero time.
func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (2026-01-01) nor an RFC 3339 time", s)
	}
	return t, nil
}
