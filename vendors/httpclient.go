package vendors

import (
	"fmt"
	"net/http"
	"time"
)

// transport is shared by every vendor client, so that connections to one vendor
// are pooled across a worker's handlers (the clients used http.DefaultTransport
// before, which is shared as well). Its settings are DefaultTransport's (proxy
// from the environment, dial and TLS handshake timeouts, HTTP/2) with more idle
// connections kept per host: a worker runs many handlers against one gateway.
var transport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	return t
}()

// NewHTTPClient is the one way a vendor client builds its HTTP client: requests
// bounded by timeout (zero means none, the caller's context still applies), the
// shared transport, and no redirect ever followed. A vendor call is a signed POST
// carrying phone numbers; following a 307 would re-send that body, signature and
// numbers to whatever host the Location names, and a 301/302 would turn it into a
// GET that silently drops it. The 3xx answer comes back and Do turns it into a
// *RedirectError.
func NewHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: transport, CheckRedirect: refuseRedirect}
}

// refuseRedirect hands the redirect answer itself back to the caller.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// noRedirects returns hc, or a copy of it that does not follow redirects: Do
// enforces the rule even for a client a caller configured by hand.
func noRedirects(hc *http.Client) *http.Client {
	if hc == nil {
		return NewHTTPClient(0)
	}
	c := *hc
	c.CheckRedirect = refuseRedirect
	return &c
}

// RedirectError is a 3xx answer to a vendor call. The request was written in full
// and answered, but the answer is neither the vendor's result nor a refusal: a 303
// says the call was processed and the result lies elsewhere, a 307 or 308 says
// "send it there instead", and a gateway in front of the vendor may answer either
// way. Whether the vendor acted on the call is therefore unknown, so the class is
// Ambiguous, as for any written request without a usable answer (TransportError
// with Sent): the worker resends only where the vendor recognises repeats, and
// to the same URL, never the Location; elsewhere the numbers are parked as
// uncertain for an operator, who should fix the base URL the redirect points at.
// Failing them instead would invite a retry that may dial them twice.
type RedirectError struct {
	Vendor     string
	Op         string
	StatusCode int
	// Host is the host the redirect named, if any: only the host, as the
	// Location's path and query may carry tokens.
	Host string
}

func (e *RedirectError) Error() string {
	to := ""
	if e.Host != "" {
		to = " to " + e.Host
	}
	return fmt.Sprintf("%s %s: vendor answered redirect %d%s; redirects are never followed (check the base url)",
		e.Vendor, e.Op, e.StatusCode, to)
}

// Class implements Classified: see the type's comment.
func (e *RedirectError) Class() Class { return Ambiguous }

// redirectError returns a *RedirectError for a 3xx answer to req, or nil.
func redirectError(vendor, op string, req *http.Request, resp *http.Response) error {
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return nil
	}
	e := &RedirectError{Vendor: vendor, Op: op, StatusCode: resp.StatusCode}
	if loc := resp.Header.Get("Location"); loc != "" {
		if u, err := req.URL.Parse(loc); err == nil {
			e.Host = u.Host
		}
	}
	return e
}
