package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/webhook"
)

const testSecret = "whsec-0123456789abcdef"

// receiver is a webhook target over real loopback HTTP that records what came.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []delivery
	// answer picks the status of the n-th request (from 0); nil answers 204.
	answer func(n int, w http.ResponseWriter) int
}

type delivery struct {
	path   string
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, tlsServer bool, answer func(n int, w http.ResponseWriter) int) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, delivery{path: r.URL.Path, header: r.Header.Clone(), body: body})
		rc.mu.Unlock()
		status := http.StatusNoContent
		if rc.answer != nil {
			status = rc.answer(n, w)
		}
		w.WriteHeader(status)
	})
	if tlsServer {
		rc.srv = httptest.NewTLSServer(h)
	} else {
		rc.srv = httptest.NewServer(h)
	}
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// hostPort is the receiver's 127.0.0.1:port.
func (rc *receiver) hostPort() string {
	return strings.TrimPrefix(strings.TrimPrefix(rc.srv.URL, "http://"), "https://")
}

func (rc *receiver) port() string {
	_, p, _ := net.SplitHostPort(rc.hostPort())
	return p
}

type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) CountWebhook(outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[outcome]++
}

func (c *counts) get(outcome string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[outcome]
}

// fixedResolver answers every name with addrs and counts the lookups.
func fixedResolver(n *int, mu *sync.Mutex, addrs ...string) webhook.Resolver {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		mu.Lock()
		*n++
		mu.Unlock()
		out := make([]netip.Addr, len(addrs))
		for i, a := range addrs {
			out[i] = netip.MustParseAddr(a)
		}
		return out, nil
	}
}

func newSender(t *testing.T, cfg webhook.Config) (*webhook.Sender, *counts, *bytes.Buffer) {
	t.Helper()
	c := &counts{}
	var logs bytes.Buffer
	l := logrus.New()
	l.SetOutput(&logs)
	l.SetFormatter(&logrus.JSONFormatter{})
	l.SetLevel(logrus.DebugLevel)
	if cfg.Secret == "" {
		cfg.Secret = testSecret
	}
	if cfg.RetryInitial == 0 {
		cfg.RetryInitial = 10 * time.Millisecond
	}
	cfg.Log, cfg.Metrics = logrus.NewEntry(l), c
	s, err := webhook.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, c, &logs
}

func TestSendAllowed(t *testing.T) {
	body := []byte(`{"type":"batch.finished","status":{"batch":"b1"}}`)
	tests := []struct {
		name   string
		tls    bool
		target func(rc *receiver) string
		hosts  func(rc *receiver) string
		// resolves is what a name resolves to; empty for an IP target.
		resolves []string
	}{
		{"http to listed ip:port", false,
			func(rc *receiver) string { return rc.srv.URL + "/hook?x=1" },
			func(rc *receiver) string { return rc.hostPort() }, nil},
		{"https to a name whose address is listed", true,
			func(rc *receiver) string { return "https://example.com:" + rc.port() + "/hook" },
			func(rc *receiver) string { return "example.com, 127.0.0.1" }, []string{"127.0.0.1"}},
		{"name to loopback allowed by a prefix", false,
			func(rc *receiver) string { return "http://Hooks.Example.com.:" + rc.port() + "/hook" },
			func(rc *receiver) string { return "hooks.example.com:" + rc.port() + ",127.0.0.0/8" }, []string{"127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, tt.tls, nil)
			var lookups int
			var mu sync.Mutex
			cfg := webhook.Config{AllowedHosts: tt.hosts(rc)}
			if tt.resolves != nil {
				cfg.Resolver = fixedResolver(&lookups, &mu, tt.resolves...)
			}
			if tt.tls {
				cfg.TLSConfig = rc.srv.Client().Transport.(*http.Transport).TLSClientConfig
			}
			s, c, _ := newSender(t, cfg)
			if err := s.Send(context.Background(), tt.target(rc), "ev-1", body); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := rc.deliveries()
			if len(got) != 1 {
				t.Fatalf("receiver got %d requests; want 1", len(got))
			}
			d := got[0]
			if !bytes.Equal(d.body, body) || d.path != "/hook" {
				t.Errorf("received %s at %s; want the body at /hook", d.body, d.path)
			}
			if sig := d.header.Get(webhook.HeaderSignature); !webhook.Verify(testSecret, d.body, sig) || sig != webhook.Sign(testSecret, body) {
				t.Errorf("signature %q does not verify", sig)
			}
			if d.header.Get(webhook.HeaderEventID) != "ev-1" || d.header.Get("Content-Type") != "application/json" {
				t.Errorf("headers = %v", d.header)
			}
			if d.header.Get("Authorization") != "" {
				t.Errorf("Authorization sent: %q", d.header.Get("Authorization"))
			}
			if c.get(webhook.OutcomeSent) != 1 || c.get(webhook.OutcomeRefused)+c.get(webhook.OutcomeFailed) != 0 {
				t.Errorf("counts = %v; want one sent", c.m)
			}
			if tt.resolves != nil && lookups == 0 {
				t.Error("the name was never resolved by the configured resolver")
			}
		})
	}
}

// TestSendRefused: each way of aiming a webhook inward is refused, nothing reaches
// the receiver (a redirect reaches it once and is not followed), the refusal is
// counted and logged, and neither error nor log carries credentials or the query.
func TestSendRefused(t *testing.T) {
	tests := []struct {
		name     string
		target   func(rc *receiver) string
		hosts    func(rc *receiver) string
		resolves []string
		redirect bool
		wantHits int
		wantErr  error
	}{
		{name: "name resolving to loopback",
			target:   func(rc *receiver) string { return "http://hooks.example.com:" + rc.port() + "/hook" },
			hosts:    func(rc *receiver) string { return "hooks.example.com" },
			resolves: []string{"127.0.0.1"}},
		{name: "name resolving to ipv6 loopback",
			target:   func(rc *receiver) string { return "http://hooks.example.com:" + rc.port() + "/hook" },
			hosts:    func(rc *receiver) string { return "hooks.example.com" },
			resolves: []string{"::1"}},
		{name: "link-local metadata",
			target:   func(*receiver) string { return "http://metadata.example.com/latest/meta-data/" },
			hosts:    func(*receiver) string { return "metadata.example.com" },
			resolves: []string{"169.254.169.254"}},
		{name: "link-local ipv6",
			target:   func(*receiver) string { return "https://hooks.example.com/hook" },
			hosts:    func(*receiver) string { return "hooks.example.com" },
			resolves: []string{"fe80::1"}},
		{name: "private 10/8",
			target:   func(*receiver) string { return "https://hooks.example.com/hook" },
			hosts:    func(*receiver) string { return "hooks.example.com" },
			resolves: []string{"10.0.0.5"}},
		{name: "private 192.168 and ula",
			target:   func(*receiver) string { return "https://hooks.example.com/hook" },
			hosts:    func(*receiver) string { return "hooks.example.com" },
			resolves: []string{"192.168.1.10", "fd00::5"}},
		{name: "alibaba metadata (cgnat)",
			target:   func(*receiver) string { return "http://hooks.example.com/hook" },
			hosts:    func(*receiver) string { return "hooks.example.com" },
			resolves: []string{"100.100.100.200"}},
		{name: "mapped ipv4 loopback",
			target:   func(rc *receiver) string { return "http://hooks.example.com:" + rc.port() + "/hook" },
			hosts:    func(*receiver) string { return "hooks.example.com" },
			resolves: []string{"::ffff:127.0.0.1"}},
		{name: "loopback literal not listed",
			target: func(rc *receiver) string { return rc.srv.URL + "/hook" },
			hosts:  func(*receiver) string { return "hooks.example.com" }},
		{name: "listed loopback on another port",
			target: func(rc *receiver) string { return rc.srv.URL + "/hook" },
			hosts:  func(*receiver) string { return "127.0.0.1:1" }},
		{name: "link-local literal not listed",
			target: func(*receiver) string { return "http://169.254.169.254/latest/meta-data/" },
			hosts:  func(*receiver) string { return "hooks.example.com" }},
		{name: "credentials in the url",
			target: func(rc *receiver) string { return "http://admin:pa55word@" + rc.hostPort() + "/hook" },
			hosts:  func(rc *receiver) string { return rc.hostPort() }},
		{name: "user only in the url",
			target: func(rc *receiver) string { return "http://admin@" + rc.hostPort() + "/hook" },
			hosts:  func(rc *receiver) string { return rc.hostPort() }},
		{name: "scheme",
			target: func(rc *receiver) string { return "ftp://" + rc.hostPort() + "/hook" },
			hosts:  func(rc *receiver) string { return rc.hostPort() }},
		{name: "not absolute",
			target: func(*receiver) string { return "/hook" },
			hosts:  func(rc *receiver) string { return rc.hostPort() }},
		{name: "redirect", redirect: true, wantHits: 1,
			target: func(rc *receiver) string { return rc.srv.URL + "/hook" },
			hosts:  func(rc *receiver) string { return rc.hostPort() }},
		{name: "off", wantErr: webhook.ErrDisabled,
			target: func(rc *receiver) string { return rc.srv.URL + "/hook" },
			hosts:  func(*receiver) string { return "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var answer func(int, http.ResponseWriter) int
			if tt.redirect {
				answer = func(_ int, w http.ResponseWriter) int {
					w.Header().Set("Location", "/pause-queue")
					return http.StatusFound
				}
			}
			rc := newReceiver(t, false, answer)
			var lookups int
			var mu sync.Mutex
			cfg := webhook.Config{AllowedHosts: tt.hosts(rc), Timeout: 2 * time.Second}
			if tt.resolves != nil {
				cfg.Resolver = fixedResolver(&lookups, &mu, tt.resolves...)
			}
			s, c, logs := newSender(t, cfg)
			target := tt.target(rc)
			if strings.Contains(target, "://") {
				target += "?token=qu3ry-s3cret"
			}
			err := s.Send(context.Background(), target, "ev-2", []byte(`{}`))
			want := tt.wantErr
			if want == nil {
				want = webhook.ErrRefused
			}
			if !errors.Is(err, want) {
				t.Fatalf("Send = %v; want %v", err, want)
			}
			got := rc.deliveries()
			if len(got) != tt.wantHits {
				t.Errorf("receiver got %d requests; want %d", len(got), tt.wantHits)
			}
			for _, d := range got {
				if d.path != "/hook" {
					t.Errorf("request to %s: a redirect was followed", d.path)
				}
			}
			if c.get(webhook.OutcomeRefused) != 1 || c.get(webhook.OutcomeSent)+c.get(webhook.OutcomeFailed) != 0 {
				t.Errorf("counts = %v; want one refused", c.m)
			}
			for _, leak := range []string{"pa55word", "admin", "qu3ry-s3cret", testSecret} {
				if strings.Contains(err.Error(), leak) || strings.Contains(logs.String(), leak) {
					t.Errorf("%q leaked: error %q, logs %s", leak, err, logs)
				}
			}
			if !strings.Contains(logs.String(), "webhook refused") && tt.wantErr == nil {
				t.Errorf("refusal not logged: %s", logs)
			}
		})
	}
}

// TestSendRetries: 5xx and network errors are retried up to MaxAttempts with the
// same event id and signature; other answers are not retried.
func TestSendRetries(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int // answer of each request; the last repeats
		wantErr  bool
		wantHits int
	}{
		{"5xx then success", []int{503, 502, 204}, false, 3},
		{"5xx throughout", []int{500}, true, 3},
		{"4xx not retried", []int{400}, true, 1},
		{"429 not retried", []int{429}, true, 1},
		{"200 first", []int{200}, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, false, func(n int, _ http.ResponseWriter) int {
				return tt.statuses[min(n, len(tt.statuses)-1)]
			})
			s, c, _ := newSender(t, webhook.Config{AllowedHosts: rc.hostPort(), MaxAttempts: 3})
			body := []byte(`{"n":1}`)
			err := s.Send(context.Background(), rc.srv.URL+"/hook", "ev-3", body)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Send = %v; want error %v", err, tt.wantErr)
			}
			if errors.Is(err, webhook.ErrRefused) {
				t.Errorf("Send = %v; a failure is not a refusal", err)
			}
			got := rc.deliveries()
			if len(got) != tt.wantHits {
				t.Fatalf("receiver got %d requests; want %d", len(got), tt.wantHits)
			}
			for i, d := range got {
				if d.header.Get(webhook.HeaderEventID) != "ev-3" || !webhook.Verify(testSecret, d.body, d.header.Get(webhook.HeaderSignature)) {
					t.Errorf("attempt %d: event id %q, signature not valid", i, d.header.Get(webhook.HeaderEventID))
				}
			}
			outcome := webhook.OutcomeSent
			if tt.wantErr {
				outcome = webhook.OutcomeFailed
			}
			if c.get(outcome) != 1 {
				t.Errorf("counts = %v; want one %s", c.m, outcome)
			}
		})
	}
}

// TestSendNetworkErrorRetried: a listed target that refuses connections is tried
// MaxAttempts times (each resolving afresh) and then fails.
func TestSendNetworkErrorRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	var lookups int
	var mu sync.Mutex
	s, c, _ := newSender(t, webhook.Config{AllowedHosts: "hooks.example.com,127.0.0.1", MaxAttempts: 3,
		Resolver: fixedResolver(&lookups, &mu, "127.0.0.1")})
	err = s.Send(context.Background(), "http://hooks.example.com:"+port+"/hook", "ev-4", []byte(`{}`))
	if err == nil || errors.Is(err, webhook.ErrRefused) {
		t.Fatalf("Send = %v; want a network failure", err)
	}
	if lookups != 3 || c.get(webhook.OutcomeFailed) != 1 {
		t.Errorf("lookups %d, counts %v; want 3 attempts, one failed", lookups, c.m)
	}
}

// TestSendTimeout: a receiver slower than Timeout fails within the bound.
func TestSendTimeout(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, false, func(int, http.ResponseWriter) int {
		<-release
		return http.StatusNoContent
	})
	defer close(release)
	s, c, _ := newSender(t, webhook.Config{AllowedHosts: rc.hostPort(), Timeout: 100 * time.Millisecond, MaxAttempts: 2})
	start := time.Now()
	err := s.Send(context.Background(), rc.srv.URL+"/hook", "ev-5", []byte(`{}`))
	if elapsed := time.Since(start); err == nil || elapsed > 2*time.Second {
		t.Fatalf("Send = %v after %v; want a timeout within 2s", err, elapsed)
	}
	if c.get(webhook.OutcomeFailed) != 1 {
		t.Errorf("counts = %v; want one failed", c.m)
	}
}

func TestNewChecksConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  webhook.Config
		ok   bool
		on   bool
	}{
		{"off", webhook.Config{}, true, false},
		{"hosts without secret", webhook.Config{AllowedHosts: "hooks.example.com"}, false, false},
		{"hosts and secret", webhook.Config{AllowedHosts: "hooks.example.com, 10.0.0.0/8", Secret: "s"}, true, true},
		{"bad entry", webhook.Config{AllowedHosts: "https://hooks.example.com", Secret: "s"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := webhook.New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("New = %v; want ok %v", err, tt.ok)
			}
			if err == nil && s.Enabled() != tt.on {
				t.Errorf("Enabled = %v; want %v", s.Enabled(), tt.on)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"WEBHOOK_ALLOWED_HOSTS": "a.example.com", "WEBHOOK_SECRET": "s", "WEBHOOK_TIMEOUT": "2s", "WEBHOOK_MAX_ATTEMPTS": "4"}
	cfg, err := webhook.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || cfg.AllowedHosts != "a.example.com" || cfg.Secret != "s" || cfg.Timeout != 2*time.Second || cfg.MaxAttempts != 4 {
		t.Fatalf("ConfigFromEnv = %+v, %v", cfg, err)
	}
	for _, bad := range []map[string]string{{"WEBHOOK_TIMEOUT": "soon"}, {"WEBHOOK_MAX_ATTEMPTS": "0"}, {"WEBHOOK_MAX_ATTEMPTS": "99"}} {
		if _, err := webhook.ConfigFromEnv(func(k string) string { return bad[k] }); err == nil {
			t.Errorf("ConfigFromEnv(%v) succeeded; want an error", bad)
		}
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"type":"batch.finished"}`)
	good := webhook.Sign(testSecret, body)
	tests := []struct {
		name   string
		secret string
		body   []byte
		header string
		want   bool
	}{
		{"good", testSecret, body, good, true},
		{"wrong secret", "other", body, good, false},
		{"tampered body", testSecret, []byte(`{"type":"batch.started"}`), good, false},
		{"no prefix", testSecret, body, strings.TrimPrefix(good, "sha256="), false},
		{"other algorithm", testSecret, body, "sha1=" + strings.TrimPrefix(good, "sha256="), false},
		{"not hex", testSecret, body, "sha256=zz", false},
		{"empty header", testSecret, body, "", false},
		{"empty secret", "", body, webhook.Sign("", body), false},
		{"upper-case hex", testSecret, body, "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), true},
	}
	for _, tt := range tests {
		if got := webhook.Verify(tt.secret, tt.body, tt.header); got != tt.want {
			t.Errorf("%s: Verify = %v; want %v", tt.name, got, tt.want)
		}
	}
	// A known vector, so a receiver in another language can check its code.
	if got, want := webhook.Sign("key", []byte("The quick brown fox jumps over the lazy dog")),
		"sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"; got != want {
		t.Errorf("Sign = %s; want %s", got, want)
	}
}

// The package doc's receiver snippet, compiled and run against a real delivery.
func TestReceiverSnippet(t *testing.T) {
	var verified, bad int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		mu.Lock()
		defer mu.Unlock()
		if !webhook.Verify(testSecret, body, r.Header.Get(webhook.HeaderSignature)) {
			bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		verified++
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	s, _, _ := newSender(t, webhook.Config{AllowedHosts: u.Host})
	if err := s.Send(context.Background(), srv.URL, "ev-6", []byte(`{"ok":true}`)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	other, _, _ := newSender(t, webhook.Config{AllowedHosts: u.Host, Secret: "not-the-secret"})
	if err := other.Send(context.Background(), srv.URL, "ev-7", []byte(`{"ok":true}`)); err == nil {
		t.Fatal("a delivery signed with another secret was accepted")
	}
	if verified != 1 || bad != 1 {
		t.Errorf("verified %d, bad %d; want 1 and 1", verified, bad)
	}
}
