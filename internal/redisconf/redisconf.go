// Package redisconf is the one Redis connection contract of every dialq program:
// a single Redis (REDIS_URL), a Redis Cluster (REDIS_CLUSTER_ADDRS) or a
// Sentinel-managed master (REDIS_SENTINEL_ADDRS + REDIS_SENTINEL_MASTER), read from
// the environment into one go-redis UniversalClient per process that asynq, the
// ledger, the rate limiter and the nonce store share. It also checks the server's
// durability (durability.go) and confirms writes durably (confirm.go).
package redisconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/envconf"
)

// DefaultURL is used when no mode is configured at all.
const DefaultURL = "redis://127.0.0.1:6379/0"

// The variables of the contract.
const (
	EnvURL              = "REDIS_URL"
	EnvClusterAddrs     = "REDIS_CLUSTER_ADDRS"
	EnvSentinelAddrs    = "REDIS_SENTINEL_ADDRS"
	EnvSentinelMaster   = "REDIS_SENTINEL_MASTER"
	EnvUsername         = "REDIS_USERNAME"
	EnvPassword         = "REDIS_PASSWORD"
	EnvSentinelPassword = "REDIS_SENTINEL_PASSWORD"
	EnvTLS              = "REDIS_TLS"
)

// FlagHelp is the help text for a program's -redis flag: it names the variables and
// never shows their values (REDIS_URL may hold a password).
const FlagHelp = "Redis URL, redis:// or rediss:// (default $REDIS_URL, else " + DefaultURL +
	"); Cluster and Sentinel come from REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS+REDIS_SENTINEL_MASTER (see README)"

// Mode is how a program reaches Redis.
type Mode string

// The modes.
const (
	Single   Mode = "single"
	Cluster  Mode = "cluster"
	Sentinel Mode = "sentinel"
)

// Config is the contract read from the environment, before any connection.
type Config struct {
	Mode Mode
	// Single: the parsed URL (credentials and TLS merged in).
	single *redis.Options
	// Cluster seed nodes, or the sentinels.
	Addrs []string
	// MasterName is the Sentinel master's name.
	MasterName       string
	Username         string
	password         string
	sentinelPassword string
	tls              *tls.Config
	// PoolSize, when positive, sets the connections per node (a URL's pool_size
	// wins); zero keeps go-redis's 10 per CPU.
	PoolSize int
}

// Load reads the contract. urlFlag is a program's -redis flag; when empty,
// REDIS_URL is used. Setting more than one mode is an error naming the variables.
// No error repeats a URL or a password.
func Load(getenv envconf.Getenv, urlFlag string) (*Config, error) {
	rawURL, urlName := urlFlag, "-redis/"+EnvURL
	if rawURL == "" {
		rawURL, urlName = getenv(EnvURL), EnvURL
	}
	clusterAddrs := getenv(EnvClusterAddrs)
	sentinelAddrs, master := getenv(EnvSentinelAddrs), getenv(EnvSentinelMaster)
	var set []string
	if rawURL != "" {
		set = append(set, urlName)
	}
	if clusterAddrs != "" {
		set = append(set, EnvClusterAddrs)
	}
	if sentinelAddrs != "" || master != "" {
		set = append(set, EnvSentinelAddrs)
	}
	if len(set) > 1 {
		return nil, fmt.Errorf("redis configuration: %s are all set: choose one of a single Redis, a Cluster or Sentinel", strings.Join(set, " and "))
	}

	c := &Config{Username: getenv(EnvUsername)}
	var err error
	if c.password, err = envconf.Secret(getenv, EnvPassword); err != nil {
		return nil, err
	}
	if c.sentinelPassword, err = envconf.Secret(getenv, EnvSentinelPassword); err != nil {
		return nil, err
	}
	useTLS := false
	if s := getenv(EnvTLS); s != "" {
		if useTLS, err = strconv.ParseBool(s); err != nil {
			return nil, fmt.Errorf("%s %q: want true or false", EnvTLS, s)
		}
	}
	if useTLS {
		c.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}

	switch {
	case clusterAddrs != "":
		c.Mode = Cluster
		if c.Addrs, err = parseAddrs(EnvClusterAddrs, clusterAddrs); err != nil {
			return nil, err
		}
	case sentinelAddrs != "" || master != "":
		c.Mode = Sentinel
		if sentinelAddrs == "" || master == "" {
			return nil, fmt.Errorf("redis configuration: %s and %s must be set together", EnvSentinelAddrs, EnvSentinelMaster)
		}
		if c.Addrs, err = parseAddrs(EnvSentinelAddrs, sentinelAddrs); err != nil {
			return nil, err
		}
		c.MasterName = master
	default:
		c.Mode = Single
		if rawURL == "" {
			rawURL = DefaultURL
		}
		if err := c.loadURL(urlName, rawURL, useTLS); err != nil {
			return nil, err
		}
	}
	if c.sentinelPassword != "" && c.Mode != Sentinel {
		return nil, fmt.Errorf("redis configuration: %s is set but %s is not", EnvSentinelPassword, EnvSentinelAddrs)
	}
	return c, nil
}

// loadURL parses a single Redis URL and merges REDIS_USERNAME/REDIS_PASSWORD into
// it; the URL and the variables may not both carry a password.
func (c *Config) loadURL(name, raw string, useTLS bool) error {
	opt, err := redis.ParseURL(raw)
	if err != nil {
		// go-redis's error may quote the URL: say what is wrong without it.
		return fmt.Errorf("%s is not a redis:// or rediss:// URL", name)
	}
	if opt.Password != "" && c.password != "" {
		return fmt.Errorf("redis configuration: %s carries a password and %s is set: keep one", name, EnvPassword)
	}
	if opt.Username != "" && c.Username != "" && opt.Username != c.Username {
		return fmt.Errorf("redis configuration: %s names a user and %s names another", name, EnvUsername)
	}
	if useTLS && opt.TLSConfig == nil {
		return fmt.Errorf("redis configuration: %s=true with a redis:// URL: use rediss:// for TLS", EnvTLS)
	}
	if opt.Password == "" {
		opt.Password = c.password
	}
	if opt.Username == "" {
		opt.Username = c.Username
	}
	c.Username, c.password, c.tls = opt.Username, opt.Password, opt.TLSConfig
	c.Addrs = []string{opt.Addr}
	c.single = opt
	return nil
}

func parseAddrs(name, s string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || host == "" || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%s: %q is not host:port", name, a)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no host:port given", name)
	}
	return out, nil
}

// Describe says where the configuration points, safe for logs and errors: a
// password shows as ***.
func (c *Config) Describe() string {
	var b strings.Builder
	switch c.Mode {
	case Single:
		u := url.URL{Scheme: "redis", Host: c.single.Addr, Path: "/" + strconv.Itoa(c.single.DB)}
		if c.single.TLSConfig != nil {
			u.Scheme = "rediss"
		}
		switch {
		case c.password != "":
			u.User = url.UserPassword(c.Username, "***")
		case c.Username != "":
			u.User = url.User(c.Username)
		}
		// url.URL escapes '*'; the mask reads better plain.
		return strings.Replace(u.String(), "%2A%2A%2A", "***", 1)
	case Cluster:
		fmt.Fprintf(&b, "redis cluster via %s", strings.Join(c.Addrs, ","))
	case Sentinel:
		fmt.Fprintf(&b, "redis sentinel master %q via %s", c.MasterName, strings.Join(c.Addrs, ","))
	}
	if c.Username != "" {
		fmt.Fprintf(&b, " user %s", c.Username)
	}
	if c.password != "" {
		b.WriteString(" password ***")
	}
	if c.tls != nil {
		b.WriteString(" tls")
	}
	return b.String()
}

// MaskURL returns a Redis URL with its password replaced by ***, for help texts
// and logs; a string that does not parse is not shown at all.
func MaskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "***")
	}
	return strings.Replace(u.String(), "%2A%2A%2A", "***", 1)
}

// Conn is a process's Redis: one connection pool, shared.
type Conn struct {
	// Client is the pool every part of the process uses: ledger, rate limiter,
	// nonce store and, through Asynq, asynq itself.
	Client redis.UniversalClient
	// Asynq hands asynq.NewServer / NewClient / NewInspector (and jobs.NewServer)
	// the same pool; their Close leaves the pool open (Conn.Close closes it).
	Asynq asynq.RedisConnOpt
	cfg   *Config
}

// FromEnv is Load followed by Open.
func FromEnv(getenv envconf.Getenv, urlFlag string) (*Conn, error) {
	cfg, err := Load(getenv, urlFlag)
	if err != nil {
		return nil, err
	}
	return cfg.Open(), nil
}

// Open builds the pool; it does not dial (see Conn.Ping).
func (c *Config) Open() *Conn {
	var client redis.UniversalClient
	switch c.Mode {
	case Cluster:
		client = redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: c.Addrs, Username: c.Username, Password: c.password, TLSConfig: c.tls, PoolSize: c.PoolSize,
		})
	case Sentinel:
		client = redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: c.MasterName, SentinelAddrs: c.Addrs, SentinelPassword: c.sentinelPassword,
			Username: c.Username, Password: c.password, TLSConfig: c.tls, PoolSize: c.PoolSize,
		})
	default:
		opt := *c.single
		if opt.PoolSize == 0 {
			opt.PoolSize = c.PoolSize
		}
		client = redis.NewClient(&opt)
	}
	return &Conn{Client: client, Asynq: shared{client}, cfg: c}
}

// Describe is Config.Describe: where this connection points, password masked.
func (c *Conn) Describe() string { return c.cfg.Describe() }

// Mode is the connection's mode.
func (c *Conn) Mode() Mode { return c.cfg.Mode }

// Dashboard returns connection options for asynqmon, which opens (and on Close
// closes) a pool of its own and cannot be handed a shared one.
func (c *Conn) Dashboard() asynq.RedisConnOpt {
	cfg := c.cfg
	switch cfg.Mode {
	case Cluster:
		return asynq.RedisClusterClientOpt{Addrs: cfg.Addrs, Username: cfg.Username, Password: cfg.password, TLSConfig: cfg.tls}
	case Sentinel:
		return asynq.RedisFailoverClientOpt{
			MasterName: cfg.MasterName, SentinelAddrs: cfg.Addrs, SentinelPassword: cfg.sentinelPassword,
			Username: cfg.Username, Password: cfg.password, TLSConfig: cfg.tls,
		}
	default:
		return AsynqOpt(cfg.single)
	}
}

// Ping checks that Redis answers (every master on a Cluster is not required: the
// cluster client answers from any node). Its error names the masked description.
func (c *Conn) Ping(ctx context.Context) error {
	if err := c.Client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", c.Describe(), err)
	}
	return nil
}

// Close closes the pool.
func (c *Conn) Close() error {
	if err := c.Client.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return err
	}
	return nil
}

// shared is an asynq.RedisConnOpt that hands asynq the process's pool. asynq
// closes what MakeRedisClient returns when built from options; the noClose wrapper
// keeps that from closing the pool under everyone else.
type shared struct{ c redis.UniversalClient }

func (s shared) MakeRedisClient() any { return noClose{s.c} }

type noClose struct{ redis.UniversalClient }

func (noClose) Close() error { return nil }

// Parse reads a redis:// or rediss:// URL with optional user, password and DB.
// The error never repeats the URL: it may hold a password. Kept for tests and
// tools that take one URL; programs use FromEnv.
func Parse(rawURL string) (*redis.Options, asynq.RedisClientOpt, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, asynq.RedisClientOpt{}, fmt.Errorf("REDIS_URL is not a redis:// or rediss:// URL")
	}
	return opt, AsynqOpt(opt), nil
}

// AsynqOpt converts go-redis options to asynq's.
func AsynqOpt(opt *redis.Options) asynq.RedisClientOpt {
	return asynq.RedisClientOpt{
		Network: opt.Network, Addr: opt.Addr, Username: opt.Username, Password: opt.Password,
		DB: opt.DB, TLSConfig: opt.TLSConfig, PoolSize: opt.PoolSize,
	}
}
