package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dialq/dialq/batch"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/tasks"
)

const resolveUsage = "usage: enqueue resolve BATCH -delivered|-not-delivered (-all | PART...)\n       enqueue resolve BATCH PART delivered|resend"

// interspersed moves flags after positional arguments to the front, so that
// `resolve BATCH -all -delivered` parses as operators type it. valued names the
// flags that take a separate value.
func interspersed(args []string, valued map[string]bool) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if valued[name] && !strings.Contains(name, "=") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

// runResolve settles uncertain parts after an operator checked with the vendor:
// every one (-all) or those listed, as delivered or to be sent again. The older
// form `resolve BATCH PART delivered|resend` still works.
func runResolve(ctx context.Context, args []string, e env) error {
	var all, delivered, notDelivered bool
	fs, url, err := opFlags("resolve", e, interspersed(args, map[string]bool{"redis": true}), func(fs *flag.FlagSet) {
		fs.BoolVar(&all, "all", false, "every uncertain part of the batch")
		fs.BoolVar(&delivered, "delivered", false, "the vendor has these numbers: count them delivered")
		fs.BoolVar(&notDelivered, "not-delivered", false, "the vendor does not have them: send them again")
	})
	if err != nil {
		return err
	}
	rest := fs.Args()
	if !delivered && !notDelivered && len(rest) == 3 && (rest[2] == "delivered" || rest[2] == "resend") {
		delivered, notDelivered, rest = rest[2] == "delivered", rest[2] == "resend", rest[:2]
	}
	switch {
	case len(rest) == 0:
		return usageErr(resolveUsage)
	case delivered == notDelivered:
		return usageErr("say -delivered or -not-delivered\n%s", resolveUsage)
	case all == (len(rest) > 1):
		return usageErr("give -all or a list of parts, not both or neither\n%s", resolveUsage)
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

// runReconcile asks the vendor, through a worker, which uncertain numbers it holds
// and settles what it proves. Only FlashAI can be asked.
func runReconcile(ctx context.Context, args []string, e env) error {
	var wait time.Duration
	fs, url, err := opFlags("reconcile", e, interspersed(args, map[string]bool{"redis": true, "wait": true}), func(fs *flag.FlagSet) {
		fs.DurationVar(&wait, "wait", time.Minute, stallHelp)
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("usage: enqueue reconcile BATCH")
	}
	c, m, err := openBatch(ctx, *url, fs.Arg(0))
	if err != nil {
		return err
	}
	defer c.Close()
	if m.Vendor != chunking.FlashAI {
		return usageErr("reconcile is not possible for %s: its API cannot say which numbers it holds; ask the vendor about the tasks `enqueue status %s` lists, then enqueue resolve", m.Vendor, m.ID)
	}
	st, err := c.store.Status(ctx, m.ID)
	if err != nil {
		return batchErr(err)
	}
	if len(st.UncertainParts) == 0 {
		return usageErr("batch %s has no uncertain part: nothing to reconcile", m.ID)
	}
	return submitControl(ctx, c, e, tasks.TypeFlashAIReconcile, tasks.ControlPayload{Batch: m.ID, Action: tasks.ActionReconcile}, wait)
}

// printUncertain lists the parts that wait for an operator with the vendor tasks
// to ask about, and the commands that settle them.
func printUncertain(w io.Writer, st *batch.Status) {
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
	if st.Vendor == chunking.FlashAI {
		fmt.Fprintf(w, "action\tor let FlashAI say: enqueue reconcile %s\n", st.Batch)
	}
}
