package monitor

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/internal/testredis"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

const testQueue = "dialq-monitor-test"

type fixture struct {
	srv     *httptest.Server
	metrics *Metrics
	client  *asynq.Client
	insp    *asynq.Inspector
}

// setup serves a Handler over loopback against a fresh Redis, with the metrics and
// queue collector registered the way the worker registers them.
func setup(t *testing.T, cfg HTTPConfig) *fixture {
	t.Helper()
	db := testredis.New(t)
	opt := asynq.RedisClientOpt{Addr: db.Opt.Addr, Password: db.Opt.Password, DB: db.Opt.DB}
	reg := prometheus.NewRegistry()
	insp := asynq.NewInspector(opt)
	t.Cleanup(func() { insp.Close() })
	reg.MustRegister(NewQueueCollector(insp))
	cfg.RedisConnOpt = opt
	cfg.Registry = reg
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := asynq.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	return &fixture{srv: srv, metrics: NewMetrics(reg), client: client, insp: insp}
}

func (f *fixture) enqueue(t *testing.T, payload string) {
	t.Helper()
	if _, err := f.client.Enqueue(asynq.NewTask("dial:test", []byte(payload)), asynq.Queue(testQueue)); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
}

// do sends a request and returns the status and body.
func (f *fixture) do(t *testing.T, method, path string, edit func(*http.Request)) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

func withAuth(user, password string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, password) }
}

func TestHealthz(t *testing.T) {
	f := setup(t, HTTPConfig{Ready: func(context.Context) error { return errors.New("redis down") }})
	// Liveness does not depend on readiness: restarting would not bring Redis back.
	if code, _ := f.do(t, "GET", "/healthz", nil); code != http.StatusOK {
		t.Errorf("GET /healthz = %d; want 200", code)
	}
}

func TestReadyz(t *testing.T) {
	defer func(d time.Duration) { readyTimeout = d }(readyTimeout)
	readyTimeout = 100 * time.Millisecond
	release := make(chan struct{})
	defer close(release)

	tests := []struct {
		name     string
		ready    func(context.Context) error
		wantCode int
		wantBody string
	}{
		{"nil", nil, http.StatusOK, "ok"},
		{"ok", func(context.Context) error { return nil }, http.StatusOK, "ok"},
		{"failing", func(context.Context) error { return errors.New("redis: connection refused") },
			http.StatusServiceUnavailable, "not ready: redis: connection refused"},
		{"honours deadline", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			http.StatusServiceUnavailable, "not ready"},
		{"ignores deadline", func(context.Context) error { <-release; return nil },
			http.StatusServiceUnavailable, "did not answer within 100ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, HTTPConfig{Ready: tt.ready})
			start := time.Now()
			code, body := f.do(t, "GET", "/readyz", nil)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("GET /readyz = %d %q; want %d containing %q", code, body, tt.wantCode, tt.wantBody)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("GET /readyz took %v", d)
			}
		})
	}
}

func TestMetricsEndpoint(t *testing.T) {
	f := setup(t, HTTPConfig{User: "ops", Password: "pw"})
	f.metrics.ObserveCall("nxcloud", "ok", 300*time.Millisecond)
	f.metrics.ObserveCall("nxcloud", "throttled", time.Second)
	f.metrics.AddNumbers("nxcloud", "delivered", 498)
	f.metrics.AddNumbers("nxcloud", "refused", 2)
	f.metrics.AddNumbers("nxcloud", "failed", -1) // ignored, must not panic
	f.metrics.ThrottledWait("nxcloud", 1500*time.Millisecond)
	f.enqueue(t, `{"batch":"b-1","part":1}`)

	// No credentials: scrapers carry none.
	code, body := f.do(t, "GET", "/metrics", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d; want 200", code)
	}
	for _, want := range []string{
		`dialq_vendor_calls_total{outcome="ok",vendor="nxcloud"} 1`,
		`dialq_vendor_calls_total{outcome="throttled",vendor="nxcloud"} 1`,
		`dialq_vendor_call_duration_seconds_count{vendor="nxcloud"} 2`,
		`dialq_vendor_call_duration_seconds_sum{vendor="nxcloud"} 1.3`,
		`dialq_numbers_total{state="delivered",vendor="nxcloud"} 498`,
		`dialq_numbers_total{state="refused",vendor="nxcloud"} 2`,
		`dialq_throttled_waits_total{vendor="nxcloud"} 1`,
		`dialq_throttled_wait_seconds_total{vendor="nxcloud"} 1.5`,
		`dialq_queue_size{queue="` + testQueue + `",state="pending"} 1`,
		`dialq_queue_size{queue="` + testQueue + `",state="active"} 0`,
		`dialq_queue_paused{queue="` + testQueue + `"} 0`,
		`dialq_queue_processed_total{queue="` + testQueue + `"} 0`,
		`dialq_queue_latency_seconds{queue="` + testQueue + `"}`,
		`dialq_queue_scrape_errors 0`,
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want+" ") {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
	// Present from start at 0; the negative add left it there.
	if !strings.Contains(body, `dialq_numbers_total{state="failed",vendor="nxcloud"} 0`+"\n") {
		t.Errorf("GET /metrics counted a negative AddNumbers")
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.ObserveCall("nxcloud", "ok", time.Second)
	m.AddNumbers("nxcloud", "delivered", 1)
	m.ThrottledWait("nxcloud", time.Second)
}

func TestDashboardAuth(t *testing.T) {
	f := setup(t, HTTPConfig{User: "ops", Password: "s3cret"})
	tests := []struct {
		name, path string
		edit       func(*http.Request)
		wantCode   int
	}{
		{"no credentials", "/monitoring/", nil, http.StatusUnauthorized},
		{"wrong password", "/monitoring/", withAuth("ops", "guess"), http.StatusUnauthorized},
		{"wrong user", "/monitoring/", withAuth("root", "s3cret"), http.StatusUnauthorized},
		{"api without credentials", "/monitoring/api/queues", nil, http.StatusUnauthorized},
		{"right credentials", "/monitoring/", withAuth("ops", "s3cret"), http.StatusOK},
		{"api with credentials", "/monitoring/api/queues", withAuth("ops", "s3cret"), http.StatusOK},
		{"healthz open", "/healthz", nil, http.StatusOK},
		{"metrics open", "/metrics", nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", f.srv.URL+tt.path, nil)
			if tt.edit != nil {
				tt.edit(req)
			}
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Errorf("GET %s = %d; want %d", tt.path, resp.StatusCode, tt.wantCode)
			}
			if tt.wantCode == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("GET %s: WWW-Authenticate = %q; want a Basic challenge", tt.path, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestDashboardWithoutAuth(t *testing.T) {
	f := setup(t, HTTPConfig{})
	code, body := f.do(t, "GET", "/monitoring/", nil)
	if code != http.StatusOK || !strings.Contains(body, "<html") {
		t.Errorf("GET /monitoring/ = %d, html %v; want 200 and the dashboard", code, strings.Contains(body, "<html"))
	}
}

// TestDashboardWrites pauses a queue through the dashboard's API and checks Redis to
// see whether it happened.
func TestDashboardWrites(t *testing.T) {
	auth := withAuth("ops", "pw")
	tests := []struct {
		name       string
		writable   bool
		edit       func(*http.Request)
		wantCode   int
		wantPaused bool
	}{
		{"read-only", false, auth, http.StatusMethodNotAllowed, false},
		{"writable", true, auth, http.StatusNoContent, true},
		{"writable cross-site", true, func(r *http.Request) {
			auth(r)
			r.Header.Set("Sec-Fetch-Site", "cross-site")
		}, http.StatusForbidden, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, HTTPConfig{User: "ops", Password: "pw", Writable: tt.writable})
			f.enqueue(t, `{}`)
			code, body := f.do(t, "POST", "/monitoring/api/queues/"+testQueue+":pause", tt.edit)
			if code != tt.wantCode {
				t.Errorf("POST pause = %d %q; want %d", code, body, tt.wantCode)
			}
			info, err := f.insp.GetQueueInfo(testQueue)
			if err != nil {
				t.Fatalf("GetQueueInfo: %v", err)
			}
			if info.Paused != tt.wantPaused {
				t.Errorf("queue paused = %v; want %v", info.Paused, tt.wantPaused)
			}
		})
	}
}

func TestDashboardReadOnlyDelete(t *testing.T) {
	f := setup(t, HTTPConfig{})
	f.enqueue(t, `{}`)
	code, _ := f.do(t, "DELETE", "/monitoring/api/queues/"+testQueue+"/pending_tasks:delete_all", nil)
	if code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE pending tasks = %d; want 405", code)
	}
	info, err := f.insp.GetQueueInfo(testQueue)
	if err != nil {
		t.Fatalf("GetQueueInfo: %v", err)
	}
	if info.Pending != 1 {
		t.Errorf("pending = %d after a refused delete; want 1", info.Pending)
	}
}

func TestDashboardMasksPayload(t *testing.T) {
	f := setup(t, HTTPConfig{})
	f.enqueue(t, `{"batch":"b-1","phone":"13800000001","token":"t0k3n"}`)
	code, body := f.do(t, "GET", "/monitoring/api/queues/"+testQueue+"/pending_tasks", nil)
	if code != http.StatusOK {
		t.Fatalf("GET pending tasks = %d %q", code, body)
	}
	if !strings.Contains(body, "138******01") || !strings.Contains(body, "b-1") {
		t.Errorf("GET pending tasks = %q; want the masked phone and the batch id", body)
	}
	for _, leak := range []string{"13800000001", "t0k3n"} {
		if strings.Contains(body, leak) {
			t.Errorf("GET pending tasks shows %q: %s", leak, body)
		}
	}
}

func TestNewHandlerErrors(t *testing.T) {
	opt := asynq.RedisClientOpt{Addr: "127.0.0.1:1"}
	reg := prometheus.NewRegistry()
	tests := []struct {
		name string
		cfg  HTTPConfig
		want string
	}{
		{"writable without credentials", HTTPConfig{RedisConnOpt: opt, Registry: reg, Writable: true}, "writable"},
		{"user without password", HTTPConfig{RedisConnOpt: opt, Registry: reg, User: "ops"}, "together"},
		{"password without user", HTTPConfig{RedisConnOpt: opt, Registry: reg, Password: "pw", Writable: true}, "together"},
		{"no redis", HTTPConfig{Registry: reg}, "RedisConnOpt"},
		{"no registry", HTTPConfig{RedisConnOpt: opt}, "Registry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHandler(tt.cfg)
			if err == nil {
				h.Close()
				t.Fatalf("NewHandler(%s) succeeded; want an error", tt.name)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewHandler(%s) = %v; want it to mention %q", tt.name, err, tt.want)
			}
		})
	}
}
