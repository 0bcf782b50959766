package monitor

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/queue"
)

// get fetches path from the world's monitor and returns the status and body.
func (w *world) get(path string, edit func(*http.Request)) (int, string) {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.srv.URL+path, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		w.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (w *world) getJSON(path string, v any) {
	w.t.Helper()
	code, body := w.get(path, nil)
	if code != http.StatusOK {
		w.t.Fatalf("GET %s = %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		w.t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// apiDetail is /api/batches/{id} as a client reads it.
type apiDetail struct {
	ledger.Status
	Queue    string    `json:"queue"`
	Account  []count   `json:"account"`
	Funnel   []count   `json:"funnel"`
	ByState  []count   `json:"parts_by_state"`
	PartRows []partRow `json:"part_list"`
	Rejects  []reason  `json:"rejects_by_reason"`
	Outcomes []reason  `json:"outcomes_by_reason"`
	Sampled  bool      `json:"reasons_sampled"`
	Rate     float64   `json:"rate_per_s"`
	Vendor   *struct {
		Plans    int `json:"plans"`
		Accepted int `json:"accept_count"`
		Planned  int `json:"plan_count"`
		Errors   int `json:"errors"`
	} `json:"vendor_summary"`
}

// TestBatchAPIMatchesStatus delivers a batch with refusals and rejected rows and
// checks that the API gives the store's account, the reasons with their counts,
// each part's vendor task names and dashboard link, and no phone number.
func TestBatchAPIMatchesStatus(t *testing.T) {
	w := newWorld(t, HTTPConfig{})
	nums := phones(40, 100)
	w.fake.Refuse("blacklisted", nums[3], nums[17], nums[30])
	// A vendor reason may name the number: the pages must mask it.
	w.fake.Refuse("do-not-call period for "+nums[8], nums[8])
	id := w.enqueue("yccall", listOf(nums, "12345", "not a number", "999"), 10)
	w.startWorker()
	st := w.waitFinished(id, 30*time.Second)
	if st.Refused != 4 || st.Rejected != 3 || st.Delivered != 36 {
		t.Fatalf("status %+v; want 36 delivered, 4 refused, 3 rejected", st)
	}

	var got apiDetail
	w.getJSON("/api/batches/"+id, &got)
	want := *st
	want.Source = "list.csv"
	if diff := cmp.Diff(want, got.Status); diff != "" {
		t.Errorf("API status differs from the store's (-want +got):\n%s", diff)
	}
	terms := map[string]int64{}
	var sum int64
	for _, c := range got.Account {
		terms[c.Name] = c.N
		sum += c.N
	}
	wantTerms := map[string]int64{"delivered": 36, "refused": 4, "failed": 0, "uncertain": 0, "pending": 0, "suppressed": 0, "rejected": 3}
	if diff := cmp.Diff(wantTerms, terms); diff != "" {
		t.Errorf("account (-want +got):\n%s", diff)
	}
	if sum != st.Read {
		t.Errorf("account adds up to %d; read %d", sum, st.Read)
	}
	var refusals int64
	byReason := map[string]int64{}
	for _, r := range got.Outcomes {
		if r.State == string(ledger.OutcomeRefused) {
			refusals += r.Count
		}
		byReason[r.Reason] += r.Count
	}
	if refusals != st.Refused || byReason["blacklisted"] != 3 || byReason["do-not-call period for <number>"] != 1 {
		t.Errorf("outcomes by reason = %+v; want 3 blacklisted, 1 do-not-call period for <number>", got.Outcomes)
	}
	var rejects int64
	for _, r := range got.Rejects {
		rejects += r.Count
	}
	if rejects != st.Rejected || len(got.Rejects) == 0 {
		t.Errorf("rejects by reason = %+v; want %d in all", got.Rejects, st.Rejected)
	}
	if got.Sampled {
		t.Error("reasons sampled on a small batch")
	}
	if len(got.PartRows) != st.Parts {
		t.Fatalf("%d part rows; want %d", len(got.PartRows), st.Parts)
	}
	for _, r := range got.PartRows {
		wantURL := "/monitoring/queues/" + got.Queue + "/tasks/" + queue.PartTaskID(id, r.Part)
		if r.TaskURL != wantURL || len(r.Tasks) == 0 || r.State != ledger.PartDone {
			t.Errorf("part row %+v; want state done, vendor tasks, task URL %s", r, wantURL)
		}
	}
	// The link opens the dashboard, whose API knows the part's task by that id.
	r := got.PartRows[0]
	if code, _ := w.get(r.TaskURL, nil); code != http.StatusOK {
		t.Errorf("GET %s = %d; want the dashboard", r.TaskURL, code)
	}
	api := strings.Replace(r.TaskURL, RootPath+"/", RootPath+"/api/", 1)
	var task struct {
		ID    string `json:"id"`
		Queue string `json:"queue"`
	}
	w.getJSON(api, &task)
	if task.ID != queue.PartTaskID(id, r.Part) || task.Queue != got.Queue {
		t.Errorf("dashboard API %s gives task %+v; want id %s in queue %s", api, task, queue.PartTaskID(id, r.Part), got.Queue)
	}
	for _, path := range []string{"/api/batches/" + id, "/batches/" + id, "/batches/", "/api/batches"} {
		_, body := w.get(path, nil)
		if l := leaks(body, nums); len(l) > 0 {
			t.Errorf("%s shows numbers %v", path, l)
		}
		if !strings.Contains(body, id) {
			t.Errorf("%s does not show the batch id %s whole", path, id)
		}
	}
}

// TestBatchListFilters lists two batches and filters them by vendor and state.
func TestBatchListFilters(t *testing.T) {
	w := newWorld(t, HTTPConfig{})
	done := w.enqueue("nxcloud", listOf(phones(20, 0)), 10)
	stop := w.startWorker()
	w.waitFinished(done, 30*time.Second)
	stop()
	// No worker runs: the speech batch stays enqueued.
	waiting := w.enqueue("speech", listOf(phones(5, 500)), 10)
	tests := []struct {
		name, query string
		want        []string
	}{
		{"all", "", []string{waiting, done}},
		{"vendor", "?vendor=nxcloud", []string{done}},
		{"state", "?state=finished", []string{done}},
		{"state enqueued", "?state=enqueued", []string{waiting}},
		{"both", "?vendor=speech&state=enqueued", []string{waiting}},
		{"none", "?vendor=flashai", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got struct {
				Batches []struct {
					Batch string `json:"batch"`
				} `json:"batches"`
			}
			w.getJSON("/api/batches"+tt.query, &got)
			var ids []string
			for _, b := range got.Batches {
				ids = append(ids, b.Batch)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("/api/batches%s (-want +got):\n%s", tt.query, diff)
			}
			_, page := w.get("/batches/"+tt.query, nil)
			for _, id := range []string{done, waiting} {
				shown := strings.Contains(page, `data-batch="`+id+`"`)
				if want := contains(tt.want, id); shown != want {
					t.Errorf("/batches/%s shows %s: %v; want %v", tt.query, id, shown, want)
				}
			}
		})
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// TestUncertainPartCommands leaves a part uncertain (a call started before and
// never recorded, at a vendor where resending is not safe) and checks that the page
// gives the exact resolve commands for it, and only for it.
func TestUncertainPartCommands(t *testing.T) {
	w := newWorld(t, HTTPConfig{})
	id := w.enqueue("nxcloud", listOf(phones(20, 0)), 10)
	if err := w.store.MarkInflight(context.Background(), id, 1, chunking.Range{Lo: 0, Hi: 10}); err != nil {
		t.Fatal(err)
	}
	w.startWorker()
	st := w.waitSettled(id, 30*time.Second)
	if st.PartStates[ledger.PartUncertain] != 1 {
		t.Fatalf("status %+v; want part 1 uncertain", st)
	}
	var got apiDetail
	w.getJSON("/api/batches/"+id, &got)
	cmds := map[int][]string{}
	for _, r := range got.PartRows {
		if len(r.Commands) > 0 {
			cmds[r.Part] = r.Commands
		}
	}
	want := map[int][]string{1: {"enqueue resolve " + id + " -delivered 1", "enqueue resolve " + id + " -not-delivered 1"}}
	if diff := cmp.Diff(want, cmds); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	// The vendor task to ask about, in the JSON and on the page.
	if len(got.UncertainParts) != 1 || got.UncertainParts[0].Part != 1 || len(got.UncertainParts[0].Tasks) != 1 ||
		!strings.HasPrefix(got.UncertainParts[0].Tasks[0], "task ") || !strings.HasSuffix(got.UncertainParts[0].Tasks[0], "-1") {
		t.Errorf("uncertain parts %+v; want part 1 with its task name", got.UncertainParts)
	}
	_, page := w.get("/batches/"+id, nil)
	if len(got.UncertainParts) == 1 && len(got.UncertainParts[0].Tasks) == 1 &&
		!strings.Contains(page, html.EscapeString(got.UncertainParts[0].Tasks[0])+" (uncertain)") {
		t.Errorf("page lacks the uncertain call's task %q", got.UncertainParts[0].Tasks[0])
	}
	for _, c := range want[1] {
		if !strings.Contains(page, c) {
			t.Errorf("page lacks %q", c)
		}
	}
}

// TestFlashAIVendorSummary checks the FlashAI section: the vendor's counts for the
// batch's plans, asked once per vendorTTL however often the page is read, and
// absent for other vendors.
func TestFlashAIVendorSummary(t *testing.T) {
	w := newWorld(t, HTTPConfig{})
	nums := phones(30, 0)
	w.fake.Refuse("blacklisted", nums[2])
	id := w.enqueue("flashai", listOf(nums), 10)
	other := w.enqueue("yccall", listOf(phones(5, 900)), 10)
	w.startWorker()
	st := w.waitFinished(id, 30*time.Second)
	w.waitSettled(other, 30*time.Second)

	var got apiDetail
	w.getJSON("/api/batches/"+id, &got)
	if got.Vendor == nil {
		t.Fatal("no vendor summary on a FlashAI batch")
	}
	// The fake counts a plan's numbers as received and planned; refused ones are
	// not in the plan.
	if got.Vendor.Plans != st.Parts || got.Vendor.Errors != 0 || int64(got.Vendor.Accepted) != st.Delivered {
		t.Errorf("vendor summary %+v; want %d plans, %d numbers received", got.Vendor, st.Parts, st.Delivered)
	}
	asked := w.summaries.calls()
	for range 3 {
		w.getJSON("/api/batches/"+id, &got)
	}
	if n := w.summaries.calls(); n != asked {
		t.Errorf("vendor asked %d more times within its TTL", n-asked)
	}
	_, page := w.get("/batches/"+id, nil)
	if !strings.Contains(page, `data-vendor="accept">`+formatCount(int64(got.Vendor.Accepted))+`<`) {
		t.Error("page lacks the vendor's count")
	}
	var plain apiDetail
	w.getJSON("/api/batches/"+other, &plain)
	if plain.Vendor != nil {
		t.Errorf("vendor summary on a yccall batch: %+v", plain.Vendor)
	}
}

// TestBatchPagesAuth: with a user set, pages and API need it; probes do not.
func TestBatchPagesAuth(t *testing.T) {
	w := newWorld(t, HTTPConfig{User: "ops", Password: "s3cret"})
	id := w.enqueue("nxcloud", listOf(phones(3, 0)), 10)
	tests := []struct {
		path string
		auth func(*http.Request)
		want int
	}{
		{"/batches/", nil, http.StatusUnauthorized},
		{"/batches/" + id, nil, http.StatusUnauthorized},
		{"/api/batches", nil, http.StatusUnauthorized},
		{"/api/batches/" + id, withAuth("ops", "wrong"), http.StatusUnauthorized},
		{"/batches/", withAuth("ops", "s3cret"), http.StatusOK},
		{"/batches/" + id, withAuth("ops", "s3cret"), http.StatusOK},
		{"/api/batches/" + id, withAuth("ops", "s3cret"), http.StatusOK},
		{"/batches/nope-0123", withAuth("ops", "s3cret"), http.StatusNotFound},
		{"/api/batches/nope-0123", withAuth("ops", "s3cret"), http.StatusNotFound},
		{"/healthz", nil, http.StatusOK},
	}
	for _, tt := range tests {
		if code, body := w.get(tt.path, tt.auth); code != tt.want {
			t.Errorf("GET %s = %d; want %d (%s)", tt.path, code, tt.want, body)
		}
	}
}

func TestBatchPagesOff(t *testing.T) {
	f := setup(t, HTTPConfig{})
	if code, _ := f.do(t, http.MethodGet, "/batches/", nil); code != http.StatusNotFound {
		t.Errorf("GET /batches/ without a BatchReader = %d; want 404", code)
	}
}

// TestReasonsSampled caps the reasons count and checks the page says so.
func TestReasonsSampled(t *testing.T) {
	defer func(n int) { maxReasonItems = n }(maxReasonItems)
	maxReasonItems = 3
	w := newWorld(t, HTTPConfig{})
	nums := phones(10, 0)
	w.fake.Refuse("blacklisted", nums[0], nums[1], nums[2], nums[3])
	id := w.enqueue("yccall", listOf(nums, "1", "2"), 10)
	w.startWorker()
	w.waitSettled(id, 30*time.Second)
	var got apiDetail
	w.getJSON("/api/batches/"+id, &got)
	var n int64
	for _, r := range append(got.Rejects, got.Outcomes...) {
		n += r.Count
	}
	if !got.Sampled || n != 3 {
		t.Errorf("sampled %v over %d items; want true over 3", got.Sampled, n)
	}
	if _, page := w.get("/batches/"+id, nil); !strings.Contains(page, "Sampled") {
		t.Error("page does not say the reasons were sampled")
	}
}

func TestAccount(t *testing.T) {
	tests := []struct {
		name string
		st   ledger.Status
		want []count
	}{
		{"empty", ledger.Status{}, []count{{"delivered", 0, 0}, {"refused", 0, 0}, {"failed", 0, 0}, {"uncertain", 0, 0}, {"pending", 0, 0}, {"suppressed", 0, 0}, {"rejected", 0, 0}}},
		{"mixed", ledger.Status{Read: 10, Rejected: 1, Delivered: 5, Refused: 1, Failed: 1, Uncertain: 1, Pending: 1},
			[]count{{"delivered", 5, 50}, {"refused", 1, 10}, {"failed", 1, 10}, {"uncertain", 1, 10}, {"pending", 1, 10}, {"suppressed", 0, 0}, {"rejected", 1, 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, account(&tt.st)); diff != "" {
				t.Errorf("account (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPartCounts(t *testing.T) {
	st := &ledger.Status{Parts: 4, PartStates: map[ledger.PartState]int{"done": 1, "paused": 1, "queued": 1, "corrupt": 1}}
	// Known states in ledger.PartStates order, an unknown one after them.
	want := []count{{"queued", 1, 25}, {"paused", 1, 25}, {"done", 1, 25}, {"corrupt", 1, 25}}
	if diff := cmp.Diff(want, partCounts(st)); diff != "" {
		t.Errorf("partCounts (-want +got):\n%s", diff)
	}
}

func TestRate(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	fin := t0.Add(100 * time.Second)
	tests := []struct {
		name     string
		st       ledger.Status
		samples  []rateSample
		now      time.Time
		want     float64
		wantFrom string
	}{
		{"none", ledger.Status{Batch: "b", Created: t0, Accepted: 100, Pending: 100}, nil, t0.Add(time.Minute), 0, "none yet"},
		{"average", ledger.Status{Batch: "b", Created: t0, Accepted: 100, Pending: 40}, nil, t0.Add(60 * time.Second), 1, "average since created"},
		{"finished", ledger.Status{Batch: "b", Created: t0, Accepted: 100, Finished: true, FinishedAt: &fin},
			[]rateSample{{t0, 0, 0}, {t0.Add(10 * time.Second), 50, 50}}, t0.Add(time.Hour), 1, "average since created"},
		// 100 delivered in 100 s, then cancelled: the 900 failed at once do not count.
		{"cancelled", ledger.Status{Batch: "b", Created: t0, Accepted: 1000, Delivered: 100, Failed: 900, Cancelled: true, Finished: true, FinishedAt: &fin},
			nil, t0.Add(time.Hour), 1, "average since created"},
		{"sampled window", ledger.Status{Batch: "b", Created: t0, Accepted: 1000, Pending: 500},
			[]rateSample{{t0, 0, 0}, {t0.Add(100 * time.Second), 100, 100}, {t0.Add(140 * time.Second), 300, 300}, {t0.Add(160 * time.Second), 500, 500}},
			t0.Add(160 * time.Second), 400.0 / 60, "sampled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb := newRateBook()
			for _, s := range tt.samples {
				rb.observe("b", s.At, s.Delivered, s.Settled)
			}
			got, from := rb.rate(&tt.st, tt.now)
			if diff := got - tt.want; diff > 1e-9 || diff < -1e-9 || from != tt.wantFrom {
				t.Errorf("rate = %v (%s); want %v (%s)", got, from, tt.want, tt.wantFrom)
			}
		})
	}
}

func TestRateBookKeepsWindow(t *testing.T) {
	rb := newRateBook()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for i := range 400 {
		rb.observe("b", t0.Add(time.Duration(i)*10*time.Second), int64(i), int64(i))
	}
	rb.observe("b", t0.Add(3991*time.Second), 1, 1) // within sampleGap of the last: dropped
	s := rb.samples("b")
	if len(s) != 181 || s[len(s)-1].Settled != 399 {
		t.Errorf("kept %d samples, last %+v; want 181 (30 min at 10 s), last settled 399", len(s), s[len(s)-1])
	}
	rb.observe("other", t0.Add(5*time.Hour), 0, 0)
	if len(rb.samples("b")) != 0 {
		t.Error("samples of a batch unseen for hours are kept")
	}
	if c := newChart(s); c == nil || c.Points != 180 || c.Idle || !strings.Contains(c.Settled, "640.0,") {
		t.Errorf("chart %+v; want 180 points reaching x=640", c)
	}
	still := []rateSample{{t0, 5, 5}, {t0.Add(10 * time.Second), 5, 5}, {t0.Add(20 * time.Second), 5, 5}}
	if c := newChart(still); c == nil || !c.Idle {
		t.Errorf("chart of unmoving counters %+v; want Idle", c)
	}
	if c := newChart(still[:2]); c != nil {
		t.Errorf("chart of two samples %+v; want none", c)
	}
}

func TestFormatCount(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-4321, "-4,321"}}
	for _, tt := range tests {
		if got := formatCount(tt.n); got != tt.want {
			t.Errorf("formatCount(%d) = %q; want %q", tt.n, got, tt.want)
		}
	}
}

func TestReasonCache(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		sampled bool
		key     string
		after   time.Duration
		hit     bool
	}{
		{"same counters", false, "k1", time.Minute, true},
		{"counters moved", false, "k2", time.Second, false},
		{"sampled, counters moved, fresh", true, "k2", 10 * time.Second, true},
		{"sampled, counters moved, stale", true, "k2", time.Minute, false},
		{"same counters, expired", false, "k1", reasonKeep + time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &reasonCache{m: map[string]*reasonCounts{}}
			c.put("b", &reasonCounts{Key: "k1", At: t0, Sampled: tt.sampled})
			if got := c.get("b", tt.key, t0.Add(tt.after)) != nil; got != tt.hit {
				t.Errorf("get(%q) after %v hit = %v; want %v", tt.key, tt.after, got, tt.hit)
			}
		})
	}
}
