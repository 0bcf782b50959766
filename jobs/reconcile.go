package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/vendors/flashai"
	"github.com/dialq/dialq/vendors/registry"
)

// flashaiReconcile asks FlashAI, for each uncertain part of a batch, whether the
// plan each uncertain call was making holds the call's numbers
// (getBatchPlanList): a part whose every uncertain call is held is delivered; one
// whose every uncertain call made no plan at all is sent again (safe on FlashAI: a
// repeat is refused by name and checked the same way); anything else is left
// uncertain, with why.
func (d *Deps) flashaiReconcile(ctx context.Context, t *asynq.Task) error {
	var p queue.ControlPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("reconcile payload: %v: %w", err, asynq.SkipRetry)
	}
	m, err := d.Lifecycle.Manifest(ctx, p.Batch)
	if err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	c, err := campaign.Parse(m.Vendor, m.Campaign)
	if err != nil || m.Vendor != registry.FlashAI {
		return fmt.Errorf("batch %s cannot be reconciled with FlashAI: %w", m.ID, asynq.SkipRetry)
	}
	parts, err := d.Lifecycle.Parts(ctx, m.ID, m.Parts)
	if err != nil {
		return err
	}
	run := &controlRun{res: queue.ControlResult{Batch: m.ID, Action: queue.ActionReconcile}, w: t.ResultWriter(),
		every: d.Controls.withDefaults().Progress}
	var todo []int
	for _, ps := range parts {
		if ps.State == ledger.PartUncertain {
			todo = append(todo, ps.Part)
		}
	}
	run.res.Total = len(todo)
	run.write()
	caller := flashaiCaller{c: d.FlashAI}
	h := &controlHandler{deps: d}
	for _, part := range todo {
		a := queue.ControlAnswer{Target: "part " + strconv.Itoa(part), OK: true}
		outcome, err := d.reconcilePart(ctx, h, caller, m, c, part)
		if err != nil {
			a.OK, a.Error = false, err.Error()
		}
		a.Outcome = outcome
		run.answer(a)
	}
	run.mu.Lock()
	run.res.Final = true
	run.writeLocked()
	run.mu.Unlock()
	d.Log.WithFields(logrus.Fields{"batch": m.ID, "parts": len(todo)}).Info("reconcile done")
	return nil
}

// reconcilePart settles one uncertain part if FlashAI proves its fate.
func (d *Deps) reconcilePart(ctx context.Context, h *controlHandler, caller flashaiCaller, m *ledger.Manifest, c campaign.Campaign, part int) (string, error) {
	ps, err := d.Lifecycle.Progress(ctx, m.ID, part)
	if err != nil {
		return "", err
	}
	recs, err := d.Lifecycle.LoadPart(ctx, m, part)
	if err != nil {
		return "", err
	}
	p := &partRun{m: m, campaign: c, part: part, recs: recs, extra: ps.Extra}
	held, absent, calls := 0, 0, 0
	var why string
	for r, sm := range ps.Done {
		if sm.Uncertain == 0 {
			continue
		}
		calls++
		if sm.Uncertain != r.Len() {
			why = fmt.Sprintf("call %d-%d is only partly uncertain", r.Lo, r.Hi)
			continue
		}
		if err := h.rate(ctx, m.Vendor); err != nil {
			return "", err
		}
		name := flashaiBatchName(p, r)
		_, err := caller.verify(ctx, p, name, recs[r.Lo:r.Hi])
		var taken *nameTaken
		switch {
		case err == nil:
			held++
		case noPlan(err):
			absent++
		case errors.As(err, &taken):
			why = err.Error()
		default:
			return "", fmt.Errorf("ask FlashAI about %s: %w", name, err)
		}
	}
	switch {
	case calls > 0 && held == calls:
		if _, err := d.Lifecycle.Resolve(ctx, m.ID, part, true); err != nil {
			return "", err
		}
		return "delivered: FlashAI holds every uncertain number", nil
	case calls > 0 && absent == calls:
		if _, err := d.Lifecycle.Resolve(ctx, m.ID, part, false); err != nil {
			return "", err
		}
		return "resent: FlashAI holds no plan of its uncertain calls", nil
	case why == "":
		why = fmt.Sprintf("%d of its %d uncertain calls held, %d made no plan", held, calls, absent)
	}
	return "left uncertain: " + why, nil
}

// noPlan reports FlashAI's "no result" (1005): it holds no plan of that name.
func noPlan(err error) bool {
	var ae *flashai.APIError
	return errors.As(err, &ae) && ae.Code == flashai.CodeNoResult
}
