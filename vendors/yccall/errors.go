package yccall

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dialq/dialq/vendors"
)

// Vendor codes (sheet §2).
const (
	RetOK                = 200
	RetBadParams         = 400
	RetServerError       = 500
	RetTokenInvalid      = 600
	RetAppIDUnauthorised = 601
	RetAuthExpired       = 602
	RetNotLicensed       = 603
	RetIPUnauthorised    = 604

	// Codes in data.errors.code when ret is 200 and data.status is 1.
	CodeConnectionFailed = 1001
	CodeAuthFailed       = 1003
)

// authRefusal reports a refusal of the token itself: ret 600, or ret 200 with
// errors.code 1003 (authorisation failed).
func (e *APIError) authRefusal() bool {
	return e.Ret == RetTokenInvalid || (e.Ret == RetOK && e.Code == CodeAuthFailed)
}

// APIError is a call the vendor answered with a failure: ret ≠ 200, data.status
// ≠ 0, or a non-2xx HTTP status.
type APIError struct {
	Op         string
	StatusCode int
	// Ret is the envelope's ret; 0 when the answer carried no envelope.
	Ret int
	// Status and Code are data.status and data.errors.code when Ret is 200.
	Status  int
	Code    int
	Message string
	// After is the Retry-After the vendor sent, if any.
	After time.Duration
}

func (e *APIError) Error() string {
	switch e.Ret {
	case 0:
		return fmt.Sprintf("yccall %s: http status %d", e.Op, e.StatusCode)
	case RetOK:
		return fmt.Sprintf("yccall %s: status %d code %d: %s", e.Op, e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("yccall %s: ret %d: %s", e.Op, e.Ret, e.Message)
}

// RetryAfter is the wait the vendor asked for, or zero.
func (e *APIError) RetryAfter() time.Duration { return e.After }

// VendorCode is the vendor's code, recorded with numbers that failed: the
// data.errors code when the vendor gave one, otherwise ret.
func (e *APIError) VendorCode() string {
	if e.Code != 0 {
		return strconv.Itoa(e.Code)
	}
	return strconv.Itoa(e.Ret)
}

// Class follows the sheet's common rules; see the package comment for the choices.
func (e *APIError) Class() vendors.Class {
	if e.StatusCode == http.StatusTooManyRequests {
		return vendors.Throttled
	}
	switch e.Ret {
	case 0:
		return vendors.StatusClass(e.StatusCode)
	case RetOK:
		switch e.Code {
		case CodeConnectionFailed:
			return vendors.Transient
		case CodeAuthFailed:
			return vendors.AuthRefused
		}
		return vendors.Permanent
	case RetBadParams:
		if e.Op == opTaskCreate || e.Op == opTaskAdd {
			return vendors.InvalidPart
		}
		return vendors.Permanent
	case RetServerError:
		return vendors.Transient
	case RetTokenInvalid:
		// Still refused after one fresh login (or with a static token): the client
		// has dropped the token, so the worker's next attempt logs in again.
		return vendors.AuthRefused
	case RetAppIDUnauthorised, RetAuthExpired, RetNotLicensed, RetIPUnauthorised:
		return vendors.Permanent
	}
	if e.StatusCode < 200 || e.StatusCode > 299 {
		return vendors.StatusClass(e.StatusCode)
	}
	return vendors.Permanent
}

// LoginError is a task call that could not get a token. The call itself was not sent.
type LoginError struct {
	Op  string
	Err error
}

func (e *LoginError) Error() string { return "yccall " + e.Op + ": login: " + e.Err.Error() }

func (e *LoginError) Unwrap() error { return e.Err }

// Class is the login failure's, but never Ambiguous: a login repeated is harmless
// and the task call was not sent.
func (e *LoginError) Class() vendors.Class {
	if c := vendors.ClassOf(e.Err); c != vendors.Ambiguous {
		return c
	}
	return vendors.Transient
}

// RequestError is a request the client refused to send.
type RequestError struct {
	Op     string
	Reason string
	// TooMany is set when the only fault is the number of phones.
	TooMany bool
}

func (e *RequestError) Error() string { return "yccall " + e.Op + ": invalid request: " + e.Reason }

// Class is InvalidPart for too many phones (halves would be accepted), else Permanent.
func (e *RequestError) Class() vendors.Class {
	if e.TooMany {
		return vendors.InvalidPart
	}
	return vendors.Permanent
}
