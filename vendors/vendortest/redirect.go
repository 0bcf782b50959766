// Package vendortest holds test helpers shared by the vendor clients' tests.
package vendortest

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Redirect serves behind, a working vendor (usually a fakevendor.Server), at a
// second address, and returns the URL of a front server that answers every
// request with status (a 3xx) pointing at the same path on the second one, plus
// the count of requests the second server received. A client that follows the
// redirect reaches behind and is served; one that does not leaves the count at 0.
func Redirect(t testing.TB, status int, behind http.Handler) (front string, reached *atomic.Int64) {
	t.Helper()
	reached = new(atomic.Int64)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		behind.ServeHTTP(w, r)
	}))
	t.Cleanup(target.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", target.URL+r.URL.RequestURI())
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, reached
}
