// Package testworld holds the pieces the in-process test worlds of jobs, results
// and monitor (and e2e's vendor side) share: the fake vendor over loopback HTTP,
// a logger into t.Log, fast retry settings and an in-process worker.
//
// It is for tests only: no production package may import it (imports_test.go
// checks). It must not import monitor, whose internal tests use it.
package testworld

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/fakevendor"
)

// Vendor is the fake vendor served over loopback HTTP. Its handler can be
// swapped, so that a test can put a wrapper or an outage in front of Fake.
type Vendor struct {
	// URL is the server's base address.
	URL string
	// Env is fakevendor.DemoEnv for URL: the vendors' endpoints and credentials,
	// which both the fake and the clients built from it read.
	Env  map[string]string
	Fake *fakevendor.Server

	mu      sync.RWMutex
	handler http.Handler
}

// StartVendor starts the fake vendor until the test ends. configure, when not
// nil, edits the fake's settings (its seed, how calls end) before it is built.
func StartVendor(t testing.TB, configure func(*fakevendor.Config)) *Vendor {
	t.Helper()
	return StartVendorEnv(t, nil, configure)
}

// StartVendorEnv is StartVendor with override applied to Env before the fake
// reads its credentials from it, so that the fake and the clients agree on them;
// an empty value deletes the key.
func StartVendorEnv(t testing.TB, override map[string]string, configure func(*fakevendor.Config)) *Vendor {
	t.Helper()
	v := &Vendor{handler: http.NotFoundHandler()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v.mu.RLock()
		h := v.handler
		v.mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	env, err := fakevendor.DemoEnv(srv.URL, filepath.Join(t.TempDir(), "speech.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for k, val := range override {
		if val == "" {
			delete(env, k)
		} else {
			env[k] = val
		}
	}
	cfg, err := fakevendor.ConfigFromEnv(Getenv(env))
	if err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		configure(&cfg)
	}
	v.URL, v.Env, v.Fake = srv.URL, env, fakevendor.New(cfg)
	v.SetHandler(v.Fake)
	return v
}

// Seed makes the fake's fault injection repeatable (a StartVendor configure).
func Seed(seed uint64) func(*fakevendor.Config) {
	return func(c *fakevendor.Config) { c.Seed = seed }
}

// SetHandler replaces what the vendor's address serves.
func (v *Vendor) SetHandler(h http.Handler) {
	v.mu.Lock()
	v.handler = h
	v.mu.Unlock()
}

// Getenv looks keys up in m, as the *FromEnv constructors look up os.Getenv.
func Getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// Logger logs warnings and worse into t.Log, so that a test's output shows them
// next to its failure and a passing test stays quiet.
func Logger(t testing.TB) *logrus.Logger {
	log := logrus.New()
	log.SetOutput(logWriter{t})
	log.SetLevel(logrus.WarnLevel)
	return log
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
