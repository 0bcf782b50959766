package campaign

import (
	"strings"
	"unicode/utf8"
)

// FlashAIAgent is a FlashAI campaign's "agent" block: the numbers go to a human
// agent with addAgentPlan instead of a robot script with addPlan.
type FlashAIAgent struct {
	// GroupID and AgentID are queryAgentGroup's agentGroupId and agentId.
	GroupID string `json:"group_id"`
	AgentID string `json:"agent_id"`
	// CallType is 0 (the agent dials) or 1 (dialled straight away); left out, it
	// is not sent (the seed makes it optional).
	CallType *int `json:"call_type,omitempty"`
	// AddType is the seed's "type of task addition", sent as given: the seed names
	// no values.
	AddType string `json:"add_type"`
}

// maxAgentField bounds the agent block's ids: the seed gives no length, and an id
// longer than this is a paste gone wrong.
const maxAgentField = 64

// validateAgent checks an agent campaign. addAgentPlan carries no script, date,
// hours, lines, recall, user or batch callback: a campaign naming one is refused
// rather than have the setting silently ignored.
func (c *FlashAI) validateAgent() error {
	a := c.Agent
	for _, f := range []struct{ name, v string }{
		{"agent.group_id", a.GroupID}, {"agent.agent_id", a.AgentID}, {"agent.add_type", a.AddType},
	} {
		switch n := utf8.RuneCountInString(f.v); {
		case strings.TrimSpace(f.v) == "":
			return fieldErr(f.name, "required")
		case n > maxAgentField:
			return fieldErr(f.name, "at most %d characters, is %d", maxAgentField, n)
		case strings.ContainsAny(f.v, "^|,\r\n"):
			return fieldErr(f.name, `%q holds "^", "|", "," or a line break`, f.v)
		}
	}
	if a.CallType != nil && *a.CallType != 0 && *a.CallType != 1 {
		return fieldErr("agent.call_type", "must be 0 (no direct call) or 1 (direct call)")
	}
	unused := []struct {
		name string
		set  bool
	}{
		{"user_id", c.UserID != 0}, {"botence_id", c.BotenceID != ""}, {"call_date", c.CallDate != ""},
		{"call_hours", len(c.CallHours) > 0}, {"clear", c.Clear != 0}, {"line_ids", len(c.LineIDs) > 0},
		{"recall", c.Recall != 0}, {"recall_params", c.RecallParams != ""}, {"notify_batch_url", c.NotifyBatchURL != ""},
	}
	for _, u := range unused {
		if u.set {
			return fieldErr(u.name, "addAgentPlan has no such setting: leave it out of an agent campaign")
		}
	}
	if !batchPrefix.MatchString(c.BatchNamePrefix) {
		return fieldErr("batch_name_prefix", "must be 1-40 letters, digits, '_' or '-'")
	}
	for _, f := range []struct{ name, v string }{{"notify_url", c.NotifyURL}, {"webhook", c.Webhook}} {
		if err := checkURL(f.name, f.v); err != nil {
			return err
		}
	}
	return c.Gate.Validate()
}

// CallTypeString is the agent block's callType as sent, "" when left out.
func (a *FlashAIAgent) CallTypeString() string {
	if a == nil || a.CallType == nil {
		return ""
	}
	if *a.CallType == 1 {
		return "1"
	}
	return "0"
}
