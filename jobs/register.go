package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dialq/dialq/compliance"

	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/internal/tracing"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/quota"
	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/flashai"
	"github.com/dialq/dialq/vendors/nxcloud"
	"github.com/dialq/dialq/vendors/speech"
	"github.com/dialq/dialq/vendors/yccall"
)

// Webhook posts a finished batch's event to its campaign's webhook.
type Webhook interface {
	Send(ctx context.Context, url, eventID string, body []byte) error
}

// Deps are what the handlers need. A vendor whose client is nil is not served.
type Deps struct {
	// Lifecycle is the ledger: every write goes through its named moves, every
	// read through the ledger.Reader it embeds.
	Lifecycle *lifecycle.Manager
	Limiter   RateLimiter
	Metrics   Metrics
	Log       *logrus.Entry
	Retry     Retry
	// Controls bounds operator controls over vendor tasks; zero fields take
	// DefaultControls.
	Controls Controls
	// retryDelay is the server's retry delay (NewServer sets it).
	retryDelay asynq.RetryDelayFunc
	// failLog rate-limits the log lines of failed attempts.
	failLog *failLog
	// Webhook posts batch webhooks; nil leaves them off.
	Webhook Webhook
	// Stopping reports that the worker is shutting down: no new vendor call starts.
	Stopping func() bool
	// RedisUnsafe, when set and non-nil, says why Redis may lose what it is given
	// (a maxmemory-policy or durability changed at run time): no new vendor call
	// starts. It must be cheap (redisconf.Guard.Err reads a cached verdict).
	RedisUnsafe func() error
	// Gate is the compliance gate asked right before each call of a campaign with a
	// compliance block; a worker without one refuses such parts.
	Gate *compliance.Gate
	// Quota holds the vendors' quotas (<VENDOR>_QUOTA, <VENDOR>_INFLIGHT); nil
	// means none. Campaigns' daily caps need nothing here.
	Quota *quota.Limiter
	// Results schedules results polls of delivered parts; FlashAINotify issues
	// the notifyUrl of FlashAI plans (results_hook.go). Nil leaves them off.
	Results       ResultsHook
	FlashAINotify FlashAINotify

	// The vendors' clients, set by their wirings (jobs/vendors.go).
	NXCloud *nxcloud.Client
	Yccall  *yccall.Client
	Speech  *speech.Client
	FlashAI *flashai.Client
}

type noLimit struct{}

func (noLimit) Wait(context.Context, string, time.Duration) (time.Duration, error) { return 0, nil }

func (d *Deps) defaults() {
	if d.Limiter == nil {
		d.Limiter = noLimit{}
	}
	if d.Metrics == nil {
		d.Metrics = nopMetrics{}
	}
	if d.Log == nil {
		d.Log = logrus.NewEntry(logrus.StandardLogger())
	}
	if d.Retry == (Retry{}) {
		d.Retry = DefaultRetry
	}
	if d.retryDelay == nil {
		d.retryDelay = RetryDelay
	}
	if d.failLog == nil {
		d.failLog = newFailLog(10*time.Second, 5)
	}
	if d.Retry.MaxFailures == 0 {
		d.Retry.MaxFailures = queue.PartMaxFailures
	}
}

// Queues are the queues a worker serving d's vendors takes tasks from, with their
// weights: the control queue first, then each served vendor's own queue, and the
// queue all parts shared before per-vendor queues, so old parts drain. A vendor no
// worker serves keeps its parts pending in its own queue, visibly, until one does.
func Queues(d *Deps, controlWeight, partWeight int) map[string]int {
	q := map[string]int{queue.ControlQueue: controlWeight, queue.LegacyQueue: 1}
	for _, v := range d.Served() {
		q[queue.For(v)] = partWeight
	}
	return q
}

// Register adds a handler for every task type of every configured vendor, and the
// batch announcement. Every task runs under a span continuing the trace its headers
// carry (internal/tracing).
func Register(mux *asynq.ServeMux, d *Deps) {
	d.defaults()
	mux.Use(tracing.Middleware)
	registerVendors(mux, d) // jobs/vendors.go
	mux.HandleFunc(queue.TypeAnnounce, d.announce)
}

// RetryDelay honours a vendor's Retry-After and every deferral (rate limit, pause,
// calling window), retries a part whose worker died at once (its in-flight marks
// make that safe), and otherwise backs off as asynq does.
func RetryDelay(n int, err error, t *asynq.Task) time.Duration {
	if ra := vendors.RetryAfter(err); ra > 0 {
		return ra
	}
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return time.Second
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
}

// IsFailure keeps throttling and deferrals out of the failure count (and the retry
// budget); the handler caps how often a vendor may throttle a part.
func IsFailure(err error) bool {
	return vendors.ClassOf(err) != vendors.Throttled
}

// ErrorHandler is the backstop for a part asynq archives on its own (its retry
// budget, queue.PartMaxRetry, is out of reach: the engine keeps the failure budget
// and settles a part itself): every record not yet recorded is counted as failed
// with the last error, so the batch's account stays whole and the batch can finish.
// `enqueue retry` re-runs it.
func ErrorHandler(d *Deps) asynq.ErrorHandler {
	d.defaults()
	return asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		if retried < maxRetry || errors.Is(err, asynq.SkipRetry) || !IsFailure(err) {
			return // asynq retries it, or the handler already settled it
		}
		var pl queue.PartPayload
		if json.Unmarshal(t.Payload(), &pl) != nil || pl.Batch == "" || !strings.HasPrefix(t.Type(), "dial:") {
			return
		}
		ctx = context.WithoutCancel(ctx)
		log := d.Log.WithFields(logrus.Fields{"batch": pl.Batch, "part": pl.Part})
		if err := d.exhaust(ctx, pl, err); err != nil {
			log.WithError(err).Error("settle exhausted part")
			return
		}
		log.WithError(err).Error("part gave up after its retries; remaining numbers counted as failed")
	})
}

func (d *Deps) exhaust(ctx context.Context, pl queue.PartPayload, cause error) error {
	m, err := d.Lifecycle.Manifest(ctx, pl.Batch)
	if err != nil {
		return err
	}
	recs, err := d.Lifecycle.LoadPart(ctx, m, pl.Part)
	if err != nil && !errors.Is(err, ledger.ErrCorrupt) {
		return err
	}
	n, err := d.Lifecycle.Exhaust(ctx, m, pl.Part, recs, vendors.ClassOf(cause).String(), "gave up after retries: "+cause.Error())
	d.Metrics.AddNumbers(m.Vendor, string(ledger.OutcomeFailed), n)
	return err
}

// announce publishes one finish of a batch on the events stream and posts it to the
// campaign's webhook. A webhook that fails is logged and counted; it never holds the
// batch.
func (d *Deps) announce(ctx context.Context, t *asynq.Task) error {
	var pl queue.AnnouncePayload
	if err := json.Unmarshal(t.Payload(), &pl); err != nil {
		return fmt.Errorf("announce payload: %v: %w", err, asynq.SkipRetry)
	}
	log := d.Log.WithField("batch", pl.Batch)
	ev, published, err := d.Lifecycle.Announce(ctx, pl.Batch, pl.Generation)
	if errors.Is(err, ledger.ErrNotFound) {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	if published {
		log.WithFields(logrus.Fields{"vendor": ev.Status.Vendor, "delivered": ev.Status.Delivered, "refused": ev.Status.Refused,
			"failed": ev.Status.Failed, "event": ev.ID}).Info("batch finished: announced")
	}
	// The webhook is tracked apart from the stream: an announcement that died
	// after publishing posts it on its retry.
	due, err := d.Lifecycle.WebhookDue(ctx, pl.Batch, pl.Generation)
	if err != nil || !due {
		return err
	}
	m, err := d.Lifecycle.Manifest(ctx, pl.Batch)
	if err != nil {
		return err
	}
	c, err := campaign.Parse(m.Vendor, m.Campaign)
	if err != nil || c.WebhookURL() == "" {
		return d.Lifecycle.WebhookDone(ctx, pl.Batch, pl.Generation)
	}
	if d.Webhook == nil {
		log.Warn("campaign names a webhook, but webhooks are off on this worker (WEBHOOK_ALLOWED_HOSTS)")
		d.Metrics.Problem(m.Vendor, "webhook_off")
		return d.Lifecycle.WebhookDone(ctx, pl.Batch, pl.Generation)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	// The sender retries, logs (masked) and counts a refused or failed delivery
	// itself; it never holds the batch, so its error ends here.
	_ = d.Webhook.Send(ctx, c.WebhookURL(), ev.ID, body)
	return d.Lifecycle.WebhookDone(ctx, pl.Batch, pl.Generation)
}

// maskAll masks numbers for a log line.
func maskAll(phones []string) []string {
	out := make([]string, len(phones))
	for i, p := range phones {
		out[i] = redact.Phone(p)
	}
	return out
}

// redisUnsafeRecheck is how long a part waits while Deps.RedisUnsafe objects.
const redisUnsafeRecheck = 10 * time.Second
