package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/dialq/dialq/internal/csvcell"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/results"
)

// enqueue results: export a batch's call results, or import a vendor's export
// (package results holds the logic; this is the command's glue).

const resultsUsage = "usage: enqueue results [-format csv|jsonl] [-o FILE] BATCH\n       enqueue results import [-phone-col phone] [-disposition-col disposition] [-duration-col duration_s] [-answered-at-col answered_at] [-intent-tag-col intent_tag] [-attempt-col attempt] BATCH FILE|-"

func init() { register(resultsCmd) }

func resultsCmd(e env) *ffcli.Command {
	fs, rf := newFlagSet("results", true)
	format := fs.String("format", "csv", "csv or jsonl")
	out := fs.String("o", "", "write to FILE instead of stdout")
	return &ffcli.Command{
		Name: "results", ShortUsage: "enqueue results [-format csv|jsonl] [-o FILE] BATCH",
		ShortHelp: "call results, one row per number and attempt (import: a vendor's export)",
		FlagSet:   fs,
		Exec: redisExec(rf, e, func(ctx context.Context, url *redisconf.Config, args []string) error {
			return runResults(ctx, url, args, *format, *out, e)
		}),
		Subcommands: []*ffcli.Command{resultsImportCmd(e)},
	}
}

func resultsImportCmd(e env) *ffcli.Command {
	fs, rf := newFlagSet("results import", true)
	cols := results.DefaultImportColumns
	fs.StringVar(&cols.Phone, "phone-col", cols.Phone, "header of the phone column")
	fs.StringVar(&cols.Disposition, "disposition-col", cols.Disposition, "header of the disposition column (answered, not_answered, not_called)")
	fs.StringVar(&cols.Duration, "duration-col", cols.Duration, "header of the optional duration column (seconds)")
	fs.StringVar(&cols.AnsweredAt, "answered-at-col", cols.AnsweredAt, "header of the optional answer time column (RFC 3339, or yyyy-MM-dd HH:mm:ss UTC)")
	fs.StringVar(&cols.IntentTag, "intent-tag-col", cols.IntentTag, "header of the optional intent tag column")
	fs.StringVar(&cols.Attempt, "attempt-col", cols.Attempt, "header of the optional attempt column (1 the first send, k a redial; empty: the number's latest)")
	return &ffcli.Command{
		Name: "import", ShortUsage: "enqueue results import [-phone-col phone] [-disposition-col disposition] ... BATCH FILE|-",
		ShortHelp: "store a vendor's export of call results (CSV) for a batch (NXCloud, Yccall, speech)",
		FlagSet:   fs,
		Exec: redisExec(rf, e, func(ctx context.Context, url *redisconf.Config, args []string) error {
			return runResultsImport(ctx, url, args, cols, e)
		}),
	}
}

func runResults(ctx context.Context, url *redisconf.Config, args []string, format, out string, e env) error {
	if len(args) != 1 {
		return usageErr("%s", resultsUsage)
	}
	if format != "csv" && format != "jsonl" {
		return usageErr("-format %q: want csv or jsonl", format)
	}
	id := args[0]
	c, m, err := openBatch(ctx, *url, id)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.life.Status(ctx, m.ID)
	if err != nil {
		return batchErr(err)
	}
	if st.Delivered == 0 {
		return usageErr("batch %s: no number was delivered to the vendor: no results to export", id)
	}
	var dst io.Writer = e.stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return usageErr("%v", err)
		}
		defer f.Close()
		dst = f
	}
	bw := bufio.NewWriterSize(dst, 256<<10)
	w, err := results.NewWriter(bw, format, csvcell.Safe)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := results.Export(ctx, c.life, results.NewStore(c.rdb, nil), id, w.Write); err != nil {
		return inputErr(err)
	}
	if err := w.Flush(); err != nil {
		return inputErr(err)
	}
	if err := bw.Flush(); err != nil {
		return inputErr(err)
	}
	fmt.Fprintf(e.stderr, "%d rows (one per number and attempt)\n", w.Rows())
	return nil
}

func runResultsImport(ctx context.Context, url *redisconf.Config, args []string, cols results.ImportColumns, e env) error {
	if len(args) != 2 {
		return usageErr("%s", resultsUsage)
	}
	id, name := args[0], args[1]
	var in io.Reader = e.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return usageErr("%v", err)
		}
		defer f.Close()
		in = f
	}
	c, _, err := openBatch(ctx, *url, id)
	if err != nil {
		return err
	}
	defer c.Close()
	rst := results.NewStore(c.rdb, nil)
	got, err := results.Import(ctx, c.life, rst, id, bufio.NewReaderSize(in, 256<<10), cols)
	var ie *results.ImportError
	switch {
	case errors.As(err, &ie):
		for _, r := range ie.Rows {
			fmt.Fprintf(e.stderr, "line %d: %s\n", r.Line, r.Reason)
		}
		return &exitError{code: exitStrict, err: fmt.Errorf("%d rows refused; nothing imported", len(ie.Rows))}
	case errors.Is(err, ledger.ErrNotFound):
		return batchErr(err)
	case err != nil:
		return usageErr("%v", err)
	case got.Rows == 0:
		return usageErr("%s: no rows to import", name)
	}
	fmt.Fprintf(e.stderr, "imported %d results: %d answered, %d not answered, %d not called\n",
		got.Rows, got.Answered, got.NotAnswered, got.NotCalled)
	return importRedials(ctx, c, rst, id, got, e)
}

// resultsOf is the status's call results, for -json (nil when they cannot be read).
func resultsOf(ctx context.Context, c *conn, st *ledger.Status) *results.Status {
	rs, err := results.StatusOf(ctx, results.NewStore(c.rdb, nil), st)
	if err != nil {
		return nil
	}
	return rs
}

// printResults adds the call results to the status text.
func printResults(ctx context.Context, e env, c *conn, st *ledger.Status) {
	rs, err := results.StatusOf(ctx, results.NewStore(c.rdb, nil), st)
	if err != nil || st.Delivered == 0 {
		return
	}
	done := ""
	if rs.Complete {
		done = " (complete)"
	}
	more := ""
	if rs.Refused > 0 {
		more += fmt.Sprintf(", %d refused in a redial", rs.Refused)
	}
	if rs.RedialsUncertain > 0 {
		more += fmt.Sprintf(", %d redials uncertain (see the worker's log)", rs.RedialsUncertain)
	}
	fmt.Fprintf(e.stdout, "results%s: %d answered, %d not answered, %d not called, %d pending%s\n\n",
		done, rs.Answered, rs.NotAnswered, rs.NotCalled, rs.Pending, more)
}

// holdRedials applies pause, resume or cancel to the redials of a batch whose own
// hold was refused (it finished: every part settled) and that still has redials
// due or held. It reports whether it acted.
func holdRedials(ctx context.Context, c *conn, verb, id string, refused error, e env) (bool, error) {
	if !errors.Is(refused, ledger.ErrFinished) && !errors.Is(refused, lifecycle.ErrNothingToDo) {
		return false, nil
	}
	acted, err := results.NewStore(c.rdb, nil).Hold(ctx, id, verb)
	if err != nil || !acted {
		return false, err
	}
	switch verb {
	case "cancel":
		fmt.Fprintf(e.stdout, "batch %s has finished; its redials are cancelled: none goes out\n", id)
	case "pause":
		fmt.Fprintf(e.stdout, "batch %s has finished; its redials are paused until enqueue resume %s\n", id, id)
	case "resume":
		fmt.Fprintf(e.stdout, "batch %s: its redials are resumed\n", id)
	}
	return true, nil
}
