package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
)

// outboxDoc is an outbox message as stored (hash obmsg, id -> JSON). The scripts read and change
// c, a, d, s and q with Lua's cjson; the sealed body travels base64-encoded so that cjson never
// sees raw bytes.
type outboxDoc struct {
	Chat     string `json:"c"`
	Body     []byte `json:"b"`
	Due      string `json:"d"` // RFC 3339 with nanoseconds: exact
	Score    string `json:"s"` // Due in µs, rounded down: the due set's score
	Attempts int    `json:"a"`
	Seq      string `json:"q,omitempty"` // set by the script
}

func newOutboxDoc(m intake.OutboxMessage) outboxDoc {
	return outboxDoc{
		Chat: string(m.Chat), Body: m.Body, Due: m.Due.UTC().Format(time.RFC3339Nano),
		Score: dueScore(m.Due), Attempts: m.Attempts,
	}
}

// dueScore is t in whole microseconds, rounded down: Redis scores are float64, exact for
// integers up to 2^53 µs (year 2255). DueMessages checks the exact time again in Go.
func dueScore(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

func (d *outboxDoc) message(id string) (intake.OutboxMessage, error) {
	due, err := time.Parse(time.RFC3339Nano, d.Due)
	if err != nil {
		return intake.OutboxMessage{}, fmt.Errorf("redisstore: outbox message due %q: %w", d.Due, err)
	}
	seq, err := strconv.ParseUint(d.Seq, 10, 64)
	if err != nil {
		return intake.OutboxMessage{}, fmt.Errorf("redisstore: outbox message seq %q: %w", d.Seq, err)
	}
	return intake.OutboxMessage{
		ID: intake.OutboxID(id), Chat: intake.SessionKey(d.Chat), Body: d.Body, Due: due,
		Attempts: d.Attempts, Seq: seq,
	}, nil
}

// DueMessages implements intake.Outbox.
func (s *Store) DueMessages(ctx context.Context, now time.Time, limit int) ([]intake.OutboxMessage, error) {
	limit = intake.ClampLimit(limit)
	res, err := s.sc.outboxDue.Run(ctx, s.rdb,
		[]string{s.k.outboxDue(), s.k.outboxHeads(), s.k.outboxMessages()},
		dueScore(now), limit).StringSlice()
	if err != nil {
		return nil, s.fail("due messages", err)
	}
	out := make([]intake.OutboxMessage, 0, len(res)/2)
	for i := 0; i+1 < len(res); i += 2 {
		var d outboxDoc
		if err := json.Unmarshal([]byte(res[i+1]), &d); err != nil {
			return nil, fmt.Errorf("redisstore: outbox message does not decode: %w", err)
		}
		m, err := d.message(res[i])
		if err != nil {
			return nil, err
		}
		if m.Due.After(now) { // due later within the same microsecond
			continue
		}
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b intake.OutboxMessage) int { return a.Due.Compare(b.Due) })
	return out, nil
}

// Outbox changes.
const (
	changeRemove = "remove"
	changeRetry  = "retry"
)

// changeMessage runs scripts/outbox_change.lua for message id: it reads the message's chat, then
// changes the message in that chat's queue, reading again if the id moved meanwhile.
func (s *Store) changeMessage(ctx context.Context, op string, id intake.OutboxID, change string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return retry(ctx, op, func() (bool, error) {
		raw, err := s.rdb.HGet(ctx, s.k.outboxMessages(), string(id)).Result()
		if errors.Is(err, redis.Nil) {
			return false, fmt.Errorf("redisstore: %s: %w", op, intake.ErrNotFound)
		}
		if err != nil {
			return false, s.fail(op, err)
		}
		var d outboxDoc
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return false, fmt.Errorf("redisstore: %s: outbox message does not decode: %w", op, err)
		}
		chat := intake.SessionKey(d.Chat)
		n, err := s.sc.outboxChange.Run(ctx, s.rdb,
			[]string{s.k.outboxMessages(), s.k.outboxQueue(chat), s.k.outboxDue(), s.k.outboxHeads()},
			string(id), d.Chat, change, at.UTC().Format(time.RFC3339Nano), dueScore(at)).Int()
		if err != nil {
			return false, s.fail(op, err)
		}
		switch n {
		case 1:
			return true, nil
		case 0:
			return false, fmt.Errorf("redisstore: %s: %w", op, intake.ErrNotFound)
		}
		return false, nil
	})
}

// MarkSent implements intake.Outbox.
func (s *Store) MarkSent(ctx context.Context, id intake.OutboxID) error {
	return s.changeMessage(ctx, "mark sent", id, changeRemove, time.Time{})
}

// MarkFailed implements intake.Outbox.
func (s *Store) MarkFailed(ctx context.Context, id intake.OutboxID) error {
	return s.changeMessage(ctx, "mark failed", id, changeRemove, time.Time{})
}

// Retry implements intake.Outbox.
func (s *Store) Retry(ctx context.Context, id intake.OutboxID, at time.Time) error {
	return s.changeMessage(ctx, "retry", id, changeRetry, at)
}

// DropChat implements intake.Outbox.
func (s *Store) DropChat(ctx context.Context, chat intake.SessionKey) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: drop chat: %w", err)
	}
	n, err := s.sc.outboxDrop.Run(ctx, s.rdb,
		[]string{s.k.outboxMessages(), s.k.outboxQueue(chat), s.k.outboxDue(), s.k.outboxHeads()},
		string(chat)).Int()
	if err != nil {
		return 0, s.fail("drop chat", err)
	}
	return n, nil
}
