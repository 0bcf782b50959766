package results

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/campaign"
)

// Redials after an import: the vendors without a result API (NXCloud, Yccall,
// speech) report results by `enqueue results import`, so an import is what closes
// an attempt for them, as a poll does for FlashAI. Each part and attempt it stored
// results for gets its next attempt scheduled (Redialer.schedule: after the
// campaign's delay, on the vendor's queue, one task per part and attempt).

type refusal struct {
	attempt int
	reason  string
}

// latestAttempts maps each record of part that a redial sent to the redials'
// attempts that took it (ascending), and the records a redial's call refused to
// that attempt.
func (s *Store) latestAttempts(ctx context.Context, id string, part int) (map[int][]int, map[int]refusal, error) {
	latest, refused := map[int][]int{}, map[int]refusal{}
	for k := 2; ; k++ {
		idx, _, ok, err := s.redialSent(ctx, id, part, k)
		if err != nil || !ok {
			return latest, refused, err
		}
		rf, err := s.redialRefused(ctx, id, part, k)
		if err != nil {
			return nil, nil, err
		}
		for _, x := range idx {
			if why, out := rf[x]; out {
				refused[x] = refusal{attempt: k, reason: why}
				continue
			}
			latest[x] = append(latest[x], k)
		}
	}
}

// ScheduleRedials queues the redials an import calls for: for each part and
// attempt it stored with a number whose disposition the campaign's recycle rule
// names, the part's next attempt, unless max_attempts is reached. Numbers whose
// part's next attempt already went out (or ran and found nothing) are counted in
// imp.Late: they are stored, not redialled. It sets imp.Redials.
func ScheduleRedials(ctx context.Context, batches RedialLedger, st *Store, q *asynq.Client, id string, imp *Imported) error {
	m, err := batches.Manifest(ctx, id)
	if err != nil {
		return err
	}
	c, err := campaign.Parse(m.Vendor, m.Campaign)
	if err != nil {
		return err
	}
	rc := recyclingOf(c)
	if rc == nil {
		return nil
	}
	rd := &Redialer{Batches: batches, Results: st, Queue: q}
	for at, counts := range imp.touched {
		part, k := at[0], at[1]
		n := 0
		for _, d := range []Disposition{NotAnswered, NotCalled} {
			if rc.Redials(d.String()) {
				n += int(counts.Of(d))
			}
		}
		if n == 0 || k+1 > rc.MaxAttempts {
			continue
		}
		state, err := st.rdb.HGet(ctx, hashKey(id), redialField(part, k+1)).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if state != "" && !strings.HasPrefix(state, "due:") {
			imp.Late += n
			continue
		}
		if err := rd.schedule(ctx, m, part, k+1); err != nil {
			return err
		}
		// Not scheduled when the batch or its redials were cancelled.
		if v, err := st.rdb.HGet(ctx, hashKey(id), redialField(part, k+1)).Result(); err == nil && strings.HasPrefix(v, "due:") {
			imp.Redials++
		}
	}
	return nil
}

// attemptProblem says why a row for attempt k (0: the latest) of a number whose
// latest attempt is latest cannot be stored, or "". A superseded attempt's result
// cannot change (the number was redialled on it), and a refused one has none.
func attemptProblem(k, latest int, sentIn []int, refused refusal) string {
	if refused.attempt > 0 {
		if k == 0 || k == refused.attempt {
			return fmt.Sprintf("number was refused by the vendor in attempt %d (%s)", refused.attempt, refused.reason)
		}
		latest = refused.attempt // the attempts before it were superseded
	}
	if k == 0 || k == latest {
		return ""
	}
	if k > latest || (k != 1 && !slices.Contains(sentIn, k)) {
		return fmt.Sprintf("number was not sent in attempt %d", k)
	}
	return fmt.Sprintf("attempt %d of this number was superseded by attempt %d (it was redialled on that result): import the latest attempt's result", k, latest)
}
