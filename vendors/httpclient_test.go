package vendors_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/vendortest"
)

// ok answers 200 to anything: what a client following the redirect would reach.
var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) })

func post(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/api/call?token=t0ken", strings.NewReader(`{"phone":"13800000000"}`))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestRedirectPairFollowedByDefault proves the test setup: Go's default client
// does re-send a POST to wherever a 307 points, which is the bug Do prevents.
func TestRedirectPairFollowedByDefault(t *testing.T) {
	front, reached := vendortest.Redirect(t, http.StatusTemporaryRedirect, ok)
	resp, err := (&http.Client{}).Do(post(t, front))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || reached.Load() != 1 {
		t.Fatalf("default client: status %d, target reached %d times; want 200 and 1", resp.StatusCode, reached.Load())
	}
}

func TestDoNeverFollowsRedirects(t *testing.T) {
	clients := map[string]*http.Client{
		"NewHTTPClient":      vendors.NewHTTPClient(5 * time.Second),
		"plain client":       {},
		"follows on its own": {CheckRedirect: func(*http.Request, []*http.Request) error { return nil }},
		"nil":                nil,
	}
	for name, hc := range clients {
		for _, status := range []int{301, 302, 303, 307, 308} {
			front, reached := vendortest.Redirect(t, status, ok)
			_, err := vendors.Do(context.Background(), hc, "acme", "create", post(t, front))
			var re *vendors.RedirectError
			if !errors.As(err, &re) {
				t.Fatalf("%s, %d: Do error = %v; want *RedirectError", name, status, err)
			}
			if reached.Load() != 0 {
				t.Errorf("%s, %d: the redirect target received %d requests; want none", name, status, reached.Load())
			}
			if re.StatusCode != status || !strings.HasPrefix(re.Host, "127.0.0.1:") {
				t.Errorf("%s, %d: RedirectError = %+v; want the status and the target's host", name, status, re)
			}
			if c := vendors.ClassOf(err); c != vendors.Ambiguous {
				t.Errorf("%s, %d: class %v; want ambiguous (the request was written)", name, status, c)
			}
			if strings.Contains(err.Error(), "t0ken") || strings.Contains(err.Error(), "/api/call") {
				t.Errorf("%s, %d: error %q carries the location's path or query", name, status, err)
			}
		}
	}
}

func TestNewHTTPClientTimeout(t *testing.T) {
	if got := vendors.NewHTTPClient(3 * time.Second).Timeout; got != 3*time.Second {
		t.Errorf("NewHTTPClient(3s).Timeout = %v; want 3s", got)
	}
}
