package monitor

import (
	"context"
	"sync"
	"time"
)

// vendorSummary is what FlashAI says of a batch's plans (one plan a call dialq
// made), added up.
type vendorSummary struct {
	// Plans is how many plans were asked about; Known is how many the parts read
	// name. They differ when a batch has more than maxVendorPlans plans.
	Plans int `json:"plans"`
	Known int `json:"plans_known"`
	// Accepted numbers were received, Ended are done, Planned are still to be called.
	Accepted  int           `json:"accept_count"`
	Ended     int           `json:"end_count"`
	Planned   int           `json:"plan_count"`
	Errors    int           `json:"errors,omitempty"`
	LastError string        `json:"last_error,omitempty"`
	PerPlan   []planSummary `json:"per_plan"`
	FetchedAt time.Time     `json:"fetched_at"`
}

type planSummary struct {
	Name     string `json:"name"`
	Accepted int    `json:"accept_count"`
	Ended    int    `json:"end_count"`
	Planned  int    `json:"plan_count"`
	Error    string `json:"error,omitempty"`
}

// vendorCache keeps each batch's vendor answer (the call summary, the per-line
// sum) for vendorTTL, so that a page refreshing every few seconds asks the vendor
// at most twice a minute while the batch makes no new plan.
type vendorCache[V interface{ fetched() time.Time }] struct {
	mu sync.Mutex
	m  map[string]V
}

// get is id's answer, or V's zero value (nil) when none is younger than vendorTTL.
func (c *vendorCache[V]) get(id string, now time.Time) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.m {
		if now.Sub(v.fetched()) > vendorTTL {
			delete(c.m, k)
		}
	}
	return c.m[id]
}

func (c *vendorCache[V]) put(id string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]V{}
	}
	c.m[id] = v
}

func (v *vendorSummary) fetched() time.Time { return v.FetchedAt }

// vendorSummary asks the vendor about the plans named by rows, a few at a time,
// within vendorTimeout; a plan that does not answer counts as an error.
func (p *pages) vendorSummary(ctx context.Context, id string, rows []partRow) *vendorSummary {
	var names []string
	for _, r := range rows {
		names = append(names, r.Tasks...)
	}
	now := p.now()
	if v := p.vendor.get(id, now); v != nil && v.Known == len(names) {
		return v // no plan made since: the cached counts stand for vendorTTL
	}
	v := &vendorSummary{Known: len(names), FetchedAt: now}
	names = names[:min(len(names), maxVendorPlans)]
	v.Plans = len(names)
	v.PerPlan = make([]planSummary, len(names))
	ctx, cancel := context.WithTimeout(ctx, vendorTimeout)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ps := planSummary{Name: name}
			sum, err := p.fa.GetBatchPlanCallSummary(ctx, name)
			if err != nil {
				ps.Error = maskDigits(err.Error())
			} else {
				ps.Accepted, ps.Ended, ps.Planned = sum.AcceptCount, sum.EndCount, sum.PlanCount
			}
			v.PerPlan[i] = ps
		})
	}
	wg.Wait()
	for _, ps := range v.PerPlan {
		if ps.Error != "" {
			v.Errors++
			v.LastError = ps.Error
			continue
		}
		v.Accepted += ps.Accepted
		v.Ended += ps.Ended
		v.Planned += ps.Planned
	}
	if len(names) > 0 {
		// Nothing named yet (no call made): ask again next time.
		p.vendor.put(id, v)
	}
	return v
}
