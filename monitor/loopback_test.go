package monitor

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/lifecycle/ledger"
)

// Without auth, the dashboard and the batch pages answer 403 to a request from an
// address that is not loopback; with auth or Public they answer; health,
// readiness and metrics are open to all.
func TestPagesLoopbackOnlyByDefault(t *testing.T) {
	db := testredis.New(t)
	opt := asynq.RedisClientOpt{Addr: db.Opt.Addr, Password: db.Opt.Password, DB: db.Opt.DB}
	handler := func(cfg HTTPConfig) http.Handler {
		cfg.RedisConnOpt, cfg.Registry, cfg.Batches = opt, prometheus.NewRegistry(), ledger.NewReader(db.Client)
		h, err := NewHandler(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	open := handler(HTTPConfig{})
	public := handler(HTTPConfig{Public: true})
	authed := handler(HTTPConfig{User: "ops", Password: "s3cret"})
	const far, near, near6 = "203.0.113.7:40000", "127.0.0.1:40000", "[::1]:40000"
	tests := []struct {
		name   string
		h      http.Handler
		remote string
		path   string
		auth   bool
		want   int
	}{
		{"dashboard far", open, far, "/monitoring/", false, http.StatusForbidden},
		{"batches far", open, far, "/batches/", false, http.StatusForbidden},
		{"batch api far", open, far, "/api/batches", false, http.StatusForbidden},
		{"one batch far", open, far, "/batches/x", false, http.StatusForbidden},
		{"healthz far", open, far, "/healthz", false, http.StatusOK},
		{"readyz far", open, far, "/readyz", false, http.StatusOK},
		{"metrics far", open, far, "/metrics", false, http.StatusOK},
		{"dashboard loopback", open, near, "/monitoring/", false, http.StatusOK},
		{"batches loopback v6", open, near6, "/batches/", false, http.StatusOK},
		{"public far", public, far, "/batches/", false, http.StatusOK},
		{"auth far without credentials", authed, far, "/batches/", false, http.StatusUnauthorized},
		{"auth far with credentials", authed, far, "/batches/", true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.path, nil)
			req.RemoteAddr = tt.remote
			if tt.auth {
				req.SetBasicAuth("ops", "s3cret")
			}
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("GET %s from %s = %d; want %d", tt.path, tt.remote, rec.Code, tt.want)
			}
		})
	}
}
