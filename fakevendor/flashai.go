package fakevendor

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/vendors/flashai"
)

// The fake flashai serves every endpoint the client uses under /flashai/<endpoint>.
// Beyond the contract sheet it answers as follows (the vendor's documents are silent):
//
//   - Checks run in this order: system-error fault (1004), JSON object body (1010),
//     clientId (1009), signType MD5 (1008), sign (1003), timestamp present (1010),
//     nonce of 6 alphanumerics (1010) not seen within ten minutes of s.now()
//     (1003, "nonce reused"). A nonce counts as seen once the signature holds.
//   - addPlan: a userId other than the configured one gets 101003; malformed
//     callDate, callHour, clear/isClear, recall, recallParams or mobileList get 1010,
//     as does a record with more than five "^" fields, an empty record, or "~" in its
//     params; more records than MaxPerCall get 101008; a poisoned number 1010; a
//     batch name already used 101007. Numbers that are not 11 or 12 digits, repeat
//     within the list, or are refused go to failMobileInfo as "phone:reason" items
//     joined by ","; the plan is made (and counted) even when every number failed.
//   - Pause, restart, stop and phone delete of an unknown batch get 101001; pause,
//     restart or delete of a stopped batch 101002. Repeating the state a batch is in
//     succeeds.
//   - The summary and list of an unknown batch get 1005. The list shows every
//     number "planning" (1); endCount is 0 unless calls are enabled
//     (flashai_results.go), and a stopped plan has planCount 0.
//     Deleted numbers leave the list and planCount but not acceptCount.
//   - The list pages count from 1; pageNum over 5000 gets 1006; batchCount is sent
//     as a string, as documented.

// FlashAIConfig is what the fake flashai expects of its callers.
type FlashAIConfig struct {
	ClientID     string
	ClientSecret string
	UserID       int64
	// MaxPerCall is the server's per-call maximum of numbers; zero means 1,000.
	MaxPerCall int
}

const flashaiDefaultMaxPerCall = 1000

// flashaiConfigFromEnv reads the client's FLASHAI_* variables; FLASHAI_BASE_URL is
// the client's business, not the fake's. None set gives the zero config, which
// refuses every call with 1009. Errors name the variable; the caller names the vendor.
func flashaiConfigFromEnv(getenv envconf.Getenv) (FlashAIConfig, error) {
	secret, err := envconf.Secret(getenv, flashai.EnvClientSecret)
	if err != nil {
		return FlashAIConfig{}, err
	}
	id, user := getenv(flashai.EnvClientID), getenv(flashai.EnvUserID)
	if id == "" && user == "" && secret == "" {
		return FlashAIConfig{}, nil
	}
	for _, v := range []struct{ name, val string }{
		{flashai.EnvClientID, id}, {flashai.EnvClientSecret, secret}, {flashai.EnvUserID, user},
	} {
		if v.val == "" {
			return FlashAIConfig{}, fmt.Errorf("%s is not set", v.name)
		}
	}
	uid, err := strconv.ParseInt(strings.TrimSpace(user), 10, 64)
	if err != nil || uid <= 0 {
		return FlashAIConfig{}, fmt.Errorf("%s must be a positive number", flashai.EnvUserID)
	}
	return FlashAIConfig{ClientID: id, ClientSecret: secret, UserID: uid}, nil
}

// flashaiState is what the fake flashai remembers between calls.
type flashaiState struct {
	mu sync.Mutex
	// nonces maps each nonce to when it was last seen; queue holds the same in
	// arrival order so that expired ones are dropped cheaply.
	nonces map[string]time.Time
	queue  []flashaiNonce
	plans  map[string]*flashaiPlan
}

type flashaiNonce struct {
	nonce string
	at    time.Time
}

type flashaiPlan struct {
	status  string // running, paused, stopped
	records []flashaiRecord
	// lines is addPlan's lineIds; agent marks an addAgentPlan plan (flashai_seed.go).
	lines string
	agent bool
}

type flashaiRecord struct {
	phone, attach, params, custName, custCompany string
	deleted                                      bool
}

func (st *flashaiState) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.nonces = map[string]time.Time{}
	st.queue = nil
	st.plans = map[string]*flashaiPlan{}
}

// useNonce records nonce at now and reports whether it was fresh.
func (st *flashaiState) useNonce(nonce string, now time.Time) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	for len(st.queue) > 0 && now.Sub(st.queue[0].at) >= flashai.NonceTTL {
		old := st.queue[0]
		st.queue = st.queue[1:]
		if st.nonces[old.nonce].Equal(old.at) {
			delete(st.nonces, old.nonce)
		}
	}
	if at, ok := st.nonces[nonce]; ok && now.Sub(at) < flashai.NonceTTL {
		return false
	}
	st.nonces[nonce] = now
	st.queue = append(st.queue, flashaiNonce{nonce, now})
	return true
}

// flashaiReply is an envelope to send: code, message and body.
type flashaiReply struct {
	code, msg string
	body      any
}

func flashaiFail(code, format string, args ...any) flashaiReply {
	return flashaiReply{code: code, msg: fmt.Sprintf(format, args...)}
}

// mountFlashAI mounts the flashai API under /flashai.
func (s *Server) mountFlashAI() {
	for path, h := range map[string]func(map[string]string) flashaiReply{
		"/addPlan":                 s.flashaiAddPlan,
		"/batchPlanPause":          func(p map[string]string) flashaiReply { return s.flashaiSetStatus(p, "paused") },
		"/batchPlanRestart":        func(p map[string]string) flashaiReply { return s.flashaiSetStatus(p, "running") },
		"/batchPlanStop":           func(p map[string]string) flashaiReply { return s.flashaiSetStatus(p, "stopped") },
		"/batchPhoneDelete":        s.flashaiPhoneDelete,
		"/getBatchPlanCallSummary": s.flashaiSummary,
		"/getBatchPlanList":        s.flashaiList,
	} {
		s.handle(FlashAI, path, s.flashaiEndpoint(h))
	}
	s.mountFlashAISeed()
}

// flashaiEndpoint checks what every endpoint shares, then runs h on the body's
// fields in their signed string form.
func (s *Server) flashaiEndpoint(h func(map[string]string) flashaiReply) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeFlashAI(w, s.flashaiCheck(r, func(p map[string]string) flashaiReply {
			nameCall(r, p["batchName"])
			return h(p)
		}))
	}
}

func (s *Server) flashaiCheck(r *http.Request, h func(map[string]string) flashaiReply) flashaiReply {
	if s.systemError() {
		return flashaiFail(flashai.CodeSystemError, "system error")
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return flashaiFail(flashai.CodeIllegalParams, "cannot read body")
	}
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers as sent, so they sign as sent
	if err := dec.Decode(&body); err != nil || body == nil {
		return flashaiFail(flashai.CodeIllegalParams, "body must be a JSON object")
	}
	p, err := flashai.StringParams(body)
	if err != nil {
		return flashaiFail(flashai.CodeIllegalParams, "illegal parameters: %v", err)
	}
	cfg := s.cfg.FlashAI
	switch {
	case cfg.ClientID == "" || p["clientId"] != cfg.ClientID:
		return flashaiFail(flashai.CodeUnknownClient, "unknown clientId")
	case p["signType"] != flashai.SignType:
		return flashaiFail(flashai.CodeBadSignType, "signType must be MD5")
	case subtle.ConstantTimeCompare([]byte(p["sign"]), []byte(flashai.Sign(p, cfg.ClientSecret))) != 1 || s.spuriousAuth():
		return flashaiFail(flashai.CodeBadSign, "bad sign")
	case p["timestamp"] == "":
		return flashaiFail(flashai.CodeIllegalParams, "timestamp missing")
	case !flashai.ValidNonce(p["nonce"]):
		return flashaiFail(flashai.CodeIllegalParams, "nonce must be 6 alphanumerics")
	case !s.flashai.useNonce(p["nonce"], s.now()):
		return flashaiFail(flashai.CodeBadSign, "nonce reused")
	}
	return h(p)
}

func writeFlashAI(w http.ResponseWriter, rep flashaiReply) {
	code := rep.code
	if code == "" {
		code = flashai.CodeOK
	}
	msg := rep.msg
	if msg == "" && code == flashai.CodeOK {
		msg = "success"
	}
	writeJSON(w, map[string]any{"code": code, "msg": msg, "success": code == flashai.CodeOK, "body": rep.body})
}

func (s *Server) flashaiAddPlan(p map[string]string) flashaiReply {
	cfg := s.cfg.FlashAI
	illegal := func(format string, args ...any) flashaiReply {
		return flashaiFail(flashai.CodeIllegalParams, format, args...)
	}
	switch {
	case p["userId"] == "":
		return illegal("userId missing")
	case p["userId"] != strconv.FormatInt(cfg.UserID, 10):
		return flashaiFail("101003", "userId does not belong to this client")
	case p["batchName"] == "":
		return illegal("batchName missing")
	case p["botenceId"] == "":
		return illegal("botenceId missing")
	case !flashaiDate(p["callDate"]):
		return illegal("callDate must be yyyyMMdd")
	case !flashaiHours(p["callHour"]):
		return illegal("callHour must be a comma list of hours 9-20")
	case !flashaiFlag(p["clear"]) || (p["isClear"] != "" && !flashaiFlag(p["isClear"])):
		return illegal("clear must be 0 or 1")
	case !flashaiFlag(p["recall"]):
		return illegal("recall must be 0 or 1")
	case p["recall"] == "1" && p["recallParams"] == "":
		return illegal("recallParams required when recall is 1")
	}
	accepted, acceptedNums, fails, refused := s.flashaiReadList(p["mobileList"])
	if refused != nil {
		return *refused
	}

	st := &s.flashai
	st.mu.Lock()
	if _, dup := st.plans[p["batchName"]]; dup {
		st.mu.Unlock()
		return flashaiFail(flashai.CodeDuplicateBatchName, "batch name already exists")
	}
	st.plans[p["batchName"]] = &flashaiPlan{status: "running", records: accepted, lines: p["lineIds"]}
	st.mu.Unlock()
	s.flashaiPlanAccepted(p["batchName"], p["notifyUrl"])
	s.addTask(FlashAI)
	s.accept(FlashAI, acceptedNums)
	return flashaiReply{body: map[string]any{
		"rightCount":     len(accepted),
		"failCount":      len(fails),
		"failMobileInfo": strings.Join(fails, ","),
	}}
}

// flashaiParseMobileList splits the list the way the vendor does; any structural
// fault fails the whole call.
func flashaiParseMobileList(list string) ([]flashaiRecord, error) {
	if list == "" {
		return nil, fmt.Errorf("empty")
	}
	var out []flashaiRecord
	for i, rec := range strings.Split(list, "|") {
		if rec == "" {
			return nil, fmt.Errorf("record %d is empty", i+1)
		}
		f := strings.Split(rec, "^")
		if len(f) > 5 {
			return nil, fmt.Errorf("record %d has %d fields, at most 5", i+1, len(f))
		}
		for len(f) < 5 {
			f = append(f, "")
		}
		if strings.Contains(f[2], "~") {
			return nil, fmt.Errorf(`record %d has "~" in its params`, i+1)
		}
		out = append(out, flashaiRecord{phone: f[0], attach: f[1], params: f[2], custName: f[3], custCompany: f[4]})
	}
	return out, nil
}

func flashaiPhone(p string) bool {
	if len(p) != 11 && len(p) != 12 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

func flashaiDate(s string) bool {
	if len(s) != 8 {
		return false
	}
	_, err := time.Parse("20060102", s)
	return err == nil
}

func flashaiHours(s string) bool {
	if s == "" {
		return false
	}
	for _, h := range strings.Split(s, ",") {
		n, err := strconv.Atoi(h)
		if err != nil || n < flashai.MinCallHour || n > flashai.MaxCallHour {
			return false
		}
	}
	return true
}

func flashaiFlag(s string) bool { return s == "0" || s == "1" }

// flashaiPlanFor runs f on the named plan under the state's lock; an unknown
// batch gets missing.
func (s *Server) flashaiPlanFor(name, missing string, f func(*flashaiPlan) flashaiReply) flashaiReply {
	if name == "" {
		return flashaiFail(flashai.CodeIllegalParams, "batchName missing")
	}
	st := &s.flashai
	st.mu.Lock()
	defer st.mu.Unlock()
	pl, ok := st.plans[name]
	if !ok {
		if missing == flashai.CodeNoResult {
			return flashaiFail(missing, "no result")
		}
		return flashaiFail(missing, "batch not found")
	}
	return f(pl)
}

func (s *Server) flashaiSetStatus(p map[string]string, status string) flashaiReply {
	return s.flashaiPlanFor(p["batchName"], flashai.CodeOperationFailed, func(pl *flashaiPlan) flashaiReply {
		if pl.status == "stopped" && status != "stopped" {
			return flashaiFail("101002", "batch is stopped")
		}
		pl.status = status
		if status == "stopped" {
			s.flashaiPlanStopped(p["batchName"])
		}
		return flashaiReply{}
	})
}

func (s *Server) flashaiPhoneDelete(p map[string]string) flashaiReply {
	phones := trimmedNumbers(p["phoneList"], "^")
	if len(phones) == 0 {
		return flashaiFail(flashai.CodeIllegalParams, "phoneList missing")
	}
	return s.flashaiPlanFor(p["batchName"], flashai.CodeOperationFailed, func(pl *flashaiPlan) flashaiReply {
		if pl.status == "stopped" {
			return flashaiFail("101002", "batch is stopped")
		}
		del := map[string]bool{}
		for _, ph := range phones {
			del[ph] = true
		}
		for i := range pl.records {
			if del[pl.records[i].phone] {
				pl.records[i].deleted = true
			}
		}
		return flashaiReply{}
	})
}

func (s *Server) flashaiSummary(p map[string]string) flashaiReply {
	return s.flashaiPlanFor(p["batchName"], flashai.CodeNoResult, func(pl *flashaiPlan) flashaiReply {
		planned := 0
		if pl.status != "stopped" {
			for _, r := range pl.records {
				if !r.deleted {
					planned++
				}
			}
		}
		ended := s.flashaiEnded(p["batchName"], pl)
		if pl.status != "stopped" {
			planned = max(planned-ended, 0)
		}
		return flashaiReply{body: map[string]any{
			"batchName": p["batchName"], "acceptCount": len(pl.records), "endCount": ended, "planCount": planned,
		}}
	})
}

func (s *Server) flashaiList(p map[string]string) flashaiReply {
	page, errPage := strconv.Atoi(p["page"])
	size, errSize := strconv.Atoi(p["pageNum"])
	status := 0
	var errStatus error
	if p["phoneStatus"] != "" {
		status, errStatus = strconv.Atoi(p["phoneStatus"])
	}
	switch {
	case errPage != nil || page < 1:
		return flashaiFail(flashai.CodeIllegalParams, "page must be a number from 1")
	case errSize != nil || size < 1:
		return flashaiFail(flashai.CodeIllegalParams, "pageNum must be a positive number")
	case size > flashai.MaxPageNum:
		return flashaiFail(flashai.CodePageTooLarge, "pageNum over %d", flashai.MaxPageNum)
	case errStatus != nil || status < 0 || status > flashai.PhoneFailed:
		return flashaiFail(flashai.CodeIllegalParams, "phoneStatus must be 1, 2 or 3")
	}
	return s.flashaiPlanFor(p["batchName"], flashai.CodeNoResult, func(pl *flashaiPlan) flashaiReply {
		var rows []string
		for _, r := range pl.records {
			// Every number the fake holds is still planning.
			if r.deleted || (status != 0 && status != flashai.PhonePlanning) {
				continue
			}
			rows = append(rows, strings.Join([]string{
				r.phone, r.attach, r.params, r.custName, r.custCompany, strconv.Itoa(flashai.PhonePlanning),
			}, "^"))
		}
		total := len(rows)
		from := total
		if page-1 <= total/size { // guards the product against overflow
			from = min((page-1)*size, total)
		}
		to := min(from+size, total)
		return flashaiReply{body: map[string]any{
			"batchName":   p["batchName"],
			"batchCount":  strconv.Itoa(len(pl.records)),
			"mobileList":  strings.Join(rows[from:to], "|"),
			"phoneStatus": status,
			"totalPage":   (total + size - 1) / size,
			"totalRecord": total,
			"page":        page,
			"pageNum":     size,
		}}
	})
}
