package fakevendor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

var ycTestNow = time.Unix(1700000000, 0)

type ycTestEnv struct {
	s     *Server
	clock *time.Time
}

func ycTestServer(t *testing.T, cfg YccallConfig) *ycTestEnv {
	t.Helper()
	if cfg.AppID == "" {
		cfg.AppID, cfg.AccessKey = "app", "key"
	}
	clock := ycTestNow
	e := &ycTestEnv{clock: &clock}
	e.s = New(Config{Yccall: cfg, Seed: 1, Now: func() time.Time { return *e.clock }})
	return e
}

// ycAnswer is the vendor's envelope, decoded loosely.
type ycAnswer struct {
	Ret  int    `json:"ret"`
	Msg  string `json:"msg"`
	Data struct {
		Status int `json:"status"`
		Result struct {
			Token   string      `json:"token"`
			TaskID  string      `json:"taskid"`
			Success int         `json:"success"`
			Invalid []ycInvalid `json:"invaliddata"`
		} `json:"result"`
		Errors struct {
			Code int `json:"code"`
		} `json:"errors"`
	} `json:"data"`
}

func (e *ycTestEnv) post(t *testing.T, path string, form url.Values) ycAnswer {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	e.s.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("POST %s: http status %d; want 200", path, w.Code)
	}
	var a ycAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer %s: %v", w.Body, err)
	}
	return a
}

func (e *ycTestEnv) call(t *testing.T, form url.Values) ycAnswer { return e.post(t, "/yccall/", form) }

func (e *ycTestEnv) login(t *testing.T) string {
	t.Helper()
	a := e.call(t, url.Values{"service": {"App.Sip_Auth.Login"}, "appid": {"app"}, "accesskey": {"key"}})
	if a.Ret != ycOK || a.Data.Result.Token == "" {
		t.Fatalf("login = %+v; want a token", a)
	}
	return a.Data.Result.Token
}

func ycTel(phones ...string) string {
	var recs []map[string]any
	for _, p := range phones {
		recs = append(recs, map[string]any{"phone": p, "time": 1700000000, "userid": "", "memberid": "", "chengshudu": "", "customuuid": "u-" + p})
	}
	b, _ := json.Marshal(recs)
	return string(b)
}

func ycCreateForm(tok string, phones ...string) url.Values {
	return url.Values{"service": {"App.Sip_Yccall.TaskCreat"}, "token": {tok}, "assigntype": {"2"}, "assignagent": {"q1"},
		"telphone": {ycTel(phones...)}, "taskscale": {"1:2"}, "disnumber": {""}, "taskname": {"t"}}
}

func TestYccallLogin(t *testing.T) {
	tests := []struct {
		name string
		form url.Values
		want int
	}{
		{"ok", url.Values{"appid": {"app"}, "accesskey": {"key"}}, ycOK},
		{"wrong appid", url.Values{"appid": {"other"}, "accesskey": {"key"}}, ycAppUnauthorised},
		{"wrong key", url.Values{"appid": {"app"}, "accesskey": {"other"}}, ycAppUnauthorised},
		{"missing key", url.Values{"appid": {"app"}}, ycBadParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ycTestServer(t, YccallConfig{})
			tt.form.Set("service", "App.Sip_Auth.Login")
			a := e.call(t, tt.form)
			if a.Ret != tt.want || (tt.want == ycOK) != (a.Data.Result.Token != "") {
				t.Errorf("login = %+v; want ret %d and a token only on success", a, tt.want)
			}
		})
	}
}

func TestYccallTokens(t *testing.T) {
	e := ycTestServer(t, YccallConfig{AppID: "app", AccessKey: "key", Token: "static"})
	tok := e.login(t)
	if a := e.call(t, ycCreateForm(tok, "13800000001")); a.Ret != ycOK {
		t.Fatalf("create with a fresh token: %+v", a)
	}
	if a := e.call(t, ycCreateForm("static", "13800000002")); a.Ret != ycOK {
		t.Fatalf("create with the static token: %+v", a)
	}
	for _, bad := range []string{"", "forged"} {
		if a := e.call(t, ycCreateForm(bad, "13800000003")); a.Ret != ycTokenInvalid {
			t.Errorf("create with token %q: ret %d; want 600", bad, a.Ret)
		}
	}
	*e.clock = e.clock.Add(12*time.Hour + time.Second)
	if a := e.call(t, ycCreateForm(tok, "13800000003")); a.Ret != ycTokenInvalid {
		t.Errorf("create with a 12 h old token: ret %d; want 600", a.Ret)
	}
	tok = e.login(t)
	e.s.ExpireYccallTokens()
	for _, old := range []string{tok, "static"} {
		if a := e.call(t, ycCreateForm(old, "13800000003")); a.Ret != ycTokenInvalid {
			t.Errorf("create with an expired token: ret %d; want 600", a.Ret)
		}
	}
	if a := e.call(t, ycCreateForm(e.login(t), "13800000003")); a.Ret != ycOK {
		t.Errorf("create after a new login: %+v", a)
	}
	e.s.Reset()
	if a := e.call(t, ycCreateForm("static", "13800000004")); a.Ret != ycOK {
		t.Errorf("static token after Reset: ret %d; want 200", a.Ret)
	}
	if l := e.s.Ledger(Yccall); len(l.Numbers) != 1 || l.Tasks != 1 {
		t.Errorf("ledger after Reset = %+v; want the one later number", l)
	}
}

func TestYccallTaskCreate(t *testing.T) {
	tests := []struct {
		name        string
		edit        func(url.Values)
		want        int
		wantInvalid []ycInvalid
		wantNumbers int
	}{
		{name: "ok", edit: func(url.Values) {}, want: ycOK, wantNumbers: 2},
		{name: "root without slash", edit: func(url.Values) {}, want: ycOK, wantNumbers: 2},
		{name: "disnumbers", edit: func(f url.Values) { f.Set("disnumber", "02100000001,02100000002") }, want: ycOK, wantNumbers: 2},
		{name: "bad disnumber", edit: func(f url.Values) { f.Set("disnumber", "021-1") }, want: ycBadParams},
		{name: "no disnumber", edit: func(f url.Values) { f.Del("disnumber") }, want: ycBadParams},
		{name: "assigntype 0", edit: func(f url.Values) { f.Set("assigntype", "0") }, want: ycBadParams},
		{name: "assigntype 4", edit: func(f url.Values) { f.Set("assigntype", "4") }, want: ycBadParams},
		{name: "no agent", edit: func(f url.Values) { f.Del("assignagent") }, want: ycBadParams},
		{name: "taskscale 2:1", edit: func(f url.Values) { f.Set("taskscale", "2:1") }, want: ycBadParams},
		{name: "taskscale 1:0", edit: func(f url.Values) { f.Set("taskscale", "1:0") }, want: ycBadParams},
		{name: "telphone not json", edit: func(f url.Values) { f.Set("telphone", "13800000001,13800000002") }, want: ycBadParams},
		{name: "telphone empty list", edit: func(f url.Values) { f.Set("telphone", "[]") }, want: ycBadParams},
		{name: "numeric phone", edit: func(f url.Values) {
			f.Set("telphone", `[{"phone":13800000001,"time":1700000000,"customuuid":""}]`)
		}, want: ycBadParams},
		{name: "no time", edit: func(f url.Values) { f.Set("telphone", `[{"phone":"13800000001"}]`) }, want: ycBadParams},
		{name: "unknown record field", edit: func(f url.Values) {
			f.Set("telphone", `[{"phone":"13800000001","time":1,"Customuuid":"x"}]`)
		}, want: ycBadParams},
		{name: "malformed phone", edit: func(f url.Values) { f.Set("telphone", ycTel("13800000001", "+8613800000002", "")) },
			want: ycOK, wantNumbers: 1, wantInvalid: []ycInvalid{
				{Phone: "+8613800000002", Reason: "invalid phone format"}, {Phone: "", Reason: "invalid phone format"}}},
		{name: "unknown service", edit: func(f url.Values) { f.Set("service", "App.Sip_Yccall.TaskCreate") }, want: ycBadParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ycTestServer(t, YccallConfig{})
			f := ycCreateForm(e.login(t), "13800000001", "13800000002")
			tt.edit(f)
			path := "/yccall/"
			if tt.name == "root without slash" {
				path = "/yccall"
			}
			a := e.post(t, path, f)
			if a.Ret != tt.want {
				t.Fatalf("ret = %d (%s); want %d", a.Ret, a.Msg, tt.want)
			}
			if tt.want == ycOK {
				if a.Data.Status != 0 || a.Data.Result.TaskID == "" {
					t.Errorf("answer %+v; want status 0 and a task id", a)
				}
				if fmt.Sprint(a.Data.Result.Invalid) != fmt.Sprint(tt.wantInvalid) && !(len(tt.wantInvalid) == 0 && len(a.Data.Result.Invalid) == 0) {
					t.Errorf("invaliddata = %+v; want %+v", a.Data.Result.Invalid, tt.wantInvalid)
				}
			}
			l := e.s.Ledger(Yccall)
			wantTasks := 0
			if tt.want == ycOK {
				wantTasks = 1
			}
			if len(l.Numbers) != tt.wantNumbers || l.Tasks != wantTasks {
				t.Errorf("ledger = %+v; want %d numbers, %d task", l, tt.wantNumbers, wantTasks)
			}
		})
	}
}

func TestYccallLimitsPoisonRefusals(t *testing.T) {
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("138%08d", i)
		}
		return out
	}
	t.Run("10000", func(t *testing.T) {
		e := ycTestServer(t, YccallConfig{})
		tok := e.login(t)
		if a := e.call(t, ycCreateForm(tok, many(10001)...)); a.Ret != ycBadParams {
			t.Errorf("10,001 numbers: ret %d; want 400", a.Ret)
		}
		a := e.call(t, ycCreateForm(tok, many(10000)...))
		if a.Ret != ycOK {
			t.Fatalf("10,000 numbers: ret %d; want 200", a.Ret)
		}
		// TaskAdd takes another 10,000: the limit is per call.
		add := url.Values{"service": {"App.Sip_Yccall.TaskAdd"}, "token": {tok}, "taskid": {a.Data.Result.TaskID},
			"telphone": {ycTel(many(10000)...)}}
		if b := e.call(t, add); b.Ret != ycOK || b.Data.Result.Success != 10000 {
			t.Errorf("TaskAdd 10,000 = ret %d success %d; want 200 and 10000", b.Ret, b.Data.Result.Success)
		}
		if l := e.s.Ledger(Yccall); len(l.Numbers) != 10000 || l.Numbers["13800000000"] != 2 || l.Tasks != 1 {
			t.Errorf("ledger: %d numbers, first seen %d times, %d tasks; want 10000, 2, 1", len(l.Numbers), l.Numbers["13800000000"], l.Tasks)
		}
	})
	t.Run("poison", func(t *testing.T) {
		e := ycTestServer(t, YccallConfig{})
		e.s.Poison("13800000002")
		if a := e.call(t, ycCreateForm(e.login(t), "13800000001", "13800000002")); a.Ret != ycBadParams {
			t.Errorf("poisoned call: ret %d; want 400", a.Ret)
		}
		if l := e.s.Ledger(Yccall); len(l.Numbers) != 0 || l.Tasks != 0 {
			t.Errorf("ledger = %+v after a poisoned call; want empty", l)
		}
	})
	t.Run("refusal", func(t *testing.T) {
		e := ycTestServer(t, YccallConfig{})
		e.s.Refuse("blacklisted", "13800000002")
		a := e.call(t, ycCreateForm(e.login(t), "13800000001", "13800000002"))
		want := []ycInvalid{{Phone: "13800000002", Reason: "blacklisted"}}
		if a.Ret != ycOK || fmt.Sprint(a.Data.Result.Invalid) != fmt.Sprint(want) {
			t.Errorf("answer %+v; want ret 200 and invaliddata %v", a, want)
		}
		if l := e.s.Ledger(Yccall); len(l.Numbers) != 1 || l.Numbers["13800000001"] != 1 {
			t.Errorf("ledger = %+v; want only 13800000001", l)
		}
	})
	t.Run("system error", func(t *testing.T) {
		e := ycTestServer(t, YccallConfig{})
		tok := e.login(t)
		e.s.SetFaults(Faults{SystemError: 1})
		if a := e.call(t, ycCreateForm(tok, "13800000001")); a.Ret != ycServerError {
			t.Errorf("ret %d; want 500", a.Ret)
		}
		if a := e.call(t, url.Values{"service": {"App.Sip_Auth.Login"}, "appid": {"app"}, "accesskey": {"key"}}); a.Ret != ycServerError {
			t.Errorf("login: ret %d; want 500", a.Ret)
		}
		if l := e.s.Ledger(Yccall); len(l.Numbers) != 0 || l.Tasks != 0 {
			t.Errorf("ledger = %+v after system errors; want empty", l)
		}
	})
}

func TestYccallTaskAddAndSet(t *testing.T) {
	e := ycTestServer(t, YccallConfig{})
	tok := e.login(t)
	id := e.call(t, ycCreateForm(tok, "13800000001")).Data.Result.TaskID
	add := func(task string, phones ...string) ycAnswer {
		return e.call(t, url.Values{"service": {"App.Sip_Yccall.TaskAdd"}, "token": {tok}, "taskid": {task}, "telphone": {ycTel(phones...)}})
	}
	set := func(task, status string) ycAnswer {
		return e.call(t, url.Values{"service": {"App.Sip_Yccall.TaskSet"}, "token": {tok}, "taskid": {task}, "taskstatus": {status}})
	}
	if a := add(id, "13800000002", "1380"); a.Ret != ycOK || a.Data.Result.Success != 1 || len(a.Data.Result.Invalid) != 1 {
		t.Errorf("TaskAdd = %+v; want success 1 and one invalid", a)
	}
	if a := add("nope", "13800000003"); a.Ret != ycOK || a.Data.Status != 1 || a.Data.Errors.Code != ycNoSuchTask {
		t.Errorf("TaskAdd to an unknown task = %+v; want status 1 code %d", a, ycNoSuchTask)
	}
	if a := add("", "13800000003"); a.Ret != ycBadParams {
		t.Errorf("TaskAdd without taskid: ret %d; want 400", a.Ret)
	}
	for _, st := range []string{"1", "2", "3"} {
		if a := set(id, st); a.Ret != ycOK || a.Data.Status != 0 {
			t.Errorf("TaskSet %s = %+v; want success", st, a)
		}
	}
	for _, st := range []string{"0", "4", "start", ""} {
		if a := set(id, st); a.Ret != ycBadParams {
			t.Errorf("TaskSet %q: ret %d; want 400", st, a.Ret)
		}
	}
	if a := set("nope", "1"); a.Data.Status != 1 || a.Data.Errors.Code != ycNoSuchTask {
		t.Errorf("TaskSet unknown task = %+v; want status 1 code %d", a, ycNoSuchTask)
	}
	if a := e.call(t, url.Values{"service": {"App.Sip_Yccall.TaskSet"}, "taskid": {id}, "taskstatus": {"1"}}); a.Ret != ycTokenInvalid {
		t.Errorf("TaskSet without token: ret %d; want 600", a.Ret)
	}
	if l := e.s.Ledger(Yccall); len(l.Numbers) != 2 || l.Tasks != 1 {
		t.Errorf("ledger = %+v; want 2 numbers in 1 task", l)
	}
}

func TestYccallConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    YccallConfig
		wantErr bool
	}{
		{name: "none", env: map[string]string{}},
		{name: "pair", env: map[string]string{"YCCALL_APPID": "a", "YCCALL_ACCESSKEY": "k"}, want: YccallConfig{AppID: "a", AccessKey: "k"}},
		{name: "token", env: map[string]string{"YCCALL_TOKEN": "t"}, want: YccallConfig{Token: "t"}},
		{name: "both", env: map[string]string{"YCCALL_APPID": "a", "YCCALL_ACCESSKEY": "k", "YCCALL_TOKEN": "t"},
			want: YccallConfig{AppID: "a", AccessKey: "k", Token: "t"}},
		{name: "appid only", env: map[string]string{"YCCALL_APPID": "a"}, wantErr: true},
		{name: "key only", env: map[string]string{"YCCALL_ACCESSKEY": "k"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := yccallConfigFromEnv(func(k string) string { return tt.env[k] })
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("yccallConfigFromEnv = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
