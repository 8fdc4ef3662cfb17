// Package directory is the officer side's configuration: teams, officers and the invites that
// register officers (DESIGN.md §5).
//
// A Team has languages, governorates, supervisors, a backup team for escalations, a claim
// deadline (SLA) per priority and working hours in a time zone. An Officer belongs to one team,
// has a role (officer, supervisor, admin), languages, an optional gender and an on-duty switch;
// officers are identified by their Telegram numeric user id, never by username. A disabled
// officer stays listed, for the audit trail, but Active reports false and every right is gone
// at once: callers check it on each action, since the directory keeps nothing in memory.
//
// # Storage
//
// Every record is a small sealed blob in the store's directory (intake.Directory), sealed under
// a key derived from the master key for this purpose (seal.PurposeDirectory) and bound to its
// record name, so a record cannot be moved to another name or read without the master key.
// Record names never hold a Telegram id or a token:
//
//	team:<name>          the team
//	officer:<id>         the officer (its Telegram id inside, sealed)
//	tg:<blind index>     HMAC of a Telegram user id → officer id: OfficerByTelegram in two reads
//	invite:<blind index> HMAC of an invite token → the pending invite (single use, 72 hours)
//
// Changes are compare-and-set on the record's version (Team.Version, Officer.Version), so two
// admins editing one team at once cannot lose each other's change silently. Each change appends
// an audit entry to the hash-chained log after it is written; the entry names teams and officer
// ids, never a Telegram id or a person's name.
//
// # Invites
//
// Invite returns a token of 192 random bits, "inv-" and 32 base64url characters: it fits a
// Telegram /start parameter and cannot be mistaken for a flow id. Redeem takes the invite out of
// the store in one atomic step, so an invite works once even when two people open it at the same
// moment, and answers an unknown, used and expired token with the same ErrInvalidInvite.
package directory
