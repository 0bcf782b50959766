package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/preflight"
	"github.com/dialq/dialq/vendors"
)

const vendorUsage = `usage: enqueue vendor flashai scripts|params|lines|agents [-json]
Lists what the FlashAI tenant has (scripts, script variables, lines, agents with their
groups), read live with the worker's FLASHAI_* variables (secrets also as *_FILE).
Exit codes: 0 listed; 1 usage, credentials missing or refused; 2 vendor unreachable.
`

// runVendor is "enqueue vendor flashai KIND [-json]"; the listing is package
// preflight's.
func runVendor(ctx context.Context, args []string, e env) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(e.stdout, vendorUsage)
		return nil
	}
	if len(args) == 0 || args[0] != "flashai" {
		return usageErr("%s", vendorUsage)
	}
	var asJSON bool
	fs := flag.NewFlagSet("enqueue vendor flashai", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.BoolVar(&asJSON, "json", false, "print one JSON array")
	fs.Usage = func() { fmt.Fprint(fs.Output(), vendorUsage) }
	rest := args[1:]
	var kinds []string
	for { // flags may come before or after the kind
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return usageErr("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		kinds = append(kinds, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(kinds) != 1 {
		return usageErr("%s", vendorUsage)
	}
	return vendorErr(preflight.Discover(ctx, e.stdout, e.getenv, kinds[0], asJSON))
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
	c, err := campaign.Parse("flashai", campaignJSON)
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
