package fakevendor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/vendors/nxcloud"
)

const (
	nxTestKey    = "ak"
	nxTestSecret = "secret"
	nxTestPath   = "/nxcloud/saas/cc/openapi/ai/createandcall"
)

var nxTestNow = time.UnixMilli(1700000000000)

func nxTestServer(t *testing.T, cfg NXCloudConfig) *Server {
	t.Helper()
	if cfg.AccessKey == "" {
		cfg.AccessKey, cfg.AccessSecret = nxTestKey, nxTestSecret
	}
	return New(Config{NXCloud: cfg, Seed: 1, Now: func() time.Time { return nxTestNow }})
}

// nxTestBody is a valid createandcall body for phones, as a map so that tests can
// break one field at a time.
func nxTestBody(phones ...string) map[string]any {
	list := []any{}
	for i, p := range phones {
		list = append(list, map[string]any{"orderID": fmt.Sprint("o", i), "userPhone": p, "other": ""})
	}
	return map[string]any{
		"country": "HK", "taskName": "t", "strategyName": "Default Strategy", "dispatchType": 0,
		"agentGroupNo": "G1", "predictCallRate": json.Number("1.00"), "ratioCallRate": json.Number("1.0"),
		"startCount": 1, "callList": list,
	}
}

// nxTestCall sends body signed with key/secret at ts, letting edit change headers
// after signing, and returns the vendor code.
func nxTestCall(t *testing.T, s *Server, body []byte, edit func(http.Header)) int {
	t.Helper()
	ts := strconv.FormatInt(nxTestNow.UnixMilli(), 10)
	r := httptest.NewRequest(http.MethodPost, nxTestPath, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("accessKey", nxTestKey)
	r.Header.Set("ts", ts)
	r.Header.Set("bizType", "8")
	r.Header.Set("action", "cc")
	r.Header.Set("sign", nxcloud.Sign(nxTestKey, "cc", "8", ts, body, nxTestSecret))
	if edit != nil {
		edit(r.Header)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("http status %d; want 200", w.Code)
	}
	var env struct {
		ReqID string          `json:"reqId"`
		Code  *int            `json:"code"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Code == nil || env.ReqID == "" {
		t.Fatalf("answer %s is not the vendor's envelope (%v)", w.Body, err)
	}
	if (*env.Code == 0) != (string(env.Data) == "null") {
		t.Errorf("answer %s: data must be null exactly on success", w.Body)
	}
	return *env.Code
}

func nxMustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNXCloudHeaders(t *testing.T) {
	tests := []struct {
		name string
		edit func(http.Header)
		want int
	}{
		{"ok", nil, nxOK},
		{"no accessKey", func(h http.Header) { h.Del("accessKey") }, nxMissingHeader},
		{"no ts", func(h http.Header) { h.Del("ts") }, nxMissingHeader},
		{"no bizType", func(h http.Header) { h.Del("bizType") }, nxMissingHeader},
		{"no action", func(h http.Header) { h.Del("action") }, nxMissingHeader},
		{"no sign", func(h http.Header) { h.Del("sign") }, nxMissingHeader},
		{"bizType 6", func(h http.Header) { h.Set("bizType", "6") }, nxBadHeader},
		{"action send", func(h http.Header) { h.Set("action", "send") }, nxBadHeader},
		{"unknown key", func(h http.Header) { h.Set("accessKey", "other") }, nxNoPermission},
		{"ts 61s old", func(h http.Header) {
			h.Set("ts", strconv.FormatInt(nxTestNow.Add(-61*time.Second).UnixMilli(), 10))
		}, nxTSExpired},
		{"ts 61s ahead", func(h http.Header) {
			h.Set("ts", strconv.FormatInt(nxTestNow.Add(61*time.Second).UnixMilli(), 10))
		}, nxTSExpired},
		{"ts not a number", func(h http.Header) { h.Set("ts", "yesterday") }, nxTSExpired},
		{"bad sign", func(h http.Header) { h.Set("sign", strings.Repeat("0", 32)) }, nxBadSign},
		{"upper-case sign", func(h http.Header) { h.Set("sign", strings.ToUpper(h.Get("sign"))) }, nxBadSign},
		{"form content", func(h http.Header) { h.Set("Content-Type", "application/x-www-form-urlencoded") }, nxBadHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := nxTestServer(t, NXCloudConfig{})
			body := nxMustJSON(t, nxTestBody("85235757581"))
			if got := nxTestCall(t, s, body, tt.edit); got != tt.want {
				t.Errorf("code = %d; want %d", got, tt.want)
			}
			wantN := 0
			if tt.want == nxOK {
				wantN = 1
			}
			if l := s.Ledger(NXCloud); len(l.Numbers) != wantN || l.Tasks != wantN {
				t.Errorf("ledger = %+v; want %d number(s) and task(s)", l, wantN)
			}
		})
	}
}

func TestNXCloudSignatureCoversSkewedTS(t *testing.T) {
	// A ts 59 s off is still inside the window; signing it correctly is accepted.
	s := nxTestServer(t, NXCloudConfig{})
	body := nxMustJSON(t, nxTestBody("85235757581"))
	ts := strconv.FormatInt(nxTestNow.Add(-59*time.Second).UnixMilli(), 10)
	got := nxTestCall(t, s, body, func(h http.Header) {
		h.Set("ts", ts)
		h.Set("sign", nxcloud.Sign(nxTestKey, "cc", "8", ts, body, nxTestSecret))
	})
	if got != nxOK {
		t.Errorf("code = %d; want 0", got)
	}
}

func TestNXCloudBody(t *testing.T) {
	tests := []struct {
		name string
		edit func(map[string]any)
		raw  string
		want int
	}{
		{name: "ok", edit: func(map[string]any) {}, want: nxOK},
		{name: "startupType 3", edit: func(b map[string]any) { b["startupType"] = 3 }, want: nxOK},
		{name: "startupType 4", edit: func(b map[string]any) { b["startupType"] = 4 }, want: nxParamError},
		{name: "rates with fewer decimals", edit: func(b map[string]any) { b["predictCallRate"] = 1; b["ratioCallRate"] = 2 }, want: nxOK},
		{name: "predict 3 decimals", edit: func(b map[string]any) { b["predictCallRate"] = json.Number("1.005") }, want: nxParamError},
		{name: "ratio 2 decimals", edit: func(b map[string]any) { b["ratioCallRate"] = json.Number("1.00") }, want: nxParamError},
		{name: "quoted rate", edit: func(b map[string]any) { b["ratioCallRate"] = "1.0" }, want: nxParamError},
		{name: "negative rate", edit: func(b map[string]any) { b["ratioCallRate"] = json.Number("-1.0") }, want: nxParamError},
		{name: "no country", edit: func(b map[string]any) { delete(b, "country") }, want: nxParamError},
		{name: "country CHN", edit: func(b map[string]any) { b["country"] = "CHN" }, want: nxParamError},
		{name: "country lower", edit: func(b map[string]any) { b["country"] = "hk" }, want: nxParamError},
		{name: "no taskName", edit: func(b map[string]any) { b["taskName"] = "" }, want: nxParamError},
		{name: "no strategy", edit: func(b map[string]any) { delete(b, "strategyName") }, want: nxParamError},
		{name: "no agent group", edit: func(b map[string]any) { delete(b, "agentGroupNo") }, want: nxParamError},
		{name: "dispatch 3", edit: func(b map[string]any) { b["dispatchType"] = 3 }, want: nxParamError},
		{name: "no dispatch", edit: func(b map[string]any) { delete(b, "dispatchType") }, want: nxParamError},
		{name: "no startCount", edit: func(b map[string]any) { delete(b, "startCount") }, want: nxParamError},
		{name: "unknown field", edit: func(b map[string]any) { b["priority"] = 1 }, want: nxParamError},
		{name: "misspelt field", edit: func(b map[string]any) { b["taskname"] = b["taskName"]; delete(b, "taskName") }, want: nxParamError},
		{name: "misspelt callee field", edit: func(b map[string]any) { nxSetCallee(b, "orderId", "z") }, want: nxParamError},
		{name: "empty list", edit: func(b map[string]any) { b["callList"] = []any{} }, want: nxParamError},
		{name: "plus phone", edit: func(b map[string]any) { nxSetCallee(b, "userPhone", "+85235757581") }, want: nxParamError},
		{name: "national phone", edit: func(b map[string]any) { nxSetCallee(b, "userPhone", "035757581") }, want: nxParamError},
		{name: "short phone", edit: func(b map[string]any) { nxSetCallee(b, "userPhone", "8523575") }, want: nxParamError},
		{name: "numeric phone", edit: func(b map[string]any) { nxSetCallee(b, "userPhone", 85235757581) }, want: nxParamError},
		{name: "no order id", edit: func(b map[string]any) { nxSetCallee(b, "orderID", "") }, want: nxParamError},
		{name: "repeated order id", edit: func(b map[string]any) { nxSetCallee(b, "orderID", "o0") }, want: nxParamError},
		{name: "no other", edit: func(b map[string]any) { nxSetCallee(b, "other", nil) }, want: nxParamError},
		{name: "not json", raw: `{"country":`, want: nxBadHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := nxTestServer(t, NXCloudConfig{})
			body := []byte(tt.raw)
			if tt.raw == "" {
				b := nxTestBody("85235757581", "85235757582")
				tt.edit(b)
				body = nxMustJSON(t, b)
			}
			if got := nxTestCall(t, s, body, nil); got != tt.want {
				t.Errorf("code = %d; want %d for %s", got, tt.want, body)
			}
			if tt.want != nxOK && len(s.Ledger(NXCloud).Numbers) != 0 {
				t.Errorf("refused call reached the ledger")
			}
		})
	}
}

// nxSetCallee sets field of the last callee; nil removes it.
func nxSetCallee(b map[string]any, field string, v any) {
	list := b["callList"].([]any)
	c := list[len(list)-1].(map[string]any)
	if v == nil {
		delete(c, field)
		return
	}
	c[field] = v
}

func TestNXCloudLimitPoisonLedger(t *testing.T) {
	phones := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("8613%09d", i))
		}
		return out
	}
	t.Run("default limit", func(t *testing.T) {
		s := nxTestServer(t, NXCloudConfig{})
		if got := nxTestCall(t, s, nxMustJSON(t, nxTestBody(phones(1000)...)), nil); got != nxOK {
			t.Errorf("1000 numbers: code %d; want 0", got)
		}
		if got := nxTestCall(t, s, nxMustJSON(t, nxTestBody(phones(1001)...)), nil); got != nxParamError {
			t.Errorf("1001 numbers: code %d; want %d", got, nxParamError)
		}
		// Every accepted call is a new task, even for the same numbers.
		if got := nxTestCall(t, s, nxMustJSON(t, nxTestBody(phones(2)...)), nil); got != nxOK {
			t.Errorf("repeat: code %d; want 0", got)
		}
		l := s.Ledger(NXCloud)
		if l.Tasks != 2 || len(l.Numbers) != 1000 || l.Numbers["8613000000000"] != 2 || l.Numbers["8613000000999"] != 1 {
			t.Errorf("ledger: %d tasks, %d numbers, counts %d/%d; want 2, 1000, 2/1",
				l.Tasks, len(l.Numbers), l.Numbers["8613000000000"], l.Numbers["8613000000999"])
		}
	})
	t.Run("configured limit", func(t *testing.T) {
		s := nxTestServer(t, NXCloudConfig{AccessKey: nxTestKey, AccessSecret: nxTestSecret, MaxPerCall: 3})
		if got := nxTestCall(t, s, nxMustJSON(t, nxTestBody(phones(4)...)), nil); got != nxParamError {
			t.Errorf("4 numbers over a limit of 3: code %d; want %d", got, nxParamError)
		}
	})
	t.Run("poison", func(t *testing.T) {
		s := nxTestServer(t, NXCloudConfig{})
		s.Poison("8613000000001")
		if got := nxTestCall(t, s, nxMustJSON(t, nxTestBody(phones(3)...)), nil); got != nxParamError {
			t.Errorf("poisoned call: code %d; want %d", got, nxParamError)
		}
		if got := nxTestCall(t, s, nxMustJSON(t, nxTestBody("8613000000000", "8613000000002")), nil); got != nxOK {
			t.Errorf("call without the poisoned number: code %d; want 0", got)
		}
		if l := s.Ledger(NXCloud); l.Tasks != 1 || len(l.Numbers) != 2 {
			t.Errorf("ledger = %+v; want 1 task and 2 numbers", l)
		}
	})
	t.Run("system error", func(t *testing.T) {
		s := nxTestServer(t, NXCloudConfig{})
		s.SetFaults(Faults{SystemError: 1})
		if got := nxTestCall(t, s, nxMustJSON(t, nxTestBody(phones(1)...)), nil); got != nxSystemError {
			t.Errorf("code %d; want %d", got, nxSystemError)
		}
		if l := s.Ledger(NXCloud); l.Tasks != 0 || len(l.Numbers) != 0 {
			t.Errorf("ledger = %+v after a system error; want empty", l)
		}
	})
}

func TestNXCloudNoCredentialsRefusesAll(t *testing.T) {
	s := New(Config{Seed: 1, Now: func() time.Time { return nxTestNow }})
	if got := nxTestCall(t, s, nxMustJSON(t, nxTestBody("85235757581")), nil); got != nxNoPermission {
		t.Errorf("code %d; want %d", got, nxNoPermission)
	}
}

func TestNXCloudConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    NXCloudConfig
		wantErr bool
	}{
		{name: "none", env: map[string]string{}},
		{name: "both", env: map[string]string{"NXCLOUD_ACCESS_KEY": "k", "NXCLOUD_ACCESS_SECRET": "s"}, want: NXCloudConfig{AccessKey: "k", AccessSecret: "s"}},
		{name: "key only", env: map[string]string{"NXCLOUD_ACCESS_KEY": "k"}, wantErr: true},
		{name: "secret only", env: map[string]string{"NXCLOUD_ACCESS_SECRET": "s"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := nxcloudConfigFromEnv(func(k string) string { return tt.env[k] })
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("nxcloudConfigFromEnv = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
