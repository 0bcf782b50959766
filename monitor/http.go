package monitor

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// RootPath is where the dashboard lives.
const RootPath = "/monitoring"

// readyTimeout bounds a readiness check; a variable so that tests need not wait.
var readyTimeout = 2 * time.Second

// HTTPConfig configures NewHandler.
type HTTPConfig struct {
	// RedisConnOpt is the Redis the dashboard inspects (required).
	RedisConnOpt asynq.RedisConnOpt
	// Registry is served at /metrics (required). Register NewMetrics and
	// NewQueueCollector in it.
	Registry *prometheus.Registry
	// User and Password, when set, guard the dashboard with basic auth. Set both or
	// neither.
	User, Password string
	// Public serves the dashboard and batch pages without auth to any address;
	// without it and without User, they answer loopback only (403 elsewhere).
	// /metrics, /healthz and /readyz are open either way.
	Public bool
	// Writable lets dashboard users delete, run, archive and cancel tasks and pause
	// queues. It requires User and Password.
	Writable bool
	// Ready reports whether the worker can do its job (Redis reachable, ...). Its
	// error text is shown to whoever asks /readyz: keep secrets out of it. Nil means
	// always ready.
	Ready func(ctx context.Context) error
	// Batches, when set, serves the batch pages at /batches/ and their JSON at
	// /api/batches, behind the same basic auth as the dashboard. Pass a
	// ledger.Reader (or the *lifecycle.Manager, which embeds one).
	Batches BatchReader
	// FlashAI, when set, adds FlashAI's own call summary to FlashAI batch pages.
	// Leave it nil (not a nil *flashai.Client) when the worker has no FlashAI client.
	FlashAI CallSummarizer
	// Results, when set, adds the calls' results to batch pages.
	Results ResultsReader
}

// Handler serves the operators' endpoints:
//
//	/monitoring/  the asynqmon dashboard, behind basic auth when configured
//	/metrics      Prometheus metrics, without auth: scrapers carry no credentials
//	/healthz      200 while the process serves HTTP (liveness)
//	/readyz       200 when HTTPConfig.Ready succeeds within 2 s, else 503 (readiness)
//	/batches/     batch pages, /api/batches their JSON, when HTTPConfig.Batches is set;
//	              behind the dashboard's basic auth
type Handler struct {
	mux *http.ServeMux
	mon *asynqmon.HTTPHandler
	// stop ends the batch pages' rate sampler; done closes when it has.
	stop context.CancelFunc
	done chan struct{}
}

// NewHandler builds the handler. Close it to release the dashboard's Redis
// connections.
func NewHandler(cfg HTTPConfig) (*Handler, error) {
	switch {
	case cfg.RedisConnOpt == nil:
		return nil, errors.New("monitor: RedisConnOpt is required")
	case cfg.Registry == nil:
		return nil, errors.New("monitor: Registry is required")
	case (cfg.User == "") != (cfg.Password == ""):
		return nil, errors.New("monitor: dashboard user and password must be set together")
	case cfg.Writable && cfg.User == "":
		// Anyone who reaches the port could delete queues.
		return nil, errors.New("monitor: a writable dashboard needs a user and password")
	}
	mon := asynqmon.New(asynqmon.Options{
		RootPath:         RootPath,
		RedisConnOpt:     cfg.RedisConnOpt,
		PayloadFormatter: PayloadFormatter,
		ResultFormatter:  ResultFormatter,
		ReadOnly:         !cfg.Writable,
	})
	auth := func(h http.Handler) http.Handler { return h }
	if !cfg.Public {
		auth = loopbackOnly
	}
	if cfg.User != "" {
		auth = func(h http.Handler) http.Handler { return basicAuth(cfg.User, cfg.Password, h) }
	}
	var dash http.Handler = mon
	if cfg.Writable {
		// Basic auth credentials are sent by the browser on any request, so a
		// writable dashboard must refuse writes that another site triggers.
		dash = http.NewCrossOriginProtection().Handler(dash)
	}
	dash = auth(dash)

	mux := http.NewServeMux()
	mux.Handle(RootPath+"/", dash)
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", readyz(cfg.Ready))
	h := &Handler{mux: mux, mon: mon, stop: func() {}, done: make(chan struct{})}
	if cfg.Batches == nil {
		close(h.done)
		return h, nil
	}
	p := newPages(cfg.Batches, cfg.FlashAI)
	p.results = cfg.Results
	p.register(mux, auth)
	mux.Handle("GET "+BatchesPath, http.RedirectHandler(BatchesPath+"/", http.StatusMovedPermanently))
	ctx, stop := context.WithCancel(context.Background())
	h.stop = stop
	go func() {
		defer close(h.done)
		p.runSampler(ctx)
	}()
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Close stops the batch pages' sampler and releases the dashboard's Redis
// connections.
func (h *Handler) Close() error {
	h.stop()
	<-h.done
	return h.mon.Close()
}

// basicAuth compares hashes so that the comparison takes the same time whatever the
// lengths, and checks user and password both so that timing does not tell which
// one was wrong.
func basicAuth(user, password string, next http.Handler) http.Handler {
	wantUser := sha256.Sum256([]byte(user))
	wantPassword := sha256.Sum256([]byte(password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		gotUser := sha256.Sum256([]byte(u))
		gotPassword := sha256.Sum256([]byte(p))
		match := subtle.ConstantTimeCompare(gotUser[:], wantUser[:]) &
			subtle.ConstantTimeCompare(gotPassword[:], wantPassword[:])
		if !ok || match != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="dialq monitoring", charset="UTF-8"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// readyz runs ready in its own goroutine so that a check that ignores its context
// still answers within readyTimeout; the goroutine ends when ready returns.
func readyz(ready func(context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ready == nil {
			io.WriteString(w, "ok\n")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- ready(ctx) }()
		var err error
		select {
		case err = <-done:
		case <-ctx.Done():
			err = fmt.Errorf("readiness check did not answer within %v", readyTimeout)
		}
		if err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	}
}

// readyKey is written by RedisReady; it expires by itself.
const readyKey = "dialq:health:ready"

// RedisReady is a Ready check: Redis takes a tiny write (SET of a health key with
// a 10 s expiry), not merely a PING, so a Redis that is down, a replica left
// behind by a failover (READONLY) and a full one (OOM) are all not ready. Its
// error says which, never the address or the credentials.
func RedisReady(rdb redis.UniversalClient) func(context.Context) error {
	return func(ctx context.Context) error {
		err := rdb.Set(ctx, readyKey, time.Now().Unix(), 10*time.Second).Err()
		if err == nil {
			return nil
		}
		msg := err.Error()
		switch {
		case strings.HasPrefix(msg, "READONLY"):
			return errors.New("redis is read-only (a replica, e.g. after a failover)")
		case strings.HasPrefix(msg, "OOM"):
			return errors.New("redis is out of memory")
		case strings.HasPrefix(msg, "CLUSTERDOWN"), strings.HasPrefix(msg, "TRYAGAIN"):
			return errors.New("redis cluster is down or resharding")
		}
		return errors.New("redis does not take writes")
	}
}
