package flashai

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/registry"
)

// Vendor is the vendor's name in errors, logs and the fake vendor's paths.
const Vendor = registry.FlashAI

// The vendor's codes (envelope "code", a string).
const (
	CodeOK                 = "0"
	CodeBadSign            = "1003"
	CodeSystemError        = "1004"
	CodeNoResult           = "1005"
	CodePageTooLarge       = "1006"
	CodeBadSignType        = "1008"
	CodeUnknownClient      = "1009"
	CodeIllegalParams      = "1010"
	CodeOperationFailed    = "101001" // 101001–101006 are all "operation failed"
	CodeDuplicateBatchName = "101007"
	CodeTooManyNumbers     = "101008"
)

// codeClass is the sheet's table; codes not in it are Permanent (see doc.go).
var codeClass = map[string]vendors.Class{
	CodeSystemError:        vendors.Transient,
	CodeBadSign:            vendors.AuthRefused,
	CodeBadSignType:        vendors.AuthRefused,
	CodeUnknownClient:      vendors.AuthRefused,
	CodeNoResult:           vendors.Permanent,
	CodePageTooLarge:       vendors.Permanent,
	CodeIllegalParams:      vendors.InvalidPart,
	"101001":               vendors.Permanent,
	"101002":               vendors.Permanent,
	"101003":               vendors.Permanent,
	"101004":               vendors.Permanent,
	"101005":               vendors.Permanent,
	"101006":               vendors.Permanent,
	CodeDuplicateBatchName: vendors.Permanent,
	CodeTooManyNumbers:     vendors.InvalidPart,
}

// APIError is a failure the vendor reported: a non-"0" code, or a non-2xx status
// that carried the envelope.
type APIError struct {
	Op         string
	StatusCode int
	Code       string
	// Message is the vendor's msg, shortened, with digit runs that could be phone
	// numbers masked.
	Message string
	After   time.Duration
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: code %s: %s (http %d)", Vendor, e.Op, e.Code, e.Message, e.StatusCode)
}

// RetryAfter is the wait the vendor asked for with a 429, or zero.
func (e *APIError) RetryAfter() time.Duration { return e.After }

// VendorCode is the vendor's result code, recorded with numbers that failed.
func (e *APIError) VendorCode() string { return e.Code }

// Class follows the sheet: a 429 or 5xx status decides first, then the code.
func (e *APIError) Class() vendors.Class {
	if e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500 {
		return vendors.StatusClass(e.StatusCode)
	}
	if c, ok := codeClass[e.Code]; ok {
		return c
	}
	return vendors.Permanent
}

// DuplicateBatchName reports 101007: a plan with this batch name exists. When the
// project sent that batch itself, the part was delivered.
func (e *APIError) DuplicateBatchName() bool { return e.Code == CodeDuplicateBatchName }

// Is makes errors.Is(err, ErrDuplicateName) true for 101007.
func (e *APIError) Is(target error) bool { return target == ErrDuplicateName && e.DuplicateBatchName() }

// ErrDuplicateName is matched by errors.Is on an addPlan refused with 101007
// (duplicate batch name). See IsDuplicateName.
var ErrDuplicateName = errors.New("flashai: batch name already taken")

// IsDuplicateName reports whether err is a 101007 refusal: a plan with this batch
// name exists. Unlike speech, FlashAI documents the code, so the code alone decides
// (whatever the message). It is Permanent, never retried.
func IsDuplicateName(err error) bool { return errors.Is(err, ErrDuplicateName) }

// TooManyNumbers reports 101008: the plan holds more numbers than the server allows
// per call; halve it.
func (e *APIError) TooManyNumbers() bool { return e.Code == CodeTooManyNumbers }

// RequestError is input the client refuses to send because no attempt could succeed.
type RequestError struct {
	Op     string
	Field  string
	Reason string
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("%s %s: %s: %s", Vendor, e.Op, e.Field, e.Reason)
}

// Class implements vendors.Classified: the input must change first.
func (e *RequestError) Class() vendors.Class { return vendors.Permanent }
