package monitor

import (
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// queueInspector is the part of *asynq.Inspector the collector reads.
type queueInspector interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

var (
	queueSizeDesc = prometheus.NewDesc("dialq_queue_size",
		"Tasks in the queue by state.", []string{"queue", "state"}, nil)
	queueLatencyDesc = prometheus.NewDesc("dialq_queue_latency_seconds",
		"Age of the oldest pending task.", []string{"queue"}, nil)
	queueProcessedDesc = prometheus.NewDesc("dialq_queue_processed_total",
		"Tasks processed, succeeded or failed (cumulative).", []string{"queue"}, nil)
	queueFailedDesc = prometheus.NewDesc("dialq_queue_failed_total",
		"Tasks whose processing failed (cumulative).", []string{"queue"}, nil)
	queueProcessedTodayDesc = prometheus.NewDesc("dialq_queue_processed_today",
		"Tasks processed today (UTC), succeeded or failed.", []string{"queue"}, nil)
	queueFailedTodayDesc = prometheus.NewDesc("dialq_queue_failed_today",
		"Tasks whose processing failed today (UTC).", []string{"queue"}, nil)
	queuePausedDesc = prometheus.NewDesc("dialq_queue_paused",
		"1 when the queue is paused.", []string{"queue"}, nil)
	queueScrapeErrorsDesc = prometheus.NewDesc("dialq_queue_scrape_errors",
		"Redis reads that failed during this scrape; queue metrics are missing or partial when above 0.", nil, nil)
)

type queueCollector struct {
	insp queueInspector
}

// NewQueueCollector reads every queue's state through insp at each scrape. Register
// it in the registry handed to NewHandler; the caller keeps insp and closes it.
func NewQueueCollector(insp *asynq.Inspector) prometheus.Collector {
	return &queueCollector{insp: insp}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		queueSizeDesc, queueLatencyDesc, queueProcessedDesc, queueFailedDesc,
		queueProcessedTodayDesc, queueFailedTodayDesc, queuePausedDesc, queueScrapeErrorsDesc,
	} {
		ch <- d
	}
}

// Collect reports a failed read as a gauge rather than an invalid metric: an
// invalid metric fails the whole scrape, and the vendor metrics served beside these
// matter most exactly when Redis is in trouble.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	errs := 0
	defer func() {
		ch <- prometheus.MustNewConstMetric(queueScrapeErrorsDesc, prometheus.GaugeValue, float64(errs))
	}()
	queues, err := c.insp.Queues()
	if err != nil {
		errs++
		return
	}
	for _, q := range queues {
		info, err := c.insp.GetQueueInfo(q)
		if err != nil {
			errs++
			continue
		}
		for _, s := range []struct {
			state string
			n     int
		}{
			{"pending", info.Pending},
			{"active", info.Active},
			{"scheduled", info.Scheduled},
			{"retry", info.Retry},
			{"archived", info.Archived},
			{"completed", info.Completed},
		} {
			ch <- prometheus.MustNewConstMetric(queueSizeDesc, prometheus.GaugeValue, float64(s.n), q, s.state)
		}
		paused := 0.0
		if info.Paused {
			paused = 1
		}
		ch <- prometheus.MustNewConstMetric(queueLatencyDesc, prometheus.GaugeValue, info.Latency.Seconds(), q)
		ch <- prometheus.MustNewConstMetric(queueProcessedDesc, prometheus.CounterValue, float64(info.ProcessedTotal), q)
		ch <- prometheus.MustNewConstMetric(queueFailedDesc, prometheus.CounterValue, float64(info.FailedTotal), q)
		ch <- prometheus.MustNewConstMetric(queueProcessedTodayDesc, prometheus.GaugeValue, float64(info.Processed), q)
		ch <- prometheus.MustNewConstMetric(queueFailedTodayDesc, prometheus.GaugeValue, float64(info.Failed), q)
		ch <- prometheus.MustNewConstMetric(queuePausedDesc, prometheus.GaugeValue, paused, q)
	}
}
