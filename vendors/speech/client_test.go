package speech_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
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

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/speech"
)

const testAppID = "99845aaaaebd4d61acccc9b776208f12"

func testSigner(t *testing.T, opts speech.SignOptions) *speech.RSASigner {
	t.Helper()
	return signerFrom(t, "testdata/key_pkcs1.pem", opts)
}

func signerFrom(t *testing.T, file string, opts speech.SignOptions) *speech.RSASigner {
	t.Helper()
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := speech.NewRSASigner(pem, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// otherKey is a key the fake does not know.
var otherKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
})

func customers(from, n int) []speech.Customer {
	out := make([]speech.Customer, n)
	for i := range out {
		m := fmt.Sprintf("138%08d", from+i)
		out[i] = speech.Customer{
			Name:               "客户" + strconv.Itoa(from+i),
			ExternalCustomerID: "b1:" + m,
			ExternalData:       "part-1",
			PhoneGroupVoList: []speech.PhoneGroupCustomer{{
				PhoneGroupIdentify: "default",
				Relations:          []speech.Relation{{Mobile: m, Relation: "本人"}},
			}},
		}
	}
	return out
}

func mobiles(cs []speech.Customer) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.PhoneGroupVoList[0].Relations[0].Mobile)
	}
	return out
}

func newCreate(name string, cs []speech.Customer) *speech.CreateTaskRequest {
	return &speech.CreateTaskRequest{
		TaskName:              name,
		TaskType:              speech.TaskTypeAuto,
		TaskExecStartDate:     "2026-01-05",
		TaskExecEndDate:       "2026-01-09",
		TaskExecTimes:         []speech.ExecTime{{Start: "09:00:00", End: "18:00:00"}},
		TaskDesc:              "dialq",
		SkillSetID:            "1462016331580064",
		OutboundNumberGroupID: "1070678044124225",
		SendNumberStrategy:    speech.SendByMultiplier,
		MultiplyPower:         2,
		MaxRingingDuration:    45,
		ACW:                   10,
		OutboundPhoneGroups: []speech.PhoneGroup{{
			Name: "本人", Identify: "default", AutoOutboundSwitch: 1, AutoOutboundInterval: 5, AutoOutboundTimes: 1,
		}},
		OutBoundCustomers: cs,
	}
}

type setupOpts struct {
	fake    fakevendor.SpeechConfig
	noFake  bool // leave SpeechConfig as given (even empty)
	client  speech.Config
	timeout time.Duration
}

// setup starts the fake over loopback and a client of it; by default both sides
// share the testdata key and app id.
func setup(t *testing.T, o setupOpts) (*fakevendor.Server, *speech.Client) {
	t.Helper()
	if !o.noFake && o.fake.Verifier == nil {
		o.fake.AppID = testAppID
		o.fake.Verifier = testSigner(t, speech.SignOptions{}).Verifier()
	}
	fake := fakevendor.New(fakevendor.Config{Speech: o.fake, Seed: 1})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := o.client
	cfg.BaseURL = srv.URL + "/speech"
	if cfg.AppID == "" {
		cfg.AppID = testAppID
	}
	if cfg.Signer == nil {
		cfg.Signer = testSigner(t, speech.SignOptions{})
	}
	cfg.Timeout = o.timeout
	c, err := speech.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

func TestCreateAndAppend(t *testing.T) {
	fake, c := setup(t, setupOpts{})
	ctx := context.Background()
	first := customers(0, 1000)
	resp, err := c.CreateTask(ctx, newCreate("batch-1", first))
	if err != nil {
		t.Fatal(err)
	}
	if resp.TaskID <= 0 {
		t.Fatalf("TaskID = %d; want > 0", resp.TaskID)
	}
	want := map[string]int{}
	for _, m := range mobiles(first) {
		want[m] = 1
	}
	for part := 1; part <= 2; part++ {
		cs := customers(part*1000, 1000)
		if err := c.AppendCustomers(ctx, &speech.AppendRequest{TaskID: resp.TaskID, Customers: cs}); err != nil {
			t.Fatalf("append %d: %v", part, err)
		}
		for _, m := range mobiles(cs) {
			want[m] = 1
		}
	}
	// A second task gets its own id.
	resp2, err := c.CreateTask(ctx, newCreate("batch-2", customers(5000, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if resp2.TaskID == resp.TaskID {
		t.Errorf("second task reused id %d", resp.TaskID)
	}
	want[mobiles(customers(5000, 1))[0]] = 1

	l := fake.Ledger(fakevendor.Speech)
	if diff := cmp.Diff(want, l.Numbers); diff != "" {
		t.Errorf("ledger numbers (-want +got):\n%s", diff)
	}
	if l.Tasks != 2 {
		t.Errorf("ledger tasks = %d; want 2", l.Tasks)
	}
}

// Only the customer's own number (the first relation) is a delivered number.
func TestRelationsLedger(t *testing.T) {
	fake, c := setup(t, setupOpts{})
	cs := customers(0, 1)
	cs[0].PhoneGroupVoList[0].Relations = append(cs[0].PhoneGroupVoList[0].Relations,
		speech.Relation{Mobile: "13900000001", Relation: "父亲"}, speech.Relation{Mobile: "13900000002"})
	if _, err := c.CreateTask(context.Background(), newCreate("rel", cs)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"13800000000": 1}, fake.Ledger(fakevendor.Speech).Numbers); diff != "" {
		t.Errorf("ledger (-want +got):\n%s", diff)
	}
}

func TestFakeFailures(t *testing.T) {
	shared := testSigner(t, speech.SignOptions{})
	key, err := otherKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := speech.NewRSASignerFromKey(key, speech.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    setupOpts
		prepare func(*fakevendor.Server)
		req     func() *speech.CreateTaskRequest
		class   vendors.Class
		code    string
		errType any
	}{
		{name: "wrong app id", opts: setupOpts{client: speech.Config{AppID: "nope"}}, class: vendors.AuthRefused, code: "10001"},
		{name: "wrong key", opts: setupOpts{client: speech.Config{Signer: other}}, class: vendors.AuthRefused, code: "10001"},
		{name: "template mismatch", opts: setupOpts{client: speech.Config{Signer: testSigner(t, speech.SignOptions{Template: "{appId}{timestamp}{body}"})}}, class: vendors.AuthRefused, code: "10001"},
		{name: "hash mismatch", opts: setupOpts{client: speech.Config{Signer: testSigner(t, speech.SignOptions{Hash: crypto.SHA1})}}, class: vendors.AuthRefused, code: "10001"},
		{name: "no public key", opts: setupOpts{noFake: true}, class: vendors.Permanent, code: "10002"},
		{name: "poison", prepare: func(s *fakevendor.Server) { s.Poison("13800000007") }, class: vendors.InvalidPart, code: "29002"},
		{name: "poison in second relation", prepare: func(s *fakevendor.Server) { s.Poison("13900000000") }, req: func() *speech.CreateTaskRequest {
			r := newCreate("t", customers(0, 10))
			r.OutBoundCustomers[3].PhoneGroupVoList[0].Relations = append(r.OutBoundCustomers[3].PhoneGroupVoList[0].Relations, speech.Relation{Mobile: "13900000000"})
			return r
		}, class: vendors.InvalidPart, code: "29002"},
		{name: "bad customer", req: func() *speech.CreateTaskRequest {
			r := newCreate("t", customers(0, 10))
			r.OutBoundCustomers[5].Name = strings.Repeat("名", 21)
			return r
		}, class: vendors.InvalidPart, code: "29002"},
		{name: "bad ringing", req: func() *speech.CreateTaskRequest {
			r := newCreate("t", customers(0, 10))
			r.MaxRingingDuration = 60
			return r
		}, class: vendors.InvalidPart, code: "29002"},
		{name: "system error", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{SystemError: 1}) }, class: vendors.Transient, code: "29008"},
		{name: "server error", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{ServerError: 1}) }, class: vendors.Transient, errType: new(*vendors.HTTPStatusError)},
		{name: "throttle", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Throttle: 1, RetryAfterSeconds: 2}) }, class: vendors.Throttled, errType: new(*vendors.HTTPStatusError)},
		{name: "malformed", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Malformed: 1}) }, class: vendors.Ambiguous, errType: new(*vendors.MalformedError)},
		{name: "drop", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Drop: 1}) }, class: vendors.Ambiguous, errType: new(*vendors.TransportError)},
		{name: "timeout", opts: setupOpts{timeout: 50 * time.Millisecond}, prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Timeout: 1, TimeoutMillis: 300}) }, class: vendors.Ambiguous, errType: new(*vendors.TransportError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := setup(t, tt.opts)
			if tt.prepare != nil {
				tt.prepare(fake)
			}
			req := newCreate("t", customers(0, 10))
			if tt.req != nil {
				req = tt.req()
			}
			_, err := c.CreateTask(context.Background(), req)
			if err == nil {
				t.Fatal("CreateTask succeeded; want an error")
			}
			if got := vendors.ClassOf(err); got != tt.class {
				t.Errorf("class = %v; want %v (%v)", got, tt.class, err)
			}
			if tt.code != "" {
				var ae *speech.APIError
				if !errors.As(err, &ae) || ae.Code != tt.code {
					t.Errorf("err = %v; want APIError code %s", err, tt.code)
				}
			}
			if tt.errType != nil && !errors.As(err, tt.errType) {
				t.Errorf("err = %T %v; want %T", err, err, tt.errType)
			}
			if tt.class == vendors.Throttled && vendors.RetryAfter(err) != 2*time.Second {
				t.Errorf("RetryAfter = %v; want 2s", vendors.RetryAfter(err))
			}
			msg := err.Error()
			for _, m := range mobiles(req.OutBoundCustomers) {
				if strings.Contains(msg, m) {
					t.Errorf("error %q carries number %s", msg, m)
				}
			}
			if sig, _ := shared.Sign(testAppID, "", nil); strings.Contains(msg, sig[:20]) {
				t.Errorf("error %q carries a signature", msg)
			}
			if l := fake.Ledger(fakevendor.Speech); len(l.Numbers) != 0 || l.Tasks != 0 {
				t.Errorf("failed call reached the ledger: %+v", l)
			}
		})
	}
}

// Speech reports no per-number refusals: a refused number is still accepted.
func TestRefusalIgnored(t *testing.T) {
	fake, c := setup(t, setupOpts{})
	fake.Refuse("blocked", "13800000001")
	if _, err := c.CreateTask(context.Background(), newCreate("t", customers(0, 3))); err != nil {
		t.Fatal(err)
	}
	if n := fake.Ledger(fakevendor.Speech).Numbers["13800000001"]; n != 1 {
		t.Errorf("refused number recorded %d times; want 1", n)
	}
}

// TestDuplicateTaskName: the fake answers a repeated create with each plausible
// code and wording; every one is recognised as our own earlier create, is never
// Transient, and leaves one task with each number once.
func TestDuplicateTaskName(t *testing.T) {
	tests := []struct {
		name, code, msg, tenant string
	}{
		{"default 29002", "", "", ""},
		{"20001 task name exists", speech.CodeRequestFailed, "task name exists", ""},
		{"20001 chinese", speech.CodeRequestFailed, "请求失败：任务名称已存在", ""},
		{"29002 chinese", speech.CodeParameterError, "参数错误：名称重复", ""},
		{"29008 wording", speech.CodeSystemError, "duplicate task name", ""},
		{"unlisted code", "30001", "taskName is already in use", ""},
		{"tenant wording", speech.CodeRequestFailed, "this campaign label is in our books", "label is in our books"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := setup(t, setupOpts{client: speech.Config{DuplicateNameMessage: tt.tenant}})
			fake.SetFaults(fakevendor.Faults{SpeechDuplicateCode: tt.code, SpeechDuplicateMessage: tt.msg})
			ctx := context.Background()
			req := newCreate("same-name", customers(0, 5))
			if _, err := c.CreateTask(ctx, req); err != nil {
				t.Fatal(err)
			}
			_, err := c.CreateTask(ctx, req)
			if !speech.IsDuplicateName(err) {
				t.Fatalf("second create = %v; want a duplicate task name", err)
			}
			var ae *speech.APIError
			if !errors.As(err, &ae) || !ae.DuplicateTaskName() {
				t.Fatalf("second create = %v; want an *APIError with DuplicateTaskName", err)
			}
			wantCode := tt.code
			if wantCode == "" {
				wantCode = speech.CodeParameterError
			}
			if got := vendors.ClassOf(err); got != vendors.Permanent || ae.Code != wantCode {
				t.Errorf("duplicate: class %v code %s; want permanent %s", got, ae.Code, wantCode)
			}
			l := fake.Ledger(fakevendor.Speech)
			if l.Tasks != 1 || l.Numbers["13800000000"] != 1 {
				t.Errorf("ledger after duplicate = %+v; want one task, each number once", l)
			}
		})
	}
}

// TestDuplicateWordingUnrecognised: without the tenant's wording, an unusual one
// stays an ordinary refusal of its code (here 20001, Transient), which is what
// the setting is for.
func TestDuplicateWordingUnrecognised(t *testing.T) {
	fake, c := setup(t, setupOpts{})
	fake.SetFaults(fakevendor.Faults{SpeechDuplicateCode: speech.CodeRequestFailed, SpeechDuplicateMessage: "this campaign label is in our books"})
	req := newCreate("same-name", customers(0, 5))
	if _, err := c.CreateTask(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateTask(context.Background(), req)
	if speech.IsDuplicateName(err) || vendors.ClassOf(err) != vendors.Transient {
		t.Fatalf("second create = %v (class %v); want a plain transient 20001", err, vendors.ClassOf(err))
	}
}

// TestAuthRefusedOnce: one spurious 10001 is AuthRefused, sends nothing to the
// ledger, and the next call, signed afresh with a new timestamp, succeeds.
func TestAuthRefusedOnce(t *testing.T) {
	signer := testSigner(t, speech.SignOptions{})
	fake := fakevendor.New(fakevendor.Config{Seed: 1, Speech: fakevendor.SpeechConfig{AppID: testAppID, Verifier: signer.Verifier()}})
	var mu sync.Mutex
	var signs, stamps []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		signs, stamps = append(signs, r.Header.Get("sign")), append(stamps, r.Header.Get("timestamp"))
		mu.Unlock()
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	clock := time.UnixMilli(1_700_000_000_000)
	c, err := speech.NewClient(speech.Config{BaseURL: srv.URL + "/speech", AppID: testAppID, Signer: signer,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); clock = clock.Add(time.Second); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	fake.RefuseAuth(1)
	req := newCreate("auth-once", customers(0, 3))
	_, err = c.CreateTask(context.Background(), req)
	var ae *speech.APIError
	if !errors.As(err, &ae) || ae.Code != speech.CodeAuthFailed || vendors.ClassOf(err) != vendors.AuthRefused {
		t.Fatalf("first create = %v (class %v); want 10001 auth", err, vendors.ClassOf(err))
	}
	if vendors.AuthRefused.String() != "auth" {
		t.Errorf("AuthRefused.String() = %q; want auth", vendors.AuthRefused.String())
	}
	if l := fake.Ledger(fakevendor.Speech); l.Tasks != 0 || len(l.Numbers) != 0 {
		t.Fatalf("ledger after a refusal = %+v; want empty", l)
	}
	if _, err := c.CreateTask(context.Background(), req); err != nil {
		t.Fatalf("second create: %v", err)
	}
	if l := fake.Ledger(fakevendor.Speech); l.Tasks != 1 || len(l.Numbers) != 3 {
		t.Errorf("ledger = %+v; want one task of 3 numbers", l)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(signs) != 2 || signs[0] == signs[1] || stamps[0] == stamps[1] {
		t.Errorf("signatures %d, timestamps %v; want two requests, each signed afresh", len(signs), stamps)
	}
}

func TestAppendErrors(t *testing.T) {
	_, c := setup(t, setupOpts{})
	ctx := context.Background()
	resp, err := c.CreateTask(ctx, newCreate("t", customers(0, 1)))
	if err != nil {
		t.Fatal(err)
	}
	wrongGroup := customers(10, 2)
	wrongGroup[1].PhoneGroupVoList[0].PhoneGroupIdentify = "other"
	tests := []struct {
		name string
		req  *speech.AppendRequest
	}{
		{"unknown task", &speech.AppendRequest{TaskID: resp.TaskID + 1000, Customers: customers(10, 2)}},
		{"wrong phone group", &speech.AppendRequest{TaskID: resp.TaskID, Customers: wrongGroup}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.AppendCustomers(ctx, tt.req)
			var ae *speech.APIError
			if !errors.As(err, &ae) || ae.Code != speech.CodeParameterError || ae.Class() != vendors.InvalidPart || ae.DuplicateTaskName() {
				t.Fatalf("AppendCustomers = %v; want a 29002 invalid-part", err)
			}
		})
	}
}

func TestTaskLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 20,000 customers")
	}
	fake, c := setup(t, setupOpts{})
	ctx := context.Background()
	resp, err := c.CreateTask(ctx, newCreate("big", customers(0, 1000)))
	if err != nil {
		t.Fatal(err)
	}
	for part := 1; part < speech.MaxCustomersPerTask/1000; part++ {
		if err := c.AppendCustomers(ctx, &speech.AppendRequest{TaskID: resp.TaskID, Customers: customers(part*1000, 1000)}); err != nil {
			t.Fatalf("append %d: %v", part, err)
		}
	}
	err = c.AppendCustomers(ctx, &speech.AppendRequest{TaskID: resp.TaskID, Customers: customers(90000, 1)})
	if vendors.ClassOf(err) != vendors.InvalidPart {
		t.Fatalf("append past 20,000 = %v; want a 29002 invalid-part", err)
	}
	if n := len(fake.Ledger(fakevendor.Speech).Numbers); n != speech.MaxCustomersPerTask {
		t.Errorf("ledger holds %d numbers; want %d", n, speech.MaxCustomersPerTask)
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	fake, c := setup(t, setupOpts{})
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"create 1001", func() error { _, err := c.CreateTask(ctx, newCreate("t", customers(0, 1001))); return err }, speech.ErrTooManyCustomers},
		{"create none", func() error { _, err := c.CreateTask(ctx, newCreate("t", nil)); return err }, speech.ErrNoCustomers},
		{"append 1001", func() error {
			return c.AppendCustomers(ctx, &speech.AppendRequest{TaskID: 1, Customers: customers(0, 1001)})
		}, speech.ErrTooManyCustomers},
		{"append none", func() error { return c.AppendCustomers(ctx, &speech.AppendRequest{TaskID: 1}) }, speech.ErrNoCustomers},
		{"create nil", func() error { _, err := c.CreateTask(ctx, nil); return err }, nil},
		{"append nil", func() error { return c.AppendCustomers(ctx, nil) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var re *speech.RequestError
			if !errors.As(err, &re) || vendors.ClassOf(err) != vendors.Permanent {
				t.Fatalf("err = %v; want a permanent RequestError", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v; want %v", err, tt.want)
			}
		})
	}
	if n := fake.Stats().Calls[fakevendor.Speech]; n != 0 {
		t.Errorf("fake saw %d calls; want none", n)
	}
}

// A tenant that signs the body with SHA-1 is served when both sides agree.
func TestSignOptionsAgainstFake(t *testing.T) {
	opts := speech.SignOptions{Hash: crypto.SHA1, Template: "{appId}&{timestamp}&{body}"}
	fake, c := setup(t, setupOpts{
		fake:   fakevendor.SpeechConfig{AppID: testAppID, Verifier: testSigner(t, opts).Verifier()},
		client: speech.Config{Signer: signerFrom(t, "testdata/key_pkcs8.pem", opts)},
	})
	resp, err := c.CreateTask(context.Background(), newCreate("t", customers(0, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AppendCustomers(context.Background(), &speech.AppendRequest{TaskID: resp.TaskID, Customers: customers(2, 2)}); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Ledger(fakevendor.Speech).Numbers); n != 4 {
		t.Errorf("ledger holds %d numbers; want 4", n)
	}
}

// scripted answers each request with the next reply and records what it got.
type scripted struct {
	mu      sync.Mutex
	replies []reply
	got     []recorded
}

type reply struct {
	status int
	header map[string]string
	body   string
}

type recorded struct {
	path   string
	method string
	header http.Header
	body   []byte
	appID  string
	ts     string
	sign   string
	ctype  string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.got = append(s.got, recorded{
		path: r.URL.Path, method: r.Method, header: r.Header, body: body,
		appID: r.Header.Get("appId"), ts: r.Header.Get("timestamp"), sign: r.Header.Get("sign"), ctype: r.Header.Get("Content-Type"),
	})
	rep := s.replies[0]
	if len(s.replies) > 1 {
		s.replies = s.replies[1:]
	}
	s.mu.Unlock()
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

// keyRecorder keeps the header names as the client wrote them.
type keyRecorder struct {
	mu   sync.Mutex
	keys [][]string
}

func (k *keyRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	var keys []string
	for name := range r.Header {
		keys = append(keys, name)
	}
	k.mu.Lock()
	k.keys = append(k.keys, keys)
	k.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func scriptedClient(t *testing.T, replies ...reply) (*scripted, *speech.Client, *time.Time, *keyRecorder) {
	t.Helper()
	s := &scripted{replies: replies}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	now := time.UnixMilli(1586314097995)
	kr := &keyRecorder{}
	c, err := speech.NewClient(speech.Config{
		BaseURL:    srv.URL + "/",
		AppID:      testAppID,
		Signer:     testSigner(t, speech.SignOptions{}),
		HTTPClient: &http.Client{Transport: kr},
		Now:        func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, &now, kr
}

func TestRequestShape(t *testing.T) {
	s, c, _, kr := scriptedClient(t, reply{200, nil, `{"code":"10000","message":"请求成功","data":123}`})
	req := newCreate("自动外呼任务名称", customers(0, 2))
	resp, err := c.CreateTask(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.TaskID != 123 {
		t.Errorf("TaskID = %d; want 123", resp.TaskID)
	}
	got := s.got[0]
	if got.method != http.MethodPost || got.path != speech.PathCreate {
		t.Errorf("request %s %s; want POST %s", got.method, got.path, speech.PathCreate)
	}
	if got.appID != testAppID || got.ts != "1586314097995" || got.ctype != "application/json" {
		t.Errorf("headers appId %q timestamp %q content-type %q", got.appID, got.ts, got.ctype)
	}
	// The default signature covers appId+timestamp only: the page's sample inputs.
	want, _ := testSigner(t, speech.SignOptions{}).Sign(testAppID, "1586314097995", nil)
	if got.sign != want {
		t.Errorf("sign = %s; want %s", got.sign, want)
	}
	var sent speech.CreateTaskRequest
	if err := json.Unmarshal(got.body, &sent); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*req, sent); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(got.body, &fields)
	for _, f := range []string{"taskName", "taskType", "taskExecStartDate", "taskExecEndDate", "taskExecTimes", "taskDesc",
		"skillSetId", "outboundNumberGroupId", "strategyDisplaySwitch", "sendNumberStrategy", "multiplyPower",
		"maxRingingDuration", "acw", "outboundPhoneGroups", "outBoundCustomers"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("body lacks %s", f)
		}
	}
	for _, k := range []string{"appId", "timestamp", "sign"} {
		if !strings.Contains(strings.Join(kr.keys[0], ","), k) {
			t.Errorf("header %q not written as spelt on the page: %v", k, kr.keys[0])
		}
	}
}

func TestAppendShape(t *testing.T) {
	s, c, _, _ := scriptedClient(t, reply{200, nil, `{"code":"10000","message":"请求成功","data":null}`})
	cs := customers(0, 2)
	if err := c.AppendCustomers(context.Background(), &speech.AppendRequest{TaskID: 1462016331580064, Customers: cs}); err != nil {
		t.Fatal(err)
	}
	got := s.got[0]
	if got.path != speech.PathAppend {
		t.Errorf("path %s; want %s", got.path, speech.PathAppend)
	}
	var body struct {
		TaskID    int64             `json:"taskId"`
		Customers []speech.Customer `json:"outBoundCustomers"`
	}
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.TaskID != 1462016331580064 || !cmp.Equal(body.Customers, cs) {
		t.Errorf("append body = %s", got.body)
	}
}

// Every code on the page, over real HTTP, for both operations.
func TestScriptedCodes(t *testing.T) {
	tests := []struct {
		name  string
		rep   reply
		class vendors.Class
		dup   bool
	}{
		{"10001", reply{200, nil, `{"code":"10001","message":"鉴权失败"}`}, vendors.AuthRefused, false},
		{"10002", reply{200, nil, `{"code":"10002","message":"找不到对应的公钥,请先上传公钥"}`}, vendors.Permanent, false},
		{"20001", reply{200, nil, `{"code":"20001","message":"请求失败"}`}, vendors.Transient, false},
		{"29002", reply{200, nil, `{"code":"29002","message":"参数错误"}`}, vendors.InvalidPart, false},
		{"29002 duplicate", reply{200, nil, `{"code":"29002","message":"taskName already exists"}`}, vendors.Permanent, true},
		{"20001 duplicate", reply{200, nil, `{"code":"20001","message":"task name exists"}`}, vendors.Permanent, true},
		{"29008", reply{200, nil, `{"code":"29008","message":"系统异常"}`}, vendors.Transient, false},
		{"unlisted", reply{200, nil, `{"code":"40000","message":"?"}`}, vendors.Permanent, false},
		{"429", reply{429, map[string]string{"Retry-After": "5"}, ``}, vendors.Throttled, false},
		{"502", reply{502, nil, `bad gateway`}, vendors.Transient, false},
		{"400", reply{400, nil, `bad request`}, vendors.Permanent, false},
		{"200 html", reply{200, nil, `<html></html>`}, vendors.Ambiguous, false},
		{"10000 without id", reply{200, nil, `{"code":"10000","message":"ok","data":null}`}, vendors.Ambiguous, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c, _, _ := scriptedClient(t, tt.rep)
			_, err := c.CreateTask(context.Background(), newCreate("t", customers(0, 1)))
			if got := vendors.ClassOf(err); err == nil || got != tt.class {
				t.Fatalf("create: class %v (%v); want %v", got, err, tt.class)
			}
			var ae *speech.APIError
			if got := errors.As(err, &ae) && ae.DuplicateTaskName(); got != tt.dup {
				t.Errorf("DuplicateTaskName = %v; want %v", got, tt.dup)
			}
			if tt.rep.status == 429 && vendors.RetryAfter(err) != 5*time.Second {
				t.Errorf("RetryAfter = %v; want 5s", vendors.RetryAfter(err))
			}
			err = c.AppendCustomers(context.Background(), &speech.AppendRequest{TaskID: 1, Customers: customers(0, 1)})
			want := tt.class
			switch {
			case tt.dup && strings.HasPrefix(tt.name, "29002"):
				want = vendors.InvalidPart // no task name on append: the code decides
			case tt.dup:
				want = vendors.Transient
			case tt.name == "10000 without id":
				want = 0 // append needs no data
			}
			if got := vendors.ClassOf(err); got != want {
				t.Errorf("append: class %v (%v); want %v", got, err, want)
			}
		})
	}
}

// A retry is a new call: the same body, a fresh timestamp and signature.
func TestRetryResigns(t *testing.T) {
	s, c, now, _ := scriptedClient(t,
		reply{200, nil, `{"code":"29008","message":"系统异常"}`},
		reply{200, nil, `{"code":"10000","message":"ok","data":7}`},
	)
	req := newCreate("t", customers(0, 3))
	_, err := c.CreateTask(context.Background(), req)
	if vendors.ClassOf(err) != vendors.Transient {
		t.Fatalf("first attempt = %v; want transient", err)
	}
	*now = now.Add(3 * time.Second)
	resp, err := c.CreateTask(context.Background(), req)
	if err != nil || resp.TaskID != 7 {
		t.Fatalf("retry = %+v, %v", resp, err)
	}
	a, b := s.got[0], s.got[1]
	if string(a.body) != string(b.body) {
		t.Errorf("retry body differs:\n%s\n%s", a.body, b.body)
	}
	if a.ts == b.ts || a.sign == b.sign {
		t.Errorf("retry reused timestamp %s / signature", a.ts)
	}
	if b.ts != "1586314100995" {
		t.Errorf("retry timestamp = %s; want 1586314100995", b.ts)
	}
	v := testSigner(t, speech.SignOptions{}).Verifier()
	for i, r := range s.got {
		if err := v.Verify(r.appID, r.ts, r.body, r.sign); err != nil {
			t.Errorf("attempt %d: signature does not verify: %v", i+1, err)
		}
	}
}

// With a body-signing template the signature covers exactly the bytes sent.
func TestSignsBytesSent(t *testing.T) {
	s := &scripted{replies: []reply{{200, nil, `{"code":"10000","data":1}`}}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	opts := speech.SignOptions{Template: "{body}"}
	c, err := speech.NewClient(speech.Config{BaseURL: srv.URL, AppID: testAppID, Signer: testSigner(t, opts)})
	if err != nil {
		t.Fatal(err)
	}
	req := newCreate("<&> 名称", customers(0, 2))
	if _, err := c.CreateTask(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if err := testSigner(t, opts).Verifier().Verify("", "", s.got[0].body, s.got[0].sign); err != nil {
		t.Errorf("signature does not cover the bytes sent: %v", err)
	}
}

func TestNewClientErrors(t *testing.T) {
	signer := testSigner(t, speech.SignOptions{})
	tests := []struct {
		name string
		cfg  speech.Config
	}{
		{"no base", speech.Config{AppID: "a", Signer: signer}},
		{"relative base", speech.Config{BaseURL: "abc.xyz", AppID: "a", Signer: signer}},
		{"ftp base", speech.Config{BaseURL: "ftp://abc.xyz", AppID: "a", Signer: signer}},
		{"no app id", speech.Config{BaseURL: "https://abc.xyz", Signer: signer}},
		{"no signer", speech.Config{BaseURL: "https://abc.xyz", AppID: "a"}},
	}
	for _, tt := range tests {
		if _, err := speech.NewClient(tt.cfg); err == nil {
			t.Errorf("%s: NewClient accepted %+v", tt.name, tt.cfg)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	dir := t.TempDir()
	pemBytes, err := os.ReadFile("testdata/key_pkcs8.pem")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	oneLine := strings.ReplaceAll(strings.TrimSpace(string(pemBytes)), "\n", `\n`)
	full := map[string]string{"SPEECH_BASE_URL": "https://abc.xyz", "SPEECH_APP_ID": testAppID, "SPEECH_PRIVATE_KEY_FILE": keyFile}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name       string
		env        map[string]string
		configured bool
		errHas     string
		hash       crypto.Hash
		template   string
	}{
		{"unset", nil, false, "", 0, ""},
		{"full", full, true, "", crypto.SHA256, speech.DefaultTemplate},
		{"inline key", with("SPEECH_PRIVATE_KEY_FILE", "", "SPEECH_PRIVATE_KEY", string(pemBytes)), true, "", crypto.SHA256, speech.DefaultTemplate},
		{"inline key one line", with("SPEECH_PRIVATE_KEY_FILE", "", "SPEECH_PRIVATE_KEY", oneLine), true, "", crypto.SHA256, speech.DefaultTemplate},
		{"sha1 and template", with("SPEECH_SIGN_HASH", "sha1", "SPEECH_SIGN_TEMPLATE", "{appId}{timestamp}{body}"), true, "", crypto.SHA1, "{appId}{timestamp}{body}"},
		{"no base url", with("SPEECH_BASE_URL", ""), true, "SPEECH_BASE_URL", 0, ""},
		{"no app id", with("SPEECH_APP_ID", ""), true, "SPEECH_APP_ID", 0, ""},
		{"no key", with("SPEECH_PRIVATE_KEY_FILE", ""), true, "SPEECH_PRIVATE_KEY", 0, ""},
		{"only hash", map[string]string{"SPEECH_SIGN_HASH": "sha1"}, true, "SPEECH_BASE_URL", 0, ""},
		{"both key forms", with("SPEECH_PRIVATE_KEY", string(pemBytes)), true, "SPEECH_PRIVATE_KEY", 0, ""},
		{"garbage key", with("SPEECH_PRIVATE_KEY_FILE", "", "SPEECH_PRIVATE_KEY", "hello"), true, "no PEM block", 0, ""},
		{"missing key file", with("SPEECH_PRIVATE_KEY_FILE", filepath.Join(dir, "none")), true, "SPEECH_PRIVATE_KEY_FILE", 0, ""},
		{"bad hash", with("SPEECH_SIGN_HASH", "md5"), true, "SPEECH_SIGN_HASH", 0, ""},
		{"bad template", with("SPEECH_SIGN_TEMPLATE", "{appid}"), true, "placeholder", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, configured, err := speech.ConfigFromEnv(func(k string) string { return tt.env[k] })
			if configured != tt.configured {
				t.Errorf("configured = %v; want %v", configured, tt.configured)
			}
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v; want one naming %s", err, tt.errHas)
				}
				if secret := strings.Split(string(pemBytes), "\n")[1]; strings.Contains(err.Error(), secret[:16]) || strings.Contains(err.Error(), "hello") {
					t.Errorf("err %q quotes the key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.configured {
				return
			}
			rs, ok := cfg.Signer.(*speech.RSASigner)
			if !ok {
				t.Fatalf("Signer = %T; want *speech.RSASigner", cfg.Signer)
			}
			if o := rs.Options(); o.Hash != tt.hash || o.Template != tt.template {
				t.Errorf("options = %+v; want hash %v template %q", o, tt.hash, tt.template)
			}
			if cfg.BaseURL != full["SPEECH_BASE_URL"] || cfg.AppID != testAppID {
				t.Errorf("cfg = %+v", cfg)
			}
			if _, err := speech.NewClient(cfg); err != nil {
				t.Errorf("NewClient(ConfigFromEnv) = %v", err)
			}
		})
	}
}
