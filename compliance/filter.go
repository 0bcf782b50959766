package compliance

import (
	"context"
	"fmt"
	"time"

	"github.com/dialq/dialq/compliance/policy"
)

// Filter is the enqueue-time check: numbers on a suppression list, or whose contact
// cap is used up, are left out of the batch. It only reads: the cap is taken by the
// worker right before the call (Gate.BeforeCall). The decisions are kept, compactly,
// until the batch id is known (WriteAudit).
type Filter struct {
	s     *Store
	cfg   policy.Compliance
	conv  *Converter
	now   time.Time
	audit []filtered
	// blooms are the lists' filters, read at the first Check: a number listed
	// during the enqueue may pass here, and is caught by the worker's Gate.
	blooms []*Bloom
}

type filtered struct {
	n      uint64
	reason uint16 // index into lists, or capReason
}

const capReason = 0xffff

// NewFilter returns the check of cfg for numbers in vendor's form for region, at now.
func NewFilter(s *Store, cfg policy.Compliance, vendor, region string, now time.Time) (*Filter, error) {
	conv, err := NewConverter(vendor, region)
	if err != nil {
		return nil, err
	}
	for _, l := range cfg.Suppress {
		if err := CheckList(l); err != nil {
			return nil, err
		}
	}
	return &Filter{s: s, cfg: cfg, conv: conv, now: now}, nil
}

// Active reports whether the filter checks anything (a window alone is the worker's).
func (f *Filter) Active() bool { return len(f.cfg.Suppress) > 0 || f.cfg.ContactCap != nil }

// Check returns, for each phone (vendor form), "" to keep it or the reason it is
// left out: SuppressedPrefix+list or VerdictCap.
func (f *Filter) Check(ctx context.Context, phones []string) ([]string, error) {
	out := make([]string, len(phones))
	if !f.Active() || len(phones) == 0 {
		return out, nil
	}
	keys := make([]uint64, len(phones))
	for i, p := range phones {
		n, err := f.conv.Key(p)
		if err != nil {
			return nil, fmt.Errorf("compliance filter: record %d: %w", i+1, err)
		}
		keys[i] = n
	}
	if len(f.cfg.Suppress) > 0 {
		if f.blooms == nil {
			for _, l := range f.cfg.Suppress {
				b, err := f.s.LoadBloom(ctx, l)
				if err != nil {
					return nil, err
				}
				f.blooms = append(f.blooms, b)
			}
		}
		// Only the numbers a filter may hold are looked up in Redis.
		var idx []int
		for i, n := range keys {
			for _, b := range f.blooms {
				if b.MayHold(n) {
					idx = append(idx, i)
					break
				}
			}
		}
		lists, err := f.s.CheckKeys(ctx, f.cfg.Suppress, pick(keys, idx), f.now)
		if err != nil {
			return nil, err
		}
		for j, l := range lists {
			if i := idx[j]; l != "" {
				out[i] = SuppressedPrefix + l
				f.audit = append(f.audit, filtered{keys[i], uint16(indexOf(f.cfg.Suppress, l))})
			}
		}
	}
	if cc := f.cfg.ContactCap; cc != nil {
		var idx []int
		for i, r := range out {
			if r == "" {
				idx = append(idx, i)
			}
		}
		full, err := f.s.CapFull(ctx, pick(keys, idx), cc.Max, cc.Days, f.now)
		if err != nil {
			return nil, err
		}
		for j, i := range idx {
			if full[j] {
				out[i] = VerdictCap
				f.audit = append(f.audit, filtered{keys[i], capReason})
			}
		}
	}
	return out, nil
}

func indexOf(ss []string, s string) int {
	for i, v := range ss {
		if v == s {
			return i
		}
	}
	return -1
}

// Filtered is how many numbers Check left out.
func (f *Filter) Filtered() int { return len(f.audit) }

// WriteAudit records the numbers left out in batchID's audit, kept at least ttl.
func (f *Filter) WriteAudit(ctx context.Context, batchID string, ttl time.Duration) error {
	es := make([]AuditEntry, 0, min(len(f.audit), chunk))
	for lo := 0; lo < len(f.audit); lo += chunk {
		es = es[:0]
		for _, a := range f.audit[lo:min(lo+chunk, len(f.audit))] {
			e := AuditEntry{Number: a.n, Decision: AuditSuppressed, At: f.now}
			if a.reason == capReason {
				e.Decision, e.Detail = AuditCapped, capDetail(f.cfg.ContactCap)
			} else {
				e.Detail = f.cfg.Suppress[a.reason]
			}
			es = append(es, e)
		}
		if err := f.s.appendAudit(ctx, batchID, max(ttl, DefaultAuditTTL), es); err != nil {
			return err
		}
	}
	return nil
}
