package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/internal/csvcell"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/producer"
	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors/registry"
)

func init() { register(suppressCmd) }

const suppressLong = `Numbers are read as enqueue reads them (libphonenumber, -region for numbers without a
country code) and kept as E.164. Input formats: as enqueue (lines, CSV, JSON Lines, gzip).`

var suppressSubs = []struct{ name, usage, help string }{
	{"import", "[-list dnc] [-expires 720h|30d] [-region CN] [-format auto] [-rejects FILE] [-strict] [-json] FILE|-", "add every number of a list file"},
	{"add", "[-list dnc] [-expires D] [-region CN] [-json] NUMBER...", "add numbers"},
	{"remove", "[-list dnc] [-region CN] [-json] NUMBER...", "remove numbers"},
	{"check", "[-list dnc] [-region CN] [-json] NUMBER...", "say whether numbers are listed"},
	{"count", "[-list dnc] [-json]", "how many numbers a list holds"},
	{"export", "[-list dnc] [-json]", "every number as CSV phone,expires (valid import input)"},
}

// suppressCmd is the group of suppression-list commands.
func suppressCmd(e env) *ffcli.Command {
	fs, _ := newFlagSet("suppress", false)
	cmd := &ffcli.Command{
		Name: "suppress", ShortUsage: "enqueue suppress import|add|remove|check|count|export [flags] ...",
		ShortHelp: "manage suppression (do-not-call) lists",
		LongHelp:  suppressLong,
		FlagSet:   fs,
	}
	for _, sub := range suppressSubs {
		cmd.Subcommands = append(cmd.Subcommands, suppressSubCmd(e, sub.name, sub.usage, sub.help))
	}
	return cmd
}

// suppressFlags are every suppress subcommand's flags; each uses the ones it needs.
type suppressFlags struct {
	list, region, format, rejects string
	expires                       string
	jsonOut, strict               bool
	redis                         *redisFlag
}

func suppressSubCmd(e env, name, usage, help string) *ffcli.Command {
	f := &suppressFlags{}
	fs, rf := newFlagSet("suppress "+name, true)
	f.redis = rf
	fs.StringVar(&f.list, "list", compliance.DefaultList, "suppression list `name`")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as JSON on stdout")
	switch name {
	case "import", "add", "remove", "check":
		envString(fs, e, &f.region, "region", "DIALQ_REGION", "CN", "region for numbers without a country code")
	}
	switch name {
	case "import", "add":
		fs.StringVar(&f.expires, "expires", "", "entries expire after this `duration` (e.g. 720h or 30d; default never)")
	}
	if name == "import" {
		fs.StringVar(&f.format, "format", "auto", "input format: auto, lines, csv or jsonl")
		fs.StringVar(&f.rejects, "rejects", "", "write the rows that are not valid numbers to this CSV `file` (line,phone,reason)")
		fs.BoolVar(&f.strict, "strict", false, "import nothing if any row is not a valid number (exit 3)")
	}
	return &ffcli.Command{
		Name: name, ShortUsage: "enqueue suppress " + name + " " + usage, ShortHelp: help,
		LongHelp: suppressLong,
		FlagSet:  fs,
		Exec: func(ctx context.Context, args []string) error {
			return runSuppress(ctx, name, f, args, e)
		},
	}
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

func runSuppress(ctx context.Context, name string, f *suppressFlags, rest []string, e env) error {
	if err := compliance.CheckList(f.list); err != nil {
		return usageErr("-list: %v", err)
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
	rcfg, err := f.redis.config(e)
	if err != nil {
		return err
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
	norm, err := ingest.NewNormaliser(registry.NXCloud, region)
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

// suppressExport writes phone,expires as CSV (cells as csvcell.Safe: the phone
// reads '+8613800138000, which import reads back), or JSON Lines.
func suppressExport(ctx context.Context, s *compliance.Store, f *suppressFlags, e env) error {
	enc := json.NewEncoder(e.stdout)
	cw := csv.NewWriter(e.stdout)
	if !f.jsonOut {
		_ = cw.Write([]string{"phone", "expires"})
	}
	err := s.Export(ctx, f.list, func(n string, exp time.Time) error {
		at := ""
		if !exp.IsZero() {
			at = exp.Format(time.RFC3339)
		}
		if f.jsonOut {
			return enc.Encode(map[string]string{"phone": n, "expires": at})
		}
		return cw.Write([]string{csvcell.Safe(n), at})
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	if err != nil {
		return inputErr(err)
	}
	return nil
}

func runAudit(ctx context.Context, redisURL *redisconf.Config, args []string, e env) error {
	if len(args) != 1 {
		return usageErr("usage: enqueue audit BATCH")
	}
	c, err := connect(ctx, *redisURL)
	if err != nil {
		return err
	}
	defer c.Close()
	id := args[0]
	_, err = c.life.Manifest(ctx, id)
	if err == nil {
		if err := compliance.NewStore(c.rdb).ExportAudit(ctx, id, e.stdout); err != nil {
			return inputErr(err)
		}
		return nil
	}
	if !errors.Is(err, ledger.ErrNotFound) {
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
func printGate(e env, s *producer.Summary) {
	switch s.Gate {
	case producer.GateNone:
		fmt.Fprintln(e.stderr, "no compliance gate applied: the campaign has no \"compliance\" block")
	case producer.GateChecked:
		fmt.Fprintf(e.stderr, "compliance: %d numbers suppressed (on a list or over their contact cap), listed in the rejects\n", s.Suppressed)
	case producer.GateUnchecked:
		fmt.Fprintln(e.stderr, "compliance: not checked in a dry run (the worker checks before each call)")
	}
}
