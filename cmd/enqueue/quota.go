package main

import (
	"context"
	"errors"
	"flag"
	"os"

	"github.com/dialq/dialq/quota"
)

// environ lists the variables scanned for quotas on unknown vendors (tests: none).
var environ = os.Environ

// runQuota is `enqueue quota [-json]`: each vendor's quotas, their fleet-wide use
// and when each frees, read with the same variables as the workers'.
func runQuota(ctx context.Context, args []string, e env) error {
	var asJSON bool
	fs, url, err := opFlags("quota", e, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print one JSON object")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErr("usage: enqueue quota [-json]")
	}
	cfg, err := quota.FromEnv(e.getenv, environ())
	if err != nil {
		return usageErr("%v", err)
	}
	if len(cfg.VendorNames()) == 0 {
		return usageErr("%v", quota.ErrNoQuota)
	}
	c, err := connect(ctx, *url)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := quota.Report(ctx, e.stdout, c.rdb, cfg, asJSON); err != nil {
		if errors.Is(err, quota.ErrNoQuota) {
			return usageErr("%v", err)
		}
		return inputErr(err)
	}
	return nil
}
