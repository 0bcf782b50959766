package nxcloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/nxcloud"
	"github.com/google/go-cmp/cmp"
)

const (
	testKey    = "ak-test"
	testSecret = "s3cr3t-value"
)

// setup starts the fake vendor over loopback and a client pointed at it.
func setup(t *testing.T, mod func(*nxcloud.Config)) (*fakevendor.Server, *nxcloud.Client) {
	t.Helper()
	fv := fakevendor.New(fakevendor.Config{
		NXCloud: fakevendor.NXCloudConfig{AccessKey: testKey, AccessSecret: testSecret},
		Seed:    1,
	})
	srv := httptest.NewServer(fv)
	t.Cleanup(srv.Close)
	cfg := nxcloud.Config{BaseURL: srv.URL + "/nxcloud", AccessKey: testKey, AccessSecret: testSecret, Timeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c, err := nxcloud.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return fv, c
}

func request(phones ...string) *nxcloud.CreateAndCallRequest {
	r := &nxcloud.CreateAndCallRequest{
		Country: "HK", TaskName: "batch-1", StrategyName: "Default Strategy", DispatchType: nxcloud.DispatchNone,
		AgentGroupNo: "NX09445G000025", PredictCallRate: 1, RatioCallRate: 1, StartCount: 1,
	}
	for i, p := range phones {
		r.CallList = append(r.CallList, nxcloud.CallItem{OrderID: fmt.Sprintf("order-%d-%s", i, p), UserPhone: p, Other: "x"})
	}
	return r
}

func TestCreateAndCallAgainstFake(t *testing.T) {
	fv, c := setup(t, nil)
	phones := []string{"85235757581", "85235757582", "85235757583"}
	// Refusals are a per-number feature nxcloud does not have: the fake ignores them.
	fv.Refuse("no reason", phones[1])
	resp, err := c.CreateAndCall(context.Background(), request(phones...))
	if err != nil {
		t.Fatalf("CreateAndCall: %v", err)
	}
	if resp.ReqID == "" {
		t.Errorf("CreateAndCall: empty ReqID")
	}
	l := fv.Ledger(fakevendor.NXCloud)
	want := map[string]int{phones[0]: 1, phones[1]: 1, phones[2]: 1}
	if diff := cmp.Diff(want, l.Numbers); diff != "" {
		t.Errorf("ledger numbers (-want +got):\n%s", diff)
	}
	if l.Tasks != 1 {
		t.Errorf("ledger tasks = %d; want 1", l.Tasks)
	}
}

func TestCreateAndCallFailuresAgainstFake(t *testing.T) {
	skewed := func() time.Time { return time.Now().Add(-2 * time.Minute) }
	tests := []struct {
		name      string
		cfg       func(*nxcloud.Config)
		prepare   func(*fakevendor.Server)
		req       *nxcloud.CreateAndCallRequest
		wantClass vendors.Class
		wantCode  int
	}{
		{name: "poison", prepare: func(s *fakevendor.Server) { s.Poison("85235757582") },
			wantClass: vendors.InvalidPart, wantCode: nxcloud.CodeParamError},
		{name: "bad phone", req: request("85235757581", "+85235757582"),
			wantClass: vendors.InvalidPart, wantCode: nxcloud.CodeParamError},
		{name: "duplicate order id", req: func() *nxcloud.CreateAndCallRequest {
			r := request("85235757581", "85235757582")
			r.CallList[1].OrderID = r.CallList[0].OrderID
			return r
		}(), wantClass: vendors.InvalidPart, wantCode: nxcloud.CodeParamError},
		{name: "wrong secret", cfg: func(c *nxcloud.Config) { c.AccessSecret = "other" },
			wantClass: vendors.AuthRefused, wantCode: nxcloud.CodeBadSign},
		{name: "wrong key", cfg: func(c *nxcloud.Config) { c.AccessKey = "other" },
			wantClass: vendors.Permanent, wantCode: nxcloud.CodeNoPermission},
		{name: "clock skew", cfg: func(c *nxcloud.Config) { c.Now = skewed },
			wantClass: vendors.AuthRefused, wantCode: nxcloud.CodeTSExpired},
		{name: "system error", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{SystemError: 1}) },
			wantClass: vendors.Transient, wantCode: nxcloud.CodeSystemError},
		{name: "server error", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{ServerError: 1}) },
			wantClass: vendors.Transient},
		{name: "throttle", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Throttle: 1, RetryAfterSeconds: 7}) },
			wantClass: vendors.Throttled},
		{name: "malformed", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Malformed: 1}) },
			wantClass: vendors.Ambiguous},
		{name: "drop", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Drop: 1}) },
			wantClass: vendors.Ambiguous},
		{name: "timeout", cfg: func(c *nxcloud.Config) { c.Timeout = 50 * time.Millisecond },
			prepare:   func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Timeout: 1, TimeoutMillis: 500}) },
			wantClass: vendors.Ambiguous},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fv, c := setup(t, tt.cfg)
			if tt.prepare != nil {
				tt.prepare(fv)
			}
			req := tt.req
			if req == nil {
				req = request("85235757581", "85235757582")
			}
			_, err := c.CreateAndCall(context.Background(), req)
			if err == nil {
				t.Fatalf("CreateAndCall: no error; want %v", tt.wantClass)
			}
			if got := vendors.ClassOf(err); got != tt.wantClass {
				t.Errorf("ClassOf(%v) = %v; want %v", err, got, tt.wantClass)
			}
			var ae *nxcloud.APIError
			if tt.wantCode != 0 && (!errors.As(err, &ae) || ae.Code != tt.wantCode) {
				t.Errorf("CreateAndCall error = %v; want vendor code %d", err, tt.wantCode)
			}
			if tt.wantClass == vendors.Throttled && vendors.RetryAfter(err) != 7*time.Second {
				t.Errorf("RetryAfter(%v) = %v; want 7s", err, vendors.RetryAfter(err))
			}
			for _, secret := range []string{testSecret, "85235757581", "85235757582"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains %q", err, secret)
				}
			}
			if n := len(fv.Ledger(fakevendor.NXCloud).Numbers); n != 0 {
				t.Errorf("ledger holds %d numbers after a failed call; want 0", n)
			}
		})
	}
}

// script is a vendor stand-in that answers with the scripted replies in turn and
// records what it was sent.
type script struct {
	mu      sync.Mutex
	replies []reply
	got     []*http.Request
	bodies  [][]byte
}

type reply struct {
	status int
	header map[string]string
	body   string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, r)
	s.bodies = append(s.bodies, b)
	rp := s.replies[0]
	if len(s.replies) > 1 {
		s.replies = s.replies[1:]
	}
	for k, v := range rp.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rp.status)
	io.WriteString(w, rp.body)
}

func scripted(t *testing.T, now func() time.Time, replies ...reply) (*script, *nxcloud.Client) {
	t.Helper()
	s := &script{replies: replies}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c, err := nxcloud.NewClient(nxcloud.Config{BaseURL: srv.URL, AccessKey: testKey, AccessSecret: testSecret, Now: now})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return s, c
}

func envelope(code int, msg string) string {
	return fmt.Sprintf(`{"reqId":"R1","code":%d,"msg":%q,"data":{}}`, code, msg)
}

func TestCodeClasses(t *testing.T) {
	tests := []struct {
		name string
		r    reply
		want vendors.Class
	}{
		{"88 failed", reply{200, nil, envelope(88, "Request failed")}, vendors.Transient},
		{"99 system", reply{200, nil, envelope(99, "System error")}, vendors.Transient},
		{"41000 param", reply{200, nil, envelope(41000, "Parameter error or empty")}, vendors.InvalidPart},
		{"1001 header", reply{200, nil, envelope(1001, "missing header")}, vendors.Permanent},
		{"1002 biztype", reply{200, nil, envelope(1002, "wrong bizType")}, vendors.Permanent},
		{"1003 sign", reply{200, nil, envelope(1003, "bad sign")}, vendors.AuthRefused},
		{"1004 ts", reply{200, nil, envelope(1004, "ts expired")}, vendors.AuthRefused},
		{"1003 on 401", reply{401, nil, envelope(1003, "bad sign")}, vendors.AuthRefused},
		{"1005 permission", reply{200, nil, envelope(1005, "no permission")}, vendors.Permanent},
		{"unknown code", reply{200, nil, envelope(777, "what")}, vendors.Permanent},
		{"quoted code", reply{200, nil, `{"code":"41000","msg":"x"}`}, vendors.InvalidPart},
		{"429", reply{429, map[string]string{"Retry-After": "3"}, "slow down"}, vendors.Throttled},
		{"429 with envelope", reply{429, map[string]string{"Retry-After": "3"}, envelope(41000, "x")}, vendors.Throttled},
		{"500 text", reply{500, nil, "oops"}, vendors.Transient},
		{"502 with param code", reply{502, nil, envelope(41000, "x")}, vendors.InvalidPart},
		{"404", reply{404, nil, "no such path"}, vendors.Permanent},
		{"301 not followed", reply{301, map[string]string{"Location": "/elsewhere"}, ""}, vendors.Ambiguous},
		{"200 not json", reply{200, nil, "<html>"}, vendors.Ambiguous},
		{"200 no code", reply{200, nil, `{"msg":"ok"}`}, vendors.Ambiguous},
		{"200 float code", reply{200, nil, `{"code":0.5}`}, vendors.Ambiguous},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := scripted(t, nil, tt.r)
			_, err := c.CreateAndCall(context.Background(), request("85235757581"))
			if got := vendors.ClassOf(err); err == nil || got != tt.want {
				t.Fatalf("CreateAndCall error = %v (class %v); want class %v", err, got, tt.want)
			}
			if tt.want == vendors.Throttled && vendors.RetryAfter(err) != 3*time.Second {
				t.Errorf("RetryAfter = %v; want 3s", vendors.RetryAfter(err))
			}
		})
	}
}

func TestCreateAndCallOK(t *testing.T) {
	s, c := scripted(t, nil, reply{200, nil, `{"reqId":"9834904964284198A05BE414383621E8","code":0,"msg":"Request successful","data":null}`})
	resp, err := c.CreateAndCall(context.Background(), request("85235757581"))
	if err != nil {
		t.Fatalf("CreateAndCall: %v", err)
	}
	want := &nxcloud.CreateAndCallResponse{ReqID: "9834904964284198A05BE414383621E8", Message: "Request successful"}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("CreateAndCall (-want +got):\n%s", diff)
	}
	if n := len(s.got); n != 1 {
		t.Errorf("server saw %d requests; want 1", n)
	}
}

// TestRequestOnTheWire checks headers, signature and the exact body format.
func TestRequestOnTheWire(t *testing.T) {
	now := time.UnixMilli(1655710885431)
	s, c := scripted(t, func() time.Time { return now }, reply{200, nil, envelope(0, "ok")})
	req := request("85235757581")
	req.PredictCallRate = 1.2
	req.RatioCallRate = 2
	st := nxcloud.StartupImmediate
	req.StartupType = &st
	if _, err := c.CreateAndCall(context.Background(), req); err != nil {
		t.Fatalf("CreateAndCall: %v", err)
	}
	r, body := s.got[0], s.bodies[0]
	if r.Method != http.MethodPost || r.URL.Path != "/saas/cc/openapi/ai/createandcall" {
		t.Errorf("request = %s %s; want POST /saas/cc/openapi/ai/createandcall", r.Method, r.URL.Path)
	}
	wantHeaders := map[string]string{
		"Content-Type": "application/json", "accessKey": testKey, "ts": "1655710885431", "bizType": "8", "action": "cc",
		"sign": nxcloud.Sign(testKey, "cc", "8", "1655710885431", body, testSecret),
	}
	for k, v := range wantHeaders {
		if got := r.Header.Get(k); got != v {
			t.Errorf("header %s = %q; want %q", k, got, v)
		}
	}
	for _, part := range []string{`"predictCallRate":1.20`, `"ratioCallRate":2.0`, `"startupType":3`,
		`"callList":[{"orderID":"order-0-85235757581","userPhone":"85235757581","other":"x"}]`} {
		if !strings.Contains(string(body), part) {
			t.Errorf("body %s lacks %s", body, part)
		}
	}
	if strings.Contains(string(body), "taskDesc") || strings.Contains(string(body), testSecret) {
		t.Errorf("body %s carries an empty taskDesc or the secret", body)
	}
}

// TestRetrySameIDsFreshSignature: a second call after a transient failure sends
// the same body (same orderIDs) with a new ts and signature.
func TestRetrySameIDsFreshSignature(t *testing.T) {
	var mu sync.Mutex
	clock := time.UnixMilli(1700000000000)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(90 * time.Second)
		return clock
	}
	s, c := scripted(t, now, reply{200, nil, envelope(99, "System error")}, reply{200, nil, envelope(0, "ok")})
	req := request("85235757581", "85235757582")
	_, err := c.CreateAndCall(context.Background(), req)
	if vendors.ClassOf(err) != vendors.Transient {
		t.Fatalf("first call error = %v; want transient", err)
	}
	if _, err := c.CreateAndCall(context.Background(), req); err != nil {
		t.Fatalf("second call: %v", err)
	}
	if len(s.got) != 2 {
		t.Fatalf("server saw %d requests; want 2", len(s.got))
	}
	var first, second struct {
		CallList []nxcloud.CallItem `json:"callList"`
	}
	if err := json.Unmarshal(s.bodies[0], &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(s.bodies[1], &second); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first.CallList, second.CallList); diff != "" || len(first.CallList) != 2 {
		t.Errorf("retry call list differs (-first +second):\n%s", diff)
	}
	for _, h := range []string{"ts", "sign"} {
		if a, b := s.got[0].Header.Get(h), s.got[1].Header.Get(h); a == b {
			t.Errorf("header %s repeated on retry: %q", h, a)
		}
	}
	ts0, _ := strconv.ParseInt(s.got[0].Header.Get("ts"), 10, 64)
	ts1, _ := strconv.ParseInt(s.got[1].Header.Get("ts"), 10, 64)
	if ts1-ts0 != 90000 {
		t.Errorf("ts moved by %d ms; want 90000", ts1-ts0)
	}
}

func TestClientRefusesBadRequests(t *testing.T) {
	neg := nxcloud.StartupType(4)
	tests := []struct {
		name string
		mod  func(*nxcloud.CreateAndCallRequest)
	}{
		{"empty list", func(r *nxcloud.CreateAndCallRequest) { r.CallList = nil }},
		{"lower-case country", func(r *nxcloud.CreateAndCallRequest) { r.Country = "hk" }},
		{"long country", func(r *nxcloud.CreateAndCallRequest) { r.Country = "HKG" }},
		{"no task name", func(r *nxcloud.CreateAndCallRequest) { r.TaskName = "" }},
		{"no strategy", func(r *nxcloud.CreateAndCallRequest) { r.StrategyName = "" }},
		{"no agent group", func(r *nxcloud.CreateAndCallRequest) { r.AgentGroupNo = "" }},
		{"dispatch 3", func(r *nxcloud.CreateAndCallRequest) { r.DispatchType = 3 }},
		{"startup 4", func(r *nxcloud.CreateAndCallRequest) { r.StartupType = &neg }},
		{"negative rate", func(r *nxcloud.CreateAndCallRequest) { r.PredictCallRate = -1 }},
		{"negative start", func(r *nxcloud.CreateAndCallRequest) { r.StartCount = -1 }},
	}
	s, c := scripted(t, nil, reply{200, nil, envelope(0, "ok")})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request("85235757581")
			tt.mod(req)
			_, err := c.CreateAndCall(context.Background(), req)
			var re *nxcloud.RequestError
			if !errors.As(err, &re) || vendors.ClassOf(err) != vendors.Permanent {
				t.Errorf("CreateAndCall = %v; want a permanent *RequestError", err)
			}
		})
	}
	if _, err := c.CreateAndCall(context.Background(), nil); err == nil {
		t.Errorf("CreateAndCall(nil) succeeded")
	}
	if len(s.got) != 0 {
		t.Errorf("server saw %d requests; want none", len(s.got))
	}
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		name string
		cfg  nxcloud.Config
		ok   bool
	}{
		{"default base", nxcloud.Config{AccessKey: "k", AccessSecret: "s"}, true},
		{"regional base", nxcloud.Config{BaseURL: "https://api-hk.nxlink.ai/", AccessKey: "k", AccessSecret: "s"}, true},
		{"no scheme", nxcloud.Config{BaseURL: "api2.nxcloud.com", AccessKey: "k", AccessSecret: "s"}, false},
		{"ftp", nxcloud.Config{BaseURL: "ftp://x", AccessKey: "k", AccessSecret: "s"}, false},
		{"no key", nxcloud.Config{AccessSecret: "s"}, false},
		{"no secret", nxcloud.Config{AccessKey: "k"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := nxcloud.NewClient(tt.cfg)
			if (err == nil) != tt.ok {
				t.Errorf("NewClient(%v) error = %v; want ok=%v", tt.cfg, err, tt.ok)
			}
		})
	}
	if s := fmt.Sprint(nxcloud.Config{AccessKey: "k", AccessSecret: testSecret}); strings.Contains(s, testSecret) {
		t.Errorf("Config prints its secret: %s", s)
	}
}

func TestConfigFromEnv(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		env            map[string]string
		want           nxcloud.Config
		wantConfigured bool
		wantErr        string
	}{
		{name: "none", env: map[string]string{}},
		{name: "full", env: map[string]string{"NXCLOUD_ACCESS_KEY": "k", "NXCLOUD_ACCESS_SECRET": "s"},
			want: nxcloud.Config{BaseURL: nxcloud.DefaultBaseURL, AccessKey: "k", AccessSecret: "s"}, wantConfigured: true},
		{name: "file", env: map[string]string{"NXCLOUD_BASE_URL": "https://api-idn.nxlink.ai", "NXCLOUD_ACCESS_KEY": "k", "NXCLOUD_ACCESS_SECRET_FILE": secretFile},
			want: nxcloud.Config{BaseURL: "https://api-idn.nxlink.ai", AccessKey: "k", AccessSecret: "from-file"}, wantConfigured: true},
		{name: "no secret", env: map[string]string{"NXCLOUD_ACCESS_KEY": "k"}, wantConfigured: true, wantErr: "NXCLOUD_ACCESS_SECRET"},
		{name: "no key", env: map[string]string{"NXCLOUD_ACCESS_SECRET": "s"}, wantConfigured: true, wantErr: "NXCLOUD_ACCESS_KEY"},
		{name: "base only", env: map[string]string{"NXCLOUD_BASE_URL": "https://x"}, wantConfigured: true, wantErr: "NXCLOUD_ACCESS_KEY"},
		{name: "both secret forms", env: map[string]string{"NXCLOUD_ACCESS_KEY": "k", "NXCLOUD_ACCESS_SECRET": "s", "NXCLOUD_ACCESS_SECRET_FILE": secretFile},
			wantConfigured: true, wantErr: "NXCLOUD_ACCESS_SECRET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, configured, err := nxcloud.ConfigFromEnv(func(k string) string { return tt.env[k] })
			if configured != tt.wantConfigured {
				t.Errorf("configured = %v; want %v", configured, tt.wantConfigured)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v; want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromEnv: %v", err)
			}
			if diff := cmp.Diff(tt.want, cfg); diff != "" {
				t.Errorf("ConfigFromEnv (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAuthRefusedOnce: one spurious 1003 is AuthRefused and reaches nothing; the
// next call carries a fresh ts and sign and succeeds.
func TestAuthRefusedOnce(t *testing.T) {
	fv := fakevendor.New(fakevendor.Config{NXCloud: fakevendor.NXCloudConfig{AccessKey: testKey, AccessSecret: testSecret}, Seed: 1})
	var mu sync.Mutex
	var signs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		signs = append(signs, r.Header.Get("ts")+"/"+r.Header.Get("sign"))
		mu.Unlock()
		fv.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	clock := time.Now()
	c, err := nxcloud.NewClient(nxcloud.Config{BaseURL: srv.URL + "/nxcloud", AccessKey: testKey, AccessSecret: testSecret,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); clock = clock.Add(time.Millisecond); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	fv.RefuseAuth(1)
	_, err = c.CreateAndCall(context.Background(), request("85235757581"))
	var ae *nxcloud.APIError
	if !errors.As(err, &ae) || ae.Code != nxcloud.CodeBadSign || vendors.ClassOf(err) != vendors.AuthRefused {
		t.Fatalf("first call = %v; want auth 1003", err)
	}
	if l := fv.Ledger(fakevendor.NXCloud); l.Tasks != 0 {
		t.Fatalf("a refused call reached the ledger: %+v", l)
	}
	if _, err := c.CreateAndCall(context.Background(), request("85235757581")); err != nil {
		t.Fatalf("second call: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(signs) != 2 || signs[0] == signs[1] {
		t.Errorf("ts/sign per request = %d; want two, each fresh", len(signs))
	}
}
