package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/csvcell"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/vendors/registry"
)

// conn is an operator command's connection to Redis.
type conn struct {
	rdb    redis.UniversalClient
	aopt   asynq.RedisConnOpt // shares rdb's pool
	client *asynq.Client
	insp   *asynq.Inspector
	life   *lifecycle.Manager
	redis  *redisconf.Conn
}

func (c *conn) Close() {
	c.client.Close()
	c.insp.Close()
	c.redis.Close()
}

func connect(ctx context.Context, rcfg redisconf.Config) (*conn, error) {
	rc := rcfg.Open()
	if err := rc.Client.Ping(ctx).Err(); err != nil {
		rc.Close()
		return nil, inputErr(fmt.Errorf("redis unreachable at %s: %w", strings.Join(rcfg.Addrs, ","), err))
	}
	rdb, aopt := rc.Client, rc.Asynq
	c := &conn{rdb: rdb, aopt: aopt, client: asynq.NewClient(aopt), insp: asynq.NewInspector(aopt), redis: rc}
	// The operator's commands read the ledger through life and move batches only
	// through its named moves.
	c.life = lifecycle.New(rdb, c.client, c.insp, nil)
	return c, nil
}

// openBatch connects and loads batch id: how every command that acts on one batch starts.
func openBatch(ctx context.Context, url redisconf.Config, id string) (*conn, *ledger.Manifest, error) {
	c, err := connect(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	m, err := c.life.Manifest(ctx, id)
	if err != nil {
		c.Close()
		return nil, nil, batchErr(err)
	}
	return c, m, nil
}

// batchErr maps a lifecycle or ledger error to its exit code: a batch that is not
// there, or a command with nothing to act on, is a usage error (exit 1).
func batchErr(err error) error {
	switch {
	case errors.Is(err, ledger.ErrNotFound), errors.Is(err, ledger.ErrLegacy), errors.Is(err, lifecycle.ErrNothingToDo),
		errors.Is(err, ledger.ErrFinished), errors.Is(err, ledger.ErrAlreadyCancelled):
		return usageErr("%v", err)
	}
	return inputErr(err)
}

func runStatus(ctx context.Context, url *redisconf.Config, args []string, asJSON, watch bool, every time.Duration, e env) error {
	if len(args) != 1 {
		return usageErr("usage: enqueue status [-json] [-watch] BATCH")
	}
	c, err := connect(ctx, *url)
	if err != nil {
		return err
	}
	defer c.Close()
	var prev *ledger.Status
	var prevAt time.Time
	lines := &statusLines{e: e}
	for {
		st, err := c.life.Status(ctx, args[0])
		if err != nil {
			return batchErr(err)
		}
		lines.read(ctx, c.life, st)
		if asJSON {
			if err := json.NewEncoder(e.stdout).Encode(statusJSON{Status: st, VendorLines: lines.lines, Results: resultsOf(ctx, c, st)}); err != nil {
				return err
			}
		} else {
			printStatus(e, st, prev, time.Since(prevAt))
			lines.print(e.stdout)
			printResults(ctx, e, c, st)
			if m, err := c.life.Manifest(ctx, st.Batch); err == nil && !st.Finished && m.Queue != "" {
				if msg := c.life.Unserved(m.Queue); msg != "" {
					fmt.Fprintln(e.stdout, "warning:", msg)
				}
			}
		}
		if !watch || st.Finished {
			return nil
		}
		prev, prevAt = st, time.Now()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

func printStatus(e env, st *ledger.Status, prev *ledger.Status, since time.Duration) {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	state := string(st.State)
	if st.Finished && st.Cancelled {
		state += " (cancelled)"
	}
	fmt.Fprintf(w, "batch\t%s\nvendor\t%s\nstate\t%s\nsource\t%s\ncreated\t%s\n", st.Batch, st.Vendor, state, st.Source, st.Created.Format(time.RFC3339))
	if st.FinishedAt != nil {
		fmt.Fprintf(w, "finished\t%s\n", st.FinishedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "read\t%d\n  rejected at input\t%d\t(%d duplicates)\n  suppressed\t%d\n  delivered\t%d\n  refused by vendor\t%d\n  failed\t%d\n  uncertain\t%d\n  pending\t%d\n",
		st.Read, st.Rejected, st.Duplicates, st.Suppressed, st.Delivered, st.Refused, st.Failed, st.Uncertain, st.Pending)
	var parts []string
	for _, s := range ledger.PartStates {
		if n := st.PartStates[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	fmt.Fprintf(w, "parts\t%d: %s\n", st.Parts, strings.Join(parts, ", "))
	for i, p := range st.Waiting {
		if i == 10 {
			fmt.Fprintf(w, "  …\t%d more waiting\n", len(st.Waiting)-i)
			break
		}
		fmt.Fprintf(w, "  part %d\t%s until %s: %s\n", p.Part, p.State, p.ResumeAt.Format(time.RFC3339), p.WaitReason)
	}
	if prev != nil && since > 0 {
		moved := (prev.Pending - st.Pending)
		rate := float64(moved) / since.Seconds()
		fmt.Fprintf(w, "rate\t%.0f numbers/s\n", rate)
		if rate > 0 && st.Pending > 0 {
			fmt.Fprintf(w, "estimated finish\tin %s\n", (time.Duration(float64(st.Pending)/rate) * time.Second).Round(time.Second))
		}
	}
	printUncertain(w, st)
	if st.Paused {
		fmt.Fprintln(w, "action\tpaused: no call goes out until enqueue resume BATCH")
	}
	if st.PartStates[ledger.PartFailed] > 0 {
		fmt.Fprintln(w, "action\tfailed parts can be re-run: enqueue retry BATCH (see enqueue failures BATCH)")
	}
	w.Flush()
	fmt.Fprintln(e.stdout)
}

func runList(ctx context.Context, url *redisconf.Config, args []string, asJSON bool, n int, e env) error {
	if len(args) != 0 {
		return usageErr("usage: enqueue list [-json] [-n 20] (no arguments)")
	}
	c, err := connect(ctx, *url)
	if err != nil {
		return err
	}
	defer c.Close()
	ids, err := c.life.List(ctx, n)
	if err != nil {
		return inputErr(err)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	if !asJSON {
		fmt.Fprintln(w, "BATCH\tVENDOR\tSTATE\tREAD\tDELIVERED\tREFUSED\tFAILED\tUNCERTAIN\tPENDING\tCREATED")
	}
	for _, id := range ids {
		st, err := c.life.Status(ctx, id)
		if errors.Is(err, ledger.ErrNotFound) {
			// Expired after its retention, or lost by Redis: said once, then dropped
			// from the index.
			fmt.Fprintf(e.stderr, "enqueue: %v\n", err)
			_ = c.life.Forget(ctx, id)
			continue
		}
		if err != nil {
			return inputErr(err)
		}
		if asJSON {
			_ = json.NewEncoder(e.stdout).Encode(st)
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", st.Batch, st.Vendor, st.State, st.Read,
			st.Delivered, st.Refused, st.Failed, st.Uncertain, st.Pending, st.Created.Format(time.RFC3339))
	}
	return w.Flush()
}

// runFailures prints every number not delivered as CSV whose phone column makes it
// valid enqueue input: fix or filter the rows and feed them back.
func runFailures(ctx context.Context, url *redisconf.Config, args []string, e env) error {
	if len(args) != 1 {
		return usageErr("usage: enqueue failures BATCH")
	}
	id := args[0]
	c, m, err := openBatch(ctx, *url, id)
	if err != nil {
		return err
	}
	defer c.Close()
	w := csv.NewWriter(e.stdout)
	_ = w.Write([]string{"phone", "line", "state", "reason", "code", "part"})
	err = c.life.Rejects(ctx, id, func(r ledger.Reject) error {
		state := "rejected"
		if strings.HasPrefix(r.Reason, "suppressed:") || r.Reason == "contact_cap" {
			state = string(ledger.OutcomeSuppressed) // left out by the compliance gate at enqueue
		}
		return w.Write([]string{csvcell.Safe(r.Raw), strconv.FormatInt(r.Line, 10), csvcell.Safe(state), csvcell.Safe(r.Reason), "", ""})
	})
	if err != nil {
		return inputErr(err)
	}
	for n := range m.Parts {
		err := c.life.Outcomes(ctx, id, n, func(o ledger.Outcome) error {
			return w.Write([]string{csvcell.Safe(o.Phone), strconv.FormatInt(o.Line, 10), csvcell.Safe(string(o.State)), csvcell.Safe(o.Reason), csvcell.Safe(o.Code), strconv.Itoa(n)})
		})
		if err != nil {
			return inputErr(err)
		}
	}
	w.Flush()
	return w.Error()
}

func runRetry(ctx context.Context, url *redisconf.Config, args []string, e env) error {
	if len(args) != 1 {
		return usageErr("usage: enqueue retry BATCH")
	}
	c, err := connect(ctx, *url)
	if err != nil {
		return err
	}
	defer c.Close()
	parts, numbers, err := c.life.Retry(ctx, args[0])
	if err != nil {
		return batchErr(err)
	}
	fmt.Fprintf(e.stdout, "batch %s: %d failed parts re-queued (%d numbers back to pending)\n", args[0], parts, numbers)
	return nil
}

// runHold runs cancel, pause and resume: they hold or release a batch in dialq (no
// call starts after it returns) and, for pause and resume, its vendor tasks where
// the vendor has such a control.
func runHold(ctx context.Context, verb string, url *redisconf.Config, args []string, wait time.Duration, e env) error {
	if len(args) != 1 {
		return usageErr("usage: enqueue %s BATCH", verb)
	}
	id := args[0]
	c, m, err := openBatch(ctx, *url, id)
	if err != nil {
		return err
	}
	defer c.Close()
	var action string
	switch verb {
	case "cancel":
		err = c.life.Cancel(ctx, id)
		action = queue.ActionStop
	case "pause":
		err = c.life.Pause(ctx, id)
		action = queue.ActionPause
	case "resume":
		err = c.life.Resume(ctx, id)
		action = queue.ActionRestart
	}
	if err != nil {
		if held, herr := holdRedials(ctx, c, verb, id, err, e); held || herr != nil {
			return herr
		}
		return batchErr(err)
	}
	switch verb {
	case "cancel":
		fmt.Fprintf(e.stdout, "batch %s cancelled: no further calls go out; calls in flight finish and are recorded; numbers not sent are counted as failed (cancelled)\n", id)
	case "pause":
		fmt.Fprintf(e.stdout, "batch %s paused: no further calls go out until enqueue resume %s\n", id, id)
	case "resume":
		fmt.Fprintf(e.stdout, "batch %s resumed: its held parts run now\n", id)
	}
	typ := vendorControl(m.Vendor)
	if typ == "" {
		return nil
	}
	targets, err := c.life.VendorTasks(ctx, m)
	if err != nil {
		return inputErr(err)
	}
	if len(targets) == 0 {
		fmt.Fprintf(e.stdout, "no %s task of this batch exists yet: nothing to %s at the vendor\n", m.Vendor, action)
		return nil
	}
	return submitControl(ctx, c, e, typ, queue.ControlPayload{Batch: m.ID, Action: action}, wait)
}

// vendorControl is the control task of vendor's own batch controls, "" for none.
func vendorControl(vendor string) string {
	switch vendor {
	case registry.FlashAI:
		return queue.TypeFlashAIControl
	case registry.Yccall:
		return queue.TypeYccallTaskSet
	}
	return ""
}

func runControl(ctx context.Context, url *redisconf.Config, args []string, wait time.Duration, e env) error {
	if len(args) != 2 {
		return usageErr("usage: enqueue control pause|restart|stop BATCH")
	}
	action := args[0]
	switch action {
	case queue.ActionPause, queue.ActionRestart, queue.ActionStop:
	default:
		return usageErr("control action %q: want pause, restart or stop", action)
	}
	c, m, err := openBatch(ctx, *url, args[1])
	if err != nil {
		return err
	}
	defer c.Close()
	typ := vendorControl(m.Vendor)
	if typ == "" {
		return usageErr("%s has no batch control; only flashai and yccall do (enqueue pause|resume|cancel hold any batch in dialq)", m.Vendor)
	}
	targets, err := c.life.VendorTasks(ctx, m)
	if err != nil {
		return inputErr(err)
	}
	if len(targets) == 0 {
		return usageErr("batch %s has no %s task yet: nothing to %s (enqueue pause|cancel hold its parts in dialq)", m.ID, m.Vendor, action)
	}
	return submitControl(ctx, c, e, typ, queue.ControlPayload{Batch: m.ID, Action: action}, wait)
}

func runDelete(ctx context.Context, url *redisconf.Config, args []string, wait time.Duration, e env) error {
	if len(args) < 2 {
		return usageErr("usage: enqueue delete BATCH NUMBER...")
	}
	c, m, err := openBatch(ctx, *url, args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	if m.Vendor != registry.FlashAI {
		return usageErr("only flashai batches support deleting numbers")
	}
	targets, err := c.life.VendorTasks(ctx, m)
	if err != nil {
		return inputErr(err)
	}
	if len(targets) == 0 {
		return usageErr("batch %s has no flashai plan yet: nothing to delete from", m.ID)
	}
	// The numbers stay in Redis with the batch; the task carries only their key.
	req := fmt.Sprintf("delete-%d", time.Now().UnixNano())
	if err := c.life.SetControlNumbers(ctx, m.ID, req, args[1:]); err != nil {
		return inputErr(err)
	}
	return submitControl(ctx, c, e, queue.TypeFlashAIDelete, queue.ControlPayload{Batch: m.ID, Action: queue.ActionDelete, Request: req}, wait)
}
