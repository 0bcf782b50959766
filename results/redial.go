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

	"github.com/dialq/dialq/batch"
	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/compliance/window"
	"github.com/dialq/dialq/jobs"
	"github.com/dialq/dialq/tasks"
	"github.com/dialq/dialq/vendors/flashai"
)

// Redials (campaign "recycle" block), FlashAI only: once a part's attempt k-1 is
// closed, the numbers whose result is in recycle.on are sent again after
// recycle.after as attempt k, in a new FlashAI plan named
// <prefix>_<batch hash>_<part>_r<k>, until recycle.max_attempts.
//
// Exactly once: the redial is one asynq task per part and attempt (task id
// results:redial:<batch>:<part>:<k>); the numbers of attempt k are fixed in Redis
// with SET NX before the call (…:res:<part>:<k>:sent), so two workers agree on them
// and a number is in each attempt at most once; the plan's name is deterministic,
// so a worker that died mid-call resends the same name and FlashAI's 101007 is
// verified with getBatchPlanList, as the first send does; the counters move once
// (a Lua guard). The compliance gate is asked before the numbers are fixed
// (suppression, contact caps counting this attempt, calling windows deferring).
// Pause defers a redial; cancel drops it.

// TypeRedialFlashAI sends one part's attempt again. Stored: never rename.
const TypeRedialFlashAI = "results:flashai:redial"

// RedialPayload names the part and the attempt to send.
type RedialPayload struct {
	Batch   string `json:"batch"`
	Part    int    `json:"part"`
	Attempt int    `json:"attempt"`
}

// Redialer sends redials: the handler of TypeRedialFlashAI.
type Redialer struct {
	Batches *batch.Store
	Results *Store
	Client  interface {
		AddPlan(ctx context.Context, req *flashai.AddPlanRequest) (*flashai.AddPlanResponse, error)
		AddAgentPlan(ctx context.Context, req *flashai.AddAgentPlanRequest) (*flashai.AddPlanResponse, error)
		GetBatchPlanList(ctx context.Context, req *flashai.ListRequest) (*flashai.ListResponse, error)
	}
	Queue *asynq.Client
	// Limiter is the fleet's rate limit, waited for before each vendor request;
	// nil: none.
	Limiter RateLimiter
	// Gate is asked before a redial of a campaign with a compliance block; nil
	// defers such redials (as the engine defers such parts).
	Gate *compliance.Gate
	// Notify issues the plan's notifyUrl (Callbacks.Issue); nil sends none.
	Notify func(ctx context.Context, m *batch.Manifest, part int, name string) (string, error)
	// PollIn is the first poll's delay after a redial; zero means DefaultPoll.
	PollIn time.Duration
	// RetryIn is how soon a failed or paused redial is tried again; zero: 30s.
	RetryIn time.Duration
	Log     *logrus.Entry
}

func redialTaskID(id string, part, k int) string {
	return "results:redial:" + id + ":" + strconv.Itoa(part) + ":" + strconv.Itoa(k)
}

func sentKey(id string, part, k int) string {
	return batch.Tag(id) + ":res:" + strconv.Itoa(part) + ":" + strconv.Itoa(k) + ":sent"
}

func redialField(part, k int) string { return "redial:" + strconv.Itoa(part) + ":" + strconv.Itoa(k) }

// schedule queues attempt k of part after the campaign's delay, if its rule asks.
func (rd *Redialer) schedule(ctx context.Context, m *batch.Manifest, part, k int) error {
	c, err := campaign.Parse(m.Vendor, m.Campaign)
	if err != nil {
		return err
	}
	rc := c.(interface{ Recycling() *campaign.Recycle }).Recycling()
	if rc == nil || k > rc.MaxAttempts {
		return nil
	}
	if ctl, err := rd.Batches.Control(ctx, m.ID); err != nil || ctl == batch.ControlCancelled {
		return err
	}
	if hold, err := rd.Results.held(ctx, m.ID); err != nil || hold == "cancelled" {
		return err
	}
	b, _ := json.Marshal(RedialPayload{Batch: m.ID, Part: part, Attempt: k})
	t := asynq.NewTask(TypeRedialFlashAI, b, asynq.TaskID(redialTaskID(m.ID, part, k)), asynq.ProcessIn(rc.Delay()),
		asynq.MaxRetry(tasks.PartMaxRetry), asynq.Timeout(5*time.Minute), asynq.Queue(tasks.Queue(chunking.FlashAI)))
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
	log := rd.log().WithFields(logrus.Fields{"vendor": chunking.FlashAI, "batch": pl.Batch, "part": pl.Part, "attempt": pl.Attempt})
	m, err := rd.Batches.Manifest(ctx, pl.Batch)
	if err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	field := redialField(pl.Part, pl.Attempt)
	state, err := rd.Results.rdb.HGet(ctx, hashKey(m.ID), field).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if strings.HasPrefix(state, "sent:") || state == "none" || state == "stopped" {
		return nil // done by an earlier run
	}
	hold, err := rd.Results.held(ctx, m.ID)
	if err != nil {
		return err
	}
	switch ctl, err := rd.Batches.Control(ctx, m.ID); {
	case err != nil:
		return err
	case ctl == batch.ControlCancelled || hold == "cancelled":
		log.Info("batch cancelled: no redial")
		return rd.Results.rdb.HSet(ctx, hashKey(m.ID), field, "stopped").Err()
	case ctl == batch.ControlPaused || hold == "paused":
		return &again{after: rd.retryIn(), why: "batch paused by an operator"}
	}
	c, err := campaign.Parse(m.Vendor, m.Campaign)
	if err != nil {
		return fmt.Errorf("campaign: %v: %w", err, asynq.SkipRetry)
	}
	fc := c.(*campaign.FlashAI)
	recs, err := rd.Batches.LoadPart(ctx, m, pl.Part)
	if err != nil {
		return err
	}
	idx, err := rd.numbers(ctx, m, fc, recs, pl, log)
	if err != nil {
		return err
	}
	if len(idx) == 0 {
		log.Info("nothing to redial")
		return rd.Results.rdb.HSet(ctx, hashKey(m.ID), field, "none").Err()
	}
	name := fmt.Sprintf("%s_%s_%d_r%d", fc.BatchNamePrefix, jobs.NameID(m.ID), pl.Part, pl.Attempt)
	sel := make([]chunking.Record, len(idx))
	for i, x := range idx {
		sel[i] = recs[x]
	}
	if err := rd.send(ctx, m, fc, pl.Part, name, sel); err != nil {
		log.WithError(err).Warn("redial call failed; trying again")
		return &again{after: rd.retryIn(), why: err.Error()}
	}
	if err := rd.record(ctx, m, pl, name, idx); err != nil {
		return err
	}
	log.WithFields(logrus.Fields{"numbers": len(idx), "vendor_batch": name}).Info("redialled")
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
func (rd *Redialer) numbers(ctx context.Context, m *batch.Manifest, fc *campaign.FlashAI, recs []chunking.Record, pl RedialPayload, log *logrus.Entry) ([]int, error) {
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
	rc := fc.Recycling()
	var cand []int
	for _, r := range prev {
		if r.Disposition != Answered && rc.Redials(r.Disposition.String()) {
			cand = append(cand, r.Index)
		}
	}
	if len(cand) == 0 {
		return nil, nil
	}
	if cc := fc.Compliance(); cc != nil {
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

// send makes the redial's plan; a 101007 is our earlier attempt only if the plan
// holds every number.
func (rd *Redialer) send(ctx context.Context, m *batch.Manifest, fc *campaign.FlashAI, part int, name string, recs []chunking.Record) error {
	list, err := chunking.EncodeMobileList(recs)
	if err != nil {
		return err
	}
	if rd.Limiter != nil {
		if _, err := rd.Limiter.Wait(ctx, chunking.FlashAI, time.Minute); err != nil {
			return err
		}
	}
	notify := fc.NotifyURL
	if rd.Notify != nil {
		if notify, err = rd.Notify(ctx, m, part, name); err != nil {
			return err
		}
	}
	if a := fc.Agent; a != nil {
		// An agent campaign's redial goes to its agent, as its first send did.
		_, err = rd.Client.AddAgentPlan(ctx, &flashai.AddAgentPlanRequest{
			BatchName: name, AgentGroupID: a.GroupID, AgentID: a.AgentID, AddType: a.AddType,
			CallType: a.CallTypeString(), NotifyURL: notify, MobileList: list,
		})
	} else {
		_, err = rd.Client.AddPlan(ctx, &flashai.AddPlanRequest{
			UserID: fc.UserID, BatchName: name, BotenceID: fc.BotenceID, CallDate: fc.CallDate, CallHours: fc.CallHours,
			Clear: fc.Clear == 1, LineIDs: fc.LineIDs, Recall: fc.Recall == 1, RecallParams: fc.RecallParams,
			NotifyURL: notify, NotifyBatchURL: fc.NotifyBatchURL, MobileList: list,
		})
	}
	if !flashai.IsDuplicateName(err) {
		return err
	}
	held := map[string]bool{}
	for page := 1; ; page++ {
		if rd.Limiter != nil {
			if _, err := rd.Limiter.Wait(ctx, chunking.FlashAI, time.Minute); err != nil {
				return err
			}
		}
		resp, err := rd.Client.GetBatchPlanList(ctx, &flashai.ListRequest{BatchName: name, Page: page, PageNum: flashai.MaxPageNum})
		if err != nil {
			return err
		}
		for _, mb := range resp.Mobiles {
			held[mb.Phone] = true
		}
		if page >= resp.TotalPage || len(resp.Mobiles) == 0 {
			break
		}
	}
	for _, r := range recs {
		if !held[r.Phone] {
			return fmt.Errorf("FlashAI batch name %s is taken by a plan that does not hold this redial's numbers", name)
		}
	}
	return nil
}

// recordScript notes a redial sent, once: the numbers leave their attempt k-1
// result (superseded) and count as redialled.
//
// KEYS[1] results hash; ARGV[1] the redial's field, ARGV[2] "sent:<name>",
// ARGV[3] numbers sent, ARGV[4..6] of them answered, not_answered, not_called
// before. Returns 1 when it recorded, 0 when an earlier run had.
var recordScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and string.sub(cur, 1, 5) == 'sent:' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'redialled', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'superseded_answered', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'superseded_not_answered', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'superseded_not_called', ARGV[6])
return 1
`)

func (rd *Redialer) record(ctx context.Context, m *batch.Manifest, pl RedialPayload, name string, idx []int) error {
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
	return recordScript.Run(ctx, rd.Results.rdb, []string{hashKey(m.ID)}, redialField(pl.Part, pl.Attempt), "sent:"+name,
		len(idx), c.Answered, c.NotAnswered, c.NotCalled).Err()
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
func (s *Store) attemptResults(ctx context.Context, m *batch.Manifest, part, k, n int) ([]Result, error) {
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
	if errors.Is(err, redis.Nil) || (err == nil && !strings.HasPrefix(v, "sent:")) {
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
	return idx, strings.TrimPrefix(v, "sent:"), err == nil, err
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
