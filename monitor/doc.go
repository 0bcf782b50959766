// Package monitor is the operators' HTTP surface of a worker: Prometheus metrics
// for vendor calls and queues, liveness and readiness probes, the asynqmon
// dashboard embedded under /monitoring/, and the batch pages under /batches/ (JSON
// under /api/batches).
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
//     They keep a hex word of 12+ characters (batch ids, vendor task names made
//     from them) and a digit run longer than 15 (no phone number is: E.164) whole.
//   - Batch pages are server-rendered (html/template, embedded) with one small
//     script that reloads the page's <main> every 5 s; the rate chart is SVG drawn
//     on the server. They read the store through BatchReader, and cap their work on
//     a huge batch: 200 parts read one by one (unsettled first), 200,000 rejects and
//     outcomes counted by reason (then "sampled"; the count is reused while the
//     batch's counters stand still), 50 FlashAI plans asked about (cached 30 s).
//   - The autoscaling gauges (dialq_parts_runnable, dialq_oldest_runnable_seconds,
//     Runnable) are read every RunnableInterval, not per scrape, so that many
//     replicas scraped often cost Redis one read each per interval; they count
//     only what a worker could run now (README "Autoscaling").
//   - Rates come from samples kept in memory by each worker, not from Redis: the
//     store keeps counts, not their history. A worker that just started shows the
//     average since the batch was created until it has two samples.
package monitor
