package fakevendor

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/dialq/dialq/vendors/flashai"
)

func faBodyField(t *testing.T, a faAnswer, field string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.Body, &m); err != nil {
		t.Fatalf("body %s: %v", a.Body, err)
	}
	return m[field]
}

func TestFlashAIDiscoveryEndpoints(t *testing.T) {
	f := faSetup(t, 0)
	for path, want := range map[string]struct{ field, value string }{
		"/getBotence":      {"botenceList", "2873^Spring greeting|2874^Payment reminder"},
		"/getCallLine":     {"lineList", "101^Shanghai 01|102^Beijing 02"},
		"/queryPlanParams": {"paramSeqLsit", "name^1^string|amount^2^number|due^3^date"},
	} {
		a := f.post(path, f.signed(nil))
		if a.Code != "0" || faBodyField(t, a, want.field) != want.value {
			t.Errorf("%s = %s %s; want %s %q", path, a.Code, a.Body, want.field, want.value)
		}
		// Strict as every endpoint: a bad signature and a reused nonce are refused.
		if a := f.post(path, f.signed(map[string]any{"sign": "00"})); a.Code != flashai.CodeBadSign {
			t.Errorf("%s with a bad sign: code %s", path, a.Code)
		}
		if a := f.post(path, f.signed(map[string]any{"clientId": "other"})); a.Code != flashai.CodeUnknownClient {
			t.Errorf("%s with another client: code %s", path, a.Code)
		}
	}
	a := f.post("/queryAgentGroup", f.signed(nil))
	recs, _ := faBodyField(t, a, "records").([]any)
	if a.Code != "0" || len(recs) != 3 {
		t.Fatalf("queryAgentGroup = %s %s; want 3 records", a.Code, a.Body)
	}
	if r := recs[2].(map[string]any); r["agentGroupId"] != "G2" || r["agentId"] != "A3" || r["agentName"] != "Wang Fang" || r["agentGroupName"] != "Support" {
		t.Errorf("record = %v", r)
	}

	// The admin endpoint replaces the tenant; bare ids leave the names out.
	resp, err := http.Post(strings.TrimSuffix(f.url, "/flashai")+"/_admin/flashai/tenant", "application/json",
		bytes.NewReader([]byte(`{"scripts":[{"id":"9","name":"x"}],"lines":[{"id":"L7"}],"bare_ids":true}`)))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("set tenant: %v %v", resp, err)
	}
	resp.Body.Close()
	if a := f.post("/getBotence", f.signed(nil)); faBodyField(t, a, "botenceList") != "9" {
		t.Errorf("bare scripts = %s", a.Body)
	}
	if a := f.post("/queryPlanParams", f.signed(nil)); faBodyField(t, a, "paramSeqLsit") != "" {
		t.Errorf("no params = %s", a.Body)
	}
	f.s.Reset()
	if a := f.post("/getCallLine", f.signed(nil)); faBodyField(t, a, "lineList") != "L7" {
		t.Errorf("the tenant did not survive Reset: %s", a.Body)
	}
}

func faAgentPlan(batch, list string) map[string]any {
	return map[string]any{"batchName": batch, "agentGroupId": "G1", "agentId": "A1", "addType": "1",
		"callType": "0", "mobileList": list}
}

func TestFlashAIAddAgentPlan(t *testing.T) {
	f := faSetup(t, 3)
	good := faAgentPlan("ag1", faList("13800000001", "13800000002"))
	tests := []struct {
		name string
		body map[string]any
		code string
	}{
		{"no batch", faWith(good, "batchName", nil), flashai.CodeIllegalParams},
		{"no group", faWith(good, "agentGroupId", nil), flashai.CodeIllegalParams},
		{"no agent", faWith(good, "agentId", nil), flashai.CodeIllegalParams},
		{"no add type", faWith(good, "addType", nil), flashai.CodeIllegalParams},
		{"bad call type", faWith(good, "callType", "2"), flashai.CodeIllegalParams},
		{"no list", faWith(good, "mobileList", nil), flashai.CodeIllegalParams},
		{"bad list", faWith(good, "mobileList", "1^2^3^4^5^6"), flashai.CodeIllegalParams},
		{"unknown group", faWith(good, "agentGroupId", "G9"), flashai.CodeOperationFailed},
		{"agent of another group", faWith(good, "agentId", "A3"), flashai.CodeOperationFailed},
		{"too many", faWith(good, "mobileList", faList("13800000001", "13800000002", "13800000003", "13800000004")), flashai.CodeTooManyNumbers},
	}
	for _, tt := range tests {
		if a := f.post("/addAgentPlan", f.signed(tt.body)); a.Code != tt.code {
			t.Errorf("%s: code %s (%s); want %s", tt.name, a.Code, a.Msg, tt.code)
		}
	}
	if l := f.s.Ledger(FlashAI); l.Tasks != 0 || len(l.Numbers) != 0 {
		t.Fatalf("refused calls reached the ledger: %+v", l)
	}
	f.s.Poison("13800000002")
	if a := f.post("/addAgentPlan", f.signed(good)); a.Code != flashai.CodeIllegalParams {
		t.Errorf("poisoned: code %s", a.Code)
	}
	f.s.Reset()
	if a := f.post("/addAgentPlan", f.signed(faWith(good, "callType", nil))); a.Code != "0" || faBodyField(t, a, "rightCount") != 2.0 {
		t.Fatalf("good agent plan: %s %s", a.Code, a.Body)
	}
	if a := f.post("/addAgentPlan", f.signed(good)); a.Code != flashai.CodeDuplicateBatchName {
		t.Errorf("repeat: code %s", a.Code)
	}
	if a := f.post("/addPlan", f.signed(faPlan("ag1", faList("13800000003")))); a.Code != flashai.CodeDuplicateBatchName {
		t.Errorf("addPlan under an agent plan's name: code %s", a.Code)
	}
	if l := f.s.Ledger(FlashAI); l.Tasks != 1 || l.Numbers["13800000001"] != 1 || l.Numbers["13800000002"] != 1 {
		t.Errorf("ledger = %+v", l)
	}
	// An agent plan has no line.
	if a := f.post("/getBatchSummaryGroupByLine", f.signed(map[string]any{"batchName": "ag1"})); faBodyField(t, a, "lineSummary") != "" {
		t.Errorf("agent plan lines = %s", a.Body)
	}
}

func TestFlashAILineSummary(t *testing.T) {
	f := faSetup(t, 0)
	list := faList("13800000001", "13800000002", "13800000003", "13800000004", "13800000005")
	if a := f.post("/addPlan", f.signed(faWith(faPlan("l1", list), "lineIds", "101,102"))); a.Code != "0" {
		t.Fatal(a.Msg)
	}
	if a := f.post("/addPlan", f.signed(faPlan("l2", faList("13800000006")))); a.Code != "0" {
		t.Fatal(a.Msg)
	}
	for batch, want := range map[string]string{"l1": "101^3^0^|102^2^0^", "l2": "101^1^0^"} {
		a := f.post("/getBatchSummaryGroupByLine", f.signed(map[string]any{"batchName": batch}))
		if faBodyField(t, a, "lineSummary") != want || faBodyField(t, a, "batchName") != batch {
			t.Errorf("%s lines = %s; want %s", batch, a.Body, want)
		}
	}
	if a := f.post("/getBatchSummaryGroupByLine", f.signed(map[string]any{"batchName": "zz"})); a.Code != flashai.CodeNoResult {
		t.Errorf("unknown batch: code %s", a.Code)
	}
	if a := f.post("/getBatchSummaryGroupByLine", f.signed(nil)); a.Code != flashai.CodeIllegalParams {
		t.Errorf("no batch: code %s", a.Code)
	}
}
