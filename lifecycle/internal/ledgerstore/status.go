package ledgerstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// PartStatus is one part's state as operators see it.
type PartStatus struct {
	Part  int       `json:"part"`
	State PartState `json:"state"`
	// ResumeAt is when a throttled, paused or waiting part goes on, and WaitReason why it waits.
	ResumeAt   *time.Time `json:"resume_at,omitempty"`
	WaitReason string     `json:"wait_reason,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	LastCode   string     `json:"last_code,omitempty"`
}

// Parts returns each part's status, by part number.
func (s *Store) Parts(ctx context.Context, id string, parts int) ([]PartStatus, error) {
	out := make([]PartStatus, 0, parts)
	for lo := 0; lo < parts; lo += 1000 {
		var cmds []*redis.SliceCmd
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			cmds = queuePartReads(ctx, p, id, lo, min(lo+1000, parts))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("batch %s part states: %w", id, err)
		}
		out = append(out, partStatuses(lo, cmds)...)
	}
	return out, nil
}

func queuePartReads(ctx context.Context, p redis.Pipeliner, id string, lo, hi int) []*redis.SliceCmd {
	cmds := make([]*redis.SliceCmd, 0, hi-lo)
	for i := lo; i < hi; i++ {
		cmds = append(cmds, p.HMGet(ctx, k.state(id, i), "state", "resume_at", "wait_reason", "last_error", "last_code"))
	}
	return cmds
}

func partStatuses(lo int, cmds []*redis.SliceCmd) []PartStatus {
	out := make([]PartStatus, len(cmds))
	for i, c := range cmds {
		v := c.Val()
		str := func(j int) string { s, _ := v[j].(string); return s }
		ps := PartStatus{Part: lo + i, State: PartState(str(0)), WaitReason: str(2), LastError: str(3), LastCode: str(4)}
		if ps.State == "" {
			ps.State = PartQueued
		}
		if ms := atoi(str(1)); ms > 0 {
			t := time.UnixMilli(ms).UTC()
			ps.ResumeAt = &t
		}
		out[i] = ps
	}
	return out
}

// Status is a batch's account.
type Status struct {
	Batch      string  `json:"batch"`
	Vendor     string  `json:"vendor"`
	State      State   `json:"state"`
	Control    Control `json:"control,omitempty"`
	Finished   bool    `json:"finished"`
	Cancelled  bool    `json:"cancelled"`
	Paused     bool    `json:"paused"`
	Read       int64   `json:"read"`
	Rejected   int64   `json:"rejected"`
	Duplicates int64   `json:"duplicates"`
	Suppressed int64   `json:"suppressed"`
	Accepted   int64   `json:"accepted"`
	Delivered  int64   `json:"delivered"`
	Refused    int64   `json:"refused"`
	Failed     int64   `json:"failed"`
	Uncertain  int64   `json:"uncertain"`
	Pending    int64   `json:"pending"`
	Parts      int     `json:"parts"`
	// PartStates counts parts by state.
	PartStates map[PartState]int `json:"part_states"`
	// Waiting lists the parts that wait (throttled, paused, outside the window) and
	// until when; Problems the parts with a last error.
	Waiting []PartStatus `json:"waiting,omitempty"`
	// UncertainParts lists the parts that wait for an operator (up to 1,000), with
	// the vendor tasks to ask about.
	UncertainParts []UncertainPart `json:"uncertain_parts,omitempty"`
	Created        time.Time       `json:"created"`
	FinishedAt     *time.Time      `json:"finished_at,omitempty"`
	Source         string          `json:"source,omitempty"`
}

// Status reads batch id's account: the manifest and every part's state in one
// transaction (one slot), so the sum always holds and the parts agree with the
// batch's state.
func (s *Store) Status(ctx context.Context, id string) (*Status, error) {
	nparts, err := s.rdb.HGet(ctx, k.manifest(id), "parts").Int()
	if errors.Is(err, redis.Nil) {
		return nil, s.missing(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", id, err)
	}
	var man *redis.MapStringStringCmd
	var partCmds []*redis.SliceCmd
	err = s.readTx(ctx, func(p redis.Pipeliner) {
		man = p.HGetAll(ctx, k.manifest(id))
		partCmds = queuePartReads(ctx, p, id, 0, nparts)
	})
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", id, err)
	}
	h := man.Val()
	if len(h) == 0 {
		return nil, s.missing(ctx, id)
	}
	st := &Status{
		Batch: id, Vendor: h["vendor"], State: State(h["state"]), Control: Control(h["control"]),
		Read: atoi(h["read"]), Rejected: atoi(h["rejected"]), Duplicates: atoi(h["duplicates"]),
		Suppressed: atoi(h["suppressed"]), Accepted: atoi(h["accepted"]), Delivered: atoi(h["delivered"]),
		Refused: atoi(h["refused"]), Failed: atoi(h["failed"]), Uncertain: atoi(h["uncertain"]),
		Parts: int(atoi(h["parts"])), Created: time.UnixMilli(atoi(h["created"])).UTC(), Source: h["source"],
	}
	// Suppressed counts the numbers the gate left out at enqueue (not accepted) and
	// at the worker, right before their call (accepted, then suppressed).
	late := atoi(h["suppressed_late"])
	st.Suppressed += late
	st.Pending = Pending(st.Accepted, st.Delivered, st.Refused, st.Failed, st.Uncertain, late)
	st.Finished = st.State == StateFinished
	st.Cancelled = st.Control == ControlCancelled
	st.Paused = st.Control == ControlPaused
	if !st.Finished {
		switch st.Control {
		case ControlCancelled:
			st.State = StateCancelled
		case ControlPaused:
			st.State = StatePaused
		}
	}
	if v := h["finished_at"]; v != "" {
		t := time.UnixMilli(atoi(v)).UTC()
		st.FinishedAt = &t
	}
	st.PartStates = map[PartState]int{}
	parts := partStatuses(0, partCmds)
	for _, ps := range parts {
		st.PartStates[ps.State]++
		if ps.ResumeAt != nil && !ps.State.Final() {
			st.Waiting = append(st.Waiting, ps)
		}
	}
	if st.PartStates[PartUncertain] > 0 {
		if st.UncertainParts, err = s.uncertainParts(ctx, id, parts); err != nil {
			return nil, err
		}
	}
	return st, nil
}
