package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/fakevendor"
)

// A FlashAI batch whose calls end over two seconds, with a recycle rule: the
// worker process polls (and hears the fake's callbacks), redials the numbers not
// answered once, `enqueue status -json` shows the results complete, and
// `enqueue results` exports one row per number and attempt, number by number as
// the fake's ledger has them.
func TestResultsEndToEnd(t *testing.T) {
	w := setup(t)
	w.fake.SetFlashAICalls(fakevendor.FlashAICallsConfig{Enabled: true, Answer: 0.5, NotCalled: 0.1, Delay: 2 * time.Second})
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	w.startWorker("WORKER_HTTP_ADDR="+addr, "DIALQ_RESULTS_POLL=1s", "DIALQ_CALLBACK_BASE_URL=http://"+addr,
		"DIALQ_CALLBACK_SECRET=e2e-callback-secret-0123")
	phones := numbers(2000, 500)
	base, err := os.ReadFile("../examples/flashai.json")
	if err != nil {
		t.Fatal(err)
	}
	camp := strings.TrimSpace(string(base))
	camp = camp[:len(camp)-1] + `, "recycle": {"on": ["not_answered", "not_called"], "after": "2s", "max_attempts": 2}}`
	campFile := filepath.Join(t.TempDir(), "flashai.json")
	if err := os.WriteFile(campFile, []byte(camp), 0o600); err != nil {
		t.Fatal(err)
	}
	r := w.run("enqueue", strings.Join(phones, "\n")+"\n", nil, "-vendor", "flashai", "-campaign", campFile, "-json", "-part-size", "500", "-")
	var sum map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || r.code != 0 {
		t.Fatalf("enqueue: %d %s %s", r.code, r.stdout, r.stderr)
	}
	id := sum["batch"].(string)

	type resultsJSON struct {
		Answered, NotAnswered, NotCalled, Pending, Redialled int64
		Complete                                             bool
	}
	var res resultsJSON
	deadline := time.Now().Add(90 * time.Second)
	for {
		r := w.run("enqueue", "", nil, "status", "-json", id)
		var st struct {
			Delivered int64
			Results   struct {
				Answered    int64 `json:"answered"`
				NotAnswered int64 `json:"not_answered"`
				NotCalled   int64 `json:"not_called"`
				Pending     int64 `json:"pending"`
				Redialled   int64 `json:"redialled"`
				Complete    bool  `json:"complete"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatalf("status -json: %v: %s %s", err, r.stdout, r.stderr)
		}
		res = resultsJSON{st.Results.Answered, st.Results.NotAnswered, st.Results.NotCalled, st.Results.Pending,
			st.Results.Redialled, st.Results.Complete}
		if res.Complete {
			if res.Redialled == 0 {
				t.Fatalf("complete without a redial: %+v", res)
			}
			if st.Delivered != 2000 || res.Answered+res.NotAnswered+res.NotCalled != 2000 || res.Pending != 0 {
				t.Fatalf("complete with delivered %d, results %+v", st.Delivered, res)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("results not complete: %+v", res)
		}
		time.Sleep(300 * time.Millisecond)
	}

	out := filepath.Join(t.TempDir(), "results.jsonl")
	r = w.run("enqueue", "", nil, "results", "-format", "jsonl", "-o", out, id)
	if r.code != 0 || !strings.Contains(r.stderr, fmt.Sprintf("%d rows", 2000+res.Redialled)) {
		t.Fatalf("enqueue results: exit %d: %s", r.code, r.stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string]string{}
	attempts := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var row struct {
			Phone       string `json:"phone"`
			Disposition string `json:"disposition"`
			VendorTask  string `json:"vendor_task"`
			Attempt     int    `json:"attempt"`
			Answered    bool   `json:"answered"`
			AnswerTime  string `json:"answer_time"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		if row.Attempt != attempts[row.Phone]+1 || row.VendorTask == "" || row.Answered != (row.Disposition == "answered") ||
			(row.Answered && row.AnswerTime == "") || (row.Attempt == 2) != strings.HasSuffix(row.VendorTask, "_r2") {
			t.Errorf("row %s after attempt %d", sc.Text(), attempts[row.Phone])
		}
		attempts[row.Phone] = row.Attempt
		got[fmt.Sprintf("%s#%d", row.Phone, row.Attempt)] = row.Disposition
	}
	// The fake's ledger: each number's fate in each plan it was given.
	want := map[string]string{}
	for name, plan := range w.fake.FlashAIResults() {
		k := 1
		if strings.HasSuffix(name, "_r2") {
			k = 2
		}
		for ph, d := range plan {
			want[fmt.Sprintf("%s#%d", ph, k)] = d
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("exported results (-fake +dialq):\n%s", diff)
	}
	// A forged callback is refused by the worker's listener, without the dashboard's auth.
	resp, err := http.Post("http://"+addr+"/callbacks/flashai/"+strings.Repeat("ab", 16), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("forged callback: %d", resp.StatusCode)
	}
}
