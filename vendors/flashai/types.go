package flashai

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

// Limits the vendor documents.
const (
	// MaxPageNum is the most list entries one page may ask for.
	MaxPageNum = 5000
	// MinCallHour and MaxCallHour bound the hours a plan may dial in.
	MinCallHour = 9
	MaxCallHour = 20
)

// Phone statuses in a batch's number list.
const (
	PhonePlanning  = 1
	PhoneCompleted = 2
	PhoneFailed    = 3
)

// AddPlanRequest creates a call plan (a batch) with its numbers.
type AddPlanRequest struct {
	// UserID is the vendor's user; zero means Config.UserID.
	UserID int64
	// BatchName is unique per user: sending it again gets 101007.
	BatchName string
	// BotenceID is the script template.
	BotenceID string
	// CallDate is the day to dial, yyyyMMdd.
	CallDate string
	// CallHours are the hours to dial in (9–20), sent as a comma list.
	CallHours []int
	// Clear drops the plan's uncompleted calls at the end of the day.
	Clear bool
	// LineIDs are the lines to dial from, sent as a comma list; empty means the default.
	LineIDs []string
	// Recall redials unanswered numbers; it needs RecallParams.
	Recall       bool
	RecallParams string
	// NotifyURL receives per-call results, NotifyBatchURL the batch's.
	NotifyURL      string
	NotifyBatchURL string
	// MobileList is the encoded list: records joined by "|", each
	// phone^attach^p1-p2-p3^custName^custCompany. The caller encodes and checks it.
	MobileList string
}

// AddPlanResponse is what the vendor accepted of a plan.
type AddPlanResponse struct {
	RightCount int
	FailCount  int
	// Failed are the refused numbers parsed from FailMobileInfo.
	Failed []FailedMobile
	// FailMobileInfo is the vendor's text as received.
	FailMobileInfo string
}

// FailedMobile is one number the vendor refused inside an accepted plan.
type FailedMobile struct {
	Phone  string
	Reason string
}

// CallSummary counts a batch's numbers.
type CallSummary struct {
	BatchName string
	// AcceptCount numbers were received, EndCount are done, PlanCount still planned.
	AcceptCount int
	EndCount    int
	PlanCount   int
}

// ListRequest asks for one page of a batch's numbers.
type ListRequest struct {
	BatchName string
	// PhoneStatus filters by PhonePlanning, PhoneCompleted or PhoneFailed; zero lists all.
	PhoneStatus int
	// Page counts from 1; PageNum is the page size, at most MaxPageNum.
	Page    int
	PageNum int
}

// ListResponse is one page of a batch's numbers.
type ListResponse struct {
	BatchName string
	// BatchCount is how many numbers the batch received.
	BatchCount  int
	PhoneStatus int
	TotalPage   int
	TotalRecord int
	Page        int
	PageNum     int
	// Mobiles are parsed from MobileList, the vendor's text as received.
	Mobiles    []ListedMobile
	MobileList string
}

// ListedMobile is one record of a batch's number list.
type ListedMobile struct {
	Phone       string
	Attach      string
	Params      []string
	CustName    string
	CustCompany string
	// Status is the sixth field, where the vendor sends one (a phone status).
	Status string
}

// envelope is every answer's outer form.
type envelope struct {
	Code flexString      `json:"code"`
	Msg  string          `json:"msg"`
	Body json.RawMessage `json:"body"`
	// success is not read: code is authoritative, and some servers send it as a string.
}

type addPlanBody struct {
	RightCount     flexInt         `json:"rightCount"`
	FailCount      flexInt         `json:"failCount"`
	FailMobileInfo json.RawMessage `json:"failMobileInfo"`
}

type summaryBody struct {
	BatchName   flexString `json:"batchName"`
	AcceptCount flexInt    `json:"acceptCount"`
	EndCount    flexInt    `json:"endCount"`
	PlanCount   flexInt    `json:"planCount"`
}

type listBody struct {
	BatchName   flexString `json:"batchName"`
	BatchCount  flexInt    `json:"batchCount"`
	MobileList  flexString `json:"mobileList"`
	PhoneStatus flexInt    `json:"phoneStatus"`
	TotalPage   flexInt    `json:"totalPage"`
	TotalRecord flexInt    `json:"totalRecord"`
	Page        flexInt    `json:"page"`
	PageNum     flexInt    `json:"pageNum"`
}

// flexString reads a JSON string or number (codes arrive both ways); null is "".
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = ""
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return errors.New("want a string or number")
		}
		*s = flexString(n)
	}
	return nil
}

// flexInt reads a JSON integer, or a string holding one; null and "" are 0.
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	t := strings.TrimSpace(string(s))
	if t == "" {
		*n = 0
		return nil
	}
	if i, err := strconv.Atoi(t); err == nil {
		*n = flexInt(i)
		return nil
	}
	// 3.0 is still a count; 3.5 is not.
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		return errors.New("want an integer")
	}
	*n = flexInt(f)
	return nil
}

// ParseFailMobileInfo reads the vendor's list of refused numbers leniently: items
// are separated by ",", "|" or ";", and each is "phone:reason" or "phone^reason" or
// a bare phone. A piece that does not start with a phone continues the previous
// item's reason (reasons may hold separators); leading text that belongs to no
// phone is dropped.
func ParseFailMobileInfo(s string) []FailedMobile {
	var out []FailedMobile
	before := "" // the separator that ended the previous piece
	for len(s) > 0 {
		piece, sep := s, ""
		if i := strings.IndexAny(s, ",|;"); i >= 0 {
			piece, sep, s = s[:i], s[i:i+1], s[i+1:]
		} else {
			s = ""
		}
		if phone, reason, ok := splitFailItem(piece); ok {
			out = append(out, FailedMobile{Phone: phone, Reason: reason})
		} else if len(out) > 0 && strings.TrimSpace(piece) != "" {
			last := &out[len(out)-1]
			if last.Reason == "" {
				last.Reason = strings.TrimSpace(piece)
			} else {
				last.Reason = strings.TrimSpace(last.Reason + before + piece)
			}
		}
		before = sep
	}
	return out
}

func splitFailItem(piece string) (phone, reason string, ok bool) {
	piece = strings.TrimSpace(piece)
	phone, reason = piece, ""
	if i := strings.IndexAny(piece, ":^"); i >= 0 {
		phone, reason = strings.TrimSpace(piece[:i]), strings.TrimSpace(piece[i+1:])
	}
	return phone, reason, phoneLike(phone)
}

// phoneLike is a loose test, an optional "+" and digits, so that refused numbers
// of any length are reported; text with letters is taken for a reason.
func phoneLike(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// failMobileInfo reads the field as a string, or an array of strings; anything
// else is kept as raw text with no parsed items.
func failMobileInfo(raw json.RawMessage) (string, []FailedMobile) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, ParseFailMobileInfo(s)
	}
	var items []string
	if json.Unmarshal(raw, &items) == nil {
		var out []FailedMobile
		for _, it := range items {
			out = append(out, ParseFailMobileInfo(it)...)
		}
		return string(raw), out
	}
	return string(raw), nil
}

// ParseMobileList reads a batch's number list: records separated by "|", fields
// by "^" (phone, attach, params, custName, custCompany, status), params by "-".
// Empty records are skipped; missing fields are empty.
func ParseMobileList(s string) []ListedMobile {
	var out []ListedMobile
	for _, rec := range strings.Split(s, "|") {
		if strings.TrimSpace(rec) == "" {
			continue
		}
		f := strings.SplitN(rec, "^", 6)
		for len(f) < 6 {
			f = append(f, "")
		}
		m := ListedMobile{
			Phone: strings.TrimSpace(f[0]), Attach: f[1],
			CustName: f[3], CustCompany: f[4], Status: strings.TrimSpace(f[5]),
		}
		if f[2] != "" {
			m.Params = strings.Split(f[2], "-")
		}
		out = append(out, m)
	}
	return out
}
