package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/vendors/registry"
)

func init() { register(resolveCmd, reconcileCmd) }

// interspersedCmds take their flags after their arguments too (cli.guard).
var interspersedCmds = map[string]bool{"resolve": true, "reconcile": true}

// interspersed moves the flags of fs found after positional arguments to the
// front, so that Go's flag, which stops at the first argument, parses them.
func interspersed(args []string, fs *flag.FlagSet) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := fs.Lookup(name); f != nil && !hasValue && !isBool(f) && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, pos...)
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

const resolveUsage = "enqueue resolve BATCH -delivered|-not-delivered (-all | PART...)"

func resolveCmd(e env) *ffcli.Command {
	fs, rf := newFlagSet("resolve", true)
	all := fs.Bool("all", false, "every uncertain part of the batch")
	delivered := fs.Bool("delivered", false, "the vendor has these numbers: count them delivered")
	notDelivered := fs.Bool("not-delivered", false, "the vendor does not have them: send them again")
	return &ffcli.Command{
		Name: "resolve", ShortUsage: resolveUsage,
		ShortHelp: "settle uncertain parts: record them delivered, or send them again (also: resolve BATCH PART delivered|resend)",
		FlagSet:   fs,
		Exec: redisExec(rf, e, func(ctx context.Context, url *redisconf.Config, args []string) error {
			return runResolve(ctx, url, args, *all, *delivered, *notDelivered, e)
		}),
	}
}

// runResolve settles uncertain parts after an operator checked with the vendor:
// every one (-all) or those listed, as delivered or to be sent again. The older
// form `resolve BATCH PART delivered|resend` still works.
func runResolve(ctx context.Context, url *redisconf.Config, rest []string, all, delivered, notDelivered bool, e env) error {
	if !delivered && !notDelivered && len(rest) == 3 && (rest[2] == "delivered" || rest[2] == "resend") {
		delivered, notDelivered, rest = rest[2] == "delivered", rest[2] == "resend", rest[:2]
	}
	switch {
	case len(rest) == 0:
		return usageErr("usage: %s", resolveUsage)
	case delivered == notDelivered:
		return usageErr("say -delivered or -not-delivered (usage: %s)", resolveUsage)
	case all == (len(rest) > 1):
		return usageErr("give -all or a list of parts, not both or neither (usage: %s)", resolveUsage)
	}
	var parts []int
	for _, a := range rest[1:] {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 {
			return usageErr("PART must be a part number, got %q", a)
		}
		parts = append(parts, n)
	}
	c, err := connect(ctx, *url)
	if err != nil {
		return err
	}
	defer c.Close()
	id := rest[0]
	done, err := c.life.ResolveParts(ctx, id, parts, all, delivered)
	for _, r := range done {
		if delivered {
			fmt.Fprintf(e.stdout, "batch %s part %d: %d uncertain numbers recorded as delivered\n", id, r.Part, r.Numbers)
		} else {
			fmt.Fprintf(e.stdout, "batch %s part %d: %d numbers re-queued to be sent again\n", id, r.Part, r.Numbers)
		}
	}
	if err != nil {
		return batchErr(err)
	}
	return nil
}

func reconcileCmd(e env) *ffcli.Command {
	fs, rf := newFlagSet("reconcile", true)
	wait := fs.Duration("wait", time.Minute, stallHelp)
	return &ffcli.Command{
		Name: "reconcile", ShortUsage: "enqueue reconcile [-wait 1m] BATCH",
		ShortHelp: "FlashAI: ask the vendor which uncertain numbers it holds, settle what it proves",
		FlagSet:   fs,
		Exec: redisExec(rf, e, func(ctx context.Context, url *redisconf.Config, args []string) error {
			return runReconcile(ctx, url, args, *wait, e)
		}),
	}
}

// runReconcile asks the vendor, through a worker, which uncertain numbers it holds
// and settles what it proves. Only FlashAI can be asked.
func runReconcile(ctx context.Context, url *redisconf.Config, args []string, wait time.Duration, e env) error {
	if len(args) != 1 {
		return usageErr("usage: enqueue reconcile BATCH")
	}
	c, m, err := openBatch(ctx, *url, args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	if m.Vendor != registry.FlashAI {
		return usageErr("reconcile is not possible for %s: its API cannot say which numbers it holds; ask the vendor about the tasks `enqueue status %s` lists, then enqueue resolve", m.Vendor, m.ID)
	}
	st, err := c.life.Status(ctx, m.ID)
	if err != nil {
		return batchErr(err)
	}
	if len(st.UncertainParts) == 0 {
		return usageErr("batch %s has no uncertain part: nothing to reconcile", m.ID)
	}
	return submitControl(ctx, c, e, queue.TypeFlashAIReconcile, queue.ControlPayload{Batch: m.ID, Action: queue.ActionReconcile}, wait)
}

// printUncertain lists the parts that wait for an operator with the vendor tasks
// to ask about, and the commands that settle them.
func printUncertain(w io.Writer, st *ledger.Status) {
	if st.Uncertain == 0 {
		return
	}
	for i, u := range st.UncertainParts {
		if i == 10 {
			fmt.Fprintf(w, "  …\t%d more uncertain parts (enqueue status -json lists them)\n", len(st.UncertainParts)-i)
			break
		}
		tasks := strings.Join(u.Tasks, ", ")
		if tasks == "" {
			tasks = "no vendor task recorded"
		}
		fmt.Fprintf(w, "  part %d\tuncertain, %d numbers: ask the vendor about %s\n", u.Part, u.Numbers, tasks)
	}
	fmt.Fprintf(w, "action\tuncertain parts wait for you: enqueue resolve %s -delivered|-not-delivered (-all | PART...)\n", st.Batch)
	if st.Vendor == registry.FlashAI {
		fmt.Fprintf(w, "action\tor let FlashAI say: enqueue reconcile %s\n", st.Batch)
	}
}
