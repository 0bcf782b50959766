package compliance

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/compliance/policy"
	"github.com/dialq/dialq/compliance/window"
)

// Verdicts of the gate about one number.
const (
	VerdictOK = "ok"
	// VerdictCap: the number's contact cap is used up.
	VerdictCap = "contact_cap"
	// SuppressedPrefix + list: the number is on that suppression list.
	SuppressedPrefix = "suppressed:"
)

// Gate is what the delivery engine asks right before each vendor call.
type Gate struct {
	s *Store
	// AuditTTL is how long a batch's audit is kept after its last entry (0:
	// DefaultAuditTTL); keep it at least the batch retention.
	AuditTTL time.Duration
}

// NewGate returns a Gate on s.
func NewGate(s *Store) *Gate { return &Gate{s: s} }

// CapToken is one contact-cap take, to give back with Release if the call is not sent.
type CapToken struct {
	Index  int    `json:"i"`     // index of the number in BeforeCall's phones
	Number string `json:"phone"` // E.164
	At     int64  `json:"at"`    // the take's time, Unix seconds
}

// Decision is the gate's answer for one vendor call.
type Decision struct {
	// Verdicts has one entry a phone: VerdictOK, VerdictCap or SuppressedPrefix+list.
	// Nil when WindowOpensAt is set: nothing was checked or taken.
	Verdicts []string
	// Caps are the takes made for the OK numbers when a cap applies.
	Caps []CapToken
	// WindowOpensAt is zero when the window is open now; otherwise the call must
	// wait until then (re-schedule the part; nothing was taken).
	WindowOpensAt time.Time
}

// Send reports whether phone i may be sent.
func (d Decision) Send(i int) bool {
	return d.WindowOpensAt.IsZero() && i < len(d.Verdicts) && d.Verdicts[i] == VerdictOK
}

// BeforeCall decides, at now, which of phones (E.164, '+' optional) batchID may
// send under cfg: first the window (read in the campaign zone and every zone of
// every phone: the part goes out when all of them are inside), then the suppression
// lists (a number added after enqueue is caught here), then the contact cap, taken
// atomically a number (a batch holds its take: a retried part does not take twice).
// Each suppressed or capped number and each take is written to the batch's audit.
// An error means nothing may be sent; takes already made are given back.
// When the zones never share an open instant the error wraps window.ErrNeverOpens.
func (g *Gate) BeforeCall(ctx context.Context, batchID string, cfg policy.Compliance, phones []string, now time.Time) (Decision, error) {
	keys, err := parseAll(phones)
	if err != nil {
		return Decision{}, err
	}
	if cfg.Window != nil {
		w, err := cfg.Window.Parse()
		if err != nil {
			return Decision{}, fmt.Errorf("compliance window: %w", err)
		}
		open, at := w.NextOpen(now, zonesOf(keys))
		if !open {
			if at.IsZero() {
				return Decision{}, fmt.Errorf("%w: %s and the numbers' zones", window.ErrNeverOpens, w)
			}
			return Decision{WindowOpensAt: at}, nil
		}
	}
	d := Decision{Verdicts: make([]string, len(keys))}
	for i := range d.Verdicts {
		d.Verdicts[i] = VerdictOK
	}
	var audit []AuditEntry
	if len(cfg.Suppress) > 0 {
		// A list that does not exist (misspelt, or lost) would let every number through.
		if err := g.s.RequireLists(ctx, cfg.Suppress); err != nil {
			return Decision{}, err
		}
		lists, err := g.s.CheckKeys(ctx, cfg.Suppress, keys, now)
		if err != nil {
			return Decision{}, err
		}
		for i, l := range lists {
			if l != "" {
				d.Verdicts[i] = SuppressedPrefix + l
				audit = append(audit, AuditEntry{Number: keys[i], Decision: AuditSuppressed, Detail: l, At: now})
			}
		}
	}
	if cc := cfg.ContactCap; cc != nil {
		var idx []int
		for i, v := range d.Verdicts {
			if v == VerdictOK {
				idx = append(idx, i)
			}
		}
		holder := Holder(batchID)
		taken, at, err := g.s.takeCaps(ctx, pick(keys, idx), holder, cc.Max, cc.Days, now)
		detail := capDetail(cc)
		for j, i := range idx {
			switch {
			case j >= len(taken):
			case taken[j]:
				d.Caps = append(d.Caps, CapToken{Index: i, Number: FormatE164(keys[i]), At: at[j]})
				audit = append(audit, AuditEntry{Number: keys[i], Decision: AuditCapTaken, Detail: detail, At: now})
			default:
				d.Verdicts[i] = VerdictCap
				audit = append(audit, AuditEntry{Number: keys[i], Decision: AuditCapped, Detail: detail, At: now})
			}
		}
		if err != nil {
			_ = g.release(context.WithoutCancel(ctx), holder, d.Caps)
			return Decision{}, err
		}
	}
	if err := g.s.appendAudit(ctx, batchID, g.AuditTTL, audit); err != nil {
		_ = g.release(context.WithoutCancel(ctx), Holder(batchID), d.Caps)
		return Decision{}, err
	}
	return d, nil
}

// Release gives back the takes of calls that were not sent (the vendor refused the
// request before dialling, the batch was cancelled) and records it in the audit.
func (g *Gate) Release(ctx context.Context, batchID string, caps []CapToken, now time.Time) error {
	if err := g.release(ctx, Holder(batchID), caps); err != nil {
		return err
	}
	audit := make([]AuditEntry, 0, len(caps))
	for _, c := range caps {
		n, _ := ParseE164(c.Number)
		audit = append(audit, AuditEntry{Number: n, Decision: AuditCapReleased, At: now})
	}
	return g.s.appendAudit(ctx, batchID, g.AuditTTL, audit)
}

func (g *Gate) release(ctx context.Context, holder uint32, caps []CapToken) error {
	for _, c := range caps {
		n, err := ParseE164(c.Number)
		if err != nil {
			return err
		}
		if _, err := g.s.releaseCap(ctx, n, holder, c.At); err != nil {
			return err
		}
	}
	return nil
}

func capDetail(cc *policy.ContactCap) string {
	return strconv.Itoa(cc.Max) + "/" + strconv.Itoa(cc.Days) + "d"
}

func pick(keys []uint64, idx []int) []uint64 {
	out := make([]uint64, len(idx))
	for j, i := range idx {
		out[j] = keys[i]
	}
	return out
}

// zonesOf is the union of the numbers' zones; numbers of one country code with one
// zone (most) cost one lookup.
func zonesOf(keys []uint64) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range keys {
		for _, z := range Zones(n) {
			if !seen[z] {
				seen[z] = true
				out = append(out, z)
			}
		}
	}
	return out
}

// takeCaps takes one delivery of each key's cap, pipelined: each take is atomic on
// its own key. On an error the takes made so far are reported with it.
func (s *Store) takeCaps(ctx context.Context, keys []uint64, holder uint32, max, days int, now time.Time) (taken []bool, at []int64, err error) {
	win, err := capArgs(max, days)
	if err != nil {
		return nil, nil, err
	}
	for attempt := 0; ; attempt++ {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(keys))
		for i, n := range keys {
			cmds[i] = takeScript.EvalSha(ctx, pipe, []string{capKey(n)}, now.Unix(), win, max, holder)
		}
		_, err = pipe.Exec(ctx)
		if err != nil && attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
			// A script that was never loaded fails on every key before it runs: load, retry.
			if err := takeScript.Load(ctx, s.rdb).Err(); err != nil {
				return nil, nil, fmt.Errorf("take contact cap: %w", err)
			}
			continue
		}
		taken, at = make([]bool, len(keys)), make([]int64, len(keys))
		var first error
		for i, c := range cmds {
			v, cerr := c.Int64Slice()
			if cerr != nil || len(v) != 2 {
				if first == nil {
					first = cerr
				}
				continue
			}
			taken[i], at[i] = v[0] == 1, v[1]
		}
		if first != nil || err != nil {
			return taken, at, fmt.Errorf("take contact cap: %w", errors.Join(first, err))
		}
		return taken, at, nil
	}
}
