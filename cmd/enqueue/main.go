// Command enqueue streams a phone-number list into Redis as vendor-sized parts for
// the worker fleet, and answers operators' questions about batches.
//
//	enqueue -vendor V -campaign C.json [flags] FILE|-
//	enqueue status|list|failures|retry|resolve|cancel|control|delete ...
//
// Exit codes: 0 done; 1 usage or configuration error (nothing written); 2 input
// unreadable or Redis unreachable (nothing half-written); 3 -strict and rows rejected.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/dialq/dialq/internal/buildinfo"

	"github.com/redis/go-redis/v9"
)

// Exit codes.
const (
	exitOK     = 0
	exitUsage  = 1
	exitInput  = 2
	exitStrict = 3
)

// exitError carries the exit code with the message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func inputErr(err error) error { return &exitError{code: exitInput, err: err} }

// env is what a run sees of the world; tests supply their own.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// isTerminal reports whether stderr is a terminal (progress bar).
	isTerminal bool
}

// quietRedis drops go-redis's own log lines: the command reports Redis failures
// itself, once, with its exit code.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...interface{}) {}

func main() {
	redis.SetLogger(quietRedis{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, isTerminal: stderrIsTerminal()}
	err := run(ctx, os.Args[1:], e)
	os.Exit(exitCode(err, e.stderr))
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "enqueue:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitInput
}

func run(ctx context.Context, args []string, e env) error {
	if len(args) > 0 {
		switch args[0] {
		case "status":
			return runStatus(ctx, args[1:], e)
		case "list":
			return runList(ctx, args[1:], e)
		case "failures":
			return runFailures(ctx, args[1:], e)
		case "retry":
			return runRetry(ctx, args[1:], e)
		case "resolve":
			return runResolve(ctx, args[1:], e)
		case "cancel", "pause", "resume":
			return runHold(ctx, args[0], args[1:], e)
		case "version":
			v, rev := buildinfo.Version()
			fmt.Fprintf(e.stdout, "enqueue %s (revision %s)\n", v, rev)
			return nil
		case "control":
			return runControl(ctx, args[1:], e)
		case "delete":
			return runDelete(ctx, args[1:], e)
		case "suppress":
			return runSuppress(ctx, args[1:], e)
		case "audit":
			return runAudit(ctx, args[1:], e)
		case "results":
			return runResults(ctx, args[1:], e)
		case "help", "-h", "-help", "--help":
			fmt.Fprint(e.stdout, usage)
			fmt.Fprintln(e.stdout, "\nflags of enqueue -vendor … FILE:")
			fs, _ := enqueueFlagSet(e)
			fs.SetOutput(e.stdout)
			fs.PrintDefaults()
			return nil
		}
	}
	return runEnqueue(ctx, args, e)
}

const usage = `usage:
  enqueue -vendor nxcloud|yccall|speech|flashai -campaign FILE.json [flags] FILE|-
  enqueue status [-json] [-watch] BATCH
  enqueue list [-json] [-n 20]
  enqueue failures BATCH            (CSV on stdout, accepted back as input)
  enqueue retry BATCH               (re-run failed parts)
  enqueue resolve BATCH PART delivered|resend
  enqueue pause BATCH | resume BATCH  (hold or release the batch in dialq and at the vendor)
  enqueue cancel BATCH              (no further call; numbers not sent fail as cancelled)
  enqueue control pause|restart|stop BATCH   (vendor tasks only: FlashAI, Yccall)
  enqueue delete BATCH NUMBER...    (FlashAI)
  enqueue version
  enqueue suppress import|add|remove|check|count|export [-list dnc] ...   (suppress -h)
  enqueue audit BATCH               (compliance decisions, CSV)
  enqueue results [-format csv|jsonl] [-o FILE] BATCH   (call results, one row per number and attempt)
  enqueue results import BATCH FILE (a vendor's export of call results, CSV)
Every command takes -h for its flags, and reads REDIS_URL (or REDIS_CLUSTER_ADDRS, or
REDIS_SENTINEL_ADDRS with REDIS_SENTINEL_MASTER).
`
