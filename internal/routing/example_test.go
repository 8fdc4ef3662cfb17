package routing_test

import (
	"fmt"

	"github.com/penahbot/penah/flows"
	"github.com/penahbot/penah/internal/routing"
	"github.com/penahbot/penah/locales"
)

// A person in Duhok who writes in Kurmanji reports forced labour and asks for legal help.
func ExampleRules_Route() {
	rules := routing.Default()
	d := rules.Route(map[flows.FieldID][]string{
		"urgency":     {"soon"},
		"services":    {"legal", "shelter"},
		"topic":       {"forced_work"},
		"governorate": {"duhok"},
	}, locales.KMR)
	fmt.Println("team:", d.Team, "priority:", d.Priority, "by:", d.PriorityRule)
	for _, line := range d.Why {
		fmt.Println(line)
	}
	// Output:
	// team: default priority: 2 by: trafficking-indicators
	// priorities: rule "immediate-danger" (line 22) did not match: urgency is soon, not immediate
	// priorities: rule "sexual-violence-clinical-window" (line 32) did not match: clinical_window not given
	// priorities: rule "sexual-violence-medical" (line 37) did not match: topic is forced_work, not sexual_violence; services is legal,shelter, not medical
	// priorities: rule "trafficking-indicators" (line 54) matched: topic=forced_work → priority 2
	// teams: no rule matched → default team default
}
