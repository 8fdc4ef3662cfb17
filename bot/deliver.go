package bot

import (
	"time"

	"github.com/penahbot/penah/flows/engine"
	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/locales"
)

// deliverer returns the Turn.Deliver of an update: a press is answered first (every callback is
// answered, or the person's client keeps spinning), then the replies go out as outbox requests,
// sealed, in the turn's commit.
func (d *Dispatcher) deliverer(in Incoming, chat intake.SessionKey) func(out *intake.Outcome) ([]intake.OutboxMessage, error) {
	return func(out *intake.Outcome) ([]intake.OutboxMessage, error) {
		var reqs []OutboundRequest
		if in.Kind == KindCallback {
			reqs = append(reqs, OutboundRequest{Method: MethodAnswerCallbackQuery, CallbackQueryID: in.CallbackID})
		}
		if in.ChatID != 0 && (in.Private || in.Kind == KindText) {
			reqs = append(reqs, d.replies(in, out)...)
		}
		msgs := make([]intake.OutboxMessage, 0, len(reqs))
		for i := range reqs {
			m, err := d.outbox(chat, &reqs[i])
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, m)
		}
		return msgs, nil
	}
}

// replies turns a turn's replies into requests. A quick exit or a /forget becomes one clearChat
// request: the sender deletes every tracked message of the chat, then shows the reply (the
// neutral line) alone. A reply that asks to edit (a multi-choice tick) edits the message whose
// button was pressed, while that message is still accessible.
func (d *Dispatcher) replies(in Incoming, out *intake.Outcome) []OutboundRequest {
	if hasEffect(*out, engine.EffectExit) || hasEffect(*out, engine.EffectForget) {
		lang, final := locales.EN, ""
		if n := len(out.Replies); n > 0 {
			last := out.Replies[n-1]
			lang, final = last.Lang, Render(engine.Reply{Text: last.Text, Lang: last.Lang})[0].HTML
		}
		partial := Render(engine.Reply{Text: d.Catalog.T(lang, locales.MsgExitPartial, nil), Lang: lang})[0].HTML
		return []OutboundRequest{{Method: MethodClearChat, ChatID: in.ChatID, HTML: final, Partial: partial, Protect: true}}
	}
	var reqs []OutboundRequest
	for _, r := range out.Replies {
		parts := Render(r)
		if r.Edit && in.Kind == KindCallback && in.MessageID != 0 && !in.Date.IsZero() && len(parts) == 1 {
			req := SendMessageRequest(in.ChatID, parts[0])
			req.Method, req.MessageID, req.Protect = MethodEditMessageText, in.MessageID, false
			reqs = append(reqs, req)
			continue
		}
		for _, p := range parts {
			reqs = append(reqs, SendMessageRequest(in.ChatID, p))
		}
	}
	return reqs
}

// outbox builds an outbox message for chat; with r set, its body is r, encoded and sealed.
func (d *Dispatcher) outbox(chat intake.SessionKey, r *OutboundRequest) (intake.OutboxMessage, error) {
	id, err := intake.NewOutboxID()
	if err != nil {
		return intake.OutboxMessage{}, err
	}
	// Due is on the sender's clock (the wall clock), not the dispatcher's injectable one.
	m := intake.OutboxMessage{ID: id, Chat: chat, Due: time.Now()}
	if r != nil {
		plain, err := EncodeRequest(*r)
		if err != nil {
			return m, err
		}
		if m.Body, err = d.SealOut(id, plain); err != nil {
			return m, err
		}
	}
	return m, nil
}
