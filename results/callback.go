package results

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/redact"
)

// Callbacks is FlashAI's notifyUrl, a fast path to a poll and never a result.
//
// Contract: addPlan carries notifyUrl = DIALQ_CALLBACK_BASE_URL +
// "/callbacks/flashai/" + token, where token is the first 32 hex digits of
// HMAC-SHA256(DIALQ_CALLBACK_SECRET, "flashai\x00" + vendor batch name). A request
// (any method) to a path whose token the worker issued and whose HMAC holds
// triggers an immediate poll of that part and gets 200; anything else gets 404 and
// stores nothing. The body (its format is not in the seed) is logged masked and
// never believed: the poll that follows reads the vendor.
//
// The worker keeps which part a token stands for in Redis (dialq:cb:<token>, with
// the batch's retention), so any worker of the fleet answers any callback.
type Callbacks struct {
	base   string
	secret []byte
	rdb    redis.UniversalClient
	// Poll is called for a valid callback: Scheduler.PollNow.
	Poll func(ctx context.Context, id string, part, attempt int) error
	Log  *logrus.Entry
	// TTL beyond the batch's retention that a token is kept: the results window.
	Window time.Duration
}

// CallbackPath is where callbacks arrive on the worker's listener.
const CallbackPath = "/callbacks/flashai/"

// NewCallbacks checks the base URL and secret.
func NewCallbacks(base, secret string, rdb redis.UniversalClient) (*Callbacks, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return nil, errors.New("DIALQ_CALLBACK_BASE_URL must be an absolute http(s) URL without query or credentials")
	}
	if len(secret) < 16 {
		return nil, errors.New("DIALQ_CALLBACK_SECRET must be at least 16 characters")
	}
	return &Callbacks{base: strings.TrimRight(base, "/"), secret: []byte(secret), rdb: rdb}, nil
}

// Token is a vendor batch name's token.
func (c *Callbacks) Token(name string) string {
	mac := hmac.New(sha256.New, c.secret)
	mac.Write([]byte("flashai\x00" + name))
	return hex.EncodeToString(mac.Sum(nil))[:32]
}

// URL is a vendor batch name's notifyUrl.
func (c *Callbacks) URL(name string) string { return c.base + CallbackPath + c.Token(name) }

// Issue remembers which part a vendor batch name belongs to and returns its
// notifyUrl; the FlashAI caller sends it with addPlan.
func (c *Callbacks) Issue(ctx context.Context, m *ledger.Manifest, part int, name string) (string, error) {
	ttl := retention(m) + c.Window
	if ttl <= retention(m) {
		ttl += DefaultWindow
	}
	val := strconv.Itoa(part) + "\x00" + m.ID + "\x00" + name
	if err := c.rdb.Set(ctx, tokenKey(c.Token(name)), val, ttl).Err(); err != nil {
		return "", fmt.Errorf("callback token: %w", err)
	}
	return c.URL(name), nil
}

// ServeHTTP answers a callback.
func (c *Callbacks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.URL.Path, CallbackPath)
	if !ok || len(token) != 32 || strings.Trim(token, "0123456789abcdef") != "" {
		http.NotFound(w, r)
		return
	}
	val, err := c.rdb.Get(r.Context(), tokenKey(token)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	f := strings.SplitN(val, "\x00", 3)
	part, perr := strconv.Atoi(f[0])
	if err != nil || len(f) != 3 || perr != nil || !hmac.Equal([]byte(c.Token(f[2])), []byte(token)) {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	log := c.log().WithFields(logrus.Fields{"batch": f[1], "part": part, "vendor_batch": f[2]})
	log.WithField("body", redact.Message(string(body))).Info("FlashAI callback: polling now (the body is not believed)")
	if c.Poll != nil {
		if err := c.Poll(r.Context(), f[1], part, attemptOf(f[2])); err != nil {
			log.WithError(err).Warn("FlashAI callback: could not hurry the poll; the schedule polls anyway")
		}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok\n")
}

func (c *Callbacks) log() *logrus.Entry {
	if c.Log == nil {
		return logrus.NewEntry(logrus.StandardLogger())
	}
	return c.Log
}

// attemptOf reads the attempt from a vendor batch name: a redial's ends in _r<k>.
func attemptOf(name string) int {
	i := strings.LastIndex(name, "_r")
	if i < 0 {
		return 1
	}
	k, err := strconv.Atoi(name[i+2:])
	if err != nil || k < 2 {
		return 1
	}
	return k
}
