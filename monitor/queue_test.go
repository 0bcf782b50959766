package monitor

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

type fakeInspector struct {
	queues    []string
	queuesErr error
	infos     map[string]*asynq.QueueInfo
}

func (f *fakeInspector) Queues() ([]string, error) { return f.queues, f.queuesErr }

func (f *fakeInspector) GetQueueInfo(q string) (*asynq.QueueInfo, error) {
	if info, ok := f.infos[q]; ok {
		return info, nil
	}
	return nil, errors.New("redis: connection refused")
}

// scrape gathers c through a registry, as /metrics does, and renders the text format.
func scrape(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var b strings.Builder
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func TestQueueCollector(t *testing.T) {
	ok := &asynq.QueueInfo{
		Queue: "default", Latency: 1500 * time.Millisecond,
		Pending: 4, Active: 2, Scheduled: 1, Retry: 3, Archived: 5, Completed: 6,
		Processed: 7, Failed: 1, ProcessedTotal: 70, FailedTotal: 10, Paused: true,
	}
	tests := []struct {
		name   string
		insp   *fakeInspector
		want   []string
		absent []string
	}{
		{
			name: "healthy",
			insp: &fakeInspector{queues: []string{"default"}, infos: map[string]*asynq.QueueInfo{"default": ok}},
			want: []string{
				`dialq_queue_size{queue="default",state="pending"} 4`,
				`dialq_queue_size{queue="default",state="active"} 2`,
				`dialq_queue_size{queue="default",state="scheduled"} 1`,
				`dialq_queue_size{queue="default",state="retry"} 3`,
				`dialq_queue_size{queue="default",state="archived"} 5`,
				`dialq_queue_size{queue="default",state="completed"} 6`,
				`dialq_queue_latency_seconds{queue="default"} 1.5`,
				`dialq_queue_processed_total{queue="default"} 70`,
				`dialq_queue_failed_total{queue="default"} 10`,
				`dialq_queue_processed_today{queue="default"} 7`,
				`dialq_queue_failed_today{queue="default"} 1`,
				`dialq_queue_paused{queue="default"} 1`,
				`dialq_queue_scrape_errors 0`,
			},
		},
		{
			name:   "queues unreadable",
			insp:   &fakeInspector{queuesErr: errors.New("redis: connection refused")},
			want:   []string{`dialq_queue_scrape_errors 1`},
			absent: []string{`dialq_queue_size`},
		},
		{
			name: "one queue unreadable",
			insp: &fakeInspector{queues: []string{"default", "broken"}, infos: map[string]*asynq.QueueInfo{"default": ok}},
			want: []string{
				`dialq_queue_size{queue="default",state="pending"} 4`,
				`dialq_queue_scrape_errors 1`,
			},
			absent: []string{`queue="broken"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scrape(t, &queueCollector{insp: tt.insp})
			for _, w := range tt.want {
				if !strings.Contains(got, w+"\n") {
					t.Errorf("scrape lacks %q:\n%s", w, got)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(got, a) {
					t.Errorf("scrape has %q:\n%s", a, got)
				}
			}
		})
	}
}
