// One vendor call and its in-handler retries: the fleet rate limit, the daily cap,
// the compliance gate, the in-flight mark with the quotas, the send.

package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/internal/tracing"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/ratelimit"
	"github.com/dialq/dialq/vendors"
)

// sendWithRetry makes one call, retrying what is safe to retry with backoff. Each
// attempt waits for the fleet rate limit, checks the batch's controls with its
// in-flight mark, and is signed afresh by the client.
func (e *engine) sendWithRetry(ctx context.Context, p *partRun, r chunking.Range) (*sent, chunking.Range, error) {
	d := e.deps
	vendor := e.caller.vendor()
	recs := p.recs[r.Lo:r.Hi]
	// cur is the call as sent: r, or its prefix when a quota cut it. Once a call
	// may have reached the vendor, its retries keep its shape (resend).
	cur, fixed := r, p.resend[r]
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = d.Retry.Initial, d.Retry.Max, d.Retry.Elapsed
	// No jitter: it would stretch a step past Max (the fleet rate limit spreads
	// the workers already).
	b.RandomizationFactor = 0
	var res *sent
	authRefusals, attempt := 0, 0
	op := func() error {
		attempt++
		waited, err := d.Limiter.Wait(ctx, vendor, d.Retry.MaxInlineWait)
		var busy *ratelimit.Busy
		if errors.As(err, &busy) {
			return backoff.Permanent(&deferred{state: ledger.PartThrottled, after: busy.RetryAfter, why: busy.Error()})
		}
		if err != nil {
			return backoff.Permanent(err)
		}
		if waited > 0 {
			d.Metrics.ThrottledWait(vendor, waited)
		}
		// A call in progress finishes even when shutdown starts: abandoning it
		// would leave its outcome unknown. The client's timeout still bounds it.
		callCtx := context.WithoutCancel(ctx)
		if _, err := e.dailyLeft(callCtx, p); err != nil {
			return backoff.Permanent(err) // the day is used up: waiting for the next
		}
		// The compliance gate, right before the call: a number added to a list
		// after enqueue is not sent, the contact cap is taken, and outside the
		// calling window the part waits for its opening.
		call, decision, err := e.gate(callCtx, p, r, recs)
		if err != nil {
			return backoff.Permanent(err)
		}
		releaseCaps := func() {
			if len(decision.Caps) > 0 {
				_ = d.Gate.Release(callCtx, p.m.ID, decision.Caps, d.Lifecycle.Now())
			}
		}
		if fixed {
			// The dead attempt's mark goes just before this attempt's own.
			if err := d.Lifecycle.ClearInflight(callCtx, p.m.ID, p.part, r); err != nil {
				releaseCaps()
				return backoff.Permanent(err)
			}
		}
		// Marked in flight just before the request, after the rate-limit wait,
		// with the quotas taken (quota.go): the mark is where an operator's
		// cancel or pause stops the call, and a worker dying before it has sent
		// nothing.
		h, err := e.holdAndMark(callCtx, p, r, &call, &decision, fixed)
		if err != nil {
			releaseCaps() // nothing goes out
			if fixed && !errors.Is(err, ledger.ErrCancelled) {
				// The dead attempt's call may have gone through: its mark
				// comes back, so the next attempt resends it whole.
				if kerr := d.Lifecycle.KeepInflight(callCtx, p.m.ID, p.part, r); kerr != nil {
					return backoff.Permanent(kerr)
				}
			}
		} else {
			cur = h.r
		}
		release := func() { releaseCaps(); h.giveBack(callCtx, e, p) }
		switch {
		case errors.Is(err, ledger.ErrCancelled):
			return backoff.Permanent(errStopped)
		case errors.Is(err, ledger.ErrPaused):
			return backoff.Permanent(&deferred{state: ledger.PartPaused, after: d.Retry.PauseRecheck, why: "batch paused by an operator"})
		case errors.Is(err, ledger.ErrInflight):
			return backoff.Permanent(&deferred{after: 5 * time.Second, why: "another attempt of this part is calling the vendor"})
		case err != nil:
			return backoff.Permanent(err)
		}
		start := time.Now()
		if len(call.recs) == 0 {
			// The gate kept every number out: no call.
			res = &sent{}
		} else {
			sendCtx, span := tracing.Start(callCtx, "vendor.call")
			res, err = e.caller.send(sendCtx, p, cur, call.recs)
			endCallSpan(span, vendor, p, len(call.recs), attempt, err)
			if err == nil || vendors.ClassOf(err) == vendors.Ambiguous {
				h.finish(callCtx, e)
			}
		}
		if res != nil {
			res.suppressed = call.suppressed
			call.remap(res)
		}
		class := vendors.ClassOf(err)
		outcome := "ok"
		if err != nil {
			outcome = class.String()
			if class != vendors.Ambiguous {
				// The vendor answered with a refusal: nothing was processed. A
				// resend refused before acting keeps the dead attempt's mark
				// (that call may have gone through) while it is tried again.
				release()
				keep := fixed && cur == r && (class == vendors.Transient || class == vendors.Throttled || class == vendors.AuthRefused)
				if !keep {
					if cerr := d.Lifecycle.ClearInflight(callCtx, p.m.ID, p.part, cur); cerr != nil {
						return backoff.Permanent(cerr)
					}
				}
			}
			p.log.WithError(err).WithField("class", outcome).Debug("vendor call failed")
		}
		d.Metrics.ObserveCall(vendor, outcome, time.Since(start))
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return backoff.Permanent(err)
		case class == vendors.Transient:
			return err
		case class == vendors.AuthRefused:
			// Clock skew, a rotated key or an expired token: the next attempt is
			// signed afresh (Yccall logs in again). Only a refusal that persists
			// fails the part.
			authRefusals++
			if authRefusals < d.Retry.AuthAttempts {
				p.log.WithError(err).Warn("vendor refused the signature or credentials: retrying freshly signed")
				return err
			}
			return backoff.Permanent(err)
		case class == vendors.Ambiguous && e.caller.resendSafe(p, cur):
			// Resent in this attempt: same range, same name. The mark stays
			// and the next try replaces it.
			if p.resend == nil {
				p.resend = map[chunking.Range]bool{}
			}
			p.resend[cur] = true
			return err
		case class == vendors.Throttled:
			wait := vendors.RetryAfter(err)
			if wait > d.Retry.MaxInlineWait {
				return backoff.Permanent(&deferred{state: ledger.PartThrottled, after: wait, vendorThrottle: true,
					why: "vendor asked to wait (Retry-After): " + errReason(err)})
			}
			d.Metrics.ThrottledWait(vendor, wait)
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return backoff.Permanent(err)
			}
			return err
		}
		return backoff.Permanent(err)
	}
	err := backoff.Retry(op, backoff.WithContext(b, ctx))
	return res, cur, err
}
