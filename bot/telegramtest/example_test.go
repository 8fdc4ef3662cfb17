package telegramtest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/go-telegram/bot"

	"github.com/penahbot/penah/bot/telegramtest"
)

// ExampleServer_User shows a test's shape: the bot sends through go-telegram/bot, the scripted
// person reads. It takes the test's *testing.T, so it is compiled here and run by the tests.
func ExampleServer_User() {
	var t *testing.T // the test's own
	srv := telegramtest.New(t)
	b, err := bot.New(srv.Token(), bot.WithServerURL(srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	person := srv.User(42, telegramtest.WithLanguageCode("ckb"))
	if _, err := b.SendMessage(context.Background(), &bot.SendMessageParams{ChatID: 42, Text: "<b>Hello</b>", ParseMode: "HTML"}); err != nil {
		t.Fatal(err)
	}
	msg, err := person.WaitMessage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(msg.ID, msg.Text, msg.Entities[0].Type) // 1 Hello bold
}
