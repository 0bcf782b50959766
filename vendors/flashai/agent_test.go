package flashai_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/flashai"
)

func agentPlan(batch string, phones ...string) *flashai.AddAgentPlanRequest {
	return &flashai.AddAgentPlanRequest{BatchName: batch, AgentGroupID: "G1", AgentID: "A2", AddType: "1",
		CallType: flashai.CallTypeDirect, NotifyURL: "http://cb.example/?a=1", MobileList: mobileList(phones...)}
}

func TestAddAgentPlanAgainstFake(t *testing.T) {
	fake, c := setup(t, nil)
	ctx := context.Background()
	got, err := c.AddAgentPlan(ctx, agentPlan("agents_1", "13800000001", "13800000002", "12"))
	if err != nil {
		t.Fatal(err)
	}
	want := &flashai.AddPlanResponse{RightCount: 2, FailCount: 1, FailMobileInfo: "12:invalid phone",
		Failed: []flashai.FailedMobile{{Phone: "12", Reason: "invalid phone"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AddAgentPlan (-want +got):\n%s", diff)
	}
	if l := fake.Ledger("flashai"); l.Tasks != 1 || len(l.Numbers) != 2 {
		t.Errorf("ledger = %+v; want 1 task, 2 numbers", l)
	}
	// The agent plan is a plan like any other: listed, controlled, named once.
	list, err := c.GetBatchPlanList(ctx, &flashai.ListRequest{BatchName: "agents_1", Page: 1, PageNum: 10})
	if err != nil || list.TotalRecord != 2 {
		t.Errorf("list = %+v, %v; want 2 numbers", list, err)
	}
	if err := c.BatchPlanPause(ctx, "agents_1"); err != nil {
		t.Errorf("pause: %v", err)
	}
	_, err = c.AddAgentPlan(ctx, agentPlan("agents_1", "13800000003"))
	if !flashai.IsDuplicateName(err) {
		t.Errorf("repeat name: %v; want 101007", err)
	}
	wrong := agentPlan("agents_2", "13800000003")
	wrong.AgentID = "A3" // in G2, not G1
	_, err = c.AddAgentPlan(ctx, wrong)
	assertAPIError(t, err, flashai.CodeOperationFailed, vendors.Permanent)
	wrong.AgentGroupID = "G9"
	_, err = c.AddAgentPlan(ctx, wrong)
	assertAPIError(t, err, flashai.CodeOperationFailed, vendors.Permanent)
	if l := fake.Ledger("flashai"); l.Tasks != 1 {
		t.Errorf("refused agent plans reached the ledger: %+v", l)
	}
	_, err = c.AddAgentPlan(ctx, agentPlan("agents_3", "13800000001", "13800000002", "13800000003", "13800000004", "13800000005", "13800000006"))
	assertAPIError(t, err, flashai.CodeTooManyNumbers, vendors.InvalidPart)
}

func TestAddAgentPlanBody(t *testing.T) {
	s := &scripted{answers: []answer{{200, nil, `{"code":"0","body":{"rightCount":"1","failCount":0,"failMobileInfo":""}}`},
		{200, nil, `{"code":"0","body":{"rightCount":1}}`},
		{200, nil, `{"code":"0"}`}}}
	c := scriptedClient(t, s, nil)
	ctx := context.Background()
	if _, err := c.AddAgentPlan(ctx, agentPlan("b", "13800000001")); err != nil {
		t.Fatal(err)
	}
	req := agentPlan("b2", "13800000001")
	req.CallType, req.NotifyURL = "", ""
	if _, err := c.AddAgentPlan(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddAgentPlan(ctx, req); !errors.As(err, new(*vendors.MalformedError)) {
		t.Errorf("answer without body: %v; want malformed", err)
	}
	var first, second map[string]any
	if err := json.Unmarshal(s.bodies[0], &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(s.bodies[1], &second); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"batchName": "b", "agentGroupId": "G1", "agentId": "A2", "addType": "1",
		"callType": "1", "notifyUrl": "http://cb.example/?a=1", "mobileList": "13800000001^att0^p1-p2^Name^Co"} {
		if first[k] != v {
			t.Errorf("body %s = %v; want %v", k, first[k], v)
		}
	}
	for _, k := range []string{"callType", "notifyUrl", "userId", "botenceId"} {
		if _, ok := second[k]; ok {
			t.Errorf("body carries %s when it should not: %v", k, second)
		}
	}
	if s.paths[0] != "/api/v1/thirdApi/addAgentPlan" {
		t.Errorf("path = %s", s.paths[0])
	}
}

func TestAddAgentPlanRefusesBadInput(t *testing.T) {
	s := &scripted{answers: []answer{{200, nil, `{"code":"0","body":{}}`}}}
	c := scriptedClient(t, s, nil)
	for field, edit := range map[string]func(*flashai.AddAgentPlanRequest){
		"batchName":    func(r *flashai.AddAgentPlanRequest) { r.BatchName = "" },
		"agentGroupId": func(r *flashai.AddAgentPlanRequest) { r.AgentGroupID = " " },
		"agentId":      func(r *flashai.AddAgentPlanRequest) { r.AgentID = "" },
		"addType":      func(r *flashai.AddAgentPlanRequest) { r.AddType = "" },
		"callType":     func(r *flashai.AddAgentPlanRequest) { r.CallType = "2" },
		"mobileList":   func(r *flashai.AddAgentPlanRequest) { r.MobileList = "" },
	} {
		req := agentPlan("b", "13800000001")
		edit(req)
		_, err := c.AddAgentPlan(context.Background(), req)
		var re *flashai.RequestError
		if !errors.As(err, &re) || re.Field != field {
			t.Errorf("%s: error = %v; want a RequestError on %s", field, err, field)
		}
	}
	if len(s.bodies) != 0 {
		t.Errorf("%d requests sent for bad input", len(s.bodies))
	}
}
