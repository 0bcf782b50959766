package flashai

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
)

// Environment variables read by ConfigFromEnv (the fake vendor reads the same).
const (
	EnvBaseURL      = "FLASHAI_BASE_URL"
	EnvClientID     = "FLASHAI_CLIENT_ID"
	EnvClientSecret = "FLASHAI_CLIENT_SECRET" // or FLASHAI_CLIENT_SECRET_FILE
	EnvUserID       = "FLASHAI_USER_ID"
)

// DefaultTimeout bounds one request when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Config configures a Client.
type Config struct {
	// BaseURL is where the endpoints live, e.g. https://host/api/v1/thirdApi.
	BaseURL      string
	ClientID     string
	ClientSecret string
	// UserID is the vendor user plans are made for, unless a request names one.
	UserID int64
	// Nonces is required: nonces must be unique across the fleet (see RedisNonces).
	Nonces NonceSource
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout    time.Duration
	HTTPClient *http.Client
	// Now is the clock for timestamps; nil means time.Now.
	Now func() time.Time
	// Location is the zone of the times in call records; nil means DefaultLocation.
	Location *time.Location
}

// ConfigFromEnv reads the FLASHAI_* variables. configured is false when none is
// set; a partial set is an error naming what is missing. Nonces is left for the
// caller, who owns the Redis connection.
func ConfigFromEnv(getenv envconf.Getenv) (cfg Config, configured bool, err error) {
	secret, err := envconf.Secret(getenv, EnvClientSecret)
	if err != nil {
		return Config{}, true, fmt.Errorf("flashai: %w", err)
	}
	if getenv(EnvBaseURL) == "" && getenv(EnvClientID) == "" && getenv(EnvUserID) == "" &&
		secret == "" && getenv(EnvClientSecret+"_FILE") == "" {
		return Config{}, false, nil
	}
	cfg = Config{BaseURL: getenv(EnvBaseURL), ClientID: getenv(EnvClientID), ClientSecret: secret}
	for _, v := range []struct{ name, val string }{
		{EnvBaseURL, cfg.BaseURL}, {EnvClientID, cfg.ClientID},
		{EnvClientSecret, cfg.ClientSecret}, {EnvUserID, getenv(EnvUserID)},
	} {
		if v.val == "" {
			return Config{}, true, fmt.Errorf("flashai: %s is not set", v.name)
		}
	}
	cfg.UserID, err = strconv.ParseInt(strings.TrimSpace(getenv(EnvUserID)), 10, 64)
	if err != nil || cfg.UserID <= 0 {
		return Config{}, true, fmt.Errorf("flashai: %s must be a positive number", EnvUserID)
	}
	return cfg, true, nil
}

// Client calls FlashAI. It is safe for concurrent use.
type Client struct {
	base     string
	clientID string
	secret   string
	userID   int64
	nonces   NonceSource
	timeout  time.Duration
	hc       *http.Client
	now      func() time.Time
	loc      *time.Location
}

// NewClient checks cfg and builds a Client.
func NewClient(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("flashai: base url must be an absolute http(s) url")
	}
	switch {
	case cfg.ClientID == "":
		return nil, errors.New("flashai: client id is required")
	case cfg.ClientSecret == "":
		return nil, errors.New("flashai: client secret is required")
	case cfg.Nonces == nil:
		return nil, errors.New("flashai: a nonce source is required")
	case cfg.UserID < 0:
		return nil, errors.New("flashai: user id must not be negative")
	}
	c := &Client{
		base:     strings.TrimRight(cfg.BaseURL, "/"),
		clientID: cfg.ClientID,
		secret:   cfg.ClientSecret,
		userID:   cfg.UserID,
		nonces:   cfg.Nonces,
		timeout:  cfg.Timeout,
		hc:       cfg.HTTPClient,
		now:      cfg.Now,
		loc:      cfg.Location,
	}
	if c.loc == nil {
		c.loc = DefaultLocation
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

// AddPlan creates a plan with its numbers. Numbers the vendor refuses come back in
// the response; a repeated batch name fails with DuplicateBatchName.
func (c *Client) AddPlan(ctx context.Context, req *AddPlanRequest) (*AddPlanResponse, error) {
	const op = "addPlan"
	if req == nil {
		return nil, &RequestError{Op: op, Field: "request", Reason: "missing"}
	}
	fields, err := c.addPlanFields(op, req)
	if err != nil {
		return nil, err
	}
	return c.addPlanCall(ctx, op, fields)
}

// addPlanCall sends an addPlan or addAgentPlan: both answer alike.
func (c *Client) addPlanCall(ctx context.Context, op string, fields map[string]any) (*AddPlanResponse, error) {
	raw, err := c.call(ctx, op, fields)
	if err != nil {
		return nil, err
	}
	var b addPlanBody
	if err := decodeBody(op, raw, &b); err != nil {
		return nil, err
	}
	out := &AddPlanResponse{RightCount: int(b.RightCount), FailCount: int(b.FailCount)}
	out.FailMobileInfo, out.Failed = failMobileInfo(b.FailMobileInfo)
	return out, nil
}

// checkPage checks the paging fields every list request shares.
func checkPage(op, batchName string, page, pageNum int) error {
	bad := func(field, reason string) error { return &RequestError{Op: op, Field: field, Reason: reason} }
	switch {
	case batchName == "":
		return bad("batchName", "missing")
	case page < 1:
		return bad("page", "pages count from 1")
	case pageNum < 1 || pageNum > MaxPageNum:
		return bad("pageNum", fmt.Sprintf("want 1-%d", MaxPageNum))
	}
	return nil
}

func (c *Client) addPlanFields(op string, req *AddPlanRequest) (map[string]any, error) {
	bad := func(field, reason string) error { return &RequestError{Op: op, Field: field, Reason: reason} }
	userID := req.UserID
	if userID == 0 {
		userID = c.userID
	}
	switch {
	case userID <= 0:
		return nil, bad("userId", "missing")
	case req.BatchName == "":
		return nil, bad("batchName", "missing")
	case req.BotenceID == "":
		return nil, bad("botenceId", "missing")
	case !validDate(req.CallDate):
		return nil, bad("callDate", "want yyyyMMdd")
	case len(req.CallHours) == 0:
		return nil, bad("callHour", "missing")
	case req.Recall && req.RecallParams == "":
		return nil, bad("recallParams", "required when recall is set")
	case req.MobileList == "":
		return nil, bad("mobileList", "missing")
	}
	hours := make([]string, len(req.CallHours))
	for i, h := range req.CallHours {
		if h < MinCallHour || h > MaxCallHour {
			return nil, bad("callHour", fmt.Sprintf("hour %d is outside %d-%d", h, MinCallHour, MaxCallHour))
		}
		hours[i] = strconv.Itoa(h)
	}
	for _, l := range req.LineIDs {
		if l == "" || strings.Contains(l, ",") {
			return nil, bad("lineIds", "an id is empty or holds a comma")
		}
	}
	fields := map[string]any{
		"userId":     userID,
		"batchName":  req.BatchName,
		"botenceId":  req.BotenceID,
		"callDate":   req.CallDate,
		"callHour":   strings.Join(hours, ","),
		"clear":      flag(req.Clear),
		"isClear":    flag(req.Clear),
		"recall":     flag(req.Recall),
		"mobileList": req.MobileList,
	}
	optional := map[string]string{
		"lineIds":        strings.Join(req.LineIDs, ","),
		"recallParams":   req.RecallParams,
		"notifyUrl":      req.NotifyURL,
		"notifyBatchUrl": req.NotifyBatchURL,
	}
	for k, v := range optional {
		if v != "" {
			fields[k] = v
		}
	}
	return fields, nil
}

// BatchPlanPause pauses a plan.
func (c *Client) BatchPlanPause(ctx context.Context, batchName string) error {
	return c.batchOp(ctx, "batchPlanPause", batchName)
}

// BatchPlanRestart resumes a paused plan.
func (c *Client) BatchPlanRestart(ctx context.Context, batchName string) error {
	return c.batchOp(ctx, "batchPlanRestart", batchName)
}

// BatchPlanStop ends a plan for good.
func (c *Client) BatchPlanStop(ctx context.Context, batchName string) error {
	return c.batchOp(ctx, "batchPlanStop", batchName)
}

func (c *Client) batchOp(ctx context.Context, op, batchName string) error {
	if batchName == "" {
		return &RequestError{Op: op, Field: "batchName", Reason: "missing"}
	}
	_, err := c.call(ctx, op, map[string]any{"batchName": batchName})
	return err
}

// BatchPhoneDelete removes phones from a plan.
func (c *Client) BatchPhoneDelete(ctx context.Context, batchName string, phones []string) error {
	const op = "batchPhoneDelete"
	switch {
	case batchName == "":
		return &RequestError{Op: op, Field: "batchName", Reason: "missing"}
	case len(phones) == 0:
		return &RequestError{Op: op, Field: "phoneList", Reason: "missing"}
	}
	for _, p := range phones {
		if p == "" || strings.Contains(p, "^") {
			return &RequestError{Op: op, Field: "phoneList", Reason: `a phone is empty or holds "^"`}
		}
	}
	_, err := c.call(ctx, op, map[string]any{"batchName": batchName, "phoneList": strings.Join(phones, "^")})
	return err
}

// GetBatchPlanCallSummary counts a plan's numbers.
func (c *Client) GetBatchPlanCallSummary(ctx context.Context, batchName string) (*CallSummary, error) {
	const op = "getBatchPlanCallSummary"
	if batchName == "" {
		return nil, &RequestError{Op: op, Field: "batchName", Reason: "missing"}
	}
	raw, err := c.call(ctx, op, map[string]any{"batchName": batchName})
	if err != nil {
		return nil, err
	}
	var b summaryBody
	if err := decodeBody(op, raw, &b); err != nil {
		return nil, err
	}
	return &CallSummary{
		BatchName: string(b.BatchName), AcceptCount: int(b.AcceptCount),
		EndCount: int(b.EndCount), PlanCount: int(b.PlanCount),
	}, nil
}

// GetBatchPlanList reads one page of a plan's numbers.
func (c *Client) GetBatchPlanList(ctx context.Context, req *ListRequest) (*ListResponse, error) {
	const op = "getBatchPlanList"
	if req == nil {
		return nil, &RequestError{Op: op, Field: "request", Reason: "missing"}
	}
	if err := checkPage(op, req.BatchName, req.Page, req.PageNum); err != nil {
		return nil, err
	}
	if req.PhoneStatus < 0 || req.PhoneStatus > PhoneFailed {
		return nil, &RequestError{Op: op, Field: "phoneStatus", Reason: "want 0 (all), 1, 2 or 3"}
	}
	fields := map[string]any{"batchName": req.BatchName, "page": req.Page, "pageNum": req.PageNum}
	if req.PhoneStatus != 0 {
		fields["phoneStatus"] = req.PhoneStatus
	}
	raw, err := c.call(ctx, op, fields)
	if err != nil {
		return nil, err
	}
	var b listBody
	if err := decodeBody(op, raw, &b); err != nil {
		return nil, err
	}
	return &ListResponse{
		BatchName: string(b.BatchName), BatchCount: int(b.BatchCount), PhoneStatus: int(b.PhoneStatus),
		TotalPage: int(b.TotalPage), TotalRecord: int(b.TotalRecord), Page: int(b.Page), PageNum: int(b.PageNum),
		MobileList: string(b.MobileList), Mobiles: ParseMobileList(string(b.MobileList)),
	}, nil
}

// call signs fields with a fresh nonce and timestamp, posts them to op, and returns
// the envelope's body once the vendor answered "0".
func (c *Client) call(ctx context.Context, op string, fields map[string]any) (json.RawMessage, error) {
	payload, err := c.newBody(ctx, op, fields)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+op, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("%s %s: build request: %w", Vendor, op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := vendors.Do(ctx, c.hc, Vendor, op, req)
	if err != nil {
		return nil, err
	}
	return checkResponse(op, resp, c.now())
}

// newBody adds the common fields, signs the string forms of the very values it
// then marshals, and marshals once.
func (c *Client) newBody(ctx context.Context, op string, fields map[string]any) ([]byte, error) {
	nonce, err := c.nonces.Nonce(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", Vendor, op, err)
	}
	if !ValidNonce(nonce) {
		return nil, fmt.Errorf("%s %s: nonce source gave a malformed nonce", Vendor, op)
	}
	body := make(map[string]any, len(fields)+5)
	for k, v := range fields {
		body[k] = v
	}
	body["clientId"] = c.clientID
	body["nonce"] = nonce
	body["timestamp"] = c.now().UnixMilli()
	params, err := StringParams(body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", Vendor, op, err)
	}
	body["sign"] = Sign(params, c.secret)
	body["signType"] = SignType
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // send URLs as written; the signature covers the decoded values either way
	if err := enc.Encode(body); err != nil {
		return nil, fmt.Errorf("%s %s: encode: %w", Vendor, op, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// checkResponse turns an answer into the envelope's body or a classified error.
func checkResponse(op string, resp *vendors.Response, now time.Time) (json.RawMessage, error) {
	var env envelope
	envErr := json.Unmarshal(resp.Body, &env)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		after := resp.RetryAfterHeader(now)
		if envErr == nil && env.Code != "" && env.Code != CodeOK {
			return nil, &APIError{Op: op, StatusCode: resp.StatusCode, Code: string(env.Code),
				Message: redact.Message(env.Msg), After: after}
		}
		return nil, &vendors.HTTPStatusError{Vendor: Vendor, Op: op, StatusCode: resp.StatusCode, After: after}
	}
	switch {
	case envErr != nil:
		return nil, &vendors.MalformedError{Vendor: Vendor, Op: op, Err: envErr}
	case env.Code == "":
		return nil, &vendors.MalformedError{Vendor: Vendor, Op: op, Err: errors.New("no code in answer")}
	case env.Code != CodeOK:
		return nil, &APIError{Op: op, StatusCode: resp.StatusCode, Code: string(env.Code), Message: redact.Message(env.Msg)}
	}
	return env.Body, nil
}

// decodeBody reads a successful answer's body, which op's results need.
func decodeBody(op string, raw json.RawMessage, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return &vendors.MalformedError{Vendor: Vendor, Op: op, Err: errors.New("no body in answer")}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &vendors.MalformedError{Vendor: Vendor, Op: op, Err: err}
	}
	return nil
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

func validDate(s string) bool {
	if len(s) != 8 {
		return false
	}
	_, err := time.Parse("20060102", s)
	return err == nil
}
