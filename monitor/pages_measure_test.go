package monitor

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestMeasureBatchPages times the pages on a big delivered batch. It runs only with
// DIALQ_MEASURE_PAGES=N (numbers, e.g. 1000000): it enqueues and delivers N numbers in
// 1,000-number parts, a fifth of them refused and 2% rejected, then reads each page
// four times (the first counts reasons; the others reuse the count).
func TestMeasureBatchPages(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("DIALQ_MEASURE_PAGES"))
	if n <= 0 {
		t.Skip("set DIALQ_MEASURE_PAGES=1000000 to measure the pages on a big batch")
	}
	w := newWorld(t, HTTPConfig{})
	nums := phones(n, 0)
	var refused []string
	for i := 0; i < n; i += 5 {
		refused = append(refused, nums[i])
	}
	w.fake.Refuse("number is on the vendor blacklist", refused...)
	junk := make([]string, n/50)
	for i := range junk {
		junk[i] = fmt.Sprintf("x%d", i)
	}
	start := time.Now()
	id := w.enqueue("yccall", listOf(nums, junk...), 1000)
	t.Logf("enqueued %d rows in %v", n+len(junk), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	w.startWorker()
	st := w.waitFinished(id, 10*time.Minute)
	t.Logf("delivered in %v: %d delivered, %d refused, %d rejected, %d parts", time.Since(start).Round(time.Millisecond),
		st.Delivered, st.Refused, st.Rejected, st.Parts)
	for _, path := range []string{"/batches/", "/api/batches", "/batches/" + id, "/api/batches/" + id} {
		var first, best time.Duration
		size := 0
		for i := range 4 {
			t0 := time.Now()
			code, body := w.get(path, nil)
			d := time.Since(t0)
			if code != http.StatusOK {
				t.Fatalf("GET %s = %d", path, code)
			}
			switch {
			case i == 0:
				first = d
			case i == 1 || d < best:
				best = d
			}
			size = len(body)
		}
		t.Logf("GET %-40s first %v, then best of 3 %v, %d bytes", path, first.Round(time.Millisecond), best.Round(time.Millisecond), size)
	}
}
