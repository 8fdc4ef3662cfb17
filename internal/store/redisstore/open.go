package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/penahbot/penah/internal/intake"
)

// Fail-fast defaults: the Telegram edge must learn quickly that it cannot store an update, so
// that it does not acknowledge it. Each can be changed with an Option or a URL parameter.
const (
	DefaultDialTimeout  = 500 * time.Millisecond
	DefaultReadTimeout  = time.Second
	DefaultWriteTimeout = time.Second
	// DefaultPoolTimeout is how long an operation waits for a free connection.
	DefaultPoolTimeout = time.Second
)

// RequiredEvictionPolicy is the only maxmemory-policy under which Redis never drops a key on its
// own: any other could silently lose a report.
const RequiredEvictionPolicy = "noeviction"

// Schemes Open accepts.
const (
	SchemeRedis          = "redis"           // redis://[user:password@]host:port[/db]
	SchemeRedisTLS       = "rediss"          // the same over TLS
	SchemeSentinel       = "redis-sentinel"  // redis-sentinel://[user:password@]h:p,h:p/master[/db]
	SchemeSentinelTLS    = "rediss-sentinel" // the same over TLS
	SchemeCluster        = "redis-cluster"   // redis-cluster://[user:password@]h:p,h:p
	SchemeClusterTLS     = "rediss-cluster"  // the same over TLS
	defaultRedisPortText = "6379"
)

// ErrEvictionPolicy is returned by Open when the server may evict keys.
var ErrEvictionPolicy = errors.New("redis maxmemory-policy must be " + RequiredEvictionPolicy)

// ErrConfigUnavailable is returned by Open when the server refuses CONFIG GET (managed services
// often disable it), so the eviction policy cannot be checked; AllowUncheckedEviction starts
// anyway.
var ErrConfigUnavailable = errors.New("redis CONFIG GET is disabled: cannot check maxmemory-policy")

// Option changes how Open connects.
type Option func(*config)

type config struct {
	prefix                 string
	dial, read, write      time.Duration
	pool                   time.Duration
	poolSize               int
	allowUncheckedEviction bool
	scrub                  bool
}

// WithPrefix starts every key with prefix instead of DefaultPrefix ("penah:"); several Penah
// deployments can share one Redis with different prefixes.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithTimeouts sets the dial, read and write timeouts (zero keeps a default).
func WithTimeouts(dial, read, write time.Duration) Option {
	return func(c *config) {
		if dial > 0 {
			c.dial = dial
		}
		if read > 0 {
			c.read = read
		}
		if write > 0 {
			c.write = write
		}
	}
}

// WithPoolSize sets the number of connections per server (default: go-redis's, 10 per CPU).
func WithPoolSize(n int) Option { return func(c *config) { c.poolSize = n } }

// AllowUncheckedEviction lets Open start when the server refuses CONFIG GET, so its eviction
// policy cannot be read. Use it only for a managed Redis whose policy you have set to noeviction
// yourself. A policy that can be read and is not noeviction is refused all the same.
func AllowUncheckedEviction() Option { return func(c *config) { c.allowUncheckedEviction = true } }

// WithoutFileScrub stops Shred and /forget from rewriting the server's persistence files (AOF
// rewrite, RDB save) after they delete envelopes. Without the rewrite, a deleted envelope stays
// readable in the old files until Redis rewrites them by itself: use it only where the service
// forbids BGREWRITEAOF and the operator accepts that.
func WithoutFileScrub() Option { return func(c *config) { c.scrub = false } }

// parseURL turns a store URL into client options; see Open for the forms.
func parseURL(raw string) (*redis.UniversalOptions, error) {
	o := &redis.UniversalOptions{}
	if !strings.Contains(raw, "://") {
		// A bare address list: "host:port,host:port" is a cluster seed list.
		if !strings.Contains(raw, ",") {
			// Not echoed: it may hold a password.
			return nil, errors.New("redisstore: the store URL is not a redis URL (redis://, rediss://, redis-sentinel://, redis-cluster://) or a comma-separated cluster address list")
		}
		raw = SchemeCluster + "://" + raw
	}
	// The host part may list several addresses, which net/url does not accept: take it apart
	// first, then parse the rest with a placeholder host.
	scheme, rest, _ := strings.Cut(raw, "://")
	hosts, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		hosts, tail = rest[:i], rest[i:]
	}
	userinfo := ""
	if i := strings.LastIndex(hosts, "@"); i >= 0 {
		userinfo, hosts = hosts[:i+1], hosts[i+1:]
	}
	u, err := url.Parse(scheme + "://" + userinfo + "placeholder" + tail)
	if err != nil {
		// Do not echo the URL: it may hold a password.
		return nil, errors.New("redisstore: the store URL does not parse")
	}
	var sentinel, cluster, useTLS bool
	switch u.Scheme {
	case SchemeRedis:
	case SchemeRedisTLS:
		useTLS = true
	case SchemeSentinel:
		sentinel = true
	case SchemeSentinelTLS:
		sentinel, useTLS = true, true
	case SchemeCluster:
		cluster = true
	case SchemeClusterTLS:
		cluster, useTLS = true, true
	default:
		return nil, fmt.Errorf("redisstore: unknown scheme %q", u.Scheme)
	}
	for _, h := range strings.Split(hosts, ",") {
		if h == "" {
			return nil, errors.New("redisstore: empty address in the store URL")
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, defaultRedisPortText)
		}
		o.Addrs = append(o.Addrs, h)
	}
	if len(o.Addrs) == 0 {
		return nil, errors.New("redisstore: no address in the store URL")
	}
	// Several addresses after redis:// or rediss:// also mean a cluster.
	if !sentinel && len(o.Addrs) > 1 {
		cluster = true
	}
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}
	path := strings.Trim(u.Path, "/")
	var parts []string
	if path != "" {
		parts = strings.Split(path, "/")
	}
	if sentinel {
		if len(parts) == 0 || parts[0] == "" {
			return nil, errors.New("redisstore: redis-sentinel:// needs the master name as its path: redis-sentinel://h:p,h:p/mymaster")
		}
		o.MasterName, parts = parts[0], parts[1:]
	}
	if len(parts) > 1 {
		return nil, errors.New("redisstore: too many path elements in the store URL")
	}
	if len(parts) == 1 {
		if cluster {
			return nil, errors.New("redisstore: Redis Cluster has no database numbers")
		}
		db, err := strconv.Atoi(parts[0])
		if err != nil || db < 0 {
			return nil, fmt.Errorf("redisstore: database %q is not a number", parts[0])
		}
		o.DB = db
	}
	if cluster {
		o.IsClusterMode = true
	}
	if useTLS {
		host, _, _ := net.SplitHostPort(o.Addrs[0])
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
		if len(o.Addrs) > 1 {
			// Several hosts: verify each against its own name.
			o.TLSConfig.ServerName = ""
		}
	}
	q := u.Query()
	for name, vals := range q {
		v := vals[len(vals)-1]
		switch name {
		case "dial_timeout", "read_timeout", "write_timeout", "pool_timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("redisstore: %s=%q is not a positive duration", name, v)
			}
			switch name {
			case "dial_timeout":
				o.DialTimeout = d
			case "read_timeout":
				o.ReadTimeout = d
			case "write_timeout":
				o.WriteTimeout = d
			default:
				o.PoolTimeout = d
			}
		case "pool_size":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("redisstore: pool_size=%q is not a positive number", v)
			}
			o.PoolSize = n
		case "sentinel_password":
			o.SentinelPassword = v
		case "sentinel_username":
			o.SentinelUsername = v
		case "client_name":
			o.ClientName = v
		default:
			return nil, fmt.Errorf("redisstore: unknown URL parameter %q", name)
		}
	}
	return o, nil
}

// Open connects to Redis and checks that it is fit to hold Penah's data. url is one of:
//
//	redis://[user:password@]host:port[/db]            one server (or a proxy)
//	rediss://[user:password@]host:port[/db]           one server over TLS
//	redis-sentinel://[user:password@]h:p,h:p/master[/db]
//	                                                  the master named master, found through the
//	                                                  Sentinels at h:p,...; user and password are
//	                                                  the data servers' (sentinel_username and
//	                                                  sentinel_password parameters for the
//	                                                  Sentinels'); rediss-sentinel:// for TLS
//	redis-cluster://[user:password@]h:p,h:p            a Redis Cluster, from these seed nodes;
//	                                                  rediss-cluster:// for TLS
//	h:p,h:p                                           a bare comma-separated list is a cluster
//	                                                  seed list, and so is redis://h:p,h:p
//
// A comma in the host part is what tells a cluster from one server: a single-seed cluster needs
// redis-cluster://. URL parameters: dial_timeout, read_timeout, write_timeout, pool_timeout (Go
// durations), pool_size, client_name, sentinel_username, sentinel_password.
//
// Open pings the server and refuses to start unless maxmemory-policy is noeviction
// (ErrEvictionPolicy), or when CONFIG GET is refused (ErrConfigUnavailable) unless
// AllowUncheckedEviction is given. Errors reaching the server wrap intake.ErrUnavailable.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	cfg := config{
		prefix: DefaultPrefix, dial: DefaultDialTimeout, read: DefaultReadTimeout,
		write: DefaultWriteTimeout, pool: DefaultPoolTimeout, scrub: true,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	uo, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	// URL parameters win over options, options over defaults.
	if uo.DialTimeout == 0 {
		uo.DialTimeout = cfg.dial
	}
	if uo.ReadTimeout == 0 {
		uo.ReadTimeout = cfg.read
	}
	if uo.WriteTimeout == 0 {
		uo.WriteTimeout = cfg.write
	}
	if uo.PoolTimeout == 0 {
		uo.PoolTimeout = cfg.pool
	}
	if uo.PoolSize == 0 {
		uo.PoolSize = cfg.poolSize
	}
	// One dial attempt per operation, no automatic command retries: a retried EVALSHA whose
	// first run succeeded but whose reply was lost would run the change twice. The caller
	// retries, and go-redis reconnects by itself on the next operation.
	uo.DialerRetries = 1
	uo.MaxRetries = -1
	uo.ContextTimeoutEnabled = true
	uo.DisableIdentity = true

	scripts, err := loadScripts()
	if err != nil {
		return nil, err
	}
	s := &Store{
		rdb:     redis.NewUniversalClient(uo),
		k:       newKeys(cfg.prefix),
		sc:      scripts,
		scrub:   cfg.scrub,
		mode:    modeOf(uo),
		addrs:   uo.Addrs,
		tlsUsed: uo.TLSConfig != nil,
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.rdb.Close()
		return nil, s.fail("ping", err)
	}
	if err := s.checkEviction(ctx, cfg.allowUncheckedEviction); err != nil {
		s.rdb.Close()
		return nil, err
	}
	for name, sc := range s.sc.all {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			s.rdb.Close()
			return nil, s.fail("loading script "+name, err)
		}
	}
	return s, nil
}

// Topologies, as Check reports them.
const (
	ModeSingle   = "single"
	ModeSentinel = "sentinel"
	ModeCluster  = "cluster"
)

func modeOf(o *redis.UniversalOptions) string {
	switch {
	case o.MasterName != "":
		return ModeSentinel
	case o.IsClusterMode:
		return ModeCluster
	default:
		return ModeSingle
	}
}

// configGet reads one setting from every master (in a Cluster, each one: they could differ).
func (s *Store) configGet(ctx context.Context, name string) ([]string, error) {
	get := func(ctx context.Context, c *redis.Client) (string, error) {
		m, err := c.ConfigGet(ctx, name).Result()
		if err != nil {
			return "", err
		}
		return m[name], nil
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		var (
			vals []string
			mu   sync.Mutex
		)
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			v, err := get(ctx, c)
			if err != nil {
				return err
			}
			mu.Lock()
			vals = append(vals, v)
			mu.Unlock()
			return nil
		})
		return vals, err
	}
	m, err := s.rdb.ConfigGet(ctx, name).Result()
	if err != nil {
		return nil, err
	}
	return []string{m[name]}, nil
}

// checkEviction refuses a server that may evict keys.
func (s *Store) checkEviction(ctx context.Context, allowUnchecked bool) error {
	vals, err := s.configGet(ctx, "maxmemory-policy")
	if err != nil {
		if isUnavailable(err) {
			return s.fail("CONFIG GET maxmemory-policy", err)
		}
		if allowUnchecked {
			return nil
		}
		return fmt.Errorf("redisstore: %w (%v); set maxmemory-policy %s on the server and start with AllowUncheckedEviction", ErrConfigUnavailable, err, RequiredEvictionPolicy)
	}
	for _, v := range vals {
		if v != RequiredEvictionPolicy {
			return fmt.Errorf("redisstore: refusing to start: the server's maxmemory-policy is %q, so Redis may delete reports when memory runs out: %w (CONFIG SET maxmemory-policy %s, and in redis.conf)", v, ErrEvictionPolicy, RequiredEvictionPolicy)
		}
	}
	if len(vals) == 0 {
		return fmt.Errorf("redisstore: %w: no master answered", ErrConfigUnavailable)
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.rdb.Close() }

var _ intake.Store = (*Store)(nil)
