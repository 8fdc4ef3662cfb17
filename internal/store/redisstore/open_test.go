package redisstore

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url        string
		addrs      []string
		mode       string
		master     string
		db         int
		user, pass string
		tls        bool
		read       time.Duration
	}{
		{url: "redis://localhost:6379", addrs: []string{"localhost:6379"}, mode: ModeSingle},
		{url: "redis://localhost", addrs: []string{"localhost:6379"}, mode: ModeSingle},
		{url: "redis://:secret@10.0.0.1:7000/3", addrs: []string{"10.0.0.1:7000"}, mode: ModeSingle, db: 3, pass: "secret"},
		{url: "redis://penah:secret@h:1/0?read_timeout=250ms&pool_size=4", addrs: []string{"h:1"}, mode: ModeSingle, user: "penah", pass: "secret", read: 250 * time.Millisecond},
		{url: "rediss://h:6380", addrs: []string{"h:6380"}, mode: ModeSingle, tls: true},
		{url: "redis-sentinel://s1:26379,s2:26379,s3/mymaster", addrs: []string{"s1:26379", "s2:26379", "s3:6379"}, mode: ModeSentinel, master: "mymaster"},
		{url: "redis-sentinel://:pw@s1:26379/mymaster/2?sentinel_password=spw", addrs: []string{"s1:26379"}, mode: ModeSentinel, master: "mymaster", db: 2, pass: "pw"},
		{url: "rediss-sentinel://s1:26379/m", addrs: []string{"s1:26379"}, mode: ModeSentinel, master: "m", tls: true},
		{url: "redis-cluster://c1:7000", addrs: []string{"c1:7000"}, mode: ModeCluster},
		{url: "redis://c1:7000,c2:7001", addrs: []string{"c1:7000", "c2:7001"}, mode: ModeCluster},
		{url: "c1:7000,c2:7001,c3:7002", addrs: []string{"c1:7000", "c2:7001", "c3:7002"}, mode: ModeCluster},
		{url: "rediss-cluster://c1:7000,c2:7001", addrs: []string{"c1:7000", "c2:7001"}, mode: ModeCluster, tls: true},
	} {
		t.Run(tc.url, func(t *testing.T) {
			o, err := parseURL(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(o.Addrs, tc.addrs) || modeOf(o) != tc.mode || o.MasterName != tc.master || o.DB != tc.db ||
				o.Username != tc.user || o.Password != tc.pass || (o.TLSConfig != nil) != tc.tls || o.ReadTimeout != tc.read {
				t.Fatalf("parseURL = addrs %v mode %s master %q db %d user %q pass %q tls %v read %v",
					o.Addrs, modeOf(o), o.MasterName, o.DB, o.Username, o.Password, o.TLSConfig != nil, o.ReadTimeout)
			}
		})
	}
}

func TestParseURLRefuses(t *testing.T) {
	for _, bad := range []string{
		"localhost:6379",                    // one bare address: ambiguous, say redis://
		"http://localhost",                  // unknown scheme
		"redis-sentinel://s1:26379",         // no master name
		"redis-cluster://c1:7000/2",         // clusters have no databases
		"redis://h/notanumber",              // database
		"redis://h:1?read_timeout=fast",     // duration
		"redis://h:1?unknown=1",             // parameter
		"redis://h:1,,h:2",                  // empty address
		"redis://user:pa ss@h:1/%zz",        // does not parse
		"redis://h:1?pool_size=-1",          // pool size
		"redis-sentinel://s:1/master/2/too", // path
	} {
		if _, err := parseURL(bad); err == nil {
			t.Errorf("parseURL(%q) accepted it", bad)
		}
	}
	// A URL that does not parse is not echoed: it may hold a password.
	for _, bad := range []string{"redis://user:topsecret@h:1/%zz", "user:topsecret@h:1"} {
		if _, err := parseURL(bad); err == nil || strings.Contains(err.Error(), "topsecret") {
			t.Errorf("error for %q = %v", bad, err)
		}
	}
}

func TestIsUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{fmt.Errorf("wrapped: %w", io.ErrUnexpectedEOF), true},
		{redis.ErrPoolTimeout, true},
		{errors.New("LOADING Redis is loading the dataset in memory"), true},
		{errors.New("READONLY You can't write against a read only replica."), true},
		{errors.New("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), true},
		{errors.New("CLUSTERDOWN The cluster is down"), true},
		{errors.New("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{errors.New("BUSY Redis is busy running a script."), true},
		{errors.New("OOM command not allowed when used memory > 'maxmemory'."), true},
		{errors.New("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk."), true},
		{errors.New("NOREPLICAS Not enough good replicas to write."), true},
		{errors.New("ERR max number of clients reached"), true},
		{errors.New("ERR Error running script: user_script:1: OOM command not allowed when used memory > 'maxmemory'"), true},
		{redis.Nil, false},
		{errors.New("ERR unknown command"), false},
		{errors.New("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{errors.New("NOAUTH Authentication required."), false},
	} {
		if got := isUnavailable(tc.err); got != tc.want {
			t.Errorf("isUnavailable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
