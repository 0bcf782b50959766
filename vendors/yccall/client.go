package yccall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors"
)

const (
	vendor = "yccall"

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

// envelope is the vendor's answer: {ret, data: {status, desc, result, errors}, msg}.
type envelope struct {
	Ret     int
	Msg     string
	Status  int
	Desc    string
	Result  json.RawMessage
	ErrCode int
	ErrMsg  string
}

// parseEnvelope reads the vendor's answer. ret is required; with ret 200, data must
// be an object. Integers may come quoted.
func parseEnvelope(b []byte) (*envelope, error) {
	var raw struct {
		Ret  json.RawMessage `json:"ret"`
		Data json.RawMessage `json:"data"`
		Msg  json.RawMessage `json:"msg"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("not a json object: %w", err)
	}
	ret, ok := vendors.JSONInt(raw.Ret)
	if !ok {
		return nil, errors.New("ret missing or not an integer")
	}
	env := &envelope{Ret: ret, Msg: vendors.JSONString(raw.Msg)}
	var data struct {
		Status json.RawMessage `json:"status"`
		Desc   json.RawMessage `json:"desc"`
		Result json.RawMessage `json:"result"`
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(raw.Data, &data); err != nil || raw.Data == nil || string(raw.Data) == "null" {
		if ret == RetOK {
			return nil, errors.New("data missing or not an object")
		}
		return env, nil
	}
	env.Desc, env.Result = vendors.JSONString(data.Desc), data.Result
	// An absent status reads as 0 (the result decides); a present one must be an integer.
	if data.Status != nil {
		if env.Status, ok = vendors.JSONInt(data.Status); !ok && ret == RetOK {
			return nil, errors.New("data.status is not an integer")
		}
	}
	var errs struct {
		Code    json.RawMessage `json:"code"`
		CodeMsg json.RawMessage `json:"codemsg"`
	}
	if json.Unmarshal(data.Errors, &errs) == nil {
		env.ErrCode, _ = vendors.JSONInt(errs.Code)
		env.ErrMsg = vendors.JSONString(errs.CodeMsg)
	}
	return env, nil
}

// checkResponse turns the vendor's answer into its envelope or a classified error.
func checkResponse(op string, resp *vendors.Response, now time.Time) (*envelope, error) {
	env, perr := parseEnvelope(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{Op: op, StatusCode: resp.StatusCode, After: resp.RetryAfterHeader(now)}
		if perr == nil {
			e.Ret, e.Status, e.Code, e.Message = env.Ret, env.Status, env.ErrCode, redact.Message(firstNonEmpty(env.ErrMsg, env.Msg, env.Desc))
		}
		return nil, e
	}
	if perr != nil {
		return nil, &vendors.MalformedError{Vendor: vendor, Op: op, Err: perr}
	}
	switch {
	case env.Ret != RetOK:
		return nil, &APIError{Op: op, StatusCode: resp.StatusCode, Ret: env.Ret, Message: redact.Message(firstNonEmpty(env.Msg, env.Desc))}
	case env.Status != 0:
		return nil, &APIError{Op: op, StatusCode: resp.StatusCode, Ret: env.Ret, Status: env.Status, Code: env.ErrCode,
			Message: redact.Message(firstNonEmpty(env.ErrMsg, env.Desc, env.Msg))}
	}
	return env, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

var (
	phoneKeys  = []string{"phone", "telphone", "mobile", "tel", "number"}
	reasonKeys = []string{"reason", "msg", "message", "desc", "error", "errmsg", "codemsg", "remark"}
)

// parseInvalid reads invaliddata in any of the shapes the package comment lists.
func parseInvalid(raw json.RawMessage) ([]Invalid, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" || s == `""` {
		return nil, nil
	}
	switch s[0] {
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("invaliddata: %w", err)
		}
		out := make([]Invalid, 0, len(items))
		for _, it := range items {
			out = append(out, invalidItem(it))
		}
		return out, nil
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("invaliddata: %w", err)
		}
		phones := make([]string, 0, len(m))
		for p := range m {
			phones = append(phones, p)
		}
		sort.Strings(phones)
		out := make([]Invalid, 0, len(m))
		for _, p := range phones {
			in := Invalid{Phone: p, Reason: vendors.JSONString(m[p])}
			if in.Reason == "" {
				in.Reason = invalidItem(m[p]).Reason
			}
			out = append(out, withReason(in))
		}
		return out, nil
	}
	return nil, errors.New("invaliddata is neither a list nor an object")
}

// invalidItem reads one element: a phone (string or number) or an object.
func invalidItem(raw json.RawMessage) Invalid {
	if p := asScalar(raw); p != "" {
		return withReason(Invalid{Phone: p})
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return withReason(Invalid{})
	}
	lower := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		lower[strings.ToLower(k)] = v
	}
	var in Invalid
	for _, k := range phoneKeys {
		if in.Phone = asScalar(lower[k]); in.Phone != "" {
			break
		}
	}
	for _, k := range reasonKeys {
		if in.Reason = asScalar(lower[k]); in.Reason != "" {
			break
		}
	}
	return withReason(in)
}

func withReason(in Invalid) Invalid {
	if in.Reason == "" {
		in.Reason = "refused by vendor (no reason given)"
	}
	return in
}

// asScalar reads a JSON string or number as text; anything else reads as empty.
func asScalar(raw json.RawMessage) string {
	if s := vendors.JSONString(raw); s != "" {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return ""
	}
	return n.String()
}
