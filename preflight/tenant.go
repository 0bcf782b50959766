// Package preflight reads what a FlashAI tenant has (scripts, script variables,
// lines, agents) and checks a campaign against it before anything is written, so
// that a typo in botence_id or line_ids is refused at enqueue instead of failing
// every part at the vendor. The enqueue command's discovery subcommands
// (enqueue vendor flashai ...) read through it too.
package preflight

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/vendors/flashai"
)

// Reader is what the preflight reads of FlashAI. *flashai.Client implements it.
type Reader interface {
	GetBotence(ctx context.Context) ([]flashai.Script, error)
	QueryPlanParams(ctx context.Context) ([]flashai.Param, error)
	GetCallLine(ctx context.Context) ([]flashai.Line, error)
	QueryAgentGroup(ctx context.Context) (*flashai.AgentList, error)
}

// Tenant is what the tenant has, as read at FetchedAt.
type Tenant struct {
	Scripts []flashai.Script `json:"scripts"`
	Params  []flashai.Param  `json:"params"`
	Lines   []flashai.Line   `json:"lines"`
	Agents  []flashai.Agent  `json:"agents"`
	// AgentsTotal is the vendor's count of agents, above len(Agents) when its list
	// was cut.
	AgentsTotal int       `json:"agents_total"`
	FetchedAt   time.Time `json:"fetched_at"`
}

// Fetch reads the whole tenant: four calls.
func Fetch(ctx context.Context, r Reader, now time.Time) (*Tenant, error) {
	t := &Tenant{FetchedAt: now.UTC()}
	var err error
	if t.Scripts, err = r.GetBotence(ctx); err != nil {
		return nil, fmt.Errorf("read the tenant's scripts: %w", err)
	}
	if t.Params, err = r.QueryPlanParams(ctx); err != nil {
		return nil, fmt.Errorf("read the tenant's script variables: %w", err)
	}
	if t.Lines, err = r.GetCallLine(ctx); err != nil {
		return nil, fmt.Errorf("read the tenant's lines: %w", err)
	}
	agents, err := r.QueryAgentGroup(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the tenant's agents: %w", err)
	}
	t.Agents, t.AgentsTotal = agents.Agents, agents.Total
	return t, nil
}

// Client builds a FlashAI client from the worker's FLASHAI_* variables (secrets
// may be given as *_FILE, see flashai.ConfigFromEnv). configured is false when
// none is set. Nonces are reserved in rdb like the worker's when rdb is given, else
// drawn at random (reads only; see flashai.RandomNonces).
func Client(getenv envconf.Getenv, rdb redis.UniversalClient) (c *flashai.Client, cfg flashai.Config, configured bool, err error) {
	cfg, configured, err = flashai.ConfigFromEnv(getenv)
	if err != nil || !configured {
		return nil, cfg, configured, err
	}
	cfg.Nonces = flashai.RandomNonces{}
	if rdb != nil {
		cfg.Nonces = flashai.NewRedisNonces(rdb)
	}
	cfg.Timeout = 10 * time.Second
	c, err = flashai.NewClient(cfg)
	return c, cfg, true, err
}

// Cache keeps a tenant read in a file for TTL. enqueue is a short-lived command
// that an operator runs several times in a row; a file under the user's cache dir
// outlives one run, needs no Redis (a -dry-run opens none) and holds nothing secret
// (ids and names). Each tenant has its own file, named by a hash of the base URL
// and the client id.
type Cache struct {
	Dir string
	TTL time.Duration
}

// DefaultTTL is short: a script or line added at the vendor's console shows within
// two minutes, and a miss is re-read live before it refuses anything.
const DefaultTTL = 2 * time.Minute

// DefaultCache is under the user's cache dir ($XDG_CACHE_HOME as getenv reads
// it, else os.UserCacheDir) in dialq/, or nil when there is none.
func DefaultCache(getenv envconf.Getenv) *Cache {
	dir := getenv("XDG_CACHE_HOME")
	if dir == "" {
		var err error
		if dir, err = os.UserCacheDir(); err != nil {
			return nil
		}
	}
	return &Cache{Dir: filepath.Join(dir, "dialq"), TTL: DefaultTTL}
}

func cacheFile(dir string, cfg flashai.Config) string {
	h := sha256.Sum256([]byte(cfg.BaseURL + "\x00" + cfg.ClientID))
	return filepath.Join(dir, "flashai-tenant-"+hex.EncodeToString(h[:8])+".json")
}

// Load returns the cached tenant when it is younger than TTL.
func (c *Cache) Load(cfg flashai.Config, now time.Time) (*Tenant, bool) {
	if c == nil {
		return nil, false
	}
	b, err := os.ReadFile(cacheFile(c.Dir, cfg))
	if err != nil {
		return nil, false
	}
	var t Tenant
	if json.Unmarshal(b, &t) != nil || now.Sub(t.FetchedAt) > c.TTL || now.Before(t.FetchedAt) {
		return nil, false
	}
	return &t, true
}

// Store writes t; failing to is not an error worth stopping an enqueue for.
func (c *Cache) Store(cfg flashai.Config, t *Tenant) {
	if c == nil {
		return
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return
	}
	b, err := json.Marshal(t)
	if err != nil {
		return
	}
	f, err := os.CreateTemp(c.Dir, ".flashai-tenant-*")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), cacheFile(c.Dir, cfg)) != nil {
		os.Remove(f.Name())
	}
}
