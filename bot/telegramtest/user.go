package telegramtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// UserOption configures a scripted Person.
type UserOption func(*Person)

// WithLanguageCode sets the language_code the person's client reports ("ar", "ckb", "en", …).
func WithLanguageCode(code string) UserOption { return func(p *Person) { p.user.LanguageCode = code } }

// WithName sets the person's first and last name.
func WithName(first, last string) UserOption {
	return func(p *Person) { p.user.FirstName, p.user.LastName = first, last }
}

// WithUsername sets the person's @username.
func WithUsername(name string) UserOption { return func(p *Person) { p.user.Username = name } }

// WithGroupTitle sets the title of a group chat (GroupMember only).
func WithGroupTitle(title string) UserOption { return func(p *Person) { p.chat.Title = title } }

// WithSupergroup makes a group chat a supergroup (GroupMember only).
func WithSupergroup() UserOption { return func(p *Person) { p.chat.Type = ChatSupergroup } }

// Person is a scripted Telegram user talking to the bot in one chat. Its methods produce the updates
// the person's client would cause and wait for the bot's answers. It is safe for concurrent use but,
// like a person, is meant to be driven from one goroutine.
type Person struct {
	s      *Server
	user   User
	chat   Chat
	cursor int // the id of the last bot message WaitMessage returned
}

// User returns a person in a private chat with the bot; the chat id is the person's user id, as on
// Telegram; the person's language_code is "en" unless WithLanguageCode says otherwise. The chat exists from now on (as if the person had opened the bot), so the bot may send
// to it. Calling User twice for one chat gives two handles on the same chat.
func (s *Server) User(chatID int64, opts ...UserOption) *Person {
	p := &Person{s: s, user: User{ID: chatID, FirstName: "User" + itoa(chatID), LanguageCode: "en"}}
	for _, o := range opts {
		o(p)
	}
	p.chat = Chat{ID: chatID, Type: ChatPrivate, FirstName: p.user.FirstName, LastName: p.user.LastName, Username: p.user.Username}
	s.register(p.chat)
	return p
}

// GroupMember returns a person (user id userID) writing in the group chat groupID (negative, as on
// Telegram) where the bot is a member.
func (s *Server) GroupMember(groupID, userID int64, opts ...UserOption) *Person {
	p := &Person{s: s, user: User{ID: userID, FirstName: "User" + itoa(userID), LanguageCode: "en"}}
	p.chat = Chat{ID: groupID, Type: ChatGroup, Title: "Group " + itoa(groupID)}
	for _, o := range opts {
		o(p)
	}
	s.register(p.chat)
	return p
}

func (s *Server) register(c Chat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.chats[c.ID]; !ok {
		s.chats[c.ID] = &chatState{info: c}
	}
}

// ID returns the person's user id.
func (p *Person) ID() int64 { return p.user.ID }

// ChatID returns the id of the chat the person writes in.
func (p *Person) ChatID() int64 { return p.chat.ID }

// LanguageCode returns the language_code the person's client reports.
func (p *Person) LanguageCode() string { return p.user.LanguageCode }

// Sent is what a person's action produced: the message (for messages and edits) and the update.
type Sent struct {
	Message  Message
	UpdateID int64 // 0 if allowed_updates excluded the update
}

// send adds m from the person to the chat and queues it as a "message" update.
func (p *Person) send(m *Message) Sent {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[p.chat.ID]
	m.Chat, m.From, m.Date = c.info, p.user, s.clock.Now()
	s.appendLocked(c, m)
	w := m.wire()
	if m.ReplyTo != 0 {
		if to := c.find(m.ReplyTo); to != nil {
			w.ReplyToMessage = to.wire() // Telegram sends the answered message along, one level deep
		}
	}
	id := s.enqueueLocked(&wireUpdate{Message: w})
	return Sent{Message: m.clone(), UpdateID: id}
}

// SendText sends text, with bot_command entities where Telegram would mark them.
func (p *Person) SendText(text string) Sent {
	return p.send(&Message{Kind: KindText, Text: text, Source: text, Entities: botCommandEntities(text)})
}

// Reply sends text as an answer to the message messageID of the chat (reply_to_message).
func (p *Person) Reply(messageID int, text string) Sent {
	return p.send(&Message{Kind: KindText, Text: text, Source: text, Entities: botCommandEntities(text), ReplyTo: messageID})
}

// SendSticker sends a sticker showing emoji.
func (p *Person) SendSticker(emoji string) Sent {
	return p.send(&Message{Kind: KindSticker, Emoji: emoji})
}

// SendPhoto sends a photo (two sizes, as Telegram reports them).
func (p *Person) SendPhoto() Sent { return p.send(&Message{Kind: KindPhoto}) }

// SendVoice sends a voice note of seconds.
func (p *Person) SendVoice(seconds int) Sent {
	return p.send(&Message{Kind: KindVoice, Duration: seconds})
}

// SendDocument sends a file named name.
func (p *Person) SendDocument(name string) Sent {
	return p.send(&Message{Kind: KindDocument, FileName: name})
}

// SendLocation shares a location.
func (p *Person) SendLocation(lat, lon float64) Sent {
	return p.send(&Message{Kind: KindLocation, Location: &Location{Latitude: lat, Longitude: lon}})
}

// SendContact shares a contact.
func (p *Person) SendContact(phone, firstName string) Sent {
	return p.send(&Message{Kind: KindContact, Contact: &Contact{PhoneNumber: phone, FirstName: firstName}})
}

// Edit changes the text of one of the person's own messages and queues an "edited_message" update.
func (p *Person) Edit(messageID int, text string) (Sent, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[p.chat.ID]
	m := c.find(messageID)
	if m == nil || m.Deleted || m.FromBot || m.From.ID != p.user.ID || m.Kind != KindText {
		return Sent{}, fmt.Errorf("telegramtest: person %d has no text message %d to edit", p.user.ID, messageID)
	}
	m.Text, m.Source, m.Entities = text, text, botCommandEntities(text)
	m.Edits++
	m.EditDate = s.clock.Now()
	s.notifyLocked()
	id := s.enqueueLocked(&wireUpdate{EditedMessage: m.wire()})
	return Sent{Message: m.clone(), UpdateID: id}, nil
}

// Press presses the inline button whose text or callback data is labelOrData on the newest
// undeleted bot message that has it, and queues the callback_query update. It returns the
// callback query id (see Server.CallbackAnswer).
func (p *Person) Press(labelOrData string) (string, error) {
	return p.press(0, labelOrData)
}

// PressOn presses a button of a given message, such as an old one further up the chat.
func (p *Person) PressOn(messageID int, labelOrData string) (string, error) {
	if messageID <= 0 {
		return "", fmt.Errorf("telegramtest: invalid message id %d", messageID)
	}
	return p.press(messageID, labelOrData)
}

func (p *Person) press(messageID int, labelOrData string) (string, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[p.chat.ID]
	var target *Message
	var button InlineKeyboardButton
	for i := len(c.messages) - 1; i >= 0 && target == nil; i-- {
		m := c.messages[i]
		if !m.FromBot || m.Deleted || (messageID != 0 && m.ID != messageID) {
			continue
		}
		if b, ok := m.Button(labelOrData); ok {
			target, button = m, b
		}
	}
	if target == nil {
		return "", fmt.Errorf("telegramtest: no visible bot message in chat %d has a button %q", p.chat.ID, labelOrData)
	}
	if button.CallbackData == "" {
		return "", fmt.Errorf("telegramtest: button %q opens a URL; there is nothing to press", button.Text)
	}
	return p.pressLocked(target, button.CallbackData), nil
}

// pressLocked queues a callback_query from the person on target with data; s.mu is held.
func (p *Person) pressLocked(target *Message, data string) string {
	s := p.s
	s.nextCallback++
	id := strconv.FormatInt(s.bot.ID, 10) + "00" + itoa(s.nextCallback)
	s.callbacks[id] = &callbackState{}
	s.enqueueLocked(&wireUpdate{CallbackQuery: &wireCallbackQuery{
		ID:           id,
		From:         p.user,
		Message:      target.wire(),
		ChatInstance: "-" + itoa(p.chat.ID*7+13),
		Data:         data,
	}})
	return id
}

// PressForged sends a press with arbitrary callback data on the newest bot message of the chat, as
// a modified client can: Telegram does not check the data against the message's buttons.
func (p *Person) PressForged(data string) (string, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[p.chat.ID]
	var target *Message
	for i := len(c.messages) - 1; i >= 0 && target == nil; i-- {
		if m := c.messages[i]; m.FromBot && !m.Deleted {
			target = m
		}
	}
	if target == nil {
		return "", fmt.Errorf("telegramtest: chat %d has no bot message to press on", p.chat.ID)
	}
	return p.pressLocked(target, data), nil
}

// Block makes the person block the bot: sending to the chat answers 403 Forbidden.
func (p *Person) Block() { p.s.setBlocked(p.chat.ID, true) }

// Unblock undoes Block.
func (p *Person) Unblock() { p.s.setBlocked(p.chat.ID, false) }

func (s *Server) setBlocked(chatID int64, blocked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chats[chatID].blocked = blocked
}

// ErrNoMessage is returned by WaitMessage when the context ends before the bot sends anything.
var ErrNoMessage = errors.New("telegramtest: no message from the bot")

// WaitMessage waits for the next message the bot sends to this chat after the last one WaitMessage
// returned, and returns it as it is now (later edits are visible through Server.Message).
func (p *Person) WaitMessage(ctx context.Context) (Message, error) {
	s := p.s
	for {
		s.mu.Lock()
		c := s.chats[p.chat.ID]
		for _, m := range c.messages {
			if m.FromBot && m.ID > p.cursor {
				p.cursor = m.ID
				out := m.clone()
				s.mu.Unlock()
				return out, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Message{}, fmt.Errorf("%w in chat %d: %w", ErrNoMessage, p.chat.ID, ctx.Err())
		}
	}
}

// WaitMessages waits for the next n bot messages (see WaitMessage).
func (p *Person) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	out := make([]Message, 0, n)
	for len(out) < n {
		m, err := p.WaitMessage(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Messages returns every message the bot sent to this chat, deleted ones included.
func (p *Person) Messages() []Message { return p.s.BotMessages(p.chat.ID) }

// Transcript returns every message of this chat, both sides.
func (p *Person) Transcript() []Message { return p.s.Transcript(p.chat.ID) }

// LastMessage returns the newest undeleted message of the bot in this chat.
func (p *Person) LastMessage() (Message, bool) {
	ms := p.Messages()
	for i := len(ms) - 1; i >= 0; i-- {
		if !ms[i].Deleted {
			return ms[i], true
		}
	}
	return Message{}, false
}
