package speech

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
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

// ErrDuplicateName is matched by errors.Is on a create refused because the task
// name is taken, whatever code the vendor used: our earlier attempt of the same
// create went through. See IsDuplicateName.
var ErrDuplicateName = errors.New("speech: task name already taken")

// IsDuplicateName reports whether err is a create refused because the task name is
// taken (see doc.go for the rule). Such an error is Permanent, never Transient:
// repeating the create cannot change the answer.
func IsDuplicateName(err error) bool { return errors.Is(err, ErrDuplicateName) }

// duplicateWordings are how a taken task name is worded, matched on the lower-cased
// message on any failure code: English needs "task" and "name" together, so that a
// refusal about a customer's name is not read as ours; Chinese needs 任务名 or 名称.
var duplicateWordings = []*regexp.Regexp{
	// "task name exists", "taskName already exists", "task_name [x] is taken"
	regexp.MustCompile(`task[\s_-]*name\b[^.,;]{0,80}?\b(exists?|existed|already\s+(taken|used|in\s+use)|is\s+taken|in\s+use|duplicated?|repeated)\b`),
	regexp.MustCompile(`duplicated?\s+task[\s_-]*name`),
	regexp.MustCompile(`\btask\s+(already\s+)?exists\b`),
	// 任务名称已存在, 任务名[x]重复, 名称重复, 名称已被使用, taskName已存在, 任务已存在, 重名
	regexp.MustCompile(`(任务名|名称|task[\s_-]*name)[^，。,;；]{0,60}?(已经?)?(存在|重复|被占用|被使用)`),
	regexp.MustCompile(`任务已经?存在`),
	regexp.MustCompile(`重名`),
}

// isDuplicateName applies the built-in wordings and the tenant's own (configured,
// "|"-separated, case-insensitive substrings) to a vendor message.
func isDuplicateName(msg, tenant string) bool {
	m := strings.ToLower(msg)
	for _, re := range duplicateWordings {
		if re.MatchString(m) {
			return true
		}
	}
	for _, w := range strings.Split(tenant, "|") {
		if w = strings.ToLower(strings.TrimSpace(w)); w != "" && strings.Contains(m, w) {
			return true
		}
	}
	return false
}

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

// Is makes errors.Is(err, ErrDuplicateName) true for a taken task name.
func (e *APIError) Is(target error) bool { return target == ErrDuplicateName && e.duplicateName }

// Class implements vendors.Classified.
func (e *APIError) Class() vendors.Class {
	if e.duplicateName {
		// Whatever the code or status: the vendor holds the task, and no repeat
		// of the create can change that.
		return vendors.Permanent
	}
	if e.StatusCode == http.StatusTooManyRequests {
		return vendors.Throttled
	}
	switch e.Code {
	case CodeAuthFailed:
		return vendors.AuthRefused
	case CodeNoPublicKey:
		return vendors.Permanent
	case CodeRequestFailed, CodeSystemError:
		return vendors.Transient
	case CodeParameterError:
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
