// Package jobs defines dialq's asynq task types, their payloads, and the handlers
// that deliver parts to vendors and run vendor controls.
package jobs

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/batch"
	"github.com/dialq/dialq/chunking"
)

// Task types. They are stored in Redis with every task: never rename one that has
// been deployed; add a new one and drain the old.
const (
	TypeNXCloudCreate = "dial:nxcloud:create"
	TypeYccallCreate  = "dial:yccall:create"
	// TypeSpeechCreate creates a speech task and appends the rest 1,000 at a time.
	TypeSpeechCreate = "dial:speech:create"
	TypeFlashAIAdd   = "dial:flashai:add"

	TypeFlashAIControl = "control:flashai:batch"
	TypeFlashAIDelete  = "control:flashai:delete"
	TypeYccallTaskSet  = "control:yccall:taskset"
)

// DefaultQueue is where parts go unless enqueue is told otherwise.
const DefaultQueue = "dialq"

// ControlQueue carries operator controls, served ahead of parts.
const ControlQueue = "dialq-control"

// PartTypes maps each vendor to its part task type.
var PartTypes = map[string]string{
	chunking.NXCloud: TypeNXCloudCreate,
	chunking.Yccall:  TypeYccallCreate,
	chunking.Speech:  TypeSpeechCreate,
	chunking.FlashAI: TypeFlashAIAdd,
}

// PartPayload names a part; its records stay in the batch's Redis keys so that
// payloads are small and the dashboard shows no phone numbers.
type PartPayload struct {
	Batch   string `json:"batch"`
	Part    int    `json:"part"`
	Records int    `json:"records"`
}

// Part defaults: a part may take several calls and throttled waits, so its timeout
// is generous; finished tasks are retained so the dashboard tells the story.
const (
	PartMaxRetry  = 25
	PartTimeout   = 15 * time.Minute
	PartRetention = 24 * time.Hour
)

// NewPartTask builds part n of batch id for vendor. Options given later override
// the defaults.
func NewPartTask(vendor, id string, n, records int, opts ...asynq.Option) (*asynq.Task, error) {
	typ, ok := PartTypes[vendor]
	if !ok {
		return nil, fmt.Errorf("no part task for vendor %q", vendor)
	}
	payload, err := json.Marshal(PartPayload{Batch: id, Part: n, Records: records})
	if err != nil {
		return nil, err
	}
	defaults := []asynq.Option{
		asynq.TaskID(batch.TaskID(id, n)), asynq.MaxRetry(PartMaxRetry),
		asynq.Timeout(PartTimeout), asynq.Retention(PartRetention), asynq.Queue(DefaultQueue),
	}
	return asynq.NewTask(typ, payload, append(defaults, opts...)...), nil
}

// Control actions.
const (
	ActionPause   = "pause"
	ActionRestart = "restart"
	ActionStop    = "stop"
)

// ControlPayload asks for a vendor control over a batch's vendor tasks.
type ControlPayload struct {
	Batch  string `json:"batch"`
	Action string `json:"action,omitempty"`
	// Numbers to delete from a FlashAI batch, in the vendor's form.
	Numbers []string `json:"numbers,omitempty"`
}

// ControlResult is what a control task writes as its result: the vendor's answer
// for each vendor task of the batch.
type ControlResult struct {
	Batch   string          `json:"batch"`
	Action  string          `json:"action"`
	Answers []ControlAnswer `json:"answers"`
}

// ControlAnswer is one vendor task's answer.
type ControlAnswer struct {
	Target string `json:"target"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
}

// NewControlTask builds a control task of typ.
func NewControlTask(typ string, p ControlPayload, opts ...asynq.Option) (*asynq.Task, error) {
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	defaults := []asynq.Option{asynq.MaxRetry(5), asynq.Timeout(5 * time.Minute),
		asynq.Retention(PartRetention), asynq.Queue(ControlQueue)}
	return asynq.NewTask(typ, payload, append(defaults, opts...)...), nil
}
