package flows

import (
	"fmt"
	"strings"
)

// Mermaid renders the flow as a Mermaid flowchart: one node per state (id and kind), one edge per
// way on, labelled with the choice or the condition that takes it.
func Mermaid(f *Flow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "---\ntitle: %s revision %d\n---\nflowchart TD\n", f.ID, f.Revision)
	for _, s := range f.States {
		shape := `["%s<br/><i>%s</i>"]`
		switch s.Kind() {
		case KindEnd:
			shape = `(["%s<br/><i>%s</i>"])`
		case KindSubmit:
			shape = `[["%s<br/><i>%s</i>"]]`
		case KindChoice, KindMulti, KindGovernorate:
			shape = `{"%s<br/><i>%s</i>"}`
		}
		fmt.Fprintf(&b, "  %s"+shape+"\n", s.ID, s.ID, s.Kind())
	}
	fmt.Fprintf(&b, "  start((start)) --> %s\n", f.Start)
	for _, s := range f.States {
		for _, c := range s.Choices {
			nx := c.Next
			if len(nx) == 0 {
				nx = s.Next
				if s.Kind() == KindMulti {
					continue
				}
			}
			edgesTo(&b, s.ID, string(c.ID), nx)
		}
		if s.Kind() != KindChoice || s.Optional {
			label := ""
			if s.Optional {
				label = "skip"
				if s.Kind() != KindChoice {
					label = "answer or skip"
				}
			}
			if s.Kind() == KindMulti {
				label = "done"
			}
			edgesTo(&b, s.ID, label, s.Next)
		}
	}
	if f.Consent != "" {
		fmt.Fprintf(&b, "  style %s stroke-width:3px\n", f.Consent)
	}
	return b.String()
}

func edgesTo(b *strings.Builder, from StateID, label string, n Next) {
	for _, br := range n {
		l := label
		if br.When != nil {
			l = strings.TrimSpace(l + " " + br.When.String())
		}
		if l == "" {
			fmt.Fprintf(b, "  %s --> %s\n", from, br.To)
		} else {
			fmt.Fprintf(b, "  %s -- \"%s\" --> %s\n", from, strings.ReplaceAll(l, `"`, "'"), br.To)
		}
	}
}

// String renders a condition compactly, e.g. "topic is sexual_violence and services is medical".
func (c *Cond) String() string {
	if c == nil {
		return ""
	}
	join := func(cs []*Cond, op string) string {
		parts := make([]string, len(cs))
		for i, sub := range cs {
			parts[i] = sub.String()
		}
		return "(" + strings.Join(parts, " "+op+" ") + ")"
	}
	switch {
	case len(c.All) > 0:
		return join(c.All, "and")
	case len(c.Any) > 0:
		return join(c.Any, "or")
	case len(c.Is) > 0:
		return fmt.Sprintf("%s is %s", c.Field, strings.Join(c.Is, "|"))
	case len(c.Not) > 0:
		return fmt.Sprintf("%s not %s", c.Field, strings.Join(c.Not, "|"))
	}
	return "?"
}
