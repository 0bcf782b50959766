package yccall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/registry"
)

const (
	vendor = registry.Yccall

	// DefaultTimeout bounds each HTTP request.
	DefaultTimeout = 15 * time.Second
	// DefaultTokenMaxAge is how long a token is used before logging in again; the
	// vendor's tokens last 12 hours.
	DefaultTokenMaxAge = 11 * time.Hour

	serviceLogin      = "App.Sip_Auth.Login"
	serviceTaskCreate = "App.Sip_Yccall.TaskCreat"
	serviceTaskAdd    = "App.Sip_Yccall.TaskAdd"
	serviceTaskSet    = "App.Sip_Yccall.TaskSet"

	opLogin      = "Login"
	opTaskCreate = "TaskCreat"
	opTaskAdd    = "TaskAdd"
	opTaskSet    = "TaskSet"
)

// Config is what a Client needs: BaseURL and either AppID with AccessKey, or Token.
type Config struct {
	// BaseURL is the tenant's root URL; every call is posted to it as is.
	BaseURL   string
	AppID     string
	AccessKey string
	// Token is a static token, used instead of logging in.
	Token string
	// TokenMaxAge is how long a logged-in token is used; zero means DefaultTokenMaxAge.
	TokenMaxAge time.Duration
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient is optional; the default one does not follow redirects.
	HTTPClient *http.Client
	// Now is the clock for token age and default call times; nil means time.Now.
	Now func() time.Time
}

// String keeps the credentials out of anything that prints a Config.
func (c Config) String() string {
	return fmt.Sprintf("yccall.Config{BaseURL:%q AppID:%q AccessKey:%q Token:%q Timeout:%v}",
		c.BaseURL, c.AppID, redact.Secret(c.AccessKey), redact.Secret(c.Token), c.Timeout)
}

// ConfigFromEnv reads YCCALL_BASE_URL and either YCCALL_APPID with YCCALL_ACCESSKEY
// (or _FILE), or YCCALL_TOKEN (or _FILE). configured is false when none is set.
func ConfigFromEnv(getenv envconf.Getenv) (cfg Config, configured bool, err error) {
	for _, n := range []string{"YCCALL_BASE_URL", "YCCALL_APPID", "YCCALL_ACCESSKEY", "YCCALL_ACCESSKEY_FILE", "YCCALL_TOKEN", "YCCALL_TOKEN_FILE"} {
		if getenv(n) != "" {
			configured = true
		}
	}
	if !configured {
		return Config{}, false, nil
	}
	cfg.BaseURL = getenv("YCCALL_BASE_URL")
	cfg.AppID = getenv("YCCALL_APPID")
	if cfg.AccessKey, err = envconf.Secret(getenv, "YCCALL_ACCESSKEY"); err != nil {
		return Config{}, true, fmt.Errorf("yccall: %w", err)
	}
	if cfg.Token, err = envconf.Secret(getenv, "YCCALL_TOKEN"); err != nil {
		return Config{}, true, fmt.Errorf("yccall: %w", err)
	}
	pair := cfg.AppID != "" || cfg.AccessKey != ""
	switch {
	case cfg.BaseURL == "":
		return Config{}, true, errors.New("yccall: YCCALL_BASE_URL is not set")
	case pair && cfg.Token != "":
		return Config{}, true, errors.New("yccall: set YCCALL_APPID and YCCALL_ACCESSKEY, or YCCALL_TOKEN, not both")
	case cfg.AppID != "" && cfg.AccessKey == "":
		return Config{}, true, errors.New("yccall: YCCALL_ACCESSKEY is not set")
	case cfg.AppID == "" && cfg.AccessKey != "":
		return Config{}, true, errors.New("yccall: YCCALL_APPID is not set")
	case !pair && cfg.Token == "":
		return Config{}, true, errors.New("yccall: YCCALL_APPID and YCCALL_ACCESSKEY, or YCCALL_TOKEN, must be set")
	}
	return cfg, true, nil
}

// Client calls Yccall. It is safe for concurrent use.
type Client struct {
	endpoint  string
	appID     string
	accessKey string
	static    string
	maxAge    time.Duration
	timeout   time.Duration
	hc        *http.Client
	now       func() time.Time

	loginSlot chan struct{} // held by the one caller logging in
	mu        sync.Mutex
	tok       string
	tokAt     time.Time
}

// NewClient checks cfg and builds a Client.
func NewClient(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("yccall: base url %q: want http(s)://host[/path]", cfg.BaseURL)
	}
	pair := cfg.AppID != "" && cfg.AccessKey != ""
	switch {
	case pair && cfg.Token != "":
		return nil, errors.New("yccall: configure appid and accesskey, or a token, not both")
	case !pair && (cfg.AppID != "" || cfg.AccessKey != ""):
		return nil, errors.New("yccall: appid and accesskey go together")
	case !pair && cfg.Token == "":
		return nil, errors.New("yccall: appid and accesskey, or a token, are required")
	}
	c := &Client{
		endpoint:  cfg.BaseURL,
		appID:     cfg.AppID,
		accessKey: cfg.AccessKey,
		static:    cfg.Token,
		maxAge:    cfg.TokenMaxAge,
		timeout:   cfg.Timeout,
		hc:        cfg.HTTPClient,
		now:       cfg.Now,
		loginSlot: make(chan struct{}, 1),
	}
	if c.maxAge <= 0 {
		c.maxAge = DefaultTokenMaxAge
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

// TaskCreate creates a task holding req.Phones (App.Sip_Yccall.TaskCreat). Numbers
// the vendor refused come back in Invalid; the others were accepted.
func (c *Client) TaskCreate(ctx context.Context, req *TaskCreateRequest) (*TaskCreateResponse, error) {
	bad := func(format string, args ...any) error {
		return &RequestError{Op: opTaskCreate, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case req == nil:
		return nil, bad("nil request")
	case req.AssignType < AssignExtension || req.AssignType > AssignGroup:
		return nil, bad("assign type %d is not 1, 2 or 3", req.AssignType)
	case req.AssignAgent == "":
		return nil, bad("assign agent is empty")
	case !chunking.ValidYccallTaskScale(req.TaskScale):
		return nil, bad("task scale %q is not 1:N", req.TaskScale)
	}
	tel, err := c.telphone(opTaskCreate, req.Phones)
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"service":     {serviceTaskCreate},
		"assigntype":  {strconv.Itoa(int(req.AssignType))},
		"assignagent": {req.AssignAgent},
		"telphone":    {tel},
		"taskscale":   {req.TaskScale},
		"disnumber":   {strings.Join(req.DisNumbers, ",")},
	}
	if req.TaskName != "" {
		form.Set("taskname", req.TaskName)
	}
	env, err := c.call(ctx, opTaskCreate, form)
	if err != nil {
		return nil, err
	}
	var res struct {
		TaskID  json.RawMessage `json:"taskid"`
		Invalid json.RawMessage `json:"invaliddata"`
	}
	if err := json.Unmarshal(env.Result, &res); err != nil {
		return nil, c.malformed(opTaskCreate, err)
	}
	id := asScalar(res.TaskID)
	if id == "" {
		return nil, c.malformed(opTaskCreate, errors.New("no taskid in result"))
	}
	inv, err := parseInvalid(res.Invalid)
	if err != nil {
		return nil, c.malformed(opTaskCreate, err)
	}
	return &TaskCreateResponse{TaskID: id, Invalid: inv}, nil
}

// TaskAdd appends phones to task taskID (App.Sip_Yccall.TaskAdd).
func (c *Client) TaskAdd(ctx context.Context, taskID string, phones []Phone) (*TaskAddResponse, error) {
	if taskID == "" {
		return nil, &RequestError{Op: opTaskAdd, Reason: "task id is empty"}
	}
	tel, err := c.telphone(opTaskAdd, phones)
	if err != nil {
		return nil, err
	}
	form := url.Values{"service": {serviceTaskAdd}, "taskid": {taskID}, "telphone": {tel}}
	env, err := c.call(ctx, opTaskAdd, form)
	if err != nil {
		return nil, err
	}
	var res struct {
		Success json.RawMessage `json:"success"`
		Invalid json.RawMessage `json:"invaliddata"`
	}
	if err := json.Unmarshal(env.Result, &res); err != nil {
		return nil, c.malformed(opTaskAdd, err)
	}
	inv, err := parseInvalid(res.Invalid)
	if err != nil {
		return nil, c.malformed(opTaskAdd, err)
	}
	n := len(phones) - len(inv)
	if res.Success != nil && string(res.Success) != "null" {
		var ok bool
		if n, ok = vendors.JSONInt(res.Success); !ok {
			return nil, c.malformed(opTaskAdd, errors.New("success is not an integer"))
		}
	}
	return &TaskAddResponse{Success: n, Invalid: inv}, nil
}

// TaskSet starts, pauses or ends task taskID (App.Sip_Yccall.TaskSet).
func (c *Client) TaskSet(ctx context.Context, taskID string, status TaskStatus) error {
	switch {
	case taskID == "":
		return &RequestError{Op: opTaskSet, Reason: "task id is empty"}
	case status < TaskStart || status > TaskEnd:
		return &RequestError{Op: opTaskSet, Reason: fmt.Sprintf("task status %d is not 1, 2 or 3", status)}
	}
	form := url.Values{"service": {serviceTaskSet}, "taskid": {taskID}, "taskstatus": {strconv.Itoa(int(status))}}
	_, err := c.call(ctx, opTaskSet, form)
	return err
}

// telphone encodes phones as the vendor's JSON string, once per call so that a
// repeat sends the same bytes.
func (c *Client) telphone(op string, phones []Phone) (string, error) {
	switch {
	case len(phones) == 0:
		return "", &RequestError{Op: op, Reason: "no phones"}
	case len(phones) > MaxPhonesPerCall:
		return "", &RequestError{Op: op, TooMany: true,
			Reason: fmt.Sprintf("%d phones, at most %d per call", len(phones), MaxPhonesPerCall)}
	}
	now := c.now().Unix()
	wire := make([]wirePhone, len(phones))
	for i, p := range phones {
		t := now
		if !p.Time.IsZero() {
			t = p.Time.Unix()
		}
		wire[i] = wirePhone{Phone: p.Number, Time: t, UserID: p.UserID, MemberID: p.MemberID,
			Chengshudu: p.Chengshudu, CustomUUID: p.CustomUUID}
	}
	b, err := json.Marshal(wire)
	if err != nil {
		return "", &RequestError{Op: op, Reason: err.Error()}
	}
	return string(b), nil
}

// call sends an authorised call, logging in again and repeating it once on ret
// 600. A refusal of the token that persists (or any 1003) drops the cached token,
// so the caller's next attempt, after its backoff, logs in afresh.
func (c *Client) call(ctx context.Context, op string, form url.Values) (*envelope, error) {
	tok, err := c.token(ctx, op)
	if err != nil {
		return nil, err
	}
	form.Set("token", tok)
	env, err := c.post(ctx, op, form)
	var ae *APIError
	if !errors.As(err, &ae) || !ae.authRefusal() {
		return env, err
	}
	c.forget(tok)
	if c.static != "" || ae.Ret != RetTokenInvalid {
		return env, err
	}
	// Ret 600 means the call was refused unprocessed, so repeating it is safe.
	if tok, err = c.token(ctx, op); err != nil {
		return nil, err
	}
	form.Set("token", tok)
	env, err = c.post(ctx, op, form)
	if errors.As(err, &ae) && ae.authRefusal() {
		c.forget(tok)
	}
	return env, err
}

// post sends one form and reads the vendor's answer.
func (c *Client) post(ctx context.Context, op string, form url.Values) (*envelope, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("yccall %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := vendors.Do(ctx, c.hc, vendor, op, req)
	if err != nil {
		return nil, err
	}
	return checkResponse(op, resp, c.now())
}

func (c *Client) malformed(op string, err error) error {
	return &vendors.MalformedError{Vendor: vendor, Op: op, Err: err}
}
