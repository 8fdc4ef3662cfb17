package telegramtest

import (
	"encoding/json"
	"time"
)

// User is a Telegram user as the Bot API encodes it.
type User struct {
	ID                      int64  `json:"id"`
	IsBot                   bool   `json:"is_bot"`
	FirstName               string `json:"first_name"`
	LastName                string `json:"last_name,omitempty"`
	Username                string `json:"username,omitempty"`
	LanguageCode            string `json:"language_code,omitempty"`
	CanJoinGroups           bool   `json:"can_join_groups,omitempty"`
	CanReadAllGroupMessages bool   `json:"can_read_all_group_messages,omitempty"`
	SupportsInlineQueries   bool   `json:"supports_inline_queries,omitempty"`
}

// Chat types as Telegram names them.
const (
	ChatPrivate    = "private"
	ChatGroup      = "group"
	ChatSupergroup = "supergroup"
)

// Chat is a Telegram chat as the Bot API encodes it inside a message.
type Chat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
}

// MessageEntity is one entity of a text; Offset and Length are in UTF-16 code units, as on Telegram.
type MessageEntity struct {
	Type          string `json:"type"`
	Offset        int    `json:"offset"`
	Length        int    `json:"length"`
	URL           string `json:"url,omitempty"`
	Language      string `json:"language,omitempty"`
	CustomEmojiID string `json:"custom_emoji_id,omitempty"`
}

// InlineKeyboardButton is one button of an inline keyboard. Only the fields the fake understands are
// kept; a button needs CallbackData or URL.
type InlineKeyboardButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
}

// InlineKeyboardMarkup is an inline keyboard.
type InlineKeyboardMarkup struct {
	InlineKeyboard [][]InlineKeyboardButton `json:"inline_keyboard"`
}

// Location is a shared location.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// Contact is a shared contact.
type Contact struct {
	PhoneNumber string `json:"phone_number"`
	FirstName   string `json:"first_name"`
	UserID      int64  `json:"user_id,omitempty"`
}

// File is the file part shared by stickers, photos, voice notes and documents.
type File struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileSize     int    `json:"file_size,omitempty"`
}

// Kind is what a message carries.
type Kind string

// Kinds of messages the fake produces.
const (
	KindText     Kind = "text"
	KindSticker  Kind = "sticker"
	KindPhoto    Kind = "photo"
	KindVoice    Kind = "voice"
	KindDocument Kind = "document"
	KindLocation Kind = "location"
	KindContact  Kind = "contact"
)

// Message is one message of a chat's transcript, sent by the bot or by a user. Values returned by the
// Server are copies: later edits and deletions do not change them.
type Message struct {
	ID      int
	Chat    Chat
	From    User
	FromBot bool
	Date    time.Time
	Kind    Kind

	// Text is the text as the person sees it, after entity parsing; Source is what the bot sent
	// (with HTML tags) and equals Text for user messages. Caption of media is not modelled.
	Text      string
	Source    string
	ParseMode string
	Entities  []MessageEntity

	// Keyboard is the inline keyboard, if any; ReplyMarkup is the raw reply_markup JSON the bot sent
	// (any kind of keyboard).
	Keyboard       [][]InlineKeyboardButton
	ReplyMarkup    json.RawMessage
	ProtectContent bool

	// Media payloads; which one is set follows Kind.
	Emoji    string // sticker
	FileName string // document
	Duration int    // voice, seconds
	Location *Location
	Contact  *Contact

	// ReplyTo is the id of the message this one answers (Telegram's reply_to_message), 0 for none.
	ReplyTo int

	Edits     int       // how many times the message was edited
	EditDate  time.Time // time of the last edit
	Deleted   bool
	DeletedAt time.Time
}

// Button returns the first button of the message's inline keyboard whose text or callback data is
// labelOrData.
func (m Message) Button(labelOrData string) (InlineKeyboardButton, bool) {
	for _, row := range m.Keyboard {
		for _, b := range row {
			if b.Text == labelOrData || (b.CallbackData != "" && b.CallbackData == labelOrData) {
				return b, true
			}
		}
	}
	return InlineKeyboardButton{}, false
}

// Buttons returns the texts of all inline buttons, row by row.
func (m Message) Buttons() []string {
	var out []string
	for _, row := range m.Keyboard {
		for _, b := range row {
			out = append(out, b.Text)
		}
	}
	return out
}

func (m *Message) clone() Message {
	c := *m
	c.Entities = append([]MessageEntity(nil), m.Entities...)
	if m.Keyboard != nil {
		c.Keyboard = make([][]InlineKeyboardButton, len(m.Keyboard))
		for i, row := range m.Keyboard {
			c.Keyboard[i] = append([]InlineKeyboardButton(nil), row...)
		}
	}
	c.ReplyMarkup = append(json.RawMessage(nil), m.ReplyMarkup...)
	if m.Location != nil {
		l := *m.Location
		c.Location = &l
	}
	if m.Contact != nil {
		ct := *m.Contact
		c.Contact = &ct
	}
	return c
}

// wireMessage is a Message as the Bot API encodes it.
type wireMessage struct {
	MessageID           int                   `json:"message_id"`
	From                *User                 `json:"from,omitempty"`
	Chat                Chat                  `json:"chat"`
	Date                int64                 `json:"date"`
	EditDate            int64                 `json:"edit_date,omitempty"`
	HasProtectedContent bool                  `json:"has_protected_content,omitempty"`
	Text                string                `json:"text,omitempty"`
	Entities            []MessageEntity       `json:"entities,omitempty"`
	Sticker             *wireSticker          `json:"sticker,omitempty"`
	Photo               []wirePhotoSize       `json:"photo,omitempty"`
	Voice               *wireVoice            `json:"voice,omitempty"`
	Document            *wireDocument         `json:"document,omitempty"`
	Location            *Location             `json:"location,omitempty"`
	Contact             *Contact              `json:"contact,omitempty"`
	ReplyMarkup         *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
	ReplyToMessage      *wireMessage          `json:"reply_to_message,omitempty"`
}

type wireSticker struct {
	File
	Type       string `json:"type"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	IsAnimated bool   `json:"is_animated"`
	IsVideo    bool   `json:"is_video"`
	Emoji      string `json:"emoji,omitempty"`
}

type wirePhotoSize struct {
	File
	Width  int `json:"width"`
	Height int `json:"height"`
}

type wireVoice struct {
	File
	Duration int    `json:"duration"`
	MimeType string `json:"mime_type,omitempty"`
}

type wireDocument struct {
	File
	FileName string `json:"file_name,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
}

// wire encodes m as Telegram does; fileID names its media.
func (m *Message) wire() *wireMessage {
	from := m.From
	w := &wireMessage{
		MessageID:           m.ID,
		From:                &from,
		Chat:                m.Chat,
		Date:                m.Date.Unix(),
		HasProtectedContent: m.ProtectContent,
		Text:                m.Text,
		Entities:            m.Entities,
		Location:            m.Location,
		Contact:             m.Contact,
	}
	if !m.EditDate.IsZero() {
		w.EditDate = m.EditDate.Unix()
	}
	if len(m.Keyboard) > 0 {
		w.ReplyMarkup = &InlineKeyboardMarkup{InlineKeyboard: m.Keyboard}
	}
	f := File{FileID: "file-" + m.Chat.idString() + "-" + itoa(int64(m.ID)), FileUniqueID: "u" + itoa(int64(m.ID)), FileSize: 1024}
	switch m.Kind {
	case KindSticker:
		w.Sticker = &wireSticker{File: f, Type: "regular", Width: 512, Height: 512, Emoji: m.Emoji}
	case KindPhoto:
		small, big := f, f
		small.FileID += "-s"
		small.FileUniqueID += "s"
		w.Photo = []wirePhotoSize{{File: small, Width: 90, Height: 90}, {File: big, Width: 1280, Height: 1280}}
	case KindVoice:
		w.Voice = &wireVoice{File: f, Duration: m.Duration, MimeType: "audio/ogg"}
	case KindDocument:
		w.Document = &wireDocument{File: f, FileName: m.FileName, MimeType: "application/octet-stream"}
	}
	return w
}

// wireCallbackQuery is a callback_query as the Bot API encodes it.
type wireCallbackQuery struct {
	ID           string       `json:"id"`
	From         User         `json:"from"`
	Message      *wireMessage `json:"message,omitempty"`
	ChatInstance string       `json:"chat_instance"`
	Data         string       `json:"data,omitempty"`
}

// wireUpdate is an Update as the Bot API encodes it.
type wireUpdate struct {
	UpdateID      int64              `json:"update_id"`
	Message       *wireMessage       `json:"message,omitempty"`
	EditedMessage *wireMessage       `json:"edited_message,omitempty"`
	CallbackQuery *wireCallbackQuery `json:"callback_query,omitempty"`
}

// kind is the update type's name as used by allowed_updates.
func (u *wireUpdate) kind() string {
	switch {
	case u.Message != nil:
		return "message"
	case u.EditedMessage != nil:
		return "edited_message"
	case u.CallbackQuery != nil:
		return "callback_query"
	}
	return ""
}

// BotCommand is one command of setMyCommands.
type BotCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

func (c Chat) idString() string { return itoa(c.ID) }
