package ledgerstore

import (
	"context"
	"encoding/json"
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
	Index  int           `json:"i"`
	Line   int64         `json:"line"`
	Phone  string        `json:"phone"`
	State  NumberOutcome `json:"state"`
	Code   string        `json:"code,omitempty"`
	Reason string        `json:"reason"`
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
