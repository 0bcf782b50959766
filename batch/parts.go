package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
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
	Delivered  int `json:"d"`
	Refused    int `json:"r"`
	Failed     int `json:"f"`
	Uncertain  int `json:"u"`
	Suppressed int `json:"s,omitempty"`
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
		case OutcomeSuppressed:
			sm.Suppressed++
		}
	}
	return sm
}

// PartProgress is what is known of a part's progress.
type PartProgress struct {
	State PartState
	// Done maps each finished call to its counts.
	Done map[chunking.Range]summary
	// Inflight lists calls that were started and never recorded: their worker died.
	Inflight  []chunking.Range
	Extra     map[string]string
	Throttles int
	LastError string
	// ResumeAt and WaitReason say when and why a throttled, paused or waiting part
	// goes on.
	ResumeAt   time.Time
	WaitReason string
}

// DoneRanges lists the ranges with a recorded outcome.
func (ps *PartProgress) DoneRanges() []chunking.Range {
	out := make([]chunking.Range, 0, len(ps.Done))
	for r := range ps.Done {
		out = append(out, r)
	}
	return out
}

// HasFailed reports whether any recorded call failed.
func (ps *PartProgress) HasFailed() bool {
	for _, sm := range ps.Done {
		if sm.Failed > 0 {
			return true
		}
	}
	return false
}

// HasUncertain reports whether any recorded call is uncertain.
func (ps *PartProgress) HasUncertain() bool {
	for _, sm := range ps.Done {
		if sm.Uncertain > 0 {
			return true
		}
	}
	return false
}

// Progress reads part n's progress.
func (s *Store) Progress(ctx context.Context, id string, n int) (*PartProgress, error) {
	h, err := s.rdb.HGetAll(ctx, k.state(id, n)).Result()
	if err != nil {
		return nil, fmt.Errorf("batch %s part %d state: %w", id, n, err)
	}
	ps := &PartProgress{State: PartState(h["state"]), Done: map[chunking.Range]summary{}, Extra: map[string]string{},
		LastError: h["last_error"], Throttles: int(atoi(h["throttles"])), WaitReason: h["wait_reason"]}
	if ps.State == "" {
		ps.State = PartQueued
	}
	if v := atoi(h["resume_at"]); v > 0 {
		ps.ResumeAt = time.UnixMilli(v).UTC()
	}
	for key, v := range h {
		kind, rest, _ := strings.Cut(key, ":")
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
		}
	}
	return ps, nil
}

// Refusals of a mark: the call must not start.
var (
	ErrCancelled = errors.New("batch cancelled by an operator")
	ErrPaused    = errors.New("batch paused by an operator")
	// ErrPartFinal means the part was settled by another attempt.
	ErrPartFinal = errors.New("part already settled")
	// ErrInflight means another attempt of the part is calling the vendor over the
	// range.
	ErrInflight = errors.New("another attempt is calling the vendor over this range")
)

// MarkInflight notes, durably, that a call over r is about to be sent. If the worker
// dies before RecordRange, the next attempt finds the mark and reconciles instead of
// sending blindly. It refuses (ErrCancelled, ErrPaused) once an operator has stopped
// the batch: the check and the mark are one step, so no call starts after a cancel.
func (s *Store) MarkInflight(ctx context.Context, id string, n int, r chunking.Range) error {
	var cmd *redis.Cmd
	err := s.confirm.Confirm(ctx, k.state(id, n), func(p redis.Pipeliner) {
		cmd = markScript.Eval(ctx, p, []string{k.manifest(id), k.state(id, n)}, rangeField("inflight", r), s.now().UnixMilli())
	})
	if err != nil && cmd != nil {
		if v, cerr := cmd.Int(); cerr == nil && v == 1 {
			// The mark was written but not confirmed durable: no call is made, so
			// the mark goes, or the next attempt would take it for a call that was.
			_ = s.ClearInflight(context.WithoutCancel(ctx), id, n, r)
		}
	}
	if err == nil {
		err = cmd.Err()
	}
	if err != nil {
		return fmt.Errorf("mark part %d %d-%d in flight: %w", n, r.Lo, r.Hi, err)
	}
	v, _ := cmd.Int()
	return markCode(id, v)
}

// ClearInflight drops r's mark without an outcome: used when the call was
// certainly not processed (the vendor answered with an error before acting).
func (s *Store) ClearInflight(ctx context.Context, id string, n int, r chunking.Range) error {
	return s.rdb.HDel(ctx, k.state(id, n), rangeField("inflight", r)).Err()
}

// RecordRange records a call's outcome, exactly once. It reports false when the
// range, or one overlapping it, was recorded before.
func (s *Store) RecordRange(ctx context.Context, id string, n int, res RangeResult) (bool, error) {
	if res.Range.Lo < 0 || res.Range.Lo >= res.Range.Hi || res.Delivered < 0 {
		return false, fmt.Errorf("record part %d %d-%d: empty or negative range or count", n, res.Range.Lo, res.Range.Hi)
	}
	for _, o := range res.Outcomes {
		// An unknown state would be listed as an outcome but counted nowhere.
		if o.State != OutcomeRefused && o.State != OutcomeFailed && o.State != OutcomeUncertain && o.State != OutcomeSuppressed {
			return false, fmt.Errorf("record part %d %d-%d: unknown outcome state %q", n, res.Range.Lo, res.Range.Hi, o.State)
		}
	}
	sm := res.summary()
	if n := sm.Delivered + sm.Refused + sm.Failed + sm.Uncertain + sm.Suppressed; n != res.Range.Len() {
		return false, fmt.Errorf("range %d-%d: outcomes for %d records, want %d", res.Range.Lo, res.Range.Hi, n, res.Range.Len())
	}
	args := []any{rangeField("done", res.Range), mustJSON(sm), rangeField("inflight", res.Range),
		sm.Delivered, sm.Refused, sm.Failed, sm.Uncertain, sm.Suppressed, len(res.Extra)}
	for k, v := range res.Extra {
		args = append(args, k, v)
	}
	for _, o := range res.Outcomes {
		o.Range = fmt.Sprintf("%d-%d", res.Range.Lo, res.Range.Hi)
		args = append(args, mustJSON(o))
	}
	keys := []string{k.state(id, n), k.manifest(id), k.outcome(id, n)}
	done, err := recordScript.Run(ctx, s.rdb, keys, args...).Int()
	switch {
	case err == nil && done == -2:
		// An overlapping range was recorded (the part was given up while this call
		// was in flight, and its numbers recorded then): they count once.
		return false, nil
	case err == nil && done < 0:
		// Without the manifest the counters would create a bogus one.
		err = ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("batch %s record part %d %d-%d: %w", id, n, res.Range.Lo, res.Range.Hi, err)
	}
	return done == 1, nil
}

// NoteThrottle counts a throttled attempt of part n and returns the count so far.
func (s *Store) NoteThrottle(ctx context.Context, id string, n int) (int, error) {
	c, err := noteScript.Run(ctx, s.rdb, []string{k.manifest(id), k.state(id, n)}, "throttles").Int()
	return c, err
}

// NoteError keeps the last error of part n for operators (never secrets: the vendor
// clients keep them out of error strings).
func (s *Store) NoteError(ctx context.Context, id string, n int, msg string) error {
	return noteScript.Run(ctx, s.rdb, []string{k.manifest(id), k.state(id, n)}, "last_error", msg).Err()
}

// NoteCode keeps the vendor code of part n's last error beside it.
func (s *Store) NoteCode(ctx context.Context, id string, n int, code string) error {
	return s.rdb.HSet(ctx, k.state(id, n), "last_code", code).Err()
}

// Settled is what a part's move did to its batch.
type Settled struct {
	// Finished is true when this move finished the batch; Generation then numbers
	// the finish (its announcement's id).
	Finished   bool
	Generation int64
}

// SetPartState moves part n to state; resumeAt and why say when and why a waiting
// part goes on (zero and "" otherwise). Only package lifecycle calls it.
func (s *Store) SetPartState(ctx context.Context, id string, n int, state PartState, resumeAt time.Time, why string) (Settled, error) {
	if !state.valid() {
		return Settled{}, fmt.Errorf("batch %s part %d: unknown part state %q", id, n, state)
	}
	resume := ""
	if !resumeAt.IsZero() {
		resume = strconv.FormatInt(resumeAt.UnixMilli(), 10)
	}
	res, err := settleScript.Run(ctx, s.rdb, []string{k.state(id, n), k.manifest(id)},
		string(state), s.now().UnixMilli(), resume, why).Int64Slice()
	switch {
	case err == nil && res[0] == -1:
		err = ErrNotFound
	case err == nil && res[0] == -2:
		err = ErrPartFinal
	}
	if err != nil {
		return Settled{}, fmt.Errorf("batch %s part %d state %s: %w", id, n, state, err)
	}
	if res[0] == 2 {
		// The finish set the retention expiry; a re-opened batch must not expire
		// while its parts run again. The next finish sets it anew.
		parts, err := s.rdb.HGet(ctx, k.manifest(id), "parts").Int()
		if err != nil {
			return Settled{}, fmt.Errorf("batch %s reopen: %w", id, err)
		}
		if err := s.eachKey(ctx, id, parts, func(p redis.Pipeliner, key string) { p.Persist(ctx, key) }); err != nil {
			return Settled{}, fmt.Errorf("batch %s reopen: %w", id, err)
		}
	}
	return Settled{Finished: res[0] == 1, Generation: res[1]}, nil
}

// FinishEmpty finishes a batch that has no parts.
func (s *Store) FinishEmpty(ctx context.Context, id string) (Settled, error) {
	gen, err := finishEmptyScript.Run(ctx, s.rdb, []string{k.manifest(id)}, s.now().UnixMilli()).Int64()
	if err == nil && gen < 0 {
		err = s.missing(ctx, id)
	}
	if err != nil {
		return Settled{}, fmt.Errorf("batch %s finish: %w", id, err)
	}
	return Settled{Finished: gen > 0, Generation: gen}, nil
}

// Event is published on the events stream (and to the campaign's webhook) when a
// batch finishes.
type Event struct {
	ID     string  `json:"id"`
	Type   string  `json:"type"`
	Status *Status `json:"status"`
}

// Publish puts ev on the events stream and sets the retention expiry on all of the
// batch's keys, unless generation gen was published before or the batch is no longer
// finished at gen (re-opened since, or finished again): it reports whether it
// published. The stream and the batch live in different slots, so the steps are not
// one: a crash between them publishes again, with the same event id.
func (s *Store) Publish(ctx context.Context, ev *Event, gen int64) (bool, error) {
	id := ev.Status.Batch
	if due, err := s.due(ctx, id, "announced_gen", gen); err != nil || !due {
		return false, err
	}
	err := s.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: k.events(), MaxLen: 100000, Approx: true,
		Values: map[string]any{"id": ev.ID, "type": ev.Type, "batch": id, "vendor": ev.Status.Vendor, "status": mustJSON(ev.Status)},
	}).Err()
	if err != nil {
		return false, fmt.Errorf("announce batch %s: %w", id, err)
	}
	if err := announcedScript.Run(ctx, s.rdb, []string{k.manifest(id)}, "announced_gen", gen).Err(); err != nil {
		return false, fmt.Errorf("announce batch %s: %w", id, err)
	}
	if due, err := s.due(ctx, id, "", gen); err != nil || !due {
		return true, err // re-opened meanwhile: its keys must not expire
	}
	return true, s.expire(ctx, id, ev.Status.Parts)
}

// WebhookDue reports whether finish gen of batch id is still finished and its
// webhook not yet posted.
func (s *Store) WebhookDue(ctx context.Context, id string, gen int64) (bool, error) {
	return s.due(ctx, id, "webhook_gen", gen)
}

// WebhookDone records that finish gen's webhook was posted (or given up on).
func (s *Store) WebhookDone(ctx context.Context, id string, gen int64) error {
	return announcedScript.Run(ctx, s.rdb, []string{k.manifest(id)}, "webhook_gen", gen).Err()
}

// due reports whether batch id is finished at gen and, when field is set, whether
// field is still below gen.
func (s *Store) due(ctx context.Context, id, field string, gen int64) (bool, error) {
	v, err := finishedAtScript.Run(ctx, s.rdb, []string{k.manifest(id)}, gen).Int()
	if err != nil {
		return false, fmt.Errorf("batch %s: %w", id, err)
	}
	if v < 0 {
		return false, s.missing(ctx, id)
	}
	if v == 0 || field == "" {
		return v == 1, nil
	}
	cur, err := s.rdb.HGet(ctx, k.manifest(id), field).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("batch %s: %w", id, err)
	}
	return cur < gen, nil
}

func (s *Store) expire(ctx context.Context, id string, parts int) error {
	ret, err := s.rdb.HGet(ctx, k.manifest(id), "retention_s").Int64()
	if err != nil || ret <= 0 {
		ret = int64(DefaultRetention / time.Second)
	}
	ttl := time.Duration(ret) * time.Second
	if err := s.eachKey(ctx, id, parts, func(p redis.Pipeliner, key string) { p.Expire(ctx, key, ttl) }); err != nil {
		return fmt.Errorf("expire batch %s: %w", id, err)
	}
	return nil
}

// eachKey pipelines fn over every key of batch id, a thousand at a time.
func (s *Store) eachKey(ctx context.Context, id string, parts int, fn func(p redis.Pipeliner, key string)) error {
	keys := []string{k.manifest(id), k.rejects(id)}
	for n := range parts {
		keys = append(keys, k.part(id, n), k.state(id, n), k.outcome(id, n))
	}
	for lo := 0; lo < len(keys); lo += 1000 {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, key := range keys[lo:min(lo+1000, len(keys))] {
				fn(p, key)
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
	items, err := s.rdb.LRange(ctx, k.outcome(id, n), 0, -1).Result()
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

// Control refusals.
var (
	ErrFinished         = errors.New("batch has finished")
	ErrAlreadyCancelled = errors.New("batch is cancelled")
)

// SetControl sets (or, with ControlNone, clears) an operator's hold on batch id. It
// reports false when the batch was already so.
func (s *Store) SetControl(ctx context.Context, id string, c Control) (bool, error) {
	v, err := controlScript.Run(ctx, s.rdb, []string{k.manifest(id)}, string(c)).Int()
	if err != nil {
		return false, fmt.Errorf("batch %s control: %w", id, err)
	}
	switch v {
	case -1:
		return false, s.missing(ctx, id)
	case -2:
		return false, fmt.Errorf("batch %s: %w", id, ErrFinished)
	case -3:
		return false, fmt.Errorf("batch %s: %w", id, ErrAlreadyCancelled)
	}
	return v == 1, nil
}

// Control reads batch id's operator hold.
func (s *Store) Control(ctx context.Context, id string) (Control, error) {
	v, err := s.rdb.HGet(ctx, k.manifest(id), "control").Result()
	if errors.Is(err, redis.Nil) {
		return ControlNone, nil
	}
	return Control(v), err
}

// reopen removes the recorded outcome of every range of part n whose summary has
// a count of kind (uncertain or failed), moving those numbers back to pending, or
// to delivered when asDelivered. It returns how many numbers moved.
func (s *Store) reopen(ctx context.Context, id string, n int, kind string, asDelivered bool) (int, error) {
	stateKey, outKey, manKey := k.state(id, n), k.outcome(id, n), k.manifest(id)
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
			moved += sm.Delivered + sm.Refused + sm.Failed + sm.Uncertain + sm.Suppressed - count
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
					p.HIncrBy(ctx, manKey, "suppressed_late", -int64(sm.Suppressed))
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

// PartStatus is one part's state as operators see it.
type PartStatus struct {
	Part  int       `json:"part"`
	State PartState `json:"state"`
	// ResumeAt is when a throttled, paused or waiting part goes on, and WaitReason why it waits.
	ResumeAt   *time.Time `json:"resume_at,omitempty"`
	WaitReason string     `json:"wait_reason,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	LastCode   string     `json:"last_code,omitempty"`
}

// Parts returns each part's status, by part number.
func (s *Store) Parts(ctx context.Context, id string, parts int) ([]PartStatus, error) {
	out := make([]PartStatus, 0, parts)
	for lo := 0; lo < parts; lo += 1000 {
		var cmds []*redis.SliceCmd
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			cmds = queuePartReads(ctx, p, id, lo, min(lo+1000, parts))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("batch %s part states: %w", id, err)
		}
		out = append(out, partStatuses(lo, cmds)...)
	}
	return out, nil
}

func queuePartReads(ctx context.Context, p redis.Pipeliner, id string, lo, hi int) []*redis.SliceCmd {
	cmds := make([]*redis.SliceCmd, 0, hi-lo)
	for i := lo; i < hi; i++ {
		cmds = append(cmds, p.HMGet(ctx, k.state(id, i), "state", "resume_at", "wait_reason", "last_error", "last_code"))
	}
	return cmds
}

func partStatuses(lo int, cmds []*redis.SliceCmd) []PartStatus {
	out := make([]PartStatus, len(cmds))
	for i, c := range cmds {
		v := c.Val()
		str := func(j int) string { s, _ := v[j].(string); return s }
		ps := PartStatus{Part: lo + i, State: PartState(str(0)), WaitReason: str(2), LastError: str(3), LastCode: str(4)}
		if ps.State == "" {
			ps.State = PartQueued
		}
		if ms := atoi(str(1)); ms > 0 {
			t := time.UnixMilli(ms).UTC()
			ps.ResumeAt = &t
		}
		out[i] = ps
	}
	return out
}

// Status is a batch's account.
type Status struct {
	Batch      string  `json:"batch"`
	Vendor     string  `json:"vendor"`
	State      State   `json:"state"`
	Control    Control `json:"control,omitempty"`
	Finished   bool    `json:"finished"`
	Cancelled  bool    `json:"cancelled"`
	Paused     bool    `json:"paused"`
	Read       int64   `json:"read"`
	Rejected   int64   `json:"rejected"`
	Duplicates int64   `json:"duplicates"`
	Suppressed int64   `json:"suppressed"`
	Accepted   int64   `json:"accepted"`
	Delivered  int64   `json:"delivered"`
	Refused    int64   `json:"refused"`
	Failed     int64   `json:"failed"`
	Uncertain  int64   `json:"uncertain"`
	Pending    int64   `json:"pending"`
	Parts      int     `json:"parts"`
	// PartStates counts parts by state.
	PartStates map[PartState]int `json:"part_states"`
	// Waiting lists the parts that wait (throttled, paused, outside the window) and
	// until when; Problems the parts with a last error.
	Waiting []PartStatus `json:"waiting,omitempty"`
	// UncertainParts lists the parts that wait for an operator (up to 1,000), with
	// the vendor tasks to ask about.
	UncertainParts []UncertainPart `json:"uncertain_parts,omitempty"`
	Created        time.Time       `json:"created"`
	FinishedAt     *time.Time      `json:"finished_at,omitempty"`
	Source         string          `json:"source,omitempty"`
}

// Status reads batch id's account: the manifest and every part's state in one
// transaction (one slot), so the sum always holds and the parts agree with the
// batch's state.
func (s *Store) Status(ctx context.Context, id string) (*Status, error) {
	nparts, err := s.rdb.HGet(ctx, k.manifest(id), "parts").Int()
	if errors.Is(err, redis.Nil) {
		return nil, s.missing(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", id, err)
	}
	var man *redis.MapStringStringCmd
	var partCmds []*redis.SliceCmd
	err = s.readTx(ctx, func(p redis.Pipeliner) {
		man = p.HGetAll(ctx, k.manifest(id))
		partCmds = queuePartReads(ctx, p, id, 0, nparts)
	})
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", id, err)
	}
	h := man.Val()
	if len(h) == 0 {
		return nil, s.missing(ctx, id)
	}
	st := &Status{
		Batch: id, Vendor: h["vendor"], State: State(h["state"]), Control: Control(h["control"]),
		Read: atoi(h["read"]), Rejected: atoi(h["rejected"]), Duplicates: atoi(h["duplicates"]),
		Suppressed: atoi(h["suppressed"]), Accepted: atoi(h["accepted"]), Delivered: atoi(h["delivered"]),
		Refused: atoi(h["refused"]), Failed: atoi(h["failed"]), Uncertain: atoi(h["uncertain"]),
		Parts: int(atoi(h["parts"])), Created: time.UnixMilli(atoi(h["created"])).UTC(), Source: h["source"],
	}
	// Suppressed counts the numbers the gate left out at enqueue (not accepted) and
	// at the worker, right before their call (accepted, then suppressed).
	late := atoi(h["suppressed_late"])
	st.Suppressed += late
	st.Pending = Pending(st.Accepted, st.Delivered, st.Refused, st.Failed, st.Uncertain, late)
	st.Finished = st.State == StateFinished
	st.Cancelled = st.Control == ControlCancelled
	st.Paused = st.Control == ControlPaused
	if !st.Finished {
		switch st.Control {
		case ControlCancelled:
			st.State = StateCancelled
		case ControlPaused:
			st.State = StatePaused
		}
	}
	if v := h["finished_at"]; v != "" {
		t := time.UnixMilli(atoi(v)).UTC()
		st.FinishedAt = &t
	}
	st.PartStates = map[PartState]int{}
	parts := partStatuses(0, partCmds)
	for _, ps := range parts {
		st.PartStates[ps.State]++
		if ps.ResumeAt != nil && !ps.State.Final() {
			st.Waiting = append(st.Waiting, ps)
		}
	}
	if st.PartStates[PartUncertain] > 0 {
		if st.UncertainParts, err = s.uncertainParts(ctx, id, parts); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// NoteRepeat counts how often the call over r was refused with the same error in a
// row, and returns the count: a different error starts the count again.
func (s *Store) NoteRepeat(ctx context.Context, id string, n int, r chunking.Range, errKey string) (int, error) {
	v, err := repeatScript.Run(ctx, s.rdb, []string{k.state(id, n)}, rangeField("repeat", r), errKey).Int()
	if err != nil {
		return 0, fmt.Errorf("batch %s part %d repeat: %w", id, n, err)
	}
	return v, nil
}

// VendorTasks lists the vendor tasks a batch made (FlashAI batch names, Yccall task
// ids, …), from the checkpoints its parts recorded.
func (s *Store) VendorTasks(ctx context.Context, m *Manifest) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for n := range m.Parts {
		ps, err := s.Progress(ctx, m.ID, n)
		if err != nil {
			return nil, err
		}
		for key, v := range ps.Extra {
			if _, ok := ParseRangeField(PrefixTask, key); ok && v != "" && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Finish is where a batch stands with its announcements.
type Finish struct {
	Finished bool
	// Generation is the last finish; Announced the last one published.
	Generation, Announced int64
}

// FinishOf reads batch id's finish and announcement generations.
func (s *Store) FinishOf(ctx context.Context, id string) (Finish, error) {
	h, err := s.rdb.HMGet(ctx, k.manifest(id), "state", "finish_gen", "announced_gen").Result()
	if err != nil {
		return Finish{}, fmt.Errorf("batch %s: %w", id, err)
	}
	if h[0] == nil {
		return Finish{}, s.missing(ctx, id)
	}
	str := func(v any) string { s, _ := v.(string); return s }
	return Finish{Finished: str(h[0]) == string(StateFinished), Generation: atoi(str(h[1])), Announced: atoi(str(h[2]))}, nil
}

// NoteFailure counts a failed attempt of part n and returns the count so far: the
// part's failure budget is kept here, not in asynq's retry count, which deferrals
// (pauses, rate-limit waits) do not move but which archives a task unsettled when
// it runs out.
func (s *Store) NoteFailure(ctx context.Context, id string, n int) (int, error) {
	c, err := noteScript.Run(ctx, s.rdb, []string{k.manifest(id), k.state(id, n)}, "failures").Int()
	return c, err
}
