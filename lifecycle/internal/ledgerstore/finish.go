// A finished batch: its event published once, its webhook's marks, and the
// retention expiry on all of its keys.

package ledgerstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Event is published on the events stream (and to the campaign's webhook) when a
// batch finishes.
type Event struct {
	ID     string  `json:"id"`
	Type   string  `json:"type"`
	Status *Status `json:"status"`
}

// Publish puts ev on the events stream and sets the retention expiry on all of the
// batch's keys, unless generation gen was published before or the batch is no longer
// finished at gen (re-opened since, or finished again): it reports whether it
// published. The stream and the batch live in different slots, so the steps are not
// one: a crash between them publishes again, with the same event id.
func (s *Store) Publish(ctx context.Context, ev *Event, gen int64) (bool, error) {
	id := ev.Status.Batch
	if due, err := s.due(ctx, id, "announced_gen", gen); err != nil || !due {
		return false, err
	}
	err := s.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: k.events(), MaxLen: 100000, Approx: true,
		Values: map[string]any{"id": ev.ID, "type": ev.Type, "batch": id, "vendor": ev.Status.Vendor, "status": mustJSON(ev.Status)},
	}).Err()
	if err != nil {
		return false, fmt.Errorf("announce batch %s: %w", id, err)
	}
	if err := announcedScript.Run(ctx, s.rdb, []string{k.manifest(id)}, "announced_gen", gen).Err(); err != nil {
		return false, fmt.Errorf("announce batch %s: %w", id, err)
	}
	if due, err := s.due(ctx, id, "", gen); err != nil || !due {
		return true, err // re-opened meanwhile: its keys must not expire
	}
	return true, s.expire(ctx, id, ev.Status.Parts)
}

// WebhookDue reports whether finish gen of batch id is still finished and its
// webhook not yet posted.
func (s *Store) WebhookDue(ctx context.Context, id string, gen int64) (bool, error) {
	return s.due(ctx, id, "webhook_gen", gen)
}

// WebhookDone records that finish gen's webhook was posted (or given up on).
func (s *Store) WebhookDone(ctx context.Context, id string, gen int64) error {
	return announcedScript.Run(ctx, s.rdb, []string{k.manifest(id)}, "webhook_gen", gen).Err()
}

// due reports whether batch id is finished at gen and, when field is set, whether
// field is still below gen.
func (s *Store) due(ctx context.Context, id, field string, gen int64) (bool, error) {
	v, err := finishedAtScript.Run(ctx, s.rdb, []string{k.manifest(id)}, gen).Int()
	if err != nil {
		return false, fmt.Errorf("batch %s: %w", id, err)
	}
	if v < 0 {
		return false, s.missing(ctx, id)
	}
	if v == 0 || field == "" {
		return v == 1, nil
	}
	cur, err := s.rdb.HGet(ctx, k.manifest(id), field).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("batch %s: %w", id, err)
	}
	return cur < gen, nil
}

func (s *Store) expire(ctx context.Context, id string, parts int) error {
	ret, err := s.rdb.HGet(ctx, k.manifest(id), "retention_s").Int64()
	if err != nil || ret <= 0 {
		ret = int64(DefaultRetention / time.Second)
	}
	ttl := time.Duration(ret) * time.Second
	if err := s.eachKey(ctx, id, parts, func(p redis.Pipeliner, key string) { p.Expire(ctx, key, ttl) }); err != nil {
		return fmt.Errorf("expire batch %s: %w", id, err)
	}
	return nil
}

// eachKey pipelines fn over every key of batch id, a thousand at a time.
func (s *Store) eachKey(ctx context.Context, id string, parts int, fn func(p redis.Pipeliner, key string)) error {
	keys := []string{k.manifest(id), k.rejects(id)}
	for n := range parts {
		keys = append(keys, k.part(id, n), k.state(id, n), k.outcome(id, n))
	}
	for lo := 0; lo < len(keys); lo += 1000 {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, key := range keys[lo:min(lo+1000, len(keys))] {
				fn(p, key)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Finish is where a batch stands with its announcements.
type Finish struct {
	Finished bool
	// Generation is the last finish; Announced the last one published.
	Generation, Announced int64
}

// FinishOf reads batch id's finish and announcement generations.
func (s *Store) FinishOf(ctx context.Context, id string) (Finish, error) {
	h, err := s.rdb.HMGet(ctx, k.manifest(id), "state", "finish_gen", "announced_gen").Result()
	if err != nil {
		return Finish{}, fmt.Errorf("batch %s: %w", id, err)
	}
	if h[0] == nil {
		return Finish{}, s.missing(ctx, id)
	}
	str := func(v any) string { s, _ := v.(string); return s }
	return Finish{Finished: str(h[0]) == string(StateFinished), Generation: atoi(str(h[1])), Announced: atoi(str(h[2]))}, nil
}
