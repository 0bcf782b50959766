package results

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nyaruka/phonenumbers"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/ratelimit"
	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/flashai"
	"github.com/dialq/dialq/vendors/registry"
)

// TypePollFlashAI polls the results of one FlashAI part. It is stored with every
// task: never rename it.
const TypePollFlashAI = "results:flashai:poll"

// Defaults of DIALQ_RESULTS_POLL and DIALQ_RESULTS_WINDOW.
const (
	DefaultPoll   = time.Minute
	DefaultWindow = 72 * time.Hour
)

// PollPayload names the part and attempt whose results a poll collects.
type PollPayload struct {
	Batch string `json:"batch"`
	Part  int    `json:"part"`
	// Attempt is the redial's attempt; 0 or 1 is the first send.
	Attempt int `json:"attempt,omitempty"`
}

// PollTaskID is the poll's task id: one poll task per part (and redial attempt),
// however often it is scheduled.
func PollTaskID(id string, part int) string { return pollTaskID(id, part, 1) }

func pollTaskID(id string, part, k int) string {
	if k <= 1 {
		return "results:" + id + ":" + strconv.Itoa(part)
	}
	return "results:" + id + ":" + strconv.Itoa(part) + ":" + strconv.Itoa(k)
}

// NewPollTask builds part's poll, on FlashAI's queue (only workers serving FlashAI
// take it), to run after in.
func NewPollTask(id string, part int, in time.Duration) (*asynq.Task, error) {
	return newPollTask(id, part, 1, in)
}

func newPollTask(id string, part, k int, in time.Duration) (*asynq.Task, error) {
	b, err := json.Marshal(PollPayload{Batch: id, Part: part, Attempt: max(k, 1)})
	if err != nil {
		return nil, err
	}
	// The poll re-schedules itself by returning a deferral (as a throttled part
	// does), so its retry budget is out of reach; a poll a vendor keeps failing
	// still ends at the window.
	return asynq.NewTask(TypePollFlashAI, b, asynq.TaskID(pollTaskID(id, part, k)), asynq.ProcessIn(in),
		asynq.MaxRetry(queue.PartMaxRetry), asynq.Timeout(10*time.Minute), asynq.Queue(queue.For(registry.FlashAI))), nil
}

// FlashAI is the part of the FlashAI client a poll uses.
type FlashAI interface {
	GetBatchPlanCallSummary(ctx context.Context, batchName string) (*flashai.CallSummary, error)
	EachCallPage(ctx context.Context, batchName, notifyURL string, fn func(*flashai.CallListPage) error) error
}

// RateLimiter is the fleet's vendor rate limit (jobs.RateLimiter).
type RateLimiter interface {
	Wait(ctx context.Context, vendor string, budget time.Duration) (time.Duration, error)
}

// Metrics counts results as they are recorded (monitor.Metrics).
type Metrics interface {
	AddResults(vendor, disposition string, n int)
}

// Poller collects FlashAI parts' results: the handler of TypePollFlashAI.
type Poller struct {
	Batches ledger.Reader
	Results *Store
	Client  FlashAI
	// Limiter: nil means none.
	Limiter RateLimiter
	Metrics Metrics
	Log     *logrus.Entry
	// Interval between polls, Window from delivery until numbers without a call
	// are not_called; zero means the defaults.
	Interval, Window time.Duration
	// NotifyURL gives a plan's callback URL, sent with the list request as the
	// seed asks; nil sends none.
	NotifyURL func(batchName string) string
	// Redials schedules the next attempt when an attempt closes; nil: no redials.
	Redials *Redialer
}

// again re-schedules a poll without counting a failure (jobs.RetryDelay honours
// RetryAfter, jobs.IsFailure skips Throttled).
type again struct {
	after time.Duration
	why   string
}

func (a *again) Error() string             { return "results poll again in " + a.after.String() + ": " + a.why }
func (a *again) Class() vendors.Class      { return vendors.Throttled }
func (a *again) RetryAfter() time.Duration { return a.after }

// PollResult is what a poll writes as its task result.
type PollResult struct {
	Batch  string `json:"batch"`
	Part   int    `json:"part"`
	Counts Counts `json:"counts"`
	Closed int    `json:"closed_slices"`
	Open   int    `json:"open_slices"`
}

// ProcessTask implements asynq.Handler.
func (p *Poller) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var pl PollPayload
	if err := json.Unmarshal(t.Payload(), &pl); err != nil {
		return fmt.Errorf("results poll payload: %v: %w", err, asynq.SkipRetry)
	}
	interval, window := p.Interval, p.Window
	if interval <= 0 {
		interval = DefaultPoll
	}
	if window <= 0 {
		window = DefaultWindow
	}
	log := p.log().WithFields(logrus.Fields{"vendor": registry.FlashAI, "batch": pl.Batch, "part": pl.Part})
	m, err := p.Batches.Manifest(ctx, pl.Batch)
	if errors.Is(err, ledger.ErrNotFound) || errors.Is(err, ledger.ErrLegacy) || errors.Is(err, ledger.ErrCorrupt) {
		log.WithError(err).Warn("results poll: batch gone or corrupt; polling stops")
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	k := max(pl.Attempt, 1)
	slices, sent, err := p.slices(ctx, m, pl.Part, k)
	if err != nil {
		return err
	}
	since, err := p.Results.deliveredAt(ctx, m, sinceField(pl.Part, k))
	if err != nil {
		return err
	}
	over := !p.Results.now().Before(since.Add(window))
	run := &pollRun{p: p, m: m, part: pl.Part, log: log, over: over, sent: sent}
	res := PollResult{Batch: m.ID, Part: pl.Part}
	for _, s := range slices {
		closed, err := run.slice(ctx, s.sl, s.name)
		if err != nil {
			return run.retry(err, interval)
		}
		if closed {
			res.Closed++
		} else {
			res.Open++
		}
	}
	if sum, err := p.Results.Summary(ctx, m.ID); err == nil {
		for _, mt := range sum.Slices {
			if mt.Slice.Part == pl.Part && mt.Slice.Attempt == k {
				res.Counts.Answered += mt.Counts.Answered
				res.Counts.NotAnswered += mt.Counts.NotAnswered
				res.Counts.NotCalled += mt.Counts.NotCalled
			}
		}
	}
	if w := t.ResultWriter(); w != nil {
		if b, err := json.Marshal(res); err == nil {
			_, _ = w.Write(b)
		}
	}
	if res.Open == 0 {
		log.WithFields(logrus.Fields{"answered": res.Counts.Answered, "not_answered": res.Counts.NotAnswered,
			"not_called": res.Counts.NotCalled, "attempt": k}).Info("results complete for the part")
		if p.Redials != nil && len(slices) > 0 {
			return p.Redials.schedule(ctx, m, pl.Part, k+1)
		}
		return nil
	}
	return &again{after: interval, why: fmt.Sprintf("%d of the part's vendor batches still calling", res.Open)}
}

func (p *Poller) log() *logrus.Entry {
	if p.Log == nil {
		return logrus.NewEntry(logrus.StandardLogger())
	}
	return p.Log
}

type namedSlice struct {
	sl   Slice
	name string
}

// slices lists part's vendor batches of attempt k: for the first, the addPlan
// batch names its calls checkpointed; for a redial, its one plan over the numbers
// it sent (which it returns).
func (p *Poller) slices(ctx context.Context, m *ledger.Manifest, part, k int) ([]namedSlice, map[int]bool, error) {
	if k > 1 {
		idx, name, ok, err := p.Results.redialSent(ctx, m.ID, part, k)
		if err != nil || !ok {
			return nil, nil, err
		}
		recs, err := p.Batches.LoadPart(ctx, m, part)
		if err != nil {
			return nil, nil, err
		}
		refused, err := p.Results.redialRefused(ctx, m.ID, part, k)
		if err != nil {
			return nil, nil, err
		}
		sent := make(map[int]bool, len(idx))
		for _, x := range idx {
			if _, out := refused[x]; !out { // refused by the vendor: never called
				sent[x] = true
			}
		}
		return []namedSlice{{sl: Slice{Part: part, Attempt: k, Range: chunking.Range{Lo: 0, Hi: len(recs)}}, name: name}}, sent, nil
	}
	ps, err := p.Batches.Progress(ctx, m.ID, part)
	if err != nil {
		return nil, nil, err
	}
	var out []namedSlice
	for k, v := range ps.Extra {
		rest, ok := strings.CutPrefix(k, "task:")
		if !ok || v == "" {
			continue
		}
		lo, hi, ok := strings.Cut(rest, "-")
		l, e1 := strconv.Atoi(lo)
		h, e2 := strconv.Atoi(hi)
		if !ok || e1 != nil || e2 != nil || l < 0 || h < l {
			continue
		}
		out = append(out, namedSlice{sl: Slice{Part: part, Attempt: 1, Range: chunking.Range{Lo: l, Hi: h}}, name: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].sl.Range.Lo < out[j].sl.Range.Lo })
	return out, nil, nil
}

// pollRun is one poll of one part.
type pollRun struct {
	p    *Poller
	m    *ledger.Manifest
	part int
	log  *logrus.Entry
	over bool
	// sent are the records a redial sent; nil for the first attempt.
	sent map[int]bool
	// index maps a number (phoneKey) to its record in the part, for the numbers
	// the vendor took; loaded once, when a slice has news.
	index map[string]int
	taken map[int]bool
}

// retry turns a failure into a re-scheduled poll: the fleet's rate limit and the
// vendor's Retry-After are waited out, anything else is tried at the next poll.
func (r *pollRun) retry(err error, interval time.Duration) error {
	var busy *ratelimit.Busy
	if errors.As(err, &busy) {
		return &again{after: busy.RetryAfter, why: "fleet rate limit"}
	}
	if ra := vendors.RetryAfter(err); ra > 0 {
		return &again{after: ra, why: "vendor asked to wait"}
	}
	r.log.WithError(err).Warn("results poll failed; trying again at the next poll")
	return &again{after: interval, why: err.Error()}
}

func (r *pollRun) wait(ctx context.Context) error {
	if r.p.Limiter == nil {
		return nil
	}
	_, err := r.p.Limiter.Wait(ctx, registry.FlashAI, time.Second)
	return err
}

// slice polls one vendor batch and stores what it learnt; it reports whether the
// slice is closed.
func (r *pollRun) slice(ctx context.Context, sl Slice, name string) (bool, error) {
	st := r.p.Results
	meta, known, err := st.Meta(ctx, r.m.ID, sl)
	if err != nil || meta.Closed {
		return meta.Closed, err
	}
	if err := r.wait(ctx); err != nil {
		return false, err
	}
	sum, err := r.p.Client.GetBatchPlanCallSummary(ctx, name)
	if err != nil {
		if !r.over {
			return false, err
		}
		// The window closed and the vendor does not answer: what was polled stands,
		// the rest is not_called.
		r.log.WithError(err).Warn("results window closed and the vendor's summary failed: numbers without a call record are not_called")
		prev, gerr := st.Get(ctx, r.m, sl)
		if gerr != nil {
			return false, gerr
		}
		return true, r.store(ctx, sl, prev, true, meta.EndCount)
	}
	ended := sum.AcceptCount > 0 && sum.EndCount >= sum.AcceptCount
	if known && sum.EndCount == meta.EndCount && !ended && !r.over {
		return false, nil // nothing new since the last poll
	}
	if err := r.load(ctx); err != nil {
		return false, err
	}
	byIdx := map[int]Result{}
	bad := 0
	notify := ""
	if r.p.NotifyURL != nil {
		notify = r.p.NotifyURL(name)
	}
	err = r.p.Client.EachCallPage(ctx, name, notify, func(pg *flashai.CallListPage) error {
		for _, b := range pg.Bad {
			r.log.WithFields(logrus.Fields{"vendor_batch": name, "page": pg.Page, "record": b.Index}).
				Warn("vendor call record does not parse: counted as bad, not guessed: " + b.Reason)
		}
		bad += len(pg.Bad)
		for _, c := range pg.Calls {
			idx, ok := r.index[phoneKey(r.cc(), c.Phone)]
			if !ok || idx < sl.Range.Lo || idx >= sl.Range.Hi {
				bad++
				r.log.WithFields(logrus.Fields{"vendor_batch": name, "phone": redact.Phone(c.Phone)}).
					Warn("vendor call record for a number this vendor batch was not given: counted as bad")
				continue
			}
			res := fromCall(idx, c)
			if old, seen := byIdx[idx]; seen && !better(res, old) {
				continue
			}
			byIdx[idx] = res
		}
		return r.wait(ctx)
	})
	if err != nil {
		return false, err
	}
	if err := st.AddBad(ctx, r.m.ID, bad); err != nil {
		return false, err
	}
	closed := ended || r.over
	res := make([]Result, 0, len(byIdx))
	for _, v := range byIdx {
		res = append(res, v)
	}
	return closed, r.store(ctx, sl, res, closed, sum.EndCount)
}

// store completes res (when closed, every number the vendor took without a call
// is not_called) and writes it.
func (r *pollRun) store(ctx context.Context, sl Slice, res []Result, closed bool, endCount int) error {
	if closed {
		if err := r.load(ctx); err != nil {
			return err
		}
		have := map[int]bool{}
		for _, x := range res {
			have[x.Index] = true
		}
		for i := sl.Range.Lo; i < sl.Range.Hi; i++ {
			if r.taken[i] && !have[i] {
				res = append(res, Result{Index: i, Disposition: NotCalled})
			}
		}
	}
	slices.SortFunc(res, func(a, b Result) int { return a.Index - b.Index })
	applied, delta, err := r.p.Results.Put(ctx, r.m, sl, res, closed, endCount, false)
	if err != nil || !applied {
		return err
	}
	if r.p.Metrics != nil {
		for _, d := range []Disposition{Answered, NotAnswered, NotCalled} {
			if n := delta.Of(d); n > 0 {
				r.p.Metrics.AddResults(registry.FlashAI, d.String(), int(n))
			}
		}
	}
	if closed {
		r.log.WithFields(logrus.Fields{"range": fmt.Sprintf("%d-%d", sl.Range.Lo, sl.Range.Hi), "window_over": r.over}).
			Info("vendor batch's results closed")
	}
	return nil
}

func (r *pollRun) cc() string {
	return strconv.Itoa(phonenumbers.GetCountryCodeForRegion(r.m.Region))
}

// load reads the part's records and which of them the vendor took (not refused,
// failed, uncertain or suppressed).
func (r *pollRun) load(ctx context.Context) error {
	if r.index != nil {
		return nil
	}
	recs, err := r.p.Batches.LoadPart(ctx, r.m, r.part)
	if err != nil {
		return err
	}
	out := map[int]bool{}
	if err := r.p.Batches.Outcomes(ctx, r.m.ID, r.part, func(o ledger.Outcome) error {
		out[o.Index] = true
		return nil
	}); err != nil {
		return err
	}
	cc := r.cc()
	r.index, r.taken = make(map[string]int, len(recs)), make(map[int]bool, len(recs))
	for i, rec := range recs {
		if out[i] || (r.sent != nil && !r.sent[i]) {
			continue
		}
		r.taken[i] = true
		r.index[phoneKey(cc, rec.Phone)] = i
	}
	return nil
}

// fromCall is a vendor call record as a result.
func fromCall(idx int, c flashai.CallRecord) Result {
	d := NotAnswered
	if c.Answered() {
		d = Answered
	}
	return Result{Index: idx, Disposition: d, CallStart: c.CallStart, Answer: c.Answer, Hangup: c.Hangup,
		DurationS: c.DurationS, IntentTag: c.IntentTag, IntentNote: c.IntentNote, Detail: c.Detail}
}

// better decides between two records of one number (the vendor's own recall may
// call it twice): an answered call wins, then the later one.
func better(a, b Result) bool {
	if (a.Disposition == Answered) != (b.Disposition == Answered) {
		return a.Disposition == Answered
	}
	return a.CallStart.After(b.CallStart)
}

// phoneKey reduces a number to its national significant digits, so that the
// vendor's spelling (with or without country code, "+", "00" or the national
// prefix) matches the record's.
func phoneKey(cc, phone string) string {
	b := make([]byte, 0, len(phone))
	for i := 0; i < len(phone); i++ {
		if c := phone[i]; c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	d := strings.TrimPrefix(string(b), "00")
	if strings.HasPrefix(d, cc) && len(d)-len(cc) >= 7 {
		d = d[len(cc):]
	}
	return strings.TrimLeft(d, "0")
}
