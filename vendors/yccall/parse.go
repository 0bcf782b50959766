// Reading Yccall's answers: the envelope and its errors, and the refused numbers
// (invaliddata) in each shape the package comment lists.

package yccall

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors"
)

// envelope is the vendor's answer: {ret, data: {status, desc, result, errors}, msg}.
type envelope struct {
	Ret     int
	Msg     string
	Status  int
	Desc    string
	Result  json.RawMessage
	ErrCode int
	ErrMsg  string
}

// parseEnvelope reads the vendor's answer. ret is required; with ret 200, data must
// be an object. Integers may come quoted.
func parseEnvelope(b []byte) (*envelope, error) {
	var raw struct {
		Ret  json.RawMessage `json:"ret"`
		Data json.RawMessage `json:"data"`
		Msg  json.RawMessage `json:"msg"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("not a json object: %w", err)
	}
	ret, ok := vendors.JSONInt(raw.Ret)
	if !ok {
		return nil, errors.New("ret missing or not an integer")
	}
	env := &envelope{Ret: ret, Msg: vendors.JSONString(raw.Msg)}
	var data struct {
		Status json.RawMessage `json:"status"`
		Desc   json.RawMessage `json:"desc"`
		Result json.RawMessage `json:"result"`
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(raw.Data, &data); err != nil || raw.Data == nil || string(raw.Data) == "null" {
		if ret == RetOK {
			return nil, errors.New("data missing or not an object")
		}
		return env, nil
	}
	env.Desc, env.Result = vendors.JSONString(data.Desc), data.Result
	// An absent status reads as 0 (the result decides); a present one must be an integer.
	if data.Status != nil {
		if env.Status, ok = vendors.JSONInt(data.Status); !ok && ret == RetOK {
			return nil, errors.New("data.status is not an integer")
		}
	}
	var errs struct {
		Code    json.RawMessage `json:"code"`
		CodeMsg json.RawMessage `json:"codemsg"`
	}
	if json.Unmarshal(data.Errors, &errs) == nil {
		env.ErrCode, _ = vendors.JSONInt(errs.Code)
		env.ErrMsg = vendors.JSONString(errs.CodeMsg)
	}
	return env, nil
}

// checkResponse turns the vendor's answer into its envelope or a classified error.
func checkResponse(op string, resp *vendors.Response, now time.Time) (*envelope, error) {
	env, perr := parseEnvelope(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{Op: op, StatusCode: resp.StatusCode, After: resp.RetryAfterHeader(now)}
		if perr == nil {
			e.Ret, e.Status, e.Code, e.Message = env.Ret, env.Status, env.ErrCode, redact.Message(firstNonEmpty(env.ErrMsg, env.Msg, env.Desc))
		}
		return nil, e
	}
	if perr != nil {
		return nil, &vendors.MalformedError{Vendor: vendor, Op: op, Err: perr}
	}
	switch {
	case env.Ret != RetOK:
		return nil, &APIError{Op: op, StatusCode: resp.StatusCode, Ret: env.Ret, Message: redact.Message(firstNonEmpty(env.Msg, env.Desc))}
	case env.Status != 0:
		return nil, &APIError{Op: op, StatusCode: resp.StatusCode, Ret: env.Ret, Status: env.Status, Code: env.ErrCode,
			Message: redact.Message(firstNonEmpty(env.ErrMsg, env.Desc, env.Msg))}
	}
	return env, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

var (
	phoneKeys  = []string{"phone", "telphone", "mobile", "tel", "number"}
	reasonKeys = []string{"reason", "msg", "message", "desc", "error", "errmsg", "codemsg", "remark"}
)

// parseInvalid reads invaliddata in any of the shapes the package comment lists.
func parseInvalid(raw json.RawMessage) ([]Invalid, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" || s == `""` {
		return nil, nil
	}
	switch s[0] {
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("invaliddata: %w", err)
		}
		out := make([]Invalid, 0, len(items))
		for _, it := range items {
			out = append(out, invalidItem(it))
		}
		return out, nil
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("invaliddata: %w", err)
		}
		phones := make([]string, 0, len(m))
		for p := range m {
			phones = append(phones, p)
		}
		sort.Strings(phones)
		out := make([]Invalid, 0, len(m))
		for _, p := range phones {
			in := Invalid{Phone: p, Reason: vendors.JSONString(m[p])}
			if in.Reason == "" {
				in.Reason = invalidItem(m[p]).Reason
			}
			out = append(out, withReason(in))
		}
		return out, nil
	}
	return nil, errors.New("invaliddata is neither a list nor an object")
}

// invalidItem reads one element: a phone (string or number) or an object.
func invalidItem(raw json.RawMessage) Invalid {
	if p := asScalar(raw); p != "" {
		return withReason(Invalid{Phone: p})
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return withReason(Invalid{})
	}
	lower := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		lower[strings.ToLower(k)] = v
	}
	var in Invalid
	for _, k := range phoneKeys {
		if in.Phone = asScalar(lower[k]); in.Phone != "" {
			break
		}
	}
	for _, k := range reasonKeys {
		if in.Reason = asScalar(lower[k]); in.Reason != "" {
			break
		}
	}
	return withReason(in)
}

func withReason(in Invalid) Invalid {
	if in.Reason == "" {
		in.Reason = "refused by vendor (no reason given)"
	}
	return in
}

// asScalar reads a JSON string or number as text; anything else reads as empty.
func asScalar(raw json.RawMessage) string {
	if s := vendors.JSONString(raw); s != "" {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return ""
	}
	return n.String()
}
