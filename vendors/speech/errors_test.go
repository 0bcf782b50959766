package speech

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/dialq/dialq/vendors"
)

func TestCheckResponse(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name    string
		op      string
		status  int
		header  http.Header
		body    string
		data    string // on success
		class   vendors.Class
		code    string
		dup     bool
		retryIn time.Duration
	}{
		{"ok", "create", 200, nil, `{"code":"10000","message":"请求成功","data":123}`, "123", 0, "", false, 0},
		{"ok numeric code", "create", 200, nil, `{"code":10000,"message":"ok","data":5}`, "5", 0, "", false, 0},
		{"auth failed", "create", 200, nil, `{"code":"10001","message":"鉴权失败","data":null}`, "", vendors.AuthRefused, "10001", false, 0},
		{"no public key", "append", 200, nil, `{"code":"10002","message":"找不到对应的公钥"}`, "", vendors.Permanent, "10002", false, 0},
		{"request failed", "create", 200, nil, `{"code":"20001","message":"请求失败"}`, "", vendors.Transient, "20001", false, 0},
		{"parameter error", "create", 200, nil, `{"code":"29002","message":"参数错误"}`, "", vendors.InvalidPart, "29002", false, 0},
		{"duplicate name", "create", 200, nil, `{"code":"29002","message":"taskName already exists"}`, "", vendors.Permanent, "29002", true, 0},
		{"already exists on append is not a name", "append", 200, nil, `{"code":"29002","message":"customer already exists"}`, "", vendors.InvalidPart, "29002", false, 0},
		{"task name on append is not a name", "append", 200, nil, `{"code":"20001","message":"task name exists"}`, "", vendors.Transient, "20001", false, 0},
		{"customer exists on create is not a name", "create", 200, nil, `{"code":"29002","message":"customer already exists"}`, "", vendors.InvalidPart, "29002", false, 0},
		{"duplicate name 20001", "create", 200, nil, `{"code":"20001","message":"task name exists"}`, "", vendors.Permanent, "20001", true, 0},
		{"duplicate name on 500", "create", 500, nil, `{"code":"29008","message":"任务名称已存在"}`, "", vendors.Permanent, "29008", true, 0},
		{"duplicate name on 429", "create", 429, http.Header{"Retry-After": {"5"}}, `{"code":"20001","message":"taskName already exists"}`, "", vendors.Permanent, "20001", true, 5 * time.Second},
		{"system error", "append", 200, nil, `{"code":"29008","message":"系统异常"}`, "", vendors.Transient, "29008", false, 0},
		{"unknown code", "create", 200, nil, `{"code":"30000","message":"?"}`, "", vendors.Permanent, "30000", false, 0},
		{"unknown code on 503", "create", 503, nil, `{"code":"30000","message":"?"}`, "", vendors.Transient, "30000", false, 0},
		{"listed code on 500", "create", 500, nil, `{"code":"29008","message":"系统异常"}`, "", vendors.Transient, "29008", false, 0},
		{"auth code on 401", "create", 401, nil, `{"code":"10001","message":"鉴权失败"}`, "", vendors.AuthRefused, "10001", false, 0},
		{"envelope on 429", "create", 429, http.Header{"Retry-After": {"7"}}, `{"code":"29008","message":"busy"}`, "", vendors.Throttled, "29008", false, 7 * time.Second},
		{"plain 429", "create", 429, http.Header{"Retry-After": {"3"}}, `Too Many Requests`, "", vendors.Throttled, "", false, 3 * time.Second},
		{"plain 503", "append", 503, nil, `<html>bad gateway</html>`, "", vendors.Transient, "", false, 0},
		{"plain 404", "append", 404, nil, `not found`, "", vendors.Permanent, "", false, 0},
		{"ok code on 500", "create", 500, nil, `{"code":"10000"}`, "", vendors.Transient, "", false, 0},
		{"200 not json", "create", 200, nil, `<html>`, "", vendors.Ambiguous, "", false, 0},
		{"200 truncated", "create", 200, nil, `{"code":`, "", vendors.Ambiguous, "", false, 0},
		{"200 no code", "create", 200, nil, `{"message":"x"}`, "", vendors.Ambiguous, "", false, 0},
		{"200 empty code", "create", 200, nil, `{"code":""}`, "", vendors.Ambiguous, "", false, 0},
		{"200 code object", "create", 200, nil, `{"code":{}}`, "", vendors.Ambiguous, "", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &vendors.Response{StatusCode: tt.status, Header: tt.header, Body: []byte(tt.body)}
			if resp.Header == nil {
				resp.Header = http.Header{}
			}
			data, err := checkResponse(tt.op, resp, now, "")
			if tt.class == 0 {
				if err != nil || string(data) != tt.data {
					t.Fatalf("checkResponse = %s, %v; want %s, nil", data, err, tt.data)
				}
				return
			}
			if err == nil {
				t.Fatal("checkResponse succeeded; want an error")
			}
			if got := vendors.ClassOf(err); got != tt.class {
				t.Errorf("class = %v; want %v (%v)", got, tt.class, err)
			}
			if got := vendors.RetryAfter(err); got != tt.retryIn {
				t.Errorf("RetryAfter = %v; want %v", got, tt.retryIn)
			}
			var ae *APIError
			if errors.As(err, &ae) {
				if ae.Code != tt.code || ae.DuplicateTaskName() != tt.dup || ae.StatusCode != tt.status {
					t.Errorf("APIError = %+v; want code %q dup %v status %d", ae, tt.code, tt.dup, tt.status)
				}
			} else if tt.code != "" {
				t.Errorf("error %T; want *APIError with code %s", err, tt.code)
			}
		})
	}
}

// TestDuplicateNameWordings: the built-in wordings and the tenant's are recognised
// on a create whatever the code; a message about something else is not.
func TestDuplicateNameWordings(t *testing.T) {
	tests := []struct {
		code, msg, tenant string
		want              bool
	}{
		{"29002", "taskName already exists", "", true},
		{"20001", "task name exists", "", true},
		{"20001", "Task Name [campaign-3f2a-7] already exists", "", true},
		{"20001", "task_name is taken", "", true},
		{"29002", "duplicate task name", "", true},
		{"29002", "task name duplicated", "", true},
		{"20001", "task already exists", "", true},
		{"20001", "任务名称已存在", "", true},
		{"29002", "任务名称重复", "", true},
		{"29002", "名称重复", "", true},
		{"20001", "请求失败：任务名称[abc]已经存在", "", true},
		{"29002", "taskName已存在", "", true},
		{"10000x", "名称已被使用", "", true},
		{"20001", "任务重名", "", true},
		{"29002", "this label is in our books", "in our books", true},
		{"29002", "Conflict: LABEL TAKEN", "name clash|label taken", true},
		{"20001", "请求失败", "", false},
		{"29002", "参数错误", "", false},
		{"29002", "customer already exists", "", false},
		{"29002", "already exists", "", false},
		{"29002", "taskName must be 1 to 50 characters", "", false},
		{"29002", "taskName is required", "", false},
		{"29002", "parameter error", "|", false},
		{"20001", "request failed", "  ", false},
	}
	for _, tt := range tests {
		body := fmt.Sprintf(`{"code":%q,"message":%q}`, tt.code, tt.msg)
		resp := &vendors.Response{StatusCode: 200, Header: http.Header{}, Body: []byte(body)}
		_, err := checkResponse("create", resp, time.Now(), tt.tenant)
		if got := IsDuplicateName(err); got != tt.want {
			t.Errorf("IsDuplicateName(%s, tenant %q) = %v; want %v", body, tt.tenant, got, tt.want)
		}
		if tt.want && vendors.ClassOf(err) != vendors.Permanent {
			t.Errorf("%s: class %v; want permanent", body, vendors.ClassOf(err))
		}
	}
	if IsDuplicateName(nil) || IsDuplicateName(errors.New("task name exists")) {
		t.Error("IsDuplicateName of a nil or foreign error is true")
	}
}

func TestAPIErrorString(t *testing.T) {
	resp := &vendors.Response{StatusCode: 502, Header: http.Header{}, Body: []byte(`{"code":"29002","message":"mobile 13800000001 invalid"}`)}
	_, err := checkResponse("append", resp, time.Now(), "")
	got := err.Error()
	if want := "speech append: code 29002: mobile 138******01 invalid (http 502)"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
}

func TestParseTaskID(t *testing.T) {
	tests := []struct {
		data string
		want int64
		ok   bool
	}{
		{"123", 123, true},
		{`"1462016331580064"`, 1462016331580064, true},
		{"9007199254740993", 9007199254740993, true}, // beyond float64 precision
		{"", 0, false},
		{"null", 0, false},
		{"0", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"1e3", 0, false},
		{`"abc"`, 0, false},
		{`{"id":1}`, 0, false},
		{"true", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := parseTaskID([]byte(tt.data))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseTaskID(%s) = %d, %v; want %d, ok %v", tt.data, got, err, tt.want, tt.ok)
		}
	}
}

// FuzzCheckResponse: any answer gives data or a classified error, never a panic,
// success only on 2xx with code 10000, and no error string longer than a bounded
// message or carrying a long digit run from the body.
func FuzzCheckResponse(f *testing.F) {
	f.Add(200, []byte(`{"code":"10000","message":"ok","data":123}`))
	f.Add(200, []byte(`{"code":"29002","message":"taskName already exists"}`))
	f.Add(429, []byte(`{"code":"29008"}`))
	f.Add(500, []byte(`<html>`))
	f.Add(200, []byte(`{"code":10000,"data":"12"}`))
	f.Add(200, []byte(`{"code":"29002","message":"mobile 13800000001 bad"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			return
		}
		resp := &vendors.Response{StatusCode: status, Header: http.Header{}, Body: body}
		data, err := checkResponse("create", resp, time.Now(), "")
		if err == nil {
			code, _, ok := parseEnvelope(body)
			if !ok || code != CodeOK || status < 200 || status > 299 {
				t.Fatalf("success on status %d body %q", status, body)
			}
			_, _ = parseTaskID(data)
			return
		}
		if c := vendors.ClassOf(err); c == vendors.Unknown {
			t.Fatalf("unclassified error %v", err)
		}
		msg := err.Error()
		if len([]rune(msg)) > 300 {
			t.Fatalf("error string too long: %d runes", len([]rune(msg)))
		}
		digits := 0
		for _, r := range msg {
			if r >= '0' && r <= '9' {
				digits++
				if digits >= 7 {
					t.Fatalf("error %q carries a run of 7 digits", msg)
				}
			} else {
				digits = 0
			}
		}
	})
}
