package ledgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// reopen removes the recorded outcome of every range of part n whose summary has
// a count of kind (uncertain or failed), moving those numbers back to pending, or
// to delivered when asDelivered. It returns how many numbers moved.
func (s *Store) reopen(ctx context.Context, id string, n int, kind NumberOutcome, asDelivered bool) (int, error) {
	stateKey, outKey, manKey := k.state(id, n), k.outcome(id, n), k.manifest(id)
	moved := 0
	txf := func(tx *redis.Tx) error {
		moved = 0
		h, err := tx.HGetAll(ctx, stateKey).Result()
		if err != nil {
			return err
		}
		outs, err := tx.LRange(ctx, outKey, 0, -1).Result()
		if err != nil {
			return err
		}
		reopened := map[string]bool{}
		var fields []string
		delivered := 0
		for k, v := range h {
			rest, ok := strings.CutPrefix(k, "done:")
			if !ok {
				continue
			}
			var sm summary
			if json.Unmarshal([]byte(v), &sm) != nil {
				continue
			}
			count := sm.Uncertain
			if kind == OutcomeFailed {
				count = sm.Failed
			}
			if count == 0 {
				continue
			}
			reopened[rest] = true
			moved += count
			if asDelivered {
				if kind == OutcomeUncertain {
					sm.Delivered += sm.Uncertain
					delivered += sm.Uncertain
					sm.Uncertain = 0
				}
				h[k] = mustJSON(sm)
				continue
			}
			fields = append(fields, k)
			// A range is re-sent whole, so its delivered/refused counts go back to
			// pending too.
			moved += sm.Delivered + sm.Refused + sm.Failed + sm.Uncertain + sm.Suppressed - count
		}
		var keep []any
		for _, it := range outs {
			var o Outcome
			// A resent range drops all its outcomes; a range resolved as delivered
			// drops only the uncertain ones, its refusals stay counted and listed.
			if json.Unmarshal([]byte(it), &o) == nil && reopened[o.Range] && (!asDelivered || o.State == kind) {
				continue
			}
			keep = append(keep, it)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if asDelivered {
				for k := range h {
					if rest, ok := strings.CutPrefix(k, "done:"); ok && reopened[rest] {
						p.HSet(ctx, stateKey, k, h[k])
					}
				}
				p.HIncrBy(ctx, manKey, "uncertain", -int64(delivered))
				p.HIncrBy(ctx, manKey, "delivered", int64(delivered))
			} else {
				for _, f := range fields {
					var sm summary
					_ = json.Unmarshal([]byte(h[f]), &sm)
					p.HDel(ctx, stateKey, f)
					p.HIncrBy(ctx, manKey, "delivered", -int64(sm.Delivered))
					p.HIncrBy(ctx, manKey, "refused", -int64(sm.Refused))
					p.HIncrBy(ctx, manKey, "failed", -int64(sm.Failed))
					p.HIncrBy(ctx, manKey, "uncertain", -int64(sm.Uncertain))
					p.HIncrBy(ctx, manKey, "suppressed_late", -int64(sm.Suppressed))
				}
			}
			p.Del(ctx, outKey)
			if len(keep) > 0 {
				p.RPush(ctx, outKey, keep...)
			}
			return nil
		})
		return err
	}
	var err error
	for range 10 {
		// Another writer touched the part between read and write: read again.
		if err = s.rdb.Watch(ctx, txf, stateKey, outKey); !errors.Is(err, redis.TxFailedErr) {
			break
		}
	}
	if err != nil {
		return 0, fmt.Errorf("batch %s part %d reopen %s: %w", id, n, kind, err)
	}
	return moved, nil
}

// ResolveUncertain settles part n's uncertain calls: as delivered (the operator
// checked with the vendor), or back to pending so they are sent again.
func (s *Store) ResolveUncertain(ctx context.Context, id string, n int, delivered bool) (int, error) {
	return s.reopen(ctx, id, n, OutcomeUncertain, delivered)
}

// ReopenFailed moves part n's failed calls back to pending for a retry.
func (s *Store) ReopenFailed(ctx context.Context, id string, n int) (int, error) {
	return s.reopen(ctx, id, n, OutcomeFailed, false)
}
