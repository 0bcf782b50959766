package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/dialq/dialq/internal/buildinfo"
	"github.com/dialq/dialq/internal/redisconf"
)

// The operator commands that were enqueue's first; their logic is in ops.go,
// suppress.go and enqueue.go. New commands go in files of their own (main.go).
func init() {
	register(statusCmd, listCmd, failuresCmd, retryCmd, holdCmd("cancel"), holdCmd("pause"),
		holdCmd("resume"), controlCmd, deleteCmd, auditCmd, versionCmd)
}

// redisExec is an Exec that loads the Redis configuration first (exit 1 when it is wrong).
func redisExec(rf *redisFlag, e env, fn func(ctx context.Context, url *redisconf.Config, args []string) error) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		url, err := rf.config(e)
		if err != nil {
			return err
		}
		return fn(ctx, url, args)
	}
}

func statusCmd(e env) *ffcli.Command {
	fs, rf := newFlagSet("status", true)
	asJSON := fs.Bool("json", false, "print one JSON object")
	watch := fs.Bool("watch", false, "refresh until the batch finishes")
	every := fs.Duration("every", 2*time.Second, "refresh interval with -watch")
	return &ffcli.Command{
		Name: "status", ShortUsage: "enqueue status [-json] [-watch] [-every 2s] BATCH",
		ShortHelp: "a batch's numbers by state, its parts, and what waits for you",
		FlagSet:   fs,
		Exec: redisExec(rf, e, func(ctx context.Context, url *redisconf.Config, args []string) error {
			return runStatus(ctx, url, args, *asJSON, *watch, *every, e)
		}),
	}
}

func listCmd(e env) *ffcli.Command {
	fs, rf := newFlagSet("list", true)
	asJSON := fs.Bool("json", false, "JSON Lines, one batch a line")
	n := fs.Int("n", 20, "how many batches")
	return &ffcli.Command{
		Name: "list", ShortUsage: "enqueue list [-json] [-n 20]",
		ShortHelp: "the latest batches, newest first",
		FlagSet:   fs,
		Exec: redisExec(rf, e, func(ctx context.Context, url *redisconf.Config, args []string) error {
			return runList(ctx, url, args, *asJSON, *n, e)
		}),
	}
}

func failuresCmd(e env) *ffcli.Command {
	fs, rf := newFlagSet("failures", true)
	return &ffcli.Command{
		Name: "failures", ShortUsage: "enqueue failures BATCH",
		ShortHelp: "every number not delivered, as CSV on stdout (accepted back as input)",
		FlagSet:   fs,
		Exec: redisExec(rf, e, func(ctx context.Context, url *redisconf.Config, args []string) error {
			return runFailures(ctx, url, args, e)
		}),
	}
}

func retryCmd(e env) *ffcli.Command {
	fs, rf := newFlagSet("retry", true)
	return &ffcli.Command{
		Name: "retry", ShortUsage: "enqueue retry BATCH",
		ShortHelp: "re-run a batch's failed parts",
		FlagSet:   fs,
		Exec: redisExec(rf, e, func(ctx context.Context, url *redisconf.Config, args []string) error {
			return runRetry(ctx, url, args, e)
		}),
	}
}

var holdHelp = map[string]string{
	"cancel": "no further call for a batch; numbers not sent fail as cancelled",
	"pause":  "hold a batch in dialq and at the vendor",
	"resume": "release a paused batch",
}

// holdCmd is cancel, pause or resume.
func holdCmd(verb string) func(e env) *ffcli.Command {
	return func(e env) *ffcli.Command {
		fs, rf := newFlagSet(verb, true)
		wait := fs.Duration("wait", time.Minute, stallHelp)
		return &ffcli.Command{
			Name: verb, ShortUsage: "enqueue " + verb + " [-wait 1m] BATCH",
			ShortHelp: holdHelp[verb],
			FlagSet:   fs,
			Exec: redisExec(rf, e, func(ctx context.Context, url *redisconf.Config, args []string) error {
				return runHold(ctx, verb, url, args, *wait, e)
			}),
		}
	}
}

func controlCmd(e env) *ffcli.Command {
	fs, rf := newFlagSet("control", true)
	wait := fs.Duration("wait", time.Minute, stallHelp)
	return &ffcli.Command{
		Name: "control", ShortUsage: "enqueue control [-wait 1m] pause|restart|stop BATCH",
		ShortHelp: "act on a batch's vendor tasks only (FlashAI, Yccall)",
		FlagSet:   fs,
		Exec: redisExec(rf, e, func(ctx context.Context, url *redisconf.Config, args []string) error {
			return runControl(ctx, url, args, *wait, e)
		}),
	}
}

func deleteCmd(e env) *ffcli.Command {
	fs, rf := newFlagSet("delete", true)
	wait := fs.Duration("wait", time.Minute, stallHelp)
	return &ffcli.Command{
		Name: "delete", ShortUsage: "enqueue delete [-wait 1m] BATCH NUMBER...",
		ShortHelp: "delete numbers from a batch's FlashAI plan",
		FlagSet:   fs,
		Exec: redisExec(rf, e, func(ctx context.Context, url *redisconf.Config, args []string) error {
			return runDelete(ctx, url, args, *wait, e)
		}),
	}
}

func auditCmd(e env) *ffcli.Command {
	fs, rf := newFlagSet("audit", true)
	return &ffcli.Command{
		Name: "audit", ShortUsage: "enqueue audit BATCH",
		ShortHelp: "a batch's compliance decisions, CSV (batch,phone,decision,detail,time)",
		FlagSet:   fs,
		Exec: redisExec(rf, e, func(ctx context.Context, url *redisconf.Config, args []string) error {
			return runAudit(ctx, url, args, e)
		}),
	}
}

func versionCmd(e env) *ffcli.Command {
	fs, _ := newFlagSet("version", false)
	return &ffcli.Command{
		Name: "version", ShortUsage: "enqueue version",
		ShortHelp: "print the version on stdout (also: enqueue -version)",
		FlagSet:   fs,
		Exec:      func(context.Context, []string) error { return printVersion(e) },
	}
}

func printVersion(e env) error {
	v, rev := buildinfo.Version()
	_, err := fmt.Fprintf(e.stdout, "enqueue %s (revision %s)\n", v, rev)
	return err
}

// helpCmd prints the help of the command named by its arguments.
func helpCmd(e env, c *cli) *ffcli.Command {
	fs, _ := newFlagSet("help", false)
	return &ffcli.Command{
		Name: "help", ShortUsage: "enqueue help [COMMAND [SUBCOMMAND]]",
		ShortHelp: "print a command's usage, flags and environment",
		FlagSet:   fs,
		Exec: func(_ context.Context, args []string) error {
			cmd := find(c.root, args)
			if cmd == nil {
				return usageErr("help: unknown command %q (enqueue -h lists the commands)", strings.Join(args, " "))
			}
			_, err := fmt.Fprint(e.stdout, usageText(cmd))
			return err
		},
	}
}
