package results_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/results"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestScale measures results collection at scale (README "Call results"):
// DIALQ_RESULTS_SCALE numbers to a fake FlashAI in its own process (so its CPU is
// not counted), delivered by an in-process worker, every call ended; then every
// part polled once (summary, the paged list, the store) by 4 goroutines, with this
// process's CPU and Redis's bytes per number measured; then the export.
//
//	DIALQ_RESULTS_SCALE=1000000 go test -run TestScale -v ./results/
func TestScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("DIALQ_RESULTS_SCALE"))
	if n <= 0 {
		t.Skip("set DIALQ_RESULTS_SCALE to the number of numbers")
	}
	testredis.RequireReal(t)
	w := setup(t, fakeCallsOff(), time.Hour, 72*time.Hour)
	// The fake in its own process, on the same credentials.
	bin := filepath.Join(t.TempDir(), "fakevendor")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/fakevendor").CombinedOutput(); err != nil {
		t.Fatalf("build fakevendor: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "-addr", addr, "-flashai-calls", "-flashai-call-delay", "0s", "-flashai-answer", "0.5", "-flashai-not-called", "0.1")
	for k, v := range w.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	w.env["FLASHAI_BASE_URL"] = "http://" + addr + "/flashai"
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatal("fake vendor did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.rewireFlashAI()
	w.deps.Results = nil // polls are run by hand below
	w.start()

	ctx := context.Background()
	start := time.Now()
	sum, _ := w.enqueue(n, 1000)
	w.waitDelivered(sum.Batch)
	t.Logf("enqueued and delivered %d numbers in %s", n, time.Since(start).Round(time.Millisecond))
	m, err := w.batches.Manifest(ctx, sum.Batch)
	if err != nil {
		t.Fatal(err)
	}
	memBefore := usedMemory(t, w)

	if prof := os.Getenv("DIALQ_RESULTS_PROFILE"); prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer f.Close()
	}
	cpu0, wall0 := cpuTime(), time.Now()
	parts := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range parts {
				task := asynq.NewTask(results.TypePollFlashAI, []byte(fmt.Sprintf(`{"batch":%q,"part":%d}`, m.ID, p)))
				if err := w.poller.ProcessTask(ctx, task); err != nil {
					t.Errorf("poll part %d: %v", p, err)
				}
			}
		}()
	}
	for p := range m.Parts {
		parts <- p
	}
	close(parts)
	wg.Wait()
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	pprof.StopCPUProfile()
	rs, err := w.results.Summary(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Final() != int64(n) {
		t.Fatalf("results for %d of %d numbers: %+v", rs.Final(), n, rs.Counts)
	}
	memAfter := usedMemory(t, w)
	var keyBytes int64
	iter := w.db.Client.Scan(ctx, 0, ledger.Tag(m.ID)+":res*", 1000).Iterator()
	for iter.Next(ctx) {
		keyBytes += w.db.Client.MemoryUsage(ctx, iter.Val()).Val()
	}
	t.Logf("collected %d results (%+v) in %s wall, %s CPU of this process (%.2f µs a number); Redis: MEMORY USAGE of the results keys %.1f B/number, used_memory grew %.1f B/number",
		n, rs.Counts, wall.Round(time.Millisecond), cpu.Round(time.Millisecond), float64(cpu.Microseconds())/float64(n),
		float64(keyBytes)/float64(n), float64(memAfter-memBefore)/float64(n))
	if per := float64(keyBytes) / float64(n); per > 32 {
		t.Errorf("results cost %.1f B a number in Redis; budget 32", per)
	}

	cpu0, wall0 = cpuTime(), time.Now()
	bw := bufio.NewWriterSize(io.Discard, 256<<10)
	wr, _ := results.NewWriter(bw, "csv", nil)
	if err := results.Export(ctx, w.batches, w.results, m.ID, wr.Write); err != nil {
		t.Fatal(err)
	}
	_ = wr.Flush()
	ewall := time.Since(wall0)
	t.Logf("exported %d rows as CSV in %s (%.0f rows/s), %s CPU", wr.Rows(), ewall.Round(time.Millisecond),
		float64(wr.Rows())/ewall.Seconds(), (cpuTime() - cpu0).Round(time.Millisecond))
}

func usedMemory(t *testing.T, w *world) int64 {
	t.Helper()
	info := w.db.Client.Info(context.Background(), "memory").Val()
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatal("no used_memory in INFO")
	return 0
}
