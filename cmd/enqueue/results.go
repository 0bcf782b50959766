package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/dialq/dialq/batch"
	"github.com/dialq/dialq/results"
)

// enqueue results: export a batch's call results, or import a vendor's export
// (package results holds the logic; this is the command's glue).

const resultsUsage = "usage: enqueue results [-format csv|jsonl] [-o FILE] BATCH\n       enqueue results import [-phone-col phone] [-disposition-col disposition] [-duration-col duration_s] [-answered-at-col answered_at] [-intent-tag-col intent_tag] BATCH FILE|-"

func runResults(ctx context.Context, args []string, e env) error {
	if len(args) > 0 && args[0] == "import" {
		return runResultsImport(ctx, args[1:], e)
	}
	var format, out string
	fs, url, err := opFlags("results", e, args, func(fs *flag.FlagSet) {
		fs.StringVar(&format, "format", "csv", "csv or jsonl")
		fs.StringVar(&out, "o", "", "write to FILE instead of stdout")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("%s", resultsUsage)
	}
	if format != "csv" && format != "jsonl" {
		return usageErr("-format %q: want csv or jsonl", format)
	}
	id := fs.Arg(0)
	c, m, err := openBatch(ctx, *url, id)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.store.Status(ctx, m.ID)
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
	w, err := results.NewWriter(bw, format, safeCell)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := results.Export(ctx, c.store, results.NewStore(c.rdb, nil), id, w.Write); err != nil {
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

func runResultsImport(ctx context.Context, args []string, e env) error {
	cols := results.DefaultImportColumns
	fs, url, err := opFlags("results import", e, args, func(fs *flag.FlagSet) {
		fs.StringVar(&cols.Phone, "phone-col", cols.Phone, "header of the phone column")
		fs.StringVar(&cols.Disposition, "disposition-col", cols.Disposition, "header of the disposition column (answered, not_answered, not_called)")
		fs.StringVar(&cols.Duration, "duration-col", cols.Duration, "header of the optional duration column (seconds)")
		fs.StringVar(&cols.AnsweredAt, "answered-at-col", cols.AnsweredAt, "header of the optional answer time column (RFC 3339, or yyyy-MM-dd HH:mm:ss UTC)")
		fs.StringVar(&cols.IntentTag, "intent-tag-col", cols.IntentTag, "header of the optional intent tag column")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageErr("%s", resultsUsage)
	}
	id, name := fs.Arg(0), fs.Arg(1)
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
	got, err := results.Import(ctx, c.store, results.NewStore(c.rdb, nil), id, bufio.NewReaderSize(in, 256<<10), cols)
	var ie *results.ImportError
	switch {
	case errors.As(err, &ie):
		for _, r := range ie.Rows {
			fmt.Fprintf(e.stderr, "line %d: %s\n", r.Line, r.Reason)
		}
		return &exitError{code: exitStrict, err: fmt.Errorf("%d rows refused; nothing imported", len(ie.Rows))}
	case errors.Is(err, batch.ErrNotFound):
		return batchErr(err)
	case err != nil:
		return usageErr("%v", err)
	case got.Rows == 0:
		return usageErr("%s: no rows to import", name)
	}
	fmt.Fprintf(e.stderr, "imported %d results: %d answered, %d not answered, %d not called\n",
		got.Rows, got.Answered, got.NotAnswered, got.NotCalled)
	return nil
}

// statusJSON is the status with its call results, for -json.
func statusJSON(ctx context.Context, c *conn, st *batch.Status) any {
	rs, err := results.StatusOf(ctx, results.NewStore(c.rdb, nil), st)
	if err != nil {
		return st
	}
	return struct {
		*batch.Status
		Results *results.Status `json:"results"`
	}{st, rs}
}

// printResults adds the call results to the status text.
func printResults(ctx context.Context, e env, c *conn, st *batch.Status) {
	rs, err := results.StatusOf(ctx, results.NewStore(c.rdb, nil), st)
	if err != nil || st.Delivered == 0 {
		return
	}
	done := ""
	if rs.Complete {
		done = " (complete)"
	}
	fmt.Fprintf(e.stdout, "results%s: %d answered, %d not answered, %d not called, %d pending\n\n",
		done, rs.Answered, rs.NotAnswered, rs.NotCalled, rs.Pending)
}
