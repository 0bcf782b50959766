package monitor

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/internal/testredis"
)

// gauge returns the value of name{queue="q"} in a text scrape, or -1 if absent.
func gauge(t *testing.T, text, name, q string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `\{queue="` + regexp.QuoteMeta(q) + `"\} (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRunnable queues tasks in the states a part can be in, on a real Redis through
// asynq, and checks that only the ones a worker could run now are counted.
func TestRunnable(t *testing.T) {
	db := testredis.New(t)
	opt := asynq.RedisClientOpt{Addr: db.Opt.Addr, Password: db.Opt.Password, DB: db.Opt.DB}
	client := asynq.NewClient(opt)
	defer client.Close()
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	enqueue := func(q string, n int, opts ...asynq.Option) {
		t.Helper()
		for range n {
			if _, err := client.Enqueue(asynq.NewTask("dial:test", nil), append(opts, asynq.Queue(q))...); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Pending now in dialq-yccall; parts waiting for a window or a Retry-After are
	// scheduled; a paused queue runs nothing.
	enqueue("dialq-yccall", 3)
	enqueue("dialq-yccall", 4, asynq.ProcessIn(time.Hour))
	enqueue("dialq-speech", 2, asynq.ProcessIn(time.Hour))
	enqueue("dialq-nxcloud", 5)
	// Scheduled, and due once the clock passes them: no worker moves them to
	// pending here, so they are runnable, waiting in the scheduled set.
	enqueue("dialq-flashai", 2, asynq.ProcessIn(time.Second))
	time.Sleep(2100 * time.Millisecond)
	if info, err := insp.GetQueueInfo("dialq-flashai"); err != nil || info.Scheduled != 2 {
		t.Fatalf("dialq-flashai: %+v, %v; want 2 scheduled", info, err)
	}
	if err := insp.PauseQueue("dialq-nxcloud"); err != nil {
		t.Fatal(err)
	}

	r := NewRunnable(insp, db.Client)
	if got := scrape(t, r); got != "" {
		t.Fatalf("before the first read, scrape = %q; want nothing", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, time.Hour); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for scrape(t, r) == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	text := scrape(t, r)
	for _, c := range []struct {
		queue          string
		runnable       float64
		oldestPositive bool
	}{
		{"dialq-yccall", 3, true},
		{"dialq-speech", 0, false},
		{"dialq-nxcloud", 0, false},
		{"dialq-flashai", 2, false},
	} {
		if got := gauge(t, text, "dialq_parts_runnable", c.queue); got != c.runnable {
			t.Errorf("dialq_parts_runnable{queue=%q} = %v; want %v\n%s", c.queue, got, c.runnable, text)
		}
		oldest := gauge(t, text, "dialq_oldest_runnable_seconds", c.queue)
		if oldest < 0 || (oldest > 0) != c.oldestPositive {
			t.Errorf("dialq_oldest_runnable_seconds{queue=%q} = %v; want >0: %v", c.queue, oldest, c.oldestPositive)
		}
	}

	// A read that fails keeps the snapshot until it is stale, then reports nothing.
	insp.Close()
	if err := r.Refresh(); err == nil {
		t.Fatal("Refresh through a closed inspector succeeded")
	}
	if gauge(t, scrape(t, r), "dialq_parts_runnable", "dialq-yccall") != 3 {
		t.Error("a failed read dropped a fresh snapshot")
	}
	r.mu.Lock()
	r.readAt = time.Now().Add(-4 * RunnableInterval)
	r.mu.Unlock()
	if got := gauge(t, scrape(t, r), "dialq_parts_runnable", "dialq-yccall"); got != -1 {
		t.Errorf("stale snapshot still reported: %v", got)
	}
}
