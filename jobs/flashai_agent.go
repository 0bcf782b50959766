package jobs

import (
	"context"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/vendors/flashai"
)

// add creates the call's plan: with addAgentPlan when the campaign hands the
// numbers to an agent, else with addPlan. Both answer alike and share the batch
// name space, so the rest of the caller (101007 verification, refusals, bisection
// on 1010 and 101008, controls by batch name) is the same for both.
func (f flashaiCaller) add(ctx context.Context, c *campaign.FlashAI, name, list, notifyURL string) (*flashai.AddPlanResponse, error) {
	if a := c.Agent; a != nil {
		return f.c.AddAgentPlan(ctx, &flashai.AddAgentPlanRequest{
			BatchName: name, AgentGroupID: a.GroupID, AgentID: a.AgentID, AddType: a.AddType,
			CallType: a.CallTypeString(), NotifyURL: notifyURL, MobileList: list,
		})
	}
	return f.c.AddPlan(ctx, &flashai.AddPlanRequest{
		UserID: c.UserID, BatchName: name, BotenceID: c.BotenceID, CallDate: c.CallDate, CallHours: c.CallHours,
		Clear: c.Clear == 1, LineIDs: c.LineIDs, Recall: c.Recall == 1, RecallParams: c.RecallParams,
		NotifyURL: notifyURL, NotifyBatchURL: c.NotifyBatchURL, MobileList: list,
	})
}
