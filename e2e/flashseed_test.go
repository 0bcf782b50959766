package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/vendors/registry"
)

// writeFile writes a campaign (or any file) for a binary to read.
func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// An agent campaign goes through the real binaries: the preflight finds its group
// and agent at the vendor, the worker hands every number once to the agent with
// addAgentPlan (one agent plan a part), and a campaign naming an agent the tenant
// lacks is refused before anything is written.
func TestAgentCampaignWithBinaries(t *testing.T) {
	w := setup(t)
	phones := numbers(600, 510000)
	wrong := writeFile(t, "wrong.json", `{"agent": {"group_id": "G1", "agent_id": "A3", "add_type": "1"}, "batch_name_prefix": "x"}`)
	r := w.run("enqueue", list(phones), nil, "-vendor", "flashai", "-campaign", wrong, "-")
	if r.code != 1 || !strings.Contains(r.stderr, `agent.agent_id: "A3"`) || !strings.Contains(r.stderr, "A1 Li Lei, A2 Han Meimei") {
		t.Fatalf("unknown agent: %+v", r)
	}
	if keys := w.db.Client.Keys(context.Background(), "*").Val(); len(keys) != 0 {
		t.Fatalf("a refused campaign wrote %v", keys)
	}
	r = w.run("enqueue", list(phones), nil, "-vendor", "flashai", "-campaign", "../examples/flashai-agent.json",
		"-part-size", "200", "-json", "-")
	var sum map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &sum); r.code != 0 || err != nil {
		t.Fatalf("enqueue agents: %+v", r)
	}
	if check, _ := sum["vendor_check"].(string); !strings.HasPrefix(check, "checked against the FlashAI tenant") {
		t.Errorf("summary %v", sum)
	}
	id := sum["batch"].(string)
	w.startWorker()
	st := w.waitSettled(id, time.Minute)
	if !st.Finished || st.Delivered != 600 {
		t.Fatalf("status %+v; want 600 delivered", st)
	}
	if n := w.noneTwice(registry.FlashAI); n != 600 {
		t.Errorf("vendor holds %d numbers; want 600", n)
	}
	if got := w.fake.Ledger(registry.FlashAI).Tasks; got != 3 {
		t.Errorf("agent plans = %d; want 3", got)
	}
}

// A FlashAI batch dialled over two lines: the batch page, its API and enqueue
// status show each line's numbers, summed over the batch's plans.
func TestVendorLinesWithBinaries(t *testing.T) {
	w := setup(t)
	camp := writeFile(t, "lines.json", `{"botence_id": "2874", "call_date": "20261123", "call_hours": [9, 10],
		"clear": 0, "line_ids": ["101", "102"], "recall": 0, "batch_name_prefix": "two_lines"}`)
	r := w.run("enqueue", list(numbers(500, 520000)), nil, "-vendor", "flashai", "-campaign", camp,
		"-part-size", "250", "-json", "-")
	var sum map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &sum); r.code != 0 || err != nil {
		t.Fatalf("enqueue: %+v", r)
	}
	id := sum["batch"].(string)
	_, addr := w.startServing()
	w.waitSettled(id, time.Minute)

	resp, err := http.Get("http://" + addr + "/api/batches/" + id)
	if err != nil {
		t.Fatal(err)
	}
	var api struct {
		Lines []struct {
			Line     string  `json:"line"`
			Numbers  int     `json:"numbers"`
			Ended    int     `json:"ended"`
			LastCall *string `json:"last_call"`
		} `json:"vendor_lines"`
	}
	body := readAll(resp)
	if err := json.Unmarshal([]byte(body), &api); err != nil {
		t.Fatalf("api: %v in %s", err, body)
	}
	if len(api.Lines) != 2 || api.Lines[0].Line != "101" || api.Lines[0].Numbers != 250 ||
		api.Lines[1].Line != "102" || api.Lines[1].Numbers != 250 || api.Lines[0].LastCall == nil {
		t.Errorf("vendor_lines = %+v; want 101 and 102 with 250 numbers each", api.Lines)
	}
	resp, err = http.Get("http://" + addr + "/batches/" + id)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(resp)
	for _, l := range []string{"101", "102"} {
		if !strings.Contains(page, `<tr data-line="`+l+`"><td>`+l+`</td><td class="n">250</td>`) {
			t.Errorf("page lacks line %s with 250 numbers", l)
		}
	}
	r = w.run("enqueue", "", nil, "status", id)
	if r.code != 0 || !strings.Contains(r.stdout, "vendor line") || !hasFields(r.stdout, "101 250 0 -") || !hasFields(r.stdout, "102 250 0 -") {
		t.Errorf("status: %+v", r)
	}
	r = w.run("enqueue", "", nil, "status", "-json", id)
	if r.code != 0 || !strings.Contains(r.stdout, `"vendor_lines":[{"line":"101","numbers":250,"ended":0,"last_call":""}`) {
		t.Errorf("status -json: %+v", r)
	}
	r = w.run("enqueue", "", nil, "vendor", "flashai", "lines")
	if r.code != 0 || !strings.Contains(r.stdout, "102  Beijing 02") {
		t.Errorf("vendor flashai lines: %+v", r)
	}
}

// hasFields reports whether a line of out holds exactly fields (space separated).
func hasFields(out, fields string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(l), " ") == fields {
			return true
		}
	}
	return false
}
