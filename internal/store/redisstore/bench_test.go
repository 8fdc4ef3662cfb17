package redisstore_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
)

// BenchmarkTurn is one complete turn as the bot makes it: put the update, load the session,
// commit the new session with the update done and one reply in the outbox. -cpu sets the
// callers (e.g. -cpu 1,16).
func BenchmarkTurn(b *testing.B) {
	url, _, _ := redistest.Start(b)
	s, _ := openFresh(b, url)
	defer s.Close()
	var ids atomic.Int64
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		chat := intake.SessionKey(fmt.Sprint("bench-", ids.Add(1)<<32))
		for pb.Next() {
			id := ids.Add(1)
			if _, err := s.PutUpdate(ctx, intake.Update{ID: id, Chat: chat, Body: []byte("sealed update"), Received: t0}); err != nil {
				b.Error(err)
				return
			}
			_, v, err := s.LoadSession(ctx, chat)
			if err != nil {
				b.Error(err)
				return
			}
			_, err = s.Commit(ctx, intake.Commit{Key: chat, Expect: v, Session: []byte("sealed session of a few hundred bytes"),
				SessionTTL: time.Hour, Done: id,
				Outbox: []intake.OutboxMessage{{ID: intake.OutboxID(fmt.Sprint("m", id)), Chat: chat, Body: []byte("sealed reply"), Due: t0}}})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCaseCreate commits a turn that creates a case in its queue with its audit entry: the
// audit chain's compare-and-set is the contended part.
func BenchmarkCaseCreate(b *testing.B) {
	url, _, _ := redistest.Start(b)
	s, _ := openFresh(b, url)
	defer s.Close()
	var ids atomic.Int64
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids.Add(1)
			ref := intake.Ref(fmt.Sprintf("BNCH-%012d", id))
			_, err := s.Commit(ctx, intake.Commit{Key: intake.SessionKey(fmt.Sprint("c", id)), Session: []byte("s"),
				NewCase: &intake.Case{Ref: ref, Status: intake.StatusQueued, Team: "t", Priority: 2, Created: t0, Answers: []byte("sealed")},
				Audit:   []intake.AuditEntry{{Time: t0, Actor: "system", Action: "case created", Ref: ref}}})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
