package bot

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/go-telegram/bot/models"
)

// Kind classifies an incoming update for the dispatcher.
type Kind int

// Kinds of update.
const (
	KindText     Kind = iota + 1 // a typed message (commands included)
	KindCallback                 // a button press
	KindEdited                   // an edit of a message the person sent before
	KindMedia                    // a sticker, photo, voice, file, location, contact, …
)

// Incoming is what the dispatcher needs of one update. It holds what the person typed (Text,
// Data): it lives only in memory during a turn, and is never logged.
type Incoming struct {
	UpdateID int64
	Kind     Kind
	ChatID   int64
	// Private is false for groups, supergroups and channels: Penah takes intakes only in
	// private chats.
	Private bool
	// MessageID is the person's message (text, media, edit) or, for a press, the bot's message
	// that carries the button.
	MessageID int64
	Date      time.Time
	Text      string
	// Data and CallbackID are set for a press.
	Data       string
	CallbackID string
	// LangCode is Telegram's language_code of the sender: only the picker's first suggestion.
	LangCode string
	// UserID is the sender's Telegram user id (officers are recognised by it).
	UserID int64
	// ReplyToText is the text of the message this one replies to (an officer answering a case
	// message).
	ReplyToText string
}

// ErrNotAnUpdate is returned by ParseUpdate for JSON that is no update Penah can process.
var ErrNotAnUpdate = errors.New("telegram: not a processable update")

// ParseUpdate decodes one update as Telegram sends it.
func ParseUpdate(raw []byte) (Incoming, error) {
	var u models.Update
	if err := json.Unmarshal(raw, &u); err != nil || u.ID <= 0 {
		return Incoming{}, ErrNotAnUpdate
	}
	in := Incoming{UpdateID: u.ID}
	var m *models.Message
	switch {
	case u.Message != nil:
		m = u.Message
		in.Kind = KindText
	case u.EditedMessage != nil:
		m = u.EditedMessage
		in.Kind = KindEdited
	case u.CallbackQuery != nil:
		q := u.CallbackQuery
		in.Kind, in.Data, in.CallbackID, in.LangCode, in.UserID = KindCallback, q.Data, q.ID, q.From.LanguageCode, q.From.ID
		switch {
		case q.Message.Message != nil:
			in.ChatID, in.Private = q.Message.Message.Chat.ID, q.Message.Message.Chat.Type == models.ChatTypePrivate
			in.MessageID = int64(q.Message.Message.ID)
			in.Date = time.Unix(int64(q.Message.Message.Date), 0)
		case q.Message.InaccessibleMessage != nil:
			// A press on a message older than 48 h: Telegram no longer sends it, only its chat.
			in.ChatID, in.Private = q.Message.InaccessibleMessage.Chat.ID, q.Message.InaccessibleMessage.Chat.Type == models.ChatTypePrivate
			in.MessageID = int64(q.Message.InaccessibleMessage.MessageID)
		}
		if in.ChatID == 0 || in.CallbackID == "" {
			return Incoming{}, ErrNotAnUpdate
		}
		return in, nil
	default:
		return Incoming{}, ErrNotAnUpdate
	}
	if m.Chat.ID == 0 {
		return Incoming{}, ErrNotAnUpdate
	}
	in.ChatID, in.Private = m.Chat.ID, m.Chat.Type == models.ChatTypePrivate
	in.MessageID, in.Date, in.Text = int64(m.ID), time.Unix(int64(m.Date), 0), m.Text
	if m.From != nil {
		in.LangCode, in.UserID = m.From.LanguageCode, m.From.ID
	}
	if m.ReplyToMessage != nil {
		in.ReplyToText = m.ReplyToMessage.Text
	}
	if in.Kind == KindText && m.Text == "" {
		// Anything without text (a caption does not count: it comes with media) is declined.
		in.Kind = KindMedia
	}
	return in, nil
}
