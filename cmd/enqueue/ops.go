package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/batch"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/intake"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/jobs"
)

// conn is an operator command's connection to Redis.
type conn struct {
	rdb   redis.UniversalClient
	aopt  asynq.RedisConnOpt // shares rdb's pool
	store *batch.Store
	redis *redisconf.Conn
}

func (c *conn) Close() { c.redis.Close() }

// opFlags parses a subcommand's flags; every subcommand takes -redis. It returns
// the Redis connection contract (-redis, else REDIS_URL, REDIS_CLUSTER_ADDRS or
// REDIS_SENTINEL_ADDRS: see internal/redisconf) for connect.
func opFlags(name string, e env, args []string, define func(fs *flag.FlagSet)) (*flag.FlagSet, *redisconf.Config, error) {
	fs := flag.NewFlagSet("enqueue "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	// No default from $REDIS_URL: -h prints defaults, and the URL may hold a password.
	redisURL := fs.String("redis", "", redisconf.FlagHelp)
	if define != nil {
		define(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, usageErr("%v", err)
	}
	rcfg, err := redisconf.Load(e.getenv, *redisURL)
	if err != nil {
		return nil, nil, usageErr("%v", err)
	}
	return fs, rcfg, nil
}

func connect(ctx context.Context, rcfg redisconf.Config) (*conn, error) {
	rc := rcfg.Open()
	if err := rc.Client.Ping(ctx).Err(); err != nil {
		rc.Close()
		return nil, inputErr(fmt.Errorf("redis unreachable at %s: %w", strings.Join(rcfg.Addrs, ","), err))
	}
	return &conn{rdb: rc.Client, aopt: rc.Asynq, store: batch.NewStore(rc.Client), redis: rc}, nil
}

// openBatch connects and loads batch id: how every command that acts on one batch starts.
func openBatch(ctx context.Context, url redisconf.Config, id string) (*conn, *batch.Manifest, error) {
	c, err := connect(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	m, err := c.store.Manifest(ctx, id)
	if err != nil {
		c.Close()
		return nil, nil, batchErr(err)
	}
	return c, m, nil
}

func batchErr(err error) error {
	if errors.Is(err, batch.ErrNotFound) {
		return usageErr("%v", err)
	}
	return inputErr(err)
}

func runStatus(ctx context.Context, args []string, e env) error {
	var asJSON, watch bool
	var every time.Duration
	fs, url, err := opFlags("status", e, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print one JSON object")
		fs.BoolVar(&watch, "watch", false, "refresh until the batch finishes")
		fs.DurationVar(&every, "every", 2*time.Second, "refresh interval with -watch")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("usage: enqueue status [-json] [-watch] BATCH")
	}
	c, err := connect(ctx, *url)
	if err != nil {
		return err
	}
	defer c.Close()
	var prev *batch.Status
	var prevAt time.Time
	for {
		st, err := c.store.Status(ctx, fs.Arg(0))
		if err != nil {
			return batchErr(err)
		}
		if asJSON {
			if err := json.NewEncoder(e.stdout).Encode(st); err != nil {
				return err
			}
		} else {
			printStatus(e, st, prev, time.Since(prevAt))
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

func printStatus(e env, st *batch.Status, prev *batch.Status, since time.Duration) {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	state := st.State
	if st.Cancelled {
		state += " (cancelled)"
	}
	fmt.Fprintf(w, "batch\t%s\nvendor\t%s\nstate\t%s\nsource\t%s\ncreated\t%s\n", st.Batch, st.Vendor, state, st.Source, st.Created.Format(time.RFC3339))
	if st.FinishedAt != nil {
		fmt.Fprintf(w, "finished\t%s\n", st.FinishedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "read\t%d\n  rejected at input\t%d\t(%d duplicates)\n  delivered\t%d\n  refused by vendor\t%d\n  failed\t%d\n  uncertain\t%d\n  pending\t%d\n",
		st.Read, st.Rejected, st.Duplicates, st.Delivered, st.Refused, st.Failed, st.Uncertain, st.Pending)
	var parts []string
	for _, s := range []string{batch.PartQueued, batch.PartRunning, batch.PartDone, batch.PartFailed, batch.PartUncertain, batch.PartCancelled} {
		if n := st.PartStates[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	fmt.Fprintf(w, "parts\t%d: %s\n", st.Parts, strings.Join(parts, ", "))
	if prev != nil && since > 0 {
		moved := (prev.Pending - st.Pending)
		rate := float64(moved) / since.Seconds()
		fmt.Fprintf(w, "rate\t%.0f numbers/s\n", rate)
		if rate > 0 && st.Pending > 0 {
			fmt.Fprintf(w, "estimated finish\tin %s\n", (time.Duration(float64(st.Pending)/rate) * time.Second).Round(time.Second))
		}
	}
	if st.Uncertain > 0 {
		fmt.Fprintln(w, "action\tuncertain parts wait for you: enqueue resolve BATCH PART delivered|resend")
	}
	if st.PartStates[batch.PartFailed] > 0 {
		fmt.Fprintln(w, "action\tfailed parts can be re-run: enqueue retry BATCH (see enqueue failures BATCH)")
	}
	w.Flush()
	fmt.Fprintln(e.stdout)
}

func runList(ctx context.Context, args []string, e env) error {
	var asJSON bool
	var n int
	_, url, err := opFlags("list", e, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "JSON Lines, one batch a line")
		fs.IntVar(&n, "n", 20, "how many batches")
	})
	if err != nil {
		return err
	}
	c, err := connect(ctx, *url)
	if err != nil {
		return err
	}
	defer c.Close()
	ids, err := c.store.List(ctx, n)
	if err != nil {
		return inputErr(err)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	if !asJSON {
		fmt.Fprintln(w, "BATCH\tVENDOR\tSTATE\tREAD\tDELIVERED\tREFUSED\tFAILED\tUNCERTAIN\tPENDING\tCREATED")
	}
	for _, id := range ids {
		st, err := c.store.Status(ctx, id)
		if errors.Is(err, batch.ErrNotFound) {
			_ = c.store.Forget(ctx, id) // expired after its retention
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
func runFailures(ctx context.Context, args []string, e env) error {
	fs, url, err := opFlags("failures", e, args, nil)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("usage: enqueue failures BATCH")
	}
	id := fs.Arg(0)
	c, m, err := openBatch(ctx, *url, id)
	if err != nil {
		return err
	}
	defer c.Close()
	w := csv.NewWriter(e.stdout)
	_ = w.Write([]string{"phone", "line", "state", "reason", "code", "part"})
	err = c.store.Rejects(ctx, id, func(r batch.Reject) error {
		return w.Write([]string{safeCell(r.Raw), strconv.FormatInt(r.Line, 10), "rejected", safeCell(r.Reason), "", ""})
	})
	if err != nil {
		return inputErr(err)
	}
	for n := range m.Parts {
		err := c.store.Outcomes(ctx, id, n, func(o batch.Outcome) error {
			return w.Write([]string{safeCell(o.Phone), strconv.FormatInt(o.Line, 10), o.State, safeCell(o.Reason), safeCell(o.Code), strconv.Itoa(n)})
		})
		if err != nil {
			return inputErr(err)
		}
	}
	w.Flush()
	return w.Error()
}

// requeue puts part n's task back on the queue: the old task (archived or
// completed and retained) is deleted first, since its id is fixed.
func requeue(ctx context.Context, c *conn, m *batch.Manifest, n int) error {
	insp := asynq.NewInspector(c.aopt)
	defer insp.Close()
	if err := insp.DeleteTask(m.Queue, batch.TaskID(m.ID, n)); err != nil &&
		!errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
		return fmt.Errorf("part %d: remove old task: %w", n, err)
	}
	if _, err := c.store.SetPartState(ctx, m.ID, n, batch.PartQueued); err != nil {
		return err
	}
	client := asynq.NewClient(c.aopt)
	defer client.Close()
	task, err := jobs.NewPartTask(m.Vendor, m.ID, n, intake.PartRecords(m, n), asynq.Queue(m.Queue))
	if err != nil {
		return err
	}
	if _, err := client.EnqueueContext(ctx, task); err != nil {
		return fmt.Errorf("part %d: enqueue: %w", n, err)
	}
	return nil
}

func runRetry(ctx context.Context, args []string, e env) error {
	fs, url, err := opFlags("retry", e, args, nil)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("usage: enqueue retry BATCH")
	}
	c, m, err := openBatch(ctx, *url, fs.Arg(0))
	if err != nil {
		return err
	}
	defer c.Close()
	states, err := c.store.PartStates(ctx, m.ID, m.Parts)
	if err != nil {
		return inputErr(err)
	}
	parts, numbers := 0, 0
	for n, st := range states {
		if st != batch.PartFailed {
			continue
		}
		moved, err := c.store.ReopenFailed(ctx, m.ID, n)
		if err != nil {
			return inputErr(err)
		}
		if err := requeue(ctx, c, m, n); err != nil {
			return inputErr(err)
		}
		parts++
		numbers += moved
	}
	fmt.Fprintf(e.stdout, "batch %s: %d failed parts re-queued (%d numbers back to pending)\n", m.ID, parts, numbers)
	return nil
}

func runResolve(ctx context.Context, args []string, e env) error {
	fs, url, err := opFlags("resolve", e, args, nil)
	if err != nil {
		return err
	}
	if fs.NArg() != 3 || (fs.Arg(2) != "delivered" && fs.Arg(2) != "resend") {
		return usageErr("usage: enqueue resolve BATCH PART delivered|resend")
	}
	part, err := strconv.Atoi(fs.Arg(1))
	if err != nil || part < 0 {
		return usageErr("PART must be a part number, got %q", fs.Arg(1))
	}
	c, m, err := openBatch(ctx, *url, fs.Arg(0))
	if err != nil {
		return err
	}
	defer c.Close()
	if part >= m.Parts {
		return usageErr("batch %s has parts 0-%d", m.ID, m.Parts-1)
	}
	ps, err := c.store.PartState(ctx, m.ID, part)
	if err != nil {
		return inputErr(err)
	}
	if ps.State != batch.PartUncertain {
		return usageErr("part %d is %s, not uncertain", part, ps.State)
	}
	delivered := fs.Arg(2) == "delivered"
	moved, err := c.store.ResolveUncertain(ctx, m.ID, part, delivered)
	if err != nil {
		return inputErr(err)
	}
	if delivered {
		finished, err := c.store.SetPartState(ctx, m.ID, part, batch.PartDone)
		if err != nil {
			return inputErr(err)
		}
		if finished {
			if _, err := c.store.Announce(ctx, m.ID); err != nil {
				return inputErr(err)
			}
		}
		fmt.Fprintf(e.stdout, "batch %s part %d: %d uncertain numbers recorded as delivered\n", m.ID, part, moved)
		return nil
	}
	if err := requeue(ctx, c, m, part); err != nil {
		return inputErr(err)
	}
	fmt.Fprintf(e.stdout, "batch %s part %d: %d numbers re-queued to be sent again\n", m.ID, part, moved)
	return nil
}

func runCancel(ctx context.Context, args []string, e env) error {
	fs, url, err := opFlags("cancel", e, args, nil)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("usage: enqueue cancel BATCH")
	}
	c, _, err := openBatch(ctx, *url, fs.Arg(0))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.store.Cancel(ctx, fs.Arg(0)); err != nil {
		return inputErr(err)
	}
	fmt.Fprintf(e.stdout, "batch %s cancelled: no further calls go out; numbers not sent are counted as failed (cancelled)\n", fs.Arg(0))
	return nil
}

func runControl(ctx context.Context, args []string, e env) error {
	var wait time.Duration
	fs, url, err := opFlags("control", e, args, func(fs *flag.FlagSet) {
		fs.DurationVar(&wait, "wait", time.Minute, "how long to wait for the vendor's answer")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageErr("usage: enqueue control pause|restart|stop BATCH")
	}
	action := fs.Arg(0)
	switch action {
	case jobs.ActionPause, jobs.ActionRestart, jobs.ActionStop:
	default:
		return usageErr("control action %q: want pause, restart or stop", action)
	}
	c, m, err := openBatch(ctx, *url, fs.Arg(1))
	if err != nil {
		return err
	}
	defer c.Close()
	var typ string
	switch m.Vendor {
	case chunking.FlashAI:
		typ = jobs.TypeFlashAIControl
	case chunking.Yccall:
		typ = jobs.TypeYccallTaskSet
	default:
		return usageErr("%s has no batch control; only flashai and yccall do", m.Vendor)
	}
	return submitControl(ctx, c, e, typ, jobs.ControlPayload{Batch: m.ID, Action: action}, wait)
}

func runDelete(ctx context.Context, args []string, e env) error {
	var wait time.Duration
	fs, url, err := opFlags("delete", e, args, func(fs *flag.FlagSet) {
		fs.DurationVar(&wait, "wait", time.Minute, "how long to wait for the vendor's answer")
	})
	if err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return usageErr("usage: enqueue delete BATCH NUMBER...")
	}
	c, m, err := openBatch(ctx, *url, fs.Arg(0))
	if err != nil {
		return err
	}
	defer c.Close()
	if m.Vendor != chunking.FlashAI {
		return usageErr("only flashai batches support deleting numbers")
	}
	return submitControl(ctx, c, e, jobs.TypeFlashAIDelete, jobs.ControlPayload{Batch: m.ID, Action: "delete", Numbers: fs.Args()[1:]}, wait)
}

// submitControl queues a control task and waits for the worker's result, so the
// operator sees the vendor's answer.
func submitControl(ctx context.Context, c *conn, e env, typ string, p jobs.ControlPayload, wait time.Duration) error {
	client := asynq.NewClient(c.aopt)
	defer client.Close()
	task, err := jobs.NewControlTask(typ, p)
	if err != nil {
		return usageErr("%v", err)
	}
	info, err := client.EnqueueContext(ctx, task)
	if err != nil {
		return inputErr(fmt.Errorf("queue control: %w", err))
	}
	insp := asynq.NewInspector(c.aopt)
	defer insp.Close()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		ti, err := insp.GetTaskInfo(info.Queue, info.ID)
		if err == nil {
			switch ti.State {
			case asynq.TaskStateCompleted:
				var res jobs.ControlResult
				if err := json.Unmarshal(ti.Result, &res); err != nil {
					return inputErr(fmt.Errorf("control result: %w", err))
				}
				failed := 0
				for _, a := range res.Answers {
					if a.OK {
						fmt.Fprintf(e.stdout, "%s %s: ok\n", res.Action, a.Target)
					} else {
						failed++
						fmt.Fprintf(e.stdout, "%s %s: refused: %s\n", res.Action, a.Target, a.Error)
					}
				}
				if failed > 0 {
					return inputErr(fmt.Errorf("%d of %d vendor tasks refused %s", failed, len(res.Answers), res.Action))
				}
				return nil
			case asynq.TaskStateArchived:
				return inputErr(fmt.Errorf("control failed: %s", ti.LastErr))
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	fmt.Fprintf(e.stdout, "control task %s queued; no answer within %s (is a worker running?)\n", info.ID, wait)
	return nil
}
