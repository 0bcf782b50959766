package fakevendor

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors/nxcloud"
)

// NXCloudConfig is what the fake nxcloud expects of its callers.
type NXCloudConfig struct {
	// AccessKey and AccessSecret are the one caller the fake knows; with an empty
	// AccessKey every call is refused (1005).
	AccessKey    string
	AccessSecret string
	// MaxPerCall is the most numbers one createandcall may carry; zero means 1,000.
	MaxPerCall int
}

// nxcloudConfigFromEnv reads the client's variables: NXCLOUD_ACCESS_KEY and
// NXCLOUD_ACCESS_SECRET (or _FILE). Neither set gives a zero config; one alone is an error.
func nxcloudConfigFromEnv(getenv envconf.Getenv) (NXCloudConfig, error) {
	secret, err := envconf.Secret(getenv, "NXCLOUD_ACCESS_SECRET")
	if err != nil {
		return NXCloudConfig{}, fmt.Errorf("fake nxcloud: %w", err)
	}
	cfg := NXCloudConfig{AccessKey: getenv("NXCLOUD_ACCESS_KEY"), AccessSecret: secret}
	switch {
	case cfg.AccessKey != "" && cfg.AccessSecret == "":
		return NXCloudConfig{}, errors.New("fake nxcloud: NXCLOUD_ACCESS_SECRET is not set")
	case cfg.AccessKey == "" && cfg.AccessSecret != "":
		return NXCloudConfig{}, errors.New("fake nxcloud: NXCLOUD_ACCESS_KEY is not set")
	}
	return cfg, nil
}

// nxcloudState is what the fake nxcloud remembers between calls: nothing, since
// every createandcall makes a new task and the vendor has no idempotency key.
type nxcloudState struct{}

func (st *nxcloudState) reset() {}

// NXCloud codes, written out here rather than taken from the client so that the
// fake stays an independent reading of the sheet.
const (
	nxOK            = 0
	nxSystemError   = 99
	nxParamError    = 41000
	nxMissingHeader = 1001
	nxBadHeader     = 1002
	nxBadSign       = 1003
	nxTSExpired     = 1004
	nxNoPermission  = 1005

	nxDefaultMaxPerCall = 1000
	nxMaxSkew           = 60 * time.Second
	nxMaxBody           = 8 << 20
)

// mountNXCloud mounts the nxcloud API under /nxcloud.
func (s *Server) mountNXCloud() {
	s.handle(NXCloud, "/saas/cc/openapi/ai/createandcall", s.nxcloudCreateAndCall)
}

func (s *Server) nxcloudCreateAndCall(w http.ResponseWriter, r *http.Request) {
	cfg := s.cfg.NXCloud
	h := func(name string) string { return r.Header.Get(name) }
	for _, name := range []string{"accessKey", "ts", "bizType", "action", "sign"} {
		if h(name) == "" {
			nxcloudReply(w, nxMissingHeader, "missing header "+name)
			return
		}
	}
	if h("bizType") != "8" || h("action") != "cc" {
		nxcloudReply(w, nxBadHeader, "wrong bizType or action")
		return
	}
	if cfg.AccessKey == "" || h("accessKey") != cfg.AccessKey {
		nxcloudReply(w, nxNoPermission, "no permission")
		return
	}
	ts, err := strconv.ParseInt(h("ts"), 10, 64)
	if d := s.now().Sub(time.UnixMilli(ts)); err != nil || d > nxMaxSkew || d < -nxMaxSkew {
		nxcloudReply(w, nxTSExpired, "timestamp expired")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, nxMaxBody))
	if err != nil {
		nxcloudReply(w, nxBadHeader, "body unreadable or too large")
		return
	}
	want := nxcloud.Sign(h("accessKey"), h("action"), h("bizType"), h("ts"), body, cfg.AccessSecret)
	if subtle.ConstantTimeCompare([]byte(want), []byte(h("sign"))) != 1 || s.spuriousAuth() {
		nxcloudReply(w, nxBadSign, "signature verification failed")
		return
	}
	if s.systemError() {
		nxcloudReply(w, nxSystemError, "system error")
		return
	}
	// 1002 covers a body that is not JSON at all; a JSON body with bad fields is 41000.
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || !json.Valid(body) {
		nxcloudReply(w, nxBadHeader, "body must be application/json")
		return
	}
	limit := cfg.MaxPerCall
	if limit <= 0 {
		limit = nxDefaultMaxPerCall
	}
	phones, err := nxcloudCheckBody(body, limit)
	if err != nil {
		nxcloudReply(w, nxParamError, "parameter error or empty: "+err.Error())
		return
	}
	if p, ok := s.anyPoisoned(phones); ok {
		nxcloudReply(w, nxParamError, "parameter error or empty: userPhone "+redact.Phone(p))
		return
	}
	s.addTask(NXCloud)
	s.accept(NXCloud, phones)
	nxcloudReply(w, nxOK, "Request successful")
}

// nxcloudBody is createandcall's body with every field kept raw, so that presence,
// JSON type and number format can all be checked.
type nxcloudBody struct {
	Country         *string          `json:"country"`
	TaskName        *string          `json:"taskName"`
	TaskDesc        *string          `json:"taskDesc"`
	StrategyName    *string          `json:"strategyName"`
	DispatchType    json.RawMessage  `json:"dispatchType"`
	AgentGroupNo    *string          `json:"agentGroupNo"`
	PredictCallRate json.RawMessage  `json:"predictCallRate"`
	RatioCallRate   json.RawMessage  `json:"ratioCallRate"`
	StartCount      json.RawMessage  `json:"startCount"`
	StartupType     json.RawMessage  `json:"startupType"`
	CallList        *[]nxcloudCallee `json:"callList"`
}

type nxcloudCallee struct {
	OrderID   *string `json:"orderID"`
	UserPhone *string `json:"userPhone"`
	Other     *string `json:"other"`
}

var (
	nxcloudFields = map[string]bool{"country": true, "taskName": true, "taskDesc": true, "strategyName": true,
		"dispatchType": true, "agentGroupNo": true, "predictCallRate": true, "ratioCallRate": true,
		"startCount": true, "startupType": true, "callList": true}
	nxcloudCalleeFields = map[string]bool{"orderID": true, "userPhone": true, "other": true}
)

// nxcloudCheckBody validates the body the way the sheet describes and returns the
// numbers as sent. Unknown fields are refused too, matched exactly (encoding/json
// alone ignores case): they mean a misspelt field.
func nxcloudCheckBody(body []byte, limit int) ([]string, error) {
	var keys struct {
		Top      map[string]json.RawMessage
		CallList []map[string]json.RawMessage `json:"callList"`
	}
	if err := json.Unmarshal(body, &keys.Top); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	if err := nxcloudKnownFields(keys.Top, nxcloudFields); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(keys.Top["callList"], &keys.CallList); err == nil {
		for i, c := range keys.CallList {
			if err := nxcloudKnownFields(c, nxcloudCalleeFields); err != nil {
				return nil, fmt.Errorf("callList[%d]: %w", i, err)
			}
		}
	}
	var b nxcloudBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	required := []struct {
		name string
		v    *string
	}{{"country", b.Country}, {"taskName", b.TaskName}, {"strategyName", b.StrategyName}, {"agentGroupNo", b.AgentGroupNo}}
	for _, f := range required {
		if f.v == nil || *f.v == "" {
			return nil, fmt.Errorf("%s is required", f.name)
		}
	}
	if c := *b.Country; len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
		return nil, errors.New("country is not an ISO-2 code")
	}
	if n, err := nxcloudInt(b.DispatchType); err != nil || n < 0 || n > 2 {
		return nil, errors.New("dispatchType must be 0, 1 or 2")
	}
	if n, err := nxcloudInt(b.StartCount); err != nil || n < 0 {
		return nil, errors.New("startCount must be a non-negative integer")
	}
	if len(b.StartupType) > 0 && string(b.StartupType) != "null" {
		if n, err := nxcloudInt(b.StartupType); err != nil || n < 0 || n > 3 {
			return nil, errors.New("startupType must be 0 to 3")
		}
	}
	if err := nxcloudDecimal(b.PredictCallRate, 2); err != nil {
		return nil, fmt.Errorf("predictCallRate: %w", err)
	}
	if err := nxcloudDecimal(b.RatioCallRate, 1); err != nil {
		return nil, fmt.Errorf("ratioCallRate: %w", err)
	}
	if b.CallList == nil || len(*b.CallList) == 0 {
		return nil, errors.New("callList is empty")
	}
	list := *b.CallList
	if len(list) > limit {
		return nil, fmt.Errorf("callList has %d numbers, at most %d", len(list), limit)
	}
	phones := make([]string, 0, len(list))
	orders := make(map[string]bool, len(list))
	for i, c := range list {
		switch {
		case c.OrderID == nil || *c.OrderID == "":
			return nil, fmt.Errorf("callList[%d]: orderID is required", i)
		case orders[*c.OrderID]:
			return nil, fmt.Errorf("callList[%d]: orderID repeated", i)
		case c.UserPhone == nil || !nxcloudPhone(*c.UserPhone):
			return nil, fmt.Errorf("callList[%d]: userPhone must be digits with the country code and no '+'", i)
		case c.Other == nil:
			return nil, fmt.Errorf("callList[%d]: other is required", i)
		}
		orders[*c.OrderID] = true
		phones = append(phones, *c.UserPhone)
	}
	return phones, nil
}

func nxcloudKnownFields(m map[string]json.RawMessage, known map[string]bool) error {
	for k := range m {
		if !known[k] {
			return fmt.Errorf("unknown field %q", k)
		}
	}
	return nil
}

// nxcloudPhone accepts an E.164 number without its '+': 8 to 15 digits, no leading 0
// (a leading 0 is a national trunk prefix, i.e. the country code is missing).
func nxcloudPhone(p string) bool {
	if len(p) < 8 || len(p) > 15 || p[0] == '0' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// nxcloudInt reads a bare JSON integer.
func nxcloudInt(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 {
		return 0, errors.New("missing")
	}
	return strconv.ParseInt(string(raw), 10, 64)
}

// nxcloudDecimal checks a bare, non-negative JSON number with at most places decimals.
func nxcloudDecimal(raw json.RawMessage, places int) error {
	s := string(raw)
	if s == "" {
		return errors.New("missing")
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") || len(frac) > places {
		return fmt.Errorf("want a number with at most %d decimals", places)
	}
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return fmt.Errorf("want a non-negative number with at most %d decimals", places)
			}
		}
	}
	return nil
}

// nxcloudReply writes the vendor's envelope; the vendor answers HTTP 200 with its
// own code, data null on success and {} on failure.
func nxcloudReply(w http.ResponseWriter, code int, msg string) {
	var id [16]byte
	_, _ = rand.Read(id[:])
	data := json.RawMessage(`{}`)
	if code == nxOK {
		data = json.RawMessage(`null`)
	}
	writeJSON(w, struct {
		ReqID string          `json:"reqId"`
		Code  int             `json:"code"`
		Msg   string          `json:"msg"`
		Data  json.RawMessage `json:"data"`
	}{strings.ToUpper(hex.EncodeToString(id[:])), code, msg, data})
}
