package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// errUsage marks a command line that could not be understood (exit code 2).
var errUsage = errors.New("usage")

// errReported marks a failure whose details the command already printed (exit code 1).
var errReported = errors.New("failed")

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

const usage = `Penah — a protection-referral bot.

Usage:
  penah chat [--data DIR] [--flow ID] [--lang-hint CODE] [--resume] [--bidi auto|visual|logical]
        talk to the flows in the terminal, exactly as on Telegram; a submitted case is shown as an
        officer would see it
  penah serve --telegram-token T [--telegram-api URL] [--store URL] [--webhook URL --webhook-secret S
        --listen ADDR] [--dev] [--auto-clear 30m]
        run the bot on Telegram: long polling, or a webhook when --webhook is given
  penah flows check [FILE...]   check flows (default: the built-in ones); non-zero exit on any error
  penah flows graph FILE|ID     print a Mermaid diagram of a flow
  penah flows test [DIR]        replay the golden transcripts (default: flows/testdata/transcripts)
  penah teams add|edit|list     protection teams: languages, governorates, supervisors, backup, SLA, hours
  penah officers invite|list|disable|enable|add   officers: one-time invite links, duty, access
  penah stats [--since DATE] [--until DATE] [--format text|csv]
        counts by topic, governorate, priority, status, language; cells under 11 suppressed
  penah routing check [FILE]    check routing rules (default: the shipped ones)
  penah routing explain [--rules FILE] --field topic=forced_work --field governorate=duhok [--lang kmr]
        show the team and priority a case would get, and which rule decided each
  penah keys init|rotate|rewrap|team|list   manage the master key, escrow and team keys
  penah cases list|open REF [--identity FILE]  list cases; open one as an officer would see it
  penah store check              storage connectivity, settings and counts
  penah audit verify             walk the audit hash chain
  penah bench store [--store URL]   storage load driver: ops/s and latency percentiles

Environment: PENAH_DATA (data directory, default ./penah-data), PENAH_STORE (storage engine:
bolt:///path/penah.db, the default DATA/penah.db, or a redis:// address), PENAH_MASTER_KEY (master
keys; otherwise DATA/master.key), PENAH_TELEGRAM_TOKEN, PENAH_TELEGRAM_API, PENAH_WEBHOOK_URL,
PENAH_WEBHOOK_SECRET, PENAH_LISTEN, PENAH_AUTO_CLEAR, PENAH_LOG_LEVEL (serve).
`

// env reads configuration; tests pass a map instead of os.Getenv.
type env func(string) string

// run is the whole program behind main, callable from tests.
func run(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "chat":
		return runChat(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "flows":
		return runFlows(ctx, args[1:], stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "cases":
		return runCases(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "store":
		return runStore(ctx, args[1:], getenv, stdout, stderr)
	case "audit":
		return runAudit(ctx, args[1:], getenv, stdout, stderr)
	case "teams":
		return runTeams(ctx, args[1:], getenv, stdout, stderr)
	case "officers":
		return runOfficers(ctx, args[1:], getenv, stdout, stderr)
	case "stats":
		return runStats(ctx, args[1:], getenv, stdout, stderr)
	case "routing":
		return runRouting(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "penah: unknown command %q\n\n%s", args[0], usage)
	return errUsage
}

// newLogger logs to w as text. Only ids, blind indexes and error classes are ever logged.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// isTerminal reports whether f is an interactive terminal.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
