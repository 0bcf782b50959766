package flashai

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors"
	"github.com/google/go-cmp/cmp"
)

func TestParseFailMobileInfo(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []FailedMobile
	}{
		{"empty", "", nil},
		{"project form", "13800000000:invalid phone,13900000000:duplicate phone",
			[]FailedMobile{{"13800000000", "invalid phone"}, {"13900000000", "duplicate phone"}}},
		{"bare phones", "13800000000, 13900000000",
			[]FailedMobile{{"13800000000", ""}, {"13900000000", ""}}},
		{"vendor style", "13800000000^blacklist|13900000000^no route",
			[]FailedMobile{{"13800000000", "blacklist"}, {"13900000000", "no route"}}},
		{"semicolons and spaces", " 13800000000 : a ; 13900000000:b ;",
			[]FailedMobile{{"13800000000", "a"}, {"13900000000", "b"}}},
		{"reason with separators", "13800000000:refused, see list; again,13900000000:x",
			[]FailedMobile{{"13800000000", "refused, see list; again"}, {"13900000000", "x"}}},
		{"reason after bare phone", "13800000000,unknown error",
			[]FailedMobile{{"13800000000", "unknown error"}}},
		{"colon in reason", "13800000000:code:17", []FailedMobile{{"13800000000", "code:17"}}},
		{"plus prefix", "+8613800000000:x", []FailedMobile{{"+8613800000000", "x"}}},
		{"leading noise dropped", "all failed,13800000000:x", []FailedMobile{{"13800000000", "x"}}},
		{"noise only", "nothing to see", nil},
		{"short invalid number", "13800000000:x,123:invalid phone",
			[]FailedMobile{{"13800000000", "x"}, {"123", "invalid phone"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ParseFailMobileInfo(tt.in)); diff != "" {
				t.Errorf("ParseFailMobileInfo(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestFailMobileInfoShapes(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantRaw string
		want    []FailedMobile
	}{
		{"absent", ``, "", nil},
		{"null", `null`, "", nil},
		{"string", `"13800000000:x"`, "13800000000:x", []FailedMobile{{"13800000000", "x"}}},
		{"array", `["13800000000:x","13900000000"]`, `["13800000000:x","13900000000"]`,
			[]FailedMobile{{"13800000000", "x"}, {"13900000000", ""}}},
		{"other kept raw", `{"13800000000":"x"}`, `{"13800000000":"x"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, got := failMobileInfo(json.RawMessage(tt.raw))
			if raw != tt.wantRaw {
				t.Errorf("failMobileInfo(%s) raw = %q; want %q", tt.raw, raw, tt.wantRaw)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("failMobileInfo(%s) (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

func TestParseMobileList(t *testing.T) {
	in := "13800000000^a1^p11-p12-p13^Name1^Co1^1|13900000000^^^^|| 13700000000"
	want := []ListedMobile{
		{Phone: "13800000000", Attach: "a1", Params: []string{"p11", "p12", "p13"}, CustName: "Name1", CustCompany: "Co1", Status: "1"},
		{Phone: "13900000000"},
		{Phone: "13700000000"},
	}
	if diff := cmp.Diff(want, ParseMobileList(in)); diff != "" {
		t.Errorf("ParseMobileList (-want +got):\n%s", diff)
	}
	if got := ParseMobileList(""); got != nil {
		t.Errorf("ParseMobileList(\"\") = %v; want nil", got)
	}
}

func TestFlexInt(t *testing.T) {
	tests := []struct {
		in      string
		want    flexInt
		wantErr bool
	}{
		{`3`, 3, false}, {`"3"`, 3, false}, {`" 12 "`, 12, false}, {`null`, 0, false}, {`""`, 0, false},
		{`3.0`, 3, false}, {`-2`, -2, false},
		{`3.5`, 0, true}, {`"x"`, 0, true}, {`true`, 0, true}, {`{}`, 0, true}, {`1e300`, 0, true},
	}
	for _, tt := range tests {
		var got flexInt
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("flexInt(%s) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCleanMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"illegal parameters", "illegal parameters"},
		{"phone 13812345678 invalid", "phone 138******78 invalid"},
		{"code 101008 over 1000", "code 101008 over 1000"},
		{strings.Repeat("é", 250), strings.Repeat("é", 200) + "…"},
	}
	for _, tt := range tests {
		if got := redact.Message(tt.in); got != tt.want {
			t.Errorf("redact.Message(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheckResponse(t *testing.T) {
	now := time.Unix(1700000000, 0)
	tests := []struct {
		name      string
		status    int
		header    http.Header
		body      string
		wantBody  string
		wantClass vendors.Class
		wantCode  string
		wantAfter time.Duration
	}{
		{"ok", 200, nil, `{"code":"0","msg":"ok","success":true,"body":{"a":1}}`, `{"a":1}`, vendors.Unknown, "", 0},
		{"ok numeric code", 200, nil, `{"code":0,"body":null}`, `null`, vendors.Unknown, "", 0},
		{"ok success as string", 200, nil, `{"code":"0","success":"true"}`, ``, vendors.Unknown, "", 0},
		{"vendor code", 200, nil, `{"code":"1010","msg":"illegal","success":false}`, "", vendors.InvalidPart, "1010", 0},
		{"numeric vendor code", 200, nil, `{"code":1004}`, "", vendors.Transient, "1004", 0},
		{"not json", 200, nil, `<html>`, "", vendors.Ambiguous, "", 0},
		{"no code", 200, nil, `{"msg":"x"}`, "", vendors.Ambiguous, "", 0},
		{"array", 200, nil, `[1]`, "", vendors.Ambiguous, "", 0},
		{"truncated", 200, nil, `{"code":`, "", vendors.Ambiguous, "", 0},
		{"503 bare", 503, nil, `busy`, "", vendors.Transient, "", 0},
		{"429 bare", 429, http.Header{"Retry-After": {"7"}}, ``, "", vendors.Throttled, "", 7 * time.Second},
		{"429 with envelope", 429, http.Header{"Retry-After": {"3"}}, `{"code":"1003"}`, "", vendors.Throttled, "1003", 3 * time.Second},
		{"500 with envelope", 500, nil, `{"code":"1003"}`, "", vendors.Transient, "1003", 0},
		{"400 with envelope", 400, nil, `{"code":"1010"}`, "", vendors.InvalidPart, "1010", 0},
		{"404 bare", 404, nil, `not found`, "", vendors.Permanent, "", 0},
		{"400 with ok code", 400, nil, `{"code":"0"}`, "", vendors.Permanent, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			body, err := checkResponse("addPlan", &vendors.Response{StatusCode: tt.status, Header: h, Body: []byte(tt.body)}, now)
			if tt.wantClass == vendors.Unknown {
				if err != nil || string(body) != tt.wantBody {
					t.Fatalf("checkResponse = %s, %v; want %s", body, err, tt.wantBody)
				}
				return
			}
			if err == nil {
				t.Fatalf("checkResponse = %s; want a %v error", body, tt.wantClass)
			}
			if got := vendors.ClassOf(err); got != tt.wantClass {
				t.Errorf("ClassOf(%v) = %v; want %v", err, got, tt.wantClass)
			}
			var ae *APIError
			if gotCode := ""; errors.As(err, &ae) {
				gotCode = ae.Code
				if gotCode != tt.wantCode {
					t.Errorf("code = %q; want %q", gotCode, tt.wantCode)
				}
			} else if tt.wantCode != "" {
				t.Errorf("error %T; want *APIError with code %s", err, tt.wantCode)
			}
			if got := vendors.RetryAfter(err); got != tt.wantAfter {
				t.Errorf("RetryAfter = %v; want %v", got, tt.wantAfter)
			}
		})
	}
}

func FuzzCheckResponse(f *testing.F) {
	f.Add(200, []byte(`{"code":"0","body":{"rightCount":1,"failCount":"1","failMobileInfo":"13800000000:x"}}`))
	f.Add(200, []byte(`{"code":"101007","msg":"dup 13800000000"}`))
	f.Add(429, []byte(`{"code":1004}`))
	f.Add(200, []byte(`{"code":"0","body":{"mobileList":"1^2^3-4|5","batchCount":"2"}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		raw, err := checkResponse("addPlan", &vendors.Response{StatusCode: status, Header: http.Header{}, Body: body}, time.Now())
		if err != nil {
			if raw != nil {
				t.Fatalf("checkResponse returned a body with error %v", err)
			}
			if c := vendors.ClassOf(err); c == vendors.Unknown {
				t.Fatalf("error %v has no class", err)
			}
			var ae *APIError
			if errors.As(err, &ae) && ae.Code == CodeOK {
				t.Fatalf("APIError with code 0: %v", err)
			}
			return
		}
		if status < 200 || status > 299 {
			t.Fatalf("status %d accepted", status)
		}
		// Whatever the body holds, reading it must not panic.
		var a addPlanBody
		if decodeBody("addPlan", raw, &a) == nil {
			failMobileInfo(a.FailMobileInfo)
		}
		var l listBody
		if decodeBody("getBatchPlanList", raw, &l) == nil {
			ParseMobileList(string(l.MobileList))
		}
	})
}

func FuzzParseFailMobileInfo(f *testing.F) {
	f.Add("13800000000:invalid phone,13900000000:duplicate phone")
	f.Add("13800000000^a|;,:")
	f.Add(",,,")
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range ParseFailMobileInfo(s) {
			if !phoneLike(m.Phone) {
				t.Fatalf("ParseFailMobileInfo(%q) gave phone %q", s, m.Phone)
			}
			if !strings.Contains(s, m.Phone) {
				t.Fatalf("ParseFailMobileInfo(%q) invented phone %q", s, m.Phone)
			}
		}
	})
}
