package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors"
)

// Defaults for Config.
const (
	DefaultTimeout      = 5 * time.Second
	DefaultMaxAttempts  = 3
	DefaultRetryInitial = 500 * time.Millisecond
)

// Outcomes counted by Metrics.
const (
	OutcomeSent    = "sent"
	OutcomeRefused = "refused" // by the rules, before or instead of sending: never retried
	OutcomeFailed  = "failed"  // sent, but no 2xx came back within the attempts
)

// Errors Send wraps; test with errors.Is.
var (
	// ErrDisabled: WEBHOOK_ALLOWED_HOSTS is empty, so no webhook is sent.
	ErrDisabled = errors.New("webhooks are off (WEBHOOK_ALLOWED_HOSTS is empty)")
	// ErrRefused: the target breaks a rule (host not listed, scheme, credentials in
	// the URL, an internal address, a redirect).
	ErrRefused = errors.New("webhook refused")
)

// Metrics counts deliveries by outcome (OutcomeSent, OutcomeRefused, OutcomeFailed).
type Metrics interface {
	CountWebhook(outcome string)
}

// MetricsFunc adapts a function to Metrics.
type MetricsFunc func(outcome string)

// CountWebhook calls f(outcome).
func (f MetricsFunc) CountWebhook(outcome string) { f(outcome) }

// Resolver looks up a host name's addresses. net.DefaultResolver.LookupNetIP
// fits; tests pass their own to make a name resolve to loopback.
type Resolver func(ctx context.Context, host string) ([]netip.Addr, error)

// Config configures a Sender.
type Config struct {
	// AllowedHosts is WEBHOOK_ALLOWED_HOSTS: comma-separated host, host:port, IP,
	// IP:port or CIDR entries. Empty turns webhooks off.
	AllowedHosts string
	// Secret is WEBHOOK_SECRET, the HMAC key of X-Dialq-Signature; required when
	// AllowedHosts is set.
	Secret string
	// Timeout bounds each attempt; zero means DefaultTimeout.
	Timeout time.Duration
	// MaxAttempts bounds the attempts of one Send; zero means DefaultMaxAttempts.
	MaxAttempts int
	// RetryInitial is the first backoff between attempts; zero means DefaultRetryInitial.
	RetryInitial time.Duration
	// Log receives one line per refused or failed delivery (target masked); nil
	// logs nothing.
	Log *logrus.Entry
	// Metrics counts outcomes; nil counts nothing.
	Metrics Metrics
	// Resolver replaces DNS; nil means net.DefaultResolver.
	Resolver Resolver
	// TLSConfig is cloned for https targets (tests trust their own CA); nil uses
	// the system roots.
	TLSConfig *tls.Config
}

// ConfigFromEnv reads WEBHOOK_ALLOWED_HOSTS, WEBHOOK_SECRET (or WEBHOOK_SECRET_FILE),
// WEBHOOK_TIMEOUT (a Go duration) and WEBHOOK_MAX_ATTEMPTS.
func ConfigFromEnv(getenv envconf.Getenv) (Config, error) {
	cfg := Config{AllowedHosts: getenv("WEBHOOK_ALLOWED_HOSTS")}
	var err error
	if cfg.Secret, err = envconf.Secret(getenv, "WEBHOOK_SECRET"); err != nil {
		return Config{}, err
	}
	if v := getenv("WEBHOOK_TIMEOUT"); v != "" {
		if cfg.Timeout, err = time.ParseDuration(v); err != nil || cfg.Timeout <= 0 {
			return Config{}, fmt.Errorf("WEBHOOK_TIMEOUT %q: want a positive duration such as 5s", v)
		}
	}
	if v := getenv("WEBHOOK_MAX_ATTEMPTS"); v != "" {
		if cfg.MaxAttempts, err = strconv.Atoi(v); err != nil || cfg.MaxAttempts < 1 || cfg.MaxAttempts > 10 {
			return Config{}, fmt.Errorf("WEBHOOK_MAX_ATTEMPTS %q: want 1 to 10", v)
		}
	}
	return cfg, nil
}

// Sender posts signed events to allowed targets. It is safe for concurrent use.
type Sender struct {
	allow    allowList
	secret   string
	timeout  time.Duration
	attempts int
	initial  time.Duration
	log      *logrus.Entry
	metrics  Metrics
	resolve  Resolver
	hc       *http.Client
}

// New checks cfg and builds a Sender. With AllowedHosts empty the Sender is off:
// it says so once in the log here, and every Send returns ErrDisabled.
func New(cfg Config) (*Sender, error) {
	allow, err := parseAllowList(cfg.AllowedHosts)
	if err != nil {
		return nil, err
	}
	if len(allow) > 0 && cfg.Secret == "" {
		return nil, errors.New("WEBHOOK_SECRET is required when WEBHOOK_ALLOWED_HOSTS is set")
	}
	s := &Sender{allow: allow, secret: cfg.Secret, timeout: cfg.Timeout, attempts: cfg.MaxAttempts,
		initial: cfg.RetryInitial, log: cfg.Log, metrics: cfg.Metrics, resolve: cfg.Resolver}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.attempts <= 0 {
		s.attempts = DefaultMaxAttempts
	}
	if s.initial <= 0 {
		s.initial = DefaultRetryInitial
	}
	if s.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		s.log = logrus.NewEntry(l)
	}
	if s.metrics == nil {
		s.metrics = MetricsFunc(func(string) {})
	}
	if s.resolve == nil {
		s.resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if len(allow) == 0 {
		s.log.Info("webhooks are off: WEBHOOK_ALLOWED_HOSTS is empty")
	}
	dialer := &net.Dialer{Timeout: s.timeout, Control: s.control}
	var tlsConf *tls.Config
	if cfg.TLSConfig != nil {
		tlsConf = cfg.TLSConfig.Clone()
	}
	s.hc = &http.Client{
		Transport: &http.Transport{
			// No proxy from the environment: the check must see the address dialled.
			Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return s.dial(ctx, dialer, network, addr)
			},
			TLSClientConfig:       tlsConf,
			TLSHandshakeTimeout:   s.timeout,
			ResponseHeaderTimeout: s.timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
		},
		// A redirect is answered, not followed: Send treats it as refused, since
		// following it would reach a host nobody listed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s, nil
}

// Enabled reports whether any host is allowed.
func (s *Sender) Enabled() bool { return len(s.allow) > 0 }

// Send posts body (JSON) to target with the signature and event id headers,
// retrying 5xx answers and network errors with backoff up to MaxAttempts. It
// returns nil once a 2xx comes back. A refusal by the rules (ErrRefused,
// ErrDisabled) is never retried. Every refused or failed delivery is logged with
// the target masked and counted, so the caller need not log it again; errors never
// carry the URL's credentials or query. Send takes at most about MaxAttempts ×
// Timeout plus the backoff (~17 s by default); the caller must not hold a batch on it.
func (s *Sender) Send(ctx context.Context, target, eventID string, body []byte) error {
	log := s.log.WithField("event", eventID)
	u, err := s.check(target)
	if u != nil {
		log = log.WithField("webhook", maskedTarget(u))
	}
	if err != nil {
		s.metrics.CountWebhook(OutcomeRefused)
		if errors.Is(err, ErrDisabled) {
			log.Debug("webhook not sent: webhooks are off") // New said so once at start
		} else {
			log.WithError(err).Warn("webhook refused")
		}
		return err
	}
	sig := Sign(s.secret, body)
	attempts := 0
	op := func() error {
		attempts++
		actx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(actx, http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			return backoff.Permanent(fmt.Errorf("webhook: build request: %w", vendors.ScrubURLError(err)))
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "dialq-webhook")
		req.Header.Set(HeaderSignature, sig)
		req.Header.Set(HeaderEventID, eventID)
		resp, err := s.hc.Do(req)
		if err != nil {
			err = fmt.Errorf("webhook: %w", vendors.ScrubURLError(err))
			if errors.Is(err, ErrRefused) || ctx.Err() != nil {
				return backoff.Permanent(err)
			}
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		switch code := resp.StatusCode; {
		case code >= 200 && code < 300:
			return nil
		case code >= 300 && code < 400:
			return backoff.Permanent(fmt.Errorf("%w: answered %d, redirects are not followed", ErrRefused, code))
		case code >= 500:
			return fmt.Errorf("webhook: answered %d", code)
		default:
			return backoff.Permanent(fmt.Errorf("webhook: answered %d", code))
		}
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = s.initial, 5*time.Second, 0
	err = backoff.Retry(op, backoff.WithContext(backoff.WithMaxRetries(b, uint64(s.attempts-1)), ctx))
	log = log.WithField("attempts", attempts)
	switch {
	case err == nil:
		s.metrics.CountWebhook(OutcomeSent)
		log.Debug("webhook delivered")
	case errors.Is(err, ErrRefused):
		s.metrics.CountWebhook(OutcomeRefused)
		log.WithError(err).Warn("webhook refused")
	default:
		s.metrics.CountWebhook(OutcomeFailed)
		log.WithError(err).Warn("webhook not delivered")
	}
	return err
}

// check applies the rules that need no network: on, parsable, http or https, no
// credentials, a listed host. The error never quotes the URL.
func (s *Sender) check(target string) (*url.URL, error) {
	if !s.Enabled() {
		return nil, ErrDisabled
	}
	u, err := url.Parse(target)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return nil, fmt.Errorf("%w: not an absolute http(s) URL", ErrRefused)
	}
	u.Fragment, u.RawFragment = "", ""
	switch {
	case u.User != nil:
		// Basic auth taken from the URL would hand a credential to whoever the
		// URL names; it is refused, and never echoed.
		return u, fmt.Errorf("%w: credentials in the URL are not sent", ErrRefused)
	case !strings.EqualFold(u.Scheme, "https") && !strings.EqualFold(u.Scheme, "http"):
		return u, fmt.Errorf("%w: scheme must be https or http", ErrRefused)
	case !s.allow.hostAllowed(u):
		return u, fmt.Errorf("%w: host %s is not in WEBHOOK_ALLOWED_HOSTS", ErrRefused, u.Host)
	}
	return u, nil
}

// dial resolves addr itself and dials only addresses the rules allow, by IP, so
// that the address checked is the address connected to (no second lookup for a
// rebinding DNS to answer differently).
func (s *Sender) dial(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(portStr)
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = s.resolve(ctx, host); err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	var refused []string
	var lastErr error
	for _, ip := range ips {
		ip = ip.Unmap()
		if !s.allow.addressAllowed(ip, port) {
			refused = append(refused, ip.String())
			continue
		}
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), portStr))
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	if lastErr != nil {
		return nil, lastErr
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("%w: %s resolves to internal address %s (list the address to allow it)",
			ErrRefused, host, strings.Join(refused, ", "))
	}
	return nil, fmt.Errorf("resolve %s: no addresses", host)
}

// control checks the address the socket is about to connect to, the last word
// whatever dial decided.
func (s *Sender) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot read dialled address", ErrRefused)
	}
	if !s.allow.addressAllowed(ap.Addr(), int(ap.Port())) {
		return fmt.Errorf("%w: internal address %s", ErrRefused, ap.Addr())
	}
	return nil
}

// maskedTarget is the target for a log line: scheme, host and path with digit
// runs masked; never credentials or the query.
func maskedTarget(u *url.URL) string {
	return redact.Message(strings.ToLower(u.Scheme) + "://" + u.Host + u.EscapedPath())
}
