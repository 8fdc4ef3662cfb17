package stats

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/locales"
)

// Routing fields statistics read. Only these are copied out of a case: a routing field added to a
// flow later is not counted until it is added here, after someone has asked whether counting it
// is safe.
const (
	FieldTopic       flows.FieldID = "topic"
	FieldGovernorate flows.FieldID = "governorate"
	FieldAgeBand     flows.FieldID = "age_band"
	FieldServices    flows.FieldID = "services"
)

// Record is all of a case that statistics may see: its status, dates, priority, language and
// four closed routing fields. It has no reference, verification code, team, officer, envelope
// or answers, so nothing in this package can read or print them; FromCase is the one place that
// touches an intake.Case.
type Record struct {
	Status      intake.Status
	Created     time.Time
	Claimed     time.Time // zero when not claimed
	Priority    int
	Lang        locales.Lang
	Topic       string   // "" when not answered
	Governorate string   // "" when not answered
	AgeBand     string   // "" when not answered
	Services    []string // each at most once
}

// valueRE is the shape of a routing value: a choice or governorate id. Anything else (which a
// flow should never store in a routing field) is counted as Other and never printed.
var valueRE = regexp.MustCompile(`^[a-z0-9_]{1,40}$`)

// Labels of rows that are not values.
const (
	NotAnswered = "(not answered)"
	Other       = "(other)"
)

// clean returns v if it looks like an id, else Other.
func clean(v string) string {
	if valueRE.MatchString(v) {
		return v
	}
	return Other
}

// FromCase copies the fields statistics may see out of a case.
func FromCase(c *intake.Case) Record {
	one := func(f flows.FieldID) string {
		if vs := c.Routing[f]; len(vs) > 0 {
			return clean(vs[0])
		}
		return ""
	}
	r := Record{
		Status:      c.Status,
		Created:     c.Created,
		Claimed:     c.Claimed,
		Priority:    c.Priority,
		Lang:        c.Lang,
		Topic:       one(FieldTopic),
		Governorate: one(FieldGovernorate),
		AgeBand:     one(FieldAgeBand),
	}
	for _, v := range c.Routing[FieldServices] {
		if v = clean(v); !slices.Contains(r.Services, v) {
			r.Services = append(r.Services, v)
		}
	}
	return r
}

// Period selects cases by creation time: Since included, Until excluded; a zero end is open.
type Period struct {
	Since, Until time.Time
}

// Contains reports whether t falls in the period.
func (p Period) Contains(t time.Time) bool {
	return (p.Since.IsZero() || !t.Before(p.Since)) && (p.Until.IsZero() || t.Before(p.Until))
}

// Source is what Read needs of a store: reading cases, nothing else.
type Source interface {
	ListCases(ctx context.Context, f intake.CaseFilter) ([]*intake.Case, error)
	Cases(ctx context.Context) ([]intake.Ref, error)
	Case(ctx context.Context, ref intake.Ref) (*intake.Case, error)
}

// Read passes every case created in the period to add, as a Record, oldest first, reading at
// most pageSize cases at a time (0: intake.MaxBatch).
//
// It pages through ListCases by creation time. CreatedAfter is exclusive, so each page starts a
// nanosecond before the last case seen and skips what it has already seen (by Created, then
// Ref: the store's order). If a whole page is cases created in the same nanosecond as the last
// one seen, paging by time cannot move on; Read then walks the reference list (Cases, in the
// same order) through that instant, one Case at a time.
func Read(ctx context.Context, src Source, p Period, pageSize int, add func(Record)) error {
	pageSize = intake.ClampLimit(pageSize)
	var (
		lastCreated time.Time
		lastRef     intake.Ref
		started     bool
	)
	seen := func(c *intake.Case) bool {
		return started && (c.Created.Before(lastCreated) || c.Created.Equal(lastCreated) && c.Ref <= lastRef)
	}
	take := func(c *intake.Case) {
		lastCreated, lastRef, started = c.Created, c.Ref, true
		if p.Contains(c.Created) {
			add(FromCase(c))
		}
	}
	after := time.Time{}
	if !p.Since.IsZero() {
		after = p.Since.Add(-time.Nanosecond)
	}
	for {
		page, err := src.ListCases(ctx, intake.CaseFilter{CreatedAfter: after, CreatedBefore: p.Until, Limit: pageSize})
		if err != nil {
			return fmt.Errorf("stats: list cases: %w", err)
		}
		progressed := false
		for _, c := range page {
			if !seen(c) {
				take(c)
				progressed = true
			}
		}
		if len(page) < pageSize {
			return nil
		}
		if !progressed {
			if err := readInstant(ctx, src, lastCreated, lastRef, take); err != nil {
				return err
			}
			// Everything created at lastCreated has been read: continue strictly after it.
			after = lastCreated
			continue
		}
		after = lastCreated.Add(-time.Nanosecond)
	}
}

// readInstant reads, one by one, the cases created at instant t that come after ref.
func readInstant(ctx context.Context, src Source, t time.Time, ref intake.Ref, take func(*intake.Case)) error {
	refs, err := src.Cases(ctx)
	if err != nil {
		return fmt.Errorf("stats: list references: %w", err)
	}
	i := slices.Index(refs, ref)
	if i < 0 {
		return errors.New("stats: a case disappeared while reading")
	}
	for _, r := range refs[i+1:] {
		c, err := src.Case(ctx, r)
		if err != nil {
			return fmt.Errorf("stats: read case: %w", err)
		}
		if !c.Created.Equal(t) {
			return nil
		}
		take(c)
	}
	return nil
}
