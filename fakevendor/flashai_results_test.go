package fakevendor

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFlashAICallsEndOverTime: calls end as the clock moves, the summary and the
// list follow them, a stop ends nothing more, and one callback is posted once
// every number ended.
func TestFlashAICallsEndOverTime(t *testing.T) {
	f := faSetup(t, 100)
	f.s.SetFlashAICalls(FlashAICallsConfig{Enabled: true, Answer: 0.5, NotCalled: 0.2, Delay: time.Minute})
	var mu sync.Mutex
	var got []map[string]any
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer cb.Close()
	var phones []string
	for i := range 40 {
		phones = append(phones, fmt.Sprintf("138001380%02d", i))
	}
	if a := f.post("/addPlan", f.signed(faWith(faPlan("calls", faList(phones...)), "notifyUrl", cb.URL+"/x"))); a.Code != "0" {
		t.Fatalf("addPlan: %+v", a)
	}
	summary := func() (int, int) {
		a := f.post("/getBatchPlanCallSummary", f.signed(map[string]any{"batchName": "calls"}))
		var b struct{ AcceptCount, EndCount, PlanCount int }
		_ = json.Unmarshal(a.Body, &b)
		if b.AcceptCount != 40 || b.EndCount+b.PlanCount != 40 {
			t.Errorf("summary %+v does not add up to 40", b)
		}
		return b.EndCount, b.PlanCount
	}
	listed := func() int {
		a := f.post("/getBatchPlanCallList", f.signed(map[string]any{"batchName": "calls", "page": 1, "pageNum": 5000}))
		var b struct{ CallList string }
		_ = json.Unmarshal(a.Body, &b)
		if b.CallList == "" {
			return 0
		}
		return len(strings.Split(b.CallList, "|"))
	}
	if e, _ := summary(); e != 0 || listed() != 0 {
		t.Fatalf("calls ended at once: %d", e)
	}
	f.clock.Add((30 * time.Second).Milliseconds())
	half, _ := summary()
	if half == 0 || half == 40 {
		t.Errorf("after half the delay %d of 40 ended; want some", half)
	}
	f.s.NotifyDue()
	f.clock.Add((31 * time.Second).Milliseconds())
	if e, p := summary(); e != 40 || p != 0 {
		t.Errorf("after the delay: ended %d, planned %d", e, p)
	}
	truth := f.s.FlashAIResults()["calls"]
	counts := map[string]int{}
	for _, d := range truth {
		counts[d]++
	}
	if counts["answered"] == 0 || counts["not_answered"] == 0 || counts["not_called"] == 0 || counts["pending"] != 0 {
		t.Errorf("fates %v; want each of answered, not_answered, not_called", counts)
	}
	if n := listed(); n != 40-counts["not_called"] {
		t.Errorf("listed %d calls; want %d", n, 40-counts["not_called"])
	}
	f.s.NotifyDue()
	f.s.NotifyDue()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0]["batchName"] != "calls" || got[0]["endCount"] != float64(40) {
		t.Errorf("callbacks %v; want one for calls with endCount 40", got)
	}
}

func TestFlashAICallsStop(t *testing.T) {
	f := faSetup(t, 100)
	f.s.SetFlashAICalls(FlashAICallsConfig{Enabled: true, Answer: 1, Delay: time.Minute})
	var phones []string
	for i := range 20 {
		phones = append(phones, fmt.Sprintf("138001380%02d", i))
	}
	f.post("/addPlan", f.signed(faPlan("stop", faList(phones...))))
	f.clock.Add((30 * time.Second).Milliseconds())
	f.post("/batchPlanStop", f.signed(map[string]any{"batchName": "stop"}))
	before := f.s.FlashAIResults()["stop"]
	f.clock.Add(time.Hour.Milliseconds())
	if diff := fmt.Sprint(f.s.FlashAIResults()["stop"]); diff != fmt.Sprint(before) {
		t.Errorf("calls ended after the stop: %v, before %v", diff, before)
	}
}
