package fakevendor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialq/dialq/vendors/flashai"
	"github.com/google/go-cmp/cmp"
)

const (
	faClientID = "cid-1"
	faSecret   = "s3cret"
	faUserID   = 42
)

type faFixture struct {
	t     *testing.T
	s     *Server
	url   string
	clock atomic.Int64 // unix milliseconds
	nonce atomic.Int64
}

func faSetup(t *testing.T, maxPerCall int) *faFixture {
	t.Helper()
	f := &faFixture{t: t}
	f.clock.Store(time.Date(2024, 3, 26, 10, 0, 0, 0, time.UTC).UnixMilli())
	f.s = New(Config{
		Seed:    1,
		Now:     func() time.Time { return time.UnixMilli(f.clock.Load()) },
		FlashAI: FlashAIConfig{ClientID: faClientID, ClientSecret: faSecret, UserID: faUserID, MaxPerCall: maxPerCall},
	})
	srv := httptest.NewServer(f.s)
	t.Cleanup(srv.Close)
	f.url = srv.URL + "/flashai"
	return f
}

type faAnswer struct {
	Code    string          `json:"code"`
	Msg     string          `json:"msg"`
	Success bool            `json:"success"`
	Body    json.RawMessage `json:"body"`
}

// signed adds the common fields to fields and signs them; a field already in
// fields wins, and a nil value removes the field.
func (f *faFixture) signed(fields map[string]any) map[string]any {
	body := map[string]any{
		"clientId":  faClientID,
		"nonce":     fmt.Sprintf("n%05d", f.nonce.Add(1)),
		"timestamp": f.clock.Load(),
	}
	for k, v := range fields {
		if v == nil {
			delete(body, k)
			continue
		}
		body[k] = v
	}
	params, err := flashai.StringParams(body)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, ok := fields["sign"]; !ok {
		body["sign"] = flashai.Sign(params, faSecret)
	}
	if _, ok := fields["signType"]; !ok {
		body["signType"] = "MD5"
	}
	return body
}

func (f *faFixture) post(path string, body any) faAnswer {
	f.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			f.t.Fatal(err)
		}
	}
	resp, err := http.Post(f.url+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("POST %s: status %d", path, resp.StatusCode)
	}
	var a faAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		f.t.Fatalf("POST %s: %v", path, err)
	}
	if a.Success != (a.Code == "0") {
		f.t.Errorf("POST %s: success %v with code %s", path, a.Success, a.Code)
	}
	return a
}

func faList(phones ...string) string {
	recs := make([]string, len(phones))
	for i, p := range phones {
		recs[i] = p + "^a^p1-p2^N^C"
	}
	return strings.Join(recs, "|")
}

func faPlan(batch, list string) map[string]any {
	return map[string]any{
		"userId": faUserID, "batchName": batch, "botenceId": "b1", "callDate": "20240326",
		"callHour": "9,10,20", "clear": 0, "isClear": 0, "recall": 0, "mobileList": list,
	}
}

func faWith(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestFlashAICommonChecks(t *testing.T) {
	f := faSetup(t, 0)
	good := faPlan("b", faList("13800000001"))
	tests := []struct {
		name string
		body any
		code string
	}{
		{"not json", []byte("{"), flashai.CodeIllegalParams},
		{"not an object", []byte("[1]"), flashai.CodeIllegalParams},
		{"nested value", faWith(f.signed(good), "extra", map[string]any{"a": 1}), flashai.CodeIllegalParams},
		{"no client", f.signed(faWith(good, "clientId", nil)), flashai.CodeUnknownClient},
		{"other client", f.signed(faWith(good, "clientId", "x")), flashai.CodeUnknownClient},
		{"no sign type", f.signed(faWith(good, "signType", "")), flashai.CodeBadSignType},
		{"sha sign type", f.signed(faWith(good, "signType", "SHA256")), flashai.CodeBadSignType},
		{"bad sign", f.signed(faWith(good, "sign", "00000000000000000000000000000000")), flashai.CodeBadSign},
		{"lower-case sign", func() any {
			b := f.signed(good)
			b["sign"] = strings.ToLower(b["sign"].(string))
			return b
		}(), flashai.CodeBadSign},
		{"tampered", func() any {
			b := f.signed(good)
			b["mobileList"] = faList("13800000002")
			return b
		}(), flashai.CodeBadSign},
		{"no timestamp", f.signed(faWith(good, "timestamp", nil)), flashai.CodeIllegalParams},
		{"short nonce", f.signed(faWith(good, "nonce", "abc")), flashai.CodeIllegalParams},
		{"nonce with symbol", f.signed(faWith(good, "nonce", "abc-ef")), flashai.CodeIllegalParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a := f.post("/addPlan", tt.body); a.Code != tt.code {
				t.Errorf("code = %s (%s); want %s", a.Code, a.Msg, tt.code)
			}
		})
	}
	if led := f.s.Ledger(FlashAI); len(led.Numbers) != 0 || led.Tasks != 0 {
		t.Errorf("refused calls reached the ledger: %+v", led)
	}
	// The signature holds over numbers sent as strings too: the canonical form
	// is the value's text.
	if a := f.post("/addPlan", f.signed(faWith(good, "userId", "42", "clear", "1"))); a.Code != "0" {
		t.Errorf("numbers as strings: code %s (%s); want 0", a.Code, a.Msg)
	}
}

func TestFlashAINonceWindow(t *testing.T) {
	f := faSetup(t, 0)
	summary := map[string]any{"batchName": "none", "nonce": "abcdef"}
	if a := f.post("/getBatchPlanCallSummary", f.signed(summary)); a.Code != flashai.CodeNoResult {
		t.Fatalf("first use: code %s; want %s", a.Code, flashai.CodeNoResult)
	}
	f.clock.Add((10*time.Minute - time.Millisecond).Milliseconds())
	if a := f.post("/getBatchPlanCallSummary", f.signed(summary)); a.Code != flashai.CodeBadSign || a.Msg != "nonce reused" {
		t.Fatalf("reuse within 10 minutes: %s %q; want 1003 nonce reused", a.Code, a.Msg)
	}
	// The rejected reuse does not extend the window: ten minutes after first use it is free.
	f.clock.Add(time.Millisecond.Milliseconds() + 1)
	if a := f.post("/getBatchPlanCallSummary", f.signed(summary)); a.Code != flashai.CodeNoResult {
		t.Fatalf("after 10 minutes: code %s (%s); want %s", a.Code, a.Msg, flashai.CodeNoResult)
	}
	// A request with a bad signature does not burn its nonce.
	bad := faWith(summary, "nonce", "zzzzzz", "sign", "00")
	if a := f.post("/getBatchPlanCallSummary", f.signed(bad)); a.Code != flashai.CodeBadSign {
		t.Fatalf("bad sign: %s", a.Code)
	}
	if a := f.post("/getBatchPlanCallSummary", f.signed(faWith(summary, "nonce", "zzzzzz"))); a.Code != flashai.CodeNoResult {
		t.Fatalf("nonce after a forged use: %s %q; want %s", a.Code, a.Msg, flashai.CodeNoResult)
	}
	f.s.Reset()
	if a := f.post("/getBatchPlanCallSummary", f.signed(faWith(summary, "nonce", "zzzzzz"))); a.Code != flashai.CodeNoResult {
		t.Fatalf("nonce after Reset: %s %q; want %s", a.Code, a.Msg, flashai.CodeNoResult)
	}
}

func TestFlashAIAddPlanChecks(t *testing.T) {
	f := faSetup(t, 3)
	good := faPlan("b", faList("13800000001"))
	tests := []struct {
		name string
		body map[string]any
		code string
	}{
		{"no user", faWith(good, "userId", nil), flashai.CodeIllegalParams},
		{"other user", faWith(good, "userId", 7), "101003"},
		{"no batch", faWith(good, "batchName", ""), flashai.CodeIllegalParams},
		{"no botence", faWith(good, "botenceId", nil), flashai.CodeIllegalParams},
		{"date dashed", faWith(good, "callDate", "2024-03-26"), flashai.CodeIllegalParams},
		{"date impossible", faWith(good, "callDate", "20240230"), flashai.CodeIllegalParams},
		{"hour 8", faWith(good, "callHour", "8,9"), flashai.CodeIllegalParams},
		{"hour 21", faWith(good, "callHour", "21"), flashai.CodeIllegalParams},
		{"hour list spaced", faWith(good, "callHour", "9, 10"), flashai.CodeIllegalParams},
		{"no hours", faWith(good, "callHour", nil), flashai.CodeIllegalParams},
		{"clear 2", faWith(good, "clear", 2), flashai.CodeIllegalParams},
		{"no clear", faWith(good, "clear", nil), flashai.CodeIllegalParams},
		{"isClear bad", faWith(good, "isClear", "yes"), flashai.CodeIllegalParams},
		{"recall bad", faWith(good, "recall", 3), flashai.CodeIllegalParams},
		{"recall without params", faWith(good, "recall", 1), flashai.CodeIllegalParams},
		{"no list", faWith(good, "mobileList", ""), flashai.CodeIllegalParams},
		{"empty record", faWith(good, "mobileList", "13800000001||13800000002"), flashai.CodeIllegalParams},
		{"trailing bar", faWith(good, "mobileList", "13800000001|"), flashai.CodeIllegalParams},
		{"six fields", faWith(good, "mobileList", "13800000001^a^p^n^c^x"), flashai.CodeIllegalParams},
		{"tilde in params", faWith(good, "mobileList", "13800000001^a^p1~p2^n^c"), flashai.CodeIllegalParams},
		{"over max", faWith(good, "mobileList", faList("13800000001", "13800000002", "13800000003", "13800000004")), flashai.CodeTooManyNumbers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a := f.post("/addPlan", f.signed(tt.body)); a.Code != tt.code {
				t.Errorf("code = %s (%s); want %s", a.Code, a.Msg, tt.code)
			}
		})
	}
	if led := f.s.Ledger(FlashAI); len(led.Numbers) != 0 || led.Tasks != 0 {
		t.Errorf("refused plans reached the ledger: %+v", led)
	}
	// A refused plan does not take its batch name.
	ok := faWith(good, "mobileList", "13800000001|138000000002^^^^", "recall", 1, "recallParams", "r")
	if a := f.post("/addPlan", f.signed(ok)); a.Code != "0" {
		t.Fatalf("good plan: code %s (%s)", a.Code, a.Msg)
	}
	if a := f.post("/addPlan", f.signed(ok)); a.Code != flashai.CodeDuplicateBatchName {
		t.Errorf("same batch again: code %s; want 101007", a.Code)
	}
	if led := f.s.Ledger(FlashAI); led.Tasks != 1 || len(led.Numbers) != 2 {
		t.Errorf("ledger = %+v; want one task, two numbers", led)
	}
}

func TestFlashAIDefaultMaxPerCall(t *testing.T) {
	f := faSetup(t, 0)
	phones := make([]string, 1001)
	for i := range phones {
		phones[i] = fmt.Sprintf("138%08d", i)
	}
	if a := f.post("/addPlan", f.signed(faPlan("big", faList(phones...)))); a.Code != flashai.CodeTooManyNumbers {
		t.Errorf("1,001 numbers: code %s; want 101008", a.Code)
	}
	if a := f.post("/addPlan", f.signed(faPlan("big", faList(phones[:1000]...)))); a.Code != "0" {
		t.Errorf("1,000 numbers: code %s (%s); want 0", a.Code, a.Msg)
	}
}

func TestFlashAIAddPlanPartial(t *testing.T) {
	f := faSetup(t, 0)
	f.s.Refuse("blocked, by list", "13800000003")
	f.s.Poison("13899999999")
	list := "13800000001^a^p^n^c|1380000000a|13800000001|13800000003|1380000000|138000000004|^x"
	a := f.post("/addPlan", f.signed(faPlan("b", list)))
	if a.Code != "0" {
		t.Fatalf("code %s (%s)", a.Code, a.Msg)
	}
	var body struct {
		RightCount     int    `json:"rightCount"`
		FailCount      int    `json:"failCount"`
		FailMobileInfo string `json:"failMobileInfo"`
	}
	if err := json.Unmarshal(a.Body, &body); err != nil {
		t.Fatal(err)
	}
	wantInfo := "1380000000a:invalid phone,13800000001:duplicate phone,13800000003:blocked, by list," +
		"1380000000:invalid phone,:invalid phone"
	if body.RightCount != 2 || body.FailCount != 5 || body.FailMobileInfo != wantInfo {
		t.Errorf("body = %+v; want 2 right, 5 failed, %q", body, wantInfo)
	}
	led := f.s.Ledger(FlashAI)
	if diff := cmp.Diff(map[string]int{"13800000001": 1, "138000000004": 1}, led.Numbers); diff != "" || led.Tasks != 1 {
		t.Errorf("ledger tasks %d (-want +got):\n%s", led.Tasks, diff)
	}
	// A poisoned number fails the whole call.
	if a := f.post("/addPlan", f.signed(faPlan("p", faList("13800000005", "13899999999")))); a.Code != flashai.CodeIllegalParams {
		t.Errorf("poisoned: code %s; want 1010", a.Code)
	}
	// Every number refused: the plan is still made.
	if a := f.post("/addPlan", f.signed(faPlan("z", "12"))); a.Code != "0" {
		t.Errorf("all refused: code %s; want 0", a.Code)
	}
	if got := f.s.Ledger(FlashAI).Tasks; got != 2 {
		t.Errorf("tasks = %d; want 2", got)
	}
}

func TestFlashAIBatchLifecycle(t *testing.T) {
	f := faSetup(t, 0)
	if a := f.post("/addPlan", f.signed(faPlan("b", faList("13800000001", "13800000002", "13800000003")))); a.Code != "0" {
		t.Fatalf("addPlan: %s", a.Code)
	}
	steps := []struct {
		path string
		body map[string]any
		code string
	}{
		{"/batchPlanPause", map[string]any{"batchName": "nope"}, flashai.CodeOperationFailed},
		{"/batchPlanPause", map[string]any{}, flashai.CodeIllegalParams},
		{"/batchPlanPause", map[string]any{"batchName": "b"}, "0"},
		{"/batchPlanPause", map[string]any{"batchName": "b"}, "0"},
		{"/batchPlanRestart", map[string]any{"batchName": "b"}, "0"},
		{"/batchPhoneDelete", map[string]any{"batchName": "b", "phoneList": "13800000002^19900000000"}, "0"},
		{"/batchPhoneDelete", map[string]any{"batchName": "b"}, flashai.CodeIllegalParams},
		{"/batchPhoneDelete", map[string]any{"batchName": "nope", "phoneList": "13800000001"}, flashai.CodeOperationFailed},
		{"/getBatchPlanCallSummary", map[string]any{"batchName": "nope"}, flashai.CodeNoResult},
		{"/getBatchPlanList", map[string]any{"batchName": "b", "page": 1, "pageNum": 5001}, flashai.CodePageTooLarge},
		{"/getBatchPlanList", map[string]any{"batchName": "b", "page": 0, "pageNum": 10}, flashai.CodeIllegalParams},
		{"/getBatchPlanList", map[string]any{"batchName": "b", "page": 1}, flashai.CodeIllegalParams},
		{"/getBatchPlanList", map[string]any{"batchName": "b", "page": 1, "pageNum": 10, "phoneStatus": 4}, flashai.CodeIllegalParams},
		{"/getBatchPlanList", map[string]any{"batchName": "nope", "page": 1, "pageNum": 10}, flashai.CodeNoResult},
	}
	for _, s := range steps {
		if a := f.post(s.path, f.signed(s.body)); a.Code != s.code {
			t.Errorf("%s %v: code %s (%s); want %s", s.path, s.body, a.Code, a.Msg, s.code)
		}
	}

	summary := func() map[string]any {
		a := f.post("/getBatchPlanCallSummary", f.signed(map[string]any{"batchName": "b"}))
		var m map[string]any
		if err := json.Unmarshal(a.Body, &m); err != nil || a.Code != "0" {
			t.Fatalf("summary: %s %v", a.Code, err)
		}
		return m
	}
	if diff := cmp.Diff(map[string]any{"batchName": "b", "acceptCount": 3.0, "endCount": 0.0, "planCount": 2.0}, summary()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}

	page := func(n, size int, status any) map[string]any {
		a := f.post("/getBatchPlanList", f.signed(map[string]any{"batchName": "b", "page": n, "pageNum": size, "phoneStatus": status}))
		var m map[string]any
		if err := json.Unmarshal(a.Body, &m); err != nil || a.Code != "0" {
			t.Fatalf("list: %s %v", a.Code, err)
		}
		return m
	}
	want := map[string]any{"batchName": "b", "batchCount": "3", "mobileList": "13800000003^a^p1-p2^N^C^1",
		"phoneStatus": 0.0, "totalPage": 2.0, "totalRecord": 2.0, "page": 2.0, "pageNum": 1.0}
	if diff := cmp.Diff(want, page(2, 1, nil)); diff != "" {
		t.Errorf("page 2 (-want +got):\n%s", diff)
	}
	if got := page(3, 1, nil)["mobileList"]; got != "" {
		t.Errorf("page past the end = %q; want empty", got)
	}
	if got := page(1<<62, 5000, nil)["mobileList"]; got != "" {
		t.Errorf("huge page = %q; want empty", got)
	}
	if got := page(1, 10, flashai.PhoneCompleted)["totalRecord"]; got != 0.0 {
		t.Errorf("completed numbers = %v; want 0 (the fake never dials)", got)
	}
	if got := page(1, 10, flashai.PhonePlanning)["totalRecord"]; got != 2.0 {
		t.Errorf("planning numbers = %v; want 2", got)
	}

	for _, s := range []struct {
		path string
		code string
	}{
		{"/batchPlanStop", "0"},
		{"/batchPlanStop", "0"},
		{"/batchPlanPause", "101002"},
		{"/batchPlanRestart", "101002"},
	} {
		if a := f.post(s.path, f.signed(map[string]any{"batchName": "b"})); a.Code != s.code {
			t.Errorf("%s after stop: code %s; want %s", s.path, a.Code, s.code)
		}
	}
	if a := f.post("/batchPhoneDelete", f.signed(map[string]any{"batchName": "b", "phoneList": "13800000001"})); a.Code != "101002" {
		t.Errorf("delete from a stopped batch: code %s; want 101002", a.Code)
	}
	if got := summary()["planCount"]; got != 0.0 {
		t.Errorf("planCount after stop = %v; want 0", got)
	}
}

func TestFlashAISystemError(t *testing.T) {
	f := faSetup(t, 0)
	f.s.SetFaults(Faults{SystemError: 1})
	if a := f.post("/addPlan", f.signed(faPlan("b", faList("13800000001")))); a.Code != flashai.CodeSystemError {
		t.Errorf("code %s; want 1004", a.Code)
	}
	// Not processed: the batch name is still free, nothing in the ledger.
	f.s.SetFaults(Faults{})
	if a := f.post("/addPlan", f.signed(faPlan("b", faList("13800000001")))); a.Code != "0" {
		t.Errorf("after the fault: code %s (%s); want 0", a.Code, a.Msg)
	}
	if got := f.s.Ledger(FlashAI).Numbers["13800000001"]; got != 1 {
		t.Errorf("ledger count = %d; want 1", got)
	}
}

func TestFlashAIConfigFromEnv(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("fromfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		env    map[string]string
		want   FlashAIConfig
		errHas string
	}{
		{"none", map[string]string{"FLASHAI_BASE_URL": "http://x"}, FlashAIConfig{}, ""},
		{"full", map[string]string{"FLASHAI_CLIENT_ID": "id", "FLASHAI_CLIENT_SECRET": "sec", "FLASHAI_USER_ID": "9"},
			FlashAIConfig{ClientID: "id", ClientSecret: "sec", UserID: 9}, ""},
		{"file", map[string]string{"FLASHAI_CLIENT_ID": "id", "FLASHAI_CLIENT_SECRET_FILE": secretFile, "FLASHAI_USER_ID": "9"},
			FlashAIConfig{ClientID: "id", ClientSecret: "fromfile", UserID: 9}, ""},
		{"no secret", map[string]string{"FLASHAI_CLIENT_ID": "id", "FLASHAI_USER_ID": "9"}, FlashAIConfig{}, "FLASHAI_CLIENT_SECRET"},
		{"no id", map[string]string{"FLASHAI_CLIENT_SECRET": "sec", "FLASHAI_USER_ID": "9"}, FlashAIConfig{}, "FLASHAI_CLIENT_ID"},
		{"bad user", map[string]string{"FLASHAI_CLIENT_ID": "id", "FLASHAI_CLIENT_SECRET": "sec", "FLASHAI_USER_ID": "x"}, FlashAIConfig{}, "FLASHAI_USER_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := flashaiConfigFromEnv(func(k string) string { return tt.env[k] })
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error = %v; want one naming %s", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}
