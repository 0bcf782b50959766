package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/results"
	"github.com/dialq/dialq/vendors/flashai"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/preflight"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/registry"
)

func init() { register(vendorCmd) }

const vendorLong = `Read live with the worker's FlashAI variables: FLASHAI_BASE_URL, FLASHAI_CLIENT_ID,
FLASHAI_CLIENT_SECRET (or FLASHAI_CLIENT_SECRET_FILE) and FLASHAI_USER_ID.
Exit codes: 0 listed (an empty list says so); 1 usage, credentials missing or refused;
2 the vendor could not be asked.`

var vendorKinds = []struct{ name, help string }{
	{"scripts", "the tenant's scripts (getBotence): id and name"},
	{"params", "the tenant's script variables (queryPlanParams): order, name and type"},
	{"lines", "the tenant's lines (getCallLine): id and name"},
	{"agents", "the tenant's agents with their groups (queryAgentGroup)"},
}

// vendorCmd is "enqueue vendor flashai scripts|params|lines|agents [-json]"; the
// listing is package preflight's.
func vendorCmd(e env) *ffcli.Command {
	fs, _ := newFlagSet("vendor", false)
	ffs, _ := newFlagSet("vendor flashai", false)
	flashaiCmd := &ffcli.Command{
		Name: registry.FlashAI, ShortUsage: "enqueue vendor flashai scripts|params|lines|agents [-json]",
		ShortHelp: "what the FlashAI tenant has", LongHelp: vendorLong, FlagSet: ffs,
	}
	for _, k := range vendorKinds {
		kfs, _ := newFlagSet("vendor flashai "+k.name, false)
		asJSON := kfs.Bool("json", false, "print one JSON array")
		flashaiCmd.Subcommands = append(flashaiCmd.Subcommands, &ffcli.Command{
			Name: k.name, ShortUsage: "enqueue vendor flashai " + k.name + " [-json]",
			ShortHelp: k.help, LongHelp: vendorLong, FlagSet: kfs,
			Exec: func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usageErr("enqueue vendor flashai %s takes no argument, got %q", k.name, args[0])
				}
				return vendorErr(preflight.Discover(ctx, e.stdout, e.getenv, k.name, *asJSON))
			},
		})
	}
	return &ffcli.Command{
		Name: "vendor", ShortUsage: "enqueue vendor flashai scripts|params|lines|agents [-json]",
		ShortHelp: "what a vendor account has (FlashAI: scripts, variables, lines, agents)",
		FlagSet:   fs, Subcommands: []*ffcli.Command{flashaiCmd},
	}
}

// vendorErr gives a vendor read's error its exit code: configuration, refused
// credentials and a campaign the tenant cannot take are the operator's to fix (1);
// anything else means the vendor could not be asked (2).
func vendorErr(err error) error {
	var miss *preflight.MissError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &miss), errors.Is(err, preflight.ErrNotConfigured), errors.Is(err, preflight.ErrConfig),
		errors.Is(err, preflight.ErrKind):
		return usageErr("%v", err)
	case vendors.ClassOf(err) == vendors.AuthRefused:
		return usageErr("FlashAI refused the credentials (check FLASHAI_CLIENT_ID and FLASHAI_CLIENT_SECRET): %v", err)
	}
	return inputErr(fmt.Errorf("FlashAI could not be asked: %w", err))
}

// flashaiPreflight checks a FlashAI campaign against the tenant before anything is
// written; it returns the row check and the summary's note.
func flashaiPreflight(ctx context.Context, e env, campaignJSON []byte, skip bool) (*preflight.Result, error) {
	c, err := campaign.Parse(registry.FlashAI, campaignJSON)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	// The preflight's reads draw their nonces at random (flashai.RandomNonces), so
	// that a refused campaign leaves nothing in Redis, not even a nonce.
	res, err := preflight.Run(ctx, c.(*campaign.FlashAI), preflight.Options{
		Getenv: e.getenv, Cache: preflight.DefaultCache(e.getenv), Skip: skip,
	})
	if err != nil {
		var ee *exitError
		if errors.As(vendorErr(err), &ee) && ee.code == exitInput {
			ee.err = fmt.Errorf("%w (-no-vendor-check enqueues without the check)", ee.err)
		}
		return nil, ee
	}
	return res, nil
}

// statusLines is what enqueue status shows of a FlashAI batch's lines: read at
// most every linesTTL (a -watch refreshes every 2 s), and only where the FLASHAI_*
// variables are set (without them status stays as it was, silent on lines).
type statusLines struct {
	e       env
	at      time.Time
	lines   []flashai.LineStat
	note    string
	skipped bool
}

const linesTTL = 30 * time.Second

func (s *statusLines) read(ctx context.Context, store ledger.Reader, st *ledger.Status) {
	if s.skipped || st.Vendor != registry.FlashAI || (!s.at.IsZero() && time.Since(s.at) < linesTTL) {
		return
	}
	client, cfg, configured, err := preflight.Client(s.e.getenv)
	if err != nil || !configured {
		s.skipped = true // status works without the vendor
		if err != nil {
			s.note = "vendor lines not read: " + err.Error()
		}
		return
	}
	s.at = time.Now()
	m, err := store.Manifest(ctx, st.Batch)
	if err != nil {
		s.note = "vendor lines not read: " + err.Error()
		return
	}
	names, err := store.VendorTasks(ctx, m)
	if err != nil {
		s.note = "vendor lines not read: " + err.Error()
		return
	}
	// Each status is a new process: the cache file spares the vendor a poll loop's
	// reads while the batch makes no new plan, as the batch page's cache does.
	var cache *preflight.Cache
	if c := preflight.DefaultCache(s.e.getenv); c != nil {
		cache = &preflight.Cache{Dir: c.Dir, TTL: linesTTL}
	}
	key := []string{cfg.BaseURL, cfg.ClientID, "lines", st.Batch, strconv.Itoa(len(names))}
	var lines []flashai.LineStat
	if _, ok := cache.Get(key, s.at, &lines); ok {
		s.lines, s.note = lines, ""
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	lines, failed, lastErr := flashai.BatchLines(rctx, client, names)
	s.lines, s.note = lines, ""
	if failed > 0 {
		s.note = fmt.Sprintf("%d of %d plans did not answer: %v", failed, len(names), redact.Message(lastErr.Error()))
		return
	}
	cache.Put(key, s.at, lines)
}

// print writes the per-line table under the status.
func (s *statusLines) print(w io.Writer) {
	if len(s.lines) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "vendor line\tnumbers\tended\tlast call")
		for _, l := range s.lines {
			last := l.LastCall
			if last == "" {
				last = "-"
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\n", l.LineID, l.Numbers, l.Ended, last)
		}
		tw.Flush()
	}
	if s.note != "" {
		fmt.Fprintln(w, s.note)
	}
}

// statusJSON is a batch's status with its vendor lines, as status -json prints it.
type statusJSON struct {
	*ledger.Status
	VendorLines []flashai.LineStat `json:"vendor_lines,omitempty"`
	// Results are the calls' results (results.go).
	Results *results.Status `json:"results,omitempty"`
}
