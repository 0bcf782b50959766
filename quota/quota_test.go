package quota

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialq/dialq/internal/testredis"
)

func TestParseWindows(t *testing.T) {
	tests := []struct {
		in   string
		want string // windows as limit/spec[day], or the error's text
	}{
		{"5000/1m,200000/24h", "5000/1m 200000/24h:day"},
		{"200000/1d, 5000/60s", "5000/1m 200000/24h:day"},
		{"10/1s,70/7d", "10/1s 70/7d"},
		{"5000/xx", `window "xx"`},
		{"0/1m", "count must be a whole number"},
		{"-5/1m", "count must be a whole number"},
		{"5000/-1m", "must be from 1s"},
		{"5000", "want N/<window>"},
		{"5/1m,6/60s", "given twice"},
		{"5/500ms", "must be from 1s"},
		{"1.5/1m", "count must be a whole number"},
	}
	for _, tt := range tests {
		ws, err := ParseWindows(tt.in)
		var got []string
		for _, w := range ws {
			s := strings.TrimSpace(w.Spec)
			if w.Day {
				s += ":day"
			}
			got = append(got, strconv.FormatInt(w.Limit, 10)+"/"+s)
		}
		text := strings.Join(got, " ")
		if err != nil {
			text = err.Error()
		}
		if !strings.Contains(text, tt.want) {
			t.Errorf("ParseWindows(%q) = %q; want %q", tt.in, text, tt.want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string // "" ok; else a piece of the error
	}{
		{map[string]string{"NXCLOUD_QUOTA": "5000/1m", "YCCALL_INFLIGHT": "4"}, ""},
		{map[string]string{"NXCLOUD_QUOTA": "5000/xx"}, "NXCLOUD_QUOTA"},
		{map[string]string{"NXCLOUD_QUOTA": "0/1m"}, "NXCLOUD_QUOTA"},
		{map[string]string{"SPEECH_INFLIGHT": "0"}, "SPEECH_INFLIGHT"},
		{map[string]string{"SPEECH_INFLIGHT": "-3"}, "SPEECH_INFLIGHT"},
		{map[string]string{"FOO_QUOTA": "5/1m"}, `FOO_QUOTA: no vendor "foo"`},
		{map[string]string{"NXCLUOD_INFLIGHT": "2"}, "NXCLUOD_INFLIGHT"},
		{map[string]string{"MY_DISK_QUOTA": "10G"}, ""}, // not a one-word prefix: not ours
		{map[string]string{EnvTZ: "Mars/Olympus"}, EnvTZ},
		{map[string]string{EnvLease: "10ms"}, EnvLease},
	}
	for _, tt := range tests {
		var environ []string
		for k, v := range tt.env {
			environ = append(environ, k+"="+v)
		}
		c, err := FromEnv(func(k string) string { return tt.env[k] }, environ)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: %v", tt.env, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%v: error %v; want one naming %q", tt.env, err, tt.want)
		case tt.want == "" && tt.env["NXCLOUD_QUOTA"] != "" && !c.Has("nxcloud"):
			t.Errorf("%v: nxcloud has no quota", tt.env)
		}
	}
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newLimiter(t *testing.T, env map[string]string, start time.Time) (*Limiter, *clock) {
	t.Helper()
	db := testredis.New(t)
	cfg, err := FromEnv(func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: start}
	return New(db.Client, cfg, WithClock(c.now)), c
}

func mustTake(t *testing.T, l *Limiter, n, want int) *Take {
	t.Helper()
	tk, err := l.Take(context.Background(), "nxcloud", n, 0)
	if err != nil {
		t.Fatalf("take %d: %v", n, err)
	}
	if tk.N != want {
		t.Fatalf("take %d got %d; want %d", n, tk.N, want)
	}
	return tk
}

func mustWait(t *testing.T, l *Limiter, until time.Time) {
	t.Helper()
	_, err := l.Take(context.Background(), "nxcloud", 1, 0)
	var w *Wait
	if !errors.As(err, &w) {
		t.Fatalf("take with nothing left: %v; want a *Wait", err)
	}
	if !until.IsZero() && !w.Until.Equal(until) {
		t.Fatalf("wait until %v; want %v", w.Until, until)
	}
}

// A sliding window cuts a call to what is left, then waits until its oldest
// bucket leaves; a second window binds at once across both.
func TestSlidingWindowsCutToFit(t *testing.T) {
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	l, c := newLimiter(t, map[string]string{"NXCLOUD_QUOTA": "100/1m,150/10m"}, start)
	mustTake(t, l, 60, 60)
	c.add(10 * time.Second)
	mustTake(t, l, 60, 40)                             // cut to fit the minute
	mustWait(t, l, start.Add(time.Minute+time.Second)) // the first bucket (1 s) leaves
	c.add(51 * time.Second)                            // 10:01:01: the first 60 freed
	mustTake(t, l, 100, 50)                            // the 10-minute window has 50 left
	mustWait(t, l, time.Time{})
	use, err := l.Usage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(use) != 1 || use[0].Windows[0].Used != 90 || use[0].Windows[1].Used != 150 {
		t.Fatalf("usage %+v; want 90 of the minute, 150 of ten", use)
	}
	if nf := use[0].Windows[1].NextFree; nf == nil || !nf.Equal(start.Add(10*time.Minute+10*time.Second)) {
		t.Errorf("ten-minute window frees %v; want 10:10:10", nf)
	}
}

// A day-long window resets at midnight in the quota's zone, not UTC's.
func TestDayWindowResetsAtMidnightInZone(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 6, 23, 59, 50, 0, kolkata)
	l, c := newLimiter(t, map[string]string{"NXCLOUD_QUOTA": "100/1d", EnvTZ: "Asia/Kolkata"}, start)
	mustTake(t, l, 70, 70)
	mustTake(t, l, 70, 30)
	midnight := time.Date(2026, 12, 7, 0, 0, 0, 0, kolkata)
	mustWait(t, l, midnight)
	c.add(9 * time.Second) // 23:59:59: still the same day
	mustWait(t, l, midnight)
	c.add(2 * time.Second) // 00:00:01 the next day
	mustTake(t, l, 100, 100)
	mustWait(t, l, time.Date(2026, 12, 8, 0, 0, 0, 0, kolkata))
}

// A take given back frees its numbers; a finished call counts from its end.
func TestGiveBackAndFinish(t *testing.T) {
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	l, c := newLimiter(t, map[string]string{"NXCLOUD_QUOTA": "100/1m"}, start)
	ctx := context.Background()
	tk := mustTake(t, l, 100, 100)
	mustWait(t, l, time.Time{})
	if err := l.GiveBack(ctx, tk); err != nil {
		t.Fatal(err)
	}
	tk = mustTake(t, l, 100, 100)
	c.add(30 * time.Second) // a slow call: the vendor may count it as late as now
	if err := l.Finish(ctx, tk); err != nil {
		t.Fatal(err)
	}
	c.add(31 * time.Second) // a minute after the take, not after the call's end
	mustWait(t, l, start.Add(30*time.Second+time.Second+time.Minute))
	c.add(30 * time.Second)
	mustTake(t, l, 100, 100)
}

// Calls in flight: the limit holds fleet-wide; a slot comes back when its call
// finishes, or when the lease of a worker that stopped renewing it runs out.
func TestInflightSemaphoreLeases(t *testing.T) {
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	l, c := newLimiter(t, map[string]string{"NXCLOUD_INFLIGHT": "2", EnvLease: "3s"}, start)
	ctx := context.Background()
	a := mustTake(t, l, 10, 10)
	b := mustTake(t, l, 10, 10)
	a.stop() // a's worker dies: nothing renews its lease
	b.stop()
	_, err := l.Take(ctx, "nxcloud", 10, 0)
	var w *Wait
	if !errors.As(err, &w) || !strings.Contains(w.Why, "2 calls in flight") {
		t.Fatalf("third call: %v; want to wait for a slot", err)
	}
	if err := l.Finish(ctx, b); err != nil {
		t.Fatal(err)
	}
	cc := mustTake(t, l, 10, 10)
	cc.stop()
	_, err = l.Take(ctx, "nxcloud", 10, 0)
	if !errors.As(err, &w) {
		t.Fatalf("with a dead worker's slot held: %v; want to wait", err)
	}
	c.add(3*time.Second + time.Millisecond) // a's lease (and c's) ran out
	mustTake(t, l, 10, 10)
	use, err := l.Usage(ctx)
	if err != nil || use[0].Inflight != 1 || use[0].InflightLimit != 2 {
		t.Fatalf("usage %+v %v; want 1 of 2 in flight", use, err)
	}
}

// A live call's lease is renewed while it runs, on the real clock.
func TestInflightLeaseRenewed(t *testing.T) {
	testredis.RequireReal(t)
	db := testredis.New(t)
	env := map[string]string{"NXCLOUD_INFLIGHT": "1", EnvLease: "1s"}
	cfg, err := FromEnv(func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := New(db.Client, cfg)
	ctx := context.Background()
	tk, err := l.Take(ctx, "nxcloud", 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // over two leases
	if _, err := l.Take(ctx, "nxcloud", 5, 0); err == nil {
		t.Fatal("a second call got the only slot while the first still ran")
	}
	if err := l.Finish(ctx, tk); err != nil {
		t.Fatal(err)
	}
	// The inline wait within budget: the slot is free now.
	if _, err := l.Take(ctx, "nxcloud", 5, time.Second); err != nil {
		t.Fatalf("after the first call finished: %v", err)
	}
}

// Many takers at once never take more than the window holds.
func TestConcurrentTakesNeverOver(t *testing.T) {
	l, _ := newLimiter(t, map[string]string{"NXCLOUD_QUOTA": "1000/1h"}, time.Now())
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for {
				tk, err := l.Take(context.Background(), "nxcloud", 37, 0)
				if err != nil {
					return
				}
				mu.Lock()
				total += tk.N
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if total != 1000 {
		t.Fatalf("took %d numbers of a 1000 window", total)
	}
}

// BenchmarkTakeFinish is one call's quota round trips (take, then finish) with two
// windows and a semaphore, on the Redis at REDIS_URL.
func BenchmarkTakeFinish(b *testing.B) {
	db := testredis.New(b)
	env := map[string]string{"NXCLOUD_QUOTA": "1000000000/1m,1000000000/24h", "NXCLOUD_INFLIGHT": "1000"}
	cfg, err := FromEnv(func(k string) string { return env[k] }, nil)
	if err != nil {
		b.Fatal(err)
	}
	l := New(db.Client, cfg)
	ctx := context.Background()
	for b.Loop() {
		tk, err := l.Take(ctx, "nxcloud", 10000, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Finish(ctx, tk); err != nil {
			b.Fatal(err)
		}
	}
}
