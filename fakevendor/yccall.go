package fakevendor

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/redact"
)

// YccallConfig is what the fake yccall expects of its callers.
type YccallConfig struct {
	// AppID and AccessKey log in; with an empty AppID no login succeeds.
	AppID     string
	AccessKey string
	// Token, when set, is a static token accepted as well as logged-in ones.
	Token string
}

// yccallConfigFromEnv reads the client's variables: YCCALL_APPID with
// YCCALL_ACCESSKEY (or _FILE), and YCCALL_TOKEN (or _FILE). Unlike the client, the
// fake may take both forms at once; half a pair is an error.
func yccallConfigFromEnv(getenv envconf.Getenv) (YccallConfig, error) {
	key, err := envconf.Secret(getenv, "YCCALL_ACCESSKEY")
	if err != nil {
		return YccallConfig{}, fmt.Errorf("fake yccall: %w", err)
	}
	tok, err := envconf.Secret(getenv, "YCCALL_TOKEN")
	if err != nil {
		return YccallConfig{}, fmt.Errorf("fake yccall: %w", err)
	}
	cfg := YccallConfig{AppID: getenv("YCCALL_APPID"), AccessKey: key, Token: tok}
	switch {
	case cfg.AppID != "" && cfg.AccessKey == "":
		return YccallConfig{}, errors.New("fake yccall: YCCALL_ACCESSKEY is not set")
	case cfg.AppID == "" && cfg.AccessKey != "":
		return YccallConfig{}, errors.New("fake yccall: YCCALL_APPID is not set")
	}
	return cfg, nil
}

// yccallState is what the fake yccall remembers: tokens it issued and tasks.
type yccallState struct {
	mu            sync.Mutex
	tokens        map[string]time.Time // token -> issued at
	staticRevoked bool
	tasks         map[string]*yccallTask
	seq           int
}

type yccallTask struct {
	numbers int
	status  int // 0 new, then the last TaskSet status
}

func (st *yccallState) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.tokens = map[string]time.Time{}
	st.staticRevoked = false
	st.tasks = map[string]*yccallTask{}
	st.seq = 0
}

// ExpireYccallTokens invalidates every yccall token, the static one included, so
// that the next task call gets ret 600. A later login issues a working token again.
func (s *Server) ExpireYccallTokens() {
	st := &s.yccall
	st.mu.Lock()
	defer st.mu.Unlock()
	st.tokens = map[string]time.Time{}
	st.staticRevoked = true
}

const (
	ycOK              = 200
	ycBadParams       = 400
	ycServerError     = 500
	ycTokenInvalid    = 600
	ycAppUnauthorised = 601

	// data.errors.code for a task the vendor does not know (our choice; any code
	// but 1001 reads as permanent).
	ycNoSuchTask = 1002

	ycMaxPerCall = 10000
	ycTokenLife  = 12 * time.Hour
	ycMaxBody    = 32 << 20
)

var (
	ycTaskScale = regexp.MustCompile(`^1:[1-9][0-9]*$`)
	ycDisNumber = regexp.MustCompile(`^[0-9]+(,[0-9]+)*$`)
)

// mountYccall mounts the yccall API at /yccall and /yccall/: one root URL, the
// operation chosen by the form's service field.
func (s *Server) mountYccall() {
	s.handle(Yccall, "", s.yccallServe)
	s.handle(Yccall, "/{$}", s.yccallServe)
}

func (s *Server) yccallServe(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, ycMaxBody)
	if err := r.ParseForm(); err != nil {
		ycReplyRet(w, ycBadParams, "form unreadable")
		return
	}
	f := r.PostForm // a urlencoded body only: query-string fields do not count
	switch service := f.Get("service"); service {
	case "App.Sip_Auth.Login":
		s.yccallLogin(w, f)
	case "App.Sip_Yccall.TaskCreat", "App.Sip_Yccall.TaskAdd", "App.Sip_Yccall.TaskSet":
		if !s.yccallTokenValid(f.Get("token")) || s.spuriousAuth() {
			ycReplyRet(w, ycTokenInvalid, "token invalid")
			return
		}
		if s.systemError() {
			ycReplyRet(w, ycServerError, "server error")
			return
		}
		switch service {
		case "App.Sip_Yccall.TaskCreat":
			s.yccallTaskCreate(w, f)
		case "App.Sip_Yccall.TaskAdd":
			s.yccallTaskAdd(w, f)
		default:
			s.yccallTaskSet(w, f)
		}
	default:
		ycReplyRet(w, ycBadParams, "unknown service")
	}
}

func (s *Server) yccallLogin(w http.ResponseWriter, f map[string][]string) {
	cfg := s.cfg.Yccall
	appid, key := ycGet(f, "appid"), ycGet(f, "accesskey")
	if appid == "" || key == "" {
		ycReplyRet(w, ycBadParams, "appid and accesskey are required")
		return
	}
	if cfg.AppID == "" || appid != cfg.AppID || subtle.ConstantTimeCompare([]byte(key), []byte(cfg.AccessKey)) != 1 {
		ycReplyRet(w, ycAppUnauthorised, "appid not authorised")
		return
	}
	if s.systemError() {
		ycReplyRet(w, ycServerError, "server error")
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	st := &s.yccall
	st.mu.Lock()
	st.tokens[tok] = s.now()
	st.mu.Unlock()
	ycReplyResult(w, s.now().Unix(), "login successful", map[string]any{"token": tok})
}

func (s *Server) yccallTokenValid(tok string) bool {
	if tok == "" {
		return false
	}
	st := &s.yccall
	st.mu.Lock()
	defer st.mu.Unlock()
	if static := s.cfg.Yccall.Token; static != "" && !st.staticRevoked &&
		subtle.ConstantTimeCompare([]byte(tok), []byte(static)) == 1 {
		return true
	}
	at, ok := st.tokens[tok]
	return ok && s.now().Sub(at) < ycTokenLife
}

// ycPhoneFields are the keys a telphone record may carry, matched exactly.
var ycPhoneFields = map[string]bool{"phone": true, "time": true, "userid": true, "memberid": true, "chengshudu": true, "customuuid": true}

type ycInvalid struct {
	Phone  string `json:"phone"`
	Reason string `json:"reason"`
}

// yccallPhones checks the telphone field. A structural fault fails the whole call
// (ret 400 and a message); a malformed or refused number only goes to invaliddata.
func (s *Server) yccallPhones(tel string) (accepted []string, invalid []ycInvalid, msg string) {
	if tel == "" {
		return nil, nil, "telphone is required"
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(tel), &list); err != nil {
		return nil, nil, "telphone is not a JSON list of phone records"
	}
	switch {
	case len(list) == 0:
		return nil, nil, "telphone is empty"
	case len(list) > ycMaxPerCall:
		return nil, nil, fmt.Sprintf("telphone has %d numbers, at most %d", len(list), ycMaxPerCall)
	}
	phones := make([]string, len(list))
	for i, rec := range list {
		for k, v := range rec {
			var str string
			switch {
			case !ycPhoneFields[k]:
				return nil, nil, fmt.Sprintf("telphone[%d]: unknown field %q", i, k)
			case k == "time":
				if _, err := strconv.ParseInt(string(v), 10, 64); err != nil {
					return nil, nil, fmt.Sprintf("telphone[%d].time is not a unix time", i)
				}
			case !ycString(v, &str):
				// phone included: the sheet has it sent as a string, which keeps
				// leading zeros that a JSON number would lose.
				return nil, nil, fmt.Sprintf("telphone[%d].%s is not a string", i, k)
			case k == "phone":
				phones[i] = str
			}
		}
		if _, ok := rec["phone"]; !ok {
			return nil, nil, fmt.Sprintf("telphone[%d].phone is required", i)
		}
		if _, ok := rec["time"]; !ok {
			return nil, nil, fmt.Sprintf("telphone[%d].time is required", i)
		}
	}
	if p, ok := s.anyPoisoned(phones); ok {
		return nil, nil, "bad parameters: phone " + redact.Phone(p)
	}
	for _, p := range phones {
		if !ycPhoneOK(p) {
			invalid = append(invalid, ycInvalid{Phone: p, Reason: "invalid phone format"})
			continue
		}
		if reason, ok := s.refusal(p); ok {
			invalid = append(invalid, ycInvalid{Phone: p, Reason: reason})
			continue
		}
		accepted = append(accepted, p)
	}
	return accepted, invalid, ""
}

// ycString decodes v, a JSON value from a list json.Unmarshal has already checked,
// as a string. A plain literal (no escapes, valid UTF-8) is its own bytes, which
// skips a json.Unmarshal per field: that was a quarter of the fake's CPU at 10,000
// numbers a call (bench/README.md). Anything else goes through json.Unmarshal.
func ycString(v json.RawMessage, str *string) bool {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v) {
		*str = string(v[1 : len(v)-1])
		return true
	}
	return json.Unmarshal(v, str) == nil
}

// ycPhoneOK accepts 5 to 20 digits: extensions and national or international numbers.
func ycPhoneOK(p string) bool {
	if len(p) < 5 || len(p) > 20 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

func (s *Server) yccallTaskCreate(w http.ResponseWriter, f map[string][]string) {
	if t, err := strconv.Atoi(ycGet(f, "assigntype")); err != nil || t < 1 || t > 3 {
		ycReplyRet(w, ycBadParams, "assigntype must be 1, 2 or 3")
		return
	}
	if ycGet(f, "assignagent") == "" {
		ycReplyRet(w, ycBadParams, "assignagent is required")
		return
	}
	if !ycTaskScale.MatchString(ycGet(f, "taskscale")) {
		ycReplyRet(w, ycBadParams, "taskscale must be 1:N")
		return
	}
	dis, sent := f["disnumber"]
	if !sent || (dis[0] != "" && !ycDisNumber.MatchString(dis[0])) {
		ycReplyRet(w, ycBadParams, "disnumber must be sent: a comma list of numbers, or empty")
		return
	}
	accepted, invalid, msg := s.yccallPhones(ycGet(f, "telphone"))
	if msg != "" {
		ycReplyRet(w, ycBadParams, msg)
		return
	}
	st := &s.yccall
	st.mu.Lock()
	st.seq++
	id := fmt.Sprintf("%s%06d", s.now().Format("20060102150405"), st.seq)
	st.tasks[id] = &yccallTask{numbers: len(accepted)}
	st.mu.Unlock()
	s.addTask(Yccall)
	s.accept(Yccall, accepted)
	ycReplyResult(w, s.now().Unix(), "created successfully", map[string]any{"taskid": id, "invaliddata": ycInvalidList(invalid)})
}

func (s *Server) yccallTaskAdd(w http.ResponseWriter, f map[string][]string) {
	id := ycGet(f, "taskid")
	if id == "" {
		ycReplyRet(w, ycBadParams, "taskid is required")
		return
	}
	accepted, invalid, msg := s.yccallPhones(ycGet(f, "telphone"))
	if msg != "" {
		ycReplyRet(w, ycBadParams, msg)
		return
	}
	st := &s.yccall
	st.mu.Lock()
	t, ok := st.tasks[id]
	if ok {
		t.numbers += len(accepted)
	}
	st.mu.Unlock()
	if !ok {
		ycReplyFailure(w, s.now().Unix(), ycNoSuchTask, "task does not exist")
		return
	}
	s.accept(Yccall, accepted)
	ycReplyResult(w, s.now().Unix(), "added successfully", map[string]any{"success": len(accepted), "invaliddata": ycInvalidList(invalid)})
}

func (s *Server) yccallTaskSet(w http.ResponseWriter, f map[string][]string) {
	id := ycGet(f, "taskid")
	status, err := strconv.Atoi(ycGet(f, "taskstatus"))
	if id == "" || err != nil || status < 1 || status > 3 {
		ycReplyRet(w, ycBadParams, "taskid and taskstatus 1, 2 or 3 are required")
		return
	}
	st := &s.yccall
	st.mu.Lock()
	t, ok := st.tasks[id]
	if ok {
		t.status = status
	}
	st.mu.Unlock()
	if !ok {
		ycReplyFailure(w, s.now().Unix(), ycNoSuchTask, "task does not exist")
		return
	}
	ycReplyResult(w, s.now().Unix(), "set successfully", map[string]any{"taskid": id, "taskstatus": status})
}

// ycGet is the field's first value; url.Values.Get without the type, so that the
// handlers take the form as a plain map.
func ycGet(f map[string][]string, k string) string {
	if v := f[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func ycInvalidList(in []ycInvalid) []ycInvalid {
	if in == nil {
		return []ycInvalid{}
	}
	return in
}

// ycReplyRet answers a failure outside the data envelope (ret ≠ 200).
func ycReplyRet(w http.ResponseWriter, ret int, msg string) {
	writeJSON(w, map[string]any{"ret": ret, "data": map[string]any{}, "msg": msg})
}

// ycReplyResult answers success: ret 200, data.status 0 and the result.
func ycReplyResult(w http.ResponseWriter, now int64, desc string, result any) {
	writeJSON(w, map[string]any{"ret": ycOK, "msg": "", "data": map[string]any{
		"status": 0, "desc": desc, "result": result, "reqtime": now, "rsptime": now}})
}

// ycReplyFailure answers a business failure: ret 200, data.status 1 and errors.
func ycReplyFailure(w http.ResponseWriter, now int64, code int, msg string) {
	writeJSON(w, map[string]any{"ret": ycOK, "msg": "", "data": map[string]any{
		"status": 1, "desc": msg, "errors": map[string]any{"code": code, "codemsg": msg}, "reqtime": now, "rsptime": now}})
}
