package results

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Redials outlive their batch's finish (every part settled), when the operator's
// pause and cancel no longer apply to the batch. Hold is the same two commands for
// such a batch's redials: the hold is kept in the results hash (field "hold") and
// every redial reads it with the batch's own.

// Hold pauses, resumes or cancels batch id's redials; verb is pause, resume or
// cancel. It reports false when there is nothing to act on: no redial due (pause,
// cancel) or none held (resume). Cancel also marks every due redial stopped, so the
// batch's results can be complete at once.
func (s *Store) Hold(ctx context.Context, id, verb string) (bool, error) {
	key := hashKey(id)
	h, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return false, fmt.Errorf("batch %s results: %w", id, err)
	}
	var due []string
	for k, v := range h {
		if strings.HasPrefix(k, "redial:") && strings.HasPrefix(v, "due:") {
			due = append(due, k)
		}
	}
	switch verb {
	case "resume":
		if h[fieldHold] != "paused" {
			return false, nil
		}
		return true, s.rdb.HDel(ctx, key, fieldHold).Err()
	case "pause":
		if len(due) == 0 || h[fieldHold] != "" {
			return false, nil
		}
		return true, s.rdb.HSet(ctx, key, fieldHold, "paused").Err()
	case "cancel":
		if h[fieldHold] == "cancelled" || (len(due) == 0 && h[fieldHold] == "") {
			return false, nil
		}
		_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, fieldHold, "cancelled")
			for _, f := range due {
				p.HSet(ctx, key, f, "stopped")
			}
			return nil
		})
		return true, err
	}
	return false, fmt.Errorf("hold %q: want pause, resume or cancel", verb)
}

// held reads the hold on batch id's redials: "", "paused" or "cancelled".
func (s *Store) held(ctx context.Context, id string) (string, error) {
	v, err := s.rdb.HGet(ctx, hashKey(id), fieldHold).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, err
}
