package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/lifecycle/ledger"
)

// faultyLedger is the ledger the pages read with a failure injected: the seam the
// small read interface gives, as asynq tests its processor through base.Broker.
type faultyLedger struct {
	BatchReader
	err error
}

func (f faultyLedger) Status(ctx context.Context, id string) (*ledger.Status, error) {
	return nil, f.err
}

func (f faultyLedger) List(ctx context.Context, limit int) ([]string, error) { return nil, f.err }

// A ledger that cannot be read gives a page that says so: 404 for a batch that is
// not there, 500 for anything else, with any number in the error masked.
func TestPagesReportLedgerFaults(t *testing.T) {
	db := testredis.New(t)
	opt := asynq.RedisClientOpt{Addr: db.Opt.Addr, Password: db.Opt.Password, DB: db.Opt.DB}
	const phone = "13800138000"
	tests := []struct {
		name string
		err  error
		path string
		want int
	}{
		{"gone page", fmt.Errorf("batch b1: %w", ledger.ErrNotFound), "/batches/b1", http.StatusNotFound},
		{"gone api", fmt.Errorf("batch b1: %w", ledger.ErrNotFound), "/api/batches/b1", http.StatusNotFound},
		{"down page", errors.New("dial tcp 10.0.0.7:6379: refused for +86" + phone), "/batches/b1", http.StatusInternalServerError},
		{"down api", errors.New("dial tcp 10.0.0.7:6379: refused for +86" + phone), "/api/batches/b1", http.StatusInternalServerError},
		{"down list", errors.New("LOADING Redis is loading the dataset in memory"), "/api/batches", http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHandler(HTTPConfig{RedisConnOpt: opt, Registry: prometheus.NewRegistry(),
				Batches: faultyLedger{BatchReader: ledger.NewReader(db.Client), err: tt.err}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { h.Close() })
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			req.RemoteAddr = "127.0.0.1:40000"
			h.ServeHTTP(rec, req)
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.want {
				t.Errorf("GET %s with %v: %d; want %d (%s)", tt.path, tt.err, rec.Code, tt.want, body)
			}
			if strings.Contains(string(body), phone) {
				t.Errorf("GET %s: the error page shows the number: %s", tt.path, body)
			}
		})
	}
}
