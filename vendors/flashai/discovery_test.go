package flashai_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/flashai"
)

// TestDiscoveryAgainstFake reads each list from the fake, which checks every
// request's signature and nonce, in both entry forms the seed allows.
func TestDiscoveryAgainstFake(t *testing.T) {
	for _, bare := range []bool{false, true} {
		t.Run(map[bool]string{false: "id^name", true: "bare ids"}[bare], func(t *testing.T) {
			fake, c := setup(t, nil)
			tenant := fakevendor.FlashAITenant{
				Scripts: []fakevendor.FlashAIEntry{{ID: "11", Name: "Greeting"}, {ID: "12", Name: "Survey ^ v2"}},
				Params:  []fakevendor.FlashAIParam{{Name: "amount", Seq: 2, Type: "number"}, {Name: "name", Seq: 1, Type: "string"}},
				Lines:   []fakevendor.FlashAIEntry{{ID: "L1", Name: "Shanghai"}},
				Agents: []fakevendor.FlashAIAgent{{GroupID: "G1", GroupName: "Sales", AgentID: "A1", AgentName: "Li"},
					{GroupID: "G2", GroupName: "Support", AgentID: "A9", AgentName: "Wang"}},
				BareIDs: bare,
			}
			fake.SetFlashAITenant(tenant)
			ctx := context.Background()
			name := func(n string) string {
				if bare {
					return ""
				}
				return n
			}
			scripts, err := c.GetBotence(ctx)
			want := []flashai.Script{{ID: "11", Name: name("Greeting")}, {ID: "12", Name: name("Survey ^ v2")}}
			if diff := cmp.Diff(want, scripts); err != nil || diff != "" {
				t.Errorf("GetBotence = %v (-want +got):\n%s", err, diff)
			}
			lines, err := c.GetCallLine(ctx)
			if diff := cmp.Diff([]flashai.Line{{ID: "L1", Name: name("Shanghai")}}, lines); err != nil || diff != "" {
				t.Errorf("GetCallLine = %v (-want +got):\n%s", err, diff)
			}
			params, err := c.QueryPlanParams(ctx)
			wantParams := []flashai.Param{{Name: "name", Seq: 1, Type: "string"}, {Name: "amount", Seq: 2, Type: "number"}}
			if diff := cmp.Diff(wantParams, params); err != nil || diff != "" {
				t.Errorf("QueryPlanParams = %v (-want +got):\n%s", err, diff)
			}
			agents, err := c.QueryAgentGroup(ctx)
			wantAgents := &flashai.AgentList{Total: 2, Agents: []flashai.Agent{
				{GroupID: "G1", GroupName: "Sales", AgentID: "A1", AgentName: "Li"},
				{GroupID: "G2", GroupName: "Support", AgentID: "A9", AgentName: "Wang"}}}
			if diff := cmp.Diff(wantAgents, agents); err != nil || diff != "" {
				t.Errorf("QueryAgentGroup = %v (-want +got):\n%s", err, diff)
			}
		})
	}
}

func TestLineSummaryAgainstFake(t *testing.T) {
	_, c := setup(t, nil)
	ctx := context.Background()
	req := plan("lines_1", "13800000001", "13800000002", "13800000003")
	req.LineIDs = []string{"101", "102"}
	if _, err := c.AddPlan(ctx, req); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBatchSummaryGroupByLine(ctx, "lines_1")
	if err != nil {
		t.Fatal(err)
	}
	want := []flashai.LineStat{{LineID: "101", Numbers: 2}, {LineID: "102", Numbers: 1}}
	if diff := cmp.Diff(want, got.Lines); diff != "" || got.BatchName != "lines_1" {
		t.Errorf("lines of %s (-want +got):\n%s", got.BatchName, diff)
	}
	_, err = c.GetBatchSummaryGroupByLine(ctx, "nope")
	assertAPIError(t, err, flashai.CodeNoResult, vendors.Permanent)
	if _, err := c.GetBatchSummaryGroupByLine(ctx, ""); err == nil {
		t.Error("empty batch name was sent")
	}
}

// TestDiscoveryFields pins each documented field and the lenient forms.
func TestDiscoveryFields(t *testing.T) {
	s := &scripted{answers: []answer{
		{200, nil, `{"code":"0","body":{"botenceList":"7^Greeting|8||9^A^B"}}`},
		{200, nil, `{"code":"0","body":{"lineList":["L1^One|L2","L3"]}}`},
		{200, nil, `{"code":"0","body":{"paramSeqList":"b^2^date|a^1"}}`},
		{200, nil, `{"code":"0","body":{"records":[{"agentGroupId":5,"agentGroupName":"G","agentId":"6","agentName":"N"}],"total":30}}`},
		{200, nil, `{"code":"0","body":{"batchName":"b","lineSummary":"101^10^4^2026-11-23 10:01:02|102^^^"}}`},
	}}
	c := scriptedClient(t, s, nil)
	ctx := context.Background()
	scripts, err := c.GetBotence(ctx)
	if diff := cmp.Diff([]flashai.Script{{"7", "Greeting"}, {"8", ""}, {"9", "A^B"}}, scripts); err != nil || diff != "" {
		t.Errorf("scripts = %v (-want +got):\n%s", err, diff)
	}
	lines, err := c.GetCallLine(ctx)
	if diff := cmp.Diff([]flashai.Line{{"L1", "One"}, {"L2", ""}, {"L3", ""}}, lines); err != nil || diff != "" {
		t.Errorf("lines = %v (-want +got):\n%s", err, diff)
	}
	params, err := c.QueryPlanParams(ctx)
	if diff := cmp.Diff([]flashai.Param{{"a", 1, ""}, {"b", 2, "date"}}, params); err != nil || diff != "" {
		t.Errorf("params = %v (-want +got):\n%s", err, diff)
	}
	agents, err := c.QueryAgentGroup(ctx)
	want := &flashai.AgentList{Total: 30, Agents: []flashai.Agent{{"5", "G", "6", "N"}}}
	if diff := cmp.Diff(want, agents); err != nil || diff != "" {
		t.Errorf("agents = %v (-want +got):\n%s", err, diff)
	}
	sum, err := c.GetBatchSummaryGroupByLine(ctx, "b")
	wantSum := &flashai.LineSummary{BatchName: "b", Raw: "101^10^4^2026-11-23 10:01:02|102^^^", Lines: []flashai.LineStat{
		{LineID: "101", Numbers: 10, Ended: 4, LastCall: "2026-11-23 10:01:02"}, {LineID: "102"}}}
	if diff := cmp.Diff(wantSum, sum); err != nil || diff != "" {
		t.Errorf("line summary = %v (-want +got):\n%s", err, diff)
	}
	wantPaths := []string{"/api/v1/thirdApi/getBotence", "/api/v1/thirdApi/getCallLine", "/api/v1/thirdApi/queryPlanParams",
		"/api/v1/thirdApi/queryAgentGroup", "/api/v1/thirdApi/getBatchSummaryGroupByLine"}
	if diff := cmp.Diff(wantPaths, s.paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	// Each body is signed over exactly what it carries.
	for i, b := range s.bodies {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		p, err := flashai.StringParams(m)
		if err != nil {
			t.Fatal(err)
		}
		if m["sign"] != flashai.Sign(p, testSecret) || m["signType"] != "MD5" || m["clientId"] != testClientID {
			t.Errorf("body %d is not signed as the sheet says: %s", i, b)
		}
		if _, ok := m["batchName"]; ok != (i == 4) {
			t.Errorf("body %d batchName present = %v", i, ok)
		}
	}
}

func TestDiscoveryMalformed(t *testing.T) {
	calls := map[string]func(*flashai.Client) error{
		"scripts": func(c *flashai.Client) error { _, err := c.GetBotence(context.Background()); return err },
		"lines":   func(c *flashai.Client) error { _, err := c.GetCallLine(context.Background()); return err },
		"params":  func(c *flashai.Client) error { _, err := c.QueryPlanParams(context.Background()); return err },
		"agents":  func(c *flashai.Client) error { _, err := c.QueryAgentGroup(context.Background()); return err },
		"summary": func(c *flashai.Client) error {
			_, err := c.GetBatchSummaryGroupByLine(context.Background(), "b")
			return err
		},
	}
	tests := []struct{ name, call, body string }{
		{"scripts no body", "scripts", `{"code":"0"}`},
		{"scripts empty id", "scripts", `{"code":"0","body":{"botenceList":"7|^Nameless"}}`},
		{"scripts object", "scripts", `{"code":"0","body":{"botenceList":{"a":1}}}`},
		{"lines empty id", "lines", `{"code":"0","body":{"lineList":" ^x"}}`},
		{"params missing", "params", `{"code":"0","body":{}}`},
		{"params bad seq", "params", `{"code":"0","body":{"paramSeqLsit":"name^first^string"}}`},
		{"params no name", "params", `{"code":"0","body":{"paramSeqLsit":"^1^string"}}`},
		{"agents missing", "agents", `{"code":"0","body":{"total":1}}`},
		{"agents no id", "agents", `{"code":"0","body":{"records":[{"agentGroupId":"G1"}]}}`},
		{"summary missing", "summary", `{"code":"0","body":{"batchName":"b"}}`},
		{"summary bad count", "summary", `{"code":"0","body":{"lineSummary":"101^ten^0^"}}`},
		{"summary no line", "summary", `{"code":"0","body":{"lineSummary":"^1^0^"}}`},
		{"not json", "scripts", `<html>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := scriptedClient(t, &scripted{answers: []answer{{200, nil, tt.body}}}, nil)
			err := calls[tt.call](c)
			var me *vendors.MalformedError
			if !errors.As(err, &me) {
				t.Errorf("error = %v (%T); want a *vendors.MalformedError", err, err)
			}
		})
	}
}

func TestDiscoveryRefused(t *testing.T) {
	_, c := setup(t, func(cfg *flashai.Config) { cfg.ClientSecret = "wrong" })
	_, err := c.GetBotence(context.Background())
	assertAPIError(t, err, flashai.CodeBadSign, vendors.AuthRefused)
}
