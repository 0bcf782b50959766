package monitor

import (
	"sort"
	"time"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// waitGroup is why some of a batch's parts wait: a quota, a daily cap, a calling
// window, a pause or a vendor's Retry-After, with how many parts and until when.
type waitGroup struct {
	State  ledger.PartState
	Reason string
	Parts  int
	Until  time.Time
}

// Waits groups the listed waiting parts by state and reason, soonest first: the
// batch page's answer to "why does this batch wait?".
func (d *detail) Waits() []waitGroup {
	idx := map[[2]string]int{}
	var out []waitGroup
	for _, r := range d.PartRows {
		if r.ResumeAt == nil || r.State.Final() {
			continue
		}
		key := [2]string{string(r.State), r.WaitReason}
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, waitGroup{State: r.State, Reason: r.WaitReason, Until: *r.ResumeAt})
		}
		out[i].Parts++
		if r.ResumeAt.Before(out[i].Until) {
			out[i].Until = *r.ResumeAt
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Until.Before(out[j].Until) })
	return out
}
