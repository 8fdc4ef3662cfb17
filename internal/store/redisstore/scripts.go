package redisstore

import (
	"embed"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// scriptFiles are the Lua scripts: each multi-key change is one of them, with a header comment
// listing its KEYS, ARGV and returns.
//
//go:embed scripts/*.lua
var scriptFiles embed.FS

// scriptsWithLib are the scripts that call the helpers of scripts/lib.lua.
var scriptsWithLib = map[string]bool{
	"apply": true, "put_update": true, "done_update": true, "outbox_change": true, "restore": true,
}

// scriptSet holds the loaded scripts. redis.Script runs EVALSHA and falls back to EVAL when the
// server does not know the script (after a restart or SCRIPT FLUSH).
type scriptSet struct {
	apply, putUpdate, nextUpdate, doneUpdate, setOffset *redis.Script
	outboxDue, outboxChange, outboxDrop                 *redis.Script
	leaseAcquire, leaseRelease, rateHit                 *redis.Script
	restore                                             *redis.Script
	trackAdd, trackRemove, clearSet, clearDue, deadPut  *redis.Script
	dirPut, dirDelete, dirTake                          *redis.Script
	all                                                 map[string]*redis.Script
}

func loadScripts() (*scriptSet, error) {
	lib, err := scriptFiles.ReadFile("scripts/lib.lua")
	if err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	s := &scriptSet{all: map[string]*redis.Script{}}
	for name, dst := range map[string]**redis.Script{
		"apply": &s.apply, "put_update": &s.putUpdate, "next_update": &s.nextUpdate,
		"done_update": &s.doneUpdate, "set_offset": &s.setOffset, "outbox_due": &s.outboxDue,
		"outbox_change": &s.outboxChange, "outbox_drop": &s.outboxDrop,
		"lease_acquire": &s.leaseAcquire, "lease_release": &s.leaseRelease, "rate_hit": &s.rateHit,
		"restore": &s.restore, "track_add": &s.trackAdd, "track_remove": &s.trackRemove,
		"clear_set": &s.clearSet, "clear_due": &s.clearDue, "dead_put": &s.deadPut,
		"dir_put": &s.dirPut, "dir_delete": &s.dirDelete, "dir_take": &s.dirTake,
	} {
		src, err := scriptFiles.ReadFile("scripts/" + name + ".lua")
		if err != nil {
			return nil, fmt.Errorf("redisstore: %w", err)
		}
		if scriptsWithLib[name] {
			src = append(append(append([]byte(nil), lib...), '\n'), src...)
		}
		*dst = redis.NewScript(string(src))
		s.all[name] = *dst
	}
	return s, nil
}
