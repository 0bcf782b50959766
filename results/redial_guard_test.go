package results_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/internal/testworld"
	"github.com/dialq/dialq/lifecycle"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/quota"
	"github.com/dialq/dialq/results"
)

// Redials obey the first send's stops and quotas (redial_guard.go).

// gateLimiter is a vendor rate limit too low to let anything through until the
// test releases it: the redial is known to be waiting in it (entered) when the
// operator acts, without guessing with a sleep.
type gateLimiter struct {
	entered chan string
	release chan struct{}
}

func (g *gateLimiter) Wait(ctx context.Context, vendor string, _ time.Duration) (time.Duration, error) {
	select {
	case g.entered <- vendor:
	default:
	}
	select {
	case <-g.release:
		return 0, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// TestRedialStoppedWhileWaiting: a cancel (or pause) issued while a redial waits
// for the vendor's rate limit stops its call: once the control returned, no call
// of the batch starts. Cancelled, the numbers keep their first result and the
// redial is stopped (results complete, nothing redialled); paused, the redial
// goes out after the resume.
func TestRedialStoppedWhileWaiting(t *testing.T) {
	for _, tc := range []struct{ vendor, verb string }{
		{"nxcloud", "cancel"}, {"yccall", "cancel"}, {"speech", "cancel"}, {"nxcloud", "pause"},
	} {
		t.Run(tc.vendor+"/"+tc.verb, func(t *testing.T) {
			w := setup(t, fakeCallsOff(), time.Hour, time.Hour)
			g := &gateLimiter{entered: make(chan string, 1), release: make(chan struct{})}
			w.poller.Redials.Limiter = g
			w.start()
			ctx := context.Background()
			data := campaignWith(t, tc.vendor, `"recycle": {"on": ["not_answered"], "after": "1s", "max_attempts": 2}`)
			sum, phones := w.enqueueSized(tc.vendor, data, 0, 10, 10, 0)
			w.waitDelivered(sum.Batch)
			disp := map[string]string{}
			for _, ph := range phones {
				disp[ph] = "not_answered"
			}
			w.importRows(sum.Batch, disp)
			select {
			case <-g.entered:
			case <-time.After(20 * time.Second):
				t.Fatal("the redial never reached the rate limiter")
			}
			w.operator(sum.Batch, tc.verb)
			close(g.release) // the rate limit lets the waiting redial through now
			if tc.verb == "pause" {
				// The redial comes back (RetryIn) and is held again: observe a second
				// pass through the limiter's mark, then check nothing went.
				waitField(t, w, sum.Batch, func(h map[string]string) bool { return hasPrefixField(h, ":call", "") == 0 })
				if got := redialled(w.sends(tc.vendor)); got != 0 {
					t.Fatalf("%d numbers redialled after the pause returned", got)
				}
				w.operator(sum.Batch, "resume")
				if rs := w.waitRedialsDone(sum.Batch, 20*time.Second); rs.Redialled != 10 {
					t.Fatalf("after the resume: %+v", rs)
				}
				return
			}
			rs := w.waitRedialsDone(sum.Batch, 20*time.Second)
			if got := redialled(w.sends(tc.vendor)); got != 0 {
				t.Fatalf("%d numbers redialled after the cancel returned", got)
			}
			if !rs.Complete || rs.Redialled != 0 || rs.NotAnswered != 10 {
				t.Errorf("cancelled redial: %+v; want complete, nothing redialled, 10 not_answered kept", rs)
			}
			h, _ := w.db.Client.HGetAll(ctx, ledger.Tag(sum.Batch)+":res").Result()
			if n := hasPrefixField(h, "", "stopped"); n != 1 {
				t.Errorf("results hash %v: want the redial stopped", h)
			}
		})
	}
}

// operator acts as enqueue pause|resume|cancel does: the batch's control through
// lifecycle, or, when the batch has finished (its redials outlive it), the hold on
// its redials.
func (w *world) operator(id, verb string) {
	w.t.Helper()
	ctx := context.Background()
	var err error
	switch verb {
	case "cancel":
		err = w.deps.Lifecycle.Cancel(ctx, id)
	case "pause":
		err = w.deps.Lifecycle.Pause(ctx, id)
	default:
		err = w.deps.Lifecycle.Resume(ctx, id)
	}
	if errors.Is(err, ledger.ErrFinished) || errors.Is(err, lifecycle.ErrNothingToDo) {
		var ok bool
		ok, err = w.results.Hold(ctx, id, verb)
		if err == nil && !ok {
			err = fmt.Errorf("%s: nothing to act on", verb)
		}
	}
	if err != nil {
		w.t.Fatal(err)
	}
}

// redialled counts the numbers the vendor received twice.
func redialled(sends map[string]int) int {
	n := 0
	for _, c := range sends {
		if c > 1 {
			n++
		}
	}
	return n
}

// hasPrefixField counts the redial fields ending in suffix whose value starts with val.
func hasPrefixField(h map[string]string, suffix, val string) int {
	n := 0
	for f, v := range h {
		if strings.HasPrefix(f, "redial:") && strings.HasSuffix(f, suffix) && strings.HasPrefix(v, val) && (suffix != "" || strings.Count(f, ":") == 2) {
			n++
		}
	}
	return n
}

// waitField waits until the redial task has run again after the control (its
// asynq retry count grew) and ok holds of the results hash.
func waitField(t *testing.T, w *world, id string, ok func(map[string]string) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		infos, _ := w.sched.Inspector.ListRetryTasks(queue.For("nxcloud"))
		for _, ti := range infos {
			if strings.Contains(ti.ID, id) && strings.Contains(ti.LastErr, "paused") {
				h, _ := w.db.Client.HGetAll(context.Background(), ledger.Tag(id)+":res").Result()
				if ok(h) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the paused redial was never held")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// arrivals records when the fake took how many numbers of vendor.
type arrivals struct {
	mu  sync.Mutex
	on  atomic.Bool
	got []arrival
}

type arrival struct {
	at time.Time
	n  int
}

func (a *arrivals) wrap(w *world, vendor string) {
	w.setHandler(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		before := total(w.fake.Ledger(vendor).Numbers)
		w.fake.ServeHTTP(rw, r)
		if n := total(w.fake.Ledger(vendor).Numbers) - before; n > 0 && a.on.Load() {
			a.got = append(a.got, arrival{time.Now(), n})
		}
	}))
}

func total(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// TestRedialQuota: NXCLOUD_QUOTA=5/2s and a redial of 12 numbers: the redial goes
// out in calls that fit (5, 5, 2), at most 5 numbers reach the fake in any 2 s,
// and the rest go later; none is lost or sent twice.
func TestRedialQuota(t *testing.T) {
	w := setup(t, fakeCallsOff(), time.Hour, time.Hour)
	env := map[string]string{"NXCLOUD_QUOTA": "5/2s"}
	cfg, err := quota.FromEnv(testworld.Getenv(env), []string{"NXCLOUD_QUOTA=5/2s"})
	if err != nil {
		t.Fatal(err)
	}
	w.poller.Redials.Quota = quota.New(w.db.Client, cfg)
	var a arrivals
	a.wrap(w, "nxcloud")
	w.start()
	data := campaignWith(t, "nxcloud", `"recycle": {"on": ["not_answered"], "after": "1s", "max_attempts": 2}`)
	sum, phones := w.enqueueSized("nxcloud", data, 0, 12, 12, 0)
	w.waitDelivered(sum.Batch)
	a.on.Store(true)
	disp := map[string]string{}
	for _, ph := range phones {
		disp[ph] = "not_answered"
	}
	w.importRows(sum.Batch, disp)
	rs := w.waitRedialsDone(sum.Batch, 30*time.Second)
	if rs.Redialled != 12 {
		t.Fatalf("status %+v; want 12 redialled", rs)
	}
	for ph, c := range w.sends("nxcloud") {
		if c != 2 {
			t.Errorf("%s reached the vendor %d times; want 2", ph, c)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.got) < 3 {
		t.Fatalf("redial calls %+v; want at least 3 (5 a window)", a.got)
	}
	// The quota counts a call's numbers from its end, which is after the fake took
	// them; the window's buckets are 1/60 of it: a small allowance.
	win := 2*time.Second - 100*time.Millisecond
	for i, x := range a.got {
		n := 0
		for _, y := range a.got[i:] {
			if y.at.Sub(x.at) < win {
				n += y.n
			}
		}
		if n > 5 {
			t.Errorf("%d numbers reached the fake within 2 s from %s: %+v", n, x.at.Format("15:04:05.000"), a.got)
		}
	}
}

// TestRedialDailyCap: daily_cap 14, 10 numbers sent on day one: the redial of the
// 10 does not fit the 4 left, so it waits for the next day (injected clock) and
// goes whole then, counted on that day.
func TestRedialDailyCap(t *testing.T) {
	w := setup(t, fakeCallsOff(), time.Hour, time.Hour)
	var shift atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }
	w.poller.Redials.Results = results.NewStore(w.db.Client, clock)
	w.start()
	ctx := context.Background()
	data := campaignWith(t, "nxcloud", `"daily_cap": 14, "recycle": {"on": ["not_answered"], "after": "1s", "max_attempts": 2}`)
	sum, phones := w.enqueueSized("nxcloud", data, 0, 10, 10, 0)
	w.waitDelivered(sum.Batch)
	disp := map[string]string{}
	for _, ph := range phones {
		disp[ph] = "not_answered"
	}
	w.importRows(sum.Batch, disp)
	var held *asynq.TaskInfo
	for deadline := time.Now().Add(20 * time.Second); held == nil; time.Sleep(20 * time.Millisecond) {
		infos, err := w.sched.Inspector.ListRetryTasks(queue.For("nxcloud"))
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range infos {
			if strings.Contains(ti.ID, sum.Batch) && strings.Contains(ti.LastErr, "daily cap") {
				held = ti
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the redial was never held by the daily cap")
		}
	}
	if d := time.Until(held.NextProcessAt); d < time.Minute && time.Now().Add(time.Hour).Day() == time.Now().Day() {
		t.Errorf("held until %s; want the next day's start", held.NextProcessAt)
	}
	if got := redialled(w.sends("nxcloud")); got != 0 {
		t.Fatalf("%d numbers redialled over the daily cap", got)
	}
	shift.Store(int64(24 * time.Hour))
	if err := w.sched.Inspector.RunTask(held.Queue, held.ID); err != nil {
		t.Fatal(err)
	}
	if rs := w.waitRedialsDone(sum.Batch, 20*time.Second); rs.Redialled != 10 {
		t.Fatalf("next day: %+v", rs)
	}
	if got := redialled(w.sends("nxcloud")); got != 10 {
		t.Errorf("%d numbers redialled on the next day; want 10", got)
	}
	loc, _ := time.LoadLocation(quota.DefaultTZ)
	for day, want := range map[string]int{quota.Day(time.Now(), loc): 10, quota.Day(clock(), loc): 10} {
		if used, err := w.batches.DailyUsed(ctx, sum.Batch, day); err != nil || used != want {
			t.Errorf("day %s: %d numbers counted (%v); want %d", day, used, err, want)
		}
	}
}

// redialTasks lists batch id's redial tasks on vendor's queue that are yet to
// finish, by state.
func (w *world) redialTasks(id, vendor string) map[string][]*asynq.TaskInfo {
	w.t.Helper()
	insp, q := w.sched.Inspector, queue.For(vendor)
	out := map[string][]*asynq.TaskInfo{}
	for state, list := range map[string]func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
		"scheduled": insp.ListScheduledTasks, "pending": insp.ListPendingTasks,
		"active": insp.ListActiveTasks, "retry": insp.ListRetryTasks,
	} {
		infos, err := list(q)
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			w.t.Fatal(err)
		}
		for _, ti := range infos {
			if strings.HasPrefix(ti.ID, "results:redial:"+id+":") {
				out[state] = append(out[state], ti)
			}
		}
	}
	return out
}

// waitRedialsHeld waits on what the redial tasks show instead of sleeping:
// paused, until every one of them has run and been sent back with the pause as
// its reason (n of them); cancelled (n = 0), until none is left to run.
func (w *world) waitRedialsHeld(id, vendor string, n int) {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ts := w.redialTasks(id, vendor)
		held := 0
		for _, ti := range ts["retry"] {
			if strings.Contains(ti.LastErr, "paused") {
				held++
			}
		}
		if held == n && len(ts["retry"]) == n && len(ts["scheduled"])+len(ts["pending"])+len(ts["active"]) == 0 {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("redial tasks of %s: %d held, %v; want %d held and no other", id, held, ts, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redialsDue counts batch id's redials noted due.
func (w *world) redialsDue(id string) int {
	h, err := w.db.Client.HGetAll(context.Background(), ledger.Tag(id)+":res").Result()
	if err != nil {
		w.t.Fatal(err)
	}
	return hasPrefixField(h, "", "due:")
}
