package yccall

import "time"

// MaxPhonesPerCall is the most numbers TaskCreat or TaskAdd takes in one call.
const MaxPhonesPerCall = 10000

// AssignType is how a task's calls reach agents.
type AssignType int

// Assign types.
const (
	AssignExtension AssignType = 1
	AssignQueue     AssignType = 2
	AssignGroup     AssignType = 3
)

// TaskStatus is what TaskSet does to a task.
type TaskStatus int

// Task statuses.
const (
	TaskStart TaskStatus = 1
	TaskPause TaskStatus = 2
	TaskEnd   TaskStatus = 3
)

// Phone is one number of a task.
type Phone struct {
	// Number is sent as the vendor's phone, as a JSON string.
	Number string
	// Time is the preset call time; zero means now.
	Time       time.Time
	UserID     string
	MemberID   string
	Chengshudu string // the vendor's "maturity" field, passed through
	// CustomUUID identifies the number in the vendor's records; keep it stable
	// across resubmissions.
	CustomUUID string
}

// wirePhone is one element of the telphone JSON string, in the vendor's key order.
type wirePhone struct {
	Phone      string `json:"phone"`
	Time       int64  `json:"time"`
	UserID     string `json:"userid"`
	MemberID   string `json:"memberid"`
	Chengshudu string `json:"chengshudu"`
	CustomUUID string `json:"customuuid"`
}

// TaskCreateRequest creates one task holding Phones.
type TaskCreateRequest struct {
	AssignType AssignType
	// AssignAgent is the extension, queue name or group name, per AssignType.
	AssignAgent string
	Phones      []Phone
	// TaskScale is the idle-agent call ratio, "1:N".
	TaskScale string
	// DisNumbers are the calling numbers; empty lets the vendor choose.
	DisNumbers []string
	TaskName   string // optional
}

// TaskCreateResponse is a created task and the numbers the vendor refused in it.
type TaskCreateResponse struct {
	TaskID  string
	Invalid []Invalid
}

// TaskAddResponse counts the numbers added and lists those refused.
type TaskAddResponse struct {
	Success int
	Invalid []Invalid
}

// Invalid is a number the vendor refused inside an accepted call.
type Invalid struct {
	// Phone is the number as the vendor reported it; empty if it gave none.
	Phone  string
	Reason string
}
