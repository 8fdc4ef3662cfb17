package locales_test

import (
	"fmt"

	"github.com/penahbot/penah/locales"
)

func ExampleParsePhone() {
	for _, s := range []string{"0750 123 4567", "٠٧٧٠ ١٢٣ ٤٥٦٧", "+964 (0) 780-123-4567", "call me"} {
		e164, ok := locales.ParsePhone(s)
		fmt.Println(e164, ok)
	}
	// Output:
	// +9647501234567 true
	// +9647701234567 true
	// +9647801234567 true
	//  false
}

func ExampleNormalize() {
	fmt.Printf("%q\n", locales.Normalize("  عمري ٢٥\u200F  سنة  "))
	fmt.Println(locales.Normalize("خـــروج") == locales.Normalize("خروج"))
	// Output:
	// "عمری 25 سنة"
	// true
}

func ExampleMatch() {
	for _, code := range []string{"ar-IQ", "ku", "ku-Arab", "fa", "tr", ""} {
		l, ok := locales.Match(code)
		fmt.Printf("%q → %q %v\n", code, l, ok)
	}
	// Output:
	// "ar-IQ" → "ar" true
	// "ku" → "kmr" true
	// "ku-Arab" → "ckb" true
	// "fa" → "ckb" true
	// "tr" → "" false
	// "" → "" false
}

func ExampleCatalog_Plural() {
	c := locales.MustLoad()
	for _, n := range []int{1, 2, 3} {
		fmt.Println(c.Plural(locales.EN, locales.MsgSelected, n, nil))
	}
	fmt.Println(c.T(locales.EN, locales.MsgInvalidNumber, map[string]any{"Min": 1, "Max": 10}))
	// Output:
	// You have chosen 1 option.
	// You have chosen 2 options.
	// You have chosen 3 options.
	// Please send a whole number between 1 and 10.
}

func ExampleCatalog_ParseCommand() {
	c := locales.MustLoad()
	for _, text := range []string{"/start abc123", "/exit@PenahBot", "خـروج", "Derkeve", "I want to exit now"} {
		cmd, arg, ok := c.ParseCommand(text)
		fmt.Printf("%q %q %v\n", cmd, arg, ok)
	}
	// Output:
	// "start" "abc123" true
	// "exit" "" true
	// "exit" "" true
	// "exit" "" true
	// "" "" false
}
