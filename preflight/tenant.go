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
// none is set. Its nonces are drawn at random, not reserved in Redis: it only
// reads, and a refused campaign must leave Redis untouched (see
// flashai.RandomNonces for the odds and the cost of a collision).
func Client(getenv envconf.Getenv) (c *flashai.Client, cfg flashai.Config, configured bool, err error) {
	cfg, configured, err = flashai.ConfigFromEnv(getenv)
	if err != nil || !configured {
		return nil, cfg, configured, err
	}
	cfg.Nonces = flashai.RandomNonces{}
	cfg.Timeout = 10 * time.Second
	c, err = flashai.NewClient(cfg)
	return c, cfg, true, err
}

// Cache keeps vendor reads (a tenant, a batch's lines) in files for TTL. enqueue
// is a short-lived command that an operator runs several times in a row; a file
// under the user's cache dir outlives one run, needs no Redis (a -dry-run opens
// none) and holds nothing secret (ids and names). Each entry has its own file,
// named by a hash of the base URL, the client id and what it holds.
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

// file is where the entry named by key lives: a hash, so that ids of one tenant
// never name another's file.
func (c *Cache) file(key []string) string {
	h := sha256.New()
	for _, k := range key {
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	return filepath.Join(c.Dir, "flashai-"+hex.EncodeToString(h.Sum(nil)[:10])+".json")
}

type cacheEntry struct {
	At   time.Time       `json:"at"`
	Data json.RawMessage `json:"data"`
}

// Get reads the entry named by key into v when it is younger than TTL, and
// returns when it was stored.
func (c *Cache) Get(key []string, now time.Time, v any) (time.Time, bool) {
	if c == nil {
		return time.Time{}, false
	}
	b, err := os.ReadFile(c.file(key))
	if err != nil {
		return time.Time{}, false
	}
	var e cacheEntry
	if json.Unmarshal(b, &e) != nil || now.Sub(e.At) > c.TTL || now.Before(e.At) || json.Unmarshal(e.Data, v) != nil {
		return time.Time{}, false
	}
	return e.At, true
}

// Put stores v under key as of at; failing to is not worth stopping a command for.
func (c *Cache) Put(key []string, at time.Time, v any) {
	if c == nil {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	b, err := json.Marshal(cacheEntry{At: at, Data: data})
	if err != nil || os.MkdirAll(c.Dir, 0o700) != nil {
		return
	}
	f, err := os.CreateTemp(c.Dir, ".flashai-*")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), c.file(key)) != nil {
		os.Remove(f.Name())
	}
}

// TenantKey names a tenant's cache entry.
func TenantKey(cfg flashai.Config) []string { return []string{cfg.BaseURL, cfg.ClientID, "tenant"} }

// Load returns the cached tenant when it is younger than TTL.
func (c *Cache) Load(cfg flashai.Config, now time.Time) (*Tenant, bool) {
	var t Tenant
	if _, ok := c.Get(TenantKey(cfg), now, &t); !ok {
		return nil, false
	}
	return &t, true
}

// Store writes t as of its FetchedAt.
func (c *Cache) Store(cfg flashai.Config, t *Tenant) { c.Put(TenantKey(cfg), t.FetchedAt, t) }
