package speech

import (
	"fmt"
	"unicode/utf8"

	"github.com/dialq/dialq/redact"
)

// Vendor limits from the page.
const (
	MaxCustomersPerCall = 1000
	MaxCustomersPerTask = 20000
	MaxRelations        = 3

	MaxNameLen               = 20
	MaxDescLen               = 200
	MaxExternalCustomerIDLen = 64
	MaxExternalDataLen       = 40
	MaxTaskNameLen           = 50
)

// Task types.
const (
	TaskTypeAuto   = 1
	TaskTypeManual = 2
)

// Send-number strategies.
const (
	SendByMultiplier = 0 // multiplyPower required
	SendPredictive   = 1 // abandonmentRate required
)

// CreateTaskRequest is the body of task/outbound/create.
type CreateTaskRequest struct {
	TaskName string `json:"taskName"`
	TaskType int    `json:"taskType"`
	// TaskExecStartDate and TaskExecEndDate are yyyy-MM-dd.
	TaskExecStartDate     string     `json:"taskExecStartDate"`
	TaskExecEndDate       string     `json:"taskExecEndDate"`
	TaskExecTimes         []ExecTime `json:"taskExecTimes"`
	TaskDesc              string     `json:"taskDesc,omitempty"`
	SkillSetID            string     `json:"skillSetId"`
	OutboundNumberGroupID string     `json:"outboundNumberGroupId"`
	StrategyDisplaySwitch bool       `json:"strategyDisplaySwitch"`
	SendNumberStrategy    int        `json:"sendNumberStrategy"`
	// MultiplyPower (> 0) is required with SendByMultiplier.
	MultiplyPower int `json:"multiplyPower,omitempty"`
	// AbandonmentRate (1-5) is required with SendPredictive.
	AbandonmentRate int `json:"abandonmentRate,omitempty"`
	// MaxRingingDuration is in seconds, 20-50.
	MaxRingingDuration int `json:"maxRingingDuration"`
	// ACW is after-call work in seconds, 1-180.
	ACW int `json:"acw"`
	// OutboundPhoneGroups holds exactly one group; customers refer to its Identify.
	OutboundPhoneGroups []PhoneGroup `json:"outboundPhoneGroups"`
	OutBoundCustomers   []Customer   `json:"outBoundCustomers"`
}

// ExecTime is a daily calling window, HH:mm:ss.
type ExecTime struct {
	Start string `json:"taskExecTimeStartStr"`
	End   string `json:"taskExecTimeEndStr"`
}

// PhoneGroup is the task's number batch.
type PhoneGroup struct {
	Name     string `json:"name"`
	Identify string `json:"identify"`
	// AutoOutboundSwitch 1 turns automatic redial on; then Interval (5-2880 min)
	// and Times (1-3) are required.
	AutoOutboundSwitch   int `json:"autoOutboundSwitch"`
	AutoOutboundInterval int `json:"autoOutboundInterval,omitempty"`
	AutoOutboundTimes    int `json:"autoOutboundTimes,omitempty"`
}

// Customer is one row of the call list.
type Customer struct {
	Name               string               `json:"name"`
	Desc               string               `json:"desc,omitempty"`
	ExternalCustomerID string               `json:"externalCustomerId"`
	ExternalData       string               `json:"externalData,omitempty"`
	PhoneGroupVoList   []PhoneGroupCustomer `json:"phoneGroupVoList"`
}

// PhoneGroupCustomer places a customer's numbers in the task's phone group.
type PhoneGroupCustomer struct {
	PhoneGroupIdentify string `json:"phoneGroupIdentify"`
	// Relations: the first is the customer, at most three.
	Relations []Relation `json:"relations"`
}

// Relation is one number of a customer.
type Relation struct {
	Mobile   string `json:"mobile"`
	Relation string `json:"relation,omitempty"`
}

// CreateTaskResponse carries the new task's id.
type CreateTaskResponse struct {
	TaskID int64
}

// AppendRequest is the body of task/outbound/customer/append.
type AppendRequest struct {
	TaskID    int64      `json:"taskId"`
	Customers []Customer `json:"outBoundCustomers"`
}

// FieldError says which field of a customer is wrong. It never quotes a number.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return "speech customer " + e.Field + ": " + e.Reason }

// ValidateCustomer checks a customer against the vendor's limits (lengths in
// characters), so bad rows can be refused before they make a whole call fail.
// It cannot check phoneGroupIdentify against the task: only that it is set.
func ValidateCustomer(c Customer) error {
	if err := checkLen("name", c.Name, MaxNameLen, true); err != nil {
		return err
	}
	if err := checkLen("desc", c.Desc, MaxDescLen, false); err != nil {
		return err
	}
	if err := checkLen("externalCustomerId", c.ExternalCustomerID, MaxExternalCustomerIDLen, true); err != nil {
		return err
	}
	if err := checkLen("externalData", c.ExternalData, MaxExternalDataLen, false); err != nil {
		return err
	}
	if len(c.PhoneGroupVoList) != 1 {
		return &FieldError{"phoneGroupVoList", fmt.Sprintf("has %d entries, want exactly 1 (a task has one phone group)", len(c.PhoneGroupVoList))}
	}
	g := c.PhoneGroupVoList[0]
	if g.PhoneGroupIdentify == "" {
		return &FieldError{"phoneGroupIdentify", "required"}
	}
	switch n := len(g.Relations); {
	case n == 0:
		return &FieldError{"relations", "at least one number required"}
	case n > MaxRelations:
		return &FieldError{"relations", fmt.Sprintf("has %d numbers, at most %d allowed", n, MaxRelations)}
	}
	for i, r := range g.Relations {
		field := fmt.Sprintf("relations[%d].mobile", i)
		if r.Mobile == "" {
			return &FieldError{field, "required"}
		}
		if !allDigits(r.Mobile) {
			return &FieldError{field, fmt.Sprintf("%s is not all digits", redact.Phone(r.Mobile))}
		}
	}
	return nil
}

func checkLen(field, v string, limit int, required bool) error {
	if !utf8.ValidString(v) {
		return &FieldError{field, "not valid UTF-8"}
	}
	n := utf8.RuneCountInString(v)
	if required && n == 0 {
		return &FieldError{field, "required"}
	}
	if n > limit {
		return &FieldError{field, fmt.Sprintf("%d characters, at most %d allowed", n, limit)}
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
