package batch

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ControlView is what a vendor control needs of a batch: the vendor tasks its parts
// recorded (FlashAI batch names, Yccall task ids, …) and how many calls are still
// marked in flight, which may yet make a vendor task the control has not seen.
type ControlView struct {
	Targets  []string
	Inflight int
}

// ControlView reads every part's progress, pipelined, in one pass.
func (s *Store) ControlView(ctx context.Context, m *Manifest) (ControlView, error) {
	seen := map[string]bool{}
	var v ControlView
	for lo := 0; lo < m.Parts; lo += 1000 {
		hi := min(lo+1000, m.Parts)
		cmds := make([]*redis.MapStringStringCmd, 0, hi-lo)
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for n := lo; n < hi; n++ {
				cmds = append(cmds, p.HGetAll(ctx, k.state(m.ID, n)))
			}
			return nil
		})
		if err != nil {
			return v, fmt.Errorf("batch %s parts: %w", m.ID, err)
		}
		for _, c := range cmds {
			for key, val := range c.Val() {
				switch {
				case strings.HasPrefix(key, "x:task:") && val != "" && !seen[val]:
					seen[val] = true
					v.Targets = append(v.Targets, val)
				case strings.HasPrefix(key, "inflight:"):
					v.Inflight++
				}
			}
		}
	}
	sort.Strings(v.Targets)
	return v, nil
}
