package producer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/ingest"
)

// What Summary.Gate says about the compliance gate at enqueue.
const (
	GateNone      = ""            // the campaign has no compliance block
	GateChecked   = "checked"     // suppression lists and contact caps were read
	GateWorker    = "worker"      // a window alone: the worker applies it
	GateUnchecked = "not checked" // dry run without Redis
)

// gateBlock is how many accepted rows are checked in one go: one Redis round trip
// a block, rows buffered in input order meanwhile.
const gateBlock = 4096

// gateFilter leaves out of the parts the numbers that are on a suppression list or
// whose contact cap is used up (read, not taken: the worker takes it before the
// call). The sink's outcomes are buffered in input order and released a block at a
// time, so the rejects file keeps the input's order.
type gateFilter struct {
	f          *compliance.Filter
	events     []gateEvent
	accepted   int
	suppressed int64
}

type gateEvent struct {
	rec chunking.Record
	rej ingest.Reject
	ok  bool // an accepted row (rec), else a reject (rej)
}

// newGateFilter returns the filter of req's campaign, or nil and what Summary.Gate
// should say when there is nothing to check at enqueue.
func newGateFilter(ctx context.Context, rdb redis.UniversalClient, req Request, now time.Time) (*gateFilter, string, error) {
	// Only the compliance block is read here: the campaign as a whole was checked
	// by CampaignJSON, and a request without one behaves as before.
	var block struct {
		Compliance *campaign.Compliance `json:"compliance"`
	}
	if len(req.Campaign) > 0 {
		if err := json.Unmarshal(req.Campaign, &block); err != nil {
			return nil, "", &ConfigError{fmt.Errorf("campaign: %w", err)}
		}
	}
	cfg := block.Compliance
	if err := cfg.Validate(); err != nil {
		return nil, "", &ConfigError{err}
	}
	switch {
	case cfg == nil:
		return nil, GateNone, nil
	case len(cfg.Suppress) == 0 && cfg.ContactCap == nil:
		return nil, GateWorker, nil
	case noRedis(rdb):
		return nil, GateUnchecked, nil
	}
	store := compliance.NewStore(rdb)
	// Refused before a row is read, as the worker's gate refuses at call time.
	var unknown *compliance.UnknownListError
	if err := store.RequireLists(ctx, cfg.Suppress); errors.As(err, &unknown) {
		return nil, "", &ConfigError{fmt.Errorf("campaign compliance.suppress: %w", err)}
	} else if err != nil {
		return nil, "", err
	}
	f, err := compliance.NewFilter(store, *cfg, req.Vendor, req.Region, now)
	if err != nil {
		return nil, "", &ConfigError{err}
	}
	return &gateFilter{f: f}, GateChecked, nil
}

func (g *gateFilter) accept(s *stagingSink, rec chunking.Record) error {
	g.events = append(g.events, gateEvent{rec: rec, ok: true})
	g.accepted++
	if g.accepted >= gateBlock {
		return g.flush(s)
	}
	return nil
}

func (g *gateFilter) reject(s *stagingSink, r ingest.Reject) error {
	if len(g.events) == 0 {
		return s.reject(r)
	}
	g.events = append(g.events, gateEvent{rej: r})
	return nil
}

// flush checks the buffered rows and hands every outcome on, in input order.
func (g *gateFilter) flush(s *stagingSink) error {
	phones := make([]string, 0, g.accepted)
	for _, e := range g.events {
		if e.ok {
			phones = append(phones, e.rec.Phone)
		}
	}
	reasons, err := g.f.Check(s.ctx, phones)
	if err != nil {
		return fmt.Errorf("compliance gate: %w", err)
	}
	i := 0
	for _, e := range g.events {
		switch {
		case !e.ok:
			err = s.reject(e.rej)
		case reasons[i] != "":
			g.suppressed++
			err = s.reject(ingest.Reject{Line: e.rec.Line, Raw: e.rec.Phone, Reason: reasons[i]})
			i++
		default:
			err = s.accept(e.rec)
			i++
		}
		if err != nil {
			return err
		}
	}
	g.events, g.accepted = g.events[:0], 0
	return nil
}

// writeAudit records the numbers left out in the committed batch's audit.
func (g *gateFilter) writeAudit(ctx context.Context, id string, retention time.Duration) error {
	if g == nil {
		return nil
	}
	return g.f.WriteAudit(ctx, id, retention)
}

// noRedis is true for a nil client, typed or not (a dry run passes a nil *redis.Client).
func noRedis(c redis.UniversalClient) bool {
	switch v := c.(type) {
	case nil:
		return true
	case *redis.Client:
		return v == nil
	case *redis.ClusterClient:
		return v == nil
	}
	return false
}
