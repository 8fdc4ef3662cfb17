// Package bot is the Telegram edge (DESIGN.md §3, issue 5), on github.com/go-telegram/bot's API
// client and models. Its parts, wired together by `penah serve` (cmd/penah/serve.go):
//
//   - Poller (poller.go) and Webhook (webhook.go) write each update, sealed, to the durable inbox
//     before Telegram learns it arrived; unreadable bodies become dead letters.
//   - Dispatcher (dispatch.go, deliver.go) takes each chat's pending updates in order, one worker
//     per chat under a lease, and runs them through intake.Service; a turn's replies become
//     sealed outbox requests (OutboundRequest) committed with the turn. Declined media, edits,
//     groups and the flood limit are answered here, without a turn.
//   - Sender (sender.go) sends the outbox within Telegram's limits and serves clearChat, the
//     deletion of a conversation's tracked messages behind /exit, /forget and auto-clear.
//   - Render (render.go) turns engine replies into escaped HTML messages.
//   - The desk (desk.go, roster.go) is the officer side on the same bot: officers recognised by
//     Telegram id through a Roster, new-case notices, atomic claims, the officer commands, the
//     relay between officer and person, /status; Scheduler (sla.go) sends SLA reminders and
//     escalations.
//
// bot/telegramtest is the in-process fake Bot API server the tests run against.
package bot
