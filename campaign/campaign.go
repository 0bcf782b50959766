// Package campaign holds each vendor's task settings as a batch carries them, and
// checks them against the contract sheet before anything is written.
package campaign

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/compliance/policy"
	"github.com/dialq/dialq/vendors/registry"
)

// Common settings every campaign may carry.
type Common struct {
	// Webhook receives the batch's "finished" event as a JSON POST.
	Webhook string `json:"webhook,omitempty"`
	// Gate is the "compliance" block; nil means no gate (see compliance.go).
	Gate *Compliance `json:"compliance,omitempty"`
	// DailyCap is at most this many numbers of the batch sent per calendar day in
	// the campaign's zone (daily.go); 0 means none.
	DailyCap int `json:"daily_cap,omitempty"`
	// Recycle is the "recycle" block: redial rules (recycle.go); nil: none.
	Recycle *Recycle `json:"recycle,omitempty"`
}

// NXCloud is createandcall's task settings (sheet §1).
type NXCloud struct {
	Common
	Country         string  `json:"country"`
	TaskName        string  `json:"task_name"`
	TaskDesc        string  `json:"task_desc,omitempty"`
	StrategyName    string  `json:"strategy_name"`
	DispatchType    int     `json:"dispatch_type"`
	AgentGroupNo    string  `json:"agent_group_no"`
	PredictCallRate float64 `json:"predict_call_rate"`
	RatioCallRate   float64 `json:"ratio_call_rate"`
	StartCount      int     `json:"start_count"`
	StartupType     *int    `json:"startup_type,omitempty"`
}

// Yccall is TaskCreat's settings (sheet §2).
type Yccall struct {
	Common
	AssignType  int      `json:"assign_type"`
	AssignAgent string   `json:"assign_agent"`
	TaskScale   string   `json:"task_scale"`
	DisNumbers  []string `json:"display_numbers,omitempty"`
	TaskName    string   `json:"task_name"`
	// CallTime is when numbers become callable (RFC 3339); empty means at delivery.
	CallTime string `json:"call_time,omitempty"`
}

// ExecTime is one calling window of a speech task.
type ExecTime struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// PhoneGroup is the speech task's one phone group.
type PhoneGroup struct {
	Name                 string `json:"name"`
	Identify             string `json:"identify"`
	AutoOutboundSwitch   int    `json:"auto_outbound_switch"`
	AutoOutboundInterval int    `json:"auto_outbound_interval,omitempty"`
	AutoOutboundTimes    int    `json:"auto_outbound_times,omitempty"`
}

// Speech is the outbound task's settings (sheet §3).
type Speech struct {
	Common
	TaskName              string     `json:"task_name"`
	TaskType              int        `json:"task_type"`
	ExecStartDate         string     `json:"exec_start_date"`
	ExecEndDate           string     `json:"exec_end_date"`
	ExecTimes             []ExecTime `json:"exec_times"`
	TaskDesc              string     `json:"task_desc,omitempty"`
	SkillSetID            string     `json:"skill_set_id"`
	OutboundNumberGroupID string     `json:"outbound_number_group_id"`
	StrategyDisplaySwitch bool       `json:"strategy_display_switch"`
	SendNumberStrategy    int        `json:"send_number_strategy"`
	MultiplyPower         int        `json:"multiply_power,omitempty"`
	AbandonmentRate       int        `json:"abandonment_rate,omitempty"`
	MaxRingingDuration    int        `json:"max_ringing_duration"`
	ACW                   int        `json:"acw"`
	PhoneGroup            PhoneGroup `json:"phone_group"`
}

// FlashAI is addPlan's settings (sheet §4).
type FlashAI struct {
	Common
	// UserID is the vendor user; zero means the worker's FLASHAI_USER_ID.
	UserID          int64    `json:"user_id,omitempty"`
	BotenceID       string   `json:"botence_id"`
	CallDate        string   `json:"call_date"`
	CallHours       []int    `json:"call_hours"`
	Clear           int      `json:"clear"`
	LineIDs         []string `json:"line_ids,omitempty"`
	Recall          int      `json:"recall"`
	RecallParams    string   `json:"recall_params,omitempty"`
	NotifyURL       string   `json:"notify_url,omitempty"`
	NotifyBatchURL  string   `json:"notify_batch_url,omitempty"`
	BatchNamePrefix string   `json:"batch_name_prefix"`
	// Agent, when set, hands the numbers to human agents with addAgentPlan (agent.go).
	Agent *FlashAIAgent `json:"agent,omitempty"`
}

// Campaign is any vendor's settings.
type Campaign interface {
	Vendor() string
	Validate() error
	WebhookURL() string
	// Compliance is the campaign's gate, nil when it has none.
	Compliance() *Compliance
}

func (c *NXCloud) Vendor() string { return registry.NXCloud }
func (c *Yccall) Vendor() string  { return registry.Yccall }
func (c *Speech) Vendor() string  { return registry.Speech }
func (c *FlashAI) Vendor() string { return registry.FlashAI }

// settings makes each vendor's empty campaign, keyed by the registry's names;
// TestEveryVendorHasSettings fails on a vendor of the registry missing here.
var settings = map[string]func() Campaign{
	registry.NXCloud: func() Campaign { return &NXCloud{} },
	registry.Yccall:  func() Campaign { return &Yccall{} },
	registry.Speech:  func() Campaign { return &Speech{} },
	registry.FlashAI: func() Campaign { return &FlashAI{} },
}

// WebhookURL is where the batch's finished event goes, or "".
func (c Common) WebhookURL() string { return c.Webhook }

// FieldError names the campaign field that breaks a rule (policy's, so that the
// compliance block's errors are the same type).
type FieldError = policy.FieldError

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Parse decodes vendor's campaign JSON strictly (an unknown field is an error: it is
// usually a typo that would otherwise silently fall back to a default) and validates it.
func Parse(vendor string, data []byte) (Campaign, error) {
	newCampaign, ok := settings[vendor]
	if !ok {
		return nil, fmt.Errorf("unknown vendor %q", vendor)
	}
	c := newCampaign()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("%s campaign: %w", vendor, err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkDailyCap(c); err != nil {
		return nil, err
	}
	if r, ok := c.(interface{ Recycling() *Recycle }); ok {
		if err := r.Recycling().Validate(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func checkName(field, v string, maxLen int) error {
	n := utf8.RuneCountInString(v)
	if n < 1 || n > maxLen {
		return fieldErr(field, "must be 1-%d characters, is %d", maxLen, n)
	}
	return nil
}

func checkURL(field, v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fieldErr(field, "must be an http(s) URL")
	}
	return nil
}

var iso2 = regexp.MustCompile(`^[A-Z]{2}$`)

// Validate implements Campaign.
func (c *NXCloud) Validate() error {
	switch {
	case !iso2.MatchString(c.Country):
		return fieldErr("country", "must be an ISO 3166 two-letter code such as CN")
	case c.StrategyName == "":
		return fieldErr("strategy_name", "required")
	case c.DispatchType < 0 || c.DispatchType > 2:
		return fieldErr("dispatch_type", "must be 0 (none), 1 (ratio) or 2 (pre-test)")
	case c.AgentGroupNo == "":
		return fieldErr("agent_group_no", "required")
	case c.PredictCallRate <= 0:
		return fieldErr("predict_call_rate", "must be positive")
	case c.RatioCallRate <= 0:
		return fieldErr("ratio_call_rate", "must be positive")
	case c.StartCount < 0:
		return fieldErr("start_count", "must not be negative")
	case c.StartupType != nil && (*c.StartupType < 0 || *c.StartupType > 3):
		return fieldErr("startup_type", "must be 0-3")
	}
	if err := checkName("task_name", c.TaskName, 50); err != nil {
		return err
	}
	if err := c.Gate.Validate(); err != nil {
		return err
	}
	return checkURL("webhook", c.Webhook)
}

// Validate implements Campaign.
func (c *Yccall) Validate() error {
	switch {
	case c.AssignType < 1 || c.AssignType > 3:
		return fieldErr("assign_type", "must be 1 (extension), 2 (queue) or 3 (group)")
	case c.AssignAgent == "":
		return fieldErr("assign_agent", "required")
	case !chunking.ValidYccallTaskScale(c.TaskScale):
		return fieldErr("task_scale", "must look like 1:N, N from 1 to 999999")
	}
	for _, d := range c.DisNumbers {
		if d == "" || strings.ContainsAny(d, ", ") {
			return fieldErr("display_numbers", "%q is not a number", d)
		}
	}
	if c.CallTime != "" {
		if _, err := time.Parse(time.RFC3339, c.CallTime); err != nil {
			return fieldErr("call_time", "must be RFC 3339, e.g. 2026-11-22T09:00:00+08:00")
		}
	}
	if err := checkName("task_name", c.TaskName, 50); err != nil {
		return err
	}
	if err := c.Gate.Validate(); err != nil {
		return err
	}
	if err := c.checkWindow("call_time", c.windowSpans); err != nil {
		return err
	}
	return checkURL("webhook", c.Webhook)
}

// Validate implements Campaign.
func (c *Speech) Validate() error {
	if err := checkName("task_name", c.TaskName, 50); err != nil {
		return err
	}
	start, err := time.Parse(time.DateOnly, c.ExecStartDate)
	if err != nil {
		return fieldErr("exec_start_date", "must be yyyy-MM-dd")
	}
	end, err := time.Parse(time.DateOnly, c.ExecEndDate)
	if err != nil {
		return fieldErr("exec_end_date", "must be yyyy-MM-dd")
	}
	switch {
	case end.Before(start):
		return fieldErr("exec_end_date", "is before exec_start_date")
	case c.TaskType != 1 && c.TaskType != 2:
		return fieldErr("task_type", "must be 1 (automatic) or 2 (manual)")
	case len(c.ExecTimes) == 0:
		return fieldErr("exec_times", "at least one window is required")
	case c.SkillSetID == "":
		return fieldErr("skill_set_id", "required")
	case c.OutboundNumberGroupID == "":
		return fieldErr("outbound_number_group_id", "required")
	case c.SendNumberStrategy != 0 && c.SendNumberStrategy != 1:
		return fieldErr("send_number_strategy", "must be 0 (multiplier) or 1 (predictive)")
	case c.SendNumberStrategy == 0 && c.MultiplyPower < 1:
		return fieldErr("multiply_power", "must be above 0 when send_number_strategy is 0")
	case c.SendNumberStrategy == 1 && (c.AbandonmentRate < 1 || c.AbandonmentRate > 5):
		return fieldErr("abandonment_rate", "must be 1-5 when send_number_strategy is 1")
	case c.MaxRingingDuration < 20 || c.MaxRingingDuration > 50:
		return fieldErr("max_ringing_duration", "must be 20-50 seconds")
	case c.ACW < 1 || c.ACW > 180:
		return fieldErr("acw", "must be 1-180 seconds")
	case c.PhoneGroup.Name == "" || c.PhoneGroup.Identify == "":
		return fieldErr("phone_group", "name and identify are required")
	case c.PhoneGroup.AutoOutboundSwitch != 0 && c.PhoneGroup.AutoOutboundSwitch != 1:
		return fieldErr("phone_group.auto_outbound_switch", "must be 0 or 1")
	case c.PhoneGroup.AutoOutboundSwitch == 1 && (c.PhoneGroup.AutoOutboundInterval < 5 || c.PhoneGroup.AutoOutboundInterval > 2880):
		return fieldErr("phone_group.auto_outbound_interval", "must be 5-2880 minutes when recall is on")
	case c.PhoneGroup.AutoOutboundSwitch == 1 && (c.PhoneGroup.AutoOutboundTimes < 1 || c.PhoneGroup.AutoOutboundTimes > 3):
		return fieldErr("phone_group.auto_outbound_times", "must be 1-3 when recall is on")
	}
	for i, w := range c.ExecTimes {
		s, err1 := time.Parse(time.TimeOnly, w.Start)
		e, err2 := time.Parse(time.TimeOnly, w.End)
		if err1 != nil || err2 != nil {
			return fieldErr(fmt.Sprintf("exec_times[%d]", i), "start and end must be HH:mm:ss")
		}
		if !e.After(s) {
			return fieldErr(fmt.Sprintf("exec_times[%d]", i), "end must be after start")
		}
	}
	if utf8.RuneCountInString(c.TaskDesc) > 200 {
		return fieldErr("task_desc", "at most 200 characters")
	}
	if err := c.Gate.Validate(); err != nil {
		return err
	}
	if err := c.checkWindow("exec_times", c.windowSpans); err != nil {
		return err
	}
	return checkURL("webhook", c.Webhook)
}

var batchPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// Validate implements Campaign.
func (c *FlashAI) Validate() error {
	if c.Agent != nil {
		return c.validateAgent()
	}
	switch {
	case c.UserID < 0:
		return fieldErr("user_id", "must be positive (or left out: the worker's FLASHAI_USER_ID)")
	case c.BotenceID == "":
		return fieldErr("botence_id", "required")
	case len(c.CallHours) == 0:
		return fieldErr("call_hours", "at least one hour is required")
	case c.Clear != 0 && c.Clear != 1:
		return fieldErr("clear", "must be 0 or 1")
	case c.Recall != 0 && c.Recall != 1:
		return fieldErr("recall", "must be 0 or 1")
	case c.Recall == 1 && c.RecallParams == "":
		return fieldErr("recall_params", "required when recall is 1")
	case !batchPrefix.MatchString(c.BatchNamePrefix):
		return fieldErr("batch_name_prefix", "must be 1-40 letters, digits, '_' or '-'")
	}
	if _, err := time.Parse("20060102", c.CallDate); err != nil {
		return fieldErr("call_date", "must be yyyyMMdd")
	}
	seen := map[int]bool{}
	for _, h := range c.CallHours {
		if h < 9 || h > 20 {
			return fieldErr("call_hours", "hour %d outside 9-20", h)
		}
		if seen[h] {
			return fieldErr("call_hours", "hour %d repeated", h)
		}
		seen[h] = true
	}
	for _, l := range c.LineIDs {
		if l == "" || strings.Contains(l, ",") {
			return fieldErr("line_ids", "%q is not a line id", l)
		}
	}
	for _, f := range []struct{ name, v string }{{"notify_url", c.NotifyURL}, {"notify_batch_url", c.NotifyBatchURL}, {"webhook", c.Webhook}} {
		if err := checkURL(f.name, f.v); err != nil {
			return err
		}
	}
	if err := c.Gate.Validate(); err != nil {
		return err
	}
	return c.checkWindow("call_hours", c.windowSpans)
}

// CallHour is the callHour field: hours joined by commas.
func (c *FlashAI) CallHour() string {
	parts := make([]string, len(c.CallHours))
	for i, h := range c.CallHours {
		parts[i] = fmt.Sprint(h)
	}
	return strings.Join(parts, ",")
}

// PartName builds a vendor-side name for a part that stays within maxLen runes:
// the base is cut, never the suffix, so names stay unique per batch and part.
func PartName(base, suffix string, maxLen int) string {
	room := maxLen - utf8.RuneCountInString(suffix)
	r := []rune(base)
	if room < 0 {
		room = 0
	}
	if len(r) > room {
		r = r[:room]
	}
	return string(r) + suffix
}
