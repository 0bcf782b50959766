package ledgerstore

import (
	"errors"
	"testing"
	"time"

	"github.com/dialq/dialq/chunking"
)

// The daily cap is taken with the mark, all or nothing: a call the day cannot hold
// whole is refused with what is left and marks nothing; a refused mark (pause)
// takes nothing; a give-back returns the numbers.
func TestMarkInflightDaily(t *testing.T) {
	f := setup(t)
	f.newBatch(t, "b1", 10)
	day := Daily{Cap: 10, Day: "2026-12-06", Ends: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
	steps := []struct {
		r    chunking.Range
		sent int
		want error
		left int // DailyShort.Left when want is one
		used int // the day's count after
	}{
		{chunking.Range{Lo: 0, Hi: 6}, 6, nil, 0, 6},
		{chunking.Range{Lo: 6, Hi: 10}, 5, &DailyShort{}, 4, 6}, // 5 sent of a 4-number rest: refused
		{chunking.Range{Lo: 6, Hi: 9}, 3, nil, 0, 9},
		{chunking.Range{Lo: 9, Hi: 10}, 0, nil, 0, 9}, // all suppressed: sends nothing, takes nothing
	}
	for i, st := range steps {
		err := f.s.MarkInflightDaily(f.ctx, "b1", 0, st.r, st.sent, day)
		var short *DailyShort
		switch {
		case st.want == nil && err != nil:
			t.Fatalf("step %d: %v", i, err)
		case st.want != nil && (!errors.As(err, &short) || short.Left != st.left):
			t.Fatalf("step %d: %v; want %d left", i, err, st.left)
		}
		used, err := f.s.DailyUsed(f.ctx, "b1", day.Day)
		if err != nil || used != st.used {
			t.Fatalf("step %d: day's count %d (%v); want %d", i, used, err, st.used)
		}
		ps, _ := f.s.Progress(f.ctx, "b1", 0)
		marked := false
		for _, r := range ps.Inflight {
			marked = marked || r == st.r
		}
		if marked != (st.want == nil) {
			t.Errorf("step %d: marked %v, inflight %v", i, marked, ps.Inflight)
		}
	}
	if _, err := f.s.SetControl(f.ctx, "b1", ControlPaused); err != nil {
		t.Fatal(err)
	}
	if err := f.s.MarkInflightDaily(f.ctx, "b1", 1, chunking.Range{Lo: 0, Hi: 1}, 1, day); !errors.Is(err, ErrPaused) {
		t.Fatalf("paused: %v", err)
	}
	if err := f.s.GiveBackDaily(f.ctx, "b1", day.Day, 20); err != nil {
		t.Fatal(err)
	}
	if used, _ := f.s.DailyUsed(f.ctx, "b1", day.Day); used != 0 {
		t.Errorf("after giving back more than was taken: %d; want 0", used)
	}
	if ttl := f.db.Client.PTTL(f.ctx, k.daily("b1", day.Day)).Val(); ttl <= 0 && f.db.Real {
		t.Errorf("the day's count has no expiry (%v)", ttl)
	}
}
