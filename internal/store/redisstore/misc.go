package redisstore

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
)

// AcquireLease implements intake.Leases: SET NX PX, or a renewal by the owner (compare-and-
// renew), in one script. The lifetime runs on the server's clock.
func (s *Store) AcquireLease(ctx context.Context, chat intake.SessionKey, owner string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errors.New("redisstore: a lease needs a positive lifetime")
	}
	n, err := s.sc.leaseAcquire.Run(ctx, s.rdb, []string{s.k.lease(chat)}, owner, max(ttl.Milliseconds(), 1)).Int()
	if err != nil {
		return false, s.fail("acquire lease", err)
	}
	return n == 1, nil
}

// ReleaseLease implements intake.Leases (compare-and-delete).
func (s *Store) ReleaseLease(ctx context.Context, chat intake.SessionKey, owner string) error {
	if err := s.sc.leaseRelease.Run(ctx, s.rdb, []string{s.k.lease(chat)}, owner).Err(); err != nil {
		return s.fail("release lease", err)
	}
	return nil
}

// rateSlack keeps a window's counter a little past the window's end, for clocks that differ.
const rateSlack = time.Second

// Hit implements intake.RateLimits: fixed windows numbered from the Unix epoch; each window's
// counter is INCR'd and expires (PEXPIRE, server clock) after the window's length.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	if window <= 0 {
		return 0, errors.New("redisstore: a rate window must be positive")
	}
	n := now.UnixNano() / int64(window)
	ttl := window + rateSlack
	c, err := s.sc.rateHit.Run(ctx, s.rdb, []string{s.k.rate(key, window, n)}, ttl.Milliseconds()).Int()
	if err != nil {
		return 0, s.fail("rate hit", err)
	}
	return c, nil
}

// KeyRecord implements intake.KeyRecords.
func (s *Store) KeyRecord(ctx context.Context, name string) ([]byte, error) {
	b, err := s.rdb.HGet(ctx, s.k.keyRecords(), name).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, s.fail("key record", err)
	}
	return b, nil
}

// PutKeyRecord implements intake.KeyRecords.
func (s *Store) PutKeyRecord(ctx context.Context, name string, sealed []byte) error {
	if err := s.rdb.HSet(ctx, s.k.keyRecords(), name, sealed).Err(); err != nil {
		return s.fail("put key record", err)
	}
	return nil
}

// KeyRecordNames implements intake.KeyRecords, sorted.
func (s *Store) KeyRecordNames(ctx context.Context) ([]string, error) {
	names, err := s.rdb.HKeys(ctx, s.k.keyRecords()).Result()
	if err != nil {
		return nil, s.fail("key record names", err)
	}
	slices.Sort(names)
	return names, nil
}
