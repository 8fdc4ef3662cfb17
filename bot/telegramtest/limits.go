package telegramtest

import "time"

// Limits of the Bot API that the fake enforces. Each is the documented (or, where the documentation
// is silent, the observed) value of api.telegram.org, so that code which passes here passes there.
const (
	// MaxMessageChars is the longest text of a message, counted after entity parsing. The fake counts
	// UTF-16 code units, the stricter of the two readings of Telegram's "characters": a text that
	// fits here fits on Telegram too.
	MaxMessageChars = 4096

	// MaxCallbackDataBytes is the longest callback_data of an inline button, in bytes.
	MaxCallbackDataBytes = 64

	// MaxButtons is the largest number of buttons in one inline keyboard.
	MaxButtons = 100

	// DeleteWindow is how long after it was sent a message may still be deleted by the bot
	// (incoming and outgoing messages of a private chat alike).
	DeleteWindow = 48 * time.Hour

	// MaxDeleteMessages is the largest number of message ids deleteMessages takes in one call.
	MaxDeleteMessages = 100

	// MaxUpdatesLimit is the largest (and default) limit of getUpdates.
	MaxUpdatesLimit = 100

	// MaxCallbackAnswerChars is the longest text of answerCallbackQuery.
	MaxCallbackAnswerChars = 200

	// MaxCommands is the largest number of commands setMyCommands takes.
	MaxCommands = 100

	// MaxCommandChars and MaxCommandDescriptionChars bound one BotCommand.
	MaxCommandChars            = 32
	MaxCommandDescriptionChars = 256

	// MaxSecretTokenChars is the longest webhook secret_token.
	MaxSecretTokenChars = 256

	// MaxRequestBytes bounds the body of one request to the fake (Telegram takes uploads of 50 MB).
	MaxRequestBytes = 50 << 20
)
