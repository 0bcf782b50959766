// Package e2e runs the real binaries: enqueue and worker processes against a real
// Redis (internal/testredis: its own redis-server, else miniredis) and the fake vendor over loopback.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/vendors/registry"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dialq-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, cmd := range []string{"enqueue", "worker"} {
		args := []string{"build", "-o", filepath.Join(dir, cmd)}
		if raceEnabled {
			args = append(args, "-race")
		}
		build := exec.Command("go", append(args, "../cmd/"+cmd)...)
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", cmd, err)
			os.Exit(1)
		}
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type world struct {
	t    *testing.T
	db   *testredis.DB
	fake *fakevendor.Server
	env  map[string]string
}

func setup(t *testing.T) *world {
	t.Helper()
	return newWorld(t, testredis.New(t), nil, nil)
}

func (w *world) environ(extra ...string) []string {
	// The shared test Redis keeps nothing on disk: let the worker start on it
	// (a test's extra or env may set it back to false).
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "DIALQ_ALLOW_VOLATILE_REDIS=true"}
	for k, v := range w.env {
		out = append(out, k+"="+v)
	}
	return append(out, extra...)
}

// enqueue runs the enqueue binary and returns its -json summary.
func (w *world) enqueue(vendor, list string, extra ...string) map[string]any {
	w.t.Helper()
	args := append([]string{"-vendor", vendor, "-campaign", "../examples/" + vendor + ".json", "-json"}, extra...)
	cmd := exec.Command(filepath.Join(bin, "enqueue"), append(args, "-")...)
	cmd.Env = w.environ()
	cmd.Stdin = strings.NewReader(list)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		w.t.Fatalf("enqueue %s: %v\n%s", vendor, err, errb.String())
	}
	var sum map[string]any
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		w.t.Fatalf("enqueue -json: %v: %s", err, out.String())
	}
	return sum
}

// status runs `enqueue status -json`.
func (w *world) status(id string) ledger.Status {
	w.t.Helper()
	cmd := exec.Command(filepath.Join(bin, "enqueue"), "status", "-json", id)
	cmd.Env = w.environ()
	out, err := cmd.Output()
	if err != nil {
		w.t.Fatalf("enqueue status: %v", err)
	}
	var st ledger.Status
	if err := json.Unmarshal(out, &st); err != nil {
		w.t.Fatalf("status -json: %v: %s", err, out)
	}
	if st.Rejected+st.Delivered+st.Refused+st.Failed+st.Uncertain+st.Pending != st.Read {
		w.t.Fatalf("account does not add up: %+v", st)
	}
	return st
}

type worker struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	// done is closed when the process has exited; err is then its exit error.
	done chan struct{}
	err  error
}

func (w *world) startWorker(extra ...string) *worker {
	w.t.Helper()
	cmd := exec.Command(filepath.Join(bin, "worker"))
	cmd.Env = w.environ(extra...)
	logs := &bytes.Buffer{}
	lw := &lockedWriter{w: logs}
	cmd.Stdout, cmd.Stderr = lw, lw
	if err := testredis.Spawn(cmd); err != nil { // dies with the test process
		w.t.Fatal(err)
	}
	wk := &worker{cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() { wk.err = cmd.Wait(); close(wk.done) }()
	w.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-wk.done
		if w.t.Failed() {
			w.t.Logf("worker logs:\n%s", logs.String())
		}
	})
	return wk
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (w *world) waitSettled(id string, timeout time.Duration) ledger.Status {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := w.status(id)
		final := st.PartStates[ledger.PartDone] + st.PartStates[ledger.PartFailed] + st.PartStates[ledger.PartCancelled]
		finishing := final == st.Parts && !st.Finished // the finish is a moment behind the parts
		if st.Pending == 0 && st.PartStates[ledger.PartQueued]+st.PartStates[ledger.PartRunning]+
			st.PartStates[ledger.PartThrottled]+st.PartStates[ledger.PartPaused] == 0 && !finishing {
			return st
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("batch %s not settled in %s: %+v", id, timeout, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func numbers(n, offset int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("137%08d", offset+i)
	}
	return out
}

func asSent(vendor, phone string) string {
	if vendor == registry.NXCloud {
		return "86" + phone
	}
	return phone
}

// noneTwice asserts no number reached vendor twice and returns how many arrived.
func (w *world) noneTwice(vendor string) int {
	w.t.Helper()
	l := w.fake.Ledger(vendor)
	for n, c := range l.Numbers {
		if c != 1 {
			w.t.Errorf("%s received %s %d times", vendor, n, c)
		}
	}
	return len(l.Numbers)
}

// A list enqueued with the enqueue binary reaches every vendor through a worker
// process complete, each number once, and the batch's counts match the ledger.
func TestEnqueueToWorkerAllVendors(t *testing.T) {
	w := setup(t)
	w.startWorker()
	phones := numbers(3000, 0)
	list := "phone,name\n" + strings.Join(phones, ",x\n") + ",x\n" + "12345,bad\n" + phones[7] + ",dup\n"
	ids := map[string]string{}
	for _, v := range registry.Names() {
		sum := w.enqueue(v, list, "-part-size", "700")
		if sum["read"].(float64) != 3002 || sum["rejected"].(float64) != 2 || sum["accepted"].(float64) != 3000 {
			t.Fatalf("%s summary %v", v, sum)
		}
		ids[v] = sum["batch"].(string)
	}
	for _, v := range registry.Names() {
		st := w.waitSettled(ids[v], 2*time.Minute)
		if !st.Finished || st.Delivered != 3000 || st.Rejected != 2 {
			t.Errorf("%s status %+v", v, st)
		}
		if n := w.noneTwice(v); n != 3000 {
			t.Errorf("%s ledger holds %d numbers; want 3000", v, n)
		}
		for _, p := range phones[:5] {
			if w.fake.Ledger(v).Numbers[asSent(v, p)] != 1 {
				t.Errorf("%s missing %s", v, p)
			}
		}
	}
}

// A worker killed with SIGKILL in the middle of parts: another worker takes them
// over (asynq redelivers when the lease expires) and every number reaches the
// vendor once, or its call is parked as uncertain where the vendor cannot tell.
// Never twice.
func TestWorkerKilledMidPart(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for asynq's lease to expire (about a minute)")
	}
	w := setup(t)
	w.fake.SetFaults(fakevendor.Faults{LatencyMillis: 150})
	phones := numbers(6000, 100000)
	list := strings.Join(phones, "\n") + "\n"
	ids := map[string]string{}
	for _, v := range registry.Names() {
		// A queue per vendor, so that all four are mid-part when the worker dies.
		extra := []string{"-part-size", "100", "-queue", "q-" + v}
		if v == registry.Speech {
			extra = []string{"-part-size", "3000", "-call-size", "250", "-queue", "q-" + v}
		}
		ids[v] = w.enqueue(v, list, extra...)["batch"].(string)
	}
	w.env["WORKER_QUEUES"] = "q-nxcloud=1,q-yccall=1,q-speech=1,q-flashai=1"
	first := w.startWorker()
	// Kill once every vendor has taken some numbers, mid-part.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready := true
		for _, v := range registry.Names() {
			if len(w.fake.Ledger(v).Numbers) == 0 {
				ready = false
			}
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("worker delivered nothing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done
	killedAt := time.Now()
	before := map[string]int{}
	for _, v := range registry.Names() {
		before[v] = len(w.fake.Ledger(v).Numbers)
	}
	t.Logf("killed the worker with %v numbers delivered", before)
	// asynq recovers a task whose lease expired more than 30 s ago; a new worker
	// does that when it starts.
	time.Sleep(62 * time.Second)
	w.startWorker()
	for _, v := range registry.Names() {
		st := w.waitSettled(ids[v], 3*time.Minute)
		// Uncertain calls may or may not have arrived: that is why they wait for
		// an operator. Everything delivered did arrive, and nothing twice.
		got := int64(w.noneTwice(v))
		if got < st.Delivered || got > st.Delivered+st.Uncertain {
			t.Errorf("%s: ledger holds %d; batch says delivered %d, uncertain %d", v, got, st.Delivered, st.Uncertain)
		}
		if st.Delivered+st.Uncertain != 6000 || st.Failed+st.Refused != 0 {
			t.Errorf("%s: status %+v", v, st)
		}
		if v == registry.FlashAI && st.Uncertain != 0 {
			t.Errorf("flashai reconciles by batch name, yet %d numbers are uncertain", st.Uncertain)
		}
		t.Logf("%s: delivered %d, uncertain %d, recovered %.0fs after the kill", v, st.Delivered, st.Uncertain, time.Since(killedAt).Seconds())
	}
}

// SIGTERM lets in-flight calls finish and hands the rest back: nothing is left
// uncertain, and another worker completes the batch.
func TestGracefulShutdown(t *testing.T) {
	w := setup(t)
	w.fake.SetFaults(fakevendor.Faults{LatencyMillis: 300})
	phones := numbers(4000, 200000)
	id := w.enqueue(registry.NXCloud, strings.Join(phones, "\n")+"\n", "-part-size", "100")["batch"].(string)
	first := w.startWorker("WORKER_SHUTDOWN_TIMEOUT=10s")
	for len(w.fake.Ledger(registry.NXCloud).Numbers) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first.done:
		if first.err != nil {
			t.Fatalf("worker exit after SIGTERM: %v", first.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("worker did not stop within its shutdown timeout")
	}
	st := w.status(id)
	if st.Uncertain != 0 {
		t.Fatalf("graceful shutdown left %d numbers uncertain", st.Uncertain)
	}
	w.startWorker()
	st = w.waitSettled(id, 2*time.Minute)
	if st.Delivered != 4000 || !st.Finished {
		t.Errorf("status %+v", st)
	}
	if n := w.noneTwice(registry.NXCloud); n != 4000 {
		t.Errorf("ledger holds %d; want 4000", n)
	}
}

// Two worker processes share NXCLOUD_RATE=8: together they stay at or under it.
func TestTwoWorkersShareTheRateLimit(t *testing.T) {
	w := setup(t)
	phones := numbers(800, 300000)
	id := w.enqueue(registry.NXCloud, strings.Join(phones, "\n")+"\n", "-part-size", "20")["batch"].(string)
	start := time.Now()
	w.startWorker("NXCLOUD_RATE=8")
	w.startWorker("NXCLOUD_RATE=8")
	w.waitSettled(id, time.Minute)
	took := time.Since(start)
	st := w.fake.Stats()
	if st.Calls[registry.NXCloud] != 40 {
		t.Fatalf("calls = %d; want 40", st.Calls[registry.NXCloud])
	}
	if st.MaxPerSec[registry.NXCloud] > 9 {
		t.Errorf("busiest second had %d calls; the fleet limit is 8 (per second: %v)", st.MaxPerSec[registry.NXCloud], st.PerSecond[registry.NXCloud])
	}
	if took < 4*time.Second {
		t.Errorf("40 calls at 8/s took %s", took)
	}
}
