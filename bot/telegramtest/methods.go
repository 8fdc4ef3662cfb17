package telegramtest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

func (s *Server) methodTable() map[string]methodFunc {
	return map[string]methodFunc{
		"getme":                  s.getMe,
		"getupdates":             s.getUpdates,
		"setwebhook":             s.setWebhook,
		"deletewebhook":          s.deleteWebhook,
		"getwebhookinfo":         s.getWebhookInfo,
		"sendmessage":            s.sendMessage,
		"editmessagetext":        s.editMessageText,
		"editmessagereplymarkup": s.editMessageReplyMarkup,
		"deletemessage":          s.deleteMessage,
		"deletemessages":         s.deleteMessages,
		"answercallbackquery":    s.answerCallbackQuery,
		"setmycommands":          s.setMyCommands,
		"getmycommands":          s.getMyCommands,
	}
}

func (s *Server) getMe(*request) (any, *apiError) { return s.bot, nil }

// boolParam reads a Bot API boolean ("true", "1", "True").
func boolParam(r *request, name string) bool {
	v, _ := strconv.ParseBool(r.params.Get(name))
	return v
}

func intParam(r *request, name string, def int) (int, *apiError) {
	v := r.params.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, badRequest("invalid %s specified", name)
	}
	return n, nil
}

func stringListParam(r *request, name string) ([]string, bool, *apiError) {
	v := r.params.Get(name)
	if v == "" {
		return nil, false, nil
	}
	var list []string
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		return nil, false, badRequest("can't parse %s JSON array", name)
	}
	return list, true, nil
}

// chatLocked returns the chat of r, or the Bot API's error for a missing, unknown or blocked chat.
func (s *Server) chatLocked(r *request) (*chatState, *apiError) {
	v := r.params.Get("chat_id")
	if v == "" {
		return nil, badRequest("chat_id is empty")
	}
	c, ok := s.chats[r.chatID]
	if !ok || r.chatID == 0 {
		return nil, badRequest("chat not found")
	}
	if c.blocked {
		return nil, &apiError{Code: http.StatusForbidden, Description: "Forbidden: bot was blocked by the user"}
	}
	return c, nil
}

// messageParam returns the message of r's message_id in c, or nil.
func messageParam(r *request, c *chatState) *Message {
	id, err := strconv.Atoi(r.params.Get("message_id"))
	if err != nil {
		return nil
	}
	return c.find(id)
}

func (c *chatState) find(id int) *Message {
	for _, m := range c.messages {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// parsedText is a text checked and parsed as sendMessage and editMessageText do.
type parsedText struct {
	source, text, mode string
	entities           []MessageEntity
}

func parseText(r *request) (parsedText, *apiError) {
	p := parsedText{source: r.params.Get("text"), mode: r.params.Get("parse_mode")}
	if p.source == "" {
		return p, badRequest("message text is empty")
	}
	switch strings.ToLower(p.mode) {
	case "":
		p.text = p.source
		if v := r.params.Get("entities"); v != "" {
			if err := json.Unmarshal([]byte(v), &p.entities); err != nil {
				return p, badRequest("can't parse entities JSON object")
			}
		}
	case "html":
		text, entities, err := ParseHTML(p.source)
		if err != nil {
			return p, badRequest("can't parse entities: %s", err)
		}
		p.text, p.entities = text, entities
	case "markdown", "markdownv2":
		// Not parsed: Penah sends HTML only. The text is kept as sent.
		p.text = p.source
	default:
		return p, badRequest("unsupported parse_mode")
	}
	if strings.TrimSpace(p.text) == "" {
		return p, badRequest("message text is empty")
	}
	if UTF16Len(p.text) > MaxMessageChars {
		return p, badRequest("message is too long")
	}
	return p, nil
}

// parseMarkup checks reply_markup as Telegram does and returns the inline keyboard, if any.
func parseMarkup(raw string) ([][]InlineKeyboardButton, json.RawMessage, *apiError) {
	if raw == "" {
		return nil, nil, nil
	}
	var m struct {
		InlineKeyboard *[][]InlineKeyboardButton `json:"inline_keyboard"`
		Keyboard       *[][]json.RawMessage      `json:"keyboard"`
		RemoveKeyboard bool                      `json:"remove_keyboard"`
		ForceReply     bool                      `json:"force_reply"`
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, nil, badRequest("can't parse reply keyboard markup JSON object")
	}
	if m.InlineKeyboard == nil {
		if m.Keyboard == nil && !m.RemoveKeyboard && !m.ForceReply {
			return nil, nil, badRequest("can't parse reply keyboard markup JSON object")
		}
		return nil, json.RawMessage(raw), nil
	}
	kb := *m.InlineKeyboard
	count := 0
	for _, row := range kb {
		for _, b := range row {
			count++
			if b.Text == "" {
				return nil, nil, badRequest("BUTTON_TEXT_EMPTY")
			}
			if b.CallbackData == "" && b.URL == "" {
				return nil, nil, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
			}
			if len(b.CallbackData) > MaxCallbackDataBytes {
				return nil, nil, badRequest("BUTTON_DATA_INVALID")
			}
		}
	}
	if count > MaxButtons {
		return nil, nil, badRequest("reply markup is too long")
	}
	if count == 0 {
		kb = nil
	}
	return kb, json.RawMessage(raw), nil
}

func (s *Server) sendMessage(r *request) (any, *apiError) {
	p, err := parseText(r)
	if err != nil {
		return nil, err
	}
	kb, raw, err := parseMarkup(r.params.Get("reply_markup"))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.chatLocked(r)
	if err != nil {
		return nil, err
	}
	m := &Message{
		Chat: c.info, From: s.bot, FromBot: true, Date: s.clock.Now(), Kind: KindText,
		Text: p.text, Source: p.source, ParseMode: p.mode, Entities: p.entities,
		Keyboard: kb, ReplyMarkup: raw, ProtectContent: boolParam(r, "protect_content"),
	}
	s.appendLocked(c, m)
	return m.wire(), nil
}

// appendLocked gives m the chat's next message id and adds it to the transcript.
func (s *Server) appendLocked(c *chatState, m *Message) {
	c.nextID++
	m.ID = c.nextID
	c.messages = append(c.messages, m)
	s.notifyLocked()
}

// editableLocked returns the bot message that r edits.
func (s *Server) editableLocked(r *request) (*Message, *apiError) {
	if r.params.Get("inline_message_id") != "" {
		return nil, badRequest("inline messages are not supported by telegramtest")
	}
	c, err := s.chatLocked(r)
	if err != nil {
		return nil, err
	}
	m := messageParam(r, c)
	if m == nil || m.Deleted {
		return nil, badRequest("message to edit not found")
	}
	if !m.FromBot {
		return nil, badRequest("message can't be edited")
	}
	return m, nil
}

const notModified = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

func (s *Server) editMessageText(r *request) (any, *apiError) {
	p, err := parseText(r)
	if err != nil {
		return nil, err
	}
	kb, raw, err := parseMarkup(r.params.Get("reply_markup"))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.editableLocked(r)
	if err != nil {
		return nil, err
	}
	if m.Text == p.text && entitiesEqual(m.Entities, p.entities) && keyboardsEqual(m.Keyboard, kb) {
		return nil, badRequest(notModified)
	}
	m.Text, m.Source, m.ParseMode, m.Entities = p.text, p.source, p.mode, p.entities
	m.Keyboard, m.ReplyMarkup = kb, raw
	m.Edits++
	m.EditDate = s.clock.Now()
	s.notifyLocked()
	return m.wire(), nil
}

func (s *Server) editMessageReplyMarkup(r *request) (any, *apiError) {
	kb, raw, err := parseMarkup(r.params.Get("reply_markup"))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.editableLocked(r)
	if err != nil {
		return nil, err
	}
	if keyboardsEqual(m.Keyboard, kb) {
		return nil, badRequest(notModified)
	}
	m.Keyboard, m.ReplyMarkup = kb, raw
	m.Edits++
	m.EditDate = s.clock.Now()
	s.notifyLocked()
	return m.wire(), nil
}

func entitiesEqual(a, b []MessageEntity) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func keyboardsEqual(a, b [][]InlineKeyboardButton) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// deletableLocked reports why m cannot be deleted by the bot now, or nil.
func (s *Server) deletableLocked(c *chatState, m *Message) *apiError {
	if m == nil || m.Deleted {
		return badRequest("message to delete not found")
	}
	if s.clock.Now().Sub(m.Date) > DeleteWindow {
		return badRequest("message can't be deleted")
	}
	if c.info.Type != ChatPrivate && !m.FromBot {
		return badRequest("message can't be deleted") // the fake bot is never a group admin
	}
	return nil
}

func (s *Server) deleteMessage(r *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.chatLocked(r)
	if err != nil {
		return nil, err
	}
	m := messageParam(r, c)
	if err := s.deletableLocked(c, m); err != nil {
		return nil, err
	}
	m.Deleted, m.DeletedAt = true, s.clock.Now()
	s.notifyLocked()
	return true, nil
}

// deleteMessages deletes what it can and skips the rest, as the documentation says; the fake answers
// true even when nothing was deleted.
func (s *Server) deleteMessages(r *request) (any, *apiError) {
	var ids []int
	if err := json.Unmarshal([]byte(r.params.Get("message_ids")), &ids); err != nil {
		return nil, badRequest("can't parse message_ids JSON array")
	}
	if len(ids) == 0 {
		return nil, badRequest("message identifiers are not specified")
	}
	if len(ids) > MaxDeleteMessages {
		return nil, badRequest("too many message identifiers specified")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.chatLocked(r)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	for _, id := range ids {
		m := c.find(id)
		if s.deletableLocked(c, m) == nil {
			m.Deleted, m.DeletedAt = true, now
		}
	}
	s.notifyLocked()
	return true, nil
}

func (s *Server) answerCallbackQuery(r *request) (any, *apiError) {
	text := r.params.Get("text")
	if utf8.RuneCountInString(text) > MaxCallbackAnswerChars {
		return nil, badRequest("MESSAGE_TOO_LONG")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cb, ok := s.callbacks[r.params.Get("callback_query_id")]
	if !ok || cb.answered {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	cb.answered = true
	cb.answer = CallbackAnswer{Text: text, ShowAlert: boolParam(r, "show_alert"), URL: r.params.Get("url"), At: s.clock.Now()}
	s.notifyLocked()
	return true, nil
}

var commandRE = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// commandsKey names the command list of a scope and language.
func commandsKey(r *request) string {
	scope := "default"
	if v := r.params.Get("scope"); v != "" {
		var sc struct {
			Type   string `json:"type"`
			ChatID any    `json:"chat_id"`
		}
		if json.Unmarshal([]byte(v), &sc) == nil && sc.Type != "" {
			scope = sc.Type
		}
	}
	return scope + "/" + r.params.Get("language_code")
}

func (s *Server) setMyCommands(r *request) (any, *apiError) {
	var cmds []BotCommand
	if err := json.Unmarshal([]byte(r.params.Get("commands")), &cmds); err != nil {
		return nil, badRequest("can't parse commands JSON array")
	}
	if len(cmds) > MaxCommands {
		return nil, badRequest("too many commands specified")
	}
	for _, c := range cmds {
		if !commandRE.MatchString(c.Command) || utf8.RuneCountInString(c.Command) > MaxCommandChars {
			return nil, badRequest("BOT_COMMAND_INVALID")
		}
		if n := utf8.RuneCountInString(c.Description); n == 0 || n > MaxCommandDescriptionChars {
			return nil, badRequest("BOT_COMMAND_DESCRIPTION_INVALID")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commands[commandsKey(r)] = cmds
	s.notifyLocked()
	return true, nil
}

func (s *Server) getMyCommands(r *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmds := s.commands[commandsKey(r)]
	if cmds == nil {
		cmds = []BotCommand{}
	}
	return cmds, nil
}

// Commands returns the commands set for scope (a BotCommandScope type such as "default" or
// "all_private_chats") and language code ("" for all languages).
func (s *Server) Commands(scope, languageCode string) []BotCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]BotCommand(nil), s.commands[scope+"/"+languageCode]...)
}

// CallbackAnswer returns the bot's answer to the callback query id, if it answered.
func (s *Server) CallbackAnswer(id string) (CallbackAnswer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cb, ok := s.callbacks[id]
	if !ok || !cb.answered {
		return CallbackAnswer{}, false
	}
	return cb.answer, true
}

// Transcript returns every message of the chat, both sides, in order, including deleted ones
// (marked Deleted).
func (s *Server) Transcript(chatID int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[chatID]
	if !ok {
		return nil
	}
	out := make([]Message, len(c.messages))
	for i, m := range c.messages {
		out[i] = m.clone()
	}
	return out
}

// BotMessages returns the messages the bot sent to the chat, including deleted ones.
func (s *Server) BotMessages(chatID int64) []Message {
	var out []Message
	for _, m := range s.Transcript(chatID) {
		if m.FromBot {
			out = append(out, m)
		}
	}
	return out
}

// Visible returns the messages of the chat that are not deleted: what the person still sees.
func (s *Server) Visible(chatID int64) []Message {
	var out []Message
	for _, m := range s.Transcript(chatID) {
		if !m.Deleted {
			out = append(out, m)
		}
	}
	return out
}

// Message returns message id of the chat.
func (s *Server) Message(chatID int64, id int) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[chatID]
	if !ok {
		return Message{}, false
	}
	m := c.find(id)
	if m == nil {
		return Message{}, false
	}
	return m.clone(), true
}
