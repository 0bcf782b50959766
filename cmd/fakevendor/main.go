// Command fakevendor serves all four vendor APIs strictly, for demos, compose and
// benchmarks: NXCloud under /nxcloud, Yccall under /yccall/, speech under /speech,
// FlashAI under /flashai, and /_admin/ledger, /_admin/stats, /_admin/faults,
// /_admin/flashai/tenant (the FlashAI tenant's scripts, variables, lines and agents).
// It reads the vendors' credentials from the worker's environment variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/internal/envconf"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := logrus.New()
	log.SetFormatter(&logrus.JSONFormatter{})
	if err := run(ctx, os.Args[1:], os.Getenv, log); err != nil {
		log.WithError(err).Error("fakevendor stopped")
		os.Exit(1)
	}
}

// stdout is where -h prints (tests replace it).
var stdout io.Writer = os.Stdout

func run(ctx context.Context, args []string, getenv envconf.Getenv, log *logrus.Logger) error {
	fs := flag.NewFlagSet("fakevendor", flag.ContinueOnError)
	addr := fs.String("addr", envconf.Or(getenv, "FAKEVENDOR_ADDR", "127.0.0.1:9090"), "listen address")
	var f fakevendor.Faults
	fs.Float64Var(&f.ServerError, "fault-5xx", 0, "share of requests answered 503")
	fs.Float64Var(&f.Throttle, "fault-429", 0, "share of requests answered 429 with Retry-After")
	fs.IntVar(&f.RetryAfterSeconds, "retry-after", 1, "Retry-After seconds sent with each 429")
	fs.Float64Var(&f.Timeout, "fault-timeout", 0, "share of requests held past the client's timeout")
	fs.IntVar(&f.TimeoutMillis, "timeout-ms", 20000, "how long a timed-out request is held")
	fs.Float64Var(&f.Drop, "fault-drop", 0, "share of connections dropped without an answer")
	fs.Float64Var(&f.Malformed, "fault-malformed", 0, "share of answers with a broken body")
	fs.Float64Var(&f.SystemError, "fault-system", 0, "share answered with the vendor's own system-error code")
	fs.IntVar(&f.LatencyMillis, "latency-ms", 0, "latency added to every request")
	seed := fs.Uint64("seed", 0, "fault seed (0: random)")
	var calls fakevendor.FlashAICallsConfig
	fs.BoolVar(&calls.Enabled, "flashai-calls", false, "FlashAI: end the calls of accepted numbers over time (results endpoints, callbacks)")
	fs.Float64Var(&calls.Answer, "flashai-answer", 0.5, "FlashAI: share of called numbers that answer")
	fs.Float64Var(&calls.NotCalled, "flashai-not-called", 0.1, "FlashAI: share of numbers never called")
	fs.DurationVar(&calls.Delay, "flashai-call-delay", 10*time.Second, "FlashAI: span after acceptance over which calls end")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			// Asked for: on stdout, exit 0, nothing logged.
			fmt.Fprintln(stdout, "usage: fakevendor [flags]  (vendor keys and limits from the environment: see fakevendor.ConfigFromEnv)\n\nflags:")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return err
	}
	cfg, err := fakevendor.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	cfg.Faults, cfg.Seed, cfg.FlashAICalls = f, *seed, calls
	srv := &http.Server{Addr: *addr, Handler: fakevendor.New(cfg), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.WithField("addr", *addr).Info("fake vendor listening")
	select {
	case err := <-errc:
		return fmt.Errorf("listen: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutCtx)
}
