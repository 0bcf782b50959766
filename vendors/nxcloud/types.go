package nxcloud

import (
	"encoding/json"
	"strconv"
)

// DispatchType is the task's outbound type.
type DispatchType int

// Dispatch types.
const (
	DispatchNone    DispatchType = 0
	DispatchRatio   DispatchType = 1
	DispatchPreTest DispatchType = 2
)

// StartupType is how the vendor starts the task.
type StartupType int

// Startup types.
const (
	StartupNone      StartupType = 0
	StartupManual    StartupType = 1
	StartupScheduled StartupType = 2
	StartupImmediate StartupType = 3
)

// CreateAndCallRequest creates one vendor task holding CallList.
type CreateAndCallRequest struct {
	Country      string // ISO 3166-1 alpha-2, upper case
	TaskName     string
	TaskDesc     string // optional
	StrategyName string
	DispatchType DispatchType
	AgentGroupNo string
	// PredictCallRate is sent rounded to two decimals.
	PredictCallRate float64
	// RatioCallRate is sent rounded to one decimal.
	RatioCallRate float64
	StartCount    int
	// StartupType is optional: nil leaves it out.
	StartupType *StartupType
	CallList    []CallItem
}

// CallItem is one number of a task.
type CallItem struct {
	// OrderID is unique per number; keep it stable across resubmissions.
	OrderID string `json:"orderID"`
	// UserPhone is the number with its country code and no '+'.
	UserPhone string `json:"userPhone"`
	// Other is passed through to the vendor's records.
	Other string `json:"other"`
}

// wireRequest is the body as the vendor reads it; the rates are pre-formatted
// numbers so that their decimals are fixed.
type wireRequest struct {
	Country         string       `json:"country"`
	TaskName        string       `json:"taskName"`
	TaskDesc        string       `json:"taskDesc,omitempty"`
	StrategyName    string       `json:"strategyName"`
	DispatchType    DispatchType `json:"dispatchType"`
	AgentGroupNo    string       `json:"agentGroupNo"`
	PredictCallRate json.Number  `json:"predictCallRate"`
	RatioCallRate   json.Number  `json:"ratioCallRate"`
	StartCount      int          `json:"startCount"`
	StartupType     *StartupType `json:"startupType,omitempty"`
	CallList        []CallItem   `json:"callList"`
}

// MarshalJSON encodes r as the vendor's body: predictCallRate with two decimals,
// ratioCallRate with one, startupType only when set, callList never null.
func (r CreateAndCallRequest) MarshalJSON() ([]byte, error) {
	list := r.CallList
	if list == nil {
		list = []CallItem{}
	}
	return json.Marshal(wireRequest{
		Country:         r.Country,
		TaskName:        r.TaskName,
		TaskDesc:        r.TaskDesc,
		StrategyName:    r.StrategyName,
		DispatchType:    r.DispatchType,
		AgentGroupNo:    r.AgentGroupNo,
		PredictCallRate: json.Number(strconv.FormatFloat(r.PredictCallRate, 'f', 2, 64)),
		RatioCallRate:   json.Number(strconv.FormatFloat(r.RatioCallRate, 'f', 1, 64)),
		StartCount:      r.StartCount,
		StartupType:     r.StartupType,
		CallList:        list,
	})
}

// CreateAndCallResponse is the vendor's acknowledgement. No task id comes back.
type CreateAndCallResponse struct {
	ReqID   string
	Message string
}
