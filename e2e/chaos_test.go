//go:build chaos

package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/vendors/registry"
)

var chaosDuration = flag.Duration("chaos.duration", 3*time.Minute, "how long the chaos test kills workers (and restarts Redis once)")

// chaosSlot is one of the fleet's worker processes, restarted after every kill.
type chaosSlot struct {
	n       int
	dir     string
	env     []string
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	starts  int
	exits   []string // unexpected exits
	logFile string
}

func (s *chaosSlot) start(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts++
	s.logFile = filepath.Join(s.dir, fmt.Sprintf("worker%d-%02d.log", s.n, s.starts))
	f, err := os.Create(s.logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "worker"))
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = f, f
	if err := testredis.Spawn(cmd); err != nil { // dies with the test process
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		f.Close()
		s.mu.Lock()
		if s.cmd == cmd && err != nil && !strings.Contains(err.Error(), "killed") {
			s.exits = append(s.exits, fmt.Sprintf("worker %d run %d: %v", s.n, s.starts, err))
		}
		s.mu.Unlock()
		close(done)
	}()
	s.cmd, s.done = cmd, done
}

// kill sends SIGKILL and waits for the process to go.
func (s *chaosSlot) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

func (s *chaosSlot) running() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// A fleet of three workers delivers 200,000 numbers (50,000 to each vendor) while
// the fake vendor fails calls in every way it can, a worker is SIGKILLed every 5 to
// 15 s and started again, and Redis (append-only, fsync always) is shut down and
// restarted once. Afterwards every number is in exactly one state, nothing is
// pending, no number reached a vendor twice, the ledgers agree with the batches'
// accounts, and FlashAI, which reconciles repeats, has nothing uncertain.
//
//	go test -tags chaos -run TestChaos -timeout 20m -v ./e2e -args -chaos.duration=2m
//
// (go test takes a flag it does not know, and all after it, for the test binary:
// put the package before -chaos.duration, or use -args.) bench/chaos/run.sh wraps it.
func TestChaos(t *testing.T) {
	dur := *chaosDuration
	started := time.Now()
	dataDir := t.TempDir()
	rs, err := startRedis(t, func(port int) []string {
		return []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dataDir,
			"--appendonly", "yes", "--appendfsync", "always", "--save", ""}
	})
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", rs.Port)
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rs.Port)})
	defer rdb.Close()
	store := ledger.NewReader(rdb)

	w := newWorld(t, redisDB(url), nil, nil)
	// Timeouts hold a request past the clients' fixed 15 s timeout, so they are rare.
	faults := fakevendor.Faults{ServerError: 0.05, SystemError: 0.02, Throttle: 0.03, RetryAfterSeconds: 1,
		Timeout: 0.005, TimeoutMillis: 16000, Drop: 0.02, Malformed: 0.02, LatencyMillis: 20}
	w.fake.SetFaults(faults)

	// Calls of 500. Speech fills a part of 2,000 in four calls (a create and
	// appends), resuming from its checkpoint after a kill; the other vendors make
	// a vendor task per call, so their parts are one call each.
	const perVendor, callSize = 50000, 500
	partSize := map[string]int{registry.NXCloud: 500, registry.Yccall: 500, registry.Speech: 2000, registry.FlashAI: 500}
	ids := map[string]string{}
	for i, v := range registry.Names() {
		list := strings.Join(numbers(perVendor, 10_000_000+i*perVendor), "\n") + "\n"
		// A queue per vendor, so that all four progress at once instead of in
		// the order they were enqueued.
		ids[v] = w.enqueue(v, list, "-part-size", fmt.Sprint(partSize[v]), "-call-size", fmt.Sprint(callSize),
			"-queue", "chaos-"+v)["batch"].(string)
	}
	w.env["WORKER_QUEUES"] = "chaos-nxcloud=1,chaos-yccall=1,chaos-speech=1,chaos-flashai=1"
	t.Logf("enqueued %d numbers in %s", perVendor*len(registry.Names()), time.Since(started).Round(time.Second))

	// Fleet-wide rates that spread the calls over most of the chaos, so that kills
	// and the Redis restart land while parts are mid-way.
	calls := perVendor / callSize
	rate := float64(calls) / (0.7 * dur.Seconds())
	w.env["WORKER_CONCURRENCY"] = "4"
	w.env["LOG_LEVEL"] = "info"
	for _, v := range registry.Names() {
		w.env[strings.ToUpper(v)+"_RATE"] = fmt.Sprintf("%.2f", rate)
	}
	logDir := t.TempDir()
	slots := make([]*chaosSlot, 3)
	for i := range slots {
		slots[i] = &chaosSlot{n: i, dir: logDir, env: w.environ()}
		slots[i].start(t)
	}
	t.Cleanup(func() {
		for _, s := range slots {
			s.kill()
		}
	})

	progress := func(label string) {
		var parts []string
		for _, v := range registry.Names() {
			st, err := store.Status(context.Background(), ids[v])
			if err != nil {
				parts = append(parts, v+": "+err.Error())
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %d/%d/%d/%d", v, st.Delivered, st.Uncertain, st.Failed, st.Pending))
		}
		t.Logf("%s [%s] delivered/uncertain/failed/pending: %s", time.Since(started).Round(time.Second), label, strings.Join(parts, ", "))
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42))
	chaosStart := time.Now()
	deadline := chaosStart.Add(dur)
	kills, redisRestarts := 0, 0
	var redisDown time.Duration
	for {
		wait := time.Duration(5+rng.IntN(11)) * time.Second
		if time.Now().Add(wait).After(deadline) {
			break
		}
		time.Sleep(wait)
		if redisRestarts == 0 && time.Since(chaosStart) > dur/2 {
			down := time.Now()
			rs.stop()
			time.Sleep(3 * time.Second)
			if err := rs.restart(); err != nil {
				t.Fatalf("redis-server did not come back: %v", err)
			}
			redisDown = time.Since(down)
			redisRestarts++
			progress(fmt.Sprintf("redis restarted after %s down", redisDown.Round(100*time.Millisecond)))
			continue
		}
		s := slots[rng.IntN(len(slots))]
		s.kill()
		kills++
		s.start(t)
		progress(fmt.Sprintf("killed worker %d", s.n))
	}
	chaosEnd := time.Now()

	// Every worker running; asynq recovers the killed workers' parts once their
	// leases expire.
	for _, s := range slots {
		if !s.running() {
			s.start(t)
		}
	}
	settleBy := time.Now().Add(10 * time.Minute)
	lastLog := time.Now()
	for {
		settled := 0
		for _, v := range registry.Names() {
			st, err := store.Status(context.Background(), ids[v])
			if err == nil && st.Pending == 0 && st.PartStates[ledger.PartQueued]+st.PartStates[ledger.PartRunning] == 0 {
				settled++
			}
		}
		if settled == len(registry.Names()) {
			break
		}
		if time.Now().After(settleBy) {
			progress("not settled")
			t.Fatalf("batches not settled within 10 minutes of the end of the chaos; logs in %s", logDir)
		}
		if time.Since(lastLog) > 20*time.Second {
			progress("settling")
			lastLog = time.Now()
		}
		for _, s := range slots {
			if !s.running() { // died by itself: noted, and replaced
				s.start(t)
			}
		}
		time.Sleep(2 * time.Second)
	}
	settleTime := time.Since(chaosEnd)

	var report []string
	for _, v := range registry.Names() {
		st := w.status(ids[v]) // also checks that the states add up to what was read
		if st.Read != perVendor || st.Rejected != 0 || st.Pending != 0 {
			t.Errorf("%s: read %d, rejected %d, pending %d; want %d, 0, 0", v, st.Read, st.Rejected, st.Pending, perVendor)
		}
		if sum := st.Rejected + st.Delivered + st.Refused + st.Failed + st.Uncertain + st.Pending; sum != st.Read {
			t.Errorf("%s: states add up to %d of %d read", v, sum, st.Read)
		}
		got := int64(w.noneTwice(v))
		if got < st.Delivered || got > st.Delivered+st.Uncertain {
			t.Errorf("%s: the vendor holds %d numbers; the batch says delivered %d, uncertain %d", v, got, st.Delivered, st.Uncertain)
		}
		if v == registry.FlashAI && st.Uncertain != 0 {
			t.Errorf("flashai reconciles by batch name, yet %d numbers are uncertain", st.Uncertain)
		}
		// Uncertain numbers the vendor never received were parked needlessly: a
		// figure for whoever tunes the in-flight marks.
		report = append(report, fmt.Sprintf("  %-8s delivered %6d  uncertain %5d (%d of them arrived)  failed %5d  refused %d  vendor ledger %6d  vendor tasks %4d  parts %v",
			v, st.Delivered, st.Uncertain, got-st.Delivered, st.Failed, st.Refused, got, w.fake.Ledger(v).Tasks, st.PartStates))
	}
	var exits []string
	starts := 0
	for _, s := range slots {
		s.mu.Lock()
		exits = append(exits, s.exits...)
		starts += s.starts
		s.mu.Unlock()
	}
	for _, e := range exits {
		t.Errorf("a worker exited on its own: %s", e)
	}
	cl := scanChaosLogs(t, logDir)
	if cl.panics != "" {
		t.Errorf("a worker panicked or raced:\n%s", cl.panics)
	}
	stats := w.fake.Stats()
	t.Logf("chaos summary: %s of chaos (kills every 5-15 s), settled %s later, %s in all\n"+
		"  %d SIGKILLs, %d worker starts, %d Redis restart(s) (%s down), rate %.2f calls/s per vendor, faults %+v\n"+
		"  vendor calls %v; %d error lines in worker logs\n"+
		"  parked as uncertain because a killed worker left the call marked in flight (numbers): %v\n"+
		"  parked as uncertain for want of an answer (calls): %v\n%s",
		chaosEnd.Sub(chaosStart).Round(time.Second), settleTime.Round(time.Second), time.Since(started).Round(time.Second),
		kills, starts, redisRestarts, redisDown.Round(100*time.Millisecond), rate, faults, stats.Calls, cl.errLines, cl.leftInFlight, cl.noAnswer, strings.Join(report, "\n"))
	if t.Failed() {
		t.Logf("worker logs kept in %s", keepLogs(t, logDir))
	}
}

// chaosLogs is what the workers' logs tell.
type chaosLogs struct {
	errLines int
	panics   string
	// leftInFlight and noAnswer count, per vendor, the numbers parked as uncertain
	// because a killed worker left their call marked in flight, and because a
	// call got no usable answer.
	leftInFlight, noAnswer map[string]int
}

func scanChaosLogs(t *testing.T, dir string) chaosLogs {
	t.Helper()
	out := chaosLogs{leftInFlight: map[string]int{}, noAnswer: map[string]int{}}
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Error(err)
			continue
		}
		text := string(data)
		for _, bad := range []string{"panic:", "WARNING: DATA RACE", "fatal error:"} {
			if i := strings.Index(text, bad); i >= 0 {
				fmt.Fprintf(&b, "%s: %s\n", filepath.Base(f), text[i:min(len(text), i+1500)])
			}
		}
		for _, line := range strings.Split(text, "\n") {
			var e struct{ Level, Msg, Vendor, Range string }
			if json.Unmarshal([]byte(line), &e) != nil {
				continue
			}
			if e.Level == "error" {
				out.errLines++
			}
			switch {
			case strings.HasPrefix(e.Msg, "call left in flight and the vendor cannot tell"):
				var lo, hi int
				if _, err := fmt.Sscanf(e.Range, "%d-%d", &lo, &hi); err == nil {
					out.leftInFlight[e.Vendor] += hi - lo
				}
			case strings.HasPrefix(e.Msg, "no answer to a call"):
				out.noAnswer[e.Vendor]++ // calls: the log line carries no range
			}
		}
	}
	out.panics = b.String()
	return out
}

// keepLogs copies the logs out of the test's temporary directory, which is removed.
func keepLogs(t *testing.T, dir string) string {
	keep, err := os.MkdirTemp("", "dialq-chaos-logs-")
	if err != nil {
		return dir
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			_ = os.WriteFile(filepath.Join(keep, filepath.Base(f)), data, 0o644)
		}
	}
	return keep
}
