// Package queue is what goes on the queue between the producer and the worker:
// the asynq task types, their queues, payloads and task ids, shared by the
// producer (enqueue), the lifecycle and the worker's handlers (package jobs). It
// links no vendor client, so the producer does not either.
package queue

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/vendors/registry"
)

// Part task types: each vendor's is its registry entry's PartType (PartType). These
// names stay for callers that name one vendor's; TestPartTypeNames keeps them the
// registry's.
const (
	TypeNXCloudCreate = "dial:nxcloud:create"
	TypeYccallCreate  = "dial:yccall:create"
	// TypeSpeechCreate creates a speech task and appends the rest 1,000 at a time.
	TypeSpeechCreate = "dial:speech:create"
	TypeFlashAIAdd   = "dial:flashai:add"
)

// Control task types. They are stored in Redis with every task: never rename one
// that has been deployed; add a new one and drain the old.
const (
	TypeFlashAIControl = "control:flashai:batch"
	TypeFlashAIDelete  = "control:flashai:delete"
	TypeYccallTaskSet  = "control:yccall:taskset"
	// TypeFlashAIReconcile asks FlashAI which numbers of a batch's uncertain parts
	// it holds and settles the parts it can prove.
	TypeFlashAIReconcile = "control:flashai:reconcile"
	// TypeAnnounce publishes a finished batch (events stream and webhook), once a
	// finish: its task id names the batch and the finish.
	TypeAnnounce = "batch:announce"
)

// ControlQueue carries operator controls and announcements, served ahead of parts.
const ControlQueue = "dialq-control"

// LegacyQueue is the one queue every vendor's parts shared before per-vendor
// queues. Workers keep serving it so that parts queued by an older enqueue drain.
const LegacyQueue = "dialq"

// For is vendor's own queue: a slow or throttled vendor's parts never wait in
// front of another vendor's.
func For(vendor string) string { return "dialq-" + vendor }

// PartType is vendor's part task type, from the vendor registry; "" for no vendor.
func PartType(vendor string) string {
	v, _ := registry.Lookup(vendor)
	return v.PartType
}

// PartPayload names a part; its records stay in the batch's Redis keys so that
// payloads are small and the dashboard shows no phone numbers.
type PartPayload struct {
	Batch   string `json:"batch"`
	Part    int    `json:"part"`
	Records int    `json:"records"`
}

// Part defaults: a part may take several calls, so its timeout is generous;
// finished tasks are retained so the dashboard tells the story. A part's failure
// budget (PartMaxFailures) is kept in the ledger by the engine; asynq's own retry
// budget is set out of reach, since asynq archives a task whose budget ran out
// whatever the error, and would leave a paused or throttled part unsettled.
const (
	PartMaxFailures = 25
	PartMaxRetry    = 1 << 20
	PartTimeout     = 15 * time.Minute
	PartRetention   = 24 * time.Hour
)

// NewPartTask builds part n of batch id for vendor, on the vendor's queue. Options
// given later override the defaults.
func NewPartTask(vendor, id string, n, records int, opts ...asynq.Option) (*asynq.Task, error) {
	return NewPartTaskWithHeaders(nil, vendor, id, n, records, opts...)
}

// NewPartTaskWithHeaders is NewPartTask with task headers: enqueue's trace context,
// which the worker continues.
func NewPartTaskWithHeaders(headers map[string]string, vendor, id string, n, records int, opts ...asynq.Option) (*asynq.Task, error) {
	typ := PartType(vendor)
	if typ == "" {
		return nil, fmt.Errorf("no part task for vendor %q", vendor)
	}
	payload, err := json.Marshal(PartPayload{Batch: id, Part: n, Records: records})
	if err != nil {
		return nil, err
	}
	defaults := []asynq.Option{
		asynq.TaskID(PartTaskID(id, n)), asynq.MaxRetry(PartMaxRetry),
		asynq.Timeout(PartTimeout), asynq.Retention(PartRetention), asynq.Queue(For(vendor)),
	}
	return asynq.NewTaskWithHeaders(typ, payload, headers, append(defaults, opts...)...), nil
}

// PartTaskID is the asynq task id of part n of batch id: fixed, so that enqueueing
// the same batch twice is refused by asynq as a conflict.
func PartTaskID(id string, n int) string { return fmt.Sprintf("%s:%d", id, n) }

// ParsePartTaskID returns the batch and part of a task id made by PartTaskID.
func ParsePartTaskID(taskID string) (string, int, bool) {
	i := strings.LastIndexByte(taskID, ':')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(taskID[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return taskID[:i], n, true
}

// Control actions.
const (
	ActionPause     = "pause"
	ActionRestart   = "restart"
	ActionStop      = "stop"
	ActionDelete    = "delete"
	ActionReconcile = "reconcile"
)

// ControlPayload asks for a vendor control over a batch's vendor tasks. It holds ids
// only: the numbers a delete acts on are stored with the batch under Request.
type ControlPayload struct {
	Batch   string `json:"batch"`
	Action  string `json:"action,omitempty"`
	Request string `json:"request,omitempty"`
}

// ControlResult is what a control task writes as its result, over and over while
// it runs (Final false) and once at the end (Final true): the vendor's answer for
// each vendor task of the batch, so that the command shows progress and tells a
// slow control from a dead one.
type ControlResult struct {
	Batch   string          `json:"batch"`
	Action  string          `json:"action"`
	Answers []ControlAnswer `json:"answers"`
	// Total is the vendor tasks known so far, Done those answered (Failed of them
	// refused or failed); Final is set on the last write.
	Total  int  `json:"total"`
	Done   int  `json:"done"`
	Failed int  `json:"failed"`
	Final  bool `json:"final"`
	// Inflight is the batch's calls in flight the control waits for (a stop or
	// pause must reach the vendor tasks they make); Beat is when the worker last
	// wrote (ms), so a control that waits is told from one whose worker died.
	Inflight int   `json:"inflight,omitempty"`
	Beat     int64 `json:"beat,omitempty"`
	// Note says what the control could not wait for (calls still in flight).
	Note string `json:"note,omitempty"`
}

// ControlAnswer is one vendor task's answer.
type ControlAnswer struct {
	Target string `json:"target"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	// Outcome is what a reconcile did with the part: delivered, resent, or why it
	// is left uncertain.
	Outcome string `json:"outcome,omitempty"`
}

// NewControlTask builds a control task of typ. Its timeout is long: a control runs
// over every vendor task of a batch within the vendor's rate, and reports progress
// as it goes, so the command tells a slow control from a dead one.
func NewControlTask(typ string, p ControlPayload, opts ...asynq.Option) (*asynq.Task, error) {
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	defaults := []asynq.Option{asynq.MaxRetry(5), asynq.Timeout(30 * time.Minute),
		asynq.Retention(PartRetention), asynq.Queue(ControlQueue)}
	return asynq.NewTask(typ, payload, append(defaults, opts...)...), nil
}

// AnnouncePayload names one finish of a batch: a batch re-opened by retry or
// resolve finishes again under the next generation.
type AnnouncePayload struct {
	Batch      string `json:"batch"`
	Generation int64  `json:"generation"`
}

// EventID identifies one finish of one batch: receivers deduplicate on it.
func EventID(batch string, generation int64) string {
	return fmt.Sprintf("%s:finished:%d", batch, generation)
}

// NewAnnounceTask builds the announcement of a batch's finish; its task id is the
// event id, so a finish is announced once however often it is asked for.
func NewAnnounceTask(p AnnouncePayload) (*asynq.Task, error) {
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeAnnounce, payload, asynq.TaskID(EventID(p.Batch, p.Generation)), asynq.MaxRetry(10),
		asynq.Timeout(time.Minute), asynq.Retention(PartRetention), asynq.Queue(ControlQueue)), nil
}
