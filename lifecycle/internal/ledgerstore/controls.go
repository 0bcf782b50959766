package ledgerstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

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

// Control refusals.
var (
	ErrFinished         = errors.New("batch has finished")
	ErrAlreadyCancelled = errors.New("batch is cancelled")
)

// SetControl sets (or, with ControlNone, clears) an operator's hold on batch id. It
// reports false when the batch was already so.
func (s *Store) SetControl(ctx context.Context, id string, c Control) (bool, error) {
	v, err := controlScript.Run(ctx, s.rdb, []string{k.manifest(id)}, string(c)).Int()
	if err != nil {
		return false, fmt.Errorf("batch %s control: %w", id, err)
	}
	switch v {
	case -1:
		return false, s.missing(ctx, id)
	case -2:
		return false, fmt.Errorf("batch %s: %w", id, ErrFinished)
	case -3:
		return false, fmt.Errorf("batch %s: %w", id, ErrAlreadyCancelled)
	}
	return v == 1, nil
}

// Control reads batch id's operator hold.
func (s *Store) Control(ctx context.Context, id string) (Control, error) {
	v, err := s.rdb.HGet(ctx, k.manifest(id), "control").Result()
	if errors.Is(err, redis.Nil) {
		return ControlNone, nil
	}
	return Control(v), err
}

// VendorTasks lists the vendor tasks a batch made (FlashAI batch names, Yccall task
// ids, …), from the checkpoints its parts recorded.
func (s *Store) VendorTasks(ctx context.Context, m *Manifest) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for n := range m.Parts {
		ps, err := s.Progress(ctx, m.ID, n)
		if err != nil {
			return nil, err
		}
		for key, v := range ps.Extra {
			if _, ok := ParseRangeField(PrefixTask, key); ok && v != "" && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// SetControlNumbers stores the numbers an operator's control acts on under the
// batch, so the control task's payload carries only ids; they expire in a day.
func (s *Store) SetControlNumbers(ctx context.Context, id, req string, numbers []string) error {
	vals := make([]any, len(numbers))
	for i, n := range numbers {
		vals[i] = n
	}
	key := k.control(id, req)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		p.RPush(ctx, key, vals...)
		p.Expire(ctx, key, 24*time.Hour)
		return nil
	})
	return err
}

// ControlNumbers reads what SetControlNumbers stored.
func (s *Store) ControlNumbers(ctx context.Context, id, req string) ([]string, error) {
	return s.rdb.LRange(ctx, k.control(id, req), 0, -1).Result()
}
