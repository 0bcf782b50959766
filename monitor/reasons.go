package monitor

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/dialq/dialq/lifecycle/ledger"
)

var (
	duplicateOfLine = regexp.MustCompile(`^duplicate of line \d+$`)
	// a number as maskDigits leaves it (138*****00), or a long digit run
	maskedNumber = regexp.MustCompile(`\d{3}\*+\d{2}|\*\*\*|\d{7,}`)
)

// reasonKey is the row a reason counts in on a "by reason" table: every duplicate
// is one row whatever line it repeats, and a vendor message that names a number
// counts with the same message naming any other.
func reasonKey(masked string) string {
	if duplicateOfLine.MatchString(masked) {
		return "duplicate"
	}
	return maskedNumber.ReplaceAllString(masked, "<number>")
}

// reason is how many rejects or outcomes share a reason.
type reason struct {
	State  string `json:"state"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// reasonCounts is a batch's reasons as counted when its counters were Key.
type reasonCounts struct {
	Key               string
	At                time.Time
	Rejects, Outcomes []reason
	Sampled           bool
}

// reasonCache keeps each batch's last count: counting is the page's one costly
// read (about 0.6 s for 200,000 outcomes), and the counts change only when the
// batch's rejected, refused, failed or uncertain counters do.
type reasonCache struct {
	mu sync.Mutex
	m  map[string]*reasonCounts
}

// reasonKeep is how long a count is kept after it was made; a sampled count (a big
// batch) is reused for sampledReuse even while the batch's counters move.
var (
	reasonKeep   = 30 * time.Minute
	sampledReuse = 30 * time.Second
)

func (c *reasonCache) get(id, key string, now time.Time) *reasonCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.m {
		if now.Sub(v.At) > reasonKeep {
			delete(c.m, k)
		}
	}
	v := c.m[id]
	if v == nil || v.Key != key && !(v.Sampled && now.Sub(v.At) < sampledReuse) {
		return nil
	}
	return v
}

func (c *reasonCache) put(id string, v *reasonCounts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[id] = v
}

// reasons counts rejects and not-delivered numbers by reason, or reuses the last
// count while it stands.
func (p *pages) reasons(ctx context.Context, st *ledger.Status) (rejects, outcomes []reason, sampled bool, err error) {
	key := fmt.Sprintf("%d/%d/%d/%d", st.Rejected, st.Refused, st.Failed, st.Uncertain)
	now := p.now()
	if c := p.counts.get(st.Batch, key, now); c != nil {
		return c.Rejects, c.Outcomes, c.Sampled, nil
	}
	rejects, outcomes, sampled, err = p.countReasons(ctx, st)
	if err != nil {
		return nil, nil, false, err
	}
	p.counts.put(st.Batch, &reasonCounts{Key: key, At: now, Rejects: rejects, Outcomes: outcomes, Sampled: sampled})
	return rejects, outcomes, sampled, nil
}

// countReasons counts rejects and not-delivered numbers by reason, reading at most
// maxReasonItems of them. Reasons are vendor and parser text: masked.
func (p *pages) countReasons(ctx context.Context, st *ledger.Status) (rejects, outcomes []reason, sampled bool, err error) {
	errEnough := errors.New("enough")
	seen := 0
	take := func() error {
		if seen >= maxReasonItems {
			sampled = true
			return errEnough
		}
		seen++
		return nil
	}
	rj := map[reason]int64{}
	if st.Rejected > 0 {
		err = p.br.Rejects(ctx, st.Batch, func(r ledger.Reject) error {
			if err := take(); err != nil {
				return err
			}
			rj[reason{State: "rejected", Reason: reasonKey(maskDigits(r.Reason))}]++
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			return nil, nil, false, err
		}
	}
	oc := map[reason]int64{}
	if st.Refused+st.Failed+st.Uncertain > 0 && !sampled {
		for part := 0; part < st.Parts && !sampled; part++ {
			err = p.br.Outcomes(ctx, st.Batch, part, func(o ledger.Outcome) error {
				if err := take(); err != nil {
					return err
				}
				oc[reason{State: string(o.State), Code: maskDigits(o.Code), Reason: reasonKey(maskDigits(o.Reason))}]++
				return nil
			})
			if err != nil && !errors.Is(err, errEnough) {
				return nil, nil, false, err
			}
		}
	}
	return sortReasons(rj), sortReasons(oc), sampled, nil
}

func sortReasons(m map[reason]int64) []reason {
	out := make([]reason, 0, len(m))
	for r, n := range m {
		r.Count = n
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.State != b.State {
			return a.State < b.State
		}
		return a.Reason < b.Reason
	})
	return out
}
