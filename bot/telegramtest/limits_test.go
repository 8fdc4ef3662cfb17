package telegramtest_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/penahbot/penah/bot/telegramtest"
)

func TestParseHTML(t *testing.T) {
	tests := []struct {
		in, text, entities, err string
	}{
		{in: "plain", text: "plain"},
		{in: "<b>bold</b> &lt;b&gt; &amp; &quot;", text: `bold <b> & "`, entities: "bold@0+4"},
		{in: "AT&T &nbsp; &#1587;&#x1F600;", text: "AT&T &nbsp; س😀"},
		{in: "😀<i>x</i>", text: "😀x", entities: "italic@2+1"},
		{in: `<a href="https://e.org/?a=1&amp;b=2">l</a>`, text: "l", entities: "text_link@0+1"},
		{in: `<pre><code class="language-go">x</code></pre>`, text: "x", entities: "pre@0+1"},
		{in: `<span class="tg-spoiler">s</span><blockquote expandable>q</blockquote>`, text: "sq", entities: "spoiler@0+1 expandable_blockquote@1+1"},
		{in: "<b>a<i>b</></b>", text: "ab", entities: "bold@0+2 italic@1+1"},
		{in: "<b>x", err: `Can't find end tag corresponding to start tag "b"`},
		{in: "a < b", err: `Unsupported start tag "" at byte offset 2`},
		{in: "<script>x</script>", err: `Unsupported start tag "script" at byte offset 0`},
		{in: "x</b>", err: "Unexpected end tag at byte offset 1"},
		{in: "<b><i>x</b></i>", err: `Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`},
		{in: "<b", err: "Unclosed start tag at byte offset 0"},
		{in: `<span class="x">y</span>`, err: `Tag "span" must have class "tg-spoiler" at byte offset 0`},
		{in: `<a href>x</a>`, err: `Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0`},
	}
	for _, tt := range tests {
		text, es, err := telegramtest.ParseHTML(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseHTML(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseHTML(%q): %v", tt.in, err)
			continue
		}
		var got []string
		for _, e := range es {
			got = append(got, fmt.Sprintf("%s@%d+%d", e.Type, e.Offset, e.Length))
		}
		if text != tt.text || strings.Join(got, " ") != tt.entities {
			t.Errorf("ParseHTML(%q) = %q %v, want %q %s", tt.in, text, got, tt.text, tt.entities)
		}
	}
}

func TestSendMessageRefusesMalformedHTML(t *testing.T) {
	srv := telegramtest.New(t)
	b := newBot(t, srv)
	srv.User(1)
	_, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 1, Text: "<b>unclosed", ParseMode: models.ParseModeHTML})
	if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), `can't parse entities: Can't find end tag corresponding to start tag "b"`) {
		t.Errorf("err = %v", err)
	}
	// Without a parse mode the same text is fine.
	if _, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 1, Text: "<b>unclosed"}); err != nil {
		t.Errorf("plain: %v", err)
	}
	if _, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 1, Text: " \n"}); !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "message text is empty") {
		t.Errorf("blank: %v", err)
	}
}

func TestMessageLengthLimit(t *testing.T) {
	srv := telegramtest.New(t)
	b := newBot(t, srv)
	srv.User(1)
	tests := []struct {
		name, text string
		html, ok   bool
	}{
		{"at the limit", strings.Repeat("a", telegramtest.MaxMessageChars), false, true},
		{"past the limit", strings.Repeat("a", telegramtest.MaxMessageChars+1), false, false},
		{"entities count once", strings.Repeat("&lt;", telegramtest.MaxMessageChars), true, true},
		{"tags do not count", "<b>" + strings.Repeat("ب", telegramtest.MaxMessageChars) + "</b>", true, true},
		{"emoji count two", strings.Repeat("😀", telegramtest.MaxMessageChars/2) + "a", false, false},
	}
	for _, tt := range tests {
		p := &bot.SendMessageParams{ChatID: 1, Text: tt.text}
		if tt.html {
			p.ParseMode = models.ParseModeHTML
		}
		_, err := b.SendMessage(ctx(t), p)
		if tt.ok && err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if !tt.ok && (!errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "message is too long")) {
			t.Errorf("%s: err = %v, want message is too long", tt.name, err)
		}
	}
}

func TestKeyboardLimits(t *testing.T) {
	srv := telegramtest.New(t)
	b := newBot(t, srv)
	srv.User(1)
	withData := func(data string) *models.InlineKeyboardMarkup {
		return &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "x", CallbackData: data}}}}
	}
	withButtons := func(n int) *models.InlineKeyboardMarkup {
		kb := &models.InlineKeyboardMarkup{}
		for i := range n {
			if i%8 == 0 {
				kb.InlineKeyboard = append(kb.InlineKeyboard, nil)
			}
			row := &kb.InlineKeyboard[len(kb.InlineKeyboard)-1]
			*row = append(*row, models.InlineKeyboardButton{Text: fmt.Sprint(i), CallbackData: fmt.Sprint(i)})
		}
		return kb
	}
	tests := []struct {
		name   string
		markup models.ReplyMarkup
		err    string
	}{
		{"data at the limit", withData(strings.Repeat("é", telegramtest.MaxCallbackDataBytes/2)), ""},
		{"data past the limit", withData(strings.Repeat("x", telegramtest.MaxCallbackDataBytes+1)), "BUTTON_DATA_INVALID"},
		{"buttons at the limit", withButtons(telegramtest.MaxButtons), ""},
		{"buttons past the limit", withButtons(telegramtest.MaxButtons + 1), "reply markup is too long"},
		{"text button", &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "x"}}}}, "Text buttons are unallowed"},
	}
	for _, tt := range tests {
		_, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 1, Text: "k", ReplyMarkup: tt.markup})
		if tt.err == "" && err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if tt.err != "" && (!errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.err)
		}
	}
	if n := len(srv.BotMessages(1)); n != 2 {
		t.Errorf("%d messages accepted, want 2", n)
	}
}

func TestCallbackAnswerLimit(t *testing.T) {
	srv := telegramtest.New(t)
	b, updates := poll(t, srv)
	u := srv.User(1)
	if _, err := b.SendMessage(ctx(t), &bot.SendMessageParams{ChatID: 1, Text: "k", ReplyMarkup: keyboard([]string{"A"})}); err != nil {
		t.Fatal(err)
	}
	id, _ := u.Press("A")
	next(t, updates)
	_, err := b.AnswerCallbackQuery(ctx(t), &bot.AnswerCallbackQueryParams{CallbackQueryID: id, Text: strings.Repeat("x", telegramtest.MaxCallbackAnswerChars+1)})
	if !errors.Is(err, bot.ErrorBadRequest) {
		t.Errorf("long answer: %v", err)
	}
	if _, err := b.AnswerCallbackQuery(ctx(t), &bot.AnswerCallbackQueryParams{CallbackQueryID: id, Text: strings.Repeat("x", telegramtest.MaxCallbackAnswerChars)}); err != nil {
		t.Errorf("answer at the limit: %v", err)
	}
}
