// Package monitor is the operators' HTTP surface of a worker: Prometheus metrics
// for vendor calls and queues, liveness and readiness probes, and the asynqmon
// dashboard embedded under /monitoring/.
//
// Choices the brief left open:
//   - /metrics and the probes are not behind the dashboard's basic auth: Prometheus
//     and the orchestrator must reach them without credentials, and they expose
//     counts only. Keep the port off the public network.
//   - The dashboard is read-only unless HTTPConfig.Writable; a writable dashboard
//     without credentials is refused at start-up, because anyone who reaches the
//     port could then delete queues.
//   - Queue metrics are read from Redis at scrape time. Every replica exports the
//     same queue numbers; aggregate them with max(), not sum(). A failed Redis read
//     sets dialq_queue_scrape_errors instead of failing the whole scrape, so the
//     vendor metrics keep flowing while Redis is down.
//   - dialq_queue_processed_total and dialq_queue_failed_total are asynq's
//     cumulative counters (rate() works on them); today's numbers, which reset at
//     midnight UTC and match the dashboard, are the gauges dialq_queue_processed_today
//     and dialq_queue_failed_today.
//   - The dashboard's formatters mask phone numbers and drop secret-looking fields
//     even though dialq payloads carry only ids and counts: defence in depth.
package monitor
