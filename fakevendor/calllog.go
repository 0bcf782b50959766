package fakevendor

import (
	"context"
	"net/http"
	"time"
)

// Call is one vendor API request as the fake received it: when it arrived (before
// any injected latency), where, and the vendor task it named, where the endpoint
// names one (FlashAI batchName). Tests read it to prove when calls started.
type Call struct {
	Vendor, Path, Name string
	At                 time.Time
}

type callKey struct{}

// logCall starts the record of a request; the endpoint may name its task through
// nameCall, and the record is kept once the request is answered.
func (s *Server) logCall(vendor string, r *http.Request) (*http.Request, func()) {
	c := &Call{Vendor: vendor, Path: r.URL.Path, At: time.Now()}
	return r.WithContext(context.WithValue(r.Context(), callKey{}, c)), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.log = append(s.log, *c)
	}
}

// nameCall notes the vendor task r names.
func nameCall(r *http.Request, name string) {
	if c, ok := r.Context().Value(callKey{}).(*Call); ok {
		c.Name = name
	}
}

// Calls returns every request made to vendor since the start or the last reset.
func (s *Server) Calls(vendor string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.log {
		if c.Vendor == vendor {
			out = append(out, c)
		}
	}
	return out
}

// FlashAIPlans returns each FlashAI plan the fake holds with its status (running,
// paused, stopped).
func (s *Server) FlashAIPlans() map[string]string {
	st := &s.flashai
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make(map[string]string, len(st.plans))
	for name, pl := range st.plans {
		out[name] = pl.status
	}
	return out
}
