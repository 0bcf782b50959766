package main

import (
	"context"
	"errors"
	"os"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/quota"
)

func init() { register(quotaCmd) }

// environ lists the variables scanned for quotas on unknown vendors.
var environ = os.Environ

// quotaCmd is `enqueue quota [-json]`: each vendor's quotas, their fleet-wide use
// and when each frees, read with the same variables as the workers' (package quota
// does the work).
func quotaCmd(e env) *ffcli.Command {
	fs, rf := newFlagSet("quota", true)
	asJSON := fs.Bool("json", false, "print one JSON object")
	return &ffcli.Command{
		Name: "quota", ShortUsage: "enqueue quota [-json]",
		ShortHelp: "vendor quotas: the fleet's use of each window, and when each frees",
		LongHelp: "Reads <VENDOR>_QUOTA (N/<window>,…), <VENDOR>_INFLIGHT, " + quota.EnvTZ + " and " + quota.EnvLease +
			" as the workers do: give it the workers' values.",
		FlagSet: fs,
		Exec: redisExec(rf, e, func(ctx context.Context, url *redisconf.Config, args []string) error {
			if len(args) != 0 {
				return usageErr("usage: enqueue quota [-json]")
			}
			return runQuota(ctx, url, *asJSON, e)
		}),
	}
}

func runQuota(ctx context.Context, url *redisconf.Config, asJSON bool, e env) error {
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
