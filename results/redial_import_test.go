package results_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/producer"
	"github.com/dialq/dialq/results"
)

// Redials of the vendors whose results come by import (NXCloud, Yccall, speech).

// campaignWith is examples/<vendor>.json with extra top-level fields.
func campaignWith(t *testing.T, vendor, extra string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", vendor+".json"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	return []byte(s[:len(s)-1] + ", " + extra + "}")
}

// enqueueSized sends n numbers (from the first) to vendor in parts of part
// numbers, calls of call.
func (w *world) enqueueSized(vendor string, data []byte, first, n, part, call int) (*producer.Summary, []string) {
	w.t.Helper()
	c, err := producer.CampaignJSON(vendor, data)
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := producer.Profile(vendor, part, call)
	if err != nil {
		w.t.Fatal(err)
	}
	phones := make([]string, n)
	for i := range phones {
		phones[i] = fmt.Sprintf("139%08d", first+i)
	}
	sum, err := producer.Enqueue(context.Background(), w.db.Client, w.aopt, strings.NewReader(strings.Join(phones, "\n")+"\n"),
		producer.Request{Vendor: vendor, Region: "CN", Format: ingest.Auto, Campaign: c, Profile: p, Source: "test"})
	if err != nil {
		w.t.Fatal(err)
	}
	return sum, phones
}

// sends counts how often each number (its last 11 digits) reached vendor.
func (w *world) sends(vendor string) map[string]int {
	out := map[string]int{}
	for n, c := range w.fake.Ledger(vendor).Numbers {
		out[n[max(len(n)-11, 0):]] += c
	}
	return out
}

// importRows imports one row per number with its disposition and schedules the
// redials, as `enqueue results import` does.
func (w *world) importRows(id string, disp map[string]string) *results.Imported {
	w.t.Helper()
	var b strings.Builder
	b.WriteString("phone,disposition,duration_s\n")
	for ph, d := range disp {
		dur := ""
		if d == "answered" {
			dur = "12"
		}
		fmt.Fprintf(&b, "%s,%s,%s\n", ph, d, dur)
	}
	ctx := context.Background()
	got, err := results.Import(ctx, w.batches, w.results, id, strings.NewReader(b.String()), results.DefaultImportColumns)
	if err != nil {
		w.t.Fatal(err)
	}
	q := w.poller.Redials.Queue
	if err := results.ScheduleRedials(ctx, w.batches, w.results, q, id, got); err != nil {
		w.t.Fatal(err)
	}
	return got
}

// waitRedialsDone waits until no redial of id is due and returns its status.
func (w *world) waitRedialsDone(id string, timeout time.Duration) *results.Status {
	w.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		sum, err := w.results.Summary(ctx, id)
		if err != nil {
			w.t.Fatal(err)
		}
		if sum.Due == 0 {
			st, _ := w.batches.Status(ctx, id)
			rs, err := results.StatusOf(ctx, w.results, st)
			if err != nil {
				w.t.Fatal(err)
			}
			return rs
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("redials of %s still due after %s", id, timeout)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func (w *world) withGate() {
	g := compliance.NewGate(compliance.NewStore(w.db.Client))
	w.deps.Gate, w.poller.Redials.Gate = g, g
}

// TestRedialAfterImport: for each vendor whose results are imported, numbers
// imported not_answered or not_called are sent once more after the rule's delay,
// in a follow-up task, through the gate (a number suppressed since is not);
// answered ones never; a second import at max_attempts redials nothing.
func TestRedialAfterImport(t *testing.T) {
	testredis.RequireReal(t) // suppression lists use BITFIELD
	for _, tc := range []struct {
		vendor     string
		part, call int
	}{{"nxcloud", 20, 0}, {"yccall", 30, 0}, {"speech", 60, 25}} {
		t.Run(tc.vendor, func(t *testing.T) {
			w := setup(t, fakeCallsOff(), time.Hour, time.Hour)
			w.withGate()
			ctx := context.Background()
			lists := compliance.NewStore(w.db.Client)
			if _, err := lists.Add(ctx, "dnc", []string{"+8613333333333"}, time.Time{}); err != nil {
				t.Fatal(err)
			}
			w.start()
			data := campaignWith(t, tc.vendor, `"recycle": {"on": ["not_answered", "not_called"], "after": "1s", "max_attempts": 2}, "compliance": {"suppress": ["dnc"]}`)
			sum, phones := w.enqueueSized(tc.vendor, data, 0, 60, tc.part, tc.call)
			w.waitDelivered(sum.Batch)
			disp := map[string]string{}
			for i, ph := range phones {
				disp[ph] = []string{"answered", "not_answered", "not_called"}[i%3]
			}
			// Opted out after the first send: the redial's gate keeps it out.
			if _, err := lists.Add(ctx, "dnc", []string{"+86" + phones[1]}, time.Time{}); err != nil {
				t.Fatal(err)
			}
			imported := time.Now()
			got := w.importRows(sum.Batch, disp)
			if parts := 60 / tc.part; got.Redials != parts {
				t.Errorf("redials scheduled %d; want one per part (%d)", got.Redials, parts)
			}
			time.Sleep(500 * time.Millisecond)
			for ph, c := range w.sends(tc.vendor) {
				if c != 1 {
					t.Fatalf("%s sent %d times before the rule's delay", ph, c)
				}
			}
			rs := w.waitRedialsDone(sum.Batch, 20*time.Second)
			if took := time.Since(imported); took < time.Second {
				t.Errorf("redialled %s after the import; the rule says 1s", took)
			}
			sends := w.sends(tc.vendor)
			want := 0
			for i, ph := range phones {
				exp := 2
				if disp[ph] == "answered" || i == 1 {
					exp = 1
				} else {
					want++
				}
				if sends[ph] != exp {
					t.Errorf("%s (%s) reached the vendor %d times; want %d", ph, disp[ph], sends[ph], exp)
				}
			}
			if rs.Redialled != int64(want) || rs.Pending != int64(want) {
				t.Errorf("status %+v; want %d redialled and pending", rs, want)
			}
			// The export names each redial's follow-up task.
			tasks := map[string]bool{}
			err := results.Export(ctx, w.batches, w.results, sum.Batch, func(r results.Row) error {
				if r.Attempt == 2 {
					tasks[r.VendorTask] = true
					if r.Disposition != "pending" {
						t.Errorf("attempt 2 of %s is %s before any import", r.Phone, r.Disposition)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if wantTasks := w.fake.Ledger(tc.vendor).Tasks - 60/tc.part; len(tasks) != wantTasks || tasks[""] {
				t.Errorf("attempt 2 rows name tasks %v; the vendor made %d", tasks, wantTasks)
			}
			if tc.vendor == "nxcloud" {
				for name := range tasks {
					if !strings.HasSuffix(name, "-r2") || len(name) > 50 {
						t.Errorf("NXCloud redial task %q: want the attempt in the name, at most 50 characters", name)
					}
				}
			}
			// The redial's results: max_attempts 2 is reached, nothing more is sent.
			second := map[string]string{}
			for i, ph := range phones {
				if disp[ph] != "answered" && i != 1 {
					second[ph] = "not_answered"
				}
			}
			got = w.importRows(sum.Batch, second)
			if got.Redials != 0 {
				t.Errorf("redials scheduled past max_attempts: %d", got.Redials)
			}
			time.Sleep(1500 * time.Millisecond)
			for ph, c := range w.sends(tc.vendor) {
				if c > 2 {
					t.Errorf("%s sent %d times", ph, c)
				}
			}
			st, _ := w.batches.Status(ctx, sum.Batch)
			rs, err = results.StatusOf(ctx, w.results, st)
			if err != nil {
				t.Fatal(err)
			}
			if !rs.Complete || rs.Pending != 0 || rs.NotAnswered != int64(want)+1 || rs.Answered != 20 {
				t.Errorf("after the redial's import: %+v", rs)
			}
		})
	}
}

// TestRedialImportedCrash: the redial's call reaches the vendor and its answer is
// lost (as when the worker dies mid-call). Speech recognises the repeated task
// name, so the retry counts it sent; NXCloud and Yccall cannot tell a repeat, so
// the redial is uncertain and never resent. No number reaches a vendor a third time.
func TestRedialImportedCrash(t *testing.T) {
	for _, tc := range []struct {
		vendor    string
		mark      string
		uncertain bool
	}{{"nxcloud", `-r2"`, true}, {"yccall", "-r2&", true}, {"speech", `-r2"`, false}} {
		t.Run(tc.vendor, func(t *testing.T) {
			w := setup(t, fakeCallsOff(), time.Hour, time.Hour)
			var once sync.Once
			dropped := false
			fake := w.fake
			w.setHandler(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				if bytes.Contains(body, []byte(tc.mark)) {
					hit := false
					once.Do(func() { hit = true })
					if hit {
						fake.ServeHTTP(httptestRecorder{}, r) // the vendor takes it...
						dropped = true
						panic(http.ErrAbortHandler) // ...and the answer is lost
					}
				}
				fake.ServeHTTP(rw, r)
			}))
			w.start()
			data := campaignWith(t, tc.vendor, `"recycle": {"on": ["not_answered"], "after": "1s", "max_attempts": 3}`)
			sum, phones := w.enqueueSized(tc.vendor, data, 0, 20, 20, 0)
			w.waitDelivered(sum.Batch)
			disp := map[string]string{}
			for i, ph := range phones {
				disp[ph] = []string{"answered", "not_answered"}[i%2]
			}
			w.importRows(sum.Batch, disp)
			rs := w.waitRedialsDone(sum.Batch, 20*time.Second)
			time.Sleep(time.Second) // a wrongly retried redial would show by now
			if !dropped {
				t.Fatal("the redial's answer was never dropped")
			}
			for ph, c := range w.sends(tc.vendor) {
				want := 2
				if disp[ph] == "answered" {
					want = 1
				}
				if c != want {
					t.Errorf("%s (%s) reached the vendor %d times", ph, disp[ph], c)
				}
			}
			if tc.uncertain {
				if rs.RedialsUncertain != 1 || rs.Redialled != 0 {
					t.Errorf("status %+v; want the redial uncertain and nothing counted redialled", rs)
				}
				return
			}
			if rs.RedialsUncertain != 0 || rs.Redialled != 10 {
				t.Errorf("status %+v; want 10 redialled", rs)
			}
		})
	}
}

// TestRedialRefused: a number FlashAI refuses inside a redial's plan
// (failMobileInfo) is recorded refused for that attempt with the vendor's reason:
// never redialled again, counted in the status, named in the export.
func TestRedialRefused(t *testing.T) {
	w := setup(t, fakevendor.FlashAICallsConfig{Enabled: true, Answer: 0, Delay: 100 * time.Millisecond},
		100*time.Millisecond, time.Hour)
	w.start()
	sum, phones := w.enqueueWith("flashai", recycleCampaign(t, `{"on": ["not_answered", "not_called"], "after": "2s", "max_attempts": 3}`), 20, 20)
	w.waitComplete(sum.Batch, 20*time.Second)
	// Refused from now on: the first send took it, the redial's plan will not.
	w.fake.Refuse("blacklisted by carrier", phones[3])
	ctx := context.Background()
	deadline := time.Now().Add(40 * time.Second)
	var rs *results.Status
	for {
		st, _ := w.batches.Status(ctx, sum.Batch)
		var err error
		if rs, err = results.StatusOf(ctx, w.results, st); err != nil {
			t.Fatal(err)
		}
		if rs.Complete && rs.Redialled >= 39 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("attempts 2 and 3 not complete: %+v", rs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// 20 redialled at attempt 2 (one refused), 19 at attempt 3.
	if rs.Redialled != 39 || rs.Refused != 1 || rs.Pending != 0 || rs.NotAnswered+rs.NotCalled != 19 {
		t.Errorf("status %+v; want 39 redialled, 1 refused, 19 final", rs)
	}
	if n := w.sends("flashai")[phones[3]]; n != 1 {
		t.Errorf("the refused number was taken %d times; want the first send only", n)
	}
	var rows []results.Row
	err := results.Export(ctx, w.batches, w.results, sum.Batch, func(r results.Row) error {
		if r.Phone == phones[3] {
			rows = append(rows, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1].Attempt != 2 || rows[1].Disposition != "refused" || rows[1].Reason != "blacklisted by carrier" {
		t.Errorf("export of the refused number: %+v; want attempt 2 refused with the vendor's reason, no attempt 3", rows)
	}
}

// TestRedialImportedHeld: an imported batch's redials obey pause and cancel (the
// batch has finished, so the hold is the redials' own, as `enqueue pause|cancel`
// set it): paused, nothing goes out until resumed; cancelled, nothing at all.
func TestRedialImportedHeld(t *testing.T) {
	w := setup(t, fakeCallsOff(), time.Hour, time.Hour)
	w.start()
	data := campaignWith(t, "yccall", `"recycle": {"on": ["not_answered"], "after": "1s", "max_attempts": 2}`)
	ctx := context.Background()
	var ids []string
	for i := range 2 {
		sum, phones := w.enqueueSized("yccall", data, 100*i, 10, 10, 0)
		w.waitDelivered(sum.Batch)
		disp := map[string]string{}
		for _, ph := range phones {
			disp[ph] = "not_answered"
		}
		w.importRows(sum.Batch, disp)
		ids = append(ids, sum.Batch)
	}
	for i, verb := range []string{"pause", "cancel"} {
		if ok, err := w.results.Hold(ctx, ids[i], verb); !ok || err != nil {
			t.Fatalf("%s: %v %v", verb, ok, err)
		}
	}
	time.Sleep(2500 * time.Millisecond)
	if n := w.fake.Ledger("yccall").Tasks; n != 2 {
		t.Fatalf("vendor tasks %d while one batch's redials are paused and the other's cancelled; want the 2 first sends", n)
	}
	st, _ := w.batches.Status(ctx, ids[1])
	if rs, _ := results.StatusOf(ctx, w.results, st); !rs.Complete || rs.Redialled != 0 {
		t.Errorf("cancelled: %+v", rs)
	}
	if ok, err := w.results.Hold(ctx, ids[0], "resume"); !ok || err != nil {
		t.Fatalf("resume: %v %v", ok, err)
	}
	if rs := w.waitRedialsDone(ids[0], 20*time.Second); rs.Redialled != 10 {
		t.Errorf("resumed: %+v", rs)
	}
	if n := w.fake.Ledger("yccall").Tasks; n != 3 {
		t.Errorf("vendor tasks %d after the resume; want 3", n)
	}
}

// TestImportAttempts: after a redial, a row is for the number's latest attempt;
// an attempt column may name it, and a row for a superseded attempt, an attempt
// never sent, or an attempt the vendor refused (Yccall invaliddata in the
// redial) is refused with its line.
func TestImportAttempts(t *testing.T) {
	w := setup(t, fakeCallsOff(), time.Hour, time.Hour)
	w.start()
	data := campaignWith(t, "yccall", `"recycle": {"on": ["not_answered"], "after": "1s", "max_attempts": 3}`)
	sum, phones := w.enqueueSized("yccall", data, 0, 10, 10, 0)
	w.waitDelivered(sum.Batch)
	disp := map[string]string{}
	for _, ph := range phones {
		disp[ph] = "not_answered"
	}
	w.fake.Refuse("number in blacklist", phones[5]) // the first send is over: only the redial meets it
	w.importRows(sum.Batch, disp)
	rs := w.waitRedialsDone(sum.Batch, 20*time.Second)
	if rs.Redialled != 10 || rs.Refused != 1 || rs.Pending != 9 {
		t.Fatalf("after the redial: %+v; want 10 redialled, 1 refused, 9 pending", rs)
	}
	ctx := context.Background()
	bad := "phone,disposition,attempt\n" +
		phones[0] + ",answered,1\n" + // line 2: attempt 1 was superseded by the redial
		phones[1] + ",not_answered,3\n" + // 3: attempt 3 never sent
		phones[2] + ",not_answered,x\n" + // 4: not an attempt
		phones[5] + ",not_answered,\n" // 5: refused by the vendor in attempt 2
	_, err := results.Import(ctx, w.batches, w.results, sum.Batch, strings.NewReader(bad), results.DefaultImportColumns)
	var ie *results.ImportError
	if !errors.As(err, &ie) || len(ie.Rows) != 4 {
		t.Fatalf("Import = %v; want 4 rows refused", err)
	}
	for i, want := range []string{"superseded by attempt 2", "not sent in attempt 3", `attempt "x"`, "refused by the vendor in attempt 2 (number in blacklist)"} {
		if ie.Rows[i].Line != int64(i+2) || !strings.Contains(ie.Rows[i].Reason, want) {
			t.Errorf("row %d: %+v; want line %d: %s", i, ie.Rows[i], i+2, want)
		}
	}
	var good strings.Builder
	good.WriteString("phone,disposition,attempt,duration_s\n")
	for i, ph := range phones {
		switch {
		case i == 5:
		case i%2 == 0:
			fmt.Fprintf(&good, "%s,answered,2,30\n", ph)
		default:
			fmt.Fprintf(&good, "%s,not_answered,,\n", ph) // the latest: attempt 2
		}
	}
	got, err := results.Import(ctx, w.batches, w.results, sum.Batch, strings.NewReader(good.String()), results.DefaultImportColumns)
	if err != nil {
		t.Fatal(err)
	}
	if err := results.ScheduleRedials(ctx, w.batches, w.results, w.poller.Redials.Queue, sum.Batch, got); err != nil || got.Redials != 1 {
		t.Fatalf("attempt 3 scheduled for %d parts (%v); want 1", got.Redials, err)
	}
	rs = w.waitRedialsDone(sum.Batch, 20*time.Second)
	if rs.Answered != 5 || rs.Redialled != 14 || rs.Refused != 1 || rs.Pending != 4 {
		t.Errorf("after attempt 2's results: %+v; want 5 answered, 4 more redialled (14), 4 pending", rs)
	}
	if n := w.sends("yccall")[phones[5]]; n != 1 {
		t.Errorf("the refused number reached the vendor %d times", n)
	}
}

// The example campaign with a recycle rule is valid as shipped.
func TestRecycleExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "examples", "yccall-recycle.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := producer.CampaignJSON("yccall", b); err != nil {
		t.Errorf("examples/yccall-recycle.json: %v", err)
	}
}
