package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
)

// The officer side's configuration (intake.Directory): teams, officers, invites, as sealed
// records by name. Each record is a hash {v, b} in the ledger slot, and a lex-ordered sorted set
// holds every name; a write, a delete and a take change both in one script.

var _ intake.Directory = (*Store)(nil)

// DirRecord implements intake.Directory (one HMGET: version and record together).
func (s *Store) DirRecord(ctx context.Context, name string) ([]byte, intake.Version, error) {
	if err := intake.CheckDirName(name); err != nil {
		return nil, 0, fmt.Errorf("redisstore: directory record: %w", err)
	}
	v, err := s.rdb.HMGet(ctx, s.k.dirRecord(name), "v", "b").Result()
	if err != nil {
		return nil, 0, s.fail("directory record", err)
	}
	vt, ok1 := v[0].(string)
	b, ok2 := v[1].(string)
	if !ok1 && !ok2 {
		return nil, 0, nil
	}
	ver, err := strconv.ParseUint(vt, 10, 64)
	if !ok1 || !ok2 || err != nil || ver == 0 || b == "" {
		return nil, 0, fmt.Errorf("redisstore: directory record %q is damaged", name)
	}
	return []byte(b), intake.Version(ver), nil
}

// PutDirRecord implements intake.Directory. A name or record the contract does not allow is
// refused with an error that is not intake.ErrConflict, and nothing is written.
func (s *Store) PutDirRecord(ctx context.Context, name string, sealed []byte, expect intake.Version) (intake.Version, error) {
	if err := intake.CheckDirName(name); err != nil {
		return 0, fmt.Errorf("redisstore: put directory record: %w", err)
	}
	if err := intake.CheckDirRecord(sealed); err != nil {
		return 0, fmt.Errorf("redisstore: put directory record: %w", err)
	}
	n, err := s.sc.dirPut.Run(ctx, s.rdb, []string{s.k.dirRecord(name), s.k.dirNames()},
		name, u64(uint64(expect)), sealed).Int64()
	if err != nil {
		return 0, s.fail("put directory record", err)
	}
	if n < 0 {
		return 0, fmt.Errorf("redisstore: put directory record: not at version %d: %w", expect, intake.ErrConflict)
	}
	return intake.Version(n), nil
}

// DeleteDirRecord implements intake.Directory.
func (s *Store) DeleteDirRecord(ctx context.Context, name string, expect intake.Version) error {
	if err := intake.CheckDirName(name); err != nil {
		return fmt.Errorf("redisstore: delete directory record: %w", err)
	}
	n, err := s.sc.dirDelete.Run(ctx, s.rdb, []string{s.k.dirRecord(name), s.k.dirNames()},
		name, u64(uint64(expect))).Int64()
	if err != nil {
		return s.fail("delete directory record", err)
	}
	if n < 0 {
		return fmt.Errorf("redisstore: delete directory record: not at version %d: %w", expect, intake.ErrConflict)
	}
	return nil
}

// TakeDirRecord implements intake.Directory: one script reads and deletes, so of two takers
// the second finds nothing.
func (s *Store) TakeDirRecord(ctx context.Context, name string) ([]byte, error) {
	if err := intake.CheckDirName(name); err != nil {
		return nil, fmt.Errorf("redisstore: take directory record: %w", err)
	}
	b, err := s.sc.dirTake.Run(ctx, s.rdb, []string{s.k.dirRecord(name), s.k.dirNames()}, name).Text()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, s.fail("take directory record", err)
	}
	return []byte(b), nil
}

// DirRecordNames implements intake.Directory: a lex range of the names index, [prefix, prefix
// followed by DEL (0x7f), the byte after every printable one).
func (s *Store) DirRecordNames(ctx context.Context, prefix string) ([]string, error) {
	if intake.CheckDirPrefix(prefix) != nil {
		return nil, fmt.Errorf("redisstore: directory record names: %w", intake.ErrDirPrefix)
	}
	by := &redis.ZRangeBy{Min: "-", Max: "+"}
	if prefix != "" {
		by = &redis.ZRangeBy{Min: "[" + prefix, Max: "(" + prefix + "\x7f"}
	}
	names, err := s.rdb.ZRangeByLex(ctx, s.k.dirNames(), by).Result()
	if err != nil {
		return nil, s.fail("directory record names", err)
	}
	if len(names) == 0 {
		return nil, nil
	}
	return names, nil
}
