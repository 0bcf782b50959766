package fakevendor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/vendors/speech"
)

// SpeechConfig is what the fake speech expects of its callers.
type SpeechConfig struct {
	AppID string
	// Verifier holds the tenant's uploaded public key; nil answers every call with
	// 10002 (no public key uploaded).
	Verifier *speech.RSAVerifier
	// MaxSkew, when set, refuses timestamps further than this from the fake's clock
	// with 10001. The page states no limit, so zero does not check.
	MaxSkew time.Duration
}

// speechConfigFromEnv reads the client's variables: SPEECH_APP_ID and the key,
// hash and template, from which the public key is derived.
func speechConfigFromEnv(getenv envconf.Getenv) (SpeechConfig, error) {
	signer, err := speech.SignerFromEnv(getenv)
	if err != nil {
		return SpeechConfig{}, err
	}
	appID := getenv("SPEECH_APP_ID")
	switch {
	case signer == nil && appID == "":
		return SpeechConfig{}, nil
	case signer == nil:
		return SpeechConfig{}, errors.New("SPEECH_PRIVATE_KEY or SPEECH_PRIVATE_KEY_FILE is required")
	case appID == "":
		return SpeechConfig{}, errors.New("SPEECH_APP_ID is required")
	}
	return SpeechConfig{AppID: appID, Verifier: signer.Verifier()}, nil
}

// speechFirstTaskID makes ids look like the vendor's 16-digit longs.
const speechFirstTaskID = 1462016331580001

// speechState is what the fake speech remembers between calls.
type speechState struct {
	mu     sync.Mutex
	nextID int64
	byName map[string]int64
	tasks  map[int64]*speechTask
}

type speechTask struct {
	identify  string
	customers int
}

func (st *speechState) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.nextID = speechFirstTaskID
	st.byName = map[string]int64{}
	st.tasks = map[int64]*speechTask{}
}

const speechMaxBody = 8 << 20

// mountSpeech mounts the speech API under /speech.
func (s *Server) mountSpeech() {
	s.handle(Speech, speech.PathCreate, s.speechCreate)
	s.handle(Speech, speech.PathAppend, s.speechAppend)
}

type speechReply struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data"`
}

func speechAnswer(w http.ResponseWriter, code, msg string, data any) {
	writeJSON(w, speechReply{Code: code, Message: msg, Data: data})
}

func speechParamError(w http.ResponseWriter, msg string) {
	speechAnswer(w, speech.CodeParameterError, msg, nil)
}

// speechAuth checks the headers and signature and returns the body; on failure it
// has already answered.
func (s *Server) speechAuth(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	cfg := s.cfg.Speech
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, speechMaxBody))
	if err != nil {
		speechParamError(w, "request body too large or unreadable")
		return nil, false
	}
	appID, ts, sig := r.Header.Get("appId"), r.Header.Get("timestamp"), r.Header.Get("sign")
	switch {
	case appID == "" || ts == "" || sig == "":
		speechAnswer(w, speech.CodeAuthFailed, "authentication failed: appId, timestamp and sign headers are required", nil)
		return nil, false
	case cfg.Verifier == nil:
		speechAnswer(w, speech.CodeNoPublicKey, "no public key found, upload the public key first", nil)
		return nil, false
	case appID != cfg.AppID:
		speechAnswer(w, speech.CodeAuthFailed, "authentication failed: unknown appId", nil)
		return nil, false
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ms <= 0 {
		speechAnswer(w, speech.CodeAuthFailed, "authentication failed: timestamp must be milliseconds", nil)
		return nil, false
	}
	if cfg.MaxSkew > 0 {
		if d := s.now().Sub(time.UnixMilli(ms)); d > cfg.MaxSkew || d < -cfg.MaxSkew {
			speechAnswer(w, speech.CodeAuthFailed, "authentication failed: timestamp expired", nil)
			return nil, false
		}
	}
	if cfg.Verifier.Verify(appID, ts, body, sig) != nil || s.spuriousAuth() {
		speechAnswer(w, speech.CodeAuthFailed, "authentication failed: bad signature", nil)
		return nil, false
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		speechParamError(w, "parameter error: Content-Type must be application/json")
		return nil, false
	}
	if s.systemError() {
		speechAnswer(w, speech.CodeSystemError, "system error", nil)
		return nil, false
	}
	return body, true
}

// speechDecodeStrict refuses unknown fields, so a misspelt optional field in the client
// shows up as an error instead of being dropped silently. encoding/json matches
// names without regard to case and the vendor (Java) does not, hence the second,
// exact check of every key.
func speechDecodeStrict(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		// Type errors quote the value (a number sent as a JSON number): name the
		// field only.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("field %s has the wrong type", te.Field)
		}
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	var generic any
	if err := json.Unmarshal(body, &generic); err != nil {
		return err
	}
	return speechCheckKeys(generic)
}

// speechFields is every field name of the API, spelt exactly.
var speechFields = map[string]bool{
	"taskName": true, "taskType": true, "taskExecStartDate": true, "taskExecEndDate": true, "taskExecTimes": true,
	"taskExecTimeStartStr": true, "taskExecTimeEndStr": true, "taskDesc": true, "skillSetId": true,
	"outboundNumberGroupId": true, "strategyDisplaySwitch": true, "sendNumberStrategy": true, "multiplyPower": true,
	"abandonmentRate": true, "maxRingingDuration": true, "acw": true, "outboundPhoneGroups": true, "name": true,
	"identify": true, "autoOutboundSwitch": true, "autoOutboundInterval": true, "autoOutboundTimes": true,
	"outBoundCustomers": true, "desc": true, "externalCustomerId": true, "externalData": true,
	"phoneGroupVoList": true, "phoneGroupIdentify": true, "relations": true, "mobile": true, "relation": true,
	"taskId": true,
}

func speechCheckKeys(v any) error {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if !speechFields[k] {
				return fmt.Errorf("unknown field %q", k)
			}
			if err := speechCheckKeys(child); err != nil {
				return err
			}
		}
	case []any:
		for _, child := range v {
			if err := speechCheckKeys(child); err != nil {
				return err
			}
		}
	}
	return nil
}

type speechCreateBody struct {
	TaskName              *string           `json:"taskName"`
	TaskType              *int              `json:"taskType"`
	TaskExecStartDate     *string           `json:"taskExecStartDate"`
	TaskExecEndDate       *string           `json:"taskExecEndDate"`
	TaskExecTimes         []speech.ExecTime `json:"taskExecTimes"`
	TaskDesc              *string           `json:"taskDesc"`
	SkillSetID            *string           `json:"skillSetId"`
	OutboundNumberGroupID *string           `json:"outboundNumberGroupId"`
	// The table says Boolean, the page's own example sends 1: take both.
	StrategyDisplaySwitch json.RawMessage     `json:"strategyDisplaySwitch"`
	SendNumberStrategy    *int                `json:"sendNumberStrategy"`
	MultiplyPower         *int                `json:"multiplyPower"`
	AbandonmentRate       *int                `json:"abandonmentRate"`
	MaxRingingDuration    *int                `json:"maxRingingDuration"`
	ACW                   *int                `json:"acw"`
	OutboundPhoneGroups   []speech.PhoneGroup `json:"outboundPhoneGroups"`
	OutBoundCustomers     []speech.Customer   `json:"outBoundCustomers"`
}

func (s *Server) speechCreate(w http.ResponseWriter, r *http.Request) {
	body, ok := s.speechAuth(w, r)
	if !ok {
		return
	}
	var req speechCreateBody
	if err := speechDecodeStrict(body, &req); err != nil {
		speechParamError(w, "parameter error: body is not a valid create request: "+err.Error())
		return
	}
	if msg := checkSpeechCreate(&req); msg != "" {
		speechParamError(w, "parameter error: "+msg)
		return
	}
	identify := req.OutboundPhoneGroups[0].Identify
	if msg := checkSpeechCustomers(req.OutBoundCustomers, identify); msg != "" {
		speechParamError(w, "parameter error: "+msg)
		return
	}
	if _, bad := s.anyPoisoned(speechMobiles(req.OutBoundCustomers)); bad {
		speechParamError(w, "parameter error: invalid mobile in outBoundCustomers")
		return
	}
	st := &s.speech
	st.mu.Lock()
	if _, taken := st.byName[*req.TaskName]; taken {
		st.mu.Unlock()
		code, msg := s.speechDuplicateAnswer()
		speechAnswer(w, code, msg, nil)
		return
	}
	id := st.nextID
	st.nextID++
	st.byName[*req.TaskName] = id
	st.tasks[id] = &speechTask{identify: identify, customers: len(req.OutBoundCustomers)}
	st.mu.Unlock()

	s.addTask(Speech)
	s.accept(Speech, speechFirstMobiles(req.OutBoundCustomers))
	speechAnswer(w, speech.CodeOK, "success", id)
}

// speechDuplicateAnswer is the code and message for a taken task name: the
// Faults knobs, or 29002 "taskName already exists".
func (s *Server) speechDuplicateAnswer() (code, msg string) {
	s.mu.Lock()
	code, msg = s.faults.SpeechDuplicateCode, s.faults.SpeechDuplicateMessage
	s.mu.Unlock()
	if code == "" {
		code = speech.CodeParameterError
	}
	if msg == "" {
		msg = "taskName already exists"
	}
	return code, msg
}

type speechAppendBody struct {
	TaskID            *int64            `json:"taskId"`
	OutBoundCustomers []speech.Customer `json:"outBoundCustomers"`
}

func (s *Server) speechAppend(w http.ResponseWriter, r *http.Request) {
	body, ok := s.speechAuth(w, r)
	if !ok {
		return
	}
	var req speechAppendBody
	if err := speechDecodeStrict(body, &req); err != nil {
		speechParamError(w, "parameter error: body is not a valid append request: "+err.Error())
		return
	}
	if req.TaskID == nil {
		speechParamError(w, "parameter error: taskId is required")
		return
	}
	st := &s.speech
	st.mu.Lock()
	task, found := st.tasks[*req.TaskID]
	var identify string
	if found {
		identify = task.identify
	}
	st.mu.Unlock()
	if !found {
		speechParamError(w, "parameter error: task not found")
		return
	}
	if msg := checkSpeechCustomers(req.OutBoundCustomers, identify); msg != "" {
		speechParamError(w, "parameter error: "+msg)
		return
	}
	if _, bad := s.anyPoisoned(speechMobiles(req.OutBoundCustomers)); bad {
		speechParamError(w, "parameter error: invalid mobile in outBoundCustomers")
		return
	}
	st.mu.Lock()
	if task.customers+len(req.OutBoundCustomers) > speech.MaxCustomersPerTask {
		st.mu.Unlock()
		speechParamError(w, fmt.Sprintf("parameter error: a task holds at most %d customers", speech.MaxCustomersPerTask))
		return
	}
	task.customers += len(req.OutBoundCustomers)
	st.mu.Unlock()

	s.accept(Speech, speechFirstMobiles(req.OutBoundCustomers))
	speechAnswer(w, speech.CodeOK, "success", nil)
}

// checkSpeechCreate checks the task fields; it returns the problem or "".
func checkSpeechCreate(req *speechCreateBody) string {
	switch {
	case req.TaskName == nil || speechRuneLen(*req.TaskName) < 1 || speechRuneLen(*req.TaskName) > speech.MaxTaskNameLen:
		return "taskName must be 1 to 50 characters"
	case req.TaskType == nil || (*req.TaskType != speech.TaskTypeAuto && *req.TaskType != speech.TaskTypeManual):
		return "taskType must be 1 or 2"
	case !isSpeechDate(req.TaskExecStartDate) || !isSpeechDate(req.TaskExecEndDate):
		return "taskExecStartDate and taskExecEndDate must be yyyy-MM-dd"
	case len(req.TaskExecTimes) == 0:
		return "taskExecTimes is required"
	case req.SkillSetID == nil || *req.SkillSetID == "":
		return "skillSetId is required"
	case req.OutboundNumberGroupID == nil || *req.OutboundNumberGroupID == "":
		return "outboundNumberGroupId is required"
	case !isSpeechSwitch(req.StrategyDisplaySwitch):
		return "strategyDisplaySwitch must be true or false"
	case req.SendNumberStrategy == nil || (*req.SendNumberStrategy != speech.SendByMultiplier && *req.SendNumberStrategy != speech.SendPredictive):
		return "sendNumberStrategy must be 0 or 1"
	case *req.SendNumberStrategy == speech.SendByMultiplier && (req.MultiplyPower == nil || *req.MultiplyPower <= 0):
		return "multiplyPower must be greater than 0"
	case *req.SendNumberStrategy == speech.SendPredictive && (req.AbandonmentRate == nil || *req.AbandonmentRate < 1 || *req.AbandonmentRate > 5):
		return "abandonmentRate must be 1 to 5"
	case req.MaxRingingDuration == nil || *req.MaxRingingDuration < 20 || *req.MaxRingingDuration > 50:
		return "maxRingingDuration must be 20 to 50"
	case req.ACW == nil || *req.ACW < 1 || *req.ACW > 180:
		return "acw must be 1 to 180"
	case req.TaskDesc != nil && !utf8.ValidString(*req.TaskDesc):
		return "taskDesc is not valid UTF-8"
	case len(req.OutboundPhoneGroups) != 1:
		return "outboundPhoneGroups must hold exactly one group"
	}
	for i, t := range req.TaskExecTimes {
		if !isSpeechTime(t.Start) || !isSpeechTime(t.End) {
			return fmt.Sprintf("taskExecTimes[%d] must be HH:mm:ss", i)
		}
	}
	g := req.OutboundPhoneGroups[0]
	switch {
	case g.Name == "" || g.Identify == "":
		return "outboundPhoneGroups[0] name and identify are required"
	case g.AutoOutboundSwitch != 0 && g.AutoOutboundSwitch != 1:
		return "autoOutboundSwitch must be 0 or 1"
	case g.AutoOutboundSwitch == 1 && (g.AutoOutboundInterval < 5 || g.AutoOutboundInterval > 2880):
		return "autoOutboundInterval must be 5 to 2880"
	case g.AutoOutboundSwitch == 1 && (g.AutoOutboundTimes < 1 || g.AutoOutboundTimes > 3):
		return "autoOutboundTimes must be 1 to 3"
	}
	return ""
}

// checkSpeechCustomers checks one call's customers; it never quotes a number.
func checkSpeechCustomers(cs []speech.Customer, identify string) string {
	switch {
	case len(cs) == 0:
		return "outBoundCustomers is required"
	case len(cs) > speech.MaxCustomersPerCall:
		return fmt.Sprintf("at most %d outBoundCustomers per call", speech.MaxCustomersPerCall)
	}
	for i, c := range cs {
		if msg := checkSpeechCustomer(c, identify); msg != "" {
			return fmt.Sprintf("outBoundCustomers[%d] %s", i, msg)
		}
	}
	return ""
}

func checkSpeechCustomer(c speech.Customer, identify string) string {
	switch {
	case speechRuneLen(c.Name) < 1 || speechRuneLen(c.Name) > speech.MaxNameLen:
		return "name must be 1 to 20 characters"
	case speechRuneLen(c.Desc) > speech.MaxDescLen:
		return "desc must be at most 200 characters"
	case speechRuneLen(c.ExternalCustomerID) < 1 || speechRuneLen(c.ExternalCustomerID) > speech.MaxExternalCustomerIDLen:
		return "externalCustomerId must be 1 to 64 characters"
	case speechRuneLen(c.ExternalData) > speech.MaxExternalDataLen:
		return "externalData must be at most 40 characters"
	case len(c.PhoneGroupVoList) == 0:
		return "phoneGroupVoList is required"
	}
	relations := 0
	for _, g := range c.PhoneGroupVoList {
		if g.PhoneGroupIdentify != identify {
			return "phoneGroupIdentify does not match the task's phone group"
		}
		if len(g.Relations) == 0 {
			return "relations is required"
		}
		relations += len(g.Relations)
		for _, rel := range g.Relations {
			if !speechIsDigits(rel.Mobile) {
				return "mobile must be digits"
			}
		}
	}
	if relations > speech.MaxRelations {
		return "at most 3 relations"
	}
	return ""
}

// speechRuneLen counts characters; invalid UTF-8 counts as too long to pass any check.
func speechRuneLen(s string) int {
	if !utf8.ValidString(s) {
		return 1 << 30
	}
	return utf8.RuneCountInString(s)
}

func speechIsDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isSpeechDate(p *string) bool {
	if p == nil || len(*p) != len("2006-01-02") {
		return false
	}
	_, err := time.Parse("2006-01-02", *p)
	return err == nil
}

func isSpeechTime(s string) bool {
	if len(s) != len("15:04:05") {
		return false
	}
	_, err := time.Parse("15:04:05", s)
	return err == nil
}

func isSpeechSwitch(raw json.RawMessage) bool {
	switch string(raw) {
	case "true", "false", "0", "1":
		return true
	}
	return false
}

// speechMobiles is every number in the call, for the poison check.
func speechMobiles(cs []speech.Customer) []string {
	var out []string
	for _, c := range cs {
		for _, g := range c.PhoneGroupVoList {
			for _, rel := range g.Relations {
				out = append(out, rel.Mobile)
			}
		}
	}
	return out
}

// speechFirstMobiles is each customer's own number (the first relation), what the
// ledger records as delivered.
func speechFirstMobiles(cs []speech.Customer) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		if len(c.PhoneGroupVoList) > 0 && len(c.PhoneGroupVoList[0].Relations) > 0 {
			out = append(out, c.PhoneGroupVoList[0].Relations[0].Mobile)
		}
	}
	return out
}
