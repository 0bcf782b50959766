package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/chunking"
)

// Outcome is a number that was not delivered: refused by the vendor, failed, or
// uncertain (sent, outcome unknown).
type Outcome struct {
	// Index is the record's position in its part.
	Index  int    `json:"i"`
	Line   int64  `json:"line"`
	Phone  string `json:"phone"`
	State  string `json:"state"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason"`
	// Range is the call the number was in, "lo-hi".
	Range string `json:"range"`
}

// RangeResult is the outcome of one call: how many records the vendor took, and the
// records that it did not, one by one.
type RangeResult struct {
	Range     chunking.Range
	Delivered int
	Outcomes  []Outcome
	// Extra is vendor state to checkpoint with the result (speech task id).
	Extra map[string]string
}

// summary is stored as the value of a range's done field: it lets an operator's
// resolve or retry move exactly these counts.
type summary struct {
	Delivered int `json:"d"`
	Refused   int `json:"r"`
	Failed    int `json:"f"`
	Uncertain int `json:"u"`
}

func (res *RangeResult) summary() summary {
	sm := summary{Delivered: res.Delivered}
	for _, o := range res.Outcomes {
		switch o.State {
		case OutcomeRefused:
			sm.Refused++
		case OutcomeFailed:
			sm.Failed++
		case OutcomeUncertain:
			sm.Uncertain++
		}
	}
	return sm
}

// PartState is what is known of a part's progress.
type PartState struct {
	State string
	// Done maps each finished call to its counts.
	Done map[chunking.Range]summary
	// Inflight lists calls that were started and never recorded: their worker died.
	Inflight  []chunking.Range
	Extra     map[string]string
	Throttles int
	LastError string
}

// DoneRanges lists the ranges with a recorded outcome.
func (ps *PartState) DoneRanges() []chunking.Range {
	out := make([]chunking.Range, 0, len(ps.Done))
	for r := range ps.Done {
		out = append(out, r)
	}
	return out
}

// HasFailed reports whether any recorded call failed.
func (ps *PartState) HasFailed() bool {
	for _, sm := range ps.Done {
		if sm.Failed > 0 {
			return true
		}
	}
	return false
}

// HasUncertain reports whether any recorded call is uncertain.
func (ps *PartState) HasUncertain() bool {
	for _, sm := range ps.Done {
		if sm.Uncertain > 0 {
			return true
		}
	}
	return false
}

// PartState reads part n's state.
func (s *Store) PartState(ctx context.Context, id string, n int) (*PartState, error) {
	h, err := s.rdb.HGetAll(ctx, s.stateKey(id, n)).Result()
	if err != nil {
		return nil, fmt.Errorf("batch %s part %d state: %w", id, n, err)
	}
	ps := &PartState{State: h["state"], Done: map[chunking.Range]summary{}, Extra: map[string]string{}}
	if ps.State == "" {
		ps.State = PartQueued
	}
	for k, v := range h {
		kind, rest, _ := strings.Cut(k, ":")
		switch kind {
		case "done":
			if r, ok := parseRange(rest); ok {
				var sm summary
				_ = json.Unmarshal([]byte(v), &sm)
				ps.Done[r] = sm
			}
		case "inflight":
			if r, ok := parseRange(rest); ok {
				ps.Inflight = append(ps.Inflight, r)
			}
		case "x":
			ps.Extra[rest] = v
		case "throttles":
			ps.Throttles = int(atoi(v))
		case "last_error":
			ps.LastError = v
		}
	}
	return ps, nil
}

// MarkInflight notes that a call over r is about to be sent. If the worker dies
// before RecordRange, the next attempt finds the mark and reconciles instead of
// sending blindly.
func (s *Store) MarkInflight(ctx context.Context, id string, n int, r chunking.Range) error {
	err := inflightScript.Run(ctx, s.rdb, []string{s.stateKey(id, n)}, rangeField("inflight", r), time.Now().UnixMilli()).Err()
	if err != nil {
		return fmt.Errorf("mark part %d %d-%d in flight: %w", n, r.Lo, r.Hi, err)
	}
	return nil
}

// inflightScript marks a range in flight and the part running, unless the part is
// final already (a redelivered task racing the one that settled it): parts_final
// counts final parts, and only finishScript may move a part out of a final state.
var inflightScript = redis.NewScript(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'done' and st ~= 'failed' and st ~= 'cancelled' then
  redis.call('HSET', KEYS[1], 'state', 'running')
end
return 1`)

// ClearInflight drops r's mark without an outcome: used when the call was
// certainly not processed (the vendor answered with an error before acting).
func (s *Store) ClearInflight(ctx context.Context, id string, n int, r chunking.Range) error {
	return s.rdb.HDel(ctx, s.stateKey(id, n), rangeField("inflight", r)).Err()
}

// recordScript sets the range's done field once and, only then, moves the batch
// counters and appends the outcomes: a call recorded twice counts once.
var recordScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[3])
local names = {'delivered', 'refused', 'failed', 'uncertain'}
for i = 1, 4 do
  local n = tonumber(ARGV[3 + i])
  if n ~= 0 then redis.call('HINCRBY', KEYS[2], names[i], n) end
end
local nextra = tonumber(ARGV[8])
for i = 1, nextra do
  redis.call('HSET', KEYS[1], 'x:' .. ARGV[7 + 2 * i], ARGV[8 + 2 * i])
end
for i = 9 + 2 * nextra, #ARGV do
  redis.call('RPUSH', KEYS[3], ARGV[i])
end
return 1`)

// RecordRange records a call's outcome, exactly once. It reports false when the
// range was recorded before.
func (s *Store) RecordRange(ctx context.Context, id string, n int, res RangeResult) (bool, error) {
	if res.Range.Lo < 0 || res.Range.Lo >= res.Range.Hi || res.Delivered < 0 {
		return false, fmt.Errorf("record part %d %d-%d: empty or negative range or count", n, res.Range.Lo, res.Range.Hi)
	}
	for _, o := range res.Outcomes {
		// An unknown state would be listed as an outcome but counted nowhere.
		if o.State != OutcomeRefused && o.State != OutcomeFailed && o.State != OutcomeUncertain {
			return false, fmt.Errorf("record part %d %d-%d: unknown outcome state %q", n, res.Range.Lo, res.Range.Hi, o.State)
		}
	}
	sm := res.summary()
	if sm.Delivered+sm.Refused+sm.Failed+sm.Uncertain != res.Range.Len() {
		return false, fmt.Errorf("range %d-%d: outcomes for %d records, want %d", res.Range.Lo, res.Range.Hi,
			sm.Delivered+sm.Refused+sm.Failed+sm.Uncertain, res.Range.Len())
	}
	args := []any{rangeField("done", res.Range), mustJSON(sm), rangeField("inflight", res.Range),
		sm.Delivered, sm.Refused, sm.Failed, sm.Uncertain, len(res.Extra)}
	for k, v := range res.Extra {
		args = append(args, k, v)
	}
	for _, o := range res.Outcomes {
		o.Range = fmt.Sprintf("%d-%d", res.Range.Lo, res.Range.Hi)
		args = append(args, mustJSON(o))
	}
	keys := []string{s.stateKey(id, n), s.manifestKey(id), s.outcomeKey(id, n)}
	done, err := recordScript.Run(ctx, s.rdb, keys, args...).Int()
	if err == nil && done < 0 {
		// Without the manifest the counters would create a bogus one.
		err = ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("batch %s record part %d %d-%d: %w", id, n, res.Range.Lo, res.Range.Hi, err)
	}
	return done == 1, nil
}

// SetExtra checkpoints vendor state for part n (for example the speech task id).
func (s *Store) SetExtra(ctx context.Context, id string, n int, k, v string) error {
	return s.rdb.HSet(ctx, s.stateKey(id, n), "x:"+k, v).Err()
}

// NoteThrottle counts a throttled attempt of part n and returns the count so far.
func (s *Store) NoteThrottle(ctx context.Context, id string, n int) (int, error) {
	c, err := s.rdb.HIncrBy(ctx, s.stateKey(id, n), "throttles", 1).Result()
	return int(c), err
}

// NoteError keeps the last error of part n for operators (never secrets: the vendor
// clients keep them out of error strings).
func (s *Store) NoteError(ctx context.Context, id string, n int, msg string) error {
	return s.rdb.HSet(ctx, s.stateKey(id, n), "last_error", msg).Err()
}

// finishScript sets a part's state and keeps the count of final parts; it reports
// 1 when this call made the last part final, so the batch finished, 2 when it
// re-opened a finished batch, -1 when the batch does not exist.
var finishScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local prev = redis.call('HGET', KEYS[1], 'state')
redis.call('HSET', KEYS[1], 'state', ARGV[1])
local final = {done = true, failed = true, cancelled = true}
local delta = 0
if final[ARGV[1]] and not final[prev or ''] then delta = 1 end
if final[prev or ''] and not final[ARGV[1]] then delta = -1 end
local n = tonumber(redis.call('HINCRBY', KEYS[2], 'parts_final', delta))
local parts = tonumber(redis.call('HGET', KEYS[2], 'parts'))
local state = redis.call('HGET', KEYS[2], 'state')
if n >= parts and state ~= 'finished' then
  redis.call('HSET', KEYS[2], 'state', 'finished', 'finished_at', ARGV[2])
  return 1
end
if n < parts and state == 'finished' then
  redis.call('HSET', KEYS[2], 'state', 'enqueued')
  redis.call('HDEL', KEYS[2], 'finished_at')
  return 2
end
return 0`)

// SetPartState moves part n to state. It reports true when that finished the batch;
// the caller then announces it (Finish).
func (s *Store) SetPartState(ctx context.Context, id string, n int, state string) (finished bool, err error) {
	switch state {
	case PartQueued, PartRunning, PartDone, PartFailed, PartUncertain, PartCancelled:
	default:
		return false, fmt.Errorf("batch %s part %d: unknown part state %q", id, n, state)
	}
	res, err := finishScript.Run(ctx, s.rdb, []string{s.stateKey(id, n), s.manifestKey(id)},
		state, time.Now().UnixMilli()).Int()
	if err == nil && res < 0 {
		err = ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("batch %s part %d state %s: %w", id, n, state, err)
	}
	if res == 2 {
		// Announce set the retention expiry; a re-opened batch must not expire
		// while its parts run again. The next Announce sets it anew.
		parts, err := s.rdb.HGet(ctx, s.manifestKey(id), "parts").Int()
		if err != nil {
			return false, fmt.Errorf("batch %s reopen: %w", id, err)
		}
		if err := s.eachKey(ctx, id, parts, func(p redis.Pipeliner, k string) { p.Persist(ctx, k) }); err != nil {
			return false, fmt.Errorf("batch %s reopen: %w", id, err)
		}
	}
	return res == 1, nil
}

func (s *Store) finishIfDone(ctx context.Context, id string) (bool, error) {
	ok, err := s.rdb.HSetNX(ctx, s.manifestKey(id), "finished_at", time.Now().UnixMilli()).Result()
	if err != nil || !ok {
		return false, err
	}
	return true, s.rdb.HSet(ctx, s.manifestKey(id), "state", StateFinished).Err()
}

// Event is published on the events stream (and to the campaign's webhook) when a
// batch finishes.
type Event struct {
	Type   string  `json:"type"`
	Status *Status `json:"status"`
}

// Announce publishes batch id's finished event on the stream, sets the retention
// expiry on all its keys, and returns the event for webhooks.
func (s *Store) Announce(ctx context.Context, id string) (*Event, error) {
	st, err := s.Status(ctx, id)
	if err != nil {
		return nil, err
	}
	ev := &Event{Type: "batch.finished", Status: st}
	err = s.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: s.eventsKey(), MaxLen: 100000, Approx: true,
		Values: map[string]any{"type": ev.Type, "batch": id, "vendor": st.Vendor, "status": mustJSON(st)},
	}).Err()
	if err != nil {
		return nil, fmt.Errorf("announce batch %s: %w", id, err)
	}
	return ev, s.expire(ctx, id, st.Parts)
}

func (s *Store) expire(ctx context.Context, id string, parts int) error {
	ret, err := s.rdb.HGet(ctx, s.manifestKey(id), "retention_s").Int64()
	if err != nil || ret <= 0 {
		ret = int64(DefaultRetention / time.Second)
	}
	ttl := time.Duration(ret) * time.Second
	if err := s.eachKey(ctx, id, parts, func(p redis.Pipeliner, k string) { p.Expire(ctx, k, ttl) }); err != nil {
		return fmt.Errorf("expire batch %s: %w", id, err)
	}
	return nil
}

// eachKey pipelines fn over every key of batch id, a thousand at a time.
func (s *Store) eachKey(ctx context.Context, id string, parts int, fn func(p redis.Pipeliner, key string)) error {
	keys := []string{s.manifestKey(id), s.rejectsKey(id)}
	for n := range parts {
		keys = append(keys, s.partKey(id, n), s.stateKey(id, n), s.outcomeKey(id, n))
	}
	for lo := 0; lo < len(keys); lo += 1000 {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys[lo:min(lo+1000, len(keys))] {
				fn(p, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Outcomes calls fn for each number of part n that was not delivered.
func (s *Store) Outcomes(ctx context.Context, id string, n int, fn func(Outcome) error) error {
	items, err := s.rdb.LRange(ctx, s.outcomeKey(id, n), 0, -1).Result()
	if err != nil {
		return fmt.Errorf("batch %s part %d outcomes: %w", id, n, err)
	}
	for _, it := range items {
		var o Outcome
		if err := json.Unmarshal([]byte(it), &o); err != nil {
			return fmt.Errorf("batch %s part %d outcomes: %w", id, n, err)
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// Cancel stops further calls for batch id: workers check before every call.
func (s *Store) Cancel(ctx context.Context, id string) error {
	ok, err := cancelScript.Run(ctx, s.rdb, []string{s.manifestKey(id)}).Int()
	if err == nil && ok == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("cancel batch %s: %w", id, err)
	}
	return nil
}

// cancelScript flags an existing batch: an HSET alone would create a manifest
// holding nothing but the flag, which Status would then report as a batch.
var cancelScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'cancelled', 1)
return 1`)

// Cancelled reports whether batch id was cancelled.
func (s *Store) Cancelled(ctx context.Context, id string) (bool, error) {
	v, err := s.rdb.HGet(ctx, s.manifestKey(id), "cancelled").Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return v == "1", err
}

// reopen removes the recorded outcome of every range of part n whose summary has
// a count of kind (uncertain or failed), moving those numbers back to pending, or
// to delivered when asDelivered. It returns how many numbers moved.
func (s *Store) reopen(ctx context.Context, id string, n int, kind string, asDelivered bool) (int, error) {
	stateKey, outKey, manKey := s.stateKey(id, n), s.outcomeKey(id, n), s.manifestKey(id)
	moved := 0
	txf := func(tx *redis.Tx) error {
		moved = 0
		h, err := tx.HGetAll(ctx, stateKey).Result()
		if err != nil {
			return err
		}
		outs, err := tx.LRange(ctx, outKey, 0, -1).Result()
		if err != nil {
			return err
		}
		reopened := map[string]bool{}
		var fields []string
		delivered := 0
		for k, v := range h {
			rest, ok := strings.CutPrefix(k, "done:")
			if !ok {
				continue
			}
			var sm summary
			if json.Unmarshal([]byte(v), &sm) != nil {
				continue
			}
			count := sm.Uncertain
			if kind == OutcomeFailed {
				count = sm.Failed
			}
			if count == 0 {
				continue
			}
			reopened[rest] = true
			moved += count
			if asDelivered {
				if kind == OutcomeUncertain {
					sm.Delivered += sm.Uncertain
					delivered += sm.Uncertain
					sm.Uncertain = 0
				}
				h[k] = mustJSON(sm)
				continue
			}
			fields = append(fields, k)
			// A range is re-sent whole, so its delivered/refused counts go back to
			// pending too.
			moved += sm.Delivered + sm.Refused + sm.Failed + sm.Uncertain - count
		}
		var keep []any
		for _, it := range outs {
			var o Outcome
			// A resent range drops all its outcomes; a range resolved as delivered
			// drops only the uncertain ones, its refusals stay counted and listed.
			if json.Unmarshal([]byte(it), &o) == nil && reopened[o.Range] && (!asDelivered || o.State == kind) {
				continue
			}
			keep = append(keep, it)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if asDelivered {
				for k := range h {
					if rest, ok := strings.CutPrefix(k, "done:"); ok && reopened[rest] {
						p.HSet(ctx, stateKey, k, h[k])
					}
				}
				p.HIncrBy(ctx, manKey, "uncertain", -int64(delivered))
				p.HIncrBy(ctx, manKey, "delivered", int64(delivered))
			} else {
				for _, f := range fields {
					var sm summary
					_ = json.Unmarshal([]byte(h[f]), &sm)
					p.HDel(ctx, stateKey, f)
					p.HIncrBy(ctx, manKey, "delivered", -int64(sm.Delivered))
					p.HIncrBy(ctx, manKey, "refused", -int64(sm.Refused))
					p.HIncrBy(ctx, manKey, "failed", -int64(sm.Failed))
					p.HIncrBy(ctx, manKey, "uncertain", -int64(sm.Uncertain))
				}
			}
			p.Del(ctx, outKey)
			if len(keep) > 0 {
				p.RPush(ctx, outKey, keep...)
			}
			return nil
		})
		return err
	}
	var err error
	for range 10 {
		// Another writer touched the part between read and write: read again.
		if err = s.rdb.Watch(ctx, txf, stateKey, outKey); !errors.Is(err, redis.TxFailedErr) {
			break
		}
	}
	if err != nil {
		return 0, fmt.Errorf("batch %s part %d reopen %s: %w", id, n, kind, err)
	}
	return moved, nil
}

// ResolveUncertain settles part n's uncertain calls: as delivered (the operator
// checked with the vendor), or back to pending so they are sent again.
func (s *Store) ResolveUncertain(ctx context.Context, id string, n int, delivered bool) (int, error) {
	return s.reopen(ctx, id, n, OutcomeUncertain, delivered)
}

// ReopenFailed moves part n's failed calls back to pending for a retry.
func (s *Store) ReopenFailed(ctx context.Context, id string, n int) (int, error) {
	return s.reopen(ctx, id, n, OutcomeFailed, false)
}

// PartStates returns each part's state, by part number.
func (s *Store) PartStates(ctx context.Context, id string, parts int) ([]string, error) {
	out := make([]string, parts)
	for lo := 0; lo < parts; lo += 1000 {
		cmds := make([]*redis.StringCmd, 0, 1000)
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := lo; i < min(lo+1000, parts); i++ {
				cmds = append(cmds, p.HGet(ctx, s.stateKey(id, i), "state"))
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("batch %s part states: %w", id, err)
		}
		for i, c := range cmds {
			// Pipelined reports only the first error: a missing state (redis.Nil,
			// queued) may hide a real one further on.
			if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
				return nil, fmt.Errorf("batch %s part states: %w", id, err)
			}
			st := c.Val()
			if st == "" {
				st = PartQueued
			}
			out[lo+i] = st
		}
	}
	return out, nil
}

// Status is a batch's account.
type Status struct {
	Batch      string         `json:"batch"`
	Vendor     string         `json:"vendor"`
	State      string         `json:"state"`
	Finished   bool           `json:"finished"`
	Cancelled  bool           `json:"cancelled"`
	Read       int64          `json:"read"`
	Rejected   int64          `json:"rejected"`
	Duplicates int64          `json:"duplicates"`
	Accepted   int64          `json:"accepted"`
	Delivered  int64          `json:"delivered"`
	Refused    int64          `json:"refused"`
	Failed     int64          `json:"failed"`
	Uncertain  int64          `json:"uncertain"`
	Pending    int64          `json:"pending"`
	Parts      int            `json:"parts"`
	PartStates map[string]int `json:"part_states"`
	Created    time.Time      `json:"created"`
	FinishedAt *time.Time     `json:"finished_at,omitempty"`
	Source     string         `json:"source,omitempty"`
}

// Status reads batch id's account. The counters are read in one command, so the
// sum always holds.
func (s *Store) Status(ctx context.Context, id string) (*Status, error) {
	h, err := s.rdb.HGetAll(ctx, s.manifestKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", id, err)
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("batch %s: %w", id, ErrNotFound)
	}
	st := &Status{
		Batch: id, Vendor: h["vendor"], State: h["state"], Read: atoi(h["read"]), Rejected: atoi(h["rejected"]),
		Duplicates: atoi(h["duplicates"]), Accepted: atoi(h["accepted"]), Delivered: atoi(h["delivered"]),
		Refused: atoi(h["refused"]), Failed: atoi(h["failed"]), Uncertain: atoi(h["uncertain"]),
		Parts: int(atoi(h["parts"])), Created: time.UnixMilli(atoi(h["created"])).UTC(),
		Cancelled: h["cancelled"] == "1", Source: h["source"],
	}
	st.Pending = st.Accepted - st.Delivered - st.Refused - st.Failed - st.Uncertain
	st.Finished = st.State == StateFinished
	if v := h["finished_at"]; v != "" {
		t := time.UnixMilli(atoi(v)).UTC()
		st.FinishedAt = &t
	}
	states, err := s.PartStates(ctx, id, st.Parts)
	if err != nil {
		return nil, err
	}
	st.PartStates = map[string]int{}
	for _, ps := range states {
		st.PartStates[ps]++
	}
	return st, nil
}

// List returns the most recent batches' ids, newest first.
func (s *Store) List(ctx context.Context, limit int) ([]string, error) {
	ids, err := s.rdb.ZRevRange(ctx, s.indexKey(), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	return ids, nil
}

// Forget removes id from the index (its keys have expired).
func (s *Store) Forget(ctx context.Context, id string) error {
	return s.rdb.ZRem(ctx, s.indexKey(), id).Err()
}

// ParsePartTaskID returns the batch and part of a task id made by TaskID.
func ParsePartTaskID(taskID string) (string, int, bool) {
	i := strings.LastIndexByte(taskID, ':')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(taskID[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return taskID[:i], n, true
}

// TaskID is the asynq task id of part n of batch id: fixed, so that enqueueing the
// same batch twice is refused by asynq as a conflict.
func TaskID(id string, n int) string { return fmt.Sprintf("%s:%d", id, n) }
