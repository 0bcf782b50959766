package yccall

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"

	"github.com/dialq/dialq/vendors"
)

// Login asks the vendor for a new token and caches it for the calls that follow.
// With a static token configured there is nothing to log in to: it returns that
// token without a call.
func (c *Client) Login(ctx context.Context) (string, error) {
	if c.static != "" {
		return c.static, nil
	}
	if err := c.lockLogin(ctx); err != nil {
		return "", err
	}
	defer c.unlockLogin()
	return c.login(ctx)
}

// token returns the cached token, logging in when there is none or it is too old.
// Concurrent callers wait for one login rather than each making their own.
func (c *Client) token(ctx context.Context, op string) (string, error) {
	if c.static != "" {
		return c.static, nil
	}
	if tok := c.cached(); tok != "" {
		return tok, nil
	}
	if err := c.lockLogin(ctx); err != nil {
		return "", err
	}
	defer c.unlockLogin()
	if tok := c.cached(); tok != "" { // another caller logged in while we waited
		return tok, nil
	}
	tok, err := c.login(ctx)
	if err != nil {
		return "", &LoginError{Op: op, Err: err}
	}
	return tok, nil
}

// forget drops tok from the cache, unless another caller has replaced it already.
func (c *Client) forget(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok == tok {
		c.tok = ""
	}
}

func (c *Client) cached() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != "" && c.now().Sub(c.tokAt) < c.maxAge {
		return c.tok
	}
	return ""
}

// lockLogin takes the login slot, giving up when ctx ends.
func (c *Client) lockLogin(ctx context.Context) error {
	select {
	case c.loginSlot <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) unlockLogin() { <-c.loginSlot }

// login calls App.Sip_Auth.Login; the caller holds the login slot.
func (c *Client) login(ctx context.Context) (string, error) {
	form := url.Values{"service": {serviceLogin}, "appid": {c.appID}, "accesskey": {c.accessKey}}
	at := c.now()
	env, err := c.post(ctx, opLogin, form)
	if err != nil {
		return "", err
	}
	var res struct {
		Token json.RawMessage `json:"token"`
	}
	if err := json.Unmarshal(env.Result, &res); err != nil {
		return "", c.malformed(opLogin, err)
	}
	tok := vendors.JSONString(res.Token)
	if tok == "" {
		return "", c.malformed(opLogin, errors.New("no token in result"))
	}
	c.mu.Lock()
	c.tok, c.tokAt = tok, at
	c.mu.Unlock()
	return tok, nil
}
