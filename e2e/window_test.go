package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/vendors/registry"
)

// A campaign's calling window that opens at the next minute holds the batch's parts
// until then, with the real binaries and a real wait: nothing reaches the vendor
// before the opening, the parts show waiting with its time, and they go out after.
func TestWindowOpensWithBinaries(t *testing.T) {
	w := setup(t)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	opens := time.Now().In(shanghai).Truncate(time.Minute).Add(time.Minute)
	if time.Until(opens) < 5*time.Second {
		opens = opens.Add(time.Minute) // too close to tell waiting from sent
	}
	campaign := fmt.Sprintf(`{"country":"CN","task_name":"window","strategy_name":"s","dispatch_type":0,"agent_group_no":"G1",
		"predict_call_rate":1,"ratio_call_rate":1,"start_count":1,"compliance":{"window":{"timezone":"Asia/Shanghai",
		"days":["mon","tue","wed","thu","fri","sat","sun"],"from":%q,"to":%q}}}`,
		opens.Format("15:04"), opens.Add(time.Hour).Format("15:04"))
	file := filepath.Join(t.TempDir(), "window.json")
	if err := os.WriteFile(file, []byte(campaign), 0o600); err != nil {
		t.Fatal(err)
	}
	r := w.run("enqueue", list(numbers(200, 440000)), nil, "-vendor", registry.NXCloud, "-campaign", file, "-part-size", "100", "-json", "-")
	if r.code != 0 {
		t.Fatalf("enqueue: %+v", r)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	id := sum["batch"].(string)
	w.startWorker()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := w.status(id)
		if st.PartStates[ledger.PartWaiting] == 2 {
			for _, p := range st.Waiting {
				if p.ResumeAt == nil || !p.ResumeAt.Equal(opens.UTC()) {
					t.Errorf("part %d waits until %v; want %v", p.Part, p.ResumeAt, opens.UTC())
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("parts not waiting for the window: %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := len(w.fake.Ledger(registry.NXCloud).Numbers); n != 0 && time.Now().Before(opens) {
		t.Fatalf("%d numbers sent before the window opened", n)
	}
	st := w.waitSettled(id, time.Until(opens)+60*time.Second)
	if st.Delivered != 200 || !st.Finished {
		t.Fatalf("after the window opened: %+v", st)
	}
	if first := w.fake.Stats(); first.Calls[registry.NXCloud] != 2 {
		t.Errorf("vendor calls %d; want 2", first.Calls[registry.NXCloud])
	}
	t.Logf("window opened %s; batch finished %s later", opens.Format(time.RFC3339), time.Since(opens).Round(time.Second))
}
