package yccall_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/yccall"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const (
	testAppID  = "app-1"
	testKey    = "k3y-secret"
	testStatic = "static-t0ken"
)

// recorder counts the services the fake is asked for and keeps each form.
type recorder struct {
	next  http.Handler
	mu    sync.Mutex
	forms []url.Values
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(b))
	f, _ := url.ParseQuery(string(b))
	r.mu.Lock()
	r.forms = append(r.forms, f)
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

func (r *recorder) count(service string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.forms {
		if f.Get("service") == service {
			n++
		}
	}
	return n
}

func (r *recorder) last(service string) url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.forms) - 1; i >= 0; i-- {
		if r.forms[i].Get("service") == service {
			return r.forms[i]
		}
	}
	return nil
}

type env struct {
	fv  *fakevendor.Server
	rec *recorder
	url string
}

func setup(t *testing.T) *env {
	t.Helper()
	fv := fakevendor.New(fakevendor.Config{
		Yccall: fakevendor.YccallConfig{AppID: testAppID, AccessKey: testKey, Token: testStatic},
		Seed:   1,
	})
	rec := &recorder{next: fv}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return &env{fv: fv, rec: rec, url: srv.URL + "/yccall/"}
}

func (e *env) client(t *testing.T, mod func(*yccall.Config)) *yccall.Client {
	t.Helper()
	cfg := yccall.Config{BaseURL: e.url, AppID: testAppID, AccessKey: testKey, Timeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c, err := yccall.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func phones(numbers ...string) []yccall.Phone {
	var out []yccall.Phone
	for _, n := range numbers {
		out = append(out, yccall.Phone{Number: n, CustomUUID: "id-" + n, Time: time.Unix(1700000000, 0)})
	}
	return out
}

func createReq(numbers ...string) *yccall.TaskCreateRequest {
	return &yccall.TaskCreateRequest{AssignType: yccall.AssignQueue, AssignAgent: "queue-1", TaskScale: "1:1",
		Phones: phones(numbers...), TaskName: "batch-1"}
}

func TestTaskLifecycleAgainstFake(t *testing.T) {
	e := setup(t)
	c := e.client(t, nil)
	ctx := context.Background()
	e.fv.Refuse("blacklisted", "13800000002")
	created, err := c.TaskCreate(ctx, createReq("13800000001", "13800000002", "12ab"))
	if err != nil {
		t.Fatalf("TaskCreate: %v", err)
	}
	if created.TaskID == "" {
		t.Fatalf("TaskCreate: empty task id")
	}
	wantInvalid := []yccall.Invalid{{Phone: "13800000002", Reason: "blacklisted"}, {Phone: "12ab", Reason: "invalid phone format"}}
	if diff := cmp.Diff(wantInvalid, created.Invalid); diff != "" {
		t.Errorf("TaskCreate invalid (-want +got):\n%s", diff)
	}
	added, err := c.TaskAdd(ctx, created.TaskID, phones("13800000003", "13800000002"))
	if err != nil {
		t.Fatalf("TaskAdd: %v", err)
	}
	if diff := cmp.Diff(&yccall.TaskAddResponse{Success: 1, Invalid: []yccall.Invalid{{Phone: "13800000002", Reason: "blacklisted"}}}, added); diff != "" {
		t.Errorf("TaskAdd (-want +got):\n%s", diff)
	}
	for _, st := range []yccall.TaskStatus{yccall.TaskStart, yccall.TaskPause, yccall.TaskEnd} {
		if err := c.TaskSet(ctx, created.TaskID, st); err != nil {
			t.Errorf("TaskSet(%d): %v", st, err)
		}
	}
	l := e.fv.Ledger(fakevendor.Yccall)
	if diff := cmp.Diff(map[string]int{"13800000001": 1, "13800000003": 1}, l.Numbers); diff != "" || l.Tasks != 1 {
		t.Errorf("ledger: %d tasks, numbers (-want +got):\n%s", l.Tasks, diff)
	}
	if n := e.rec.count("App.Sip_Auth.Login"); n != 1 {
		t.Errorf("logged in %d times for five calls; want 1", n)
	}
	// The form the client sent, field by field.
	f := e.rec.last("App.Sip_Yccall.TaskCreat")
	for k, want := range map[string]string{"assigntype": "2", "assignagent": "queue-1", "taskscale": "1:1", "taskname": "batch-1"} {
		if got := f.Get(k); got != want {
			t.Errorf("TaskCreat %s = %q; want %q", k, got, want)
		}
	}
	if _, ok := f["disnumber"]; !ok {
		t.Errorf("TaskCreat form lacks disnumber")
	}
	wantTel := `[{"phone":"13800000001","time":1700000000,"userid":"","memberid":"","chengshudu":"","customuuid":"id-13800000001"},` +
		`{"phone":"13800000002","time":1700000000,"userid":"","memberid":"","chengshudu":"","customuuid":"id-13800000002"},` +
		`{"phone":"12ab","time":1700000000,"userid":"","memberid":"","chengshudu":"","customuuid":"id-12ab"}]`
	if got := f.Get("telphone"); got != wantTel {
		t.Errorf("telphone = %s\nwant %s", got, wantTel)
	}
}

func TestTokenExpiryRelogsInOnce(t *testing.T) {
	e := setup(t)
	c := e.client(t, nil)
	ctx := context.Background()
	if _, err := c.TaskCreate(ctx, createReq("13800000001")); err != nil {
		t.Fatalf("TaskCreate: %v", err)
	}
	e.fv.ExpireYccallTokens()
	created, err := c.TaskCreate(ctx, createReq("13800000002"))
	if err != nil {
		t.Fatalf("TaskCreate after expiry: %v", err)
	}
	if n := e.rec.count("App.Sip_Auth.Login"); n != 2 {
		t.Errorf("logins = %d; want 2", n)
	}
	if n := e.rec.count("App.Sip_Yccall.TaskCreat"); n != 3 {
		t.Errorf("TaskCreat calls = %d; want 3 (one refused with 600, repeated)", n)
	}
	if created.TaskID == "" || len(e.fv.Ledger(fakevendor.Yccall).Numbers) != 2 {
		t.Errorf("ledger = %+v; want both numbers once", e.fv.Ledger(fakevendor.Yccall))
	}
}

func TestStaticToken(t *testing.T) {
	e := setup(t)
	c := e.client(t, func(cfg *yccall.Config) { cfg.AppID, cfg.AccessKey, cfg.Token = "", "", testStatic })
	ctx := context.Background()
	if _, err := c.TaskCreate(ctx, createReq("13800000001")); err != nil {
		t.Fatalf("TaskCreate with static token: %v", err)
	}
	if tok, err := c.Login(ctx); err != nil || tok != testStatic {
		t.Errorf("Login with static token = %q, %v; want the static token", tok, err)
	}
	e.fv.ExpireYccallTokens()
	_, err := c.TaskCreate(ctx, createReq("13800000002"))
	var ae *yccall.APIError
	if !errors.As(err, &ae) || ae.Ret != yccall.RetTokenInvalid || vendors.ClassOf(err) != vendors.AuthRefused {
		t.Errorf("TaskCreate with a revoked static token = %v; want auth ret 600", err)
	}
	if strings.Contains(err.Error(), testStatic) {
		t.Errorf("error %q contains the token", err)
	}
	if n := e.rec.count("App.Sip_Auth.Login"); n != 0 {
		t.Errorf("logins = %d with a static token; want 0", n)
	}
}

func TestConcurrentCallersShareOneLogin(t *testing.T) {
	e := setup(t)
	c := e.client(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.TaskCreate(context.Background(), createReq(fmt.Sprintf("1380000%04d", i)))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("TaskCreate: %v", err)
		}
	}
	if n := e.rec.count("App.Sip_Auth.Login"); n != 1 {
		t.Errorf("logins = %d for 8 concurrent calls; want 1", n)
	}
	if l := e.fv.Ledger(fakevendor.Yccall); l.Tasks != 8 || len(l.Numbers) != 8 {
		t.Errorf("ledger: %d tasks, %d numbers; want 8 and 8", l.Tasks, len(l.Numbers))
	}
}

func TestTokenMaxAge(t *testing.T) {
	e := setup(t)
	var mu sync.Mutex
	now := time.Now()
	c := e.client(t, func(cfg *yccall.Config) {
		cfg.TokenMaxAge = time.Hour
		cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	ctx := context.Background()
	if _, err := c.TaskCreate(ctx, createReq("13800000001")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(59 * time.Minute)
	mu.Unlock()
	if _, err := c.TaskCreate(ctx, createReq("13800000002")); err != nil {
		t.Fatal(err)
	}
	if n := e.rec.count("App.Sip_Auth.Login"); n != 1 {
		t.Errorf("logins after 59 min = %d; want 1", n)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if _, err := c.TaskCreate(ctx, createReq("13800000003")); err != nil {
		t.Fatal(err)
	}
	if n := e.rec.count("App.Sip_Auth.Login"); n != 2 {
		t.Errorf("logins after 61 min = %d; want 2", n)
	}
}

func TestFailuresAgainstFake(t *testing.T) {
	tests := []struct {
		name      string
		cfg       func(*yccall.Config)
		prepare   func(*fakevendor.Server)
		call      func(context.Context, *yccall.Client) error
		wantClass vendors.Class
		wantRet   int
	}{
		{name: "poison", prepare: func(s *fakevendor.Server) { s.Poison("13800000002") },
			wantClass: vendors.InvalidPart, wantRet: yccall.RetBadParams},
		{name: "poison on add", prepare: func(s *fakevendor.Server) { s.Poison("13800000009") },
			call: func(ctx context.Context, c *yccall.Client) error {
				r, err := c.TaskCreate(ctx, createReq("13800000001"))
				if err != nil {
					return fmt.Errorf("create: %w", err)
				}
				_, err = c.TaskAdd(ctx, r.TaskID, phones("13800000009"))
				return err
			}, wantClass: vendors.InvalidPart, wantRet: yccall.RetBadParams},
		{name: "wrong key", cfg: func(c *yccall.Config) { c.AccessKey = "nope" },
			wantClass: vendors.Permanent, wantRet: yccall.RetAppIDUnauthorised},
		{name: "wrong appid", cfg: func(c *yccall.Config) { c.AppID = "nope" },
			wantClass: vendors.Permanent, wantRet: yccall.RetAppIDUnauthorised},
		{name: "system error", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{SystemError: 1}) },
			wantClass: vendors.Transient, wantRet: yccall.RetServerError},
		{name: "server error", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{ServerError: 1}) },
			wantClass: vendors.Transient},
		{name: "throttle", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Throttle: 1, RetryAfterSeconds: 4}) },
			wantClass: vendors.Throttled},
		{name: "malformed", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Malformed: 1}) },
			cfg: func(c *yccall.Config) { c.AppID, c.AccessKey, c.Token = "", "", testStatic }, wantClass: vendors.Ambiguous},
		{name: "malformed login", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Malformed: 1}) },
			wantClass: vendors.Transient},
		{name: "drop", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Drop: 1}) },
			cfg: func(c *yccall.Config) { c.AppID, c.AccessKey, c.Token = "", "", testStatic }, wantClass: vendors.Ambiguous},
		{name: "timeout", prepare: func(s *fakevendor.Server) { s.SetFaults(fakevendor.Faults{Timeout: 1, TimeoutMillis: 500}) },
			cfg: func(c *yccall.Config) {
				c.AppID, c.AccessKey, c.Token = "", "", testStatic
				c.Timeout = 50 * time.Millisecond
			}, wantClass: vendors.Ambiguous},
		{name: "unknown task", call: func(ctx context.Context, c *yccall.Client) error {
			_, err := c.TaskAdd(ctx, "20200212163504393460", phones("13800000001"))
			return err
		}, wantClass: vendors.Permanent, wantRet: yccall.RetOK},
		{name: "set unknown task", call: func(ctx context.Context, c *yccall.Client) error {
			return c.TaskSet(ctx, "nope", yccall.TaskStart)
		}, wantClass: vendors.Permanent, wantRet: yccall.RetOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			c := e.client(t, tt.cfg)
			if tt.prepare != nil {
				tt.prepare(e.fv)
			}
			call := tt.call
			if call == nil {
				call = func(ctx context.Context, c *yccall.Client) error {
					_, err := c.TaskCreate(ctx, createReq("13800000001", "13800000002"))
					return err
				}
			}
			err := call(context.Background(), c)
			if err == nil {
				t.Fatalf("no error; want %v", tt.wantClass)
			}
			if got := vendors.ClassOf(err); got != tt.wantClass {
				t.Errorf("ClassOf(%v) = %v; want %v", err, got, tt.wantClass)
			}
			var ae *yccall.APIError
			if tt.wantRet != 0 && (!errors.As(err, &ae) || ae.Ret != tt.wantRet) {
				t.Errorf("error = %v; want ret %d", err, tt.wantRet)
			}
			if tt.wantClass == vendors.Throttled && vendors.RetryAfter(err) != 4*time.Second {
				t.Errorf("RetryAfter = %v; want 4s", vendors.RetryAfter(err))
			}
			for _, secret := range []string{testKey, testStatic, "13800000001", "13800000002"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains %q", err, secret)
				}
			}
			if n := len(e.fv.Ledger(fakevendor.Yccall).Numbers); n > 1 {
				t.Errorf("ledger holds %d numbers; want at most the one created before the failure", n)
			}
		})
	}
}

// script answers with the scripted replies in turn and keeps each form.
type script struct {
	mu      sync.Mutex
	replies []string
	forms   []url.Values
	status  int
	header  http.Header
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forms = append(s.forms, r.PostForm)
	rp := s.replies[0]
	if len(s.replies) > 1 {
		s.replies = s.replies[1:]
	}
	for k, v := range s.header {
		w.Header()[k] = v
	}
	if s.status != 0 {
		w.WriteHeader(s.status)
	}
	io.WriteString(w, rp)
}

func scripted(t *testing.T, s *script, cfg yccall.Config) *yccall.Client {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL
	if cfg.AppID == "" && cfg.Token == "" {
		cfg.Token = testStatic
	}
	c, err := yccall.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func ret(code int, msg string) string {
	return fmt.Sprintf(`{"ret":%d,"data":{},"msg":%q}`, code, msg)
}

func failure(code int, msg string) string {
	return fmt.Sprintf(`{"ret":200,"data":{"status":1,"desc":"failed","errors":{"code":%d,"codemsg":%q}},"msg":""}`, code, msg)
}

const createdOK = `{"ret":200,"data":{"status":0,"desc":"created successfully","result":{"taskid":"20200212163504393460","invaliddata":[]},"reqtime":1581496504,"rsptime":1581496504},"msg":""}`

func TestCodeClasses(t *testing.T) {
	type op func(context.Context, *yccall.Client) error
	create := func(ctx context.Context, c *yccall.Client) error {
		_, err := c.TaskCreate(ctx, createReq("13800000001"))
		return err
	}
	add := func(ctx context.Context, c *yccall.Client) error {
		_, err := c.TaskAdd(ctx, "T1", phones("13800000001"))
		return err
	}
	set := func(ctx context.Context, c *yccall.Client) error { return c.TaskSet(ctx, "T1", yccall.TaskPause) }
	login := func(ctx context.Context, c *yccall.Client) error { _, err := c.Login(ctx); return err }
	loginCfg := yccall.Config{AppID: testAppID, AccessKey: testKey}
	tests := []struct {
		name   string
		body   string
		status int
		header http.Header
		op     op
		cfg    yccall.Config
		want   vendors.Class
	}{
		{name: "400 create", body: ret(400, "bad parameters"), op: create, want: vendors.InvalidPart},
		{name: "400 add", body: ret(400, "bad parameters"), op: add, want: vendors.InvalidPart},
		{name: "400 set", body: ret(400, "bad parameters"), op: set, want: vendors.Permanent},
		{name: "400 login", body: ret(400, "bad parameters"), op: login, cfg: loginCfg, want: vendors.Permanent},
		{name: "400 login inside create", body: ret(400, "bad parameters"), op: create, cfg: loginCfg, want: vendors.Permanent},
		{name: "500", body: ret(500, "server error"), op: create, want: vendors.Transient},
		{name: "500 login inside create", body: ret(500, "server error"), op: create, cfg: loginCfg, want: vendors.Transient},
		{name: "600 static", body: ret(600, "token invalid"), op: create, want: vendors.AuthRefused},
		{name: "601", body: ret(601, "appid not authorised"), op: create, want: vendors.Permanent},
		{name: "602", body: ret(602, "authorisation expired"), op: create, want: vendors.Permanent},
		{name: "603", body: ret(603, "module not licensed"), op: create, want: vendors.Permanent},
		{name: "604", body: ret(604, "ip not authorised"), op: create, want: vendors.Permanent},
		{name: "unknown ret", body: ret(700, "?"), op: create, want: vendors.Permanent},
		{name: "quoted ret", body: `{"ret":"500","msg":"x"}`, op: create, want: vendors.Transient},
		{name: "status 1 code 1001", body: failure(1001, "server connection failed"), op: create, want: vendors.Transient},
		{name: "status 1 code 1003", body: failure(1003, "authorisation failed"), op: create, want: vendors.AuthRefused},
		{name: "status 1 code 1002", body: failure(1002, "task does not exist"), op: add, want: vendors.Permanent},
		{name: "status 1 quoted code", body: `{"ret":200,"data":{"status":"1","errors":{"code":"1001","codemsg":"x"}}}`, op: set, want: vendors.Transient},
		{name: "http 429", body: "slow", status: 429, header: http.Header{"Retry-After": {"2"}}, op: create, want: vendors.Throttled},
		{name: "http 503", body: "down", status: 503, op: create, want: vendors.Transient},
		{name: "http 502 with ret 400", body: ret(400, "x"), status: 502, op: create, want: vendors.InvalidPart},
		{name: "http 403", body: "no", status: 403, op: create, want: vendors.Permanent},
		{name: "http 302", body: "", status: 302, header: http.Header{"Location": {"/x"}}, op: create, want: vendors.Ambiguous},
		{name: "not json", body: "<html>", op: create, want: vendors.Ambiguous},
		{name: "no ret", body: `{"data":{"status":0}}`, op: create, want: vendors.Ambiguous},
		{name: "ret 200 no data", body: `{"ret":200}`, op: create, want: vendors.Ambiguous},
		{name: "ret 200 no taskid", body: `{"ret":200,"data":{"status":0,"result":{"invaliddata":[]}}}`, op: create, want: vendors.Ambiguous},
		{name: "ret 200 bad invaliddata", body: `{"ret":200,"data":{"status":0,"result":{"taskid":"1","invaliddata":7}}}`, op: create, want: vendors.Ambiguous},
		{name: "login no token", body: `{"ret":200,"data":{"status":0,"result":{}}}`, op: login, cfg: loginCfg, want: vendors.Ambiguous},
		{name: "login no token inside create", body: `{"ret":200,"data":{"status":0,"result":{}}}`, op: create, cfg: loginCfg, want: vendors.Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{replies: []string{tt.body}, status: tt.status, header: tt.header}
			c := scripted(t, s, tt.cfg)
			err := tt.op(context.Background(), c)
			if got := vendors.ClassOf(err); err == nil || got != tt.want {
				t.Fatalf("error = %v (class %v); want class %v", err, got, tt.want)
			}
			if tt.want == vendors.Throttled && vendors.RetryAfter(err) != 2*time.Second {
				t.Errorf("RetryAfter = %v; want 2s", vendors.RetryAfter(err))
			}
		})
	}
}

func TestInvalidShapes(t *testing.T) {
	tests := []struct {
		name, invalid string
		want          []yccall.Invalid
	}{
		{"empty", `[]`, nil},
		{"null", `null`, nil},
		{"strings", `["13800000001","13800000002"]`, []yccall.Invalid{
			{"13800000001", "refused by vendor (no reason given)"}, {"13800000002", "refused by vendor (no reason given)"}}},
		{"numbers", `[13800000001]`, []yccall.Invalid{{"13800000001", "refused by vendor (no reason given)"}}},
		{"objects", `[{"phone":"13800000001","reason":"blacklisted"},{"Mobile":13800000002,"msg":"format"}]`, []yccall.Invalid{
			{"13800000001", "blacklisted"}, {"13800000002", "format"}}},
		{"echoed records", `[{"phone":"13800000001","time":1,"userid":"","customuuid":"u"}]`, []yccall.Invalid{
			{"13800000001", "refused by vendor (no reason given)"}}},
		{"map", `{"13800000002":"dup","13800000001":{"desc":"format"}}`, []yccall.Invalid{
			{"13800000001", "format"}, {"13800000002", "dup"}}},
		{"unreadable element", `[true]`, []yccall.Invalid{{"", "refused by vendor (no reason given)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"ret":200,"data":{"status":0,"result":{"taskid":20200212163504393460,"invaliddata":` + tt.invalid + `}}}`
			c := scripted(t, &script{replies: []string{body}}, yccall.Config{})
			resp, err := c.TaskCreate(context.Background(), createReq("13800000001", "13800000002"))
			if err != nil {
				t.Fatalf("TaskCreate: %v", err)
			}
			if resp.TaskID != "20200212163504393460" {
				t.Errorf("TaskID = %q; want the number as text", resp.TaskID)
			}
			if diff := cmp.Diff(tt.want, resp.Invalid, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Invalid (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTaskAddSuccessCount(t *testing.T) {
	tests := []struct {
		body string
		want int
	}{
		{`{"ret":200,"data":{"status":0,"result":{"success":2,"invaliddata":[]}}}`, 2},
		{`{"ret":200,"data":{"status":0,"result":{"success":"1","invaliddata":["13800000001"]}}}`, 1},
		{`{"ret":200,"data":{"status":0,"result":{"invaliddata":["13800000001"]}}}`, 1},
	}
	for _, tt := range tests {
		c := scripted(t, &script{replies: []string{tt.body}}, yccall.Config{})
		resp, err := c.TaskAdd(context.Background(), "T1", phones("13800000001", "13800000002"))
		if err != nil || resp.Success != tt.want {
			t.Errorf("TaskAdd over %s = %+v, %v; want success %d", tt.body, resp, err, tt.want)
		}
	}
}

// TestRetrySameIDs: a second call after a transient failure carries the same ids,
// and the repeat after ret 600 carries the same telphone with a fresh token.
func TestRetrySameIDs(t *testing.T) {
	t.Run("after 500", func(t *testing.T) {
		s := &script{replies: []string{ret(500, "server error"), createdOK}}
		c := scripted(t, s, yccall.Config{})
		req := createReq("13800000001", "13800000002")
		req.Phones[0].Time = time.Time{} // defaulted from the clock: may differ, ids may not
		if _, err := c.TaskCreate(context.Background(), req); vendors.ClassOf(err) != vendors.Transient {
			t.Fatalf("first TaskCreate = %v; want transient", err)
		}
		if _, err := c.TaskCreate(context.Background(), req); err != nil {
			t.Fatalf("second TaskCreate: %v", err)
		}
		if a, b := uuids(t, s.forms[0]), uuids(t, s.forms[1]); !cmp.Equal(a, b) || len(a) != 2 {
			t.Errorf("customuuids %v then %v; want the same two", a, b)
		}
	})
	t.Run("600 twice", func(t *testing.T) {
		login := `{"ret":200,"data":{"status":0,"result":{"token":"tok"}},"msg":""}`
		s := &script{replies: []string{login, ret(600, "token invalid"), login, ret(600, "token invalid"), login, createdOK}}
		c := scripted(t, s, yccall.Config{AppID: testAppID, AccessKey: testKey})
		_, err := c.TaskAdd(context.Background(), "T1", phones("13800000001"))
		var ae *yccall.APIError
		if !errors.As(err, &ae) || ae.Ret != yccall.RetTokenInvalid || vendors.ClassOf(err) != vendors.AuthRefused {
			t.Errorf("TaskAdd = %v; want auth ret 600 after one fresh login", err)
		}
		if len(s.forms) != 4 {
			t.Errorf("server saw %d calls; want 4 (login, add, login, add)", len(s.forms))
		}
		// The persisting refusal dropped the token: the next attempt logs in first.
		if _, err := c.TaskCreate(context.Background(), createReq("13800000001")); err != nil {
			t.Fatalf("TaskCreate after the refusal: %v", err)
		}
		if len(s.forms) != 6 || s.forms[4].Get("service") != "App.Sip_Auth.Login" {
			t.Errorf("server saw %d calls; want a fresh login before the next call", len(s.forms))
		}
	})
	t.Run("after 600", func(t *testing.T) {
		login := func(tok string) string {
			return `{"ret":200,"data":{"status":0,"result":{"token":"` + tok + `"}},"msg":""}`
		}
		s := &script{replies: []string{login("tok-1"), ret(600, "token invalid"), login("tok-2"), createdOK}}
		c := scripted(t, s, yccall.Config{AppID: testAppID, AccessKey: testKey})
		if _, err := c.TaskCreate(context.Background(), createReq("13800000001", "13800000002")); err != nil {
			t.Fatalf("TaskCreate: %v", err)
		}
		if len(s.forms) != 4 {
			t.Fatalf("server saw %d calls; want login, create, login, create", len(s.forms))
		}
		first, second := s.forms[1], s.forms[3]
		if first.Get("token") != "tok-1" || second.Get("token") != "tok-2" {
			t.Errorf("tokens %q then %q; want tok-1 then tok-2", first.Get("token"), second.Get("token"))
		}
		if first.Get("telphone") != second.Get("telphone") {
			t.Errorf("telphone changed on the repeat:\n%s\n%s", first.Get("telphone"), second.Get("telphone"))
		}
		for _, f := range []url.Values{s.forms[0], s.forms[2]} {
			if f.Get("appid") != testAppID || f.Get("accesskey") != testKey || f.Get("service") != "App.Sip_Auth.Login" {
				t.Errorf("login form = %v; want service, appid and accesskey", f)
			}
		}
	})
}

func uuids(t *testing.T, f url.Values) []string {
	t.Helper()
	var recs []struct {
		CustomUUID string `json:"customuuid"`
	}
	if err := json.Unmarshal([]byte(f.Get("telphone")), &recs); err != nil {
		t.Fatalf("telphone: %v", err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.CustomUUID)
	}
	return out
}

func TestClientRefusesBadRequests(t *testing.T) {
	many := make([]yccall.Phone, yccall.MaxPhonesPerCall+1)
	for i := range many {
		many[i] = yccall.Phone{Number: fmt.Sprintf("138%08d", i)}
	}
	tests := []struct {
		name      string
		call      func(context.Context, *yccall.Client) error
		wantClass vendors.Class
	}{
		{"nil", func(ctx context.Context, c *yccall.Client) error { _, err := c.TaskCreate(ctx, nil); return err }, vendors.Permanent},
		{"no phones", func(ctx context.Context, c *yccall.Client) error {
			_, err := c.TaskCreate(ctx, createReq())
			return err
		}, vendors.Permanent},
		{"too many", func(ctx context.Context, c *yccall.Client) error {
			r := createReq()
			r.Phones = many
			_, err := c.TaskCreate(ctx, r)
			return err
		}, vendors.InvalidPart},
		{"too many on add", func(ctx context.Context, c *yccall.Client) error {
			_, err := c.TaskAdd(ctx, "T1", many)
			return err
		}, vendors.InvalidPart},
		{"assign type", func(ctx context.Context, c *yccall.Client) error {
			r := createReq("13800000001")
			r.AssignType = 4
			_, err := c.TaskCreate(ctx, r)
			return err
		}, vendors.Permanent},
		{"no agent", func(ctx context.Context, c *yccall.Client) error {
			r := createReq("13800000001")
			r.AssignAgent = ""
			_, err := c.TaskCreate(ctx, r)
			return err
		}, vendors.Permanent},
		{"task scale", func(ctx context.Context, c *yccall.Client) error {
			r := createReq("13800000001")
			r.TaskScale = "2:1"
			_, err := c.TaskCreate(ctx, r)
			return err
		}, vendors.Permanent},
		{"add without task", func(ctx context.Context, c *yccall.Client) error {
			_, err := c.TaskAdd(ctx, "", phones("13800000001"))
			return err
		}, vendors.Permanent},
		{"set status 4", func(ctx context.Context, c *yccall.Client) error { return c.TaskSet(ctx, "T1", 4) }, vendors.Permanent},
	}
	s := &script{replies: []string{createdOK}}
	c := scripted(t, s, yccall.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(context.Background(), c)
			var re *yccall.RequestError
			if !errors.As(err, &re) || vendors.ClassOf(err) != tt.wantClass {
				t.Errorf("error = %v; want a *RequestError of class %v", err, tt.wantClass)
			}
		})
	}
	if len(s.forms) != 0 {
		t.Errorf("server saw %d calls; want none", len(s.forms))
	}
}

func TestLoginWaitsForContext(t *testing.T) {
	// A login that never answers holds the login slot; a second caller gives up
	// with its own context instead of waiting forever.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })
	c, err := yccall.NewClient(yccall.Config{BaseURL: srv.URL, AppID: testAppID, AccessKey: testKey, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	started := make(chan struct{})
	go func() {
		close(started)
		_, _ = c.Login(ctx1)
	}()
	<-started
	time.Sleep(50 * time.Millisecond)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_, err = c.TaskCreate(ctx2, createReq("13800000001"))
	if !errors.Is(err, context.DeadlineExceeded) || vendors.ClassOf(err) != vendors.Transient {
		t.Errorf("TaskCreate while another login hangs = %v; want a transient deadline error", err)
	}
	cancel1()
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		name string
		cfg  yccall.Config
		ok   bool
	}{
		{"pair", yccall.Config{BaseURL: "http://127.0.0.1:8080", AppID: "a", AccessKey: "k"}, true},
		{"token", yccall.Config{BaseURL: "https://pbx.example/", Token: "t"}, true},
		{"no base", yccall.Config{AppID: "a", AccessKey: "k"}, false},
		{"bad base", yccall.Config{BaseURL: "pbx.example", Token: "t"}, false},
		{"both", yccall.Config{BaseURL: "http://x", AppID: "a", AccessKey: "k", Token: "t"}, false},
		{"half", yccall.Config{BaseURL: "http://x", AppID: "a"}, false},
		{"half key", yccall.Config{BaseURL: "http://x", AccessKey: "k", Token: "t"}, false},
		{"none", yccall.Config{BaseURL: "http://x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := yccall.NewClient(tt.cfg); (err == nil) != tt.ok {
				t.Errorf("NewClient error = %v; want ok=%v", err, tt.ok)
			}
		})
	}
	s := fmt.Sprint(yccall.Config{BaseURL: "http://x", AppID: "a", AccessKey: testKey, Token: testStatic})
	if strings.Contains(s, testKey) || strings.Contains(s, testStatic) {
		t.Errorf("Config prints its credentials: %s", s)
	}
}

func TestConfigFromEnv(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("file-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		env            map[string]string
		want           yccall.Config
		wantConfigured bool
		wantErr        string
	}{
		{name: "none", env: map[string]string{}},
		{name: "pair", env: map[string]string{"YCCALL_BASE_URL": "http://pbx", "YCCALL_APPID": "a", "YCCALL_ACCESSKEY": "k"},
			want: yccall.Config{BaseURL: "http://pbx", AppID: "a", AccessKey: "k"}, wantConfigured: true},
		{name: "pair from file", env: map[string]string{"YCCALL_BASE_URL": "http://pbx", "YCCALL_APPID": "a", "YCCALL_ACCESSKEY_FILE": keyFile},
			want: yccall.Config{BaseURL: "http://pbx", AppID: "a", AccessKey: "file-key"}, wantConfigured: true},
		{name: "token", env: map[string]string{"YCCALL_BASE_URL": "http://pbx", "YCCALL_TOKEN": "t"},
			want: yccall.Config{BaseURL: "http://pbx", Token: "t"}, wantConfigured: true},
		{name: "no base", env: map[string]string{"YCCALL_TOKEN": "t"}, wantConfigured: true, wantErr: "YCCALL_BASE_URL"},
		{name: "base only", env: map[string]string{"YCCALL_BASE_URL": "http://pbx"}, wantConfigured: true, wantErr: "YCCALL_TOKEN"},
		{name: "appid only", env: map[string]string{"YCCALL_BASE_URL": "http://pbx", "YCCALL_APPID": "a"}, wantConfigured: true, wantErr: "YCCALL_ACCESSKEY"},
		{name: "key only", env: map[string]string{"YCCALL_BASE_URL": "http://pbx", "YCCALL_ACCESSKEY": "k"}, wantConfigured: true, wantErr: "YCCALL_APPID"},
		{name: "both forms", env: map[string]string{"YCCALL_BASE_URL": "http://pbx", "YCCALL_APPID": "a", "YCCALL_ACCESSKEY": "k", "YCCALL_TOKEN": "t"},
			wantConfigured: true, wantErr: "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, configured, err := yccall.ConfigFromEnv(func(k string) string { return tt.env[k] })
			if configured != tt.wantConfigured {
				t.Errorf("configured = %v; want %v", configured, tt.wantConfigured)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v; want one mentioning %s", err, tt.wantErr)
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

// TestAuthRefusalsAgainstFake: one spurious 600 is absorbed by the client's one
// fresh login; two in a row come back as AuthRefused with the token dropped, and
// the next attempt logs in again and succeeds.
func TestAuthRefusalsAgainstFake(t *testing.T) {
	tests := []struct {
		name      string
		refusals  int
		wantClass vendors.Class // of the first call; 0 is success
		logins    int           // after both calls
	}{
		{"once", 1, 0, 2},
		{"persisting", 2, vendors.AuthRefused, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			c := e.client(t, nil)
			ctx := context.Background()
			e.fv.RefuseAuth(tt.refusals)
			_, err := c.TaskCreate(ctx, createReq("13800000001"))
			if got := vendors.ClassOf(err); got != tt.wantClass {
				t.Fatalf("first TaskCreate = %v (class %v); want class %v", err, got, tt.wantClass)
			}
			if _, err := c.TaskCreate(ctx, createReq("13800000002")); err != nil {
				t.Fatalf("second TaskCreate: %v", err)
			}
			if n := e.rec.count("App.Sip_Auth.Login"); n != tt.logins {
				t.Errorf("logins = %d; want %d", n, tt.logins)
			}
			wantNumbers := 2
			if tt.wantClass != 0 {
				wantNumbers = 1
			}
			if l := e.fv.Ledger(fakevendor.Yccall); len(l.Numbers) != wantNumbers {
				t.Errorf("ledger = %+v; want %d numbers", l, wantNumbers)
			}
		})
	}
}

// TestAuthFailedCodeDropsToken: ret 200 with errors.code 1003 is AuthRefused and
// the next call logs in afresh instead of reusing the refused token.
func TestAuthFailedCodeDropsToken(t *testing.T) {
	login := func(tok string) string {
		return `{"ret":200,"data":{"status":0,"result":{"token":"` + tok + `"}},"msg":""}`
	}
	s := &script{replies: []string{login("tok-1"), failure(1003, "authorisation failed"), login("tok-2"), createdOK}}
	c := scripted(t, s, yccall.Config{AppID: testAppID, AccessKey: testKey})
	_, err := c.TaskCreate(context.Background(), createReq("13800000001"))
	if vendors.ClassOf(err) != vendors.AuthRefused {
		t.Fatalf("TaskCreate = %v; want auth", err)
	}
	if _, err := c.TaskCreate(context.Background(), createReq("13800000001")); err != nil {
		t.Fatalf("second TaskCreate: %v", err)
	}
	if len(s.forms) != 4 || s.forms[3].Get("token") != "tok-2" {
		t.Errorf("server saw %d calls; want login, create, login, create with tok-2", len(s.forms))
	}
}
