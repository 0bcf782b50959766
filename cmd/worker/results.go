package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/monitor"
	"github.com/dialq/dialq/results"
)

// Results collection (package results): polls of delivered FlashAI parts and the
// vendor's callbacks.
const (
	envResultsPoll     = "DIALQ_RESULTS_POLL"
	envResultsWindow   = "DIALQ_RESULTS_WINDOW"
	envCallbackBaseURL = "DIALQ_CALLBACK_BASE_URL"
	envCallbackSecret  = "DIALQ_CALLBACK_SECRET" // or DIALQ_CALLBACK_SECRET_FILE
)

// resultsSetup wires results collection into deps: FlashAI's polls when the
// worker serves FlashAI, every served vendor's redials. It returns the handlers
// to register (a Poller without a FlashAI client registers the redials only) and
// the callbacks' handler (nil when callbacks are off).
func resultsSetup(getenv envconf.Getenv, rdb redis.UniversalClient, deps *jobs.Deps, client *asynq.Client,
	insp *asynq.Inspector, reg prometheus.Registerer, log *logrus.Entry) (*results.Poller, http.Handler, error) {
	poll, err := positiveDuration(getenv, envResultsPoll, results.DefaultPoll)
	if err != nil {
		return nil, nil, err
	}
	window, err := positiveDuration(getenv, envResultsWindow, results.DefaultWindow)
	if err != nil {
		return nil, nil, err
	}
	secret, err := envconf.Secret(getenv, envCallbackSecret)
	if err != nil {
		return nil, nil, err
	}
	base := getenv(envCallbackBaseURL)
	if (base == "") != (secret == "") {
		return nil, nil, fmt.Errorf("%s and %s must be set together", envCallbackBaseURL, envCallbackSecret)
	}
	st := results.NewStore(rdb, nil)
	if deps.FlashAI == nil {
		// Redials of the vendors whose results are imported (results_redial.go).
		return &results.Poller{Redials: importRedialer(deps, st, client, log)}, nil, nil
	}
	sched := &results.Scheduler{Client: client, Inspector: insp, Batches: deps.Lifecycle, Results: st, Interval: poll}
	deps.Results = sched
	p := &results.Poller{Batches: deps.Lifecycle, Results: st, Client: deps.FlashAI, Limiter: deps.Limiter,
		Metrics: monitor.NewResultsMetrics(reg), Log: log.WithField("component", "results"),
		Interval: poll, Window: window}
	// Campaigns' recycle rules (FlashAI): redials through the compliance gate.
	p.Redials = importRedialer(deps, st, client, log)
	p.Redials.Client, p.Redials.PollIn = deps.FlashAI, poll
	if base == "" {
		return p, nil, nil
	}
	cb, err := results.NewCallbacks(base, secret, rdb)
	if err != nil {
		return nil, nil, err
	}
	cb.Poll, cb.Log, cb.Window = sched.PollNow, log.WithField("component", "callbacks"), window
	deps.FlashAINotify = cb.Issue
	p.NotifyURL = cb.URL
	p.Redials.Notify = cb.Issue
	return p, cb, nil
}

// resultsPages feeds the batch pages' results section.
type resultsPages struct {
	st    *results.Store
	every time.Duration
}

func (r resultsPages) Results(ctx context.Context, bs *ledger.Status) (*monitor.ResultsData, error) {
	p, err := results.PageOf(ctx, r.st, bs, 200_000)
	if err != nil {
		return nil, err
	}
	return &monitor.ResultsData{Answered: p.Answered, NotAnswered: p.NotAnswered, NotCalled: p.NotCalled, Pending: p.Pending,
		Redialled: p.Redialled, Complete: p.Complete, Tags: p.Tags, TagsSampled: p.Sampled, Attempts: p.Attempts,
		OpenVendorBatches: p.Open, NextRedial: p.NextRedial, PollEvery: r.every}, nil
}

// withCallbacks serves the vendor's callbacks beside the monitoring handler,
// without its basic auth: a callback's token is its credential.
func withCallbacks(h http.Handler, cb http.Handler) http.Handler {
	if cb == nil {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle(results.CallbackPath, cb)
	mux.Handle("/", h)
	return mux
}

// pollEvery is DIALQ_RESULTS_POLL as the pages show it (resultsSetup has checked it).
func pollEvery(getenv envconf.Getenv) time.Duration {
	if d, err := time.ParseDuration(getenv(envResultsPoll)); err == nil && d > 0 {
		return d
	}
	return results.DefaultPoll
}

// positiveDuration reads name as a positive Go duration, def when unset. Each
// variable is read by name at its call so that deploy's manifest test sees it.
func positiveDuration(getenv envconf.Getenv, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive Go duration such as %s", name, v, def)
	}
	return d, nil
}
