// Package fakevendor is one HTTP server that speaks all four vendors' APIs, strictly:
// it checks signatures and limits the way the contract sheet says, answers with each
// vendor's own codes, keeps a ledger of every number accepted, and injects faults on
// demand. Tests, benchmarks and the demo all deliver to it over real HTTP.
package fakevendor

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Vendor names, as used in paths (/nxcloud/...) and in the ledger.
const (
	NXCloud = "nxcloud"
	Yccall  = "yccall"
	Speech  = "speech"
	FlashAI = "flashai"
)

// Config holds the credentials each vendor expects and the faults to inject.
type Config struct {
	NXCloud NXCloudConfig
	Yccall  YccallConfig
	Speech  SpeechConfig
	FlashAI FlashAIConfig
	// FlashAICalls makes the fake flashai's calls end over time (flashai_results.go).
	FlashAICalls FlashAICallsConfig
	Faults       Faults
	// Seed makes fault injection repeatable; zero picks one at random.
	Seed uint64
	// Now is the vendor's clock (signature skew checks); nil means time.Now.
	Now func() time.Time
}

// Faults are shares (0..1) of requests that fail in each way. Every fault is
// injected before the request is processed, so nothing reaches the ledger.
type Faults struct {
	ServerError float64 `json:"server_error"`
	Throttle    float64 `json:"throttle"`
	// RetryAfterSeconds is sent with each 429.
	RetryAfterSeconds int     `json:"retry_after_seconds"`
	Timeout           float64 `json:"timeout"`
	// TimeoutMillis is how long a timed-out request is held before a 504.
	TimeoutMillis int     `json:"timeout_ms"`
	Drop          float64 `json:"drop"`
	Malformed     float64 `json:"malformed"`
	SystemError   float64 `json:"system_error"`
	// LatencyMillis is added to every request.
	LatencyMillis int `json:"latency_ms"`

	// AuthRefuse is a count, not a share: the next AuthRefuse requests whose
	// signature or token is valid are refused anyway with the vendor's
	// authentication code (NXCloud 1003, Yccall ret 600, speech 10001, FlashAI
	// 1003), as clock skew or a key rotation does. 1 is "one spurious refusal".
	AuthRefuse int `json:"auth_refuse"`
	// SpeechDuplicateCode and SpeechDuplicateMessage are how speech answers a
	// create whose task name is taken; empty means 29002 "taskName already exists".
	// The documents give no code, so tests play each plausible one.
	SpeechDuplicateCode    string `json:"speech_duplicate_code"`
	SpeechDuplicateMessage string `json:"speech_duplicate_message"`
}

// Server is the fake vendor. Build it with New; it is an http.Handler.
type Server struct {
	cfg Config
	mux *http.ServeMux

	mu       sync.Mutex
	faults   Faults
	rng      *rand.Rand
	ledger   map[string]*vendorLedger
	refused  map[string]string // number as sent -> reason given inside an accepted call
	poisoned map[string]bool   // number as sent -> makes its whole call a parameter error
	calls    map[string]map[int64]int
	log      []Call

	// What each vendor remembers between calls (tokens, tasks, names, nonces); each
	// type lives in its vendor's file and guards itself.
	nxcloud nxcloudState
	yccall  yccallState
	speech  speechState
	flashai flashaiState
	// flashaiCalls is how the fake flashai's calls end (flashai_results.go).
	flashaiCalls flashaiCalls
	// faTenant is the fake flashai's tenant (flashai_seed.go): configuration, kept across Reset.
	faTenant flashaiTenantState
}

type vendorLedger struct {
	numbers map[string]int
	tasks   int
	// accepts are the calls that accepted numbers, in order; inflight counts the
	// requests being served, maxInflight the most at once.
	accepts               []Accept
	inflight, maxInflight int
}

// Accept is one call's numbers accepted, when the vendor took them.
type Accept struct {
	At time.Time `json:"at"`
	N  int       `json:"n"`
}

// New builds a server from cfg.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{
		cfg:      cfg,
		mux:      http.NewServeMux(),
		faults:   cfg.Faults,
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		ledger:   map[string]*vendorLedger{},
		refused:  map[string]string{},
		poisoned: map[string]bool{},
		calls:    map[string]map[int64]int{},
	}
	s.resetVendors()
	s.flashaiCalls.cfg = cfg.FlashAICalls
	s.mountNXCloud()
	s.mountYccall()
	s.mountSpeech()
	s.mountFlashAI()
	s.mountFlashAIResults()
	s.mux.HandleFunc("GET /_admin/ledger", s.handleLedger)
	s.mux.HandleFunc("GET /_admin/stats", s.handleStats)
	s.mux.HandleFunc("POST /_admin/faults", s.handleFaults)
	s.mux.HandleFunc("POST /_admin/refuse", s.handleRefuse)
	s.mux.HandleFunc("POST /_admin/poison", s.handlePoison)
	s.mux.HandleFunc("POST /_admin/reset", s.handleReset)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handle mounts h for vendor under /<vendor><path>, counting the call and injecting
// HTTP-level faults first. The vendor's own "system error" fault is left to h: it
// asks s.systemError, because only h knows the vendor's envelope.
func (s *Server) handle(vendor, path string, h http.HandlerFunc) {
	s.mux.HandleFunc("POST /"+vendor+path, func(w http.ResponseWriter, r *http.Request) {
		s.countCall(vendor)
		r, done := s.logCall(vendor, r)
		defer done()
		defer s.track(vendor)()
		if s.injectFault(w) {
			return
		}
		h(w, r)
	})
}

func (s *Server) now() time.Time { return s.cfg.Now() }

func (s *Server) countCall(vendor string) {
	sec := time.Now().Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.calls[vendor]
	if m == nil {
		m = map[int64]int{}
		s.calls[vendor] = m
	}
	m[sec]++
}

func (s *Server) roll(share float64) bool {
	return share > 0 && s.rng.Float64() < share
}

// injectFault writes an HTTP-level fault and reports whether it did.
func (s *Server) injectFault(w http.ResponseWriter) bool {
	s.mu.Lock()
	f := s.faults
	serverError, throttle := s.roll(f.ServerError), s.roll(f.Throttle)
	timeout, drop, malformed := s.roll(f.Timeout), s.roll(f.Drop), s.roll(f.Malformed)
	s.mu.Unlock()
	if f.LatencyMillis > 0 {
		time.Sleep(time.Duration(f.LatencyMillis) * time.Millisecond)
	}
	switch {
	case serverError:
		http.Error(w, "injected server error", http.StatusServiceUnavailable)
	case throttle:
		w.Header().Set("Retry-After", fmt.Sprint(max(f.RetryAfterSeconds, 1)))
		http.Error(w, "injected throttle", http.StatusTooManyRequests)
	case timeout:
		time.Sleep(time.Duration(max(f.TimeoutMillis, 1)) * time.Millisecond)
		http.Error(w, "injected timeout", http.StatusGatewayTimeout)
	case drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	case malformed:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"code":`)
	default:
		return false
	}
	return true
}

// systemError reports whether this request should get the vendor's own system error.
func (s *Server) systemError() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roll(s.faults.SystemError)
}

// spuriousAuth reports whether this request, whose credentials are valid, is to be
// refused as unauthenticated anyway; it uses up one Faults.AuthRefuse.
func (s *Server) spuriousAuth() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.AuthRefuse <= 0 {
		return false
	}
	s.faults.AuthRefuse--
	return true
}

// RefuseAuth makes the next n validly signed requests fail authentication,
// leaving the other faults as they are.
func (s *Server) RefuseAuth(n int) {
	s.mu.Lock()
	s.faults.AuthRefuse = n
	s.mu.Unlock()
}

// SetFaults replaces the faults in force.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// Refuse makes the vendor refuse number (as sent) inside an otherwise accepted call,
// where the vendor reports such refusals (Yccall invaliddata, FlashAI failMobileInfo).
func (s *Server) Refuse(reason string, numbers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range numbers {
		s.refused[n] = reason
	}
}

// refusal tells whether number is to be refused, and why.
func (s *Server) refusal(number string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refused[number]
	return r, ok
}

// Poison makes any call carrying number fail as a whole with the vendor's parameter
// error, the case the worker must isolate by bisection.
func (s *Server) Poison(numbers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range numbers {
		s.poisoned[n] = true
	}
}

// anyPoisoned reports the first poisoned number in numbers.
func (s *Server) anyPoisoned(numbers []string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range numbers {
		if s.poisoned[n] {
			return n, true
		}
	}
	return "", false
}

// addTask counts one new vendor task (a created task, plan or batch).
func (s *Server) addTask(vendor string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vendorLedger(vendor).tasks++
}

// accept records numbers (as sent) as accepted by vendor.
func (s *Server) accept(vendor string, numbers []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.vendorLedger(vendor)
	for _, n := range numbers {
		l.numbers[n]++
	}
	if len(numbers) > 0 {
		l.accepts = append(l.accepts, Accept{At: time.Now(), N: len(numbers)})
	}
}

// track counts a request of vendor in flight until the returned func runs.
func (s *Server) track(vendor string) func() {
	s.mu.Lock()
	l := s.vendorLedger(vendor)
	l.inflight++
	l.maxInflight = max(l.maxInflight, l.inflight)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		l.inflight--
		s.mu.Unlock()
	}
}

func (s *Server) vendorLedger(vendor string) *vendorLedger {
	l := s.ledger[vendor]
	if l == nil {
		l = &vendorLedger{numbers: map[string]int{}}
		s.ledger[vendor] = l
	}
	return l
}

// Ledger is what a vendor accepted: each number as sent with the times it was
// received, and how many vendor tasks were made.
type Ledger struct {
	Vendor  string         `json:"vendor"`
	Numbers map[string]int `json:"numbers"`
	Tasks   int            `json:"tasks"`
	// Accepts are the calls that accepted numbers, with when; MaxInflight is the
	// most requests served at once.
	Accepts     []Accept `json:"accepts"`
	MaxInflight int      `json:"max_inflight"`
}

// Ledger returns a copy of vendor's ledger.
func (s *Server) Ledger(vendor string) Ledger {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.vendorLedger(vendor)
	out := Ledger{Vendor: vendor, Numbers: make(map[string]int, len(l.numbers)), Tasks: l.tasks,
		Accepts: append([]Accept(nil), l.accepts...), MaxInflight: l.maxInflight}
	for n, c := range l.numbers {
		out.Numbers[n] = c
	}
	return out
}

// Stats are request counts: total per vendor and the busiest one-second window.
type Stats struct {
	Calls     map[string]int `json:"calls"`
	MaxPerSec map[string]int `json:"max_per_second"`
	// PerSecond lists each vendor's calls per whole second, oldest first.
	PerSecond map[string][]int `json:"per_second"`
}

// Stats returns the request counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Calls: map[string]int{}, MaxPerSec: map[string]int{}, PerSecond: map[string][]int{}}
	for v, m := range s.calls {
		secs := make([]int64, 0, len(m))
		for sec, n := range m {
			st.Calls[v] += n
			st.MaxPerSec[v] = max(st.MaxPerSec[v], n)
			secs = append(secs, sec)
		}
		sort.Slice(secs, func(i, j int) bool { return secs[i] < secs[j] })
		for _, sec := range secs {
			st.PerSecond[v] = append(st.PerSecond[v], m[sec])
		}
	}
	return st
}

// Reset forgets the ledger, refusals, poison, counts and vendor state; faults stay.
func (s *Server) Reset() {
	s.mu.Lock()
	s.ledger = map[string]*vendorLedger{}
	s.refused = map[string]string{}
	s.poisoned = map[string]bool{}
	s.calls = map[string]map[int64]int{}
	s.log = nil
	s.mu.Unlock()
	s.resetVendors()
}

func (s *Server) resetVendors() {
	s.nxcloud.reset()
	s.yccall.reset()
	s.speech.reset()
	s.flashai.reset()
	s.flashaiCalls.reset()
}

func (s *Server) handleLedger(w http.ResponseWriter, r *http.Request) {
	vendor := r.URL.Query().Get("vendor")
	switch vendor {
	case NXCloud, Yccall, Speech, FlashAI:
	default:
		http.Error(w, "vendor must be one of nxcloud, yccall, speech, flashai", http.StatusBadRequest)
		return
	}
	writeJSON(w, s.Ledger(vendor))
}

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.Stats()) }

func (s *Server) handleFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
		http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.SetFaults(f)
	writeJSON(w, f)
}

type numbersRequest struct {
	Numbers []string `json:"numbers"`
	Reason  string   `json:"reason"`
}

func (s *Server) handleRefuse(w http.ResponseWriter, r *http.Request) {
	var req numbersRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "refuse: "+err.Error(), http.StatusBadRequest)
		return
	}
	if req.Reason == "" {
		req.Reason = "refused by fake vendor"
	}
	s.Refuse(req.Reason, req.Numbers...)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handlePoison(w http.ResponseWriter, r *http.Request) {
	var req numbersRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "poison: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.Poison(req.Numbers...)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleReset(w http.ResponseWriter, _ *http.Request) {
	s.Reset()
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Listen serves s on addr until the listener is closed; it returns the bound address
// (useful with port 0) and a function that stops the server.
func (s *Server) Listen(addr string) (string, func() error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("fake vendor listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), srv.Close, nil
}

// trimmedNumbers splits a separator list, dropping empty items.
func trimmedNumbers(list, sep string) []string {
	var out []string
	for _, p := range strings.Split(list, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
