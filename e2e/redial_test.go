package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A Yccall batch (results by import) with a recycle rule, two worker processes:
// `enqueue results import` of the vendor's export schedules the redials; after
// the rule's delay the numbers not answered or not called go out once more in
// follow-up tasks, answered ones never; the export holds one row per number and
// attempt, number by number as the fake's ledger counts them; a second import at
// max_attempts redials nothing and the results are complete.
func TestYccallRedialEndToEnd(t *testing.T) {
	w := setup(t)
	w.startWorker()
	w.startWorker()
	phones := numbers(300, 900)
	base, err := os.ReadFile("../examples/yccall.json")
	if err != nil {
		t.Fatal(err)
	}
	camp := strings.TrimSpace(string(base))
	camp = camp[:len(camp)-1] + `, "recycle": {"on": ["not_answered", "not_called"], "after": "2s", "max_attempts": 2}}`
	dir := t.TempDir()
	campFile := filepath.Join(dir, "yccall.json")
	if err := os.WriteFile(campFile, []byte(camp), 0o600); err != nil {
		t.Fatal(err)
	}
	r := w.run("enqueue", strings.Join(phones, "\n")+"\n", nil, "-vendor", "yccall", "-campaign", campFile, "-json", "-part-size", "100", "-")
	var sum map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || r.code != 0 {
		t.Fatalf("enqueue: %d %s %s", r.code, r.stdout, r.stderr)
	}
	id := sum["batch"].(string)
	w.waitSettled(id, 60*time.Second)

	disp := map[string]string{}
	var csv strings.Builder
	csv.WriteString("Mobile,Result,Secs\n")
	for i, ph := range phones {
		disp[ph] = []string{"answered", "not_answered", "not_called"}[i%3]
		secs := ""
		if disp[ph] == "answered" {
			secs = "40"
		}
		fmt.Fprintf(&csv, "%s,%s,%s\n", ph, disp[ph], secs)
	}
	file := filepath.Join(dir, "export.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	imported := time.Now()
	r = w.run("enqueue", "", nil, "results", "import", "-phone-col", "Mobile", "-disposition-col", "Result", "-duration-col", "Secs", id, file)
	if r.code != 0 || !strings.Contains(r.stderr, "redials scheduled for 3 parts") {
		t.Fatalf("results import: exit %d: %s", r.code, r.stderr)
	}
	type resultsJSON struct {
		Answered    int64 `json:"answered"`
		NotAnswered int64 `json:"not_answered"`
		NotCalled   int64 `json:"not_called"`
		Pending     int64 `json:"pending"`
		Redialled   int64 `json:"redialled"`
		Complete    bool  `json:"complete"`
	}
	status := func() resultsJSON {
		r := w.run("enqueue", "", nil, "status", "-json", id)
		var st struct {
			Results resultsJSON `json:"results"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatalf("status -json: %v: %s %s", err, r.stdout, r.stderr)
		}
		return st.Results
	}
	deadline := time.Now().Add(60 * time.Second)
	for w.fake.Ledger("yccall").Tasks < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("no redial tasks: ledger %d tasks, status %+v", w.fake.Ledger("yccall").Tasks, status())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if took := time.Since(imported); took < 2*time.Second {
		t.Errorf("redialled %s after the import; the rule says 2s", took)
	}
	for deadline = time.Now().Add(30 * time.Second); status().Redialled < 200; {
		if time.Now().After(deadline) {
			t.Fatalf("redials not recorded: %+v", status())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st := status(); st.Redialled != 200 || st.Pending != 200 || st.Complete || st.Answered != 100 {
		t.Errorf("after the redials: %+v; want 200 redialled and pending, 100 answered", st)
	}

	out := filepath.Join(dir, "results.jsonl")
	r = w.run("enqueue", "", nil, "results", "-format", "jsonl", "-o", out, id)
	if r.code != 0 || !strings.Contains(r.stderr, "500 rows") {
		t.Fatalf("enqueue results: exit %d: %s", r.code, r.stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var row struct {
			Phone       string `json:"phone"`
			Attempt     int    `json:"attempt"`
			Disposition string `json:"disposition"`
			VendorTask  string `json:"vendor_task"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		if row.Attempt != rows[row.Phone]+1 || row.VendorTask == "" ||
			(row.Attempt == 1 && row.Disposition != disp[row.Phone]) || (row.Attempt == 2 && row.Disposition != "pending") {
			t.Errorf("row %s", sc.Text())
		}
		rows[row.Phone]++
	}
	// The fake's ledger: each number as often as the export has attempts for it,
	// twice for the numbers not answered, once for the answered.
	ledger := w.fake.Ledger("yccall").Numbers
	for _, ph := range phones {
		want := 2
		if disp[ph] == "answered" {
			want = 1
		}
		if ledger[ph] != want || rows[ph] != want {
			t.Errorf("%s (%s): fake got it %d times, export has %d attempts; want %d", ph, disp[ph], ledger[ph], rows[ph], want)
		}
	}

	// The redial's results: at max_attempts nothing more goes out.
	var second strings.Builder
	second.WriteString("phone,disposition\n")
	for _, ph := range phones {
		if disp[ph] != "answered" {
			fmt.Fprintf(&second, "%s,not_answered\n", ph)
		}
	}
	r = w.run("enqueue", second.String(), nil, "results", "import", id, "-")
	if r.code != 0 || strings.Contains(r.stderr, "redials scheduled") {
		t.Fatalf("second import: exit %d: %s", r.code, r.stderr)
	}
	time.Sleep(3 * time.Second)
	if n := w.fake.Ledger("yccall").Tasks; n != 6 {
		t.Errorf("vendor tasks %d after the redial's import; want 6", n)
	}
	if st := status(); !st.Complete || st.NotAnswered != 200 || st.Pending != 0 {
		t.Errorf("after the second import: %+v", st)
	}
}
