package nxcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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

const (
	vendor = registry.NXCloud

	// DefaultBaseURL is the vendor's main gateway; regional ones use the same path.
	DefaultBaseURL = "https://api2.nxcloud.com"
	// DefaultTimeout bounds each HTTP request.
	DefaultTimeout = 15 * time.Second

	createAndCallPath = "/saas/cc/openapi/ai/createandcall"
	opCreateAndCall   = "createandcall"

	// Fixed header values for AI outbound calls.
	bizType = "8"
	action  = "cc"
)

// Config is what a Client needs.
type Config struct {
	// BaseURL is the gateway, without the API path; empty means DefaultBaseURL.
	BaseURL      string
	AccessKey    string
	AccessSecret string
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient is optional; the default one does not follow redirects.
	HTTPClient *http.Client
	// Now is the clock for ts; nil means time.Now.
	Now func() time.Time
}

// String keeps the secret out of anything that prints a Config.
func (c Config) String() string {
	return fmt.Sprintf("nxcloud.Config{BaseURL:%q AccessKey:%q AccessSecret:%q Timeout:%v}",
		c.BaseURL, c.AccessKey, redact.Secret(c.AccessSecret), c.Timeout)
}

// ConfigFromEnv reads NXCLOUD_BASE_URL (optional), NXCLOUD_ACCESS_KEY and
// NXCLOUD_ACCESS_SECRET (or NXCLOUD_ACCESS_SECRET_FILE). configured is false when
// none of them is set.
func ConfigFromEnv(getenv envconf.Getenv) (cfg Config, configured bool, err error) {
	names := []string{"NXCLOUD_BASE_URL", "NXCLOUD_ACCESS_KEY", "NXCLOUD_ACCESS_SECRET", "NXCLOUD_ACCESS_SECRET_FILE"}
	for _, n := range names {
		if getenv(n) != "" {
			configured = true
		}
	}
	if !configured {
		return Config{}, false, nil
	}
	cfg.BaseURL = envconf.Or(getenv, "NXCLOUD_BASE_URL", DefaultBaseURL)
	cfg.AccessKey = getenv("NXCLOUD_ACCESS_KEY")
	if cfg.AccessSecret, err = envconf.Secret(getenv, "NXCLOUD_ACCESS_SECRET"); err != nil {
		return Config{}, true, fmt.Errorf("nxcloud: %w", err)
	}
	switch {
	case cfg.AccessKey == "":
		return Config{}, true, errors.New("nxcloud: NXCLOUD_ACCESS_KEY is not set")
	case cfg.AccessSecret == "":
		return Config{}, true, errors.New("nxcloud: NXCLOUD_ACCESS_SECRET is not set")
	}
	return cfg, true, nil
}

// Client calls NXCloud. It is safe for concurrent use.
type Client struct {
	endpoint  string
	accessKey string
	secret    string
	timeout   time.Duration
	hc        *http.Client
	now       func() time.Time
}

// NewClient checks cfg and builds a Client.
func NewClient(cfg Config) (*Client, error) {
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("nxcloud: base url %q: want http(s)://host[/prefix]", base)
	}
	if cfg.AccessKey == "" || cfg.AccessSecret == "" {
		return nil, errors.New("nxcloud: access key and access secret are required")
	}
	c := &Client{
		endpoint:  strings.TrimRight(base, "/") + createAndCallPath,
		accessKey: cfg.AccessKey,
		secret:    cfg.AccessSecret,
		timeout:   cfg.Timeout,
		hc:        cfg.HTTPClient,
		now:       cfg.Now,
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

// CreateAndCall creates one vendor task holding req.CallList. Each call signs
// afresh, so a caller retries by calling again with the same request.
func (c *Client) CreateAndCall(ctx context.Context, req *CreateAndCallRequest) (*CreateAndCallResponse, error) {
	if err := validate(req); err != nil {
		return nil, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, &RequestError{Op: opCreateAndCall, Reason: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("nxcloud %s: %w", opCreateAndCall, err)
	}
	now := c.now()
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	// Set directly to keep the vendor's spelling; HTTP does not care, some gateways do.
	hr.Header["Content-Type"] = []string{"application/json"}
	hr.Header["accessKey"] = []string{c.accessKey}
	hr.Header["ts"] = []string{ts}
	hr.Header["bizType"] = []string{bizType}
	hr.Header["action"] = []string{action}
	hr.Header["sign"] = []string{Sign(c.accessKey, action, bizType, ts, body, c.secret)}

	resp, err := vendors.Do(ctx, c.hc, vendor, opCreateAndCall, hr)
	if err != nil {
		return nil, err
	}
	env, err := checkResponse(opCreateAndCall, resp, now)
	if err != nil {
		return nil, err
	}
	return &CreateAndCallResponse{ReqID: env.ReqID, Message: env.Msg}, nil
}

// validate refuses the call-level settings the vendor would answer 41000 to; no
// split of the numbers could fix them. Per-number checks are the vendor's.
func validate(r *CreateAndCallRequest) error {
	bad := func(format string, args ...any) error {
		return &RequestError{Op: opCreateAndCall, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case r == nil:
		return bad("nil request")
	case len(r.Country) != 2 || !isUpper(r.Country[0]) || !isUpper(r.Country[1]):
		return bad("country %q is not an upper-case ISO-2 code", r.Country)
	case r.TaskName == "":
		return bad("task name is empty")
	case r.StrategyName == "":
		return bad("strategy name is empty")
	case r.AgentGroupNo == "":
		return bad("agent group number is empty")
	case r.DispatchType < DispatchNone || r.DispatchType > DispatchPreTest:
		return bad("dispatch type %d is not 0, 1 or 2", r.DispatchType)
	case r.StartupType != nil && (*r.StartupType < StartupNone || *r.StartupType > StartupImmediate):
		return bad("startup type %d is not 0 to 3", *r.StartupType)
	case !validRate(r.PredictCallRate):
		return bad("predict call rate %v is not a finite non-negative number", r.PredictCallRate)
	case !validRate(r.RatioCallRate):
		return bad("ratio call rate %v is not a finite non-negative number", r.RatioCallRate)
	case r.StartCount < 0:
		return bad("start count %d is negative", r.StartCount)
	case len(r.CallList) == 0:
		return bad("call list is empty")
	}
	return nil
}

func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }

func validRate(f float64) bool { return f >= 0 && !math.IsInf(f, 0) && !math.IsNaN(f) }

// envelope is the vendor's answer.
type envelope struct {
	ReqID string
	Code  int
	Msg   string
}

// parseEnvelope reads {reqId, code, msg, data}; code is required and must be an
// integer (a quoted one is tolerated).
func parseEnvelope(b []byte) (*envelope, error) {
	var raw struct {
		ReqID json.RawMessage `json:"reqId"`
		Code  json.RawMessage `json:"code"`
		Msg   json.RawMessage `json:"msg"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("not a json object: %w", err)
	}
	if raw.Code == nil {
		return nil, errors.New("no code")
	}
	code, ok := vendors.JSONInt(raw.Code)
	if !ok {
		return nil, errors.New("code is not an integer")
	}
	return &envelope{ReqID: vendors.JSONString(raw.ReqID), Code: code, Msg: vendors.JSONString(raw.Msg)}, nil
}

// checkResponse turns the vendor's answer into its envelope or a classified error.
func checkResponse(op string, resp *vendors.Response, now time.Time) (*envelope, error) {
	env, perr := parseEnvelope(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{Op: op, StatusCode: resp.StatusCode, After: resp.RetryAfterHeader(now)}
		if perr == nil {
			e.Code, e.Message, e.ReqID = env.Code, redact.Message(env.Msg), env.ReqID
		}
		return nil, e
	}
	if perr != nil {
		return nil, &vendors.MalformedError{Vendor: vendor, Op: op, Err: perr}
	}
	if env.Code != CodeOK {
		return nil, &APIError{Op: op, StatusCode: resp.StatusCode, Code: env.Code, Message: redact.Message(env.Msg), ReqID: env.ReqID,
			After: resp.RetryAfterHeader(now)}
	}
	return env, nil
}
