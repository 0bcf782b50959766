package flashai

import (
	"context"
	"strings"
)

// Call types of addAgentPlan.
const (
	// CallTypeQueued hands the numbers to the agent without dialling them at once.
	CallTypeQueued = "0"
	// CallTypeDirect dials them for the agent straight away.
	CallTypeDirect = "1"
)

// AddAgentPlanRequest hands numbers to human agents (addAgentPlan): the same
// numbers addPlan would give a robot, delivered another way.
type AddAgentPlanRequest struct {
	// BatchName is unique per user, shared with addPlan's names: a repeat gets 101007.
	BatchName string
	// AgentGroupID and AgentID name the group and the agent (queryAgentGroup).
	AgentGroupID string
	AgentID      string
	// AddType is the seed's "type of task addition"; its values are not documented,
	// so it is sent as given.
	AddType string
	// CallType is CallTypeQueued or CallTypeDirect; empty is not sent (optional).
	CallType string
	// NotifyURL receives per-call results.
	NotifyURL string
	// MobileList is encoded as for addPlan.
	MobileList string
}

// AddAgentPlan creates an agent plan with its numbers. The answer has addPlan's
// form; a repeated batch name fails with DuplicateBatchName.
func (c *Client) AddAgentPlan(ctx context.Context, req *AddAgentPlanRequest) (*AddPlanResponse, error) {
	const op = "addAgentPlan"
	bad := func(field, reason string) error { return &RequestError{Op: op, Field: field, Reason: reason} }
	switch {
	case req == nil:
		return nil, bad("request", "missing")
	case req.BatchName == "":
		return nil, bad("batchName", "missing")
	case strings.TrimSpace(req.AgentGroupID) == "":
		return nil, bad("agentGroupId", "missing")
	case strings.TrimSpace(req.AgentID) == "":
		return nil, bad("agentId", "missing")
	case strings.TrimSpace(req.AddType) == "":
		return nil, bad("addType", "missing")
	case req.CallType != "" && req.CallType != CallTypeQueued && req.CallType != CallTypeDirect:
		return nil, bad("callType", "want 0 (no direct call) or 1 (direct call)")
	case req.MobileList == "":
		return nil, bad("mobileList", "missing")
	}
	fields := map[string]any{
		"batchName":    req.BatchName,
		"agentGroupId": req.AgentGroupID,
		"agentId":      req.AgentID,
		"addType":      req.AddType,
		"mobileList":   req.MobileList,
	}
	if req.CallType != "" {
		fields["callType"] = req.CallType
	}
	if req.NotifyURL != "" {
		fields["notifyUrl"] = req.NotifyURL
	}
	return c.addPlanCall(ctx, op, fields)
}
