package directory

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/penahbot/penah/locales"
)

// Invites. An officer joins by opening a one-time deep link, https://t.me/<bot>?start=<token>,
// in Telegram: the bot then calls Redeem with the token and the Telegram user id that sent it.
// The token is the only secret: the store keeps the invite under a blind index (HMAC under the
// master key) of the token and a SHA-256 of it inside the sealed record, never the token, so
// neither a copy of the database nor its operator can redeem a pending invite.

const (
	// InviteTTL is how long an invite can be redeemed.
	InviteTTL = 72 * time.Hour
	// InviteTokenPrefix starts every invite token, so the bot tells an invite from a flow id
	// (flow ids are lowercase letters, digits and _, never "-").
	InviteTokenPrefix = "inv-"
	// InviteTokenBytes is the token's randomness from crypto/rand: 192 bits, well above the 128
	// an online guesser could never reach.
	InviteTokenBytes = 24
	// InviteTokenLen is a token's length: the prefix and the random bytes in unpadded base64url,
	// within Telegram's 64 characters of [A-Za-z0-9_-] for a /start parameter.
	InviteTokenLen = len(InviteTokenPrefix) + (InviteTokenBytes*8+5)/6
)

// IsInviteToken reports whether s has the form of an invite token (not whether it is valid).
func IsInviteToken(s string) bool {
	rest, ok := strings.CutPrefix(s, InviteTokenPrefix)
	if !ok || len(s) != InviteTokenLen {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func newInviteToken() (string, error) {
	var b [InviteTokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("directory: reading crypto/rand: %w", err)
	}
	return InviteTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// InviteSpec is who an invite is for.
type InviteSpec struct {
	Team string
	Role Role
	// Languages are the officer's; none means the team's.
	Languages []locales.Lang
	Gender    string // GenderFemale, GenderMale or ""
}

// inviteRecord is a pending invite, sealed.
type inviteRecord struct {
	TokenHash []byte         `json:"token_hash"` // SHA-256 of the token, compared in constant time
	Team      string         `json:"team"`
	Role      Role           `json:"role"`
	Languages []locales.Lang `json:"languages"`
	Gender    string         `json:"gender,omitempty"`
	Created   time.Time      `json:"created"`
	Expires   time.Time      `json:"expires"`
}

func (d *Directory) inviteName(token string) string {
	return invitePrefix + d.keys.Index(inviteDomain, token)
}

// Invite makes a one-time invite and returns its token, which is shown once and never stored;
// it expires InviteTTL after now. The team must exist. Expired invites are deleted on the way.
// Audit: "officer invited", naming the team and role.
func (d *Directory) Invite(ctx context.Context, spec InviteSpec, actor string, now time.Time) (string, error) {
	if err := checkActor(actor); err != nil {
		return "", err
	}
	team, err := d.Team(ctx, spec.Team)
	if err != nil {
		if errors.Is(err, errNotFound) {
			return "", invalid("team", "there is no team %q (add it with `penah teams add`)", spec.Team)
		}
		return "", err
	}
	langs := slices.Clone(spec.Languages)
	if len(langs) == 0 {
		langs = slices.Clone(team.Languages)
	}
	// The officer as they will be, checked now rather than when the link is opened.
	probe := Officer{ID: "o-00000000", TelegramID: 1, Team: team.Name, Role: spec.Role, Languages: langs, Gender: spec.Gender, Created: now}
	if err := probe.Validate(); err != nil {
		return "", err
	}
	if err := d.pruneInvites(ctx, now); err != nil {
		return "", err
	}
	token, err := newInviteToken()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(token))
	rec := inviteRecord{
		TokenHash: sum[:], Team: team.Name, Role: spec.Role, Languages: langs, Gender: spec.Gender,
		Created: now.UTC(), Expires: now.Add(InviteTTL).UTC(),
	}
	if _, err := d.put(ctx, d.inviteName(token), rec, 0); err != nil {
		return "", err
	}
	return token, d.audit(ctx, actor, "officer invited", fmt.Sprintf("team %s, role %s", team.Name, spec.Role), now)
}

// pruneInvites deletes the invites that expired before now.
func (d *Directory) pruneInvites(ctx context.Context, now time.Time) error {
	names, err := d.store.DirRecordNames(ctx, invitePrefix)
	if err != nil {
		return err
	}
	for _, name := range names {
		var rec inviteRecord
		ver, err := d.get(ctx, name, &rec)
		if err != nil || ver == 0 || now.Before(rec.Expires) {
			continue // taken meanwhile, or still valid; one that does not open is left to an operator
		}
		if err := d.store.DeleteDirRecord(ctx, name, ver); err != nil && !errors.Is(err, errConflict) {
			return err
		}
	}
	return nil
}

// Redeem registers the Telegram account telegramID as the officer an invite is for, and uses the
// invite up. An unknown, used or expired token is ErrInvalidInvite, all alike; an account that
// is already an officer's is ErrAlreadyRegistered, and the invite stays usable. Of two redeemers
// of one invite at once, one succeeds. Audit: "officer registered", by the new officer.
func (d *Directory) Redeem(ctx context.Context, token string, telegramID int64, now time.Time) (*Officer, error) {
	if !IsInviteToken(token) {
		return nil, ErrInvalidInvite
	}
	if telegramID <= 0 {
		return nil, invalid("telegram-id", "a Telegram user id is a positive number")
	}
	if _, err := d.OfficerByTelegram(ctx, telegramID); err == nil {
		return nil, ErrAlreadyRegistered
	} else if !errors.Is(err, errNotFound) {
		return nil, err
	}
	name := d.inviteName(token)
	sealed, err := d.store.TakeDirRecord(ctx, name)
	if err != nil {
		return nil, err
	}
	if sealed == nil {
		return nil, ErrInvalidInvite
	}
	var rec inviteRecord
	if err := d.open(name, sealed, &rec); err != nil {
		return nil, ErrInvalidInvite
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], rec.TokenHash) != 1 || !now.Before(rec.Expires) {
		return nil, ErrInvalidInvite // an expired invite is gone now, as it should be
	}
	o, err := d.addOfficer(ctx, Officer{
		TelegramID: telegramID, Team: rec.Team, Role: rec.Role, Languages: rec.Languages, Gender: rec.Gender,
	}, now)
	if err != nil {
		// Not this invite's fault (the account was registered meanwhile, the store failed): put
		// it back, so it can still be used.
		if _, perr := d.store.PutDirRecord(ctx, name, sealed, 0); perr != nil {
			return nil, fmt.Errorf("%w (and the invite could not be restored: %v)", err, perr)
		}
		return nil, err
	}
	return o, d.audit(ctx, o.ID, "officer registered", officerReason(o), now)
}
