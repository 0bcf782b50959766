package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/batch"
	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/flashai"
	"github.com/dialq/dialq/vendors/nxcloud"
	"github.com/dialq/dialq/vendors/speech"
	"github.com/dialq/dialq/vendors/yccall"
)

// Deps are what the handlers need. A vendor whose client is nil is not served.
type Deps struct {
	Store   *batch.Store
	Limiter RateLimiter
	Metrics Metrics
	Log     *logrus.Entry
	Retry   Retry
	// HTTPClient posts batch webhooks.
	HTTPClient *http.Client

	NXCloud *nxcloud.Client
	Yccall  *yccall.Client
	Speech  *speech.Client
	FlashAI *flashai.Client
}

type noLimit struct{}

func (noLimit) Wait(context.Context, string) (time.Duration, error) { return 0, nil }

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
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
}

// Register adds a handler for every task type of every configured vendor and
// returns the vendors served.
func Register(mux *asynq.ServeMux, d *Deps) []string {
	d.defaults()
	var served []string
	if d.NXCloud != nil {
		mux.Handle(TypeNXCloudCreate, &engine{deps: d, caller: &nxcloudCaller{c: d.NXCloud}})
		served = append(served, "nxcloud")
	}
	if d.Yccall != nil {
		mux.Handle(TypeYccallCreate, &engine{deps: d, caller: &yccallCaller{c: d.Yccall}})
		mux.Handle(TypeYccallTaskSet, &controlHandler{deps: d, run: d.yccallTaskSet})
		served = append(served, "yccall")
	}
	if d.Speech != nil {
		mux.Handle(TypeSpeechCreate, &engine{deps: d, caller: &speechCaller{c: d.Speech}})
		served = append(served, "speech")
	}
	if d.FlashAI != nil {
		mux.Handle(TypeFlashAIAdd, &engine{deps: d, caller: &flashaiCaller{c: d.FlashAI}})
		mux.Handle(TypeFlashAIControl, &controlHandler{deps: d, run: d.flashaiControl})
		mux.Handle(TypeFlashAIDelete, &controlHandler{deps: d, run: d.flashaiDelete})
		served = append(served, "flashai")
	}
	return served
}

// RetryDelay honours a vendor's Retry-After, retries a part whose worker died at
// once (its in-flight marks make that safe), and otherwise backs off as asynq does.
func RetryDelay(n int, err error, t *asynq.Task) time.Duration {
	if ra := vendors.RetryAfter(err); ra > 0 {
		return ra
	}
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return time.Second
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
}

// IsFailure keeps throttling out of the failure count (and the retry budget); the
// handler caps how often a part may be throttled.
func IsFailure(err error) bool {
	return vendors.ClassOf(err) != vendors.Throttled
}

// ErrorHandler settles a part whose retries have run out: every record not yet
// recorded is counted as failed with the last error, so the batch's account stays
// whole and the batch can finish. The part is archived by asynq; `enqueue retry`
// re-runs it.
func ErrorHandler(d *Deps) asynq.ErrorHandler {
	d.defaults()
	return asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		if retried < maxRetry || errors.Is(err, asynq.SkipRetry) {
			return // asynq retries it, or the handler already settled it
		}
		var pl PartPayload
		if json.Unmarshal(t.Payload(), &pl) != nil || pl.Batch == "" || !strings.HasPrefix(t.Type(), "dial:") {
			return
		}
		ctx = context.WithoutCancel(ctx)
		log := d.Log.WithFields(logrus.Fields{"batch": pl.Batch, "part": pl.Part})
		if err := d.failRemaining(ctx, pl, err); err != nil {
			log.WithError(err).Error("settle exhausted part")
			return
		}
		log.WithError(err).Error("part gave up after its retries; remaining numbers counted as failed")
	})
}

func (d *Deps) failRemaining(ctx context.Context, pl PartPayload, cause error) error {
	m, err := d.Store.Manifest(ctx, pl.Batch)
	if err != nil {
		return err
	}
	recs, err := d.Store.LoadPart(ctx, m.ID, pl.Part)
	if err != nil {
		return err
	}
	ps, err := d.Store.PartState(ctx, m.ID, pl.Part)
	if err != nil {
		return err
	}
	reason := "gave up after retries: " + cause.Error()
	for _, r := range chunking.Remaining(len(recs), ps.DoneRanges()) {
		out := batch.RangeResult{Range: r}
		for i := r.Lo; i < r.Hi; i++ {
			out.Outcomes = append(out.Outcomes, batch.Outcome{Index: i, Line: recs[i].Line, Phone: recs[i].Phone,
				State: batch.OutcomeFailed, Code: vendors.ClassOf(cause).String(), Reason: reason})
		}
		if _, err := d.Store.RecordRange(ctx, m.ID, pl.Part, out); err != nil {
			return err
		}
		d.Metrics.AddNumbers(m.Vendor, batch.OutcomeFailed, r.Len())
	}
	finished, err := d.Store.SetPartState(ctx, m.ID, pl.Part, batch.PartFailed)
	if err != nil {
		return err
	}
	if finished {
		if c, err := campaign.Parse(m.Vendor, m.Campaign); err == nil {
			d.announce(ctx, m, c)
		}
	}
	return nil
}
