package fakevendor

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialq/dialq/vendors/speech"
)

const speechTestApp = "99845aaaaebd4d61acccc9b776208f12"

var speechTestKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func speechSigner(t *testing.T, opts speech.SignOptions) *speech.RSASigner {
	t.Helper()
	key, err := speechTestKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := speech.NewRSASignerFromKey(key, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// speechExample is the create body from the vendor's page, as printed there.
const speechExample = `{
    "taskName": "自动外呼任务名称",
    "taskType": 1,
    "taskExecStartDate": "2020-09-27",
    "taskExecEndDate": "2020-09-27",
    "taskExecTimes": [{"taskExecTimeStartStr": "11:36:00", "taskExecTimeEndStr": "12:35:00"}],
    "taskDesc": "自动外呼描述",
    "skillSetId": "1462016331580064",
    "outboundNumberGroupId": "1070678044124225",
    "strategyDisplaySwitch":1,
    "sendNumberStrategy": 0,
    "abandonmentRate": 2,
    "multiplyPower": 2,
    "maxRingingDuration": 20,
    "acw": 10,
    "outboundPhoneGroups":[{"name":"本人","identify":"default","autoOutboundSwitch": 1,"autoOutboundInterval": 5,"autoOutboundTimes": 1}],
    "outBoundCustomers": [{"name": "客户名称","desc": "客户描述","externalCustomerId":"1","externalData":"",
        "phoneGroupVoList":[{"phoneGroupIdentify":"default","relations":[{"mobile":"13800000001","relation":"本人"}]}]}]
}`

type speechHarness struct {
	t      *testing.T
	s      *Server
	signer *speech.RSASigner
	now    time.Time
}

func newSpeechHarness(t *testing.T, cfg SpeechConfig) *speechHarness {
	t.Helper()
	h := &speechHarness{t: t, signer: speechSigner(t, speech.SignOptions{}), now: time.UnixMilli(1586314097995)}
	if cfg.AppID == "" && cfg.Verifier == nil {
		cfg = SpeechConfig{AppID: speechTestApp, Verifier: h.signer.Verifier()}
	}
	h.s = New(Config{Speech: cfg, Seed: 1, Now: func() time.Time { return h.now }})
	return h
}

// call posts body to path with valid headers unless hdr overrides them (an empty
// value removes the header) and returns the envelope.
func (h *speechHarness) call(path string, body []byte, hdr map[string]string) speechReply {
	h.t.Helper()
	ts := strconv.FormatInt(h.now.UnixMilli(), 10)
	if v, ok := hdr["timestamp"]; ok {
		ts = v
	}
	sig, err := h.signer.Sign(speechTestApp, ts, body)
	if err != nil {
		h.t.Fatal(err)
	}
	headers := map[string]string{"appId": speechTestApp, "timestamp": ts, "sign": sig, "Content-Type": "application/json"}
	for k, v := range hdr {
		headers[k] = v
	}
	req := httptest.NewRequest(http.MethodPost, "/speech"+path, strings.NewReader(string(body)))
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.s.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		h.t.Fatalf("POST %s: http %d %s", path, rec.Code, rec.Body)
	}
	var rep speechReply
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		h.t.Fatalf("POST %s: %v in %s", path, err, rec.Body)
	}
	return rep
}

func exampleBody(t *testing.T, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(speechExample), &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func speechCustomer(m map[string]any, i int) map[string]any {
	return m["outBoundCustomers"].([]any)[i].(map[string]any)
}

func speechRelations(m map[string]any, i int) []any {
	c := speechCustomer(m, i)
	return c["phoneGroupVoList"].([]any)[0].(map[string]any)["relations"].([]any)
}

func speechCustomersJSON(from, n int, identify string) []any {
	out := make([]any, n)
	for i := range out {
		m := fmt.Sprintf("138%08d", from+i)
		out[i] = map[string]any{
			"name": "c", "externalCustomerId": m,
			"phoneGroupVoList": []any{map[string]any{"phoneGroupIdentify": identify, "relations": []any{map[string]any{"mobile": m}}}},
		}
	}
	return out
}

func TestSpeechCreateChecks(t *testing.T) {
	tests := []struct {
		name string
		edit func(map[string]any)
		code string
		msg  string
	}{
		{"page example", nil, speech.CodeOK, ""},
		{"switch as bool", func(m map[string]any) { m["strategyDisplaySwitch"] = false }, speech.CodeOK, ""},
		{"switch as string", func(m map[string]any) { m["strategyDisplaySwitch"] = "1" }, speech.CodeParameterError, "strategyDisplaySwitch"},
		{"switch missing", func(m map[string]any) { delete(m, "strategyDisplaySwitch") }, speech.CodeParameterError, "strategyDisplaySwitch"},
		{"name 50", func(m map[string]any) { m["taskName"] = strings.Repeat("名", 50) }, speech.CodeOK, ""},
		{"name 51", func(m map[string]any) { m["taskName"] = strings.Repeat("名", 51) }, speech.CodeParameterError, "taskName"},
		{"name empty", func(m map[string]any) { m["taskName"] = "" }, speech.CodeParameterError, "taskName"},
		{"name missing", func(m map[string]any) { delete(m, "taskName") }, speech.CodeParameterError, "taskName"},
		{"task type 2", func(m map[string]any) { m["taskType"] = 2 }, speech.CodeOK, ""},
		{"task type 3", func(m map[string]any) { m["taskType"] = 3 }, speech.CodeParameterError, "taskType"},
		{"date slashes", func(m map[string]any) { m["taskExecStartDate"] = "2020/09/27" }, speech.CodeParameterError, "yyyy-MM-dd"},
		{"date unpadded", func(m map[string]any) { m["taskExecEndDate"] = "2020-9-27" }, speech.CodeParameterError, "yyyy-MM-dd"},
		{"date impossible", func(m map[string]any) { m["taskExecEndDate"] = "2020-02-30" }, speech.CodeParameterError, "yyyy-MM-dd"},
		{"time short", func(m map[string]any) {
			m["taskExecTimes"] = []any{map[string]any{"taskExecTimeStartStr": "11:36", "taskExecTimeEndStr": "12:35:00"}}
		}, speech.CodeParameterError, "HH:mm:ss"},
		{"time 24h", func(m map[string]any) {
			m["taskExecTimes"] = []any{map[string]any{"taskExecTimeStartStr": "11:36:00", "taskExecTimeEndStr": "24:00:00"}}
		}, speech.CodeParameterError, "HH:mm:ss"},
		{"no times", func(m map[string]any) { m["taskExecTimes"] = []any{} }, speech.CodeParameterError, "taskExecTimes"},
		{"no skill set", func(m map[string]any) { delete(m, "skillSetId") }, speech.CodeParameterError, "skillSetId"},
		{"no number group", func(m map[string]any) { m["outboundNumberGroupId"] = "" }, speech.CodeParameterError, "outboundNumberGroupId"},
		{"strategy 2", func(m map[string]any) { m["sendNumberStrategy"] = 2 }, speech.CodeParameterError, "sendNumberStrategy"},
		{"multiplier 0", func(m map[string]any) { m["multiplyPower"] = 0 }, speech.CodeParameterError, "multiplyPower"},
		{"predictive without rate", func(m map[string]any) { m["sendNumberStrategy"] = 1; delete(m, "abandonmentRate") }, speech.CodeParameterError, "abandonmentRate"},
		{"predictive rate 6", func(m map[string]any) { m["sendNumberStrategy"] = 1; m["abandonmentRate"] = 6 }, speech.CodeParameterError, "abandonmentRate"},
		{"predictive ok", func(m map[string]any) { m["sendNumberStrategy"] = 1; delete(m, "multiplyPower") }, speech.CodeOK, ""},
		{"ringing 19", func(m map[string]any) { m["maxRingingDuration"] = 19 }, speech.CodeParameterError, "maxRingingDuration"},
		{"ringing 50", func(m map[string]any) { m["maxRingingDuration"] = 50 }, speech.CodeOK, ""},
		{"ringing 51", func(m map[string]any) { m["maxRingingDuration"] = 51 }, speech.CodeParameterError, "maxRingingDuration"},
		{"acw 0", func(m map[string]any) { m["acw"] = 0 }, speech.CodeParameterError, "acw"},
		{"acw 180", func(m map[string]any) { m["acw"] = 180 }, speech.CodeOK, ""},
		{"acw 181", func(m map[string]any) { m["acw"] = 181 }, speech.CodeParameterError, "acw"},
		{"two phone groups", func(m map[string]any) {
			g := m["outboundPhoneGroups"].([]any)
			m["outboundPhoneGroups"] = append(g, g[0])
		}, speech.CodeParameterError, "exactly one"},
		{"no phone group", func(m map[string]any) { m["outboundPhoneGroups"] = []any{} }, speech.CodeParameterError, "exactly one"},
		{"redial interval 4", func(m map[string]any) {
			m["outboundPhoneGroups"].([]any)[0].(map[string]any)["autoOutboundInterval"] = 4
		}, speech.CodeParameterError, "autoOutboundInterval"},
		{"redial times 4", func(m map[string]any) {
			m["outboundPhoneGroups"].([]any)[0].(map[string]any)["autoOutboundTimes"] = 4
		}, speech.CodeParameterError, "autoOutboundTimes"},
		{"redial off needs nothing", func(m map[string]any) {
			g := m["outboundPhoneGroups"].([]any)[0].(map[string]any)
			g["autoOutboundSwitch"] = 0
			delete(g, "autoOutboundInterval")
			delete(g, "autoOutboundTimes")
		}, speech.CodeOK, ""},
		{"unknown field", func(m map[string]any) { m["outboundCustomers"] = []any{} }, speech.CodeParameterError, "not a valid"},
		{"no customers", func(m map[string]any) { m["outBoundCustomers"] = []any{} }, speech.CodeParameterError, "outBoundCustomers is required"},
		{"1000 customers", func(m map[string]any) { m["outBoundCustomers"] = speechCustomersJSON(0, 1000, "default") }, speech.CodeOK, ""},
		{"1001 customers", func(m map[string]any) { m["outBoundCustomers"] = speechCustomersJSON(0, 1001, "default") }, speech.CodeParameterError, "at most 1000"},
		{"customer name 21", func(m map[string]any) { speechCustomer(m, 0)["name"] = strings.Repeat("客", 21) }, speech.CodeParameterError, "name"},
		{"customer name missing", func(m map[string]any) { delete(speechCustomer(m, 0), "name") }, speech.CodeParameterError, "name"},
		{"desc 201", func(m map[string]any) { speechCustomer(m, 0)["desc"] = strings.Repeat("d", 201) }, speech.CodeParameterError, "desc"},
		{"external id 65", func(m map[string]any) { speechCustomer(m, 0)["externalCustomerId"] = strings.Repeat("x", 65) }, speech.CodeParameterError, "externalCustomerId"},
		{"external id missing", func(m map[string]any) { delete(speechCustomer(m, 0), "externalCustomerId") }, speech.CodeParameterError, "externalCustomerId"},
		{"external data 40 chars", func(m map[string]any) { speechCustomer(m, 0)["externalData"] = strings.Repeat("数", 40) }, speech.CodeOK, ""},
		{"external data 41", func(m map[string]any) { speechCustomer(m, 0)["externalData"] = strings.Repeat("数", 41) }, speech.CodeParameterError, "externalData"},
		{"no phone group list", func(m map[string]any) { delete(speechCustomer(m, 0), "phoneGroupVoList") }, speech.CodeParameterError, "phoneGroupVoList"},
		{"wrong identify", func(m map[string]any) {
			speechCustomer(m, 0)["phoneGroupVoList"].([]any)[0].(map[string]any)["phoneGroupIdentify"] = "other"
		}, speech.CodeParameterError, "phoneGroupIdentify"},
		{"three relations", func(m map[string]any) {
			r := speechRelations(m, 0)
			speechCustomer(m, 0)["phoneGroupVoList"].([]any)[0].(map[string]any)["relations"] = append(r, map[string]any{"mobile": "13900000001"}, map[string]any{"mobile": "13900000002"})
		}, speech.CodeOK, ""},
		{"four relations", func(m map[string]any) {
			r := speechRelations(m, 0)
			speechCustomer(m, 0)["phoneGroupVoList"].([]any)[0].(map[string]any)["relations"] = append(r, map[string]any{"mobile": "1"}, map[string]any{"mobile": "2"}, map[string]any{"mobile": "3"})
		}, speech.CodeParameterError, "at most 3"},
		{"no relations", func(m map[string]any) {
			speechCustomer(m, 0)["phoneGroupVoList"].([]any)[0].(map[string]any)["relations"] = []any{}
		}, speech.CodeParameterError, "relations"},
		{"mobile with plus", func(m map[string]any) { speechRelations(m, 0)[0].(map[string]any)["mobile"] = "+8613800000001" }, speech.CodeParameterError, "digits"},
		{"mobile empty", func(m map[string]any) { speechRelations(m, 0)[0].(map[string]any)["mobile"] = "" }, speech.CodeParameterError, "digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newSpeechHarness(t, SpeechConfig{})
			rep := h.call(speech.PathCreate, exampleBody(t, tt.edit), nil)
			if rep.Code != tt.code || !strings.Contains(rep.Message, tt.msg) {
				t.Fatalf("create = %+v; want code %s with %q", rep, tt.code, tt.msg)
			}
			l := h.s.Ledger(Speech)
			if tt.code == speech.CodeOK {
				if _, ok := rep.Data.(float64); !ok || l.Tasks != 1 || len(l.Numbers) == 0 {
					t.Errorf("accepted create: data %v, ledger %+v", rep.Data, l)
				}
				return
			}
			if l.Tasks != 0 || len(l.Numbers) != 0 {
				t.Errorf("refused create reached the ledger: %+v", l)
			}
			if strings.Contains(rep.Message, "13800000001") {
				t.Errorf("message %q carries a number", rep.Message)
			}
		})
	}
}

func TestSpeechAuth(t *testing.T) {
	body := exampleBody(t, nil)
	other := speechSigner(t, speech.SignOptions{Hash: crypto.SHA1})
	otherSig, _ := other.Sign(speechTestApp, "1586314097995", body)
	tests := []struct {
		name string
		cfg  SpeechConfig
		hdr  map[string]string
		code string
	}{
		{"ok", SpeechConfig{}, nil, speech.CodeOK},
		{"no app id", SpeechConfig{}, map[string]string{"appId": ""}, speech.CodeAuthFailed},
		{"wrong app id", SpeechConfig{}, map[string]string{"appId": "x"}, speech.CodeAuthFailed},
		{"no timestamp", SpeechConfig{}, map[string]string{"timestamp": ""}, speech.CodeAuthFailed},
		{"timestamp not ms", SpeechConfig{}, map[string]string{"timestamp": "2020-04-08"}, speech.CodeAuthFailed},
		{"no sign", SpeechConfig{}, map[string]string{"sign": ""}, speech.CodeAuthFailed},
		{"sign not base64", SpeechConfig{}, map[string]string{"sign": "***"}, speech.CodeAuthFailed},
		{"sign with other options", SpeechConfig{}, map[string]string{"sign": otherSig}, speech.CodeAuthFailed},
		{"no public key", SpeechConfig{AppID: speechTestApp}, nil, speech.CodeNoPublicKey},
		{"form content type", SpeechConfig{}, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, speech.CodeParameterError},
		{"json with charset", SpeechConfig{}, map[string]string{"Content-Type": "application/json;charset=UTF-8"}, speech.CodeOK},
		{"skew within", SpeechConfig{MaxSkew: time.Minute}, map[string]string{"timestamp": "1586314037995"}, speech.CodeOK},
		{"skew beyond", SpeechConfig{MaxSkew: time.Minute}, map[string]string{"timestamp": "1586314037994"}, speech.CodeAuthFailed},
		{"skew future", SpeechConfig{MaxSkew: time.Minute}, map[string]string{"timestamp": "1586314157996"}, speech.CodeAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.AppID == "" {
				cfg.AppID = speechTestApp
				cfg.Verifier = speechSigner(t, speech.SignOptions{}).Verifier()
			}
			h := newSpeechHarness(t, cfg)
			// A signature made over the timestamp actually sent, unless the test sets sign.
			if rep := h.call(speech.PathCreate, body, tt.hdr); rep.Code != tt.code {
				t.Fatalf("create = %+v; want %s", rep, tt.code)
			}
			if tt.code != speech.CodeOK && h.s.Ledger(Speech).Tasks != 0 {
				t.Error("refused call made a task")
			}
		})
	}
}

func TestSpeechSystemErrorBeforeProcessing(t *testing.T) {
	h := newSpeechHarness(t, SpeechConfig{})
	h.s.SetFaults(Faults{SystemError: 1})
	if rep := h.call(speech.PathCreate, exampleBody(t, nil), nil); rep.Code != speech.CodeSystemError {
		t.Fatalf("create = %+v; want 29008", rep)
	}
	h.s.SetFaults(Faults{})
	// Nothing was remembered: the same name is free.
	if rep := h.call(speech.PathCreate, exampleBody(t, nil), nil); rep.Code != speech.CodeOK {
		t.Fatalf("create after system error = %+v; want 10000", rep)
	}
}

func TestSpeechTasks(t *testing.T) {
	h := newSpeechHarness(t, SpeechConfig{})
	rep := h.call(speech.PathCreate, exampleBody(t, func(m map[string]any) {
		m["outBoundCustomers"] = speechCustomersJSON(0, 1000, "default")
	}), nil)
	if rep.Code != speech.CodeOK {
		t.Fatalf("create = %+v", rep)
	}
	id := int64(rep.Data.(float64))

	appendBody := func(id int64, from, n int, identify string) []byte {
		b, _ := json.Marshal(map[string]any{"taskId": id, "outBoundCustomers": speechCustomersJSON(from, n, identify)})
		return b
	}
	steps := []struct {
		name string
		path string
		body []byte
		code string
		msg  string
	}{
		{"duplicate name", speech.PathCreate, exampleBody(t, nil), speech.CodeParameterError, "taskName already exists"},
		{"append", speech.PathAppend, appendBody(id, 1000, 1000, "default"), speech.CodeOK, ""},
		{"unknown task", speech.PathAppend, appendBody(id+1, 5000, 1, "default"), speech.CodeParameterError, "task not found"},
		{"no task id", speech.PathAppend, []byte(`{"outBoundCustomers":[]}`), speech.CodeParameterError, "taskId"},
		{"wrong identify", speech.PathAppend, appendBody(id, 5000, 1, "other"), speech.CodeParameterError, "phoneGroupIdentify"},
		{"1001", speech.PathAppend, appendBody(id, 5000, 1001, "default"), speech.CodeParameterError, "at most 1000"},
		{"none", speech.PathAppend, appendBody(id, 5000, 0, "default"), speech.CodeParameterError, "required"},
		{"unknown field", speech.PathAppend, []byte(`{"taskId":1,"customers":[]}`), speech.CodeParameterError, "not a valid"},
	}
	for _, st := range steps {
		if rep := h.call(st.path, st.body, nil); rep.Code != st.code || !strings.Contains(rep.Message, st.msg) {
			t.Errorf("%s = %+v; want %s %q", st.name, rep, st.code, st.msg)
		}
	}
	if l := h.s.Ledger(Speech); l.Tasks != 1 || len(l.Numbers) != 2000 {
		t.Errorf("ledger: %d tasks, %d numbers; want 1, 2000", l.Tasks, len(l.Numbers))
	}

	// Fill the task to 20,000: one more customer is refused, the last fitting one is not.
	h.s.speech.mu.Lock()
	h.s.speech.tasks[id].customers = speech.MaxCustomersPerTask - 1
	h.s.speech.mu.Unlock()
	if rep := h.call(speech.PathAppend, appendBody(id, 7000, 2, "default"), nil); rep.Code != speech.CodeParameterError || !strings.Contains(rep.Message, "20000") {
		t.Errorf("append past 20,000 = %+v; want 29002", rep)
	}
	if rep := h.call(speech.PathAppend, appendBody(id, 7000, 1, "default"), nil); rep.Code != speech.CodeOK {
		t.Errorf("append to 20,000 = %+v; want 10000", rep)
	}

	// Poison fails the whole call and records nothing.
	h.s.Poison("13800009000")
	if rep := h.call(speech.PathAppend, appendBody(id, 8999, 2, "default"), nil); rep.Code != speech.CodeParameterError {
		t.Errorf("poisoned append = %+v; want 29002", rep)
	}
	if n := h.s.Ledger(Speech).Numbers["13800008999"]; n != 0 {
		t.Errorf("poisoned call recorded its good number %d times", n)
	}

	// Reset forgets tasks and names.
	h.s.Reset()
	if rep := h.call(speech.PathAppend, appendBody(id, 9000, 1, "default"), nil); rep.Code != speech.CodeParameterError {
		t.Errorf("append after reset = %+v; want 29002", rep)
	}
	if rep := h.call(speech.PathCreate, exampleBody(t, nil), nil); rep.Code != speech.CodeOK {
		t.Errorf("create after reset = %+v; want 10000", rep)
	}
}

func TestSpeechConcurrentCreatesSameName(t *testing.T) {
	h := newSpeechHarness(t, SpeechConfig{})
	body := exampleBody(t, nil)
	var wg sync.WaitGroup
	codes := make([]string, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = h.call(speech.PathCreate, body, nil).Code
		}()
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		if c == speech.CodeOK {
			ok++
		}
	}
	if ok != 1 || h.s.Ledger(Speech).Tasks != 1 {
		t.Errorf("%d of %d same-name creates succeeded; want exactly 1 (%v)", ok, len(codes), codes)
	}
}

func TestSpeechConfigFromEnv(t *testing.T) {
	key, err := speechTestKey()
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	tests := []struct {
		name    string
		env     map[string]string
		wantCfg bool
		errHas  string
	}{
		{"unset", nil, false, ""},
		{"full", map[string]string{"SPEECH_APP_ID": "a", "SPEECH_PRIVATE_KEY": pemKey, "SPEECH_SIGN_HASH": "sha1"}, true, ""},
		{"no key", map[string]string{"SPEECH_APP_ID": "a"}, false, "SPEECH_PRIVATE_KEY"},
		{"no app id", map[string]string{"SPEECH_PRIVATE_KEY": pemKey}, false, "SPEECH_APP_ID"},
		{"bad hash", map[string]string{"SPEECH_APP_ID": "a", "SPEECH_PRIVATE_KEY": pemKey, "SPEECH_SIGN_HASH": "md5"}, false, "SPEECH_SIGN_HASH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := speechConfigFromEnv(func(k string) string { return tt.env[k] })
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v; want one naming %s", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (cfg.Verifier != nil) != tt.wantCfg {
				t.Fatalf("verifier set = %v; want %v", cfg.Verifier != nil, tt.wantCfg)
			}
			if !tt.wantCfg {
				return
			}
			// The verifier accepts what the client's signer, built from the same
			// variables, produces.
			s, err := speech.SignerFromEnv(func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			sig, _ := s.Sign("a", "1", nil)
			if err := cfg.Verifier.Verify("a", "1", nil, sig); err != nil || cfg.AppID != "a" {
				t.Errorf("verifier from env rejects the signer from env: %v (app %q)", err, cfg.AppID)
			}
		})
	}
}

func TestSpeechTypeErrorHidesValue(t *testing.T) {
	h := newSpeechHarness(t, SpeechConfig{})
	rep := h.call(speech.PathCreate, exampleBody(t, func(m map[string]any) {
		speechRelations(m, 0)[0].(map[string]any)["mobile"] = 13800000001
	}), nil)
	if rep.Code != speech.CodeParameterError || strings.Contains(rep.Message, "13800000001") || !strings.Contains(rep.Message, "mobile") {
		t.Errorf("create = %+v; want 29002 naming the field, not the number", rep)
	}
}

// TestSpeechDuplicateKnob: a taken name is answered with the configured code and
// wording (set over the admin API, as the demo and e2e tests do), the default
// otherwise; either way nothing new reaches the ledger.
func TestSpeechDuplicateKnob(t *testing.T) {
	tests := []struct {
		name, faults, code, msg string
	}{
		{"default", `{}`, speech.CodeParameterError, "taskName already exists"},
		{"20001", `{"speech_duplicate_code":"20001","speech_duplicate_message":"task name exists"}`, speech.CodeRequestFailed, "task name exists"},
		{"chinese", `{"speech_duplicate_code":"29002","speech_duplicate_message":"任务名称已存在"}`, speech.CodeParameterError, "任务名称已存在"},
		{"code only", `{"speech_duplicate_code":"29008"}`, speech.CodeSystemError, "taskName already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newSpeechHarness(t, SpeechConfig{})
			rec := httptest.NewRecorder()
			h.s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/_admin/faults", strings.NewReader(tt.faults)))
			if rec.Code != http.StatusOK {
				t.Fatalf("set faults: http %d %s", rec.Code, rec.Body)
			}
			body := exampleBody(t, nil)
			if rep := h.call(speech.PathCreate, body, nil); rep.Code != speech.CodeOK {
				t.Fatalf("first create = %+v", rep)
			}
			if rep := h.call(speech.PathCreate, body, nil); rep.Code != tt.code || rep.Message != tt.msg {
				t.Errorf("repeated create = %+v; want %s %q", rep, tt.code, tt.msg)
			}
			if l := h.s.Ledger(Speech); l.Tasks != 1 || l.Numbers["13800000001"] != 1 {
				t.Errorf("ledger = %+v; want one task, the number once", l)
			}
		})
	}
}

// TestAuthRefuseFault: auth_refuse refuses exactly that many validly signed calls
// with 10001, reaching nothing, and then lets calls through.
func TestAuthRefuseFault(t *testing.T) {
	h := newSpeechHarness(t, SpeechConfig{})
	rec := httptest.NewRecorder()
	h.s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/_admin/faults", strings.NewReader(`{"auth_refuse":2}`)))
	if rec.Code != http.StatusOK {
		t.Fatalf("set faults: http %d", rec.Code)
	}
	body := exampleBody(t, nil)
	want := []string{speech.CodeAuthFailed, speech.CodeAuthFailed, speech.CodeOK}
	for i, code := range want {
		h.now = h.now.Add(time.Second) // each attempt signs a new timestamp
		if rep := h.call(speech.PathCreate, body, nil); rep.Code != code {
			t.Fatalf("call %d = %+v; want %s", i, rep, code)
		}
		if wantTasks := map[bool]int{true: 1, false: 0}[code == speech.CodeOK]; h.s.Ledger(Speech).Tasks != wantTasks {
			t.Fatalf("after call %d: %d tasks; want %d", i, h.s.Ledger(Speech).Tasks, wantTasks)
		}
	}
	// A bad signature does not use up the fault: it is refused on its own merits.
	h.s.RefuseAuth(1)
	if rep := h.call(speech.PathCreate, body, map[string]string{"sign": "***"}); rep.Code != speech.CodeAuthFailed {
		t.Fatalf("bad sign = %+v; want 10001", rep)
	}
	h.s.mu.Lock()
	left := h.s.faults.AuthRefuse
	h.s.mu.Unlock()
	if left != 1 {
		t.Errorf("auth_refuse left = %d after a genuinely bad signature; want 1", left)
	}
}
