package nxcloud

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dialq/dialq/vendors"
)

// Vendor response codes (sheet §1).
const (
	CodeOK            = 0
	CodeFailed        = 88
	CodeSystemError   = 99
	CodeParamError    = 41000
	CodeMissingHeader = 1001
	CodeBadHeader     = 1002
	CodeBadSign       = 1003
	CodeTSExpired     = 1004
	CodeNoPermission  = 1005
)

// APIError is a call the vendor answered with a failure: a non-zero code, or a
// non-2xx HTTP status.
type APIError struct {
	Op         string
	StatusCode int
	// Code is the vendor's code; 0 when the answer carried none.
	Code    int
	Message string
	ReqID   string
	// After is the Retry-After the vendor sent, if any.
	After time.Duration
}

func (e *APIError) Error() string {
	if e.Code == 0 {
		return fmt.Sprintf("nxcloud %s: http status %d", e.Op, e.StatusCode)
	}
	return fmt.Sprintf("nxcloud %s: code %d: %s (http %d)", e.Op, e.Code, e.Message, e.StatusCode)
}

// RetryAfter is the wait the vendor asked for, or zero.
func (e *APIError) RetryAfter() time.Duration { return e.After }

// VendorCode is the vendor's result code, recorded with numbers that failed.
func (e *APIError) VendorCode() string { return strconv.Itoa(e.Code) }

// Class follows the sheet's common rules; see the package comment for the choices.
func (e *APIError) Class() vendors.Class {
	if e.StatusCode == http.StatusTooManyRequests {
		return vendors.Throttled
	}
	switch e.Code {
	case CodeSystemError, CodeFailed:
		return vendors.Transient
	case CodeBadSign, CodeTSExpired:
		return vendors.AuthRefused
	case CodeParamError:
		return vendors.InvalidPart
	case CodeMissingHeader, CodeBadHeader, CodeNoPermission:
		return vendors.Permanent
	}
	if e.StatusCode < 200 || e.StatusCode > 299 {
		return vendors.StatusClass(e.StatusCode)
	}
	return vendors.Permanent
}

// RequestError is a request the client refused to send.
type RequestError struct {
	Op     string
	Reason string
}

func (e *RequestError) Error() string { return "nxcloud " + e.Op + ": invalid request: " + e.Reason }

// Class is Permanent: sending the same request again cannot succeed.
func (e *RequestError) Class() vendors.Class { return vendors.Permanent }
