package ledgerstore

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/chunking"
)

// rr is the result of a call starting at record lo, one letter a record:
// d delivered, r refused, f failed, u uncertain, s suppressed by the gate.
func rr(lo int, outcomes string) RangeResult {
	res := RangeResult{Range: chunking.Range{Lo: lo, Hi: lo + len(outcomes)}}
	for i, c := range outcomes {
		state := map[rune]NumberOutcome{'r': OutcomeRefused, 'f': OutcomeFailed, 'u': OutcomeUncertain, 's': OutcomeSuppressed}[c]
		if state == "" {
			res.Delivered++
			continue
		}
		res.Outcomes = append(res.Outcomes, Outcome{Index: lo + i, Line: int64(lo + i + 2),
			Phone: fmt.Sprintf("1380000%04d", lo+i), State: state, Code: "c" + string(c), Reason: "because"})
	}
	return res
}

func (f *fixture) record(t *testing.T, id string, n int, res RangeResult) bool {
	t.Helper()
	ok, err := f.s.RecordRange(f.ctx, id, n, res)
	if err != nil {
		t.Fatalf("RecordRange(%d, %d-%d): %v", n, res.Range.Lo, res.Range.Hi, err)
	}
	return ok
}

// outcomes lists part n's outcomes as "index:state@range".
func (f *fixture) outcomes(t *testing.T, id string, n int) []string {
	t.Helper()
	var out []string
	err := f.s.Outcomes(f.ctx, id, n, func(o Outcome) error {
		out = append(out, fmt.Sprintf("%d:%s@%s", o.Index, o.State, o.Range))
		return nil
	})
	if err != nil {
		t.Fatalf("Outcomes(%d): %v", n, err)
	}
	return out
}

func counts(st *Status) summary {
	return summary{Delivered: int(st.Delivered), Refused: int(st.Refused), Failed: int(st.Failed), Uncertain: int(st.Uncertain)}
}

var allowSummary = cmp.AllowUnexported(summary{})

func TestRecordRange(t *testing.T) {
	tests := []struct {
		name     string
		res      RangeResult
		want     summary
		outcomes []string
		extra    map[string]string
		err      string
	}{
		{name: "all delivered", res: rr(0, "ddddd"), want: summary{Delivered: 5}},
		{name: "every outcome", res: rr(2, "drfud"), want: summary{Delivered: 2, Refused: 1, Failed: 1, Uncertain: 1},
			outcomes: []string{"3:refused@2-7", "4:failed@2-7", "5:uncertain@2-7"}},
		{name: "with checkpoint", res: func() RangeResult {
			r := rr(0, "dr")
			r.Extra = map[string]string{"task:0-2": "T1", "cursor": "2"}
			return r
		}(), want: summary{Delivered: 1, Refused: 1}, outcomes: []string{"1:refused@0-2"},
			extra: map[string]string{"task:0-2": "T1", "cursor": "2"}},
		{name: "too few outcomes", res: RangeResult{Range: chunking.Range{Lo: 0, Hi: 5}, Delivered: 3},
			err: "outcomes for 3 records, want 5"},
		{name: "too many outcomes", res: func() RangeResult { r := rr(0, "dddu"); r.Range.Hi = 3; return r }(),
			err: "outcomes for 4 records, want 3"},
		{name: "empty range", res: RangeResult{Range: chunking.Range{Lo: 4, Hi: 4}}, err: "empty or negative"},
		{name: "negative delivered", res: func() RangeResult { r := rr(0, "ffd"); r.Delivered = -1; return r }(),
			err: "empty or negative"},
		{name: "unknown outcome state", res: func() RangeResult { r := rr(0, "dr"); r.Outcomes[0].State = "lost"; return r }(),
			err: `unknown outcome state "lost"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			f.newBatch(t, "b1", 10)
			if err := f.s.MarkInflight(f.ctx, "b1", 0, tt.res.Range); err != nil {
				t.Fatal(err)
			}
			ok, err := f.s.RecordRange(f.ctx, "b1", 0, tt.res)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("RecordRange error = %v; want %q", err, tt.err)
				}
				h := f.db.Client.HGetAll(f.ctx, k.state("b1", 0)).Val()
				if h[rangeField("done", tt.res.Range)] != "" || h[rangeField("inflight", tt.res.Range)] == "" {
					t.Errorf("a refused record wrote: state %v", h)
				}
				if st := f.checkLedger(t, "b1"); counts(st) != (summary{}) {
					t.Errorf("a refused record moved counts: %+v", counts(st))
				}
				return
			}
			if err != nil || !ok {
				t.Fatalf("RecordRange = %v, %v; want true", ok, err)
			}
			check := func(when string) {
				t.Helper()
				if diff := cmp.Diff(tt.want, counts(f.checkLedger(t, "b1")), allowSummary); diff != "" {
					t.Errorf("%s: counts (-want +got):\n%s", when, diff)
				}
				if diff := cmp.Diff(tt.outcomes, f.outcomes(t, "b1", 0)); diff != "" {
					t.Errorf("%s: outcomes (-want +got):\n%s", when, diff)
				}
				ps, err := f.s.Progress(f.ctx, "b1", 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(ps.Inflight) != 0 || ps.State != PartRunning {
					t.Errorf("%s: inflight %v state %s; want none, running", when, ps.Inflight, ps.State)
				}
				wantDone := map[chunking.Range]summary{tt.res.Range: tt.want}
				if diff := cmp.Diff(wantDone, ps.Done, allowSummary); diff != "" {
					t.Errorf("%s: done (-want +got):\n%s", when, diff)
				}
				wantExtra := tt.extra
				if wantExtra == nil {
					wantExtra = map[string]string{}
				}
				if diff := cmp.Diff(wantExtra, ps.Extra); diff != "" {
					t.Errorf("%s: extra (-want +got):\n%s", when, diff)
				}
			}
			check("first record")
			// The same call recorded again, even with other results, counts once.
			again := rr(tt.res.Range.Lo, strings.Repeat("u", tt.res.Range.Len()))
			again.Extra = map[string]string{"cursor": "other"}
			if ok, err := f.s.RecordRange(f.ctx, "b1", 0, again); err != nil || ok {
				t.Fatalf("second RecordRange = %v, %v; want false, nil", ok, err)
			}
			check("second record")
		})
	}
}

// TestLedger runs a batch's life through every operation and checks after each
// step that the account adds up.
func TestLedger(t *testing.T) {
	f := setup(t)
	m := manifest("b1", 2, 10, 10, 5)
	if _, err := f.stage(t, []int{10, 10, 5}, 2).Commit(f.ctx, m); err != nil {
		t.Fatal(err)
	}
	// gen is the finish generation the move reports, 0 when it does not finish.
	setState := func(n int, state PartState, gen int64) func() error {
		return func() error {
			s, err := f.s.SetPartState(f.ctx, "b1", n, state, time.Time{}, "")
			if want := (Settled{Finished: gen > 0, Generation: gen}); err == nil && s != want {
				err = fmt.Errorf("settled = %+v; want %+v", s, want)
			}
			return err
		}
	}
	record := func(n int, res RangeResult) func() error {
		return func() error {
			ok, err := f.s.RecordRange(f.ctx, "b1", n, res)
			if err == nil && !ok {
				err = errors.New("not recorded")
			}
			return err
		}
	}
	reopen := func(fn func() (int, error), want int) func() error {
		return func() error {
			moved, err := fn()
			if err == nil && moved != want {
				err = fmt.Errorf("moved %d; want %d", moved, want)
			}
			return err
		}
	}
	steps := []struct {
		name string
		do   func() error
		want summary
	}{
		{"mark in flight", func() error { return f.s.MarkInflight(f.ctx, "b1", 0, chunking.Range{Lo: 0, Hi: 5}) }, summary{}},
		{"p0 first call", record(0, rr(0, "ddrdd")), summary{Delivered: 4, Refused: 1}},
		{"p0 second call fails", record(0, rr(5, "fffff")), summary{Delivered: 4, Refused: 1, Failed: 5}},
		{"p0 failed", setState(0, PartFailed, 0), summary{Delivered: 4, Refused: 1, Failed: 5}},
		{"p1 uncertain call", record(1, rr(0, "uuuuuuuuuu")), summary{Delivered: 4, Refused: 1, Failed: 5, Uncertain: 10}},
		{"p1 uncertain", setState(1, PartUncertain, 0), summary{Delivered: 4, Refused: 1, Failed: 5, Uncertain: 10}},
		{"p2 mixed call", record(2, rr(0, "drdud")), summary{Delivered: 7, Refused: 2, Failed: 5, Uncertain: 11}},
		{"p2 uncertain", setState(2, PartUncertain, 0), summary{Delivered: 7, Refused: 2, Failed: 5, Uncertain: 11}},
		{"cancel", func() error { _, err := f.s.SetControl(f.ctx, "b1", ControlCancelled); return err }, summary{Delivered: 7, Refused: 2, Failed: 5, Uncertain: 11}},
		{"p1 resend", reopen(func() (int, error) { return f.s.ResolveUncertain(f.ctx, "b1", 1, false) }, 10),
			summary{Delivered: 7, Refused: 2, Failed: 5, Uncertain: 1}},
		{"p1 queued", setState(1, PartQueued, 0), summary{Delivered: 7, Refused: 2, Failed: 5, Uncertain: 1}},
		{"p1 resent", record(1, rr(0, "dddddddddd")), summary{Delivered: 17, Refused: 2, Failed: 5, Uncertain: 1}},
		{"p1 done", setState(1, PartDone, 0), summary{Delivered: 17, Refused: 2, Failed: 5, Uncertain: 1}},
		{"p2 resolved delivered", reopen(func() (int, error) { return f.s.ResolveUncertain(f.ctx, "b1", 2, true) }, 1),
			summary{Delivered: 18, Refused: 2, Failed: 5}},
		{"p2 done finishes", setState(2, PartDone, 1), summary{Delivered: 18, Refused: 2, Failed: 5}},
		{"publish", func() error { f.publish(t, "b1", 1); return nil }, summary{Delivered: 18, Refused: 2, Failed: 5}},
		{"p0 retry", reopen(func() (int, error) { return f.s.ReopenFailed(f.ctx, "b1", 0) }, 5),
			summary{Delivered: 18, Refused: 2}},
		{"p0 queued re-opens", setState(0, PartQueued, 0), summary{Delivered: 18, Refused: 2}},
		{"p0 retried", record(0, rr(5, "ddddd")), summary{Delivered: 23, Refused: 2}},
		{"p0 done finishes again", setState(0, PartDone, 2), summary{Delivered: 23, Refused: 2}},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		st := f.checkLedger(t, "b1")
		if diff := cmp.Diff(step.want, counts(st), allowSummary); diff != "" {
			t.Fatalf("%s: counts (-want +got):\n%s", step.name, diff)
		}
	}
	st := f.checkLedger(t, "b1")
	if !st.Finished || st.State != StateFinished || st.Pending != 0 || st.Read != 27 || !st.Cancelled || st.PartStates[PartDone] != 3 {
		t.Errorf("final Status = %+v", st)
	}
}

func TestRecordRangeConcurrent(t *testing.T) {
	f := setup(t)
	const parts, size, call, workers = 4, 100, 10, 16
	f.newBatch(t, "b1", size, size, size, size)
	// Every call of every part, each call's outcome fixed by its position.
	type job struct {
		part int
		res  RangeResult
	}
	var jobs []job
	var want summary
	for p := range parts {
		for lo := 0; lo < size; lo += call {
			outs := strings.Repeat("d", call)
			switch (p*size + lo) / call % 4 {
			case 1:
				outs = "r" + outs[1:]
			case 2:
				outs = "ff" + outs[2:]
			case 3:
				outs = "uuu" + outs[3:]
			}
			res := rr(lo, outs)
			sm := res.summary()
			want.Delivered += sm.Delivered
			want.Refused += sm.Refused
			want.Failed += sm.Failed
			want.Uncertain += sm.Uncertain
			jobs = append(jobs, job{p, res})
		}
	}
	// Each worker records every call, in its own order: each call counts once.
	var recorded atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range jobs {
				j := jobs[(i+w*7)%len(jobs)]
				ok, err := f.s.RecordRange(f.ctx, "b1", j.part, j.res)
				if err != nil {
					t.Errorf("RecordRange: %v", err)
					return
				}
				if ok {
					recorded.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := recorded.Load(); n != int64(len(jobs)) {
		t.Errorf("%d RecordRange calls reported true; want %d, one per call", n, len(jobs))
	}
	st := f.checkLedger(t, "b1")
	if diff := cmp.Diff(want, counts(st), allowSummary); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if st.Pending != 0 {
		t.Errorf("pending = %d; want 0", st.Pending)
	}
}

func TestSetPartState(t *testing.T) {
	type step struct {
		part  int
		state PartState // "" records the part's one number as delivered
		gen   int64     // the finish generation SetPartState reports, 0 none
		err   string
	}
	tests := []struct {
		name  string
		parts int
		// unrecorded parts keep their one number pending until a step records it.
		unrecorded []int
		steps      []step
		want       bool // the batch is finished at the end
	}{
		{"last final part finishes", 2, nil, []step{{0, PartDone, 0, ""}, {1, PartDone, 1, ""}}, true},
		{"failed and cancelled are final", 3, nil,
			[]step{{0, PartFailed, 0, ""}, {1, PartCancelled, 0, ""}, {2, PartDone, 1, ""}}, true},
		{"uncertain is not final", 2, nil, []step{{0, PartDone, 0, ""}, {1, PartUncertain, 0, ""}}, false},
		{"running is not final", 1, nil, []step{{0, PartRunning, 0, ""}}, false},
		{"waiting states are not final", 3, nil,
			[]step{{0, PartThrottled, 0, ""}, {1, PartPaused, 0, ""}, {2, PartWaiting, 0, ""}}, false},
		{"a part final twice counts once", 2, nil,
			[]step{{0, PartDone, 0, ""}, {0, PartDone, 0, ""}, {0, PartFailed, 0, ""}, {1, PartDone, 1, ""}}, true},
		{"finished once only", 1, nil, []step{{0, PartDone, 1, ""}, {0, PartDone, 0, ""}, {0, PartFailed, 0, ""}}, true},
		{"re-opening a failed part finishes again", 2, nil, []step{{0, PartDone, 0, ""}, {1, PartFailed, 1, ""},
			{1, PartQueued, 0, ""}, {1, PartRunning, 0, ""}, {1, PartDone, 2, ""}}, true},
		{"each re-open takes the next generation", 1, nil, []step{{0, PartDone, 1, ""}, {0, PartQueued, 0, ""},
			{0, PartDone, 2, ""}, {0, PartUncertain, 0, ""}, {0, PartDone, 3, ""}}, true},
		{"re-opened and left open", 1, nil, []step{{0, PartFailed, 1, ""}, {0, PartUncertain, 0, ""}}, false},
		// Every part final is not enough: a number still pending keeps the batch open.
		{"final parts with a number pending", 2, []int{1}, []step{{0, PartDone, 0, ""}, {1, PartDone, 0, ""}}, false},
		{"finishes once the pending number is recorded", 2, []int{1},
			[]step{{0, PartDone, 0, ""}, {1, PartDone, 0, ""}, {1, "", 0, ""}, {1, PartDone, 1, ""}}, true},
		{"unknown state", 1, nil, []step{{0, "finished", 0, `unknown part state "finished"`}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			sizes := make([]int, tt.parts)
			for i := range sizes {
				sizes[i] = 1
			}
			f.newBatch(t, "b1", sizes...)
			for p := range tt.parts {
				if !slices.Contains(tt.unrecorded, p) {
					f.record(t, "b1", p, rr(0, "d"))
				}
			}
			for i, s := range tt.steps {
				if s.state == "" {
					f.record(t, "b1", s.part, rr(0, "d"))
					continue
				}
				got, err := f.s.SetPartState(f.ctx, "b1", s.part, s.state, time.Time{}, "")
				if s.err != "" {
					if err == nil || !strings.Contains(err.Error(), s.err) {
						t.Fatalf("step %d: SetPartState(%d, %s) error = %v; want %q", i, s.part, s.state, err, s.err)
					}
					continue
				}
				if want := (Settled{Finished: s.gen > 0, Generation: s.gen}); err != nil || got != want {
					t.Fatalf("step %d: SetPartState(%d, %s) = %+v, %v; want %+v", i, s.part, s.state, got, err, want)
				}
				if ps, _ := f.s.Progress(f.ctx, "b1", s.part); ps.State != s.state {
					t.Errorf("step %d: part %d is %s; want %s", i, s.part, ps.State, s.state)
				}
			}
			st := f.checkLedger(t, "b1")
			if st.Finished != tt.want || (st.State == StateFinished) != tt.want || (st.FinishedAt != nil) != tt.want {
				t.Errorf("finished = %v, state %s, finished_at %v; want finished %v", st.Finished, st.State, st.FinishedAt, tt.want)
			}
		})
	}
}

// Many workers settling parts at once: exactly one of them finishes the batch.
func TestSetPartStateConcurrent(t *testing.T) {
	f := setup(t)
	const parts, perPart = 20, 3
	sizes := make([]int, parts)
	for i := range sizes {
		sizes[i] = 1
	}
	f.newBatch(t, "b1", sizes...)
	for p := range parts {
		f.record(t, "b1", p, rr(0, "d"))
	}
	var finished atomic.Int64
	var gens sync.Map
	var wg sync.WaitGroup
	for p := range parts {
		for c := range perPart {
			wg.Go(func() {
				state := []PartState{PartDone, PartFailed, PartCancelled}[(p+c)%3]
				s, err := f.s.SetPartState(f.ctx, "b1", p, state, time.Time{}, "")
				if err != nil {
					t.Errorf("SetPartState: %v", err)
				}
				if s.Finished {
					finished.Add(1)
					gens.Store(s.Generation, true)
				}
			})
		}
	}
	wg.Wait()
	if n := finished.Load(); n != 1 {
		t.Errorf("%d callers were told they finished the batch; want 1", n)
	}
	if _, ok := gens.Load(int64(1)); !ok {
		t.Errorf("the finish is not generation 1")
	}
	if st := f.checkLedger(t, "b1"); !st.Finished {
		t.Errorf("Status = %+v; want finished", st)
	}
	if n, _ := f.db.Client.HGet(f.ctx, k.manifest("b1"), "parts_final").Int(); n != parts {
		t.Errorf("parts_final = %d; want %d", n, parts)
	}
}

func TestMarkInflight(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 10, 10)
	r1, r2 := chunking.Range{Lo: 0, Hi: 5}, chunking.Range{Lo: 5, Hi: 10}
	for _, r := range []chunking.Range{r1, r2} {
		if err := f.s.MarkInflight(f.ctx, "b1", 0, r); err != nil {
			t.Fatal(err)
		}
	}
	ps, _ := f.s.Progress(f.ctx, "b1", 0)
	slices.SortFunc(ps.Inflight, func(a, b chunking.Range) int { return a.Lo - b.Lo })
	if ps.State != PartRunning || !cmp.Equal(ps.Inflight, []chunking.Range{r1, r2}) {
		t.Errorf("after MarkInflight: state %s, inflight %v", ps.State, ps.Inflight)
	}
	if err := f.s.ClearInflight(f.ctx, "b1", 0, r1); err != nil {
		t.Fatal(err)
	}
	if ps, _ := f.s.Progress(f.ctx, "b1", 0); !cmp.Equal(ps.Inflight, []chunking.Range{r2}) || len(ps.Done) != 0 {
		t.Errorf("after ClearInflight: inflight %v, done %v", ps.Inflight, ps.Done)
	}

	// A redelivered task marking a call on a part another worker settled is
	// refused, and must not make the part count as final twice.
	if s := f.settle(t, "b1", 0, PartDone); s.Finished {
		t.Fatalf("SetPartState(0, done) = %+v", s)
	}
	if err := f.s.MarkInflight(f.ctx, "b1", 0, r1); !errors.Is(err, ErrPartFinal) {
		t.Errorf("MarkInflight on a done part = %v; want ErrPartFinal", err)
	}
	if ps, _ := f.s.Progress(f.ctx, "b1", 0); ps.State != PartDone || !cmp.Equal(ps.Inflight, []chunking.Range{r2}) {
		t.Errorf("a refused MarkInflight moved a done part to %s, inflight %v", ps.State, ps.Inflight)
	}
	if s := f.settle(t, "b1", 0, PartDone); s.Finished {
		t.Errorf("SetPartState(0, done) again = %+v; want not finished: part 1 is still queued", s)
	}
	if st := f.checkLedger(t, "b1"); st.Finished {
		t.Errorf("batch finished with part 1 queued: %+v", st.PartStates)
	}
}

// Once an operator cancels or pauses a batch, no call of it is marked, so none
// starts; a resumed batch marks again.
func TestMarkInflightControl(t *testing.T) {
	r := chunking.Range{Lo: 0, Hi: 5}
	tests := []struct {
		name     string
		controls []Control
		want     error
	}{
		{"none", nil, nil},
		{"paused", []Control{ControlPaused}, ErrPaused},
		{"cancelled", []Control{ControlCancelled}, ErrCancelled},
		{"paused then cancelled", []Control{ControlPaused, ControlCancelled}, ErrCancelled},
		{"resumed", []Control{ControlPaused, ControlNone}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			f.newBatch(t, "b1", 10)
			at := time.UnixMilli(1_800_000_000_000)
			if _, err := f.s.SetPartState(f.ctx, "b1", 0, PartThrottled, at, "429"); err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.controls {
				if _, err := f.s.SetControl(f.ctx, "b1", c); err != nil {
					t.Fatal(err)
				}
			}
			err := f.s.MarkInflight(f.ctx, "b1", 0, r)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("MarkInflight = %v; want %v", err, tt.want)
			}
			ps, _ := f.s.Progress(f.ctx, "b1", 0)
			if tt.want != nil {
				if len(ps.Inflight) != 0 || ps.State != PartThrottled || ps.ResumeAt.IsZero() {
					t.Errorf("a refused mark wrote: %+v", ps)
				}
				return
			}
			if !cmp.Equal(ps.Inflight, []chunking.Range{r}) || ps.State != PartRunning {
				t.Errorf("after MarkInflight: %+v", ps)
			}
		})
	}
}

// Cancelling while workers mark calls: every mark made before the cancel returned
// is one the cancel did not refuse, and none is made after.
func TestMarkInflightCancelRace(t *testing.T) {
	f := setup(t)
	const parts = 8
	sizes := make([]int, parts)
	for i := range sizes {
		sizes[i] = 1000
	}
	f.newBatch(t, "b1", sizes...)
	var wg sync.WaitGroup
	var cancelled atomic.Bool
	var afterCancel atomic.Int64
	for p := range parts {
		wg.Go(func() {
			for lo := 0; lo < 1000; lo += 10 {
				was := cancelled.Load()
				err := f.s.MarkInflight(f.ctx, "b1", p, chunking.Range{Lo: lo, Hi: lo + 10})
				if errors.Is(err, ErrCancelled) {
					return
				}
				if err != nil {
					t.Errorf("MarkInflight: %v", err)
					return
				}
				if was {
					afterCancel.Add(1)
				}
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := f.s.SetControl(f.ctx, "b1", ControlCancelled); err != nil {
		t.Fatal(err)
	}
	cancelled.Store(true)
	wg.Wait()
	if n := afterCancel.Load(); n != 0 {
		t.Errorf("%d calls marked after SetControl(cancelled) returned", n)
	}
}

func TestReopen(t *testing.T) {
	// Part 0: 0-4 mixed, 4-7 uncertain, 7-10 failed and delivered. Part 1 has an
	// uncertain call that no operation on part 0 may touch.
	calls := []RangeResult{rr(0, "drud"), rr(4, "uuu"), rr(7, "fdf")}
	before := []string{"1:refused@0-4", "2:uncertain@0-4", "4:uncertain@4-7", "5:uncertain@4-7", "6:uncertain@4-7",
		"7:failed@7-10", "9:failed@7-10"}
	r := func(lo, hi int) chunking.Range { return chunking.Range{Lo: lo, Hi: hi} }
	tests := []struct {
		name     string
		op       func(f *fixture) (int, error)
		moved    int
		counts   summary // batch counters after
		done     map[chunking.Range]summary
		outcomes []string
	}{
		{"uncertain resolved as delivered", func(f *fixture) (int, error) { return f.s.ResolveUncertain(f.ctx, "b1", 0, true) },
			4, summary{Delivered: 7, Refused: 1, Failed: 2, Uncertain: 2},
			map[chunking.Range]summary{r(0, 4): {Delivered: 3, Refused: 1}, r(4, 7): {Delivered: 3}, r(7, 10): {Delivered: 1, Failed: 2}},
			[]string{"1:refused@0-4", "7:failed@7-10", "9:failed@7-10"}},
		{"uncertain sent again", func(f *fixture) (int, error) { return f.s.ResolveUncertain(f.ctx, "b1", 0, false) },
			7, summary{Delivered: 1, Failed: 2, Uncertain: 2},
			map[chunking.Range]summary{r(7, 10): {Delivered: 1, Failed: 2}},
			[]string{"7:failed@7-10", "9:failed@7-10"}},
		{"failed sent again", func(f *fixture) (int, error) { return f.s.ReopenFailed(f.ctx, "b1", 0) },
			3, summary{Delivered: 2, Refused: 1, Uncertain: 6},
			map[chunking.Range]summary{r(0, 4): {Delivered: 2, Refused: 1, Uncertain: 1}, r(4, 7): {Uncertain: 3}},
			before[:5]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			f.newBatch(t, "b1", 10, 2)
			for _, c := range calls {
				f.record(t, "b1", 0, c)
			}
			f.record(t, "b1", 1, rr(0, "uu"))
			if diff := cmp.Diff(before, f.outcomes(t, "b1", 0)); diff != "" {
				t.Fatalf("outcomes before (-want +got):\n%s", diff)
			}
			moved, err := tt.op(f)
			if err != nil || moved != tt.moved {
				t.Fatalf("moved %d, %v; want %d", moved, err, tt.moved)
			}
			check := func(when string) {
				t.Helper()
				st := f.checkLedger(t, "b1")
				if diff := cmp.Diff(tt.counts, counts(st), allowSummary); diff != "" {
					t.Errorf("%s: counts (-want +got):\n%s", when, diff)
				}
				ps, _ := f.s.Progress(f.ctx, "b1", 0)
				if diff := cmp.Diff(tt.done, ps.Done, allowSummary); diff != "" {
					t.Errorf("%s: part 0 done (-want +got):\n%s", when, diff)
				}
				if diff := cmp.Diff(tt.outcomes, f.outcomes(t, "b1", 0)); diff != "" {
					t.Errorf("%s: part 0 outcomes (-want +got):\n%s", when, diff)
				}
				if got := f.outcomes(t, "b1", 1); !cmp.Equal(got, []string{"0:uncertain@0-2", "1:uncertain@0-2"}) {
					t.Errorf("%s: part 1 outcomes = %v", when, got)
				}
			}
			check("after")
			// Nothing is left to move: a second run moves nothing.
			if moved, err := tt.op(f); err != nil || moved != 0 {
				t.Errorf("second run moved %d, %v; want 0", moved, err)
			}
			check("after a second run")
			// A re-opened call is recorded afresh when it is sent again.
			for rg := range maps(calls) {
				if _, ok := tt.done[rg]; !ok {
					if !f.record(t, "b1", 0, rr(rg.Lo, strings.Repeat("d", rg.Len()))) {
						t.Errorf("re-opened call %v not recorded", rg)
					}
				}
			}
			if st := f.checkLedger(t, "b1"); st.Pending != 0 {
				t.Errorf("after resending: pending %d", st.Pending)
			}
		})
	}
}

// maps returns the set of calls' ranges.
func maps(calls []RangeResult) map[chunking.Range]bool {
	out := map[chunking.Range]bool{}
	for _, c := range calls {
		out[c.Range] = true
	}
	return out
}

func TestProgressNotes(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 10)
	ps, err := f.s.Progress(f.ctx, "b1", 0)
	if err != nil || ps.State != PartQueued || len(ps.Done) != 0 || ps.HasFailed() || ps.HasUncertain() {
		t.Fatalf("fresh Progress = %+v, %v", ps, err)
	}
	for i := 1; i <= 3; i++ {
		if n, err := f.s.NoteThrottle(f.ctx, "b1", 0); err != nil || n != i {
			t.Errorf("NoteThrottle = %d, %v; want %d", n, err, i)
		}
	}
	if err := f.s.NoteError(f.ctx, "b1", 0, "vendor said no"); err != nil {
		t.Fatal(err)
	}
	first := rr(0, "ddd")
	first.Extra = map[string]string{"speech_task": "S1"}
	f.record(t, "b1", 0, first)
	f.record(t, "b1", 0, rr(3, "dfd"))
	f.record(t, "b1", 0, rr(6, "uddd"))
	ps, err = f.s.Progress(f.ctx, "b1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Throttles != 3 || ps.LastError != "vendor said no" || !cmp.Equal(ps.Extra, map[string]string{"speech_task": "S1"}) {
		t.Errorf("Progress notes = throttles %d, last error %q, extra %v", ps.Throttles, ps.LastError, ps.Extra)
	}
	if !ps.HasFailed() || !ps.HasUncertain() {
		t.Errorf("HasFailed, HasUncertain = %v, %v; want true, true", ps.HasFailed(), ps.HasUncertain())
	}
	got := ps.DoneRanges()
	slices.SortFunc(got, func(a, b chunking.Range) int { return a.Lo - b.Lo })
	want := []chunking.Range{{Lo: 0, Hi: 3}, {Lo: 3, Hi: 6}, {Lo: 6, Hi: 10}}
	if !cmp.Equal(got, want) {
		t.Errorf("DoneRanges = %v; want %v", got, want)
	}
	if rem := chunking.Remaining(10, got); len(rem) != 0 {
		t.Errorf("Remaining after all calls = %v", rem)
	}
}

func TestNoteRepeat(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 10, 10)
	r1, r2 := chunking.Range{Lo: 0, Hi: 5}, chunking.Range{Lo: 5, Hi: 10}
	steps := []struct {
		part int
		r    chunking.Range
		err  string
		want int
	}{
		{0, r1, "E1 no", 1},
		{0, r1, "E1 no", 2},
		{0, r2, "E1 no", 1}, // another call counts apart
		{1, r1, "E1 no", 1}, // and another part
		{0, r1, "E1 no", 3},
		{0, r1, "E2 other", 1}, // another refusal starts again
		{0, r1, "E1 no", 1},
		{0, r1, "E1 no", 2},
	}
	for i, s := range steps {
		if got, err := f.s.NoteRepeat(f.ctx, "b1", s.part, s.r, s.err); err != nil || got != s.want {
			t.Errorf("step %d: NoteRepeat(%d, %v, %q) = %d, %v; want %d", i, s.part, s.r, s.err, got, err, s.want)
		}
	}
	// The counts are not calls: they leave Progress's ranges alone.
	if ps, _ := f.s.Progress(f.ctx, "b1", 0); len(ps.Done) != 0 || len(ps.Inflight) != 0 || len(ps.Extra) != 0 {
		t.Errorf("NoteRepeat showed in Progress: %+v", ps)
	}
}

func TestVendorTasks(t *testing.T) {
	f := setup(t)
	m := f.newBatch(t, "b1", 10, 10, 10)
	for _, c := range []struct {
		part  int
		lo    int
		extra map[string]string
	}{
		{0, 0, map[string]string{"task:0-5": "T2"}},
		{0, 5, map[string]string{"task:5-10": "T1", "cursor": "10"}},
		{1, 0, map[string]string{"task:0-10": "T2"}}, // the same vendor task, listed once
		{2, 0, map[string]string{"task:0-10": "", "speech_task": "S9"}},
	} {
		res := rr(c.lo, "ddddd")
		if c.part > 0 {
			res = rr(c.lo, "dddddddddd")
		}
		res.Extra = c.extra
		f.record(t, "b1", c.part, res)
	}
	got, err := f.s.VendorTasks(f.ctx, m)
	if err != nil || !cmp.Equal(got, []string{"T1", "T2"}) {
		t.Errorf("VendorTasks = %v, %v; want [T1 T2]", got, err)
	}
}

func TestControlNumbers(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 1)
	nums := []string{"13800138000", "13900139000"}
	if err := f.s.SetControlNumbers(f.ctx, "b1", "r1", nums); err != nil {
		t.Fatal(err)
	}
	// Set again under the same request: replaced, not appended.
	if err := f.s.SetControlNumbers(f.ctx, "b1", "r1", nums[1:]); err != nil {
		t.Fatal(err)
	}
	if got, err := f.s.ControlNumbers(f.ctx, "b1", "r1"); err != nil || !cmp.Equal(got, nums[1:]) {
		t.Errorf("ControlNumbers = %v, %v; want %v", got, err, nums[1:])
	}
	if got, err := f.s.ControlNumbers(f.ctx, "b1", "r2"); err != nil || len(got) != 0 {
		t.Errorf("ControlNumbers(other request) = %v, %v", got, err)
	}
	if ttl := f.db.Client.PTTL(f.ctx, k.control("b1", "r1")).Val(); ttl <= 0 || ttl > 24*time.Hour {
		t.Errorf("control numbers PTTL = %v; want (0, 24h]", ttl)
	}
}
