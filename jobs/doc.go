// Package jobs is the worker's side of the task contract (package queue): one
// asynq handler per task type, registered by Register on a ServeMux, with the
// dependencies each needs in Deps (vendor clients from ClientsFromEnv, the
// lifecycle, which is the ledger, the rate limiter, the compliance gate, the webhook).
//
// The part engine (engine.go) delivers one part: it reconciles calls a dead worker
// left in flight, then for each vendor-sized call waits for the fleet rate limit,
// passes the compliance gate, marks the call in flight, calls the vendor through
// its caller (callers.go, one per vendor) and records the outcome exactly once;
// refusals are classified (package vendors) into retry, wait, bisect, fail or park
// as uncertain. ProcessTask, reconcile and deliverRange are in engine.go; one
// call's attempts in send.go, the gate in gate.go, recording in record.go, and
// how an attempt ends (settle, defer, retry, give up) in settle.go. control.go
// runs an operator's control over every vendor task of a batch; server.go builds
// the asynq server with dialq's retry policy (Retry-After honoured, throttling not
// a failure, exhausted parts settled).
//
// Every write to the ledger is a named move of package lifecycle (Deps.Lifecycle;
// the raw store is internal to it, so there is no other way): the start of a call
// (MarkInflight) is one step with the check of the operator's controls, and part
// states follow its PartTransitions table.
package jobs
