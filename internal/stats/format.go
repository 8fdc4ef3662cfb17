package stats

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Legend explains the marks; WriteText prints it under the heading.
const Legend = `"<11" marks a hidden count: fewer than 11 cases (zero included), or a count hidden with
such a one so that it cannot be worked out from the others by subtraction. "-" marks a time not
given because it would come from fewer than 11 cases (or from a hidden count). Cases withdrawn by
the person (/forget) are counted in the status table only.`

// describe renders the period for the heading.
func (p Period) describe() string {
	from, to := "the first case", "now"
	if !p.Since.IsZero() {
		from = p.Since.UTC().Format(time.RFC3339)
	}
	if !p.Until.IsZero() {
		to = p.Until.UTC().Format(time.RFC3339) + " (not included)"
	}
	return "cases created from " + from + " to " + to
}

// WriteText prints the report as plain-text tables.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Penah statistics: %s\n%s\n", r.Period.describe(), Legend)
	for _, t := range r.Tables {
		fmt.Fprintf(&b, "\n%s\n", t.Title)
		grid := [][]string{{t.Corner}}
		for _, c := range t.Cols {
			grid[0] = append(grid[0], c.Label)
		}
		for _, row := range t.Rows {
			line := []string{row.Label}
			for _, c := range row.Cells {
				line = append(line, c.String())
			}
			grid = append(grid, line)
		}
		widths := make([]int, len(grid[0]))
		for _, line := range grid {
			for i, s := range line {
				widths[i] = max(widths[i], utf8.RuneCountInString(s))
			}
		}
		for _, line := range grid {
			// Labels left-aligned, numbers right-aligned.
			fmt.Fprintf(&b, "  %-*s", widths[0], line[0])
			for i, s := range line[1:] {
				fmt.Fprintf(&b, "  %*s", widths[i+1], s)
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCSV prints the report as CSV in long form, one value a line: table,row,column,value. The
// first lines give the period (table "period", rows "since" and "until", RFC 3339, empty when
// open). Counts are numbers or "<11"; durations (columns p50_minutes, p90_minutes) are whole
// minutes or "-".
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	lines := [][]string{
		{"table", "row", "column", "value"},
		{"period", "since", "", stamp(r.Period.Since)},
		{"period", "until", "", stamp(r.Period.Until)},
	}
	for _, t := range r.Tables {
		for _, row := range t.Rows {
			for i, c := range row.Cells {
				lines = append(lines, []string{t.ID, row.Label, t.Cols[i].ID, c.csv()})
			}
		}
	}
	if err := cw.WriteAll(lines); err != nil {
		return fmt.Errorf("stats: write csv: %w", err)
	}
	return nil
}
