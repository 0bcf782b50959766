package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/queue"
)

// syncBuffer is a log sink the test may read while the worker writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startWorker runs the worker until the returned stop is called; stop returns
// run's error.
func startWorker(t *testing.T, env map[string]string) (logs *syncBuffer, stop func() error) {
	t.Helper()
	logs = &syncBuffer{}
	log := logrus.New()
	log.SetOutput(logs)
	log.SetFormatter(&logrus.JSONFormatter{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, log) }()
	return logs, func() error { cancel(); return <-done }
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestQuietOnTSTP: after SIGTSTP (the Kubernetes preStop) the worker takes no new
// part, though it keeps running and serving until SIGTERM.
func TestQuietOnTSTP(t *testing.T) {
	db := testredis.New(t)
	env := demoEnv(t)
	env["REDIS_URL"] = db.URL
	addr := freeAddr(t)
	env["WORKER_HTTP_ADDR"] = addr
	logs, stop := startWorker(t, env)
	waitFor(t, "worker started", func() bool { return strings.Contains(logs.String(), `"msg":"worker started"`) })
	if err := syscall.Kill(os.Getpid(), syscall.SIGTSTP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "quiet", func() bool { return strings.Contains(logs.String(), "quiet (SIGTSTP)") })

	opt := asynq.RedisClientOpt{Addr: db.Opt.Addr, Password: db.Opt.Password, DB: db.Opt.DB}
	client := asynq.NewClient(opt)
	defer client.Close()
	task, err := queue.NewPartTask("yccall", "no-such-batch", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Enqueue(task); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // asynq polls an empty queue every second
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	info, err := insp.GetQueueInfo(queue.For("yccall"))
	if err != nil || info.Pending != 1 {
		t.Errorf("queue after quiet: %+v, %v; want the part still pending", info, err)
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz while quiet: %v %v; want 200", resp, err)
	}
	if err := stop(); err != nil {
		t.Fatalf("run = %v\n%s", err, logs)
	}
}

// TestGaugesOnly: with WORKER_GAUGES_ONLY and no vendor configured, the worker
// serves the runnable gauges and delivers nothing.
func TestGaugesOnly(t *testing.T) {
	db := testredis.New(t)
	addr := freeAddr(t)
	env := map[string]string{"REDIS_URL": db.URL, "DIALQ_ALLOW_VOLATILE_REDIS": "true",
		"WORKER_HTTP_ADDR": addr, "WORKER_GAUGES_ONLY": "true"}
	opt := asynq.RedisClientOpt{Addr: db.Opt.Addr, Password: db.Opt.Password, DB: db.Opt.DB}
	client := asynq.NewClient(opt)
	defer client.Close()
	task, err := queue.NewPartTask("yccall", "no-such-batch", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Enqueue(task); err != nil {
		t.Fatal(err)
	}
	logs, stop := startWorker(t, env)
	var metrics string
	waitFor(t, "dialq_parts_runnable on /metrics", func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		metrics = string(b)
		return strings.Contains(metrics, "dialq_parts_runnable{")
	})
	if !strings.Contains(metrics, `dialq_parts_runnable{queue="dialq-yccall"} 1`) {
		t.Errorf("metrics lack dialq_parts_runnable{queue=\"dialq-yccall\"} 1:\n%s", metrics)
	}
	if err := stop(); err != nil {
		t.Fatalf("run = %v\n%s", err, logs)
	}
	if strings.Contains(logs.String(), "worker started") || !strings.Contains(logs.String(), "gauges only") {
		t.Errorf("logs: want gauges only, no asynq server:\n%s", logs)
	}
}
