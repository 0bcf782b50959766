package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/lifecycle/internal/ledgerstore"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/vendors/registry"
)

// testQueue is where the test batches' parts go: not the vendor's default queue, so
// that a part re-queued on the default instead of the manifest's queue shows.
const testQueue = "dialq-test"

type fixture struct {
	ctx   context.Context
	db    *testredis.DB
	store *ledgerstore.Store
	insp  *asynq.Inspector
	cl    *asynq.Client
	m     *Manager
}

func setup(t *testing.T) *fixture {
	t.Helper()
	testredis.RequireReal(t)
	db := testredis.New(t)
	opt := asynq.RedisClientOpt{Addr: db.Opt.Addr, DB: db.Opt.DB, Password: db.Opt.Password}
	cl := asynq.NewClient(opt)
	insp := asynq.NewInspector(opt)
	t.Cleanup(func() { cl.Close(); insp.Close() })
	log := logrus.New()
	log.SetOutput(io.Discard)
	m := New(db.Client, cl, insp, logrus.NewEntry(log))
	return &fixture{ctx: context.Background(), db: db, store: m.store, insp: insp, cl: cl, m: m}
}

// commit stages and commits batch id with parts of partSize records, the last one
// last records (0: full), queues every part's task on testQueue, and returns the manifest.
func (f *fixture) commit(t *testing.T, id string, parts, partSize, last int) *ledger.Manifest {
	t.Helper()
	if last == 0 {
		last = partSize
	}
	st := f.store.NewStaging()
	var accepted int64
	for n := range parts {
		size := partSize
		if n == parts-1 {
			size = last
		}
		recs := make([]chunking.Record, size)
		for i := range recs {
			recs[i] = chunking.Record{Line: int64(n*partSize + i + 2), Phone: fmt.Sprintf("138%04d%04d", n, i)}
		}
		if err := st.WritePart(f.ctx, n, recs); err != nil {
			t.Fatal(err)
		}
		accepted += int64(size)
	}
	if err := st.AddReject(f.ctx, ledger.Reject{Line: 1, Raw: "x", Reason: "invalid phone"}); err != nil {
		t.Fatal(err)
	}
	m := &ledger.Manifest{
		ID: id, Vendor: registry.Yccall, Region: "CN", Queue: testQueue, Campaign: json.RawMessage(`{"task":"t1"}`),
		Profile: chunking.Profile{Vendor: registry.Yccall, PartSize: partSize, CallSize: 5},
		Read:    accepted + 3, Accepted: accepted, Rejected: 1, Suppressed: 2, Parts: parts,
		Created: time.UnixMilli(1_700_000_000_000).UTC(), Fingerprint: "fp-" + id,
	}
	if existing, err := st.Commit(f.ctx, m); err != nil || existing {
		t.Fatalf("Commit(%s) = %v, %v", id, existing, err)
	}
	for n := range parts {
		task, err := queue.NewPartTask(m.Vendor, id, n, PartRecords(m, n), asynq.Queue(m.Queue))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.cl.EnqueueContext(f.ctx, task); err != nil {
			t.Fatalf("enqueue part %d: %v", n, err)
		}
	}
	return m
}

// record records part n's call over [lo, lo+len(outcomes)), one letter a number:
// d delivered, r refused, f failed, u uncertain.
func (f *fixture) record(t *testing.T, id string, n, lo int, outcomes string) {
	t.Helper()
	res := ledger.RangeResult{Range: chunking.Range{Lo: lo, Hi: lo + len(outcomes)}}
	for i, c := range outcomes {
		state := map[rune]ledger.NumberOutcome{'r': ledger.OutcomeRefused, 'f': ledger.OutcomeFailed, 'u': ledger.OutcomeUncertain}[c]
		if state == "" {
			res.Delivered++
			continue
		}
		res.Outcomes = append(res.Outcomes, ledger.Outcome{Index: lo + i, Phone: "x", State: state, Reason: "test"})
	}
	if err := f.store.MarkInflight(f.ctx, id, n, res.Range); err != nil {
		t.Fatalf("MarkInflight(%d, %v): %v", n, res.Range, err)
	}
	if ok, err := f.store.RecordRange(f.ctx, id, n, res); err != nil || !ok {
		t.Fatalf("RecordRange(%d, %v) = %v, %v", n, res.Range, ok, err)
	}
}

// status reads batch id's account and checks that it adds up.
func (f *fixture) status(t *testing.T, id string) *ledger.Status {
	t.Helper()
	st, err := f.store.Status(f.ctx, id)
	if err != nil {
		t.Fatalf("Status(%s): %v", id, err)
	}
	sum := st.Rejected + st.Suppressed + st.Delivered + st.Refused + st.Failed + st.Uncertain + st.Pending
	if sum != st.Read || st.Pending < 0 {
		t.Errorf("read %d != rejected+suppressed+delivered+refused+failed+uncertain+pending %d (%+v)", st.Read, sum, st)
	}
	return st
}

func (f *fixture) partState(t *testing.T, id string, n int) ledger.PartState {
	t.Helper()
	ps, err := f.store.Progress(f.ctx, id, n)
	if err != nil {
		t.Fatal(err)
	}
	return ps.State
}

// announcements lists the announce tasks queued, by task id, with their payloads.
func (f *fixture) announcements(t *testing.T) map[string]queue.AnnouncePayload {
	t.Helper()
	out := map[string]queue.AnnouncePayload{}
	for _, ti := range f.tasks(t, queue.ControlQueue) {
		if ti.Type != queue.TypeAnnounce {
			t.Errorf("task %s of type %s on the control queue", ti.ID, ti.Type)
			continue
		}
		var p queue.AnnouncePayload
		if err := json.Unmarshal(ti.Payload, &p); err != nil {
			t.Fatalf("announce payload %s: %v", ti.Payload, err)
		}
		out[ti.ID] = p
	}
	return out
}

// tasks lists every task on q, whatever its state.
func (f *fixture) tasks(t *testing.T, q string) []*asynq.TaskInfo {
	t.Helper()
	var out []*asynq.TaskInfo
	for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
		f.insp.ListPendingTasks, f.insp.ListActiveTasks, f.insp.ListScheduledTasks, f.insp.ListRetryTasks,
		f.insp.ListArchivedTasks, f.insp.ListCompletedTasks,
	} {
		ts, err := list(q, asynq.PageSize(1000))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return nil
		}
		if err != nil {
			t.Fatalf("list tasks of %s: %v", q, err)
		}
		out = append(out, ts...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// wantAnnounced checks that exactly the finishes gens of batch id are queued for
// announcement.
func (f *fixture) wantAnnounced(t *testing.T, id string, gens ...int64) {
	t.Helper()
	want := map[string]queue.AnnouncePayload{}
	for _, g := range gens {
		want[queue.EventID(id, g)] = queue.AnnouncePayload{Batch: id, Generation: g}
	}
	if diff := cmp.Diff(want, f.announcements(t)); diff != "" {
		t.Errorf("announce tasks (-want +got):\n%s", diff)
	}
}

func TestCommitted(t *testing.T) {
	tests := []struct {
		name  string
		parts int
		// announced lists the finishes queued after Committed ran twice.
		announced []int64
		finished  bool
	}{
		{"no parts finishes at once", 0, []int64{1}, true},
		{"parts wait for their tasks", 2, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			m := f.commit(t, "b1", tt.parts, 3, 0)
			for range 2 { // the same enqueue run again announces once
				if err := f.m.Committed(f.ctx, m); err != nil {
					t.Fatalf("Committed: %v", err)
				}
			}
			f.wantAnnounced(t, "b1", tt.announced...)
			if st := f.status(t, "b1"); st.Finished != tt.finished {
				t.Errorf("finished = %v; want %v", st.Finished, tt.finished)
			}
		})
	}
}

func TestSettle(t *testing.T) {
	tests := []struct {
		name      string
		outcomes  string // part 0's one call
		cancelled bool
		forGood   bool
		want      ledger.PartState
	}{
		{"delivered", "ddddd", false, false, ledger.PartDone},
		{"refused numbers still done", "drrdd", false, false, ledger.PartDone},
		{"failed numbers, retries left to the caller", "ddffd", false, false, ledger.PartDone},
		{"refused for good", "ddrrd", false, true, ledger.PartFailed},
		{"uncertain beats refused for good: the batch must wait for an operator", "duddd", false, true, ledger.PartUncertain},
		{"uncertain waits for an operator", "dduud", false, false, ledger.PartUncertain},
		{"cancelled with numbers failed", "ddfff", true, false, ledger.PartCancelled},
		{"cancelled after all went out", "ddddd", true, false, ledger.PartDone},
		{"cancelled with an uncertain call", "ddffu", true, false, ledger.PartUncertain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			m := f.commit(t, "b1", 2, 5, 0)
			f.record(t, "b1", 0, 0, tt.outcomes)
			if tt.cancelled {
				if err := f.m.Cancel(f.ctx, "b1"); err != nil {
					t.Fatal(err)
				}
			}
			got, err := f.m.Settle(f.ctx, m, 0, tt.forGood)
			if err != nil || got != tt.want {
				t.Fatalf("Settle = %s, %v; want %s", got, err, tt.want)
			}
			if s := f.partState(t, "b1", 0); s != tt.want {
				t.Errorf("part 0 stored as %s; want %s", s, tt.want)
			}
			// Part 1 has not run: the batch is not finished, nothing announced.
			if st := f.status(t, "b1"); st.Finished {
				t.Errorf("batch finished with part 1 queued")
			}
			f.wantAnnounced(t, "b1")
		})
	}
}

// The last part to settle finishes the batch, which is announced once however
// often it settles or is asked to be announced.
func TestSettleFinishesOnce(t *testing.T) {
	f := setup(t)
	m := f.commit(t, "b1", 3, 4, 2)
	f.record(t, "b1", 0, 0, "dddd")
	f.record(t, "b1", 1, 0, "ddrf")
	f.record(t, "b1", 2, 0, "dd")
	for n := range 2 {
		if _, err := f.m.Settle(f.ctx, m, n, false); err != nil {
			t.Fatal(err)
		}
		f.wantAnnounced(t, "b1")
	}
	// The last part settled by several redelivered tasks at once.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := f.m.Settle(f.ctx, m, 2, false); err != nil {
				t.Errorf("Settle: %v", err)
			}
		})
	}
	wg.Wait()
	if _, err := f.m.Settle(f.ctx, m, 2, false); err != nil {
		t.Fatal(err)
	}
	f.wantAnnounced(t, "b1", 1)
	st := f.status(t, "b1")
	if !st.Finished || st.Pending != 0 || st.Delivered != 8 || st.Refused != 1 || st.Failed != 1 {
		t.Errorf("Status = %+v", st)
	}
	for i, want := range []bool{true, false} {
		ev, published, err := f.m.Announce(f.ctx, "b1", 1)
		if err != nil || published != want {
			t.Fatalf("Announce #%d = %v, %v; want %v", i+1, published, err, want)
		}
		if ev.ID != queue.EventID("b1", 1) || ev.Type != "batch.finished" || !ev.Status.Finished {
			t.Errorf("event = %+v", ev)
		}
	}
	if n := f.db.Client.XLen(f.ctx, f.store.EventsStream()).Val(); n != 1 {
		t.Errorf("events = %d; want 1", n)
	}
}

// Every part final is not enough to finish: a number still pending (a call in
// flight whose worker died, reconciled later) keeps the batch open.
func TestSettleWithPending(t *testing.T) {
	f := setup(t)
	m := f.commit(t, "b1", 1, 4, 0)
	f.record(t, "b1", 0, 0, "dd")
	if _, err := f.m.Settle(f.ctx, m, 0, false); err != nil {
		t.Fatal(err)
	}
	if st := f.status(t, "b1"); st.Finished || st.Pending != 2 {
		t.Errorf("Status = finished %v pending %d; want not finished, 2 pending", st.Finished, st.Pending)
	}
	f.wantAnnounced(t, "b1")
	// The call is reconciled (recorded without a new mark: the part is final).
	if ok, err := f.store.RecordRange(f.ctx, "b1", 0, ledger.RangeResult{Range: chunking.Range{Lo: 2, Hi: 4}, Delivered: 2}); err != nil || !ok {
		t.Fatalf("RecordRange = %v, %v", ok, err)
	}
	if _, err := f.m.Settle(f.ctx, m, 0, false); err != nil {
		t.Fatal(err)
	}
	f.wantAnnounced(t, "b1", 1)
}

func TestWait(t *testing.T) {
	at := time.UnixMilli(1_800_000_000_000).UTC()
	tests := []struct {
		state ledger.PartState
		ok    bool
	}{
		{ledger.PartThrottled, true}, {ledger.PartPaused, true}, {ledger.PartWaiting, true},
		{ledger.PartDone, false}, {ledger.PartQueued, false}, {ledger.PartFailed, false}, {ledger.PartUncertain, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.state), func(t *testing.T) {
			f := setup(t)
			f.commit(t, "b1", 1, 3, 0)
			err := f.m.Wait(f.ctx, "b1", 0, tt.state, at, "why")
			if (err == nil) != tt.ok {
				t.Fatalf("Wait(%s) = %v; want ok %v", tt.state, err, tt.ok)
			}
			ps, _ := f.store.Progress(f.ctx, "b1", 0)
			if !tt.ok {
				if ps.State != ledger.PartQueued || !ps.ResumeAt.IsZero() {
					t.Errorf("a refused Wait wrote %+v", ps)
				}
				return
			}
			if ps.State != tt.state || !ps.ResumeAt.Equal(at) || ps.WaitReason != "why" {
				t.Errorf("after Wait: %+v", ps)
			}
			st := f.status(t, "b1")
			if len(st.Waiting) != 1 || st.Waiting[0].State != tt.state || st.Finished {
				t.Errorf("Status.Waiting = %+v", st.Waiting)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	f := setup(t)
	m := f.commit(t, "b1", 2, 5, 0)
	f.commit(t, "b2", 1, 5, 0)
	// Part 1 waits (re-scheduled an hour out): a cancel must run it now.
	if err := f.insp.DeleteTask(testQueue, queue.PartTaskID("b1", 1)); err != nil {
		t.Fatal(err)
	}
	task, _ := queue.NewPartTask(m.Vendor, "b1", 1, 5, asynq.Queue(testQueue), asynq.ProcessIn(time.Hour))
	if _, err := f.cl.EnqueueContext(f.ctx, task); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Wait(f.ctx, "b1", 1, ledger.PartThrottled, time.Now().Add(time.Hour), "429"); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Cancel(f.ctx, "b1"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	for n := range 2 {
		if err := f.store.MarkInflight(f.ctx, "b1", n, chunking.Range{Lo: 0, Hi: 5}); !errors.Is(err, ledger.ErrCancelled) {
			t.Errorf("MarkInflight(part %d) after Cancel = %v; want ErrCancelled", n, err)
		}
	}
	ti, err := f.insp.GetTaskInfo(testQueue, queue.PartTaskID("b1", 1))
	if err != nil || ti.State != asynq.TaskStatePending {
		t.Errorf("scheduled part after Cancel: %+v, %v; want pending (run now)", ti, err)
	}
	if err := f.store.MarkInflight(f.ctx, "b2", 0, chunking.Range{Lo: 0, Hi: 5}); err != nil {
		t.Errorf("MarkInflight on another batch after Cancel = %v", err)
	}
	if err := f.m.Cancel(f.ctx, "b1"); !errors.Is(err, ErrNothingToDo) {
		t.Errorf("Cancel twice = %v; want ErrNothingToDo", err)
	}
	st := f.status(t, "b1")
	if st.State != ledger.StateCancelled || !st.Cancelled || st.Finished {
		t.Errorf("Status after Cancel = %+v", st)
	}
	// Parts settle as cancelled and the cancelled batch finishes, announced once.
	for n := range 2 {
		if _, err := f.m.Exhaust(f.ctx, m, n, nil, "cancelled", "cancelled by an operator"); err != nil {
			t.Fatal(err)
		}
	}
	if st := f.status(t, "b1"); !st.Finished || st.Failed != 10 {
		t.Errorf("Status after the parts settled = %+v", st)
	}
	f.wantAnnounced(t, "b1", 1)
	if err := f.m.Cancel(f.ctx, "b1"); !errors.Is(err, ledger.ErrFinished) {
		t.Errorf("Cancel of a finished batch = %v; want ledger.ErrFinished", err)
	}
	if err := f.m.Cancel(f.ctx, "nope"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Cancel(nope) = %v; want ledger.ErrNotFound", err)
	}
}

func TestPauseResume(t *testing.T) {
	f := setup(t)
	f.commit(t, "b1", 2, 5, 0)
	steps := []struct {
		name string
		do   func() error
		err  error // what do returns
		mark error // what MarkInflight returns after it
	}{
		{"resume a running batch", func() error { return f.m.Resume(f.ctx, "b1") }, ErrNothingToDo, nil},
		{"pause", func() error { return f.m.Pause(f.ctx, "b1") }, nil, ledger.ErrPaused},
		{"pause twice", func() error { return f.m.Pause(f.ctx, "b1") }, ErrNothingToDo, ledger.ErrPaused},
		{"resume", func() error { return f.m.Resume(f.ctx, "b1") }, nil, nil},
		{"resume twice", func() error { return f.m.Resume(f.ctx, "b1") }, ErrNothingToDo, nil},
		{"pause again", func() error { return f.m.Pause(f.ctx, "b1") }, nil, ledger.ErrPaused},
		{"cancel a paused batch", func() error { return f.m.Cancel(f.ctx, "b1") }, nil, ledger.ErrCancelled},
		{"pause a cancelled batch", func() error { return f.m.Pause(f.ctx, "b1") }, ledger.ErrAlreadyCancelled, ledger.ErrCancelled},
		{"resume a cancelled batch", func() error { return f.m.Resume(f.ctx, "b1") }, ErrNothingToDo, ledger.ErrCancelled},
	}
	for i, s := range steps {
		if err := s.do(); !errors.Is(err, s.err) || (s.err == nil) != (err == nil) {
			t.Fatalf("%s: %v; want %v", s.name, err, s.err)
		}
		// Each step marks a fresh range, so a mark never collides with one made before.
		r := chunking.Range{Lo: i, Hi: i + 1}
		if err := f.store.MarkInflight(f.ctx, "b1", 0, r); !errors.Is(err, s.mark) || (s.mark == nil) != (err == nil) {
			t.Errorf("%s: MarkInflight = %v; want %v", s.name, err, s.mark)
		}
	}
	if err := f.m.Pause(f.ctx, "nope"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Pause(nope) = %v; want ledger.ErrNotFound", err)
	}
	if err := f.m.Resume(f.ctx, "nope"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Resume(nope) = %v; want ledger.ErrNotFound", err)
	}
}

// Resume runs the parts held while paused now, not when their delay runs out.
func TestResumeRunsHeldParts(t *testing.T) {
	f := setup(t)
	m := f.commit(t, "b1", 2, 5, 0)
	if err := f.m.Pause(f.ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	// Part 0 came up while paused and went back, an hour out; part 1 is done.
	if err := f.insp.DeleteTask(testQueue, queue.PartTaskID("b1", 0)); err != nil {
		t.Fatal(err)
	}
	task, _ := queue.NewPartTask(m.Vendor, "b1", 0, 5, asynq.Queue(testQueue), asynq.ProcessIn(time.Hour))
	if _, err := f.cl.EnqueueContext(f.ctx, task); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Wait(f.ctx, "b1", 0, ledger.PartPaused, time.Now().Add(time.Hour), "paused"); err != nil {
		t.Fatal(err)
	}
	if st := f.status(t, "b1"); st.State != ledger.StatePaused || !st.Paused {
		t.Errorf("Status while paused = %+v", st)
	}
	if err := f.m.Resume(f.ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	ti, err := f.insp.GetTaskInfo(testQueue, queue.PartTaskID("b1", 0))
	if err != nil || ti.State != asynq.TaskStatePending {
		t.Errorf("held part after Resume: %+v, %v; want pending", ti, err)
	}
	if st := f.status(t, "b1"); st.State != ledger.StateEnqueued || st.Paused {
		t.Errorf("Status after Resume = %+v", st)
	}
}

func TestRetry(t *testing.T) {
	f := setup(t)
	m := f.commit(t, "b1", 3, 5, 3)
	if _, _, err := f.m.Retry(f.ctx, "b1"); !errors.Is(err, ErrNothingToDo) {
		t.Errorf("Retry with no failed part = %v; want ErrNothingToDo", err)
	}
	// Part 0 ran out of retries after one call, part 1 is done, part 2 was
	// refused for good after a failed call.
	f.record(t, "b1", 0, 0, "dd")
	if n, err := f.m.Exhaust(f.ctx, m, 0, nil, "timeout", "retries ran out"); err != nil || n != 3 {
		t.Fatalf("Exhaust = %d, %v; want 3", n, err)
	}
	f.record(t, "b1", 1, 0, "ddddd")
	if _, err := f.m.Settle(f.ctx, m, 1, false); err != nil {
		t.Fatal(err)
	}
	f.record(t, "b1", 2, 0, "dfr")
	if s, err := f.m.Settle(f.ctx, m, 2, true); err != nil || s != ledger.PartFailed {
		t.Fatalf("Settle(2) = %s, %v", s, err)
	}
	f.wantAnnounced(t, "b1", 1)
	if st := f.status(t, "b1"); !st.Finished || st.Failed != 4 {
		t.Fatalf("Status before Retry = %+v", st)
	}
	// The parts' tasks are done with: archived, as asynq leaves them.
	for n := range 3 {
		if err := f.insp.ArchiveTask(testQueue, queue.PartTaskID("b1", n)); err != nil {
			t.Fatal(err)
		}
	}
	parts, numbers, err := f.m.Retry(f.ctx, "b1")
	// Part 0: its failed call 2-5 (3); part 2: its one call 0-3, sent again whole.
	if err != nil || parts != 2 || numbers != 6 {
		t.Fatalf("Retry = %d parts, %d numbers, %v; want 2, 6", parts, numbers, err)
	}
	for n, want := range []ledger.PartState{ledger.PartQueued, ledger.PartDone, ledger.PartQueued} {
		if s := f.partState(t, "b1", n); s != want {
			t.Errorf("part %d after Retry is %s; want %s", n, s, want)
		}
	}
	st := f.status(t, "b1")
	if st.Finished || st.State != ledger.StateEnqueued || st.Failed != 0 || st.Pending != 6 {
		t.Errorf("Status after Retry = %+v", st)
	}
	// The failed parts' tasks are queued again, on the manifest's queue, with their
	// sizes; the done part's stays archived.
	got := map[string]asynq.TaskState{}
	for _, ti := range f.tasks(t, testQueue) {
		got[ti.ID] = ti.State
		var p queue.PartPayload
		_ = json.Unmarshal(ti.Payload, &p)
		if p.Batch != "b1" || p.Records != PartRecords(m, p.Part) || ti.Type != queue.TypeYccallCreate {
			t.Errorf("task %s: type %s payload %+v", ti.ID, ti.Type, p)
		}
	}
	want := map[string]asynq.TaskState{queue.PartTaskID("b1", 0): asynq.TaskStatePending,
		queue.PartTaskID("b1", 1): asynq.TaskStateArchived, queue.PartTaskID("b1", 2): asynq.TaskStatePending}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tasks on %s after Retry (-want +got):\n%s", testQueue, diff)
	}
	if ts := f.tasks(t, queue.For(m.Vendor)); len(ts) != 0 {
		t.Errorf("Retry queued %d tasks on the vendor's default queue; want them on the manifest's", len(ts))
	}
	if _, _, err := f.m.Retry(f.ctx, "b1"); !errors.Is(err, ErrNothingToDo) {
		t.Errorf("Retry twice = %v; want ErrNothingToDo", err)
	}
	// The retried parts run and finish the batch again: a second finish, announced apart.
	f.record(t, "b1", 0, 2, "ddd")
	f.record(t, "b1", 2, 0, "ddd")
	for _, n := range []int{0, 2} {
		if _, err := f.m.Settle(f.ctx, m, n, false); err != nil {
			t.Fatal(err)
		}
	}
	f.wantAnnounced(t, "b1", 1, 2)
	if st := f.status(t, "b1"); !st.Finished || st.Delivered != 13 || st.Pending != 0 {
		t.Errorf("Status after the retried parts = %+v", st)
	}
}

func TestRetryCancelled(t *testing.T) {
	f := setup(t)
	m := f.commit(t, "b1", 2, 2, 0)
	if _, err := f.m.Exhaust(f.ctx, m, 0, nil, "timeout", "retries ran out"); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Cancel(f.ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.m.Retry(f.ctx, "b1"); !errors.Is(err, ledger.ErrAlreadyCancelled) {
		t.Errorf("Retry of a cancelled batch = %v; want ledger.ErrAlreadyCancelled", err)
	}
	if s := f.partState(t, "b1", 0); s != ledger.PartFailed {
		t.Errorf("part 0 after a refused Retry is %s", s)
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name      string
		delivered bool
		moved     int
		part      ledger.PartState
		finished  bool
		delivers  int64 // delivered after
		pending   int64
	}{
		// Call 0-4 "dudr": resolved delivered, the uncertain one is delivered.
		{"delivered", true, 1, ledger.PartDone, true, 3, 0},
		// Sent again: the whole call goes back to pending, the part to the queue.
		{"resend", false, 4, ledger.PartQueued, false, 0, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			m := f.commit(t, "b1", 2, 4, 2)
			f.record(t, "b1", 1, 0, "dd")
			if _, err := f.m.Settle(f.ctx, m, 1, false); err != nil {
				t.Fatal(err)
			}
			f.record(t, "b1", 0, 0, "dudr")
			if s, err := f.m.Settle(f.ctx, m, 0, false); err != nil || s != ledger.PartUncertain {
				t.Fatalf("Settle = %s, %v; want uncertain", s, err)
			}
			f.wantAnnounced(t, "b1")
			if err := f.insp.ArchiveTask(testQueue, queue.PartTaskID("b1", 0)); err != nil {
				t.Fatal(err)
			}
			moved, err := f.m.Resolve(f.ctx, "b1", 0, tt.delivered)
			if err != nil || moved != tt.moved {
				t.Fatalf("Resolve = %d, %v; want %d", moved, err, tt.moved)
			}
			if s := f.partState(t, "b1", 0); s != tt.part {
				t.Errorf("part 0 after Resolve is %s; want %s", s, tt.part)
			}
			st := f.status(t, "b1")
			if st.Finished != tt.finished || st.Delivered-2 != tt.delivers || st.Pending != tt.pending || st.Uncertain != 0 {
				t.Errorf("Status after Resolve = %+v", st)
			}
			ti, err := f.insp.GetTaskInfo(testQueue, queue.PartTaskID("b1", 0))
			if err != nil {
				t.Fatal(err)
			}
			if tt.delivered {
				f.wantAnnounced(t, "b1", 1)
				if ti.State != asynq.TaskStateArchived {
					t.Errorf("part 0's task after Resolve delivered is %v; want left archived", ti.State)
				}
			} else {
				f.wantAnnounced(t, "b1")
				if ti.State != asynq.TaskStatePending {
					t.Errorf("part 0's task after Resolve resend is %v; want pending", ti.State)
				}
			}
			// Nothing is uncertain any more.
			if _, err := f.m.Resolve(f.ctx, "b1", 0, tt.delivered); !errors.Is(err, ErrNothingToDo) {
				t.Errorf("Resolve twice = %v; want ErrNothingToDo", err)
			}
		})
	}
}

func TestResolveRefused(t *testing.T) {
	f := setup(t)
	f.commit(t, "b1", 2, 4, 0)
	tests := []struct {
		name string
		id   string
		part int
		want error
	}{
		{"a queued part", "b1", 0, ErrNothingToDo},
		{"part past the last", "b1", 2, ErrNothingToDo},
		{"negative part", "b1", -1, ErrNothingToDo},
		{"missing batch", "nope", 0, ledger.ErrNotFound},
	}
	for _, tt := range tests {
		if _, err := f.m.Resolve(f.ctx, tt.id, tt.part, true); !errors.Is(err, tt.want) {
			t.Errorf("%s: Resolve = %v; want %v", tt.name, err, tt.want)
		}
	}
}

// A part whose records are corrupt (nil) or whose retries ran out is failed whole
// for what was not recorded, and the account still adds up.
func TestExhaust(t *testing.T) {
	tests := []struct {
		name     string
		part     int
		recorded string // part's calls recorded before, from record 0
		withRecs bool
		failed   int
	}{
		{"corrupt, nothing recorded", 0, "", false, 5},
		{"corrupt, one call recorded", 0, "dr", false, 3},
		{"corrupt last part", 1, "", false, 3},
		{"retries ran out", 0, "ddd", true, 2},
		{"all recorded", 0, "ddddd", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			m := f.commit(t, "b1", 2, 5, 3)
			if tt.recorded != "" {
				f.record(t, "b1", tt.part, 0, tt.recorded)
			}
			var recs []chunking.Record
			if tt.withRecs {
				var err error
				if recs, err = f.store.LoadPart(f.ctx, m, tt.part); err != nil {
					t.Fatal(err)
				}
			}
			n, err := f.m.Exhaust(f.ctx, m, tt.part, recs, "corrupt", "records failed their check")
			if err != nil || n != tt.failed {
				t.Fatalf("Exhaust = %d, %v; want %d", n, err, tt.failed)
			}
			if s := f.partState(t, "b1", tt.part); s != ledger.PartFailed {
				t.Errorf("part after Exhaust is %s; want failed", s)
			}
			st := f.status(t, "b1")
			if st.Failed != int64(tt.failed) {
				t.Errorf("failed = %d; want %d", st.Failed, tt.failed)
			}
			var outs []ledger.Outcome
			_ = f.store.Outcomes(f.ctx, "b1", tt.part, func(o ledger.Outcome) error {
				if o.State == ledger.OutcomeFailed {
					outs = append(outs, o)
				}
				return nil
			})
			if len(outs) != tt.failed {
				t.Errorf("%d failed outcomes listed; want %d", len(outs), tt.failed)
			}
			for _, o := range outs {
				if o.Code != "corrupt" || o.Reason != "records failed their check" {
					t.Errorf("outcome %+v", o)
				}
				if tt.withRecs && (o.Phone != recs[o.Index].Phone || o.Line != recs[o.Index].Line) {
					t.Errorf("outcome %+v; want record %d's phone and line", o, o.Index)
				}
				if !tt.withRecs && o.Phone != "" {
					t.Errorf("outcome %+v of an unreadable part has a phone", o)
				}
			}
			// Exhausting again fails nothing more.
			if n, err := f.m.Exhaust(f.ctx, m, tt.part, recs, "corrupt", "again"); err != nil || n != 0 {
				t.Errorf("Exhaust again = %d, %v; want 0", n, err)
			}
			// The other part finishing closes the batch with the account whole.
			other := 1 - tt.part
			f.record(t, "b1", other, 0, map[int]string{0: "ddddd", 1: "ddd"}[other])
			if _, err := f.m.Settle(f.ctx, m, other, false); err != nil {
				t.Fatal(err)
			}
			if st := f.status(t, "b1"); !st.Finished || st.Pending != 0 {
				t.Errorf("Status after both parts = %+v; want finished, nothing pending", st)
			}
			f.wantAnnounced(t, "b1", 1)
		})
	}
}

func TestPartRecords(t *testing.T) {
	m := &ledger.Manifest{Parts: 3, Accepted: 23, Profile: chunking.Profile{PartSize: 10}}
	for n, want := range []int{10, 10, 3} {
		if got := PartRecords(m, n); got != want {
			t.Errorf("PartRecords(%d) = %d; want %d", n, got, want)
		}
	}
}

// A part settled by one attempt and reported waiting by another (a redelivered
// task racing it) stays settled: Wait must not re-open a finished batch, which
// would finish, and be announced, a second time.
func TestWaitFinalPart(t *testing.T) {
	f := setup(t)
	m := f.commit(t, "b1", 1, 2, 0)
	f.record(t, "b1", 0, 0, "dd")
	if _, err := f.m.Settle(f.ctx, m, 0, false); err != nil {
		t.Fatal(err)
	}
	f.wantAnnounced(t, "b1", 1)
	err := f.m.Wait(f.ctx, "b1", 0, ledger.PartThrottled, time.Now().Add(time.Minute), "429")
	if s := f.partState(t, "b1", 0); s != ledger.PartDone {
		t.Errorf("Wait on a done part = %v; part is now %s, want done", err, s)
	}
	if st := f.status(t, "b1"); !st.Finished {
		t.Errorf("Wait on a done part re-opened the finished batch: %+v", st)
	}
	if _, err := f.m.Settle(f.ctx, m, 0, false); err != nil {
		t.Fatal(err)
	}
	f.wantAnnounced(t, "b1", 1)
}

// A finish whose announcement could not be queued (Redis blip, worker killed between
// the two steps) is announced when the part's settle is retried.
func TestFinishAnnouncedAfterQueueFailure(t *testing.T) {
	tests := []struct {
		name   string
		parts  int
		finish func(f *fixture, m *Manager, man *ledger.Manifest) error
	}{
		{"settle", 1, func(f *fixture, m *Manager, man *ledger.Manifest) error {
			_, err := m.Settle(f.ctx, man, 0, false)
			return err
		}},
		{"committed empty", 0, func(f *fixture, m *Manager, man *ledger.Manifest) error { return m.Committed(f.ctx, man) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			man := f.commit(t, "b1", tt.parts, 2, 0)
			if tt.parts > 0 {
				f.record(t, "b1", 0, 0, "dd")
			}
			// A client whose Redis is gone: the finish is stored, its announcement not.
			dead := asynq.NewClient(asynq.RedisClientOpt{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond})
			defer dead.Close()
			broken := New(f.db.Client, dead, f.insp, f.m.log)
			if err := tt.finish(f, broken, man); err == nil {
				t.Fatalf("finish with a dead queue = nil; want an error, so the task is retried")
			}
			if st := f.status(t, "b1"); !st.Finished {
				t.Fatalf("batch not finished: %+v", st)
			}
			f.wantAnnounced(t, "b1")
			// The retry, with the queue back.
			if err := tt.finish(f, f.m, man); err != nil {
				t.Fatal(err)
			}
			f.wantAnnounced(t, "b1", 1)
		})
	}
}
