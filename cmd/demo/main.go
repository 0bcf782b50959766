// Command demo runs all of dialq on one machine with nothing but Go: an embedded
// Redis (or -redis URL), the fake vendor on loopback with demo credentials, an
// in-process worker with its dashboard, and the example list enqueued to all four
// vendors. It prints each batch's account and checks that it adds up:
//
//	read = rejected + delivered + refused + failed + uncertain + pending
//
// and that the fake vendor received every delivered number exactly once.
//
//	go run ./cmd/demo            # exits 0 when every batch finished and adds up
//	go run ./cmd/demo -serve     # then keeps the dashboard up until Ctrl-C
//
// The fake refuses two numbers of the list at yccall and flashai (the vendors that
// report refusals inside an accepted call), so the account shows refusals too.
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
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/internal/redisconf"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/jobs/wiring"
	"github.com/dialq/dialq/monitor"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors/registry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// refusals are numbers of examples/list.csv, as yccall and flashai receive them,
// that the fake refuses. Reasons hold no ',' or ':' (FlashAI's list separators).
var refusals = []struct{ number, reason string }{
	{"13600136000", "number is on the vendor blacklist"},
	{"15800158000", "number in a do-not-call period"},
}

// listFile is the example list every vendor gets.
const listFile = "list.csv"

type config struct {
	redisURL string
	httpAddr string
	examples string
	timeout  time.Duration
	partSize int
	serve    bool
	verbose  bool
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.redisURL, "redis", "", "Redis URL; empty runs an embedded Redis unless REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS is set (REDIS_URL is not read). Use a Redis no worker serves")
	fs.StringVar(&c.httpAddr, "http", "127.0.0.1:8080", "listener for /monitoring/, /metrics, /healthz, /readyz (a random port if taken)")
	fs.StringVar(&c.examples, "examples", "examples", "directory with "+listFile+" and one <vendor>.json per vendor; relative to the repository if not found here")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "time the batches get to finish")
	fs.IntVar(&c.partSize, "part-size", 3, "numbers a part: small, so that each batch has several parts to watch")
	fs.BoolVar(&c.serve, "serve", false, "keep everything running after the batches finish, until Ctrl-C")
	fs.BoolVar(&c.verbose, "v", false, "log at info level (default warn)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.timeout <= 0 {
		return nil, errors.New("-timeout must be positive")
	}
	if c.partSize < 1 {
		return nil, errors.New("-part-size must be at least 1")
	}
	return c, nil
}

// quietRedis drops go-redis's own log lines (pool noise when the embedded Redis
// stops); failures reach the demo as errors.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	examples, err := findExamples(cfg.examples)
	if err != nil {
		return err
	}
	log := logrus.New()
	log.SetOutput(stderr)
	log.SetLevel(logrus.WarnLevel)
	if cfg.verbose {
		log.SetLevel(logrus.InfoLevel)
	}
	redis.SetLogger(quietRedis{})

	// Redis.
	// The connection contract of every program, except that REDIS_URL is not read:
	// the demo must not land on a production Redis by accident.
	getRedisEnv := func(k string) string {
		if k == redisconf.EnvURL {
			return ""
		}
		return os.Getenv(k)
	}
	external := cfg.redisURL != "" || getRedisEnv(redisconf.EnvClusterAddrs) != "" || getRedisEnv(redisconf.EnvSentinelAddrs) != ""
	redisURL, redisDesc := cfg.redisURL, "embedded (miniredis)"
	if !external {
		mr, err := miniredis.Run()
		if err != nil {
			return fmt.Errorf("embedded redis: %w", err)
		}
		defer mr.Close()
		redisURL = "redis://" + mr.Addr() + "/0"
		redisDesc += " at " + mr.Addr()
	}
	redisEnv := getRedisEnv
	if !external {
		// The embedded Redis takes no password or TLS from the environment.
		redisEnv = func(string) string { return "" }
	}
	rconn, err := redisconf.FromEnv(redisEnv, redisURL)
	if err != nil {
		return err
	}
	defer rconn.Close()
	if external {
		redisDesc = rconn.Describe()
	}
	rdb, aopt := rconn.Client, rconn.Asynq
	if err := rconn.Ping(ctx); err != nil {
		return fmt.Errorf("redis does not answer: %w", err)
	}
	insp := asynq.NewInspector(aopt)
	defer insp.Close()
	if external {
		if d, err := redisconf.CheckDurability(ctx, rdb); err == nil && d.Err() != nil {
			// A demo may run on anything; say what a worker would refuse.
			log.WithError(d.Err()).Warn("this Redis would be refused by the worker")
		}
		if err := checkRedisIsOurs(insp); err != nil {
			return err
		}
	}

	// The fake vendor. Its address goes into the credentials' base URLs, so the
	// listener comes first.
	tmp, err := os.MkdirTemp("", "dialq-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fakeLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("fake vendor listener: %w", err)
	}
	fakeURL := "http://" + fakeLn.Addr().String()
	env, err := fakevendor.DemoEnv(fakeURL, filepath.Join(tmp, "speech.pem"))
	if err != nil {
		fakeLn.Close()
		return err
	}
	getenv := func(k string) string { return env[k] }
	fcfg, err := fakevendor.ConfigFromEnv(getenv)
	if err != nil {
		fakeLn.Close()
		return err
	}
	fake := fakevendor.New(fcfg)
	for _, r := range refusals {
		fake.Refuse(r.reason, r.number)
	}
	fakeSrv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = fakeSrv.Serve(fakeLn) }()
	defer fakeSrv.Close()

	// The worker, wired by the function cmd/worker calls. The demo's Redis may be
	// embedded, so in-flight marks are confirmed as far as it says it can.
	entry := log.WithField("component", "demo-worker")
	durability, _ := redisconf.CheckDurability(ctx, rdb)
	reg := prometheus.NewRegistry()
	w, err := wiring.NewWorker(wiring.Config{
		Getenv: getenv, Redis: rdb, Asynq: aopt, Registry: reg, Log: entry,
		Confirm: redisconf.NewConfirmer(durability, time.Second).For(rdb),
		Server: jobs.ServerOptions{
			Concurrency: 10, ShutdownTimeout: 5 * time.Second,
			// Short intervals so that a retried part runs again within the demo's time.
			DelayedTaskCheckInterval: 200 * time.Millisecond, TaskCheckInterval: 100 * time.Millisecond,
		},
	})
	if err != nil {
		return err
	}
	defer w.Close()
	deps, served := w.Deps, w.Served

	h, err := monitor.NewHandler(w.MonitorConfig(monitor.HTTPConfig{
		RedisConnOpt: rconn.Dashboard(), Registry: reg, Ready: monitor.RedisReady(rdb),
	}))
	if err != nil {
		return fmt.Errorf("monitoring: %w", err)
	}
	defer h.Close()
	ln, note, err := listenHTTP(cfg.httpAddr)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = httpSrv.Serve(ln) }()
	defer func() {
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = httpSrv.Shutdown(shutCtx)
	}()
	dashboard := "http://" + ln.Addr().String() + monitor.RootPath + "/"

	if err := w.Start(ctx); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Shutdown()

	fmt.Fprintln(stdout, "dialq demo")
	fmt.Fprintf(stdout, "  redis       %s\n", redisDesc)
	fmt.Fprintf(stdout, "  vendors     fake vendor at %s serving %s\n", fakeURL, strings.Join(served, ", "))
	fmt.Fprintf(stdout, "  worker      in process, concurrency 10\n")
	fmt.Fprintf(stdout, "  dashboard   %s\n", dashboard)
	if note != "" {
		fmt.Fprintf(stdout, "              (%s)\n", note)
	}
	for _, r := range refusals {
		fmt.Fprintf(stdout, "  refusing    %s at yccall and flashai: %s\n", redact.Phone(r.number), r.reason)
	}

	wctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	d := &demo{out: stdout, store: deps.Lifecycle, fake: fake, started: time.Now()}
	runErr := d.deliver(wctx, rdb, aopt, examples, cfg.partSize)
	if errors.Is(runErr, context.DeadlineExceeded) && ctx.Err() == nil {
		runErr = fmt.Errorf("batches not finished within -timeout %s", cfg.timeout)
	}
	if ctx.Err() == nil {
		// Print what there is even after a timeout: it shows where it stuck.
		problems, err := d.report(ctx)
		switch {
		case err != nil && runErr == nil:
			runErr = err
		case len(problems) > 0 && runErr == nil:
			runErr = fmt.Errorf("%d problem(s): %s", len(problems), strings.Join(problems, "; "))
		}
		if runErr == nil {
			fmt.Fprintf(stdout, "\nOK: %d batches finished and every account adds up (%.1fs)\n", len(d.batches), time.Since(d.started).Seconds())
		} else {
			fmt.Fprintf(stdout, "\nFAILED: %v\n", runErr)
		}
	}
	if cfg.serve && ctx.Err() == nil {
		fmt.Fprintf(stdout, "\nServing the dashboard at %s until Ctrl-C\n", dashboard)
		fmt.Fprintf(stdout, "  completed parts: %squeues/%s?status=completed\n", dashboard, queue.For(registry.Yccall))
		<-ctx.Done()
		fmt.Fprintln(stdout, "stopping")
	}
	return runErr
}

// findExamples resolves dir as given, else relative to the repository root (the
// nearest parent holding go.mod), so that the demo runs from anywhere in the tree.
func findExamples(dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, listFile)); err == nil || filepath.IsAbs(dir) {
		return dir, err
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(d, dir)
			if _, err := os.Stat(filepath.Join(p, listFile)); err != nil {
				return "", fmt.Errorf("examples: %w", err)
			}
			return p, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("examples: no %s in %s or the repository (-examples DIR)", listFile, dir)
		}
		d = parent
	}
}

// listenHTTP listens on addr, or on a random port of the same host when addr's
// port is taken (another demo, a worker), and says so.
func listenHTTP(addr string) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, "", nil
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return nil, "", fmt.Errorf("http listener: %w", err)
	}
	host, _, splitErr := net.SplitHostPort(addr)
	if splitErr != nil {
		return nil, "", fmt.Errorf("http listener: %w", err)
	}
	ln, err2 := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err2 != nil {
		return nil, "", fmt.Errorf("http listener: %w", err)
	}
	return ln, fmt.Sprintf("%s is taken: using %s instead", addr, ln.Addr()), nil
}

// checkRedisIsOurs refuses a Redis that a worker serves or whose dialq queues hold
// work: that worker would deliver the demo's parts with real credentials, and the
// demo's worker would deliver real parts to the fake vendor.
func checkRedisIsOurs(insp *asynq.Inspector) error {
	servers, err := insp.Servers()
	if err != nil {
		return fmt.Errorf("inspect redis: %w", err)
	}
	if len(servers) > 0 {
		s := servers[0]
		return fmt.Errorf("a worker serves this Redis (host %s, pid %d, %d in all): give the demo a Redis of its own", s.Host, s.PID, len(servers))
	}
	queues, err := insp.Queues()
	if err != nil {
		return fmt.Errorf("inspect redis: %w", err)
	}
	for _, q := range queues {
		if !strings.HasPrefix(q, "dialq") {
			continue
		}
		info, err := insp.GetQueueInfo(q)
		if err != nil {
			return fmt.Errorf("inspect queue %s: %w", q, err)
		}
		if n := info.Pending + info.Active + info.Scheduled + info.Retry + info.Aggregating; n > 0 {
			return fmt.Errorf("queue %s holds %d tasks not yet done: give the demo a Redis of its own", q, n)
		}
	}
	return nil
}
