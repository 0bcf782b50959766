package jobs

import (
	"strconv"
	"time"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/vendors/nxcloud"
	"github.com/dialq/dialq/vendors/speech"
	"github.com/dialq/dialq/vendors/yccall"
)

// The vendor requests a campaign makes, built in one place for the first send
// (callers.go) and for redials (package results), so the two never drift apart.

// NumberID is the per-number id of a number's attempt (NXCloud orderID, Yccall
// customuuid, speech externalCustomerId when the list gives none). Attempt 1 keeps
// the id every earlier version sent; a redial's differs, because a vendor may
// refuse an id it has seen (NXCloud's orderID is "unique", and the sheet says
// nothing of how long the vendors remember one).
func NumberID(batchID, phone string, attempt int) string {
	if attempt <= 1 {
		return numberID(batchID, phone)
	}
	return numberID(batchID+"\x00r"+strconv.Itoa(attempt), phone)
}

// NXCloudRequest is one createandcall of recs under taskName.
func NXCloudRequest(c *campaign.NXCloud, taskName, batchID string, attempt int, recs []chunking.Record) *nxcloud.CreateAndCallRequest {
	req := &nxcloud.CreateAndCallRequest{
		Country: c.Country, TaskName: taskName,
		TaskDesc: c.TaskDesc, StrategyName: c.StrategyName, DispatchType: nxcloud.DispatchType(c.DispatchType),
		AgentGroupNo: c.AgentGroupNo, PredictCallRate: c.PredictCallRate, RatioCallRate: c.RatioCallRate,
		StartCount: c.StartCount,
	}
	if c.StartupType != nil {
		st := nxcloud.StartupType(*c.StartupType)
		req.StartupType = &st
	}
	req.CallList = make([]nxcloud.CallItem, len(recs))
	for i, rec := range recs {
		req.CallList[i] = nxcloud.CallItem{OrderID: NumberID(batchID, rec.Phone, attempt), UserPhone: rec.Phone, Other: rec.Attach}
	}
	return req
}

// YccallRequest is one TaskCreat of recs under taskName, calling from now on (or
// the campaign's call time).
func YccallRequest(c *campaign.Yccall, taskName, batchID string, attempt int, recs []chunking.Record, now time.Time) *yccall.TaskCreateRequest {
	at := now
	if c.CallTime != "" {
		if t, err := time.Parse(time.RFC3339, c.CallTime); err == nil {
			at = t
		}
	}
	req := &yccall.TaskCreateRequest{
		AssignType: yccall.AssignType(c.AssignType), AssignAgent: c.AssignAgent, TaskScale: c.TaskScale,
		DisNumbers: c.DisNumbers, TaskName: taskName,
	}
	req.Phones = make([]yccall.Phone, len(recs))
	for i, rec := range recs {
		req.Phones[i] = yccall.Phone{Number: rec.Phone, Time: at, UserID: rec.CustomerID, MemberID: rec.Attach,
			CustomUUID: NumberID(batchID, rec.Phone, attempt)}
	}
	return req
}

// SpeechCustomers are recs as speech customers. A customer id the list gives is
// the tenant's own id of its customer and is kept on every attempt.
func SpeechCustomers(c *campaign.Speech, batchID string, attempt int, recs []chunking.Record) []speech.Customer {
	customers := make([]speech.Customer, len(recs))
	for i, rec := range recs {
		name := rec.Name
		if name == "" {
			name = "customer"
		}
		id := rec.CustomerID
		if id == "" {
			id = NumberID(batchID, rec.Phone, attempt)
		}
		customers[i] = speech.Customer{Name: name, Desc: rec.Company, ExternalCustomerID: id, ExternalData: rec.Attach,
			PhoneGroupVoList: []speech.PhoneGroupCustomer{{PhoneGroupIdentify: c.PhoneGroup.Identify,
				Relations: []speech.Relation{{Mobile: rec.Phone}}}}}
	}
	return customers
}

// SpeechCreateRequest creates a task named taskName holding customers.
func SpeechCreateRequest(c *campaign.Speech, taskName string, customers []speech.Customer) *speech.CreateTaskRequest {
	req := &speech.CreateTaskRequest{
		TaskName: taskName, TaskType: c.TaskType,
		TaskExecStartDate: c.ExecStartDate, TaskExecEndDate: c.ExecEndDate, TaskDesc: c.TaskDesc,
		SkillSetID: c.SkillSetID, OutboundNumberGroupID: c.OutboundNumberGroupID,
		StrategyDisplaySwitch: c.StrategyDisplaySwitch, SendNumberStrategy: c.SendNumberStrategy,
		MultiplyPower: c.MultiplyPower, AbandonmentRate: c.AbandonmentRate, MaxRingingDuration: c.MaxRingingDuration,
		ACW: c.ACW, OutBoundCustomers: customers,
		OutboundPhoneGroups: []speech.PhoneGroup{{Name: c.PhoneGroup.Name, Identify: c.PhoneGroup.Identify,
			AutoOutboundSwitch: c.PhoneGroup.AutoOutboundSwitch, AutoOutboundInterval: c.PhoneGroup.AutoOutboundInterval,
			AutoOutboundTimes: c.PhoneGroup.AutoOutboundTimes}},
	}
	for _, w := range c.ExecTimes {
		req.TaskExecTimes = append(req.TaskExecTimes, speech.ExecTime{Start: w.Start, End: w.End})
	}
	return req
}
