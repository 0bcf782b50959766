package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dialq/dialq/batch"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/intake"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/redact"
)

const suppressUsage = `usage:
  enqueue suppress import [-list dnc] [-expires 720h|30d] [-region CN] [-format auto] [-json] FILE|-
  enqueue suppress add|remove|check [-list dnc] [-expires D] [-region CN] [-json] NUMBER...
  enqueue suppress count [-list dnc] [-json]
  enqueue suppress export [-list dnc] [-json]      (CSV phone,expires; valid import input)
  enqueue audit BATCH                               (CSV batch,phone,decision,detail,time)
Numbers are read as enqueue reads them (libphonenumber, -region for numbers without a
country code) and kept as E.164. Input formats: as enqueue (lines, CSV, JSON Lines, gzip).
`

// suppressFlags are every suppress subcommand's flags; each uses the ones it needs.
type suppressFlags struct {
	list, region, format, redisURL string
	expires                        string
	jsonOut                        bool
}

func parseSuppressFlags(name string, e env, args []string) (*suppressFlags, []string, error) {
	f := &suppressFlags{}
	fs := flag.NewFlagSet("enqueue suppress "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&f.list, "list", compliance.DefaultList, "suppression list name")
	// No default from $REDIS_URL: -h prints defaults, and the URL may hold a password.
	fs.StringVar(&f.redisURL, "redis", "", redisconf.FlagHelp)
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as JSON on stdout")
	switch name {
	case "import", "add", "remove", "check":
		fs.StringVar(&f.region, "region", envconf.Or(e.getenv, "DIALQ_REGION", "CN"), "region for numbers without a country code")
	}
	switch name {
	case "import", "add":
		fs.StringVar(&f.expires, "expires", "", "entries expire after this long (e.g. 720h or 30d; default never)")
	}
	if name == "import" {
		fs.StringVar(&f.format, "format", "auto", "input format: auto, lines, csv or jsonl")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, suppressUsage)
			fs.SetOutput(e.stdout)
			fs.PrintDefaults()
			return nil, nil, &exitError{code: exitOK, err: err}
		}
		return nil, nil, usageErr("%v", err)
	}
	if err := compliance.CheckList(f.list); err != nil {
		return nil, nil, usageErr("-list: %v", err)
	}
	return f, fs.Args(), nil
}

// parseExpiry reads -expires: a Go duration or whole days ("30d").
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return time.Time{}, fmt.Errorf("-expires %q: want a duration such as 720h or 30d", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return time.Time{}, fmt.Errorf("-expires %q: want a duration such as 720h or 30d", s)
		}
	}
	if d <= 0 {
		return time.Time{}, fmt.Errorf("-expires %q: must be positive", s)
	}
	return now.Add(d), nil
}

func runSuppress(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(e.stdout, suppressUsage)
		if len(args) == 0 {
			return usageErr("suppress: want import, add, remove, check, count or export")
		}
		return nil
	}
	name := args[0]
	switch name {
	case "import", "add", "remove", "check", "count", "export":
	default:
		return usageErr("suppress %s: want import, add, remove, check, count or export", name)
	}
	f, rest, err := parseSuppressFlags(name, e, args[1:])
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) && ee.code == exitOK {
			return nil
		}
		return err
	}
	expires, err := parseExpiry(f.expires, time.Now())
	if err != nil {
		return usageErr("%v", err)
	}
	switch name {
	case "import":
		if len(rest) != 1 {
			return usageErr("suppress import: want exactly one input, a file or - for standard input")
		}
	case "add", "remove", "check":
		if len(rest) == 0 {
			return usageErr("suppress %s: want at least one NUMBER", name)
		}
	default:
		if len(rest) != 0 {
			return usageErr("suppress %s takes no arguments", name)
		}
	}
	var keys []string
	if name == "add" || name == "remove" || name == "check" {
		if keys, err = normaliseArgs(rest, f.region); err != nil {
			return err
		}
	}
	rcfg, err := redisconf.Load(e.getenv, f.redisURL)
	if err != nil {
		return usageErr("%v", err)
	}
	c, err := connect(ctx, *rcfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if name == "import" || name == "add" {
		if err := refuseEvicting(ctx, c.rdb, e.stderr); err != nil {
			return err
		}
	}
	s := compliance.NewStore(c.rdb)
	switch name {
	case "import":
		return suppressImport(ctx, s, f, rest[0], expires, e)
	case "add":
		added, err := s.Add(ctx, f.list, keys, expires)
		if err != nil {
			return inputErr(err)
		}
		return report(e, f.jsonOut, map[string]any{"list": f.list, "numbers": len(keys), "added": added},
			"%s: %d numbers, %d new\n", f.list, len(keys), added)
	case "remove":
		removed, err := s.Remove(ctx, f.list, keys)
		if err != nil {
			return inputErr(err)
		}
		return report(e, f.jsonOut, map[string]any{"list": f.list, "numbers": len(keys), "removed": removed},
			"%s: %d numbers, %d removed\n", f.list, len(keys), removed)
	case "check":
		lists, err := s.Check(ctx, []string{f.list}, keys)
		if err != nil {
			return inputErr(err)
		}
		type row struct {
			Phone  string `json:"phone"`
			Listed bool   `json:"listed"`
			List   string `json:"list"`
		}
		rows := make([]row, len(keys))
		for i, k := range keys {
			rows[i] = row{Phone: k, Listed: lists[i] != "", List: f.list}
		}
		if f.jsonOut {
			return json.NewEncoder(e.stdout).Encode(rows)
		}
		for _, r := range rows {
			verdict := "not listed"
			if r.Listed {
				verdict = "listed"
			}
			fmt.Fprintf(e.stdout, "%s\t%s in %s\n", r.Phone, verdict, f.list)
		}
		return nil
	case "count":
		n, err := s.Count(ctx, f.list)
		if err != nil {
			return inputErr(err)
		}
		if f.jsonOut {
			return json.NewEncoder(e.stdout).Encode(map[string]any{"list": f.list, "count": n})
		}
		fmt.Fprintln(e.stdout, n)
		return nil
	default: // export
		return suppressExport(ctx, s, f, e)
	}
}

// report prints a result as JSON on stdout, or as a line on stderr.
func report(e env, asJSON bool, v any, format string, args ...any) error {
	if asJSON {
		return json.NewEncoder(e.stdout).Encode(v)
	}
	fmt.Fprintf(e.stderr, format, args...)
	return nil
}

// normaliseArgs validates numbers as enqueue does and returns them as E.164. An
// invalid one is named by position and masked: stderr may end up in a log.
func normaliseArgs(args []string, region string) ([]string, error) {
	norm, err := ingest.NewNormaliser(chunking.NXCloud, region)
	if err != nil {
		return nil, usageErr("-region: %v", err)
	}
	out := make([]string, len(args))
	for i, a := range args {
		_, phone, reason := norm.Normalise(a)
		if reason != "" {
			return nil, usageErr("number %d (%s): %s", i+1, redact.Phone(a), reason)
		}
		out[i] = "+" + phone
	}
	return out, nil
}

// importSink feeds ingest's accepted rows (NXCloud form: country code and number)
// to the importer.
type importSink struct {
	ctx      context.Context
	im       *compliance.Importer
	rejected int64
}

func (s *importSink) Accept(rec chunking.Record) error {
	n, err := compliance.ParseE164(rec.Phone)
	if err != nil {
		return err
	}
	return s.im.Add(s.ctx, n)
}

func (s *importSink) Reject(ingest.Reject) error { s.rejected++; return nil }

func suppressImport(ctx context.Context, s *compliance.Store, f *suppressFlags, input string, expires time.Time, e env) error {
	started := time.Now()
	format, err := ingest.ParseFormat(f.format)
	if err != nil {
		return usageErr("-format: %v", err)
	}
	in, _, closeInput, err := openInput(input, e.stdin)
	if err != nil {
		return inputErr(err)
	}
	defer closeInput()
	src, err := ingest.Open(in, format)
	if err != nil {
		return inputErr(err)
	}
	im, err := s.NewImporter(f.list, expires)
	if err != nil {
		return usageErr("%v", err)
	}
	sink := &importSink{ctx: ctx, im: im}
	counts, err := ingest.Run(ctx, src, ingest.Options{Vendor: chunking.NXCloud, Region: f.region}, sink)
	if err != nil {
		// What was imported before the input broke off stays listed: a list only
		// gains numbers, and running the import again is harmless.
		_, _ = im.Close(context.WithoutCancel(ctx))
		return inputErr(fmt.Errorf("import into %s: %w (numbers before the error are listed)", f.list, err))
	}
	added, err := im.Close(ctx)
	if err != nil {
		return inputErr(err)
	}
	secs := time.Since(started).Seconds()
	exp := ""
	if !expires.IsZero() {
		exp = expires.UTC().Format(time.RFC3339)
	}
	// Duplicates within the input are rejected by ingest, the rest invalid numbers.
	return report(e, f.jsonOut, map[string]any{
		"list": f.list, "read": counts.Read, "imported": counts.Accepted, "added": added,
		"rejected": counts.Rejected - counts.Duplicates, "duplicates": counts.Duplicates,
		"expires": exp, "seconds": secs,
	}, "%s: read %d, imported %d (%d new), %d invalid, %d duplicates in %.1fs\n",
		f.list, counts.Read, counts.Accepted, added, counts.Rejected-counts.Duplicates, counts.Duplicates, secs)
}

func suppressExport(ctx context.Context, s *compliance.Store, f *suppressFlags, e env) error {
	w := e.stdout
	enc := json.NewEncoder(w)
	if !f.jsonOut {
		fmt.Fprintln(w, "phone,expires")
	}
	err := s.Export(ctx, f.list, func(n string, exp time.Time) error {
		at := ""
		if !exp.IsZero() {
			at = exp.Format(time.RFC3339)
		}
		if f.jsonOut {
			return enc.Encode(map[string]string{"phone": n, "expires": at})
		}
		_, err := fmt.Fprintf(w, "%s,%s\n", n, at)
		return err
	})
	if err != nil {
		return inputErr(err)
	}
	return nil
}

func runAudit(ctx context.Context, args []string, e env) error {
	fs, redisURL, err := opFlags("audit", e, args, nil)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("usage: enqueue audit BATCH")
	}
	c, err := connect(ctx, *redisURL)
	if err != nil {
		return err
	}
	defer c.Close()
	id := fs.Arg(0)
	_, err = c.store.Manifest(ctx, id)
	if err == nil {
		if err := compliance.NewStore(c.rdb).ExportAudit(ctx, id, e.stdout); err != nil {
			return inputErr(err)
		}
		return nil
	}
	if !errors.Is(err, batch.ErrNotFound) {
		return batchErr(err)
	}
	// The audit outlives its batch (it is kept longer than the retention): read it
	// first, and say so when there is neither.
	var buf bytes.Buffer
	if err := compliance.NewStore(c.rdb).ExportAudit(ctx, id, &buf); err != nil {
		return inputErr(err)
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) <= 1 {
		return usageErr("batch %s: no such batch and no compliance audit for it", id)
	}
	_, err = e.stdout.Write(buf.Bytes())
	return err
}

// printGate tells the operator on stderr what the compliance gate did.
func printGate(e env, s *intake.Summary) {
	switch s.Gate {
	case intake.GateNone:
		fmt.Fprintln(e.stderr, "no compliance gate applied: the campaign has no \"compliance\" block")
	case intake.GateChecked:
		fmt.Fprintf(e.stderr, "compliance: %d numbers suppressed (on a list or over their contact cap), listed in the rejects\n", s.Suppressed)
	case intake.GateUnchecked:
		fmt.Fprintln(e.stderr, "compliance: not checked in a dry run (the worker checks before each call)")
	}
}
