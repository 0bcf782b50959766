package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/batch"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/yccall"
)

// invalidRecords marks records that cannot be put in a call: like a vendor's
// parameter error, it is isolated by bisection.
type invalidRecords struct{ error }

func (invalidRecords) Class() vendors.Class { return vendors.InvalidPart }

// controlHandler runs an operator control over every vendor task of a batch and
// writes each answer as the task's result.
type controlHandler struct {
	deps *Deps
	run  func(ctx context.Context, m *batch.Manifest, p ControlPayload, target string) error
}

func (h *controlHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p ControlPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("control payload: %v: %w", err, asynq.SkipRetry)
	}
	m, err := h.deps.Store.Manifest(ctx, p.Batch)
	if err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	targets, err := vendorTasks(ctx, h.deps.Store, m)
	if err != nil {
		return err
	}
	res := ControlResult{Batch: m.ID, Action: p.Action}
	for _, target := range targets {
		a := ControlAnswer{Target: target, OK: true}
		if err := h.run(ctx, m, p, target); err != nil {
			a.OK, a.Error = false, err.Error()
		}
		res.Answers = append(res.Answers, a)
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if _, err := t.ResultWriter().Write(b); err != nil {
		return fmt.Errorf("write control result: %w", err)
	}
	h.deps.Log.WithFields(map[string]any{"batch": m.ID, "vendor": m.Vendor, "action": p.Action, "targets": len(targets)}).Info("control done")
	return nil
}

// vendorTasks lists the vendor tasks a batch made (FlashAI batch names, Yccall task
// ids), from the checkpoints its parts recorded.
func vendorTasks(ctx context.Context, store *batch.Store, m *batch.Manifest) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for n := range m.Parts {
		ps, err := store.PartState(ctx, m.ID, n)
		if err != nil {
			return nil, err
		}
		for k, v := range ps.Extra {
			if strings.HasPrefix(k, "task:") && v != "" && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func (d *Deps) flashaiControl(ctx context.Context, _ *batch.Manifest, p ControlPayload, name string) error {
	switch p.Action {
	case ActionPause:
		return d.FlashAI.BatchPlanPause(ctx, name)
	case ActionRestart:
		return d.FlashAI.BatchPlanRestart(ctx, name)
	case ActionStop:
		return d.FlashAI.BatchPlanStop(ctx, name)
	}
	return fmt.Errorf("unknown action %q", p.Action)
}

// flashaiDelete removes numbers from every plan of the batch. Numbers are
// normalised as enqueue did, so an operator may paste them in any spelling.
func (d *Deps) flashaiDelete(ctx context.Context, m *batch.Manifest, p ControlPayload, name string) error {
	norm, err := ingest.NewNormaliser(chunking.FlashAI, m.Region)
	if err != nil {
		return err
	}
	phones := make([]string, 0, len(p.Numbers))
	for _, raw := range p.Numbers {
		_, phone, reason := norm.Normalise(raw)
		if reason != "" {
			return fmt.Errorf("number %d: %s", len(phones)+1, reason)
		}
		phones = append(phones, phone)
	}
	return d.FlashAI.BatchPhoneDelete(ctx, name, phones)
}

var taskStatus = map[string]yccall.TaskStatus{ActionRestart: yccall.TaskStart, ActionPause: yccall.TaskPause, ActionStop: yccall.TaskEnd}

func (d *Deps) yccallTaskSet(ctx context.Context, _ *batch.Manifest, p ControlPayload, taskID string) error {
	st, ok := taskStatus[p.Action]
	if !ok {
		return fmt.Errorf("unknown action %q", p.Action)
	}
	return d.Yccall.TaskSet(ctx, taskID, st)
}
