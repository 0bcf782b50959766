package speech

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/dialq/dialq/redact"
	"github.com/dialq/dialq/vendors"
)

// Result codes from the vendor's page.
const (
	CodeOK             = "10000"
	CodeAuthFailed     = "10001"
	CodeNoPublicKey    = "10002"
	CodeRequestFailed  = "20001"
	CodeParameterError = "29002"
	CodeSystemError    = "29008"
)

// DefaultDuplicateNameMessage is what a 29002 message contains when the task name
// is taken (a Choice: the page gives no code for it).
const DefaultDuplicateNameMessage = "already exists"

// APIError is an answer from the vendor other than success.
type APIError struct {
	Op string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Code is the vendor's result code; Message its text, cut short and with long
	// digit runs masked.
	Code    string
	Message string
	// After is the Retry-After the vendor sent, if any.
	After time.Duration

	duplicateName bool
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("speech %s: code %s", e.Op, redact.Message(e.Code))
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.StatusCode != http.StatusOK {
		s += fmt.Sprintf(" (http %d)", e.StatusCode)
	}
	return s
}

// RetryAfter is the wait the vendor asked for.
func (e *APIError) RetryAfter() time.Duration { return e.After }

// VendorCode is the vendor's result code, recorded with numbers that failed.
func (e *APIError) VendorCode() string { return e.Code }

// DuplicateTaskName reports a create refused because the task name is taken: an
// earlier attempt of the same create went through.
func (e *APIError) DuplicateTaskName() bool { return e.duplicateName }

// Class implements vendors.Classified.
func (e *APIError) Class() vendors.Class {
	if e.StatusCode == http.StatusTooManyRequests {
		return vendors.Throttled
	}
	switch e.Code {
	case CodeAuthFailed, CodeNoPublicKey:
		return vendors.Permanent
	case CodeRequestFailed, CodeSystemError:
		return vendors.Transient
	case CodeParameterError:
		if e.duplicateName {
			return vendors.Permanent
		}
		return vendors.InvalidPart
	}
	if e.StatusCode < 200 || e.StatusCode > 299 {
		return vendors.StatusClass(e.StatusCode)
	}
	return vendors.Permanent
}

// ErrTooManyCustomers and ErrNoCustomers are refusals made before sending.
var (
	ErrTooManyCustomers = fmt.Errorf("more than %d customers in one call", MaxCustomersPerCall)
	ErrNoCustomers      = errors.New("no customers")
)

// RequestError is a call refused before anything was sent: a bad request or a
// signer failure. Repeating it cannot help, so it is Permanent.
type RequestError struct {
	Op  string
	Err error
}

func (e *RequestError) Error() string { return fmt.Sprintf("speech %s: %v", e.Op, e.Err) }

func (e *RequestError) Unwrap() error { return e.Err }

// Class implements vendors.Classified.
func (e *RequestError) Class() vendors.Class { return vendors.Permanent }
