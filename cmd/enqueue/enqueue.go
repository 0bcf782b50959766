package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/internal/csvcell"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/preflight"
	"github.com/dialq/dialq/producer"
	"github.com/dialq/dialq/vendors/registry"
)

type enqueueFlags struct {
	vendor, campaignFile, region, format, batchID, rejectsFile, queue string
	redis                                                             *redisFlag
	partSize, callSize, workers                                       int
	retention                                                         time.Duration
	jsonOut, dryRun, strict, progress                                 bool
	noVendorCheck                                                     bool
}

var batchIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// rootCmd is enqueue itself: enqueue -vendor V -campaign C.json FILE|-.
func rootCmd(e env) *ffcli.Command {
	fs, f := enqueueFlagSet(e)
	version := fs.Bool("version", false, "print the version and exit")
	return &ffcli.Command{
		ShortUsage: "enqueue -vendor " + strings.Join(registry.Names(), "|") + " -campaign FILE.json [flags] FILE|-",
		ShortHelp:  "Reads a phone-number list (lines, CSV or JSON Lines, gzip or not; - for stdin) and queues it as vendor-sized parts.",
		LongHelp: `Every command takes -h (or: enqueue help COMMAND). Shell completion: enqueue completion bash|zsh|fish.
Exit codes: 0 done; 1 usage or configuration error (nothing written); 2 input unreadable or
Redis unreachable (nothing half-written); 3 -strict and rows rejected; 130/143 stopped by
SIGINT/SIGTERM (nothing written before the commit). GOMEMLIMIT, when set, overrides the
memory bound enqueue keeps.`,
		FlagSet: fs,
		Exec: func(ctx context.Context, args []string) error {
			if *version {
				return printVersion(e)
			}
			if len(args) > 0 && fs.NFlag() == 0 && commandWord.MatchString(args[0]) && !isFile(args[0]) {
				// A word with no flags is a mistyped command, not a file name.
				return usageErr("unknown command %q (enqueue -h lists the commands)", args[0])
			}
			ff, input, err := checkEnqueueFlags(fs, f, args)
			if err != nil {
				return err
			}
			return runEnqueue(ctx, ff, input, e)
		},
	}
}

// commandWord is what a mistyped command looks like: a file name has a dot or a slash.
var commandWord = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// enqueueFlagSet defines enqueue's flags. Defaults read from the environment are
// shown in -h, except REDIS_URL's: it may hold a password.
func enqueueFlagSet(e env) (*flag.FlagSet, *enqueueFlags) {
	f := &enqueueFlags{}
	fs, rf := newFlagSet("", true)
	f.redis = rf
	envString(fs, e, &f.vendor, "vendor", "DIALQ_VENDOR", "", "vendor: "+registry.OneOf()+" (required)")
	envString(fs, e, &f.campaignFile, "campaign", "DIALQ_CAMPAIGN", "", "campaign settings JSON `file` (required; see examples/)")
	envString(fs, e, &f.region, "region", "DIALQ_REGION", "CN", "region for numbers without a country code")
	fs.StringVar(&f.format, "format", "auto", "input format: auto, lines, csv or jsonl")
	fs.StringVar(&f.batchID, "batch", "", "batch `id` (default: derived from vendor, campaign and input)")
	fs.StringVar(&f.rejectsFile, "rejects", "", "write rejected rows to this CSV `file`")
	envString(fs, e, &f.queue, "queue", "DIALQ_QUEUE", "", "asynq queue for the parts (default: the vendor's own, dialq-<vendor>)")
	fs.IntVar(&f.partSize, "part-size", 0, "records per part (default: the vendor's limit)")
	fs.IntVar(&f.callSize, "call-size", 0, "records per vendor call (default: the vendor's limit)")
	fs.IntVar(&f.workers, "workers", 0, "validation goroutines (default: one per CPU)")
	fs.DurationVar(&f.retention, "retention", ledger.DefaultRetention, "how long a finished batch is kept")
	fs.BoolVar(&f.jsonOut, "json", false, "print the summary as JSON on stdout")
	fs.BoolVar(&f.dryRun, "dry-run", false, "validate, count and print the plan; write nothing")
	fs.BoolVar(&f.strict, "strict", false, "enqueue nothing if any row is rejected (exit 3)")
	fs.BoolVar(&f.progress, "progress", true, "show a progress bar when stderr is a terminal")
	fs.BoolVar(&f.noVendorCheck, "no-vendor-check", false, "FlashAI: do not check the campaign against the tenant (offline enqueue)")
	return fs, f
}

func checkEnqueueFlags(fs *flag.FlagSet, f *enqueueFlags, args []string) (*enqueueFlags, string, error) {
	if len(args) != 1 {
		return nil, "", usageErr("want exactly one input, a file or - for standard input (enqueue -h)")
	}
	if f.vendor == "" {
		return nil, "", usageErr("-vendor is required: %s", registry.OneOf())
	}
	if f.campaignFile == "" {
		return nil, "", usageErr("-campaign is required: the vendor task settings (see examples/%s.json)", f.vendor)
	}
	if f.batchID != "" && !batchIDPattern.MatchString(f.batchID) {
		return nil, "", usageErr("-batch %q: use 1-64 letters, digits, '_' or '-'", f.batchID)
	}
	// Zero means the default; a negative value would silently mean it too.
	for _, n := range []struct {
		flag string
		v    int
	}{{"-part-size", f.partSize}, {"-call-size", f.callSize}, {"-workers", f.workers}} {
		if n.v < 0 {
			return nil, "", usageErr("%s %d: want a positive number (or 0 for the default)", n.flag, n.v)
		}
	}
	if f.retention < time.Second {
		return nil, "", usageErr("-retention %s: want at least 1s", f.retention)
	}
	return f, args[0], nil
}

func runEnqueue(ctx context.Context, f *enqueueFlags, input string, e env) error {
	profile, err := producer.Profile(f.vendor, f.partSize, f.callSize)
	if err != nil {
		return usageErr("%v", err)
	}
	format, err := ingest.ParseFormat(f.format)
	if err != nil {
		return usageErr("-format: %v", err)
	}
	data, err := os.ReadFile(f.campaignFile)
	if err != nil {
		return usageErr("-campaign: %v", err)
	}
	campaignJSON, err := producer.CampaignJSON(f.vendor, data)
	if err != nil {
		return usageErr("-campaign %s: %v", f.campaignFile, err)
	}
	if _, err := ingest.NewNormaliser(f.vendor, f.region); err != nil {
		return usageErr("-region: %v", err)
	}
	var checked *preflight.Result
	if f.vendor == registry.FlashAI {
		if checked, err = flashaiPreflight(ctx, e, campaignJSON, f.noVendorCheck); err != nil {
			return err
		}
	}
	var rdb redis.UniversalClient
	var aopt asynq.RedisConnOpt
	if !f.dryRun {
		rcfg, err := f.redis.config(e)
		if err != nil {
			return err
		}
		rc := rcfg.Open()
		defer rc.Close()
		rdb, aopt = rc.Client, rc.Asynq
		if err := rdb.Ping(ctx).Err(); err != nil {
			return inputErr(fmt.Errorf("redis unreachable at %s: %w", strings.Join(rcfg.Addrs, ","), err))
		}
		if err := refuseEvicting(ctx, rdb, e.stderr); err != nil {
			return err
		}
	}
	in, size, closeInput, err := openInput(input, e.stdin)
	if err != nil {
		return inputErr(err)
	}
	defer closeInput()
	counted := &countingReader{r: newStoppable(ctx, in)}
	req := producer.Request{
		Vendor: f.vendor, Region: f.region, Format: format, Campaign: campaignJSON, Profile: profile,
		BatchID: f.batchID, Queue: f.queue, Source: sourceName(input), Retention: f.retention,
		Workers: f.workers, Strict: f.strict, DryRun: f.dryRun,
	}
	if checked != nil {
		req.RowCheck, req.VendorCheck = checked.RowCheck, checked.Note
	}
	var rejects *rejectWriter
	if f.rejectsFile != "" {
		if rejects, err = newRejectWriter(f.rejectsFile); err != nil {
			return usageErr("-rejects: %v", err)
		}
		defer rejects.Close()
		req.OnReject = rejects.Write
	}
	var bar *progress
	if f.progress && e.isTerminal {
		bar = newProgress(size, e.stderr)
		req.Progress = func(int64) { bar.set(counted.n.Load()) }
	}
	req.Progress = boundMemory(e.getenv, req.Progress)
	sum, err := producer.Enqueue(ctx, rdb, aopt, counted, req)
	if bar != nil {
		bar.finish()
	}
	if rejects != nil {
		if cerr := rejects.Close(); cerr != nil && err == nil {
			err = inputErr(fmt.Errorf("-rejects: %w", cerr))
		}
	}
	if sum != nil {
		printSummary(e, f.jsonOut, sum)
		if f.queue != "" && aopt != nil {
			warnUnserved(aopt, f.queue, e)
		}
	}
	var ce *producer.ConfigError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && (sum == nil || !sum.Committed):
		// Stopped before the commit: the staged parts were deleted.
		return inputErr(fmt.Errorf("nothing was enqueued: %w", ctx.Err()))
	case errors.Is(err, producer.ErrStrict):
		return &exitError{code: exitStrict, err: fmt.Errorf("-strict: %d rows rejected, nothing enqueued", sum.Rejected)}
	case errors.As(err, &ce):
		return usageErr("%v", err)
	}
	return inputErr(err)
}

func openInput(name string, stdin io.Reader) (io.Reader, int64, func(), error) {
	if name == "-" {
		return stdin, -1, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("input: %w", err)
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil {
		if st.IsDir() {
			f.Close()
			return nil, 0, nil, fmt.Errorf("input %s is a directory", name)
		}
		size = st.Size()
	}
	return f, size, func() { f.Close() }, nil
}

func sourceName(input string) string {
	if input == "-" {
		return "stdin"
	}
	return filepath.Base(input)
}

func printSummary(e env, asJSON bool, s *producer.Summary) {
	if asJSON {
		_ = json.NewEncoder(e.stdout).Encode(s)
	}
	verb := "enqueued"
	switch {
	case s.DryRun:
		verb = "dry run, nothing written"
	case !s.Committed:
		verb = "nothing enqueued"
	case s.Existing:
		verb = "already enqueued before"
	}
	fmt.Fprintf(e.stderr, "batch %s (%s, %s): read %d, accepted %d, rejected %d (%d duplicates), %d parts; %s",
		s.Batch, s.Vendor, s.Format, s.Read, s.Accepted, s.Rejected, s.Duplicates, s.Parts, verb)
	if s.Committed {
		fmt.Fprintf(e.stderr, " (%d new tasks, %d already queued)", s.Enqueued, s.AlreadyQueued)
	}
	fmt.Fprintf(e.stderr, " in %.1fs\n", s.Seconds)
	if len(s.IgnoredColumns) > 0 {
		fmt.Fprintf(e.stderr, "ignored columns: %s\n", strings.Join(s.IgnoredColumns, ", "))
	}
	printGate(e, s)
	if s.VendorCheck != "" {
		fmt.Fprintf(e.stderr, "campaign %s\n", s.VendorCheck)
	}
}

// rejectWriter writes rejected rows as CSV (line, phone, reason); its phone column
// makes the file valid enqueue input once the rows are fixed.
type rejectWriter struct {
	f *os.File
	w *csv.Writer
}

func newRejectWriter(name string) (*rejectWriter, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	w := csv.NewWriter(f)
	if err := w.Write([]string{"line", "phone", "reason"}); err != nil {
		f.Close()
		return nil, err
	}
	return &rejectWriter{f: f, w: w}, nil
}

func (rw *rejectWriter) Write(r ingest.Reject) error {
	return rw.w.Write([]string{strconv.FormatInt(r.Line, 10), csvcell.Safe(r.Raw), csvcell.Safe(r.Reason)})
}

func (rw *rejectWriter) Close() error {
	if rw.f == nil {
		return nil
	}
	rw.w.Flush()
	err := rw.w.Error()
	if cerr := rw.f.Close(); err == nil {
		err = cerr
	}
	rw.f = nil
	return err
}

// boundMemory keeps the heap near what the dedup set needs, 64 MiB plus 16 bytes a
// number read, by raising a soft memory limit as rows come in: with Go's default
// GC the heap would grow to twice the dedup table before a collection. The table
// holds no pointers, so the extra collections are cheap. GOMEMLIMIT, when set, wins.
func boundMemory(getenv func(string) string, next func(int64)) func(int64) {
	if getenv("GOMEMLIMIT") != "" {
		return next
	}
	// The base leaves room inside 64 MiB for what is not heap (code, stacks).
	const base, perRow = 48 << 20, 16
	debug.SetMemoryLimit(base)
	var lastSet int64
	return func(read int64) {
		if read-lastSet >= 64<<10 {
			debug.SetMemoryLimit(base + perRow*read)
			lastSet = read
		}
		if next != nil {
			next(read)
		}
	}
}
