package fakevendor

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dialq/dialq/vendors/flashai"
)

// The fake flashai's calls (seed 004's results endpoints). With FlashAICalls.Enabled
// each number a plan accepted is "called" once: its fate and when its call ends
// are drawn from a hash of the seed, the batch name and the number, so a run is
// repeatable, and the numbers' calls end spread over Delay after the plan was
// accepted (by the server's clock, Config.Now):
//
//   - a share NotCalled never gets a call record (the line gave up): it still counts
//     in endCount once its time has passed, as the vendor counts a number it is done
//     with;
//   - of the others, a share Answer is answered (answer time set, 5-120 s), the
//     rest not answered (no answer time, duration 0);
//   - getBatchPlanCallList lists the ended calls in the order of the plan, records
//     phone^yyyyMMdd^call time^hang-up time^answer time^duration^intent tag^intent
//     note^detail, times "yyyy-MM-dd HH:mm:ss" in UTC+8, paged like getBatchPlanList;
//   - getBatchPlanCallSummary's endCount counts the ended numbers and planCount the
//     rest; a stopped plan ends nothing more after it was stopped;
//   - once every number of a plan ended, the plan's notifyUrl (if any) gets one POST
//     of {"batchName","acceptCount","endCount"}: the seed gives no format, so this
//     is ours. NotifyDue sends what is due now (tests with a fake clock call it);
//     a timer calls it too when the server runs on the real clock.
//
// Without FlashAICalls.Enabled the fake never dials, as before: endCount stays 0.

// FlashAICallsConfig sets how the fake flashai's calls end.
type FlashAICallsConfig struct {
	Enabled bool `json:"enabled"`
	// Answer is the share (0..1) of called numbers that answer.
	Answer float64 `json:"answer"`
	// NotCalled is the share (0..1) of numbers that never get a call.
	NotCalled float64 `json:"not_called"`
	// Delay is the span after acceptance over which the calls end.
	Delay time.Duration `json:"delay"`
}

// flashaiCalls is the fake's call state, beside flashaiState.
type flashaiCalls struct {
	mu  sync.Mutex
	cfg FlashAICallsConfig
	// plans: batch name -> when accepted, its notify URL, when stopped, notified.
	plans map[string]*flashaiCallPlan
	http  *http.Client
}

type flashaiCallPlan struct {
	accepted, stopped time.Time
	notifyURL         string
	notified          bool
}

// SetFlashAICalls changes how the fake flashai's calls end; plans made before keep
// their acceptance time and take the new shares.
func (s *Server) SetFlashAICalls(cfg FlashAICallsConfig) {
	s.flashaiCalls.mu.Lock()
	defer s.flashaiCalls.mu.Unlock()
	s.flashaiCalls.cfg = cfg
}

func (c *flashaiCalls) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.plans = map[string]*flashaiCallPlan{}
	if c.http == nil {
		c.http = &http.Client{Timeout: 5 * time.Second}
	}
}

// flashaiPlanAccepted notes a new plan (called by flashaiAddPlan).
func (s *Server) flashaiPlanAccepted(name, notifyURL string) {
	c := &s.flashaiCalls
	c.mu.Lock()
	c.plans[name] = &flashaiCallPlan{accepted: s.now(), notifyURL: notifyURL}
	cfg := c.cfg
	c.mu.Unlock()
	if cfg.Enabled && notifyURL != "" {
		time.AfterFunc(cfg.Delay+50*time.Millisecond, s.NotifyDue)
	}
}

// flashaiPlanStopped notes a stop: no call ends after it.
func (s *Server) flashaiPlanStopped(name string) {
	c := &s.flashaiCalls
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.plans[name]; p != nil && p.stopped.IsZero() {
		p.stopped = s.now()
	}
}

// flashaiFate is what becomes of one number of a plan.
type flashaiFate struct {
	ends                 time.Time
	called, answered     bool
	durationS, answerOff int
}

func (s *Server) flashaiFateOf(cfg FlashAICallsConfig, p *flashaiCallPlan, name, phone string) flashaiFate {
	var seed [8]byte
	binary.LittleEndian.PutUint64(seed[:], s.cfg.Seed)
	sum := sha256.Sum256(append(seed[:], name+"\x00"+phone...))
	u := func(i int) float64 { return float64(binary.LittleEndian.Uint32(sum[i*4:])) / (1 << 32) }
	f := flashaiFate{ends: p.accepted.Add(time.Duration(u(0) * float64(cfg.Delay)))}
	f.called = u(1) >= cfg.NotCalled
	f.answered = f.called && u(2) < cfg.Answer
	if f.answered {
		f.durationS = 5 + int(u(3)*115)
		f.answerOff = 1 + int(u(3)*10)%10
	}
	return f
}

// ended reports whether the number's call has ended by now, given a stop.
func (f flashaiFate) ended(now time.Time, p *flashaiCallPlan) bool {
	if !p.stopped.IsZero() && f.ends.After(p.stopped) {
		return false
	}
	return !f.ends.After(now)
}

// flashaiEnded counts a plan's ended numbers (called with the plan state locked).
func (s *Server) flashaiEnded(name string, pl *flashaiPlan) int {
	c := &s.flashaiCalls
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.plans[name]
	if !c.cfg.Enabled || p == nil {
		return 0
	}
	now, n := s.now(), 0
	for _, r := range pl.records {
		if s.flashaiFateOf(c.cfg, p, name, r.phone).ended(now, p) {
			n++
		}
	}
	return n
}

var flashaiZone = flashai.DefaultLocation

func (s *Server) mountFlashAIResults() {
	s.handle(FlashAI, "/getBatchPlanCallList", s.flashaiEndpoint(s.flashaiCallList))
	s.handle(FlashAI, "/getPhoneDetail", s.flashaiEndpoint(s.flashaiPhoneDetail))
	s.mux.HandleFunc("POST /_admin/flashai/calls", func(w http.ResponseWriter, r *http.Request) {
		var cfg FlashAICallsConfig
		if err := json.NewDecoder(r.Body).Decode(&cfg); err != nil {
			http.Error(w, "calls: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.SetFlashAICalls(cfg)
		writeJSON(w, cfg)
	})
	s.mux.HandleFunc("GET /_admin/flashai/results", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.FlashAIResults())
	})
}

// flashaiCallRecords lists a plan's ended calls (plan state locked by the caller).
func (s *Server) flashaiCallRecords(name string, pl *flashaiPlan) []string {
	c := &s.flashaiCalls
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.plans[name]
	if !c.cfg.Enabled || p == nil {
		return nil
	}
	now := s.now()
	var rows []string
	for _, r := range pl.records {
		f := s.flashaiFateOf(c.cfg, p, name, r.phone)
		if !f.called || !f.ended(now, p) {
			continue
		}
		start := f.ends.Add(-time.Duration(f.durationS+f.answerOff+20) * time.Second).In(flashaiZone)
		const layout = "2006-01-02 15:04:05"
		answer, tag, note, detail := "", "F", "no answer", ""
		if f.answered {
			answer = start.Add(time.Duration(f.answerOff) * time.Second).Format(layout)
			tag, note = "A", "interested"
			detail = "hello-" + answer + "-yes-" + answer + "$bye-" + f.ends.In(flashaiZone).Format(layout)
		}
		rows = append(rows, strings.Join([]string{
			r.phone, start.Format("20060102"), start.Format(layout), f.ends.In(flashaiZone).Format(layout),
			answer, strconv.Itoa(f.durationS), tag, note, detail,
		}, "^"))
	}
	return rows
}

func (s *Server) flashaiCallList(p map[string]string) flashaiReply {
	page, errPage := strconv.Atoi(p["page"])
	size, errSize := strconv.Atoi(p["pageNum"])
	switch {
	case errPage != nil || page < 1:
		return flashaiFail(flashai.CodeIllegalParams, "page must be a number from 1")
	case errSize != nil || size < 1:
		return flashaiFail(flashai.CodeIllegalParams, "pageNum must be a positive number")
	case size > flashai.MaxPageNum:
		return flashaiFail(flashai.CodePageTooLarge, "pageNum over %d", flashai.MaxPageNum)
	}
	return s.flashaiPlanFor(p["batchName"], flashai.CodeNoResult, func(pl *flashaiPlan) flashaiReply {
		rows := s.flashaiCallRecords(p["batchName"], pl)
		total := len(rows)
		from := total
		if page-1 <= total/size {
			from = min((page-1)*size, total)
		}
		to := min(from+size, total)
		return flashaiReply{body: map[string]any{
			"batchName":   p["batchName"],
			"batchCount":  strconv.Itoa(len(pl.records)),
			"callList":    strings.Join(rows[from:to], "|"),
			"totalPage":   (total + size - 1) / size,
			"totalRecord": total,
			"page":        page,
			"pageNum":     size,
		}}
	})
}

func (s *Server) flashaiPhoneDetail(p map[string]string) flashaiReply {
	phone := p["phone"]
	if phone == "" {
		return flashaiFail(flashai.CodeIllegalParams, "phone missing")
	}
	return s.flashaiPlanFor(p["batchName"], flashai.CodeNoResult, func(pl *flashaiPlan) flashaiReply {
		for _, row := range s.flashaiCallRecords(p["batchName"], pl) {
			if strings.HasPrefix(row, phone+"^") {
				return flashaiReply{body: map[string]any{"phone": phone, "record": row}}
			}
		}
		return flashaiFail(flashai.CodeNoResult, "no result")
	})
}

// NotifyDue posts the callback of every plan whose numbers have all ended and
// that has not been notified yet.
func (s *Server) NotifyDue() {
	type due struct {
		url, name string
		n         int
	}
	var send []due
	st := &s.flashai
	st.mu.Lock()
	for name, pl := range st.plans {
		if ended := s.flashaiEnded(name, pl); ended == len(pl.records) {
			c := &s.flashaiCalls
			c.mu.Lock()
			if p := c.plans[name]; p != nil && p.notifyURL != "" && !p.notified {
				p.notified = true
				send = append(send, due{p.notifyURL, name, ended})
			}
			c.mu.Unlock()
		}
	}
	st.mu.Unlock()
	for _, d := range send {
		body, _ := json.Marshal(map[string]any{"batchName": d.name, "acceptCount": d.n, "endCount": d.n})
		resp, err := s.flashaiCalls.http.Post(d.url, "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
	}
}

// FlashAIResults is how each number of each plan ended so far, by batch name and
// number as sent: answered, not_answered, not_called (ended without a call) or
// pending. Tests and the e2e compare dialq's results with it.
func (s *Server) FlashAIResults() map[string]map[string]string {
	st := &s.flashai
	st.mu.Lock()
	defer st.mu.Unlock()
	c := &s.flashaiCalls
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]map[string]string{}
	now := s.now()
	for name, pl := range st.plans {
		m := map[string]string{}
		p := c.plans[name]
		for _, r := range pl.records {
			state := "pending"
			if c.cfg.Enabled && p != nil {
				f := s.flashaiFateOf(c.cfg, p, name, r.phone)
				switch {
				case !f.ended(now, p):
				case !f.called:
					state = "not_called"
				case f.answered:
					state = "answered"
				default:
					state = "not_answered"
				}
			}
			m[r.phone] = state
		}
		out[name] = m
	}
	return out
}
