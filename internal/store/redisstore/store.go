package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
)

// Store is the Redis engine of the storage contract.
type Store struct {
	rdb     redis.UniversalClient
	k       keys
	sc      *scriptSet
	scrub   bool
	mode    string
	addrs   []string
	tlsUsed bool
	audit   auditCursor
}

// unavailablePrefixes are the server replies that mean "not now": a server loading its data,
// a replica or a master without its replicas, a cluster without a slot's master, a busy script,
// memory full, a failed RDB save that stops writes, too many clients.
var unavailablePrefixes = []string{
	"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY", "NOREPLICAS",
	"OOM", "MISCONF", "ERR max number of clients",
}

// isUnavailable reports whether err means the server cannot be reached or refuses work for now.
func isUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrPoolExhausted) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	msg := err.Error()
	for _, p := range unavailablePrefixes {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p+" ") {
			return true
		}
	}
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsMasterDownError(err) || redis.IsMaxClientsError(err) ||
		redis.IsOOMError(err) || redis.IsNoReplicasError(err)
}

// fail wraps an error of operation op: with intake.ErrUnavailable when the server cannot be
// reached or refuses work for now. Redis' errors carry no data, only its own words.
func (s *Store) fail(op string, err error) error {
	if isUnavailable(err) {
		return fmt.Errorf("redisstore: %s: %w: %w", op, intake.ErrUnavailable, err)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}
