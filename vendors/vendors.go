// Package vendors holds what every vendor client shares: the classification of
// failures the worker acts on, and the guarded HTTP round trip. Each vendor has
// its own client package below this one.
package vendors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/dialq/dialq/internal/tracing"
)

// Class tells the worker what to do with a failed call.
type Class int

const (
	// Unknown is the zero value; ClassOf never returns it.
	Unknown Class = iota
	// Transient failures were not processed by the vendor: retry with backoff.
	Transient
	// Throttled means the vendor asked us to slow down: wait (RetryAfter) and retry.
	Throttled
	// InvalidPart is a parameter error over a whole call: split it and resubmit the halves.
	InvalidPart
	// Permanent failures must never be retried.
	Permanent
	// Ambiguous means the request reached the vendor but no answer came back: it may
	// have been processed. Resending is only safe where the vendor detects repeats.
	Ambiguous
	// AuthRefused means the vendor could not check the signature or credentials
	// (bad signature, expired timestamp, token no longer valid). Clock skew and key
	// rotation make one such refusal real, and nothing was processed: retry a
	// bounded number of times with backoff, each attempt freshly signed (the clients
	// sign per attempt; Yccall drops its token); a refusal that persists fails the
	// part with the vendor's code.
	AuthRefused
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Throttled:
		return "throttled"
	case InvalidPart:
		return "invalid-part"
	case Permanent:
		return "permanent"
	case Ambiguous:
		return "ambiguous"
	case AuthRefused:
		return "auth"
	}
	return "unknown"
}

// Classified is implemented by every vendor client's error type.
type Classified interface {
	error
	Class() Class
}

// ClassOf returns the class of err. Context cancellation is Transient (the part goes
// back to the queue); an error that carries no class is Transient too, because the
// worker caps retries and an unknown failure is more often passing than not.
func ClassOf(err error) Class {
	if err == nil {
		return Unknown
	}
	var c Classified
	if errors.As(err, &c) {
		return c.Class()
	}
	return Transient
}

// RetryAfter returns the wait a vendor asked for, or zero.
func RetryAfter(err error) time.Duration {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		return ra.RetryAfter()
	}
	return 0
}

// TransportError is a failure below the vendor's protocol: no usable HTTP answer.
type TransportError struct {
	Vendor string
	Op     string
	// Sent is true once the whole request was written: the vendor may have acted on it.
	Sent bool
	Err  error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("%s %s: transport: %v", e.Vendor, e.Op, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// Class is Transient when nothing reached the vendor, Ambiguous otherwise.
func (e *TransportError) Class() Class {
	if e.Sent {
		return Ambiguous
	}
	return Transient
}

// MalformedError is a 2xx answer whose body cannot be read as the vendor's envelope.
// The vendor may have processed the call, so it is Ambiguous.
type MalformedError struct {
	Vendor string
	Op     string
	Err    error
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("%s %s: malformed response: %v", e.Vendor, e.Op, e.Err)
}

func (e *MalformedError) Unwrap() error { return e.Err }

// Class implements Classified.
func (e *MalformedError) Class() Class { return Ambiguous }

// MaxResponseBytes bounds what is read of any vendor answer.
const MaxResponseBytes = 1 << 20

// Response is a vendor's HTTP answer, body already read (bounded) and closed.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Status is the HTTP status (for tracing).
func (r *Response) Status() int { return r.StatusCode }

// RetryAfterHeader parses a Retry-After header given in seconds or as an HTTP date.
func (r *Response) RetryAfterHeader(now time.Time) time.Duration {
	v := r.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Do sends req and reads the answer through a size limit. Failures before an answer
// come back as *TransportError that records whether the request was fully written.
// Do never follows a redirect, whatever hc says: a 3xx answer is a *RedirectError.
func Do(ctx context.Context, hc *http.Client, vendor, op string, req *http.Request) (*Response, error) {
	ctx, span := tracing.Start(ctx, "vendor.http", trace.WithSpanKind(trace.SpanKindClient))
	resp, err := do(ctx, hc, vendor, op, req)
	if span.IsRecording() {
		tracing.HTTPAttributes(span, vendor, op, req.Method, req.URL.Host, resp, err, ClassOf(err).String())
	}
	tracing.End(span, err)
	return resp, err
}

func do(ctx context.Context, hc *http.Client, vendor, op string, req *http.Request) (*Response, error) {
	var wrote bool
	trace := &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) { wrote = info.Err == nil },
	}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))
	resp, err := noRedirects(hc).Do(req)
	if err != nil {
		return nil, &TransportError{Vendor: vendor, Op: op, Sent: wrote, Err: ScrubURLError(err)}
	}
	defer resp.Body.Close()
	if err := redirectError(vendor, op, req, resp); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil {
		return nil, &TransportError{Vendor: vendor, Op: op, Sent: true, Err: err}
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// ScrubURLError drops the URL from a *url.Error: some vendors take credentials in
// the query string, webhook URLs may carry tokens, and an error string must never
// carry them.
func ScrubURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// HTTPStatusError is a non-2xx answer that the vendor's envelope did not explain.
type HTTPStatusError struct {
	Vendor     string
	Op         string
	StatusCode int
	After      time.Duration
}

func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("%s %s: http status %d", e.Vendor, e.Op, e.StatusCode)
}

// RetryAfter is the vendor's Retry-After, if any.
func (e *HTTPStatusError) RetryAfter() time.Duration { return e.After }

// Class maps an HTTP status to what the worker does about it.
func (e *HTTPStatusError) Class() Class { return StatusClass(e.StatusCode) }

// StatusClass is the common rule for HTTP statuses: 429 throttles, 5xx and 408 are
// transient, any other 4xx is permanent.
func StatusClass(code int) Class {
	switch {
	case code == http.StatusTooManyRequests:
		return Throttled
	case code >= 500, code == http.StatusRequestTimeout:
		return Transient
	default:
		return Permanent
	}
}

// JSONInt reads a JSON integer, bare or quoted: vendors send codes both ways.
func JSONInt(raw json.RawMessage) (int, bool) {
	s := strings.TrimSpace(string(raw))
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// JSONString reads a JSON string; anything else reads as empty.
func JSONString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
