// Command worker delivers batch parts to the dialing vendors: an asynq server with
// one handler per vendor action, fleet-wide rate limits, and an HTTP listener with
// the dashboard (/monitoring/), /metrics, /healthz and /readyz.
//
// Every flag defaults from an environment variable; see README "Worker configuration".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dialq/dialq/internal/buildinfo"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/internal/redislog"
	"github.com/dialq/dialq/internal/tracing"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/jobs/wiring"
	"github.com/dialq/dialq/monitor"
	"github.com/dialq/dialq/results"
	"github.com/dialq/dialq/vendors/registry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := logrus.New()
	// Sub-second timestamps, and trace_id/span_id on lines logged under a span.
	log.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano})
	log.AddHook(tracing.LogHook{})
	log.SetOutput(os.Stderr)
	redis.SetLogger(redislog.New(log.WithField("component", "go-redis")))
	if err := run(ctx, os.Args[1:], os.Getenv, log); err != nil {
		log.WithError(err).Error("worker stopped")
		os.Exit(1)
	}
}

// config is the worker's configuration after flags and environment.
type config struct {
	redisURL        string
	concurrency     int
	queues          map[string]int
	shutdownTimeout time.Duration
	httpAddr        string
	rates           map[string]float64
	logLevel        string
	monUser         string
	monPassword     string
	monWritable     bool
	pagesPublic     bool
	vendors         string
	allowVolatile   bool
	gaugesOnly      bool
}

// stdout is where -h and -version print (tests replace it): asked-for output is
// not an error, and goes to stdout with exit 0.
var stdout io.Writer = os.Stdout

// parseConfig reads flags and environment; -h prints the flags to help and
// returns flag.ErrHelp. A bad flag is an error that names it, without the usage.
func parseConfig(args []string, getenv envconf.Getenv, help io.Writer) (*config, error) {
	c := &config{rates: map[string]float64{}}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// The default is empty, not $REDIS_URL: -h prints defaults, and the URL may hold a password.
	fs.StringVar(&c.redisURL, "redis", "", redisconf.FlagHelp)
	concurrency := fs.String("concurrency", envconf.Or(getenv, "WORKER_CONCURRENCY", "20"), "parts processed at once (WORKER_CONCURRENCY)")
	queues := fs.String("queues", getenv("WORKER_QUEUES"), "queues and weights, name=weight,… (WORKER_QUEUES; default: dialq-control=6 and each served vendor's dialq-<vendor>=3)")
	shutdown := fs.String("shutdown-timeout", envconf.Or(getenv, "WORKER_SHUTDOWN_TIMEOUT", "25s"), "time in-flight calls get on SIGTERM (WORKER_SHUTDOWN_TIMEOUT)")
	fs.StringVar(&c.httpAddr, "http", envconf.Or(getenv, "WORKER_HTTP_ADDR", ":8080"), "HTTP listener for /monitoring/, /metrics, /healthz, /readyz; empty disables (WORKER_HTTP_ADDR)")
	fs.StringVar(&c.logLevel, "log-level", envconf.Or(getenv, "LOG_LEVEL", "info"), "debug, info, warn or error (LOG_LEVEL)")
	fs.StringVar(&c.vendors, "vendors", envconf.Or(getenv, "WORKER_VENDORS", "configured"), "comma list of vendors to serve, or 'configured' for every configured one (WORKER_VENDORS)")
	writable := fs.String("monitoring-writable", envconf.Or(getenv, "MONITORING_WRITABLE", "false"), "let the dashboard change queues; needs MONITORING_USER/PASSWORD")
	rateFlags := map[string]*string{}
	for _, v := range registry.Names() {
		name := strings.ToUpper(v) + "_RATE"
		rateFlags[v] = fs.String("rate-"+v, envconf.Or(getenv, name, "0"), fmt.Sprintf("fleet-wide %s calls per second, 0 = unlimited (%s)", v, name))
	}
	gaugesOnly := fs.String("gauges-only", envconf.Or(getenv, "WORKER_GAUGES_ONLY", "false"), "serve the queue gauges and pages only, delivering nothing (for autoscaling from zero; WORKER_GAUGES_ONLY)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(help, "usage: worker [flags]\n\nflags (defaults from the variables named; values of REDIS_URL and secrets never shown):")
			fs.SetOutput(help)
			fs.PrintDefaults()
		}
		return nil, err
	}
	if *showVersion {
		return nil, errVersion
	}
	// An empty -redis is resolved by redisconf.Load: REDIS_URL, Cluster or Sentinel.
	var err error
	if c.concurrency, err = strconv.Atoi(*concurrency); err != nil || c.concurrency < 1 {
		return nil, fmt.Errorf("concurrency %q: want a positive number", *concurrency)
	}
	if c.shutdownTimeout, err = time.ParseDuration(*shutdown); err != nil || c.shutdownTimeout <= 0 {
		return nil, fmt.Errorf("shutdown timeout %q: want a duration such as 25s", *shutdown)
	}
	if *queues != "" {
		if c.queues, err = parseQueues(*queues); err != nil {
			return nil, err
		}
	}
	if v := getenv(monitor.EnvPagesPublic); v != "" {
		if c.pagesPublic, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("%s %q: want true or false", monitor.EnvPagesPublic, v)
		}
	}
	if c.gaugesOnly, err = strconv.ParseBool(*gaugesOnly); err != nil {
		return nil, fmt.Errorf("WORKER_GAUGES_ONLY %q: want true or false", *gaugesOnly)
	}
	if c.monWritable, err = strconv.ParseBool(*writable); err != nil {
		return nil, fmt.Errorf("MONITORING_WRITABLE %q: want true or false", *writable)
	}
	for v, s := range rateFlags {
		r, err := strconv.ParseFloat(*s, 64)
		if err != nil || r < 0 {
			return nil, fmt.Errorf("%s rate %q: want calls per second, 0 for unlimited", v, *s)
		}
		c.rates[v] = r
	}
	if s := getenv(redisconf.EnvAllowVolatile); s != "" {
		if c.allowVolatile, err = strconv.ParseBool(s); err != nil {
			return nil, fmt.Errorf("%s %q: want true or false", redisconf.EnvAllowVolatile, s)
		}
	}
	c.monUser = getenv("MONITORING_USER")
	if c.monPassword, err = envconf.Secret(getenv, "MONITORING_PASSWORD"); err != nil {
		return nil, err
	}
	return c, nil
}

func parseQueues(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, item := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(item), "=")
		n, err := strconv.Atoi(w)
		if !ok || name == "" || err != nil || n < 1 {
			return nil, fmt.Errorf("queues %q: want name=weight[,name=weight]", s)
		}
		out[name] = n
	}
	return out, nil
}

// errVersion asks run to print the version and stop.
var errVersion = errors.New("version")

func run(ctx context.Context, args []string, getenv envconf.Getenv, log *logrus.Logger) error {
	cfg, err := parseConfig(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil // -h printed the flags
	}
	if errors.Is(err, errVersion) {
		v, rev := buildinfo.Version()
		_, err := fmt.Fprintf(stdout, "worker %s (revision %s)\n", v, rev)
		return err
	}
	if err != nil {
		return err
	}
	if getenv("GOMEMLIMIT") == "" {
		// A soft limit sized to the work in hand: each part in flight holds its
		// records and one request body (a few MB for 10,000 numbers); without it the
		// heap grows to twice the live data between collections.
		debug.SetMemoryLimit(int64(64<<20 + cfg.concurrency*5<<20))
	}
	qcfg, err := quotaConfig(getenv)
	if err != nil {
		return err
	}
	now, err := clockFromEnv(getenv)
	if err != nil {
		return err
	}
	level, err := logrus.ParseLevel(cfg.logLevel)
	if err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	log.SetLevel(level)
	rcfg, err := redisconf.Load(getenv, cfg.redisURL)
	if err != nil {
		return err
	}
	// One pool for asynq, the ledger, the limiter and the nonces: asynq's
	// processors and each part in flight all hold a connection at times.
	rcfg.PoolSize = 10*runtime.GOMAXPROCS(0) + 2*cfg.concurrency
	conn := rcfg.Open()
	defer conn.Close()
	rdb := conn.Client
	entry := log.WithField("component", "worker")
	flushSpans, err := startTracing(ctx, getenv, entry)
	if err != nil {
		return err
	}
	defer flushSpans()
	// A wrong password or address is a configuration error: say so and stop,
	// rather than run unready and log asynq's complaints forever.
	pingCtx, cancelPing := context.WithTimeout(ctx, 10*time.Second)
	err = conn.Ping(pingCtx)
	var volatile error
	var confirm *redisconf.Confirmer
	if err == nil {
		confirm, volatile, err = checkDurability(pingCtx, conn, cfg.allowVolatile, entry)
	}
	if err == nil {
		err = checkEviction(pingCtx, conn, cfg.allowVolatile, entry)
	}
	cancelPing()
	if err != nil {
		return err
	}
	if cfg.gaugesOnly {
		return serveGauges(ctx, conn, cfg, entry)
	}
	reg := prometheus.NewRegistry()
	var callbacks http.Handler // the vendor's results callbacks, when on
	// In-flight marks are confirmed durable (WAITAOF / WAIT on the mark's own
	// connection) before the vendor call: a failover must not forget a call made.
	guard := startGuard(ctx, conn, cfg.allowVolatile, entry)
	w, err := wiring.NewWorker(wiring.Config{
		Getenv: getenv, Redis: rdb, Asynq: conn.Asynq, Vendors: cfg.vendors, Rates: cfg.rates, RedisUnsafe: guard.Err,
		Confirm: confirm.For(rdb), Clock: now, Quota: quotaLimiter(qcfg, rdb, confirm.For(rdb), now, reg, entry),
		Registry: reg, Log: entry,
		Server: jobs.ServerOptions{Concurrency: cfg.concurrency, Queues: cfg.queues, ShutdownTimeout: cfg.shutdownTimeout},
		// Results: FlashAI polls and callbacks, every vendor's redials.
		Extend: func(w *wiring.Worker) (func(*asynq.ServeMux), error) {
			poller, cb, err := resultsSetup(getenv, rdb, w.Deps, w.Client, w.Inspector, reg, entry)
			if err != nil || poller == nil {
				return nil, err
			}
			callbacks = cb
			return func(mux *asynq.ServeMux) { results.Register(mux, poller) }, nil
		},
	})
	if err != nil {
		return err
	}
	defer w.Close()

	var httpSrv *http.Server
	if cfg.httpAddr != "" {
		mcfg := w.MonitorConfig(monitor.HTTPConfig{
			RedisConnOpt: conn.Dashboard(), Registry: reg, User: cfg.monUser, Password: cfg.monPassword, Writable: cfg.monWritable,
			Public: cfg.pagesPublic,
			Ready:  monitor.AllReady(guard.Ready, monitor.RedisReady(rdb)),
		})
		mcfg.Results = resultsPages{st: results.NewStore(rdb, nil), every: pollEvery(getenv)}
		h, err := monitor.NewHandler(mcfg)
		if err != nil {
			return fmt.Errorf("monitoring: %w", err)
		}
		defer h.Close()
		ln, err := net.Listen("tcp", cfg.httpAddr)
		if err != nil {
			return fmt.Errorf("http listener: %w", err)
		}
		handler := withCallbacks(h, callbacks)
		if volatile != nil {
			handler = readyNote(handler, "warning: "+redisconf.EnvAllowVolatile+"=true and "+volatile.Error())
		}
		httpSrv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = httpSrv.Serve(ln) }()
		entry.WithField("addr", ln.Addr().String()).Info("http listening: /monitoring/ /metrics /healthz /readyz")
	}

	if err := w.Start(ctx); err != nil {
		return err
	}
	entry.WithFields(logrus.Fields{"vendors": w.Served, "concurrency": cfg.concurrency, "queues": w.Queues}).Info("worker started")
	quietOnTSTP(ctx, w, entry)
	<-ctx.Done()
	entry.Info("shutting down: no new parts and no new calls; calls in flight get the shutdown timeout")
	w.Shutdown()
	if httpSrv != nil {
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = httpSrv.Shutdown(shutCtx)
	}
	entry.Info("worker stopped")
	return nil
}

// checkDurability refuses a Redis that could lose an acknowledged write (an
// in-flight mark lost in a crash means a number dialled twice; a batch lost means
// numbers never sent), unless allowVolatile; then it warns and returns the problem
// for /readyz to repeat.
func checkDurability(ctx context.Context, conn *redisconf.Conn, allowVolatile bool, log *logrus.Entry) (confirm *redisconf.Confirmer, volatile error, err error) {
	d, err := redisconf.CheckDurability(ctx, conn.Client)
	switch {
	case err != nil && allowVolatile:
		// An embedded test Redis cannot say; the override accepts that too.
		err = fmt.Errorf("durability unknown: %w", err)
		log.WithError(err).Warn("redis durability cannot be read and " + redisconf.EnvAllowVolatile + "=true")
		return redisconf.NewConfirmer(d, confirmTimeout), err, nil
	case err != nil:
		return nil, nil, fmt.Errorf("redis at %s: durability check: %w", conn.Describe(), err)
	}
	confirm = redisconf.NewConfirmer(d, confirmTimeout)
	log = log.WithFields(logrus.Fields{"redis": conn.Describe(), "mode": conn.Mode(), "durability": d.String(), "confirm": confirm.String()})
	volatile = d.Err()
	switch {
	case volatile == nil:
		log.Info("redis durable")
	case allowVolatile:
		log.WithError(volatile).Warn("redis is not durable and " + redisconf.EnvAllowVolatile + "=true: a Redis crash can lose batches and in-flight marks (numbers dialled twice)")
	default:
		return nil, nil, fmt.Errorf("redis at %s: %w (or set %s=true to run anyway, for tests only)", conn.Describe(), volatile, redisconf.EnvAllowVolatile)
	}
	return confirm, volatile, nil
}

// confirmTimeout bounds the wait for a durable in-flight mark (WAIT / WAITAOF).
const confirmTimeout = time.Second

// readyNote appends note to /readyz's answer, ready or not, so that whoever checks
// readiness sees that Redis may lose data.
func readyNote(h http.Handler, note string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if r.URL.Path == "/readyz" {
			io.WriteString(w, note+"\n")
		}
	})
}
