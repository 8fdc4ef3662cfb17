package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/flows/library"
	"github.com/penahbot/penah/internal/routing"
	"github.com/penahbot/penah/locales"
)

const routingUsage = `Usage:
  penah routing check [FILE]
        check routing rules (default: the shipped rules) against the built-in flows; prints ok or
        every problem with file:line; non-zero exit on any error
  penah routing explain [--rules FILE] --field FIELD=VALUE[,VALUE…]… [--lang ar|ckb|kmr|en]
        route one made-up case and say which rule set its priority and its team, and why; e.g.
        penah routing explain --field topic=forced_work --field governorate=duhok --lang kmr
`

// runRouting runs `penah routing check|explain`. Rules are checked against the built-in flows,
// the flows whose answers they route. Teams are checked for their form only: routing does not
// yet know which teams exist. getenv is unused for now: no setting names a rules file yet.
func runRouting(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, routingUsage)
		return errUsage
	}
	switch args[0] {
	case "check":
		if len(args) > 2 {
			fmt.Fprint(stderr, routingUsage)
			return errUsage
		}
		file := ""
		if len(args) == 2 {
			file = args[1]
		}
		return routingCheck(file, stdout)
	case "explain":
		return routingExplain(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, routingUsage)
		return nil
	}
	fmt.Fprintf(stderr, "penah routing: unknown command %q\n\n%s", args[0], routingUsage)
	return errUsage
}

// readRules parses the named rules file, or the shipped rules when file is "".
func readRules(file string) (*routing.Rules, error) {
	if file == "" {
		return routing.Default(), nil
	}
	data, err := readLimited(file, routing.MaxFileBytes)
	if err != nil {
		return nil, err
	}
	return routing.Parse(data, file)
}

// routingVocabulary is what rules may test: the fields and values of the built-in flows.
func routingVocabulary() (*routing.Vocabulary, error) {
	fs, err := library.Load()
	if err != nil {
		return nil, err
	}
	return routing.NewVocabulary(fs), nil
}

// loadRules reads and validates rules, printing every problem. A rules file with problems is
// errReported: the problems are the message.
func loadRules(file string, v *routing.Vocabulary, stdout io.Writer) (*routing.Rules, error) {
	name := file
	if name == "" {
		name = routing.DefaultFile
	}
	r, err := readRules(file)
	var p routing.Problem
	if errors.As(err, &p) { // a syntax error: one problem, with its line
		fmt.Fprintln(stdout, p)
		fmt.Fprintf(stdout, "%s: 1 error: not usable\n", name)
		return nil, errReported
	}
	if err != nil {
		return nil, err
	}
	ps := r.Validate(v)
	for _, p := range ps {
		fmt.Fprintln(stdout, p)
	}
	if len(ps) > 0 {
		fmt.Fprintf(stdout, "%s: %d error(s): not usable\n", name, len(ps))
		return nil, errReported
	}
	return r, nil
}

func routingCheck(file string, stdout io.Writer) error {
	v, err := routingVocabulary()
	if err != nil {
		return err
	}
	r, err := loadRules(file, v, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok: %d priority rule(s), %d team rule(s), default team %s\n",
		r.File, len(r.Priorities), len(r.Teams), r.DefaultTeam)
	return nil
}

// caseFields collects --field FIELD=VALUE[,VALUE…] flags.
type caseFields struct {
	v      *routing.Vocabulary
	fields map[flows.FieldID][]string
}

// Set checks one --field against what the flows can produce, so that explain never explains a
// case no person could create.
func (c *caseFields) Set(arg string) error {
	name, vals, ok := strings.Cut(arg, "=")
	field := flows.FieldID(strings.TrimSpace(name))
	switch {
	case !ok || field == "":
		return fmt.Errorf("%q: write FIELD=VALUE, e.g. topic=forced_work or services=medical,legal", arg)
	case field == routing.LanguageField:
		return fmt.Errorf("the language is given with --lang, e.g. --lang %s", strings.TrimSpace(vals))
	}
	if err := c.v.CheckField(field); err != nil {
		return err
	}
	if _, dup := c.fields[field]; dup {
		return fmt.Errorf("%s given twice; list several values as %s=a,b", field, field)
	}
	var values []string
	for _, val := range strings.Split(vals, ",") {
		val = strings.TrimSpace(val)
		if err := c.v.CheckValue(field, val); err != nil {
			return err
		}
		if slices.Contains(values, val) {
			return fmt.Errorf("%s: %q given twice", field, val)
		}
		values = append(values, val)
	}
	if len(values) > 1 && !c.v.Multi(field) {
		return fmt.Errorf("%s takes one value (a person chooses one), not %s", field, strings.Join(values, ","))
	}
	c.fields[field] = values
	return nil
}

func (c *caseFields) String() string { return "" }

func routingExplain(args []string, stdout, stderr io.Writer) error {
	v, err := routingVocabulary()
	if err != nil {
		return err
	}
	fl := flag.NewFlagSet("penah routing explain", flag.ContinueOnError)
	fl.SetOutput(stderr)
	rulesFile := fl.String("rules", "", "rules file (default: the shipped rules)")
	fields := &caseFields{v: v, fields: map[flows.FieldID][]string{}}
	fl.Var(fields, "field", "a routing field of the case, FIELD=VALUE[,VALUE…] (repeat for each field)")
	langCode := fl.String("lang", "", "the language the person wrote in: ar, ckb, kmr or en")
	if err := fl.Parse(args); err != nil {
		return errUsage
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "penah routing explain: unexpected %q\n\n%s", fl.Arg(0), routingUsage)
		return errUsage
	}
	var lang locales.Lang
	if *langCode != "" {
		if err := v.CheckValue(routing.LanguageField, *langCode); err != nil {
			fmt.Fprintf(stderr, "penah routing explain: --lang: %v\n", err)
			return errUsage
		}
		lang = locales.Lang(*langCode)
	}
	r, err := loadRules(*rulesFile, v, stdout)
	if err != nil {
		return err
	}

	var given []string
	for _, f := range v.Fields() {
		switch {
		case f == routing.LanguageField && lang != "":
			given = append(given, fmt.Sprintf("language=%s", lang))
		case len(fields.fields[f]) > 0:
			given = append(given, fmt.Sprintf("%s=%s", f, strings.Join(fields.fields[f], ",")))
		}
	}
	if len(given) == 0 {
		given = []string{"(no fields: every question skipped)"}
	}
	d := r.Route(fields.fields, lang)
	fmt.Fprintf(stdout, "rules: %s\n", r.File)
	fmt.Fprintf(stdout, "case: %s\n", strings.Join(given, " "))
	if rule := r.Rule(d.PriorityRule); rule != nil {
		fmt.Fprintf(stdout, "priority: %d (rule %q, line %d)\n", d.Priority, rule.Name, rule.Line)
	} else {
		fmt.Fprintf(stdout, "priority: %d (no priority rule matched)\n", d.Priority)
	}
	if rule := r.Rule(d.TeamRule); rule != nil {
		fmt.Fprintf(stdout, "team: %s (rule %q, line %d)\n", d.Team, rule.Name, rule.Line)
	} else {
		fmt.Fprintf(stdout, "team: %s (no team rule matched: the default team)\n", d.Team)
	}
	fmt.Fprintln(stdout, "why:")
	for _, line := range d.Why {
		fmt.Fprintf(stdout, "  %s\n", line)
	}
	return nil
}
