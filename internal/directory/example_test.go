package directory_test

import (
	"fmt"
	"time"

	"github.com/penahbot/penah/internal/directory"
)

func ExampleParseWorkingHours() {
	h, err := directory.ParseWorkingHours("sun-thu 08:00-16:00")
	if err != nil {
		panic(err)
	}
	fmt.Println(h)
	// Thursday 16:30 in Baghdad is after hours; the team is next at work on Sunday morning.
	thursday := time.Date(2031, 3, 6, 13, 30, 0, 0, time.UTC)
	fmt.Println(h.Within(thursday), h.NextOpen(thursday).Format("Mon 15:04 MST"))
	// Output:
	// Sun-Thu 08:00-16:00 Asia/Baghdad
	// false Sun 08:00 +03
}

func ExampleParseSLA() {
	sla, err := directory.ParseSLA("1=10m,3=48h")
	if err != nil {
		panic(err)
	}
	t := directory.NewTeam("duhok")
	for p, d := range sla {
		t.SLA[p] = d
	}
	fmt.Println(directory.FormatSLA(t.SLA), t.ClaimSLA(2))
	// Output: 1=10m,2=4h,3=48h 4h0m0s
}
