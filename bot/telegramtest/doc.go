// Package telegramtest is an in-process fake of the Telegram Bot API for tests of Penah's Telegram
// edge (DESIGN.md §3, issue 5). Telegram is unreachable from tests, so the bot talks, through the
// real go-telegram/bot client, to this server instead:
//
//	srv := telegramtest.New(t)
//	b, _ := bot.New(srv.Token(), bot.WithServerURL(srv.URL()))
//	person := srv.User(42, telegramtest.WithLanguageCode("ar"))
//	person.SendText("/start")            // queued as an update for getUpdates or the webhook
//	msg, _ := person.WaitMessage(ctx)     // the bot's next sendMessage to chat 42
//	person.Press("Continue")              // a callback_query on the newest message with that button
//
// # Protocol
//
// Requests are POST <URL>/bot<token>/<method> with multipart/form-data (as go-telegram/bot sends
// them, nested objects such as reply_markup JSON-encoded in one field), urlencoded or JSON bodies.
// Answers are Telegram's envelope, {"ok":true,"result":…} or {"ok":false,"error_code":…,
// "description":…,"parameters":{"retry_after":N}}, with the HTTP status equal to error_code, so the
// library surfaces them as its own errors (bot.ErrorBadRequest, bot.ErrorForbidden,
// *bot.TooManyRequestsError …). A wrong token is 401 Unauthorized, an unknown method 404 Not Found.
//
// Implemented methods: getMe, getUpdates (offset confirms, limit, long-poll timeout, allowed_updates;
// a second poller ends the first with 409), setWebhook, deleteWebhook, getWebhookInfo, sendMessage,
// editMessageText, editMessageReplyMarkup, deleteMessage, deleteMessages, answerCallbackQuery,
// setMyCommands and getMyCommands.
//
// # Telegram's rules the fake enforces
//
// Texts are parsed in HTML parse mode by ParseHTML, with Telegram's wording of its errors ("can't
// parse entities: …"), and limited to MaxMessageChars after parsing; inline keyboards are limited
// to MaxButtons buttons and MaxCallbackDataBytes of callback data; messages older than DeleteWindow
// cannot be deleted; a chat exists only once a person of it was created with User or GroupMember,
// and a person who Blocks the bot makes sends answer 403. Message ids count per chat across both
// sides; update ids are global. MarkdownV2 is accepted but not parsed (Penah sends HTML only).
//
// # Webhooks
//
// After setWebhook, pending updates are POSTed as JSON to the webhook one at a time, in order, with
// the X-Telegram-Bot-Api-Secret-Token header; an update is retried (WithWebhookBackoff) until the
// webhook answers 2xx, and getUpdates answers 409 Conflict. Any URL is accepted, so an httptest
// server can be the webhook.
//
// # Assertions
//
// Every call is recorded (Calls, CallsTo, CallCount, WaitCalls) with its parameters, arrival time
// and result; every chat keeps its Transcript (both sides, with parse mode, buttons, protect_content,
// edits and deletions); Visible is what the person still sees; CallbackAnswer is the bot's answer to
// a press.
//
// # Faults
//
// Inject installs a Fault for one method and/or chat: a 429 with retry_after (TooManyRequests, or
// FloodWait for a window that counts down), a 5xx (ServerError), a delay (Slow) or a dropped
// connection (DropConnection), for the next n calls or for a window of time.
//
// # Time
//
// Message dates, the DeleteWindow and fault windows follow the Server's Clock (WithClock,
// ManualClock); long polls, delays and webhook backoff wait in real time.
package telegramtest
