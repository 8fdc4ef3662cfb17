package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
)

// updateDoc is an inbox update as stored (hash inb:<chat>, id -> JSON).
type updateDoc struct {
	ID       int64     `json:"id"`
	Chat     string    `json:"chat"`
	Body     []byte    `json:"body"`
	Received time.Time `json:"received"`
}

// dedupTTL is how long an update id is remembered: the contract's minimum.
const dedupTTL = intake.InboxDedupTTL

// PutUpdate implements intake.Inbox. The update, its place in the chat's order, the chat's place
// among chats with pending updates and the dedupe marker (SET PX, on the server's clock) are
// written by one script, so a duplicate racing the original sees one or the other, never half.
// PutUpdates implements intake.Inbox: the updates one after another, in order (each is atomic on
// its own; after an error some may be stored, and the dedupe makes the retry harmless).
func (s *Store) PutUpdates(ctx context.Context, us []intake.Update) ([]bool, error) {
	dups := make([]bool, len(us))
	for i, u := range us {
		var err error
		if dups[i], err = s.PutUpdate(ctx, u); err != nil {
			return nil, err
		}
	}
	return dups, nil
}

func (s *Store) PutUpdate(ctx context.Context, u intake.Update) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("redisstore: put update: %w", err)
	}
	doc, err := json.Marshal(updateDoc{ID: u.ID, Chat: string(u.Chat), Body: u.Body, Received: u.Received})
	if err != nil {
		return false, fmt.Errorf("redisstore: put update: %w", err)
	}
	n, err := s.sc.putUpdate.Run(ctx, s.rdb,
		[]string{s.k.seen(u.ID), s.k.inboxQueue(u.Chat), s.k.inboxBodies(u.Chat), s.k.inboxChats()},
		strconv.FormatInt(u.ID, 10), string(u.Chat), doc, dedupTTL.Milliseconds()).Int()
	if err != nil {
		return false, s.fail("put update", err)
	}
	return n == 1, nil
}

// NextUpdate implements intake.Inbox.
func (s *Store) NextUpdate(ctx context.Context, chat intake.SessionKey) (*intake.Update, error) {
	raw, err := s.sc.nextUpdate.Run(ctx, s.rdb, []string{s.k.inboxQueue(chat), s.k.inboxBodies(chat)}).Text()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, s.fail("next update", err)
	}
	var d updateDoc
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		return nil, fmt.Errorf("redisstore: inbox update does not decode: %w", err)
	}
	return &intake.Update{ID: d.ID, Chat: intake.SessionKey(d.Chat), Body: d.Body, Received: d.Received}, nil
}

// PendingChats implements intake.Inbox: the chats whose oldest pending update is oldest first.
func (s *Store) PendingChats(ctx context.Context, limit int) ([]intake.SessionKey, error) {
	limit = intake.ClampLimit(limit)
	ms, err := s.rdb.ZRange(ctx, s.k.inboxChats(), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, s.fail("pending chats", err)
	}
	out := make([]intake.SessionKey, len(ms))
	for i, m := range ms {
		out[i] = intake.SessionKey(m)
	}
	return out, nil
}

// DoneUpdate implements intake.Inbox.
func (s *Store) DoneUpdate(ctx context.Context, chat intake.SessionKey, id int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: done update: %w", err)
	}
	n, err := s.sc.doneUpdate.Run(ctx, s.rdb,
		[]string{s.k.inboxQueue(chat), s.k.inboxBodies(chat), s.k.inboxChats()},
		string(chat), strconv.FormatInt(id, 10)).Int()
	if err != nil {
		return s.fail("done update", err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: done update %d: %w", id, intake.ErrNotFound)
	}
	return nil
}

// Offset implements intake.Inbox.
func (s *Store) Offset(ctx context.Context) (int64, error) {
	v, err := s.rdb.Get(ctx, s.k.offset()).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, s.fail("offset", err)
	}
	return v, nil
}

// SetOffset implements intake.Inbox.
func (s *Store) SetOffset(ctx context.Context, offset int64) error {
	if err := s.sc.setOffset.Run(ctx, s.rdb, []string{s.k.offset()}, strconv.FormatInt(offset, 10)).Err(); err != nil {
		return s.fail("set offset", err)
	}
	return nil
}
