package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/schollz/progressbar/v3"

	"github.com/dialq/dialq/batch"
	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/jobs"
)

type enqueueFlags struct {
	vendor, campaignFile, region, format, batchID, rejectsFile, queue, redisURL string
	partSize, callSize, workers                                                 int
	retention                                                                   time.Duration
	jsonOut, dryRun, strict, progress                                           bool
}

// Summary is enqueue's account of one run (the -json output).
type Summary struct {
	Batch      string `json:"batch"`
	Vendor     string `json:"vendor"`
	Read       int64  `json:"read"`
	Accepted   int64  `json:"accepted"`
	Rejected   int64  `json:"rejected"`
	Duplicates int64  `json:"duplicates"`
	Parts      int    `json:"parts"`
	Enqueued   int    `json:"enqueued"`
	// AlreadyQueued counts parts whose task existed: the same batch ran before.
	AlreadyQueued int     `json:"already_queued"`
	Existing      bool    `json:"existing"`
	DryRun        bool    `json:"dry_run,omitempty"`
	Format        string  `json:"format"`
	Seconds       float64 `json:"seconds"`
}

var batchIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func parseEnqueueFlags(args []string, e env) (*enqueueFlags, string, error) {
	f := &enqueueFlags{}
	fs := flag.NewFlagSet("enqueue", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&f.vendor, "vendor", e.getenv("DIALQ_VENDOR"), "vendor: nxcloud, yccall, speech or flashai (required)")
	fs.StringVar(&f.campaignFile, "campaign", e.getenv("DIALQ_CAMPAIGN"), "campaign settings JSON file (required; see examples/)")
	fs.StringVar(&f.region, "region", envconf.Or(e.getenv, "DIALQ_REGION", "CN"), "region for numbers without a country code")
	fs.StringVar(&f.format, "format", "auto", "input format: auto, lines, csv or jsonl")
	fs.StringVar(&f.batchID, "batch", "", "batch id (default: derived from vendor, campaign and input)")
	fs.StringVar(&f.rejectsFile, "rejects", "", "write rejected rows to this CSV file")
	fs.StringVar(&f.queue, "queue", envconf.Or(e.getenv, "DIALQ_QUEUE", jobs.DefaultQueue), "asynq queue for the parts")
	fs.StringVar(&f.redisURL, "redis", envconf.Or(e.getenv, "REDIS_URL", redisconf.DefaultURL), "Redis URL (redis:// or rediss://)")
	fs.IntVar(&f.partSize, "part-size", 0, "records per part (default: the vendor's limit)")
	fs.IntVar(&f.callSize, "call-size", 0, "records per vendor call (default: the vendor's limit)")
	fs.IntVar(&f.workers, "workers", 0, "validation goroutines (default: one per CPU)")
	fs.DurationVar(&f.retention, "retention", batch.DefaultRetention, "how long a finished batch is kept")
	fs.BoolVar(&f.jsonOut, "json", false, "print the summary as JSON on stdout")
	fs.BoolVar(&f.dryRun, "dry-run", false, "validate, count and print the plan; write nothing")
	fs.BoolVar(&f.strict, "strict", false, "enqueue nothing if any row is rejected (exit 3)")
	fs.BoolVar(&f.progress, "progress", true, "show a progress bar when stderr is a terminal")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, "", &exitError{code: exitOK, err: err}
		}
		return nil, "", usageErr("%v", err)
	}
	if fs.NArg() != 1 {
		return nil, "", usageErr("want exactly one input, a file or - for standard input\n%s", usage)
	}
	if f.vendor == "" {
		return nil, "", usageErr("-vendor is required: nxcloud, yccall, speech or flashai")
	}
	if f.campaignFile == "" {
		return nil, "", usageErr("-campaign is required: the vendor task settings (see examples/%s.json)", f.vendor)
	}
	if f.batchID != "" && !batchIDPattern.MatchString(f.batchID) {
		return nil, "", usageErr("-batch %q: use 1-64 letters, digits, '_' or '-'", f.batchID)
	}
	return f, fs.Arg(0), nil
}

func runEnqueue(ctx context.Context, args []string, e env) error {
	started := time.Now()
	f, input, err := parseEnqueueFlags(args, e)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) && ee.code == exitOK {
			return nil
		}
		return err
	}
	profile, err := chunking.DefaultProfile(f.vendor)
	if err != nil {
		return usageErr("-vendor: %v", err)
	}
	if f.partSize > 0 {
		profile.PartSize = f.partSize
		if f.vendor == chunking.NXCloud || f.vendor == chunking.FlashAI {
			profile.CallSize = f.partSize
		}
	}
	if f.callSize > 0 {
		profile.CallSize = f.callSize
	}
	if err := profile.Validate(); err != nil {
		return usageErr("%v", err)
	}
	format, err := ingest.ParseFormat(f.format)
	if err != nil {
		return usageErr("-format: %v", err)
	}
	campaignJSON, err := loadCampaign(f.vendor, f.campaignFile)
	if err != nil {
		return err
	}
	if _, err := ingest.NewNormaliser(f.vendor, f.region); err != nil {
		return usageErr("-region: %v", err)
	}

	var rdb *redis.Client
	var aopt asynq.RedisClientOpt
	if !f.dryRun {
		opt, ao, err := redisconf.Parse(f.redisURL)
		if err != nil {
			return usageErr("%v", err)
		}
		aopt = ao
		rdb = redis.NewClient(opt)
		defer rdb.Close()
		if err := rdb.Ping(ctx).Err(); err != nil {
			return inputErr(fmt.Errorf("redis unreachable at %s: %w", opt.Addr, err))
		}
	}

	in, size, closeInput, err := openInput(input, e.stdin)
	if err != nil {
		return inputErr(err)
	}
	defer closeInput()
	hasher := sha256.New()
	counted := &countingReader{r: io.TeeReader(in, hasher)}
	src, err := ingest.Open(counted, format)
	if err != nil {
		var ie *ingest.InputError
		if errors.As(err, &ie) {
			return inputErr(err)
		}
		return usageErr("%v", err)
	}

	var rejects *rejectWriter
	if f.rejectsFile != "" {
		rw, err := newRejectWriter(f.rejectsFile)
		if err != nil {
			return usageErr("-rejects: %v", err)
		}
		defer rw.Close()
		rejects = rw
	}

	sink := &stagingSink{ctx: ctx, rejects: rejects}
	if !f.dryRun {
		store := batch.NewStore(rdb)
		sink.staging = store.NewStaging()
	}
	splitter, err := chunking.NewSplitter(profile.PartSize, sink.writePart)
	if err != nil {
		return usageErr("%v", err)
	}
	sink.splitter = splitter

	opts := ingest.Options{Vendor: f.vendor, Region: f.region, Workers: f.workers}
	var bar *progressbar.ProgressBar
	if f.progress && e.isTerminal {
		bar = newProgressBar(size, e.stderr)
		opts.Progress = func(int64) { _ = bar.Set64(counted.n.Load()) }
	}
	counts, err := ingest.Run(ctx, src, opts, sink)
	if err == nil {
		err = splitter.Close()
	}
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(e.stderr)
	}
	abort := func() {
		if sink.staging != nil {
			_ = sink.staging.Abort(context.WithoutCancel(ctx))
		}
	}
	if err != nil {
		abort()
		var ie *ingest.InputError
		if errors.As(err, &ie) {
			return inputErr(fmt.Errorf("%w (nothing was enqueued)", err))
		}
		return inputErr(fmt.Errorf("%w (nothing was enqueued)", err))
	}
	if rejects != nil {
		if err := rejects.Close(); err != nil {
			abort()
			return inputErr(fmt.Errorf("-rejects: %w", err))
		}
	}

	id := f.batchID
	if id == "" {
		id = deriveBatchID(f.vendor, f.region, campaignJSON, profile, hasher.Sum(nil))
	}
	sum := Summary{
		Batch: id, Vendor: f.vendor, Read: counts.Read, Accepted: counts.Accepted, Rejected: counts.Rejected,
		Duplicates: counts.Duplicates, Parts: splitter.Parts(), DryRun: f.dryRun, Format: string(src.Format),
	}
	if f.strict && counts.Rejected > 0 {
		abort()
		printSummary(e, f.jsonOut, &sum, started, src.Ignored)
		return &exitError{code: exitStrict, err: fmt.Errorf("-strict: %d rows rejected, nothing enqueued", counts.Rejected)}
	}
	if f.dryRun {
		printSummary(e, f.jsonOut, &sum, started, src.Ignored)
		return nil
	}

	m := &batch.Manifest{
		ID: id, Vendor: f.vendor, Region: f.region, Queue: f.queue, Campaign: campaignJSON, Profile: profile,
		Read: counts.Read, Accepted: counts.Accepted, Rejected: counts.Rejected, Duplicates: counts.Duplicates,
		Parts: splitter.Parts(), Created: time.Now().UTC(), Retention: f.retention, Source: sourceName(input),
	}
	existing, err := sink.staging.Commit(ctx, m)
	if err != nil {
		abort()
		return inputErr(fmt.Errorf("%w (re-run the same command to finish)", err))
	}
	sum.Existing = existing
	if existing {
		// The stored manifest is the truth: the same input gave the same parts.
		stored, err := batch.NewStore(rdb).Manifest(ctx, id)
		if err != nil {
			return inputErr(err)
		}
		m = stored
	}
	enq, already, err := enqueueParts(ctx, aopt, m)
	sum.Enqueued, sum.AlreadyQueued = enq, already
	if err != nil {
		return inputErr(fmt.Errorf("%w (re-run the same command to finish)", err))
	}
	printSummary(e, f.jsonOut, &sum, started, src.Ignored)
	return nil
}

func loadCampaign(vendor, file string) (json.RawMessage, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, usageErr("-campaign: %v", err)
	}
	c, err := campaign.Parse(vendor, data)
	if err != nil {
		return nil, usageErr("-campaign %s: %v", file, err)
	}
	// Store the parsed form: canonical, so the derived batch id ignores formatting.
	b, err := json.Marshal(c)
	if err != nil {
		return nil, usageErr("-campaign: %v", err)
	}
	return b, nil
}

// deriveBatchID makes the same command over the same input give the same id, so a
// re-run enqueues nothing new.
func deriveBatchID(vendor, region string, campaignJSON []byte, p chunking.Profile, content []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00%d\x00", vendor, region, campaignJSON, p.PartSize, p.CallSize)
	h.Write(content)
	return vendor + "-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// enqueueParts puts one task per part on the queue. A part whose task already
// exists (the same batch was enqueued before) is counted, not an error.
func enqueueParts(ctx context.Context, aopt asynq.RedisClientOpt, m *batch.Manifest) (enqueued, already int, err error) {
	client := asynq.NewClient(aopt)
	defer client.Close()
	for n := range m.Parts {
		task, err := jobs.NewPartTask(m.Vendor, m.ID, n, partRecords(m, n), asynq.Queue(m.Queue))
		if err != nil {
			return enqueued, already, err
		}
		_, err = client.EnqueueContext(ctx, task)
		switch {
		case errors.Is(err, asynq.ErrTaskIDConflict):
			already++
		case err != nil:
			return enqueued, already, fmt.Errorf("enqueue part %d: %w", n, err)
		default:
			enqueued++
		}
	}
	return enqueued, already, nil
}

// partRecords is the number of records in part n, known from the manifest.
func partRecords(m *batch.Manifest, n int) int {
	if n < m.Parts-1 {
		return m.Profile.PartSize
	}
	return int(m.Accepted - int64(m.Parts-1)*int64(m.Profile.PartSize))
}

type stagingSink struct {
	ctx      context.Context
	staging  *batch.Staging
	splitter *chunking.Splitter
	rejects  *rejectWriter
}

func (s *stagingSink) Accept(rec chunking.Record) error { return s.splitter.Add(rec) }

func (s *stagingSink) Reject(r ingest.Reject) error {
	if s.rejects != nil {
		if err := s.rejects.Write(r); err != nil {
			return fmt.Errorf("-rejects: %w", err)
		}
	}
	if s.staging == nil {
		return nil
	}
	return s.staging.AddReject(s.ctx, batch.Reject{Line: r.Line, Raw: r.Raw, Reason: r.Reason})
}

func (s *stagingSink) writePart(n int, recs []chunking.Record) error {
	if s.staging == nil {
		return nil
	}
	return s.staging.WritePart(s.ctx, n, recs)
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

func printSummary(e env, asJSON bool, s *Summary, started time.Time, ignored []string) {
	s.Seconds = time.Since(started).Round(time.Millisecond).Seconds()
	if asJSON {
		_ = json.NewEncoder(e.stdout).Encode(s)
	}
	verb := "enqueued"
	switch {
	case s.DryRun:
		verb = "dry run, nothing written"
	case s.Existing:
		verb = "already enqueued before"
	}
	fmt.Fprintf(e.stderr, "batch %s (%s, %s): read %d, accepted %d, rejected %d (%d duplicates), %d parts; %s",
		s.Batch, s.Vendor, s.Format, s.Read, s.Accepted, s.Rejected, s.Duplicates, s.Parts, verb)
	if !s.DryRun {
		fmt.Fprintf(e.stderr, " (%d new tasks, %d already queued)", s.Enqueued, s.AlreadyQueued)
	}
	fmt.Fprintf(e.stderr, " in %.1fs\n", s.Seconds)
	if len(ignored) > 0 {
		fmt.Fprintf(e.stderr, "ignored columns: %s\n", strings.Join(ignored, ", "))
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
	return rw.w.Write([]string{strconv.FormatInt(r.Line, 10), safeCell(r.Raw), safeCell(r.Reason)})
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

var plainNumber = regexp.MustCompile(`^[0-9 +().-]*$`)

// safeCell defuses spreadsheet formulas: a cell that starts with = + - @ (or a tab
// or CR) is prefixed with a quote, unless it is plainly a phone number such as
// +8613800138000, which must stay feedable as input.
func safeCell(s string) string {
	if s == "" || !strings.ContainsAny(s[:1], "=+-@\t\r") || plainNumber.MatchString(s) {
		return s
	}
	return "'" + s
}
