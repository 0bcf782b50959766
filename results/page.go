package results

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// Page is what a batch's page shows of its results.
type Page struct {
	Status
	// Tags counts intent tags over the results read (Sampled: the first limit).
	Tags    map[string]int64
	Sampled bool
	// Attempts counts final results by attempt.
	Attempts map[int]int64
	// Open counts vendor batches still polled.
	Open int
	// NextRedial is the earliest redial due; zero when none.
	NextRedial time.Time
}

// PageOf reads batch bs's results for its page, decoding at most limit results
// for the intent tags.
func PageOf(ctx context.Context, st *Store, bs *ledger.Status, limit int) (*Page, error) {
	rs, err := StatusOf(ctx, st, bs)
	if err != nil {
		return nil, err
	}
	sum, err := st.Summary(ctx, bs.Batch)
	if err != nil {
		return nil, err
	}
	p := &Page{Status: *rs, Tags: map[string]int64{}, Attempts: map[int]int64{}}
	for _, mt := range sum.Slices {
		p.Attempts[mt.Slice.Attempt] += mt.Counts.Final()
		if !mt.Closed {
			p.Open++
		}
	}
	h, err := st.rdb.HGetAll(ctx, hashKey(bs.Batch)).Result()
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		if ms, ok := strings.CutPrefix(v, "due:"); ok && strings.HasPrefix(k, "redial:") {
			n, _ := strconv.ParseInt(ms, 10, 64)
			if t := time.UnixMilli(n).UTC(); p.NextRedial.IsZero() || t.Before(p.NextRedial) {
				p.NextRedial = t
			}
		}
	}
	if len(sum.Slices) == 0 {
		return p, nil
	}
	m, err := batchManifest(ctx, st, bs.Batch)
	if err != nil || m == nil {
		return p, err
	}
	read := 0
	for _, mt := range sum.Slices {
		if read >= limit {
			p.Sampled = true
			break
		}
		res, err := st.Get(ctx, m, mt.Slice)
		if err != nil {
			continue // a corrupt slice is the poll's to report
		}
		for _, r := range res {
			if r.IntentTag != "" {
				p.Tags[r.IntentTag]++
			}
		}
		read += len(res)
	}
	return p, nil
}

// batchManifest reads the manifest the slices are sealed with.
func batchManifest(ctx context.Context, st *Store, id string) (*ledger.Manifest, error) {
	return ledger.NewReader(st.rdb).Manifest(ctx, id)
}
