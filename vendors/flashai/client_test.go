package flashai_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/flashai"
	"github.com/google/go-cmp/cmp"
)

const (
	testClientID = "c8b4f569e0d5a7a57fc6240541827443"
	testSecret   = "799d6055c68c8f91de3ee7d852c13844"
	testUserID   = 42
)

// seqNonces hands out distinct nonces without Redis.
type seqNonces struct {
	mu sync.Mutex
	n  int
}

func (s *seqNonces) Nonce(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("n%05d", s.n), nil
}

type fixedNonce string

func (f fixedNonce) Nonce(context.Context) (string, error) { return string(f), nil }

type failingNonces struct{}

func (failingNonces) Nonce(context.Context) (string, error) { return "", errors.New("redis down") }

func fakeConfig() fakevendor.Config {
	return fakevendor.Config{
		Seed:    1,
		FlashAI: fakevendor.FlashAIConfig{ClientID: testClientID, ClientSecret: testSecret, UserID: testUserID, MaxPerCall: 5},
	}
}

func clientConfig(base string) flashai.Config {
	return flashai.Config{
		BaseURL: base, ClientID: testClientID, ClientSecret: testSecret, UserID: testUserID,
		Nonces: &seqNonces{}, Timeout: 5 * time.Second,
	}
}

// setup serves a fake vendor and returns it with a client pointed at it; edit
// may change the client's config.
func setup(t *testing.T, edit func(*flashai.Config)) (*fakevendor.Server, *flashai.Client) {
	t.Helper()
	fake := fakevendor.New(fakeConfig())
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := clientConfig(srv.URL + "/flashai")
	if edit != nil {
		edit(&cfg)
	}
	c, err := flashai.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return fake, c
}

func mobileList(phones ...string) string {
	recs := make([]string, len(phones))
	for i, p := range phones {
		recs[i] = p + "^att" + fmt.Sprint(i) + "^p1-p2^Name^Co"
	}
	return strings.Join(recs, "|")
}

func plan(batch string, phones ...string) *flashai.AddPlanRequest {
	return &flashai.AddPlanRequest{
		BatchName: batch, BotenceID: "bot-1", CallDate: "20240326", CallHours: []int{9, 10, 13},
		Clear: true, LineIDs: []string{"7", "8"}, NotifyURL: "http://cb.example/?a=1&b=2",
		MobileList: mobileList(phones...),
	}
}

func TestClientAgainstFake(t *testing.T) {
	fake, c := setup(t, func(cfg *flashai.Config) { cfg.Nonces = flashai.NewRedisNonces(testredis.New(t).Client) })
	ctx := context.Background()
	fake.Refuse("blacklisted, by operator", "13800000004")

	got, err := c.AddPlan(ctx, plan("camp_1", "13800000001", "138000000002", "13800000004", "123", "13800000001"))
	if err != nil {
		t.Fatalf("AddPlan: %v", err)
	}
	wantFailed := []flashai.FailedMobile{
		{Phone: "13800000004", Reason: "blacklisted, by operator"},
		{Phone: "123", Reason: "invalid phone"},
		{Phone: "13800000001", Reason: "duplicate phone"},
	}
	if got.RightCount != 2 || got.FailCount != 3 {
		t.Errorf("AddPlan counts = %d right, %d failed; want 2, 3", got.RightCount, got.FailCount)
	}
	if diff := cmp.Diff(wantFailed, got.Failed); diff != "" {
		t.Errorf("AddPlan failed numbers (-want +got):\n%s", diff)
	}
	led := fake.Ledger(fakevendor.FlashAI)
	if diff := cmp.Diff(map[string]int{"13800000001": 1, "138000000002": 1}, led.Numbers); diff != "" || led.Tasks != 1 {
		t.Errorf("ledger tasks %d, numbers (-want +got):\n%s", led.Tasks, diff)
	}

	sum, err := c.GetBatchPlanCallSummary(ctx, "camp_1")
	if err != nil {
		t.Fatalf("GetBatchPlanCallSummary: %v", err)
	}
	if diff := cmp.Diff(&flashai.CallSummary{BatchName: "camp_1", AcceptCount: 2, PlanCount: 2}, sum); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}

	if err := c.BatchPhoneDelete(ctx, "camp_1", []string{"138000000002"}); err != nil {
		t.Fatalf("BatchPhoneDelete: %v", err)
	}
	list, err := c.GetBatchPlanList(ctx, &flashai.ListRequest{BatchName: "camp_1", Page: 1, PageNum: 1})
	if err != nil {
		t.Fatalf("GetBatchPlanList: %v", err)
	}
	wantList := &flashai.ListResponse{
		BatchName: "camp_1", BatchCount: 2, TotalPage: 1, TotalRecord: 1, Page: 1, PageNum: 1,
		MobileList: "13800000001^att0^p1-p2^Name^Co^1",
		Mobiles: []flashai.ListedMobile{{Phone: "13800000001", Attach: "att0", Params: []string{"p1", "p2"},
			CustName: "Name", CustCompany: "Co", Status: "1"}},
	}
	if diff := cmp.Diff(wantList, list); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}

	for _, op := range []func(context.Context, string) error{c.BatchPlanPause, c.BatchPlanRestart, c.BatchPlanStop} {
		if err := op(ctx, "camp_1"); err != nil {
			t.Fatalf("pause, restart, stop: %v", err)
		}
	}
	err = c.BatchPlanPause(ctx, "camp_1")
	assertAPIError(t, err, "101002", vendors.Permanent)

	_, err = c.AddPlan(ctx, plan("camp_1", "13800000009"))
	ae := assertAPIError(t, err, flashai.CodeDuplicateBatchName, vendors.Permanent)
	if ae != nil && (!ae.DuplicateBatchName() || !flashai.IsDuplicateName(err)) {
		t.Errorf("DuplicateBatchName(), IsDuplicateName = false for %v", err)
	}
	if n := fake.Ledger(fakevendor.FlashAI).Numbers["13800000009"]; n != 0 {
		t.Errorf("a duplicate batch reached the ledger %d times", n)
	}
}

func TestClientStateTransitions(t *testing.T) {
	_, c := setup(t, nil)
	ctx := context.Background()
	if _, err := c.AddPlan(ctx, plan("b", "13800000001")); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		op   func(context.Context, string) error
		code string
	}{
		{"pause", c.BatchPlanPause, ""},
		{"pause again", c.BatchPlanPause, ""},
		{"restart", c.BatchPlanRestart, ""},
		{"stop", c.BatchPlanStop, ""},
		{"restart stopped", c.BatchPlanRestart, "101002"},
		{"stop again", c.BatchPlanStop, ""},
	}
	for _, s := range steps {
		err := s.op(ctx, "b")
		if s.code == "" {
			if err != nil {
				t.Errorf("%s: %v", s.name, err)
			}
			continue
		}
		assertAPIError(t, err, s.code, vendors.Permanent)
	}
	sum, err := c.GetBatchPlanCallSummary(ctx, "b")
	if err != nil || sum.PlanCount != 0 || sum.AcceptCount != 1 {
		t.Errorf("summary of a stopped batch = %+v, %v; want accept 1, plan 0", sum, err)
	}
}

func assertAPIError(t *testing.T, err error, code string, class vendors.Class) *flashai.APIError {
	t.Helper()
	var ae *flashai.APIError
	if !errors.As(err, &ae) {
		t.Errorf("error = %v (%T); want *APIError code %s", err, err, code)
		return nil
	}
	if ae.Code != code {
		t.Errorf("code = %s (%v); want %s", ae.Code, err, code)
	}
	if got := vendors.ClassOf(err); got != class {
		t.Errorf("ClassOf(%v) = %v; want %v", err, got, class)
	}
	return ae
}

func TestClientFailuresAgainstFake(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*flashai.Config)
		prep  func(*fakevendor.Server)
		req   *flashai.AddPlanRequest
		code  string // vendor code, when the failure is an *APIError
		class vendors.Class
	}{
		{"poison", nil, func(s *fakevendor.Server) { s.Poison("13800000002") },
			plan("p", "13800000001", "13800000002"), flashai.CodeIllegalParams, vendors.InvalidPart},
		{"too many", nil, nil,
			plan("p", "13800000001", "13800000002", "13800000003", "13800000004", "13800000005", "13800000006"),
			flashai.CodeTooManyNumbers, vendors.InvalidPart},
		{"wrong secret", func(c *flashai.Config) { c.ClientSecret = "wrong" }, nil,
			plan("p", "13800000001"), flashai.CodeBadSign, vendors.AuthRefused},
		{"wrong client", func(c *flashai.Config) { c.ClientID = "other" }, nil,
			plan("p", "13800000001"), flashai.CodeUnknownClient, vendors.AuthRefused},
		{"wrong user", func(c *flashai.Config) { c.UserID = 7 }, nil,
			plan("p", "13800000001"), "101003", vendors.Permanent},
		{"system error", nil, func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{SystemError: 1}) },
			plan("p", "13800000001"), flashai.CodeSystemError, vendors.Transient},
		{"server error", nil, func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{ServerError: 1}) },
			plan("p", "13800000001"), "", vendors.Transient},
		{"throttle", nil, func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Throttle: 1, RetryAfterSeconds: 4}) },
			plan("p", "13800000001"), "", vendors.Throttled},
		{"malformed", nil, func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Malformed: 1}) },
			plan("p", "13800000001"), "", vendors.Ambiguous},
		{"drop", nil, func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Drop: 1}) },
			plan("p", "13800000001"), "", vendors.Ambiguous},
		{"timeout", func(c *flashai.Config) { c.Timeout = 50 * time.Millisecond },
			func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Timeout: 1, TimeoutMillis: 300}) },
			plan("p", "13800000001"), "", vendors.Ambiguous},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := setup(t, tt.edit)
			if tt.prep != nil {
				tt.prep(fake)
			}
			_, err := c.AddPlan(context.Background(), tt.req)
			if err == nil {
				t.Fatal("AddPlan: want an error")
			}
			if tt.code != "" {
				assertAPIError(t, err, tt.code, tt.class)
			} else if got := vendors.ClassOf(err); got != tt.class {
				t.Errorf("ClassOf(%v) = %v; want %v", err, got, tt.class)
			}
			if tt.class == vendors.Throttled {
				if got := vendors.RetryAfter(err); got != 4*time.Second {
					t.Errorf("RetryAfter = %v; want 4s", got)
				}
			}
			if led := fake.Ledger(fakevendor.FlashAI); len(led.Numbers) != 0 || led.Tasks != 0 {
				t.Errorf("failed call reached the ledger: %+v", led)
			}
			for _, secret := range []string{testSecret, "13800000001", "13800000002"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks %q", err, secret)
				}
			}
		})
	}
}

// TestClientAuthRefusedOnce: one spurious 1003 is AuthRefused and reaches nothing;
// the next call, signed afresh (new nonce, new timestamp, new sign), succeeds.
func TestClientAuthRefusedOnce(t *testing.T) {
	fake := fakevendor.New(fakeConfig())
	var mu sync.Mutex
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		mu.Lock()
		bodies = append(bodies, m)
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(raw))
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := flashai.NewClient(clientConfig(srv.URL + "/flashai"))
	if err != nil {
		t.Fatal(err)
	}
	fake.RefuseAuth(1)
	req := plan("auth_once", "13800000001", "13800000002")
	_, err = c.AddPlan(context.Background(), req)
	assertAPIError(t, err, flashai.CodeBadSign, vendors.AuthRefused)
	if led := fake.Ledger(fakevendor.FlashAI); len(led.Numbers) != 0 || led.Tasks != 0 {
		t.Fatalf("a refused call reached the ledger: %+v", led)
	}
	if _, err := c.AddPlan(context.Background(), req); err != nil {
		t.Fatalf("second AddPlan: %v", err)
	}
	if led := fake.Ledger(fakevendor.FlashAI); len(led.Numbers) != 2 || led.Tasks != 1 {
		t.Errorf("ledger = %+v; want one plan of 2 numbers", led)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 || bodies[0]["nonce"] == bodies[1]["nonce"] || bodies[0]["sign"] == bodies[1]["sign"] {
		t.Errorf("%d requests; want two, each with its own nonce and sign", len(bodies))
	}
}

// TestClientNonceReused shows why nonces come from a shared store: the vendor
// refuses a nonce it saw within ten minutes.
func TestClientNonceReused(t *testing.T) {
	fake, c := setup(t, func(cfg *flashai.Config) { cfg.Nonces = fixedNonce("abcdef") })
	ctx := context.Background()
	if _, err := c.AddPlan(ctx, plan("b1", "13800000001")); err != nil {
		t.Fatalf("first AddPlan: %v", err)
	}
	_, err := c.AddPlan(ctx, plan("b2", "13800000002"))
	ae := assertAPIError(t, err, flashai.CodeBadSign, vendors.AuthRefused)
	if ae != nil && ae.Message != "nonce reused" {
		t.Errorf("message = %q; want nonce reused", ae.Message)
	}
	if n := fake.Ledger(fakevendor.FlashAI).Numbers["13800000002"]; n != 0 {
		t.Errorf("a call with a reused nonce reached the ledger")
	}
}

func TestClientUnknownBatch(t *testing.T) {
	_, c := setup(t, nil)
	ctx := context.Background()
	assertAPIError(t, c.BatchPlanPause(ctx, "nope"), flashai.CodeOperationFailed, vendors.Permanent)
	assertAPIError(t, c.BatchPhoneDelete(ctx, "nope", []string{"13800000001"}), flashai.CodeOperationFailed, vendors.Permanent)
	_, err := c.GetBatchPlanCallSummary(ctx, "nope")
	assertAPIError(t, err, flashai.CodeNoResult, vendors.Permanent)
	_, err = c.GetBatchPlanList(ctx, &flashai.ListRequest{BatchName: "nope", Page: 1, PageNum: 10})
	assertAPIError(t, err, flashai.CodeNoResult, vendors.Permanent)
}

func TestClientRefusesBadInput(t *testing.T) {
	fake, c := setup(t, nil)
	ctx := context.Background()
	edit := func(f func(*flashai.AddPlanRequest)) *flashai.AddPlanRequest {
		r := plan("b", "13800000001")
		f(r)
		return r
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"nil plan", func() error { _, err := c.AddPlan(ctx, nil); return err }},
		{"no batch", func() error {
			_, err := c.AddPlan(ctx, edit(func(r *flashai.AddPlanRequest) { r.BatchName = "" }))
			return err
		}},
		{"no botence", func() error {
			_, err := c.AddPlan(ctx, edit(func(r *flashai.AddPlanRequest) { r.BotenceID = "" }))
			return err
		}},
		{"bad date", func() error {
			_, err := c.AddPlan(ctx, edit(func(r *flashai.AddPlanRequest) { r.CallDate = "2024-03-26" }))
			return err
		}},
		{"impossible date", func() error {
			_, err := c.AddPlan(ctx, edit(func(r *flashai.AddPlanRequest) { r.CallDate = "20240231" }))
			return err
		}},
		{"hour too early", func() error {
			_, err := c.AddPlan(ctx, edit(func(r *flashai.AddPlanRequest) { r.CallHours = []int{8, 9} }))
			return err
		}},
		{"hour too late", func() error {
			_, err := c.AddPlan(ctx, edit(func(r *flashai.AddPlanRequest) { r.CallHours = []int{21} }))
			return err
		}},
		{"no hours", func() error {
			_, err := c.AddPlan(ctx, edit(func(r *flashai.AddPlanRequest) { r.CallHours = nil }))
			return err
		}},
		{"recall without params", func() error {
			_, err := c.AddPlan(ctx, edit(func(r *flashai.AddPlanRequest) { r.Recall = true }))
			return err
		}},
		{"line with comma", func() error {
			_, err := c.AddPlan(ctx, edit(func(r *flashai.AddPlanRequest) { r.LineIDs = []string{"1,2"} }))
			return err
		}},
		{"no list", func() error {
			_, err := c.AddPlan(ctx, edit(func(r *flashai.AddPlanRequest) { r.MobileList = "" }))
			return err
		}},
		{"pause no batch", func() error { return c.BatchPlanPause(ctx, "") }},
		{"delete no phones", func() error { return c.BatchPhoneDelete(ctx, "b", nil) }},
		{"delete caret", func() error { return c.BatchPhoneDelete(ctx, "b", []string{"1^2"}) }},
		{"summary no batch", func() error { _, err := c.GetBatchPlanCallSummary(ctx, ""); return err }},
		{"list nil", func() error { _, err := c.GetBatchPlanList(ctx, nil); return err }},
		{"list page 0", func() error {
			_, err := c.GetBatchPlanList(ctx, &flashai.ListRequest{BatchName: "b", Page: 0, PageNum: 10})
			return err
		}},
		{"list page too large", func() error {
			_, err := c.GetBatchPlanList(ctx, &flashai.ListRequest{BatchName: "b", Page: 1, PageNum: 5001})
			return err
		}},
		{"list bad status", func() error {
			_, err := c.GetBatchPlanList(ctx, &flashai.ListRequest{BatchName: "b", Page: 1, PageNum: 10, PhoneStatus: 4})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var re *flashai.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error = %v (%T); want *RequestError", err, err)
			}
			if got := vendors.ClassOf(err); got != vendors.Permanent {
				t.Errorf("ClassOf(%v) = %v; want permanent", err, got)
			}
		})
	}
	if calls := fake.Stats().Calls[fakevendor.FlashAI]; calls != 0 {
		t.Errorf("refused input still made %d calls", calls)
	}
	// The limit itself is allowed.
	if _, err := c.GetBatchPlanList(ctx, &flashai.ListRequest{BatchName: "b", Page: 1, PageNum: flashai.MaxPageNum}); errors.As(err, new(*flashai.RequestError)) {
		t.Errorf("pageNum %d refused: %v", flashai.MaxPageNum, err)
	}
}

func TestClientNonceFailure(t *testing.T) {
	fake, c := setup(t, func(cfg *flashai.Config) { cfg.Nonces = failingNonces{} })
	_, err := c.AddPlan(context.Background(), plan("b", "13800000001"))
	if err == nil || !strings.Contains(err.Error(), "redis down") {
		t.Fatalf("AddPlan with a failing nonce source: error = %v", err)
	}
	if got := vendors.ClassOf(err); got != vendors.Transient {
		t.Errorf("ClassOf(%v) = %v; want transient", err, got)
	}
	if calls := fake.Stats().Calls[fakevendor.FlashAI]; calls != 0 {
		t.Errorf("made %d calls without a nonce", calls)
	}
	_, c = setup(t, func(cfg *flashai.Config) { cfg.Nonces = fixedNonce("ab") })
	if _, err := c.AddPlan(context.Background(), plan("b", "13800000001")); err == nil {
		t.Error("AddPlan with a malformed nonce: want an error")
	}
}

// scripted serves canned answers in turn and records each request body.
type scripted struct {
	mu      sync.Mutex
	answers []answer
	bodies  [][]byte
	paths   []string
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, b)
	s.paths = append(s.paths, r.URL.Path)
	a := s.answers[min(len(s.bodies), len(s.answers))-1]
	s.mu.Unlock()
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func scriptedClient(t *testing.T, s *scripted, now func() time.Time) *flashai.Client {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg := clientConfig(srv.URL + "/api/v1/thirdApi/")
	cfg.Now = now
	c, err := flashai.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientVendorCodes(t *testing.T) {
	tests := []struct {
		code      string
		class     vendors.Class
		duplicate bool
		tooMany   bool
	}{
		{"1003", vendors.AuthRefused, false, false},
		{"1004", vendors.Transient, false, false},
		{"1005", vendors.Permanent, false, false},
		{"1006", vendors.Permanent, false, false},
		{"1008", vendors.AuthRefused, false, false},
		{"1009", vendors.AuthRefused, false, false},
		{"1010", vendors.InvalidPart, false, false},
		{"101001", vendors.Permanent, false, false},
		{"101002", vendors.Permanent, false, false},
		{"101003", vendors.Permanent, false, false},
		{"101004", vendors.Permanent, false, false},
		{"101005", vendors.Permanent, false, false},
		{"101006", vendors.Permanent, false, false},
		{"101007", vendors.Permanent, true, false},
		{"101008", vendors.InvalidPart, false, true},
		{"999999", vendors.Permanent, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			s := &scripted{answers: []answer{{200, nil,
				`{"code":"` + tt.code + `","msg":"failed for 13812345678","success":false,"body":null}`}}}
			c := scriptedClient(t, s, nil)
			_, err := c.AddPlan(context.Background(), plan("b", "13800000001"))
			ae := assertAPIError(t, err, tt.code, tt.class)
			if ae == nil {
				return
			}
			if flashai.IsDuplicateName(err) != tt.duplicate {
				t.Errorf("IsDuplicateName = %v; want %v", flashai.IsDuplicateName(err), tt.duplicate)
			}
			if ae.DuplicateBatchName() != tt.duplicate || ae.TooManyNumbers() != tt.tooMany {
				t.Errorf("DuplicateBatchName, TooManyNumbers = %v, %v; want %v, %v",
					ae.DuplicateBatchName(), ae.TooManyNumbers(), tt.duplicate, tt.tooMany)
			}
			if msg := err.Error(); strings.Contains(msg, "13812345678") || strings.Contains(msg, testSecret) {
				t.Errorf("error %q leaks a phone number or the secret", msg)
			}
			if len(s.paths) != 1 || s.paths[0] != "/api/v1/thirdApi/addPlan" {
				t.Errorf("paths = %v; want [/api/v1/thirdApi/addPlan]", s.paths)
			}
		})
	}
}

func TestClientMalformedBodies(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"no body", `{"code":"0","msg":"ok","success":true}`},
		{"body not object", `{"code":"0","body":"x"}`},
		{"count not number", `{"code":"0","body":{"rightCount":"many"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := scriptedClient(t, &scripted{answers: []answer{{200, nil, tt.body}}}, nil)
			_, err := c.AddPlan(context.Background(), plan("b", "13800000001"))
			var me *vendors.MalformedError
			if !errors.As(err, &me) || vendors.ClassOf(err) != vendors.Ambiguous {
				t.Errorf("error = %v (%T); want an ambiguous *vendors.MalformedError", err, err)
			}
		})
	}
}

func TestClientLenientAnswer(t *testing.T) {
	s := &scripted{answers: []answer{{200, nil, `{"code":0,"msg":null,"success":"true","body":` +
		`{"rightCount":"2","failCount":1,"failMobileInfo":["13800000003^no route"]}}`}}}
	c := scriptedClient(t, s, nil)
	got, err := c.AddPlan(context.Background(), plan("b", "13800000001"))
	if err != nil {
		t.Fatal(err)
	}
	want := &flashai.AddPlanResponse{RightCount: 2, FailCount: 1, FailMobileInfo: `["13800000003^no route"]`,
		Failed: []flashai.FailedMobile{{Phone: "13800000003", Reason: "no route"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AddPlan (-want +got):\n%s", diff)
	}
}

// TestClientRetryFreshSignature checks that a second call after a transient
// failure carries the same plan with a fresh nonce, timestamp and signature,
// each valid for the bytes sent.
func TestClientRetryFreshSignature(t *testing.T) {
	s := &scripted{answers: []answer{
		{200, nil, `{"code":"1004","msg":"system error","success":false}`},
		{200, nil, `{"code":"0","msg":"ok","success":true,"body":{"rightCount":1,"failCount":0,"failMobileInfo":""}}`},
	}}
	clock := time.UnixMilli(1700000000000)
	c := scriptedClient(t, s, func() time.Time { return clock })
	req := plan("camp_7", "13800000001")
	_, err := c.AddPlan(context.Background(), req)
	if vendors.ClassOf(err) != vendors.Transient {
		t.Fatalf("first AddPlan error = %v; want transient", err)
	}
	clock = clock.Add(1500 * time.Millisecond)
	if _, err := c.AddPlan(context.Background(), req); err != nil {
		t.Fatalf("second AddPlan: %v", err)
	}
	if len(s.bodies) != 2 {
		t.Fatalf("%d requests; want 2", len(s.bodies))
	}
	var sent [2]map[string]any
	for i, b := range s.bodies {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber()
		if err := dec.Decode(&sent[i]); err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		params, err := flashai.StringParams(sent[i])
		if err != nil {
			t.Fatal(err)
		}
		if got, want := params["sign"], flashai.Sign(params, testSecret); got != want {
			t.Errorf("body %d sign = %s; want %s over the bytes sent", i, got, want)
		}
		if params["signType"] != "MD5" || params["clientId"] != testClientID {
			t.Errorf("body %d signType %q clientId %q", i, params["signType"], params["clientId"])
		}
	}
	for _, k := range []string{"nonce", "timestamp", "sign"} {
		if sent[0][k] == sent[1][k] {
			t.Errorf("%s repeated on retry: %v", k, sent[0][k])
		}
	}
	same := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			if k != "nonce" && k != "timestamp" && k != "sign" {
				out[k] = v
			}
		}
		return out
	}
	if diff := cmp.Diff(same(sent[0]), same(sent[1])); diff != "" {
		t.Errorf("retry changed the plan (-first +second):\n%s", diff)
	}
	want := map[string]any{
		"userId": json.Number("42"), "batchName": "camp_7", "botenceId": "bot-1", "callDate": "20240326",
		"callHour": "9,10,13", "clear": json.Number("1"), "isClear": json.Number("1"), "recall": json.Number("0"),
		"lineIds": "7,8", "notifyUrl": "http://cb.example/?a=1&b=2", "mobileList": "13800000001^att0^p1-p2^Name^Co",
		"clientId": testClientID, "signType": "MD5",
	}
	if diff := cmp.Diff(want, same(sent[0])); diff != "" {
		t.Errorf("addPlan body (-want +got):\n%s", diff)
	}
	if ts0, ts1 := sent[0]["timestamp"], sent[1]["timestamp"]; ts0 != json.Number("1700000000000") || ts1 != json.Number("1700000001500") {
		t.Errorf("timestamps = %v, %v; want the clock's milliseconds 1700000000000, 1700000001500", ts0, ts1)
	}
	if strings.Contains(string(s.bodies[0]), `\u0026`) {
		t.Errorf("body escapes & in URLs: %s", s.bodies[0])
	}
}

func TestClientListAndSummaryRequests(t *testing.T) {
	s := &scripted{answers: []answer{
		{200, nil, `{"code":"0","body":{"batchName":"b","acceptCount":"10","endCount":3,"planCount":7}}`},
		{200, nil, `{"code":"0","body":{"batchName":"b","batchCount":"10","mobileList":"","phoneStatus":2,` +
			`"totalPage":0,"totalRecord":0,"page":2,"pageNum":5000}}`},
		{200, nil, `{"code":"0","body":null}`},
	}}
	c := scriptedClient(t, s, nil)
	ctx := context.Background()
	sum, err := c.GetBatchPlanCallSummary(ctx, "b")
	if diff := cmp.Diff(&flashai.CallSummary{BatchName: "b", AcceptCount: 10, EndCount: 3, PlanCount: 7}, sum); err != nil || diff != "" {
		t.Errorf("summary = %v (-want +got):\n%s", err, diff)
	}
	list, err := c.GetBatchPlanList(ctx, &flashai.ListRequest{BatchName: "b", Page: 2, PageNum: 5000, PhoneStatus: flashai.PhoneCompleted})
	wantList := &flashai.ListResponse{BatchName: "b", BatchCount: 10, PhoneStatus: 2, Page: 2, PageNum: 5000}
	if diff := cmp.Diff(wantList, list); err != nil || diff != "" {
		t.Errorf("list = %v (-want +got):\n%s", err, diff)
	}
	if err := c.BatchPhoneDelete(ctx, "b", []string{"13800000001", "13800000002"}); err != nil {
		t.Errorf("BatchPhoneDelete: %v", err)
	}
	var bodies []map[string]any
	for _, b := range s.bodies {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, m)
	}
	if bodies[1]["page"] != 2.0 || bodies[1]["pageNum"] != 5000.0 || bodies[1]["phoneStatus"] != 2.0 {
		t.Errorf("list body = %v", bodies[1])
	}
	if bodies[2]["phoneList"] != "13800000001^13800000002" {
		t.Errorf("phoneList = %v; want 13800000001^13800000002", bodies[2]["phoneList"])
	}
	wantPaths := []string{"/api/v1/thirdApi/getBatchPlanCallSummary", "/api/v1/thirdApi/getBatchPlanList", "/api/v1/thirdApi/batchPhoneDelete"}
	if diff := cmp.Diff(wantPaths, s.paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		name string
		edit func(*flashai.Config)
		ok   bool
	}{
		{"ok", func(*flashai.Config) {}, true},
		{"no user is fine until addPlan", func(c *flashai.Config) { c.UserID = 0 }, true},
		{"no base", func(c *flashai.Config) { c.BaseURL = "" }, false},
		{"relative base", func(c *flashai.Config) { c.BaseURL = "/api" }, false},
		{"ftp base", func(c *flashai.Config) { c.BaseURL = "ftp://x" }, false},
		{"no client id", func(c *flashai.Config) { c.ClientID = "" }, false},
		{"no secret", func(c *flashai.Config) { c.ClientSecret = "" }, false},
		{"no nonces", func(c *flashai.Config) { c.Nonces = nil }, false},
		{"negative user", func(c *flashai.Config) { c.UserID = -1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := clientConfig("https://vendor.example/api/v1/thirdApi")
			tt.edit(&cfg)
			_, err := flashai.NewClient(cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("NewClient error = %v; want ok %v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q leaks the secret", err)
			}
		})
	}
}

func TestAddPlanNeedsUser(t *testing.T) {
	fake, c := setup(t, func(cfg *flashai.Config) { cfg.UserID = 0 })
	_, err := c.AddPlan(context.Background(), plan("b", "13800000001"))
	if !errors.As(err, new(*flashai.RequestError)) {
		t.Errorf("AddPlan without a user: error = %v; want *RequestError", err)
	}
	req := plan("b", "13800000001")
	req.UserID = testUserID
	if _, err := c.AddPlan(context.Background(), req); err != nil {
		t.Errorf("AddPlan with the request's user: %v", err)
	}
	if n := fake.Ledger(fakevendor.FlashAI).Numbers["13800000001"]; n != 1 {
		t.Errorf("ledger count = %d; want 1", n)
	}
}

func TestConfigFromEnv(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	full := map[string]string{
		"FLASHAI_BASE_URL": "https://vendor.example/api/v1/thirdApi", "FLASHAI_CLIENT_ID": testClientID,
		"FLASHAI_CLIENT_SECRET": testSecret, "FLASHAI_USER_ID": "42",
	}
	with := func(edits map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for k, v := range edits {
			m[k] = v
		}
		return m
	}
	wantCfg := flashai.Config{BaseURL: full["FLASHAI_BASE_URL"], ClientID: testClientID, ClientSecret: testSecret, UserID: 42}
	tests := []struct {
		name       string
		env        map[string]string
		configured bool
		errHas     string
	}{
		{"none", map[string]string{"OTHER": "x"}, false, ""},
		{"full", full, true, ""},
		{"secret file", with(map[string]string{"FLASHAI_CLIENT_SECRET": "", "FLASHAI_CLIENT_SECRET_FILE": secretFile}), true, ""},
		{"secret twice", with(map[string]string{"FLASHAI_CLIENT_SECRET_FILE": secretFile}), true, "FLASHAI_CLIENT_SECRET"},
		{"no base", with(map[string]string{"FLASHAI_BASE_URL": ""}), true, "FLASHAI_BASE_URL"},
		{"no client id", with(map[string]string{"FLASHAI_CLIENT_ID": ""}), true, "FLASHAI_CLIENT_ID"},
		{"no secret", with(map[string]string{"FLASHAI_CLIENT_SECRET": ""}), true, "FLASHAI_CLIENT_SECRET"},
		{"no user", with(map[string]string{"FLASHAI_USER_ID": ""}), true, "FLASHAI_USER_ID"},
		{"bad user", with(map[string]string{"FLASHAI_USER_ID": "abc"}), true, "FLASHAI_USER_ID"},
		{"only base", map[string]string{"FLASHAI_BASE_URL": "http://x"}, true, "FLASHAI_CLIENT_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, configured, err := flashai.ConfigFromEnv(func(k string) string { return tt.env[k] })
			if configured != tt.configured {
				t.Errorf("configured = %v; want %v", configured, tt.configured)
			}
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error = %v; want one naming %s", err, tt.errHas)
				}
				if strings.Contains(err.Error(), testSecret) {
					t.Errorf("error %q leaks the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v", err)
			}
			if tt.configured {
				if diff := cmp.Diff(wantCfg, cfg); diff != "" {
					t.Errorf("config (-want +got):\n%s", diff)
				}
			}
		})
	}
}
