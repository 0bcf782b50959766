package results

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/compliance/window"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/quota"
	"github.com/dialq/dialq/vendors/flashai"
	"github.com/dialq/dialq/vendors/registry"
)

// Redials (campaign "recycle" block), every vendor: once a part's attempt k-1 has
// results (FlashAI: its plans closed; the others: an import stored them), the
// numbers whose result is in recycle.on are sent again after recycle.after as
// attempt k, in a follow-up vendor task whose name carries r<k> (redial_vendors.go),
// until recycle.max_attempts.
//
// Exactly once: the redial is one asynq task per part and attempt (task id
// results:redial:<batch>:<part>:<k>); the numbers of attempt k are fixed in Redis
// with SET NX before the call (…:res:<part>:<k>:sent), so two workers agree on them
// and a number is in each attempt at most once. A vendor call that can be
// recognised when repeated (FlashAI's plan name, verified after 101007; speech's
// task name) is resent after a crash; one that cannot (NXCloud, Yccall) carries an
// in-flight mark and is never resent: a redial found marked and unrecorded is
// uncertain. The counters move once (a Lua guard). The compliance gate is asked
// before the numbers are fixed (suppression, contact caps counting this attempt,
// calling windows deferring). Pause defers a redial; cancel drops it, also one
// already waiting for its call (redial_guard.go: the control is checked with each
// call's mark). Numbers the vendor refuses in the redial's call are recorded
// refused with its reason.

// TypeRedialFlashAI sends one FlashAI part's attempt again; TypeRedial any other
// vendor's. Stored: never rename.
const (
	TypeRedialFlashAI = "results:flashai:redial"
	TypeRedial        = "results:redial"
)

// RedialPayload names the part and the attempt to send.
type RedialPayload struct {
	Batch   string `json:"batch"`
	Part    int    `json:"part"`
	Attempt int    `json:"attempt"`
}

// RedialLedger is what a redial needs of the ledger: its reads, and the two
// writes a redial makes through the lifecycle (*lifecycle.Manager): a hold made
// durable, and a day's numbers given back when the call was never made.
type RedialLedger interface {
	ledger.Reader
	Confirm(ctx context.Context, key string, write func(p redis.Pipeliner)) error
	GiveBackDaily(ctx context.Context, id, day string, n int) error
}

// Redialer sends redials: the handler of TypeRedialFlashAI and TypeRedial. A
// vendor whose client is nil is not redialled by this worker (its queue is
// served by workers that have the client).
type Redialer struct {
	Batches RedialLedger
	Results *Store
	Client  interface {
		AddPlan(ctx context.Context, req *flashai.AddPlanRequest) (*flashai.AddPlanResponse, error)
		AddAgentPlan(ctx context.Context, req *flashai.AddAgentPlanRequest) (*flashai.AddPlanResponse, error)
		GetBatchPlanList(ctx context.Context, req *flashai.ListRequest) (*flashai.ListResponse, error)
	}
	NXCloud NXCloudClient
	Yccall  YccallClient
	Speech  SpeechClient
	Queue   *asynq.Client
	// Limiter is the fleet's rate limit, waited for before each vendor request;
	// nil: none.
	Limiter RateLimiter
	// Quota is the vendors' quotas (<VENDOR>_QUOTA, <VENDOR>_INFLIGHT), taken by
	// every redial call as by first sends; nil: none.
	Quota *quota.Limiter
	// Gate is asked before a redial of a campaign with a compliance block; nil
	// defers such redials (as the engine defers such parts).
	Gate *compliance.Gate
	// Notify issues the plan's notifyUrl (Callbacks.Issue); nil sends none.
	Notify func(ctx context.Context, m *ledger.Manifest, part int, name string) (string, error)
	// PollIn is the first poll's delay after a redial; zero means DefaultPoll.
	PollIn time.Duration
	// RetryIn is how soon a failed or paused redial is tried again; zero: 30s.
	RetryIn time.Duration
	Log     *logrus.Entry
}

func redialTaskID(id string, part, k int) string {
	return "results:redial:" + id + ":" + strconv.Itoa(part) + ":" + strconv.Itoa(k)
}

func redialField(part, k int) string { return "redial:" + strconv.Itoa(part) + ":" + strconv.Itoa(k) }

func recyclingOf(c campaign.Campaign) *campaign.Recycle {
	if r, ok := c.(interface{ Recycling() *campaign.Recycle }); ok {
		return r.Recycling()
	}
	return nil
}

// schedule queues attempt k of part after the campaign's delay, if its rule asks.
func (rd *Redialer) schedule(ctx context.Context, m *ledger.Manifest, part, k int) error {
	c, err := campaign.Parse(m.Vendor, m.Campaign)
	if err != nil {
		return err
	}
	rc := recyclingOf(c)
	if rc == nil || k > rc.MaxAttempts {
		return nil
	}
	if ctl, err := rd.Batches.Control(ctx, m.ID); err != nil || ctl == ledger.ControlCancelled {
		return err
	}
	if hold, err := rd.Results.held(ctx, m.ID); err != nil || hold == "cancelled" {
		return err
	}
	b, _ := json.Marshal(RedialPayload{Batch: m.ID, Part: part, Attempt: k})
	typ := TypeRedial
	if m.Vendor == registry.FlashAI {
		typ = TypeRedialFlashAI
	}
	// asynq keeps a task's time in whole seconds and runs it once that second has
	// begun: rounded up, a redial never goes out before its delay.
	at := time.Now().Add(rc.Delay()).Truncate(time.Second).Add(time.Second)
	t := asynq.NewTask(typ, b, asynq.TaskID(redialTaskID(m.ID, part, k)), asynq.ProcessAt(at),
		asynq.MaxRetry(queue.PartMaxRetry), asynq.Timeout(5*time.Minute), asynq.Queue(queue.For(m.Vendor)))
	// Noted as due first: status is not complete while a redial waits.
	due := "due:" + strconv.FormatInt(rd.Results.now().Add(rc.Delay()).UnixMilli(), 10)
	if err := rd.Results.rdb.HSetNX(ctx, hashKey(m.ID), redialField(part, k), due).Err(); err != nil {
		return err
	}
	if _, err := rd.Queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("batch %s part %d: schedule redial %d: %w", m.ID, part, k, err)
	}
	return nil
}

// ProcessTask implements asynq.Handler.
func (rd *Redialer) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var pl RedialPayload
	if err := json.Unmarshal(t.Payload(), &pl); err != nil || pl.Attempt < 2 {
		return fmt.Errorf("redial payload: %v: %w", err, asynq.SkipRetry)
	}
	log := rd.log().WithFields(logrus.Fields{"batch": pl.Batch, "part": pl.Part, "attempt": pl.Attempt})
	m, err := rd.Batches.Manifest(ctx, pl.Batch)
	if err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	field := redialField(pl.Part, pl.Attempt)
	state, err := rd.Results.rdb.HGet(ctx, hashKey(m.ID), field).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if strings.HasPrefix(state, redialSent) || strings.HasPrefix(state, "uncertain:") || state == "none" || state == "stopped" {
		return nil // done by an earlier run
	}
	hold, err := rd.Results.held(ctx, m.ID)
	if err != nil {
		return err
	}
	switch ctl, err := rd.Batches.Control(ctx, m.ID); {
	case err != nil:
		return err
	case ctl == ledger.ControlCancelled || hold == "cancelled":
		log.Info("batch cancelled: no redial")
		return rd.Results.rdb.HSet(ctx, hashKey(m.ID), field, "stopped").Err()
	case ctl == ledger.ControlPaused || hold == "paused":
		return &again{after: rd.retryIn(), why: "batch paused by an operator"}
	}
	c, err := campaign.Parse(m.Vendor, m.Campaign)
	if err != nil {
		return fmt.Errorf("campaign: %v: %w", err, asynq.SkipRetry)
	}
	log = log.WithField("vendor", m.Vendor)
	rc := recyclingOf(c)
	if rc == nil {
		return rd.Results.rdb.HSet(ctx, hashKey(m.ID), field, "none").Err()
	}
	recs, err := rd.Batches.LoadPart(ctx, m, pl.Part)
	if err != nil {
		return err
	}
	idx, err := rd.numbers(ctx, m, c, rc, recs, pl, log)
	if err != nil {
		return err
	}
	if len(idx) == 0 {
		log.Info("nothing to redial")
		return rd.Results.rdb.HSet(ctx, hashKey(m.ID), field, "none").Err()
	}
	sel := make([]chunking.Record, len(idx))
	for i, x := range idx {
		sel[i] = recs[x]
	}
	out, err := rd.call(ctx, m, c, pl, sel)
	if errors.Is(err, errStopped) {
		log.Info("batch cancelled before the redial's call: no redial")
		return rd.Results.rdb.HSet(ctx, hashKey(m.ID), field, "stopped").Err()
	}
	if ag := (*again)(nil); errors.As(err, &ag) {
		return err // paused, or a quota or the daily cap is full: not a failure
	}
	if errors.Is(err, errUncertain) {
		// Never resent: the vendor may hold it. The numbers keep their last result.
		log.WithError(err).WithField("vendor_task", out.ref).Error("redial's outcome is unknown; not resent: ask the vendor")
		return rd.Results.rdb.HSet(ctx, hashKey(m.ID), field, "uncertain:"+out.ref).Err()
	}
	if err != nil {
		log.WithError(err).Warn("redial call failed; trying again")
		return &again{after: rd.retryIn(), why: err.Error()}
	}
	refused := matchRefused(m.Region, sel, idx, out.refused, log)
	if err := rd.record(ctx, m, pl, out.ref, idx, refused); err != nil {
		return err
	}
	log.WithFields(logrus.Fields{"numbers": len(idx), "refused": len(refused), "vendor_task": strings.ReplaceAll(out.ref, "\n", ",")}).Info("redialled")
	if m.Vendor != registry.FlashAI {
		return nil // results come by import
	}
	if _, err := rd.Results.deliveredAt(ctx, m, sinceField(pl.Part, pl.Attempt)); err != nil {
		return err
	}
	in := rd.PollIn
	if in <= 0 {
		in = DefaultPoll
	}
	pt, err := newPollTask(m.ID, pl.Part, pl.Attempt, in)
	if err != nil {
		return err
	}
	if _, err := rd.Queue.EnqueueContext(ctx, pt); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return err
	}
	return nil
}

// numbers fixes which records attempt k sends: the ones whose attempt k-1 result
// the rule redials, less those the compliance gate stops. The first run to fix
// them wins (SET NX); a later run (a crash after the fix) reads them back.
func (rd *Redialer) numbers(ctx context.Context, m *ledger.Manifest, c campaign.Campaign, rc *campaign.Recycle, recs []chunking.Record, pl RedialPayload, log *logrus.Entry) ([]int, error) {
	key := sentKey(m.ID, pl.Part, pl.Attempt)
	if b, err := rd.Results.rdb.Get(ctx, key).Bytes(); err == nil {
		return decodeIndexes(b)
	} else if !errors.Is(err, redis.Nil) {
		return nil, err
	}
	prev, err := rd.Results.attemptResults(ctx, m, pl.Part, pl.Attempt-1, len(recs))
	if err != nil {
		return nil, err
	}
	var cand []int
	for _, r := range prev {
		if r.Disposition != Answered && rc.Redials(r.Disposition.String()) {
			cand = append(cand, r.Index)
		}
	}
	if len(cand) == 0 {
		return nil, nil
	}
	if cc := c.Compliance(); cc != nil {
		if rd.Gate == nil {
			return nil, &again{after: time.Minute, why: "campaign has a compliance block and this worker no compliance gate"}
		}
		conv, err := compliance.NewConverter(m.Vendor, m.Region)
		if err != nil {
			return nil, err
		}
		phones := make([]string, len(cand))
		for i, x := range cand {
			if phones[i], err = conv.E164(recs[x].Phone); err != nil {
				return nil, err
			}
		}
		now := rd.Results.now()
		dec, err := rd.Gate.BeforeCall(ctx, m.ID, *cc, phones, now)
		if errors.Is(err, window.ErrNeverOpens) {
			log.WithError(err).Warn("calling window never opens: no redial")
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if !dec.WindowOpensAt.IsZero() {
			return nil, &again{after: dec.WindowOpensAt.Sub(now), why: "outside the campaign's calling window"}
		}
		kept := cand[:0]
		for i, x := range cand {
			if dec.Send(i) {
				kept = append(kept, x)
			}
		}
		if len(kept) < len(phones) {
			log.WithField("stopped", len(phones)-len(kept)).Info("compliance gate kept numbers out of the redial")
		}
		cand = kept
	}
	ok, err := rd.Results.rdb.SetNX(ctx, key, encodeIndexes(cand), retention(m)+DefaultWindow).Result()
	if err != nil {
		return nil, err
	}
	if !ok {
		b, err := rd.Results.rdb.Get(ctx, key).Bytes()
		if err != nil {
			return nil, err
		}
		return decodeIndexes(b)
	}
	return cand, nil
}

// recordScript notes a redial sent, once: the numbers leave their attempt k-1
// result (superseded) and count as redialled; those the vendor refused in the
// call are kept with its reason (their result of attempt k, counted refused).
//
// KEYS[1] results hash, KEYS[2] the attempt's refusals (HASH index -> reason);
// ARGV[1] the redial's field, ARGV[2] "sent:<name>", ARGV[3] numbers sent,
// ARGV[4..6] of them answered, not_answered, not_called before, ARGV[7] the
// refusals' expiry (ms), ARGV[8..] index, reason pairs. Returns 1 when it
// recorded, 0 when an earlier run had.
var recordScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and string.sub(cur, 1, 5) == 'sent:' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'redialled', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'superseded_answered', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'superseded_not_answered', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'superseded_not_called', ARGV[6])
if #ARGV > 7 then
  for i = 8, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
  redis.call('PEXPIRE', KEYS[2], ARGV[7])
  redis.call('HINCRBY', KEYS[1], 'refused', (#ARGV - 7) / 2)
end
return 1
`)

func (rd *Redialer) record(ctx context.Context, m *ledger.Manifest, pl RedialPayload, name string, idx []int, refused map[int]string) error {
	recs, err := rd.Batches.LoadPart(ctx, m, pl.Part)
	if err != nil {
		return err
	}
	prev, err := rd.Results.attemptResults(ctx, m, pl.Part, pl.Attempt-1, len(recs))
	if err != nil {
		return err
	}
	byIdx := map[int]Disposition{}
	for _, r := range prev {
		byIdx[r.Index] = r.Disposition
	}
	var c Counts
	for _, x := range idx {
		c.add(byIdx[x], 1)
	}
	args := []any{redialField(pl.Part, pl.Attempt), redialSent + name, len(idx), c.Answered, c.NotAnswered, c.NotCalled,
		(retention(m) + DefaultWindow).Milliseconds()}
	for _, x := range idx {
		if why, ok := refused[x]; ok {
			args = append(args, x, why)
		}
	}
	return recordScript.Run(ctx, rd.Results.rdb, []string{hashKey(m.ID), refusedKey(m.ID, pl.Part, pl.Attempt)}, args...).Err()
}

func (rd *Redialer) retryIn() time.Duration {
	if rd.RetryIn > 0 {
		return rd.RetryIn
	}
	return 30 * time.Second
}

func (rd *Redialer) log() *logrus.Entry {
	if rd.Log == nil {
		return logrus.NewEntry(logrus.StandardLogger())
	}
	return rd.Log
}

// attemptResults reads part's results of attempt k (every slice of it).
func (s *Store) attemptResults(ctx context.Context, m *ledger.Manifest, part, k, n int) ([]Result, error) {
	sum, err := s.Summary(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, mt := range sum.Slices {
		if mt.Slice.Part != part || mt.Slice.Attempt != k {
			continue
		}
		res, err := s.Get(ctx, m, mt.Slice)
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}

// redialSent reads the records attempt k of part sent, and the plan's name; ok is
// false when attempt k was not sent.
func (s *Store) redialSent(ctx context.Context, id string, part, k int) (idx []int, name string, ok bool, err error) {
	v, err := s.rdb.HGet(ctx, hashKey(id), redialField(part, k)).Result()
	if errors.Is(err, redis.Nil) || (err == nil && !strings.HasPrefix(v, redialSent)) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, err
	}
	b, err := s.rdb.Get(ctx, sentKey(id, part, k)).Bytes()
	if err != nil {
		return nil, "", false, err
	}
	idx, err = decodeIndexes(b)
	return idx, strings.TrimPrefix(v, redialSent), err == nil, err
}

func encodeIndexes(idx []int) []byte {
	b := make([]byte, 0, 2*len(idx))
	prev := 0
	for _, x := range idx {
		b = binary.AppendUvarint(b, uint64(x-prev))
		prev = x
	}
	return b
}

func decodeIndexes(b []byte) ([]int, error) {
	var out []int
	prev := 0
	for len(b) > 0 {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > 1<<31 {
			return nil, fmt.Errorf("%w: redial numbers", ErrCorrupt)
		}
		prev += int(v)
		out = append(out, prev)
		b = b[n:]
	}
	return out, nil
}
