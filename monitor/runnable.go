package monitor

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

var (
	partsRunnableDesc = prometheus.NewDesc("dialq_parts_runnable",
		"Tasks a worker could work on now, in an unpaused queue: pending, in progress, and scheduled or retrying tasks whose time has come (a worker must be running to move them to pending). Tasks still waiting for a calling window, a quota, a Retry-After or a backoff are not counted: more workers would not run them sooner. Fleet-wide: every worker reports the same value, aggregate with max.",
		[]string{"queue"}, nil)
	oldestRunnableDesc = prometheus.NewDesc("dialq_oldest_runnable_seconds",
		"Age of the queue's oldest pending task (0 when none, or paused). Fleet-wide: aggregate with max.",
		[]string{"queue"}, nil)
	runnableAgeDesc = prometheus.NewDesc("dialq_runnable_age_seconds",
		"Time since dialq_parts_runnable was last read from Redis.", nil, nil)
)

// RunnableInterval is how often the runnable gauges are read from Redis: one read
// of every queue per interval per worker, whatever the number of scrapes.
const RunnableInterval = 5 * time.Second

// Runnable reports the autoscaling gauges from a snapshot refreshed by Run, so that
// a scrape costs no Redis round trip.
type Runnable struct {
	insp queueInspector
	rdb  redis.UniversalClient

	mu      sync.Mutex
	queues  map[string]runnableQueue
	readAt  time.Time
	readErr error
}

type runnableQueue struct {
	runnable int
	oldest   time.Duration
}

// NewRunnable reads through insp (an *asynq.Inspector) and rdb, the same Redis;
// call Run to keep it fresh.
func NewRunnable(insp queueInspector, rdb redis.UniversalClient) *Runnable {
	return &Runnable{insp: insp, rdb: rdb}
}

// Run refreshes the snapshot every interval until ctx ends.
func (r *Runnable) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r.Refresh()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh reads every queue's pending, active and latency once. A failed read
// keeps the previous snapshot, whose age dialq_runnable_age_seconds shows; a
// snapshot older than three intervals is not reported at all.
func (r *Runnable) Refresh() error {
	names, err := r.insp.Queues()
	snap := map[string]runnableQueue{}
	for _, q := range names {
		if err != nil {
			break
		}
		info, qerr := r.insp.GetQueueInfo(q)
		if qerr != nil {
			err = qerr
			break
		}
		if info.Paused {
			snap[q] = runnableQueue{}
			continue
		}
		due, derr := r.due(q)
		if derr != nil {
			err = derr
			break
		}
		snap[q] = runnableQueue{runnable: info.Pending + info.Active + due, oldest: info.Latency}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.readErr = err
	if err == nil {
		r.queues, r.readAt = snap, time.Now()
	}
	return err
}

// due counts q's scheduled and retry tasks whose time has come. The Inspector has no
// count by time, so this reads asynq's sorted sets (scored by the time a task is
// due) directly; TestRunnable pins their names against asynq itself.
func (r *Runnable) due(q string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	now := strconv.FormatInt(time.Now().Unix(), 10)
	pipe := r.rdb.Pipeline()
	sched := pipe.ZCount(ctx, "asynq:{"+q+"}:scheduled", "-inf", now)
	retry := pipe.ZCount(ctx, "asynq:{"+q+"}:retry", "-inf", now)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	return int(sched.Val() + retry.Val()), nil
}

// Describe implements prometheus.Collector.
func (r *Runnable) Describe(ch chan<- *prometheus.Desc) {
	ch <- partsRunnableDesc
	ch <- oldestRunnableDesc
	ch <- runnableAgeDesc
}

// Collect implements prometheus.Collector.
func (r *Runnable) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.readAt.IsZero() {
		return
	}
	age := time.Since(r.readAt)
	ch <- prometheus.MustNewConstMetric(runnableAgeDesc, prometheus.GaugeValue, age.Seconds())
	if age > 3*RunnableInterval {
		return // stale: an autoscaler must see no value rather than an old one
	}
	for q, v := range r.queues {
		ch <- prometheus.MustNewConstMetric(partsRunnableDesc, prometheus.GaugeValue, float64(v.runnable), q)
		ch <- prometheus.MustNewConstMetric(oldestRunnableDesc, prometheus.GaugeValue, v.oldest.Seconds(), q)
	}
}
