package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/vendors/registry"
)

// campaignWith writes the example NXCloud campaign with extra fields.
func campaignWith(t *testing.T, extra map[string]any) string {
	t.Helper()
	raw, err := os.ReadFile("../examples/nxcloud.json")
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		c[k] = v
	}
	b, _ := json.Marshal(c)
	file := filepath.Join(t.TempDir(), "campaign.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func (w *world) enqueueFile(campaign string, phones []string, partSize int) string {
	w.t.Helper()
	r := w.run("enqueue", list(phones), nil, "-vendor", registry.NXCloud, "-campaign", campaign,
		"-part-size", fmt.Sprint(partSize), "-json", "-")
	if r.code != 0 {
		w.t.Fatalf("enqueue: %+v", r)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		w.t.Fatal(err)
	}
	return sum["batch"].(string)
}

// Two workers against the fake with latency, under NXCLOUD_QUOTA and
// NXCLOUD_INFLIGHT: in every window of the vendor's own receipt times it receives
// at most the quota, never more calls at once than the limit, every number once;
// parts wait throttled with the quota's reason meanwhile.
func TestQuotaTwoWorkers(t *testing.T) {
	w := setup(t)
	w.fake.SetFaults(fakevendor.Faults{LatencyMillis: 150})
	quotaEnv := []string{"NXCLOUD_QUOTA=250/2s,600/10s", "NXCLOUD_INFLIGHT=2"}
	id := w.enqueueFile("../examples/nxcloud.json", numbers(1000, 500000), 100)
	_, addr := w.startServing(quotaEnv...)
	w.startWorker(quotaEnv...)

	sawThrottled := false
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st := w.status(id)
		for _, p := range st.Waiting {
			if p.State == ledger.PartThrottled && strings.Contains(p.WaitReason, "nxcloud quota") {
				sawThrottled = true
			}
		}
		if st.Finished {
			if st.Delivered != 1000 {
				t.Fatalf("finished with %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not finished in 3 minutes: %+v", st)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if n := w.noneTwice(registry.NXCloud); n != 1000 {
		t.Fatalf("vendor holds %d numbers; want 1000", n)
	}
	l := w.fake.Ledger(registry.NXCloud)
	if l.MaxInflight < 1 || l.MaxInflight > 2 {
		t.Errorf("vendor served %d calls at once; NXCLOUD_INFLIGHT=2", l.MaxInflight)
	}
	for _, win := range []struct {
		d     time.Duration
		limit int
	}{{2 * time.Second, 250}, {10 * time.Second, 600}} {
		busiest := 0
		for i, a := range l.Accepts {
			n := 0
			for _, b := range l.Accepts[i:] {
				if b.At.Sub(a.At) < win.d {
					n += b.N
				}
			}
			busiest = max(busiest, n)
		}
		if busiest > win.limit {
			t.Errorf("the vendor received %d numbers within %s; the quota is %d", busiest, win.d, win.limit)
		}
		t.Logf("busiest %s at the vendor: %d numbers (quota %d)", win.d, busiest, win.limit)
	}
	span := l.Accepts[len(l.Accepts)-1].At.Sub(l.Accepts[0].At)
	if span < 10*time.Second {
		t.Errorf("1000 numbers at 600 per 10 s went out within %s", span)
	}
	if !sawThrottled {
		t.Error("no part was seen throttled by the quota")
	}
	t.Logf("%d calls over %s, at most %d at once", len(l.Accepts), span.Round(time.Millisecond), l.MaxInflight)

	// What enqueue quota and the metrics say, with the same variables.
	r := w.run("enqueue", "", quotaEnv, "quota", "-json")
	if r.code != 0 || !strings.Contains(r.stdout, `"vendor":"nxcloud"`) || !strings.Contains(r.stdout, `"window":"10s"`) {
		t.Errorf("enqueue quota -json: %+v", r)
	}
	if r := w.run("enqueue", "", nil, "quota"); r.code == 0 || !strings.Contains(r.stderr, "no vendor quota") {
		t.Errorf("enqueue quota without quotas: %+v; want a non-zero exit saying so", r)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics := readAll(resp)
	for _, want := range []string{`dialq_quota_limit{vendor="nxcloud",window="2s"} 250`, `dialq_quota_limit{vendor="nxcloud",window="inflight"} 2`,
		`dialq_quota_used{vendor="nxcloud",window="10s"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// Bad quota settings stop the worker and enqueue quota, naming the variable.
func TestQuotaBadSettingsRefused(t *testing.T) {
	w := setup(t)
	for _, bad := range []string{"NXCLOUD_QUOTA=5000/xx", "NXCLOUD_QUOTA=0/1m", "YCCALL_INFLIGHT=-1", "FOO_QUOTA=5/1m"} {
		name, _, _ := strings.Cut(bad, "=")
		for _, cmd := range [][]string{{"worker"}, {"enqueue", "quota"}} {
			r := w.run(cmd[0], "", []string{bad}, cmd[1:]...)
			if r.code == 0 || !strings.Contains(r.stderr, name) {
				t.Errorf("%s with %s: exit %d, %q; want a refusal naming %s", cmd, bad, r.code, r.stderr, name)
			}
		}
	}
}

// A campaign's daily cap holds the rest of the batch until the next day, shown
// waiting with that day's start; pause acts on the waiting parts at once; the day
// after that (a worker whose clock is injected a day on) sends the rest.
func TestDailyCapNextDay(t *testing.T) {
	w := setup(t)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	// The worker's clock starts 20 s before the next midnight in Shanghai.
	now := time.Now()
	l := now.In(shanghai)
	midnight := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, shanghai)
	offset := midnight.Add(-20 * time.Second).Sub(now)
	file := campaignWith(t, map[string]any{"daily_cap": 150})
	id := w.enqueueFile(file, numbers(400, 600000), 100)
	wk := w.startWorker(fmt.Sprintf("DIALQ_TEST_CLOCK_OFFSET=%s", offset))

	waitFor := func(what string, timeout time.Duration, ok func(ledger.Status) bool) ledger.Status {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			st := w.status(id)
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s: %+v", what, timeout, st)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	day1 := waitFor("day 1 sent its cap", 15*time.Second, func(st ledger.Status) bool {
		return st.Delivered == 150 && st.PartStates[ledger.PartWaiting] >= 2
	})
	for _, p := range day1.Waiting {
		if p.State == ledger.PartWaiting && (p.ResumeAt == nil || !p.ResumeAt.Equal(midnight.UTC()) || !strings.Contains(p.WaitReason, "daily cap of 150")) {
			t.Errorf("part %d waits until %v (%q); want the next day's start %v", p.Part, p.ResumeAt, p.WaitReason, midnight.UTC())
		}
	}
	if n := len(w.fake.Ledger(registry.NXCloud).Numbers); n != 150 {
		t.Fatalf("day 1: the vendor holds %d numbers; want the cap, 150", n)
	}
	// The worker's next day starts in a few seconds of real time.
	next := midnight.AddDate(0, 0, 1)
	waitFor("day 2 sent its cap", 60*time.Second, func(st ledger.Status) bool {
		if st.Delivered != 300 {
			return false
		}
		for _, p := range st.Waiting {
			if p.State == ledger.PartWaiting && p.ResumeAt != nil && p.ResumeAt.Equal(next.UTC()) {
				return true
			}
		}
		return false
	})
	// Pause acts on a part waiting for tomorrow now, not tomorrow.
	if r := w.run("enqueue", "", nil, "pause", id); r.code != 0 {
		t.Fatalf("pause: %+v", r)
	}
	waitFor("paused at once", 15*time.Second, func(st ledger.Status) bool {
		return st.PartStates[ledger.PartWaiting] == 0 && st.PartStates[ledger.PartPaused] >= 1
	})
	wk.stop(t)
	// The day after: a worker whose clock is a day on; resume runs the parts now.
	w.startWorker(fmt.Sprintf("DIALQ_TEST_CLOCK_OFFSET=%s", offset+24*time.Hour+30*time.Second))
	if r := w.run("enqueue", "", nil, "resume", id); r.code != 0 {
		t.Fatalf("resume: %+v", r)
	}
	st := waitFor("day 3 sent the rest", 60*time.Second, func(st ledger.Status) bool { return st.Finished })
	if st.Delivered != 400 {
		t.Fatalf("finished with %+v", st)
	}
	if n := w.noneTwice(registry.NXCloud); n != 400 {
		t.Fatalf("vendor holds %d numbers; want 400", n)
	}
}

// A worker SIGKILLed in the middle of a call holds its in-flight slot no longer
// than its lease: enqueue quota shows the slot taken, then free once the lease ends.
func TestInflightSlotBackAfterSIGKILL(t *testing.T) {
	w := setup(t)
	w.fake.SetFaults(fakevendor.Faults{LatencyMillis: 9_000}) // the call is still running when the worker dies
	quotaEnv := []string{"NXCLOUD_INFLIGHT=1", "DIALQ_INFLIGHT_LEASE=3s"}
	w.enqueueFile("../examples/nxcloud.json", numbers(10, 700000), 10)
	wk := w.startWorker(quotaEnv...)
	inflight := func() (int, time.Time) {
		r := w.run("enqueue", "", quotaEnv, "quota", "-json")
		var out struct {
			Vendors []struct {
				Inflight  int        `json:"inflight"`
				LeaseEnds *time.Time `json:"first_lease_ends"`
			} `json:"vendors"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Vendors) != 1 {
			t.Fatalf("enqueue quota -json: %+v", r)
		}
		v := out.Vendors[0]
		if v.LeaseEnds == nil {
			return v.Inflight, time.Time{}
		}
		return v.Inflight, *v.LeaseEnds
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if n, _ := inflight(); n == 1 && w.fake.Ledger(registry.NXCloud).MaxInflight == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call never started")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // past a renewal: the live worker keeps its lease
	if n, _ := inflight(); n != 1 {
		t.Fatalf("a live call's slot is free after 2 s (%d in flight); its lease should be renewed", n)
	}
	if err := wk.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-wk.done
	killed := time.Now()
	_, ends := inflight()
	if ends.IsZero() || ends.After(killed.Add(3*time.Second+500*time.Millisecond)) {
		t.Fatalf("the dead worker's lease ends %v; want within 3 s of the kill (%v)", ends, killed)
	}
	for {
		if n, _ := inflight(); n == 0 {
			t.Logf("slot back %s after the SIGKILL (lease 3 s)", time.Since(killed).Round(100*time.Millisecond))
			break
		}
		if time.Since(killed) > 10*time.Second {
			t.Fatal("the dead worker's slot is still taken 10 s after its SIGKILL")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
