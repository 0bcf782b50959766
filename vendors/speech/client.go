package speech

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/registry"
)

// Vendor is this vendor's name in errors, logs and the fake's paths.
const Vendor = registry.Speech

// API paths below the tenant's base URL.
const (
	PathCreate = "/speech/openapi/v1/task/outbound/create"
	PathAppend = "/speech/openapi/v1/task/outbound/customer/append"
)

// DefaultTimeout bounds each request.
const DefaultTimeout = 15 * time.Second

// Config configures a Client.
type Config struct {
	// BaseURL is the tenant's domain, e.g. https://abc.xyz (no /speech suffix).
	BaseURL string
	AppID   string
	// Signer computes the sign header; see NewRSASigner.
	Signer Signer
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient is optional.
	HTTPClient *http.Client
	// Now is the clock for timestamps; nil means time.Now.
	Now func() time.Time
	// DuplicateNameMessage is the tenant's wording of a taken task name: one or
	// more case-insensitive substrings separated by "|", recognised on a create's
	// failure whatever its code, in addition to the built-in wordings (doc.go).
	DuplicateNameMessage string
}

// Client calls the speech API. It is safe for concurrent use.
type Client struct {
	base    string
	appID   string
	signer  Signer
	timeout time.Duration
	hc      *http.Client
	now     func() time.Time
	dupMsg  string
}

// NewClient checks cfg and builds a client.
func NewClient(cfg Config) (*Client, error) {
	base := strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	if base == "" {
		return nil, errors.New("speech: base url is required")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("speech: base url must be an absolute http or https url")
	}
	if cfg.AppID == "" {
		return nil, errors.New("speech: app id is required")
	}
	if cfg.Signer == nil {
		return nil, errors.New("speech: signer is required")
	}
	c := &Client{
		base:    base,
		appID:   cfg.AppID,
		signer:  cfg.Signer,
		timeout: cfg.Timeout,
		hc:      cfg.HTTPClient,
		now:     cfg.Now,
		dupMsg:  cfg.DuplicateNameMessage,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.hc == nil {
		c.hc = vendors.NewHTTPClient(c.timeout)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// CreateTask creates a task with its first customers (1 to 1,000). A create whose
// earlier attempt went through fails with an *APIError for which IsDuplicateName
// (and DuplicateTaskName) is true.
func (c *Client) CreateTask(ctx context.Context, req *CreateTaskRequest) (*CreateTaskResponse, error) {
	const op = "create"
	if req == nil {
		return nil, &RequestError{Op: op, Err: errors.New("nil request")}
	}
	if err := checkCount(len(req.OutBoundCustomers)); err != nil {
		return nil, &RequestError{Op: op, Err: err}
	}
	data, err := c.post(ctx, op, PathCreate, req)
	if err != nil {
		return nil, err
	}
	id, err := parseTaskID(data)
	if err != nil {
		return nil, &vendors.MalformedError{Vendor: Vendor, Op: op, Err: err}
	}
	return &CreateTaskResponse{TaskID: id}, nil
}

// AppendCustomers adds 1 to 1,000 customers to a task.
func (c *Client) AppendCustomers(ctx context.Context, req *AppendRequest) error {
	const op = "append"
	if req == nil {
		return &RequestError{Op: op, Err: errors.New("nil request")}
	}
	if err := checkCount(len(req.Customers)); err != nil {
		return &RequestError{Op: op, Err: err}
	}
	_, err := c.post(ctx, op, PathAppend, req)
	return err
}

func checkCount(n int) error {
	switch {
	case n == 0:
		return ErrNoCustomers
	case n > MaxCustomersPerCall:
		return fmt.Errorf("%w: %d", ErrTooManyCustomers, n)
	}
	return nil
}

// post marshals body once, signs those bytes with a fresh timestamp, sends them and
// returns the envelope's data on success.
func (c *Client) post(ctx context.Context, op, path string, body any) (json.RawMessage, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, &RequestError{Op: op, Err: fmt.Errorf("encode: %w", err)}
	}
	ts := strconv.FormatInt(c.now().UnixMilli(), 10)
	sig, err := c.signer.Sign(c.appID, ts, payload)
	if err != nil {
		return nil, &RequestError{Op: op, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(payload))
	if err != nil {
		return nil, &RequestError{Op: op, Err: errors.New("build request")}
	}
	// Set as the page spells them: net/http would canonicalise appId to Appid.
	hr.Header["appId"] = []string{c.appID}
	hr.Header["timestamp"] = []string{ts}
	hr.Header["sign"] = []string{sig}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := vendors.Do(ctx, c.hc, Vendor, op, hr)
	if err != nil {
		return nil, err
	}
	return checkResponse(op, resp, c.now(), c.dupMsg)
}

const maxCodeLen = 32

type envelope struct {
	Code    json.RawMessage `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// parseEnvelope reads {code, message, data}; ok is false when body is not one.
func parseEnvelope(body []byte) (code string, env envelope, ok bool) {
	if err := json.Unmarshal(body, &env); err != nil {
		return "", env, false
	}
	code, ok = parseCode(env.Code)
	return code, env, ok
}

// parseCode accepts the documented string and, tolerantly, a bare integer.
func parseCode(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		// Codes are short; anything else is not this vendor's envelope.
		return s, s != "" && len(s) <= maxCodeLen
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err == nil {
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

// checkResponse turns an answer into data or an error.
func checkResponse(op string, resp *vendors.Response, now time.Time, dupMsg string) (json.RawMessage, error) {
	code, env, ok := parseEnvelope(resp.Body)
	is2xx := resp.StatusCode >= 200 && resp.StatusCode < 300
	if !ok {
		if is2xx {
			return nil, &vendors.MalformedError{Vendor: Vendor, Op: op, Err: errors.New("body is not a {code, message, data} envelope")}
		}
		return nil, &vendors.HTTPStatusError{Vendor: Vendor, Op: op, StatusCode: resp.StatusCode, After: resp.RetryAfterHeader(now)}
	}
	if is2xx && code == CodeOK {
		return env.Data, nil
	}
	e := &APIError{
		Op:         op,
		StatusCode: resp.StatusCode,
		Code:       code,
		Message:    redact.Message(env.Message),
		After:      resp.RetryAfterHeader(now),
	}
	if code == CodeOK {
		// A success code on an error status: trust the status.
		return nil, &vendors.HTTPStatusError{Vendor: Vendor, Op: op, StatusCode: resp.StatusCode, After: e.After}
	}
	// Only a create carries a task name; the vendor's code for a taken one is not
	// documented, so the wording decides on any code.
	e.duplicateName = op == "create" && isDuplicateName(env.Message, dupMsg)
	return nil, e
}

// parseTaskID reads data as a positive task id: a number, or a string of digits.
func parseTaskID(data json.RawMessage) (int64, error) {
	var raw any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if len(data) == 0 || d.Decode(&raw) != nil {
		return 0, errors.New("data is not a task id")
	}
	var s string
	switch v := raw.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	default:
		return 0, errors.New("data is not a task id")
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errors.New("data is not a positive integer task id")
	}
	return id, nil
}

// SignerFromEnv builds the RSA signer from SPEECH_PRIVATE_KEY (or _FILE),
// SPEECH_SIGN_HASH and SPEECH_SIGN_TEMPLATE; nil when no key is set. The fake
// vendor uses it too, so both sides read the same variables.
func SignerFromEnv(getenv envconf.Getenv) (*RSASigner, error) {
	key, err := envconf.Secret(getenv, "SPEECH_PRIVATE_KEY")
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, nil
	}
	hash, err := ParseHash(getenv("SPEECH_SIGN_HASH"))
	if err != nil {
		return nil, fmt.Errorf("SPEECH_SIGN_HASH: %w", err)
	}
	// Environment files often carry a PEM on one line with literal \n.
	if !strings.Contains(key, "\n") {
		key = strings.ReplaceAll(key, `\n`, "\n")
	}
	s, err := NewRSASigner([]byte(key), SignOptions{Hash: hash, Template: getenv("SPEECH_SIGN_TEMPLATE")})
	if err != nil {
		return nil, fmt.Errorf("SPEECH_PRIVATE_KEY: %w", err)
	}
	return s, nil
}

// envVars are every variable ConfigFromEnv reads; any one set means configured.
var envVars = []string{
	"SPEECH_BASE_URL", "SPEECH_APP_ID", "SPEECH_PRIVATE_KEY", "SPEECH_PRIVATE_KEY_FILE",
	"SPEECH_SIGN_HASH", "SPEECH_SIGN_TEMPLATE", "SPEECH_DUPLICATE_NAME_MESSAGE",
}

// ConfigFromEnv reads SPEECH_BASE_URL, SPEECH_APP_ID, SPEECH_PRIVATE_KEY or
// SPEECH_PRIVATE_KEY_FILE (PEM), SPEECH_SIGN_HASH (sha256|sha1),
// SPEECH_SIGN_TEMPLATE and SPEECH_DUPLICATE_NAME_MESSAGE. configured is false when
// none is set.
func ConfigFromEnv(getenv envconf.Getenv) (cfg Config, configured bool, err error) {
	for _, v := range envVars {
		if getenv(v) != "" {
			configured = true
			break
		}
	}
	if !configured {
		return Config{}, false, nil
	}
	cfg.BaseURL = getenv("SPEECH_BASE_URL")
	cfg.AppID = getenv("SPEECH_APP_ID")
	cfg.DuplicateNameMessage = getenv("SPEECH_DUPLICATE_NAME_MESSAGE")
	switch {
	case cfg.BaseURL == "":
		return Config{}, true, errors.New("SPEECH_BASE_URL is required")
	case cfg.AppID == "":
		return Config{}, true, errors.New("SPEECH_APP_ID is required")
	}
	signer, err := SignerFromEnv(getenv)
	if err != nil {
		return Config{}, true, err
	}
	if signer == nil {
		return Config{}, true, errors.New("SPEECH_PRIVATE_KEY or SPEECH_PRIVATE_KEY_FILE is required")
	}
	cfg.Signer = signer
	return cfg, true, nil
}
