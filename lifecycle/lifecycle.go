// Package lifecycle owns every move of a batch, its parts and its calls: commit
// and queue (commit.go, queue.go), mark in flight and record (calls.go), settle,
// wait (throttled, paused, outside the window, retrying), exhaust, cancel, pause,
// resume, retry, resolve and finish. The worker, the operator commands and the
// producer all go through it, so each transition is written (and tested) once, and
// every finish is announced once. The moves allowed from each state are one table,
// PartTransitions and ControlTransitions (transitions.go): each method consults it
// before it writes, and tests hold the methods to it on real Redis.
//
// It is also the only writer of the ledger. The raw store is internal
// (internal/ledgerstore), so no other package can write a batch; they read it
// through package ledger, whose Reader the Manager embeds.
//
//	                      enqueue
//	                         │
//	                         ▼
//	  ┌──────────────── queued ◀────────────── retry / resolve resend
//	  │                    │  ▲
//	  │   throttled ◀──────┤  │ (re-scheduled, slot given back)
//	  │   paused    ◀──────┤  │
//	  │   waiting   ◀──────┤  │
//	  │                    ▼
//	  │                 running ──────▶ uncertain ── resolve delivered ──▶ done
//	  │                    │
//	  │          ┌─────────┼──────────────┐
//	  ▼          ▼         ▼              ▼
//	cancelled  failed     done         (exhausted → failed)
//
// A batch is enqueued (or paused, cancelled while its parts settle) until every part
// is final (done, failed, cancelled) and no number is pending; then it is finished,
// and the finish is announced on the events stream and the campaign's webhook under
// an event id that names the batch and the finish.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/internal/ledgerstore"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
)

// ErrNothingToDo means an operator's command found nothing to act on.
var ErrNothingToDo = errors.New("nothing to act on")

// Manager moves batches between states. It is the only writer of the ledger: the
// raw store is internal to this package, and everyone else reads through the
// ledger.Reader it embeds.
type Manager struct {
	ledger.Reader
	store  *ledgerstore.Store
	client *asynq.Client
	insp   *asynq.Inspector
	log    *logrus.Entry
}

// New returns a Manager writing the ledger on rdb. client queues parts and
// announcements; insp finds and runs a batch's waiting tasks. Either may be nil for
// a Manager that only records calls (it then must not queue).
func New(rdb redis.UniversalClient, client *asynq.Client, insp *asynq.Inspector, log *logrus.Entry, opts ...ledger.Option) *Manager {
	if log == nil {
		// The operator commands report what they did themselves.
		quiet := logrus.New()
		quiet.SetOutput(io.Discard)
		log = logrus.NewEntry(quiet)
	}
	store := ledgerstore.NewStore(rdb, opts...)
	return &Manager{Reader: ledger.ReaderOf(store), store: store, client: client, insp: insp, log: log}
}

// Committed finishes a batch that has no parts the moment it exists.
func (m *Manager) Committed(ctx context.Context, man *ledger.Manifest) error {
	if man.Parts > 0 {
		return nil
	}
	s, err := m.store.FinishEmpty(ctx, man.ID)
	if err != nil {
		return err
	}
	return m.finished(ctx, man.ID, s)
}

// finished queues the announcement of a finish. Its task id is the event id, so a
// finish asked to be announced twice is announced once.
func (m *Manager) finished(ctx context.Context, id string, s ledger.Settled) error {
	if !s.Finished {
		// Not finished by this move; a finish whose announcement was never queued
		// (the queueing failed, and its attempt ended) is queued now.
		return m.EnsureAnnounced(ctx, id)
	}
	m.log.WithFields(logrus.Fields{"batch": id, "generation": s.Generation}).Info("batch finished")
	return m.queueAnnouncement(ctx, id, s.Generation)
}

func (m *Manager) queueAnnouncement(ctx context.Context, id string, gen int64) error {
	t, err := queue.NewAnnounceTask(queue.AnnouncePayload{Batch: id, Generation: gen})
	if err != nil {
		return err
	}
	if _, err := m.client.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("batch %s: queue announcement: %w", id, err)
	}
	return nil
}

// EnsureAnnounced queues the announcement of batch id's last finish if it was not
// published: every attempt that finds a part settled calls it, so a finish is
// announced even when the attempt that finished it died before queueing.
func (m *Manager) EnsureAnnounced(ctx context.Context, id string) error {
	f, err := m.store.FinishOf(ctx, id)
	if err != nil {
		return err
	}
	if !f.Finished || f.Generation <= f.Announced {
		return nil
	}
	return m.queueAnnouncement(ctx, id, f.Generation)
}

// Announce publishes finish gen of batch id on the events stream; it returns the
// event, and false when that finish was published before.
func (m *Manager) Announce(ctx context.Context, id string, gen int64) (*ledger.Event, bool, error) {
	st, err := m.store.Status(ctx, id)
	if err != nil {
		return nil, false, err
	}
	ev := &ledger.Event{ID: queue.EventID(id, gen), Type: "batch.finished", Status: st}
	published, err := m.store.Publish(ctx, ev, gen)
	return ev, published, err
}

// Settle ends one run of a part whose calls are all recorded: uncertain (a call waits
// for an operator: that wins, so the batch cannot finish past it), failed (a call
// refused for good), cancelled or done.
func (m *Manager) Settle(ctx context.Context, man *ledger.Manifest, part int, refusedForGood bool) (ledger.PartState, error) {
	ps, err := m.store.Progress(ctx, man.ID, part)
	if err != nil {
		return "", err
	}
	state, err := m.endState(ctx, man.ID, ps, refusedForGood)
	if err != nil {
		return "", err
	}
	if !may(MoveSettle, ps.State, state) {
		return "", refused(part, MoveSettle, ps.State, state)
	}
	return state, m.move(ctx, man.ID, part, state)
}

func (m *Manager) endState(ctx context.Context, id string, ps *ledger.PartProgress, refusedForGood bool) (ledger.PartState, error) {
	switch {
	case ps.HasUncertain():
		return ledger.PartUncertain, nil
	case refusedForGood:
		return ledger.PartFailed, nil
	case ps.HasFailed():
		ctl, err := m.store.Control(ctx, id)
		if err != nil {
			return "", err
		}
		if ctl == ledger.ControlCancelled {
			return ledger.PartCancelled, nil
		}
	}
	return ledger.PartDone, nil
}

func (m *Manager) move(ctx context.Context, id string, part int, state ledger.PartState) error {
	s, err := m.store.SetPartState(ctx, id, part, state, time.Time{}, "")
	if err != nil {
		return err
	}
	return m.finished(ctx, id, s)
}

// Wait notes that a part went back to the queue until at: throttled (a vendor's
// Retry-After or the fleet rate limit), paused, waiting for its calling window, or
// retrying after a failed call that may pass (why names the vendor's code and
// message).
func (m *Manager) Wait(ctx context.Context, id string, part int, state ledger.PartState, at time.Time, why string) error {
	if move, ok := waitMoves[state]; !ok || !may(move, "", state) {
		return fmt.Errorf("part %d: %s is not a waiting state", part, state)
	}
	_, err := m.store.SetPartState(ctx, id, part, state, at, why)
	return err
}

// FailRemaining records every number of part not yet recorded as failed with code
// and reason. recs may be nil when the part's records cannot be read (corrupt):
// the numbers are then counted without their lines.
func (m *Manager) FailRemaining(ctx context.Context, man *ledger.Manifest, part int, recs []chunking.Record, code, reason string) (int, error) {
	ps, err := m.store.Progress(ctx, man.ID, part)
	if err != nil {
		return 0, err
	}
	size := len(recs)
	if recs == nil {
		size = PartRecords(man, part)
	}
	// A call still marked in flight may be going out right now (a part given up
	// while its handler is in a call): its numbers are uncertain, not failed.
	var gaps []chunking.Range
	for _, r := range chunking.Remaining(size, ps.DoneRanges()) {
		gaps = append(gaps, splitAround(r, ps.Inflight)...)
	}
	failed := 0
	for _, r := range gaps {
		state, c, why := ledger.OutcomeFailed, code, reason
		if inflight(r, ps.Inflight) {
			state, c, why = ledger.OutcomeUncertain, "inflight", "the part was given up while this call was in flight: "+reason
		}
		out := ledger.RangeResult{Range: r}
		for i := r.Lo; i < r.Hi; i++ {
			o := ledger.Outcome{Index: i, State: state, Code: c, Reason: why}
			if recs != nil {
				o.Line, o.Phone = recs[i].Line, recs[i].Phone
			}
			out.Outcomes = append(out.Outcomes, o)
		}
		added, err := m.store.RecordRange(ctx, man.ID, part, out)
		if err != nil {
			return failed, err
		}
		if added && state == ledger.OutcomeFailed {
			failed += r.Len()
		}
	}
	return failed, nil
}

// splitAround cuts r at the edges of the in-flight ranges inside it, so that each
// in-flight range is recorded on its own.
func splitAround(r chunking.Range, marks []chunking.Range) []chunking.Range {
	cuts := []int{r.Lo, r.Hi}
	for _, f := range marks {
		if f.Lo > r.Lo && f.Lo < r.Hi {
			cuts = append(cuts, f.Lo)
		}
		if f.Hi > r.Lo && f.Hi < r.Hi {
			cuts = append(cuts, f.Hi)
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	out := make([]chunking.Range, 0, len(cuts)-1)
	for i := 1; i < len(cuts); i++ {
		out = append(out, chunking.Range{Lo: cuts[i-1], Hi: cuts[i]})
	}
	return out
}

func inflight(r chunking.Range, marks []chunking.Range) bool {
	for _, f := range marks {
		if f.Lo <= r.Lo && r.Hi <= f.Hi {
			return true
		}
	}
	return false
}

// Exhaust settles a part whose retries ran out (or whose records are corrupt):
// every number not yet recorded is failed with code and reason, and the part is
// failed, so the batch's account stays whole and the batch can finish.
func (m *Manager) Exhaust(ctx context.Context, man *ledger.Manifest, part int, recs []chunking.Record, code, reason string) (int, error) {
	ps, err := m.store.Progress(ctx, man.ID, part)
	if err != nil {
		return 0, err
	}
	if !may(MoveExhaust, ps.State, "") {
		// Settled by an attempt that then failed only to announce: just that.
		return 0, m.EnsureAnnounced(ctx, man.ID)
	}
	from := ps.State
	n, err := m.FailRemaining(ctx, man, part, recs, code, reason)
	if err != nil {
		return n, err
	}
	if ps, err = m.store.Progress(ctx, man.ID, part); err != nil {
		return n, err
	}
	state := ledger.PartFailed
	if ps.HasUncertain() {
		state = ledger.PartUncertain
	}
	if !may(MoveExhaust, from, state) {
		return n, refused(part, MoveExhaust, from, state)
	}
	return n, m.move(ctx, man.ID, part, state)
}

// Cancel stops batch id: once it returns no new vendor call for the batch starts
// anywhere in the fleet (the mark before each call checks it atomically). Calls in
// flight finish and are recorded; every number not sent is failed with code
// cancelled as its part comes up, which Cancel hurries by running the batch's
// waiting tasks now.
func (m *Manager) Cancel(ctx context.Context, id string) error {
	man, err := m.store.Manifest(ctx, id)
	if err != nil {
		return err
	}
	changed, err := m.store.SetControl(ctx, id, ledger.ControlCancelled)
	if err != nil {
		return err
	}
	if !changed {
		return fmt.Errorf("batch %s is cancelled already: %w", id, ErrNothingToDo)
	}
	return m.runWaiting(ctx, man)
}

// Pause holds batch id in dialq: no new call starts; parts that come up go back to
// the queue as paused until Resume. Parts waiting (a quota, a daily cap, a window)
// come up now, so that they show paused at once instead of at their resume time.
func (m *Manager) Pause(ctx context.Context, id string) error {
	man, err := m.store.Manifest(ctx, id)
	if err != nil {
		return err
	}
	changed, err := m.store.SetControl(ctx, id, ledger.ControlPaused)
	if err != nil {
		return err
	}
	if !changed {
		return fmt.Errorf("batch %s is paused already: %w", id, ErrNothingToDo)
	}
	return m.runWaiting(ctx, man)
}

// Resume releases a paused batch and runs its held parts now.
func (m *Manager) Resume(ctx context.Context, id string) error {
	man, err := m.store.Manifest(ctx, id)
	if err != nil {
		return err
	}
	ctl, err := m.store.Control(ctx, id)
	if err != nil {
		return err
	}
	if ctl != ledger.ControlPaused {
		return fmt.Errorf("batch %s is not paused: %w", id, ErrNothingToDo)
	}
	if _, err := m.store.SetControl(ctx, id, ledger.ControlNone); err != nil {
		return err
	}
	return m.runWaiting(ctx, man)
}

// runWaiting runs the batch's scheduled and retrying parts now, so that a cancel or
// resume takes effect without waiting for their delay. A part that is pending or
// running already, or has no task, is left alone.
func (m *Manager) runWaiting(ctx context.Context, man *ledger.Manifest) error {
	parts, err := m.store.Parts(ctx, man.ID, man.Parts)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if p.State.Final() {
			continue
		}
		err := m.insp.RunTask(man.Queue, queue.PartTaskID(man.ID, p.Part))
		if err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) &&
			!strings.Contains(err.Error(), "already") {
			return fmt.Errorf("run part %d now: %w", p.Part, err)
		}
	}
	return nil
}

// Retry moves every failed part of batch id back to pending and queues it again.
// It returns the parts and numbers moved.
func (m *Manager) Retry(ctx context.Context, id string) (parts, numbers int, err error) {
	man, err := m.store.Manifest(ctx, id)
	if err != nil {
		return 0, 0, err
	}
	if ctl, err := m.store.Control(ctx, id); err != nil {
		return 0, 0, err
	} else if ctl == ledger.ControlCancelled {
		return 0, 0, fmt.Errorf("batch %s: %w", id, ledger.ErrAlreadyCancelled)
	}
	states, err := m.store.Parts(ctx, id, man.Parts)
	if err != nil {
		return 0, 0, err
	}
	for _, p := range states {
		if !may(MoveRetry, p.State, ledger.PartQueued) {
			continue
		}
		// The old task goes first: if it cannot (it runs), nothing has moved.
		if err := m.dropTask(man, p.Part); err != nil {
			return parts, numbers, err
		}
		moved, err := m.store.ReopenFailed(ctx, id, p.Part)
		if err != nil {
			return parts, numbers, err
		}
		if err := m.requeue(ctx, man, p.Part); err != nil {
			return parts, numbers, err
		}
		parts++
		numbers += moved
	}
	if parts == 0 {
		return 0, 0, fmt.Errorf("batch %s has no failed part: %w", id, ErrNothingToDo)
	}
	return parts, numbers, nil
}

// Resolve settles an uncertain part after an operator checked with the vendor: as
// delivered, or back to pending to be sent again.
func (m *Manager) Resolve(ctx context.Context, id string, part int, delivered bool) (int, error) {
	man, err := m.store.Manifest(ctx, id)
	if err != nil {
		return 0, err
	}
	if part < 0 || part >= man.Parts {
		return 0, fmt.Errorf("batch %s has parts 0-%d, not %d: %w", id, man.Parts-1, part, ErrNothingToDo)
	}
	ps, err := m.store.Progress(ctx, id, part)
	if err != nil {
		return 0, err
	}
	move := MoveResolveResend
	if delivered {
		move = MoveResolveDelivered
	}
	if !may(move, ps.State, "") {
		return 0, fmt.Errorf("part %d is %s, not uncertain: %w", part, ps.State, ErrNothingToDo)
	}
	if !delivered {
		if err := m.dropTask(man, part); err != nil {
			return 0, err
		}
	}
	moved, err := m.store.ResolveUncertain(ctx, id, part, delivered)
	if err != nil {
		return moved, err
	}
	if delivered {
		if ps, err = m.store.Progress(ctx, id, part); err != nil {
			return moved, err
		}
		// Failed numbers left in the part make it failed again, so that `enqueue
		// retry` can run them (cancelled, in a cancelled batch).
		state, err := m.endState(ctx, id, ps, false)
		if err != nil {
			return moved, err
		}
		if state == ledger.PartDone && ps.HasFailed() {
			state = ledger.PartFailed
		}
		if !may(MoveResolveDelivered, ledger.PartUncertain, state) {
			return moved, refused(part, MoveResolveDelivered, ledger.PartUncertain, state)
		}
		return moved, m.move(ctx, id, part, state)
	}
	return moved, m.requeue(ctx, man, part)
}
