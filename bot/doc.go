// Package bot will be the Telegram edge (issue 5): an inbox that acknowledges an update only once
// it is durable, per-chat ordered dispatch into intake.Service, HTML rendering of engine replies
// and a rate-limited outbox, on github.com/go-telegram/bot. So far it holds the rendering of
// engine replies (render.go), Penah's own getUpdates loop (poller.go), the rate-limited outbox
// sender (sender.go) and, in bot/telegramtest, the fake Bot API server; `penah serve` does not exist yet, and the conversation core is driven
// today by `penah chat`.
package bot
