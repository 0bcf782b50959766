package jobs

import (
	"context"
	"fmt"

	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/registry"
	"github.com/dialq/dialq/vendors/yccall"
)

// invalidRecords marks records that cannot be put in a call: like a vendor's
// parameter error, it is isolated by bisection.
type invalidRecords struct{ error }

func (invalidRecords) Class() vendors.Class { return vendors.InvalidPart }

func (d *Deps) flashaiControl(ctx context.Context, _ *ledger.Manifest, p queue.ControlPayload, name string) error {
	switch p.Action {
	case queue.ActionPause:
		return d.FlashAI.BatchPlanPause(ctx, name)
	case queue.ActionRestart:
		return d.FlashAI.BatchPlanRestart(ctx, name)
	case queue.ActionStop:
		return d.FlashAI.BatchPlanStop(ctx, name)
	}
	return fmt.Errorf("unknown action %q", p.Action)
}

// flashaiDelete removes numbers from every plan of the batch. Numbers are
// normalised as enqueue did, so an operator may paste them in any spelling.
func (d *Deps) flashaiDelete(ctx context.Context, m *ledger.Manifest, p queue.ControlPayload, name string) error {
	norm, err := ingest.NewNormaliser(registry.FlashAI, m.Region)
	if err != nil {
		return err
	}
	numbers, err := d.Lifecycle.ControlNumbers(ctx, m.ID, p.Request)
	if err != nil {
		return err
	}
	if len(numbers) == 0 {
		return fmt.Errorf("control request %q holds no numbers (expired after a day?)", p.Request)
	}
	phones := make([]string, 0, len(numbers))
	for _, raw := range numbers {
		_, phone, reason := norm.Normalise(raw)
		if reason != "" {
			return fmt.Errorf("number %d (%s): %s", len(phones)+1, redact.Phone(raw), reason)
		}
		phones = append(phones, phone)
	}
	return d.FlashAI.BatchPhoneDelete(ctx, name, phones)
}

var taskStatus = map[string]yccall.TaskStatus{queue.ActionRestart: yccall.TaskStart, queue.ActionPause: yccall.TaskPause, queue.ActionStop: yccall.TaskEnd}

func (d *Deps) yccallTaskSet(ctx context.Context, _ *ledger.Manifest, p queue.ControlPayload, taskID string) error {
	st, ok := taskStatus[p.Action]
	if !ok {
		return fmt.Errorf("unknown action %q", p.Action)
	}
	return d.Yccall.TaskSet(ctx, taskID, st)
}
