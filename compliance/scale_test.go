package compliance

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/internal/testredis"
)

// TestScale imports DIALQ_SCALE_NUMBERS (e.g. 10000000) random CN mobile numbers
// into one list and reports the import rate and Redis bytes a number (INFO memory
// before and after, and MEMORY USAGE over a sample of buckets). It is the README's
// benchmark; skipped unless the variable is set (it takes a minute and ~300 MB).
func TestScale(t *testing.T) {
	total, _ := strconv.Atoi(os.Getenv("DIALQ_SCALE_NUMBERS"))
	if total == 0 {
		t.Skip("set DIALQ_SCALE_NUMBERS=10000000 to measure")
	}
	s, db := setup(t)
	ctx := context.Background()
	used := func() int64 {
		info := db.Client.Info(ctx, "memory").Val()
		for _, l := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		t.Fatal("no used_memory in INFO")
		return 0
	}
	for _, tc := range []struct {
		list    string
		expires time.Time
	}{{"dnc", time.Time{}}, {"expiring", time.Now().Add(90 * 24 * time.Hour)}} {
		before := used()
		r := rand.New(rand.NewPCG(7, uint64(len(tc.list))))
		im, err := s.NewImporter(tc.list, tc.expires)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for range total {
			if err := im.Add(ctx, 8613000000000+r.Uint64N(1e10)); err != nil {
				t.Fatal(err)
			}
		}
		added, err := im.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		after := used()
		var sample int64
		const nSample = 4096
		for b := range uint32(nSample) {
			sample += db.Client.MemoryUsage(ctx, bucketKey(tc.list, b*(nBuckets/nSample)), 0).Val()
		}
		enc := db.Client.ObjectEncoding(ctx, bucketKey(tc.list, 0)).Val()
		perNum := float64(after-before) / float64(added)
		t.Logf("list %s (expiry %v): %d numbers (%d new) in %v = %.0f/s; used_memory +%d B = %.1f B/number; MEMORY USAGE sample %.1f B/number; encoding %s",
			tc.list, !tc.expires.IsZero(), total, added, el.Round(time.Millisecond), float64(total)/el.Seconds(),
			after-before, perNum, float64(sample)*nBuckets/nSample/float64(added), enc)
		if perNum > 24 {
			t.Errorf("%.1f bytes a number; want at most 24", perNum)
		}
		start = time.Now()
		n, err := s.Count(ctx, tc.list)
		t.Logf("Count = %d in %v", n, time.Since(start).Round(time.Millisecond))
		if err != nil || n != added {
			t.Errorf("Count = %d, %v; want %d", n, err, added)
		}
		keys := make([]uint64, 100000)
		for i := range keys {
			keys[i] = 8613000000000 + r.Uint64N(1e10)
		}
		start = time.Now()
		if _, err := s.CheckKeys(ctx, []string{tc.list}, keys, time.Now()); err != nil {
			t.Fatal(err)
		}
		t.Logf("CheckKeys of %d numbers: %.0f/s", len(keys), float64(len(keys))/time.Since(start).Seconds())
	}
	_ = testredis.RequireReal
}
