package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/stats"
	"github.com/penahbot/penah/internal/store/boltstore"
	"github.com/penahbot/penah/locales"
)

func runStatsCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := runStats(context.Background(), args, func(string) string { return "" }, &out, &errb)
	return out.String(), errb.String(), err
}

// addCases opens the data directory's store and creates n cases created at created(i), each
// changed by f; the store is closed again, since `penah stats` opens it itself.
func addCases(t *testing.T, data string, n int, created func(i int) time.Time, f func(i int, c *intake.Case)) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(data, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for i := range n {
		ref, err := intake.NewRef()
		if err != nil {
			t.Fatal(err)
		}
		c := &intake.Case{
			Ref: ref, Code: "CODE-" + string(ref), Flow: "intake", Revision: 1, Lang: locales.KMR,
			Status: intake.StatusQueued, Created: created(i), Team: "default", Priority: 2,
			Routing: map[flows.FieldID][]string{"topic": {"forced_work"}, "governorate": {"duhok"}, "age_band": {"adult"}, "services": {"legal"}},
			Answers: []byte("sealed answers of " + string(ref)),
		}
		if f != nil {
			f(i, c)
		}
		if _, err := st.Commit(ctx, intake.Commit{Key: intake.SessionKey("chat-" + string(ref)), NewCase: c, Now: c.Created}); err != nil {
			t.Fatal(err)
		}
		if !c.Claimed.IsZero() {
			if _, err := st.Claim(ctx, ref, "officer-1", c.Claimed); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestStatsEndToEnd: a real conversation through `penah chat` (its free-text answers sealed),
// then 68 more cases, then `penah stats` in both formats. Nothing of a case body, verification
// code or reference may appear; small counts are hidden; the CSV parses.
func TestStatsEndToEnd(t *testing.T) {
	data := t.TempDir()
	const canary = "CANARY-5d1e safe after six"
	// Not in danger; legal help and a safe place; forced work; adult; Duhok; the rest skipped
	// but a phone and safe times, which are sealed.
	input := "1\n1\n1\n3\n3\n4\n10\n4\n2\n1\n5\n5\n2\n0750 123 4567\n" + canary + "\n8\n1\n"
	out, stderr, err := runCmd(t, input, "chat", "--data", data, "--lang-hint", "en")
	if err != nil || !strings.Contains(out, "case: ") {
		t.Fatalf("chat: %v\n%s\n%s", err, out, stderr)
	}
	chatRef := regexp.MustCompile(`case: (\S+)`).FindStringSubmatch(out)[1]
	code := regexp.MustCompile(`verification code: (\S+)`).FindStringSubmatch(out)[1]
	// The field names statistics read are the ones the shipped intake saves.
	st, err := boltstore.Open(filepath.Join(data, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	var recs []stats.Record
	if err := stats.Read(context.Background(), st, stats.Period{}, 0, func(r stats.Record) { recs = append(recs, r) }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if len(recs) != 1 || recs[0].Topic != "forced_work" || recs[0].Governorate != "duhok" || recs[0].AgeBand != "adult" ||
		!slices.Equal(recs[0].Services, []string{"legal", "shelter"}) || recs[0].Lang != locales.EN {
		t.Fatalf("the chat's case reads as %+v", recs)
	}

	// 20 in Duhok about forced work, claimed after i+1 minutes; 12 in Nineveh about forced
	// work, 12 about threats; 12 in Duhok about threats; 12 in Erbil about violence at home.
	addCases(t, data, 68, func(i int) time.Time { return time.Date(2026, 1, 5, 8, i, 0, 0, time.UTC) }, func(i int, c *intake.Case) {
		switch {
		case i < 20:
			c.Claimed = c.Created.Add(time.Duration(i+1) * time.Minute)
		case i < 32:
			c.Routing["governorate"] = []string{"nineveh"}
		case i < 44:
			c.Routing["topic"], c.Routing["governorate"] = []string{"threats"}, []string{"nineveh"}
		case i < 56:
			c.Routing["topic"] = []string{"threats"}
		default:
			c.Routing["topic"], c.Routing["governorate"] = []string{"violence_home"}, []string{"erbil"}
		}
	})

	text, stderr, err := runStatsCmd(t, "--data", data)
	if err != nil {
		t.Fatalf("stats: %v\n%s", err, stderr)
	}
	csvOut, _, err := runStatsCmd(t, "--data", data, "--format", "csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{text, csvOut} {
		for _, bad := range []string{"CANARY", "7501234567", code, chatRef, "CODE-", "sealed answers", "officer-1"} {
			if strings.Contains(out, bad) {
				t.Fatalf("stats output contains %q:\n%s", bad, out)
			}
		}
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^  total +69$`),            // the chat's case and the 68
		regexp.MustCompile(`(?m)^  forced_work +33$`),      // the topic table
		regexp.MustCompile(`(?m)^  nineveh +24$`),          // the governorate table
		regexp.MustCompile(`(?m)^  all +20 +10m +18m$`),    // time to claim
		regexp.MustCompile(`(?m)^  withdrawn +<11$`),       // none withdrawn: hidden like any small count
		regexp.MustCompile(`(?m)^  ar +<11$`),              // zero Arabic speakers: hidden
		regexp.MustCompile(`(?m)^  outside_iraq( +<11)+$`), // every known governorate is listed
	} {
		if !want.MatchString(text) {
			t.Errorf("text output lacks %s:\n%s", want, text)
		}
	}
	lines, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, csvOut)
	}
	found := 0
	for _, l := range lines[1:] {
		if len(l) != 4 {
			t.Fatalf("CSV line %q", l)
		}
		if l[0] == "time_to_claim" && l[1] == "all" && l[2] == "p90_minutes" && l[3] == "18" ||
			l[0] == "governorate_topic" && l[1] == "duhok" && l[2] == "forced_work" && l[3] == "21" {
			found++
		}
	}
	if found != 2 {
		t.Errorf("CSV lacks the p90 or the Duhok × forced work cell:\n%s", csvOut)
	}

	// /forget: the chat's case is withdrawn; it leaves every breakdown, and the total.
	if _, _, err := runCmd(t, "/forget\n1\n", "chat", "--data", data, "--resume"); err != nil {
		t.Fatal(err)
	}
	text, _, err = runStatsCmd(t, "--data", data)
	if err != nil || !regexp.MustCompile(`(?m)^  total +68$`).MatchString(text) || !regexp.MustCompile(`(?m)^  duhok +<11 +<11 +<11 +20 `).MatchString(text) {
		t.Fatalf("after /forget: %v\n%s", err, text)
	}
}

func TestStatsPeriod(t *testing.T) {
	data := t.TempDir()
	// 15 cases on 10 January, 12 on 10 February (one a minute from midnight).
	addCases(t, data, 27, func(i int) time.Time {
		if i < 15 {
			return time.Date(2026, 1, 10, 0, i, 0, 0, time.UTC)
		}
		return time.Date(2026, 2, 10, 0, i-15, 0, 0, time.UTC)
	}, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "27"},
		{[]string{"--since", "2026-02-01"}, "12"},
		{[]string{"--until", "2026-02-01"}, "15"},
		{[]string{"--since", "2026-01-01", "--until", "2026-03-01"}, "27"},
		{[]string{"--since", "2026-02-10"}, "12"},                // since is included
		{[]string{"--until", "2026-02-10T00:00:00Z"}, "15"},      // until is not
		{[]string{"--since", "2026-02-10T00:01:00Z"}, "11"},      // 11 left: shown
		{[]string{"--since", "2026-02-10T00:02:00Z"}, "<11"},     // 10 left: hidden
		{[]string{"--since", "2026-01-10T00:05:00+03:00"}, "27"}, // a zone is honoured
		{[]string{"--since", "2026-03-01"}, "<11"},               // nothing: hidden, not 0
		{[]string{"--since", "2026-01-10", "--until", "2026-01-11"}, "15"},
	} {
		args := append([]string{"--data", data, "--format", "csv"}, tc.args...)
		out, stderr, err := runStatsCmd(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, stderr)
		}
		want := "status,total,cases," + tc.want + "\n"
		if !strings.Contains(out, want) {
			t.Errorf("%v: want %q in\n%s", tc.args, want, out)
		}
	}
}

func TestStatsUsage(t *testing.T) {
	data := t.TempDir()
	addCases(t, data, 1, func(int) time.Time { return time.Now() }, nil)
	for _, args := range [][]string{
		{"--format", "json"},
		{"--since", "yesterday"},
		{"--until", "2026-13-01"},
		{"--since", "2026-02-01", "--until", "2026-01-01"},
		{"--since", "2026-02-01", "--until", "2026-02-01"},
		{"extra"},
		{"--nope"},
	} {
		_, _, err := runStatsCmd(t, append([]string{"--data", data}, args...)...)
		if exitCode(err) != 2 {
			t.Errorf("%v: want a usage error, got %v", args, err)
		}
	}
	// No database: an error, and no empty database created.
	empty := t.TempDir()
	_, _, err := runStatsCmd(t, "--data", empty)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("stats of an empty directory: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(empty, "*")); len(m) != 0 {
		t.Fatalf("stats created %v", m)
	}
	// PENAH_DATA is honoured.
	var out bytes.Buffer
	getenv := func(k string) string {
		if k == "PENAH_DATA" {
			return data
		}
		return ""
	}
	if err := runStats(context.Background(), nil, getenv, &out, &bytes.Buffer{}); err != nil || !strings.Contains(out.String(), "Penah statistics") {
		t.Fatalf("PENAH_DATA: %v\n%s", err, out.String())
	}
}
