package preflight

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/internal/envconf"
)

// MissError is a campaign value the tenant does not have.
type MissError struct {
	// Field is the campaign field (botence_id, line_ids, agent.group_id, ...).
	Field string
	Value string
	// What names the kind ("scripts"), Have lists what exists ("id name").
	What string
	Have []string
}

func (e *MissError) Error() string {
	have := "none"
	if len(e.Have) > 0 {
		have = strings.Join(e.Have, ", ")
	}
	return fmt.Sprintf("campaign field %s: %q is not one of the tenant's %s (the tenant has: %s)", e.Field, e.Value, e.What, have)
}

func entry(id, name string) string {
	if name == "" {
		return id
	}
	return id + " " + name
}

// Check refuses a campaign that names a script, line, agent group or agent the
// tenant lacks. The first miss is returned.
func Check(c *campaign.FlashAI, t *Tenant) error {
	if a := c.Agent; a != nil {
		var groups, inGroup []string
		seen := map[string]bool{}
		group := false
		for _, ag := range t.Agents {
			if !seen[ag.GroupID] {
				seen[ag.GroupID] = true
				groups = append(groups, entry(ag.GroupID, ag.GroupName))
			}
			if ag.GroupID == a.GroupID {
				group = true
				inGroup = append(inGroup, entry(ag.AgentID, ag.AgentName))
			}
		}
		if !group {
			return &MissError{Field: "agent.group_id", Value: a.GroupID, What: "agent groups", Have: groups}
		}
		for _, ag := range t.Agents {
			if ag.GroupID == a.GroupID && ag.AgentID == a.AgentID {
				return nil
			}
		}
		return &MissError{Field: "agent.agent_id", Value: a.AgentID, What: "agents of group " + a.GroupID, Have: inGroup}
	}
	var scripts []string
	found := false
	for _, s := range t.Scripts {
		scripts = append(scripts, entry(s.ID, s.Name))
		found = found || s.ID == c.BotenceID
	}
	if !found {
		return &MissError{Field: "botence_id", Value: c.BotenceID, What: "scripts", Have: scripts}
	}
	var lines []string
	known := map[string]bool{}
	for _, l := range t.Lines {
		lines = append(lines, entry(l.ID, l.Name))
		known[l.ID] = true
	}
	for _, l := range c.LineIDs {
		if !known[l] {
			return &MissError{Field: "line_ids", Value: l, What: "lines", Have: lines}
		}
	}
	return nil
}

// RowCheck refuses rows carrying more params than the tenant has variables: the
// request names no script, so the tenant's variables are what any script takes.
// Agent plans carry the params to the agent as data: no limit but the vendor's.
func RowCheck(c *campaign.FlashAI, t *Tenant) func(chunking.Record) string {
	if c.Agent != nil {
		return nil
	}
	n := len(t.Params)
	return func(r chunking.Record) string {
		if len(r.Params) > n {
			return fmt.Sprintf("params: %d given, the tenant's scripts take %d", len(r.Params), n)
		}
		return ""
	}
}

// Options configure Run.
type Options struct {
	Getenv envconf.Getenv
	// Cache may be nil: every run reads the vendor.
	Cache *Cache
	// Skip is -no-vendor-check.
	Skip bool
	Now  func() time.Time
}

// Result is what the preflight decided.
type Result struct {
	// Note says what was checked, for the summary.
	Note string
	// RowCheck refuses rows the tenant cannot take; nil when nothing was checked.
	RowCheck func(chunking.Record) string
}

// ErrConfig marks a FlashAI configuration that cannot be used (a partial set of
// variables): the operator must fix the environment.
var ErrConfig = errors.New("flashai configuration")

// Run checks a FlashAI campaign against the tenant named by the FLASHAI_*
// variables. It is skipped, with a note, under Skip or without credentials. A miss
// is a *MissError; a vendor that cannot be asked gives its error (the caller
// tells refused credentials, vendors.AuthRefused, from an unreachable vendor).
func Run(ctx context.Context, c *campaign.FlashAI, o Options) (*Result, error) {
	if o.Skip {
		return &Result{Note: "not checked against the FlashAI tenant (-no-vendor-check)"}, nil
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	client, cfg, configured, err := Client(o.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if !configured {
		return &Result{Note: "not checked against the FlashAI tenant: FLASHAI_* variables not set where enqueue runs"}, nil
	}
	t, cached := o.Cache.Load(cfg, o.Now())
	if !cached {
		if t, err = Fetch(ctx, retrying{client}, o.Now()); err != nil {
			return nil, err
		}
		o.Cache.Store(cfg, t)
	}
	err = Check(c, t)
	if err != nil && cached {
		// A value added at the vendor since the cache was filled must not be refused.
		if t, err = Fetch(ctx, retrying{client}, o.Now()); err != nil {
			return nil, err
		}
		o.Cache.Store(cfg, t)
		cached = false
		err = Check(c, t)
	}
	if err != nil {
		return nil, err
	}
	note := "checked against the FlashAI tenant"
	if cached {
		note += fmt.Sprintf(" (as read %s ago)", o.Now().Sub(t.FetchedAt).Round(time.Second))
	}
	return &Result{Note: note, RowCheck: RowCheck(c, t)}, nil
}
