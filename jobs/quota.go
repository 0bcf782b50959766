package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/compliance/window"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/quota"
)

// A call's quotas: the vendor's numbers per window and calls in flight (package
// quota, one script on the vendor's slot) and the campaign's daily cap (in the
// batch's slot, one script with the in-flight mark). The two slots differ on a
// Cluster, so every deployment runs the same protocol, which never sends over a
// quota:
//
//  1. take the vendor's numbers and slot (all windows at once; cut to fit);
//  2. mark the call in flight, taking the batch's day in the same script;
//  3. if the mark is refused (cancel, pause, another attempt, the day is short),
//     give the vendor's take back; a crash between 1 and 2 only leaves numbers
//     taken and not sent (and a slot until its lease ends): under, never over;
//  4. after the call, Finish (free the slot, count the numbers from the call's end),
//     or give everything back when the vendor refused the call before acting.
//
// Without any quota for the vendor and no daily cap, step 2 is the plain mark: no
// extra round trip.

// maxCuts bounds how often one attempt cuts its call again when another worker took
// what it saw left.
const maxCuts = 4

// hold is what one call holds of the quotas.
type hold struct {
	r     chunking.Range
	take  *quota.Take
	daily *ledger.Daily
	sent  int
}

// dailyCap is the part's daily cap at now, nil without one.
func (e *engine) dailyCap(p *partRun, now time.Time) (*ledger.Daily, *time.Location) {
	return DailyCap(p.campaign, e.deps.Quota, now)
}

// DailyCap is campaign c's daily cap at now and its zone (the campaign's, else the
// quotas', else quota.DefaultTZ); nil without a cap. Redials take it as first sends do.
func DailyCap(c campaign.Campaign, q *quota.Limiter, now time.Time) (*ledger.Daily, *time.Location) {
	n := campaign.DailyCapOf(c)
	if n == 0 {
		return nil, nil
	}
	loc := campaign.Zone(c)
	if loc == nil && q != nil {
		loc = q.Config().Zone
	}
	if loc == nil {
		loc, _ = window.Location(quota.DefaultTZ)
	}
	return &ledger.Daily{Cap: n, Day: quota.Day(now, loc), Ends: quota.NextMidnight(now, loc)}, loc
}

// dailyFull is a deferral until the next day when the batch's day is used up.
func dailyFull(d *ledger.Daily, loc *time.Location, now time.Time) *deferred {
	return &deferred{state: ledger.PartWaiting, after: d.Ends.Sub(now), at: d.Ends,
		why: fmt.Sprintf("daily cap of %d numbers reached for %s (%s); the next day starts %s",
			d.Cap, d.Day, loc, d.Ends.Format(time.RFC3339))}
}

// dailyLeft reads the batch's day before the gate: a day used up waits for the next
// without asking the gate (no cap taken, nothing audited). -1 without a cap.
func (e *engine) dailyLeft(ctx context.Context, p *partRun) (int, error) {
	now := e.deps.Lifecycle.Now()
	d, loc := e.dailyCap(p, now)
	if d == nil {
		return -1, nil
	}
	used, err := e.deps.Lifecycle.DailyUsed(ctx, p.m.ID, d.Day)
	if err != nil {
		return 0, err
	}
	if used >= d.Cap {
		return 0, dailyFull(d, loc, now)
	}
	return d.Cap - used, nil
}

// holdAndMark takes the call's quotas and marks it in flight (see above). It may
// cut the call to fit: call, dec and the returned hold's range then cover the
// prefix that goes out, and the contact caps of the numbers cut off are given back.
// fixed is a range that must go out whole (a resend the vendor recognises by its
// range's name): it waits instead. On an error nothing is held but dec's caps.
func (e *engine) holdAndMark(ctx context.Context, p *partRun, r chunking.Range, call *gateCall, dec *compliance.Decision, fixed bool) (*hold, error) {
	d := e.deps
	vendor := e.caller.vendor()
	now := d.Lifecycle.Now()
	daily, loc := e.dailyCap(p, now)
	if daily == nil && !d.Quota.Has(vendor) {
		return &hold{r: r}, d.Lifecycle.MarkInflight(ctx, p.m.ID, p.part, r)
	}
	h := &hold{r: r, daily: daily}
	want := len(call.recs)
	for range maxCuts {
		h.sent = len(call.recs)
		take, err := d.Quota.Take(ctx, vendor, min(want, h.sent), d.Retry.MaxInlineWait)
		var w *quota.Wait
		if errors.As(err, &w) {
			return nil, &deferred{state: ledger.PartThrottled, after: w.Until.Sub(now), at: w.Until, why: w.Error()}
		}
		if err != nil {
			return nil, err
		}
		if take.N < h.sent {
			if fixed && h.sent > d.Quota.Config().Smallest(vendor) {
				// It can never go out whole, and cut it would go out under
				// another name, which the vendor does not recognise as a
				// repeat of the call that may have gone through.
				_ = d.Quota.GiveBack(context.WithoutCancel(ctx), take)
				return nil, &neverWhole{why: fmt.Sprintf("%s quota: its smallest window is %d numbers", vendor, d.Quota.Config().Smallest(vendor))}
			}
			if fixed {
				_ = d.Quota.GiveBack(context.WithoutCancel(ctx), take)
				return nil, &deferred{state: ledger.PartThrottled, after: time.Second,
					why: fmt.Sprintf("%s quota: %d numbers left, and this call is resent whole (%d)", vendor, take.N, h.sent)}
			}
			h.r = e.cut(ctx, p, h.r, call, dec, take.N)
			h.sent = len(call.recs)
		}
		h.take = take
		if daily == nil {
			err = d.Lifecycle.MarkInflight(ctx, p.m.ID, p.part, h.r)
		} else {
			err = d.Lifecycle.MarkInflightDaily(ctx, p.m.ID, p.part, h.r, h.sent, *daily)
		}
		if err == nil {
			return h, nil
		}
		_ = d.Quota.GiveBack(context.WithoutCancel(ctx), take)
		var short *ledger.DailyShort
		if !errors.As(err, &short) {
			return nil, err
		}
		if short.Left == 0 {
			return nil, dailyFull(daily, loc, now)
		}
		if fixed && h.sent > daily.Cap {
			return nil, &neverWhole{why: fmt.Sprintf("the campaign's daily cap is %d numbers", daily.Cap)}
		}
		if fixed {
			return nil, &deferred{state: ledger.PartWaiting, after: daily.Ends.Sub(now), at: daily.Ends,
				why: fmt.Sprintf("daily cap: %d numbers left today, and this call is resent whole (%d)", short.Left, h.sent)}
		}
		want = short.Left
	}
	return nil, &deferred{state: ledger.PartThrottled, after: time.Second, why: "quotas taken by other calls while this one was cut to fit"}
}

// neverWhole is a resend larger than a quota allows: it can neither go out whole
// nor be cut, so its numbers wait as uncertain for an operator.
type neverWhole struct{ why string }

func (e *neverWhole) Error() string {
	return "a call that may have reached the vendor is larger than a quota allows and cannot be resent whole (" + e.why + ")"
}

// cut shortens the call over r to its first n numbers sent: the range ends after
// the n-th record that goes out; the contact caps of the records cut off go back.
func (e *engine) cut(ctx context.Context, p *partRun, r chunking.Range, call *gateCall, dec *compliance.Decision, n int) chunking.Range {
	end := n
	if call.keep != nil {
		end = call.keep[n-1] + 1
		call.keep = call.keep[:n]
	}
	call.recs = call.recs[:n]
	for i := range call.suppressed {
		if i >= end {
			delete(call.suppressed, i)
		}
	}
	var keep, back []compliance.CapToken
	for _, c := range dec.Caps {
		if c.Index < end {
			keep = append(keep, c)
		} else {
			back = append(back, c)
		}
	}
	dec.Caps = keep
	if len(back) > 0 {
		_ = e.deps.Gate.Release(context.WithoutCancel(ctx), p.m.ID, back, e.deps.Lifecycle.Now())
	}
	return chunking.Range{Lo: r.Lo, Hi: r.Lo + end}
}

// giveBack returns everything h holds: its call was not sent.
func (h *hold) giveBack(ctx context.Context, e *engine, p *partRun) {
	if h == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	_ = e.deps.Quota.GiveBack(ctx, h.take)
	if h.daily != nil {
		_ = e.deps.Lifecycle.GiveBackDaily(ctx, p.m.ID, h.daily.Day, h.sent)
	}
}

// finish ends h's call, made: its slot frees and its numbers count from now.
func (h *hold) finish(ctx context.Context, e *engine) {
	if h == nil || h.take == nil {
		return
	}
	if err := e.deps.Quota.Finish(context.WithoutCancel(ctx), h.take); err != nil {
		e.deps.Log.WithError(err).Warn("quota: finishing a call's take failed; its slot frees when its lease ends")
	}
}

// calls are the part's calls still to make: the resends first, whole, then the
// rest in calls of the profile's size.
func (p *partRun) calls(ps *ledger.PartProgress) []chunking.Range {
	var out []chunking.Range
	taken := ps.DoneRanges()
	for r := range p.resend {
		if _, done := ps.Done[r]; !done {
			out = append(out, r)
			taken = append(taken, r)
		}
	}
	slices.SortFunc(out, func(a, b chunking.Range) int { return a.Lo - b.Lo })
	return append(out, chunking.Calls(chunking.Remaining(len(p.recs), taken), p.m.Profile.CallSize)...)
}
