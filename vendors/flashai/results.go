package flashai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Results: how the calls of a plan ended (seed 004: getBatchPlanCallList,
// getPhoneDetail, getBatchPlanCallSummary).
//
// Choices where the seed is silent:
//
//   - A call record is phone^outbound date^call time^hang-up time^answer time^
//     duration^intent tag^intent note^detail…; the first eight fields are parsed
//     strictly and everything after them is kept raw (Detail), since the seed
//     splits the detail's items by "$" and their parts by "-" or "_" inconsistently.
//   - Times are read as "yyyy-MM-dd HH:mm:ss" (or with "/"), as "HH:mm:ss" on the
//     outbound date, or as Unix seconds (10 digits) or milliseconds (13 digits), in
//     Config.Location (default UTC+8, the vendor's zone; China keeps no daylight
//     saving, so a fixed offset is exact). An empty time is absent; anything else
//     makes the record bad.
//   - The duration is whole seconds; empty is 0.
//   - A record that does not parse is reported in CallListPage.Bad with its
//     position and reason, never guessed; the vendor's own text stays in CallList.
//   - getBatchPlanCallList documents notifyUrl as required; it is sent when the
//     caller gives one and left out otherwise (the fake accepts both).

// CallListRequest asks for one page of a plan's ended calls.
type CallListRequest struct {
	BatchName string
	// NotifyURL is the plan's callback URL, which the seed lists on this request.
	NotifyURL string
	// Page counts from 1; PageNum is at most MaxPageNum.
	Page    int
	PageNum int
}

// CallListPage is one page of a plan's ended calls.
type CallListPage struct {
	BatchName   string
	BatchCount  int
	TotalPage   int
	TotalRecord int
	Page        int
	PageNum     int
	// Calls are the records that parsed; Bad the ones that did not.
	Calls []CallRecord
	Bad   []BadRecord
	// CallList is the vendor's text as received.
	CallList string
}

// CallRecord is one ended call.
type CallRecord struct {
	Phone string
	// OutboundDate is the day dialled, yyyyMMdd as sent.
	OutboundDate string
	// CallStart, Hangup and Answer are zero when the vendor left them empty.
	CallStart, Hangup, Answer time.Time
	DurationS                 int
	IntentTag, IntentNote     string
	// Detail is everything after the intent note, raw ("^" kept).
	Detail string
}

// Answered follows the contract sheet: an answer time, or a duration over zero.
func (r *CallRecord) Answered() bool { return !r.Answer.IsZero() || r.DurationS > 0 }

// BadRecord is a call record that did not parse. It carries no phone number.
type BadRecord struct {
	// Index is the record's position in the page, from 0.
	Index  int
	Reason string
}

// DefaultLocation is the vendor's zone: UTC+8.
var DefaultLocation = time.FixedZone("UTC+8", 8*3600)

// GetBatchPlanCallList reads one page of a plan's ended calls.
func (c *Client) GetBatchPlanCallList(ctx context.Context, req *CallListRequest) (*CallListPage, error) {
	const op = "getBatchPlanCallList"
	if req == nil {
		return nil, &RequestError{Op: op, Field: "request", Reason: "missing"}
	}
	if err := checkPage(op, req.BatchName, req.Page, req.PageNum); err != nil {
		return nil, err
	}
	fields := map[string]any{"batchName": req.BatchName, "page": req.Page, "pageNum": req.PageNum}
	if req.NotifyURL != "" {
		fields["notifyUrl"] = req.NotifyURL
	}
	raw, err := c.call(ctx, op, fields)
	if err != nil {
		return nil, err
	}
	var b callListBody
	if err := decodeBody(op, raw, &b); err != nil {
		return nil, err
	}
	out := &CallListPage{
		BatchName: string(b.BatchName), BatchCount: int(b.BatchCount), TotalPage: int(b.TotalPage),
		TotalRecord: int(b.TotalRecord), Page: int(b.Page), PageNum: int(b.PageNum), CallList: string(b.CallList),
	}
	out.Calls, out.Bad = ParseCallList(out.CallList, c.loc)
	return out, nil
}

// EachCallPage reads every page of a plan's ended calls, MaxPageNum at a time, and
// hands each to fn. It stops at the last page the vendor counts, or at an empty
// page.
func (c *Client) EachCallPage(ctx context.Context, batchName, notifyURL string, fn func(*CallListPage) error) error {
	for page := 1; ; page++ {
		p, err := c.GetBatchPlanCallList(ctx, &CallListRequest{BatchName: batchName, NotifyURL: notifyURL, Page: page, PageNum: MaxPageNum})
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		if page >= p.TotalPage || len(p.Calls)+len(p.Bad) == 0 {
			return nil
		}
	}
}

// GetPhoneDetail reads one number's call detail (its dialogue). The seed gives no
// format for it: the body comes back raw.
func (c *Client) GetPhoneDetail(ctx context.Context, batchName, phone string) (json.RawMessage, error) {
	const op = "getPhoneDetail"
	switch {
	case batchName == "":
		return nil, &RequestError{Op: op, Field: "batchName", Reason: "missing"}
	case phone == "" || strings.ContainsAny(phone, "^|"):
		return nil, &RequestError{Op: op, Field: "phone", Reason: `missing, or holds "^" or "|"`}
	}
	return c.call(ctx, op, map[string]any{"batchName": batchName, "phone": phone})
}

type callListBody struct {
	BatchName   flexString `json:"batchName"`
	BatchCount  flexInt    `json:"batchCount"`
	CallList    callText   `json:"callList"`
	TotalPage   flexInt    `json:"totalPage"`
	TotalRecord flexInt    `json:"totalRecord"`
	Page        flexInt    `json:"page"`
	PageNum     flexInt    `json:"pageNum"`
}

// callText is callList: a string of up to 5,000 records. Without escapes (the
// usual case) it is taken as it stands instead of decoded a second time; anything
// else is read as flexString reads it.
type callText string

func (t *callText) UnmarshalJSON(b []byte) error {
	if n := len(b); n >= 2 && b[0] == '"' && b[n-1] == '"' && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
		for _, c := range b[1 : n-1] {
			if c < 0x20 || c == '"' {
				goto slow // not a valid JSON string: let the decoder say so
			}
		}
		*t = callText(b[1 : n-1])
		return nil
	}
slow:
	var s flexString
	err := s.UnmarshalJSON(b)
	*t = callText(s)
	return err
}

// callFields are the fields the seed names, in order, before the raw detail.
const callFields = 8

// ParseCallList splits a callList: records by "|", fields by "^". loc nil means
// DefaultLocation. Empty records (a trailing "|") are skipped.
func ParseCallList(s string, loc *time.Location) (calls []CallRecord, bad []BadRecord) {
	if loc == nil {
		loc = DefaultLocation
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for i, rec := range strings.Split(s, "|") {
		if strings.TrimSpace(rec) == "" {
			continue
		}
		r, err := ParseCallRecord(rec, loc)
		if err != nil {
			bad = append(bad, BadRecord{Index: i, Reason: err.Error()})
			continue
		}
		calls = append(calls, r)
	}
	return calls, bad
}

// ParseCallRecord parses one record strictly; loc nil means DefaultLocation. Its errors name the field and never
// hold the phone number.
func ParseCallRecord(rec string, loc *time.Location) (CallRecord, error) {
	if loc == nil {
		loc = DefaultLocation
	}
	f := strings.SplitN(rec, "^", callFields+1)
	if len(f) < callFields {
		return CallRecord{}, fmt.Errorf("%d fields, want at least %d", len(f), callFields)
	}
	var r CallRecord
	r.Phone = strings.TrimSpace(f[0])
	if !phoneLike(r.Phone) || len(r.Phone) < 5 || len(r.Phone) > 20 {
		return CallRecord{}, fmt.Errorf("phone: want 5-20 digits")
	}
	r.OutboundDate = strings.TrimSpace(f[1])
	day, err := time.ParseInLocation("20060102", r.OutboundDate, loc)
	if err != nil || len(r.OutboundDate) != 8 {
		return CallRecord{}, fmt.Errorf("outbound date: want yyyyMMdd")
	}
	for _, t := range []struct {
		name string
		raw  string
		dst  *time.Time
	}{{"call time", f[2], &r.CallStart}, {"hang-up time", f[3], &r.Hangup}, {"answer time", f[4], &r.Answer}} {
		v, err := parseCallTime(strings.TrimSpace(t.raw), day, loc)
		if err != nil {
			return CallRecord{}, fmt.Errorf("%s: %v", t.name, err)
		}
		*t.dst = v
	}
	if d := strings.TrimSpace(f[5]); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || strings.ContainsAny(d, "+-") {
			return CallRecord{}, fmt.Errorf("call duration: want whole seconds")
		}
		r.DurationS = n
	}
	r.IntentTag, r.IntentNote = f[6], f[7]
	if len(f) > callFields {
		r.Detail = f[callFields]
	}
	return r, nil
}

// parseCallTime reads one of the time forms listed above; "" is the zero time.
func parseCallTime(s string, day time.Time, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if digits(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil:
		case len(s) == 10:
			return time.Unix(n, 0), nil
		case len(s) == 13:
			return time.UnixMilli(n), nil
		}
		return time.Time{}, fmt.Errorf("want a date and time, a time of day, or Unix seconds or milliseconds")
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006/01/02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if t, err := time.ParseInLocation("15:04:05", s, loc); err == nil {
		return time.Date(day.Year(), day.Month(), day.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc), nil
	}
	return time.Time{}, fmt.Errorf("want a date and time, a time of day, or Unix seconds or milliseconds")
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
