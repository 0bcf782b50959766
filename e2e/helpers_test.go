package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/internal/testworld"
)

// newWorld is setup with a Redis of the caller's choosing and environment
// overrides applied before the fake vendor reads its credentials, so that both
// sides agree on them. wrap, when not nil, wraps the fake vendor's handler (to
// watch the traffic).
func newWorld(t *testing.T, db *testredis.DB, override map[string]string, wrap func(http.Handler) http.Handler) *world {
	t.Helper()
	v := testworld.StartVendorEnv(t, override, nil)
	if wrap != nil {
		v.SetHandler(wrap(v.Fake))
	}
	env := v.Env
	env["REDIS_URL"] = db.URL
	env["WORKER_HTTP_ADDR"] = "127.0.0.1:0"
	env["LOG_LEVEL"] = "warn"
	env["WORKER_CONCURRENCY"] = "8"
	env["XDG_CACHE_HOME"] = t.TempDir() // enqueue's FlashAI tenant cache stays with the test
	return &world{t: t, db: db, fake: v.Fake, env: env}
}

// result is what a finished command printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
}

// run runs bin/name with args and stdin under the world's environment (plus
// extra) and reports its output and exit code; it fails the test only when the
// command cannot be run at all.
func (w *world) run(name, stdin string, extra []string, args ...string) result {
	w.t.Helper()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Env = w.environ(extra...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		w.t.Fatalf("%s %v: %v", name, args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// startServing starts a worker whose HTTP listener is on a port chosen here, and
// returns it with the listener's address once /healthz answers.
func (w *world) startServing(extra ...string) (*worker, string) {
	w.t.Helper()
	return w.startServingAt(fmt.Sprintf("127.0.0.1:%d", freePort(w.t)), extra...)
}

// startServingAt is startServing on addr, for a worker whose environment names
// its own address (DIALQ_CALLBACK_BASE_URL).
func (w *world) startServingAt(addr string, extra ...string) (*worker, string) {
	w.t.Helper()
	wk := w.startWorker(append(extra, "WORKER_HTTP_ADDR="+addr)...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return wk, addr
		}
		select {
		case <-wk.done:
			w.t.Fatalf("worker exited before listening: %v\n%s", wk.err, wk.logsSoFar())
		default:
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("worker's HTTP listener not up within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logsSoFar reads the logs of a running worker under the writer's lock.
func (wk *worker) logsSoFar() string {
	lw := wk.cmd.Stderr.(*lockedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.String()
}

// stop sends SIGTERM and waits for the worker to exit.
func (wk *worker) stop(t *testing.T) {
	t.Helper()
	_ = wk.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-wk.done:
	case <-time.After(40 * time.Second):
		_ = wk.cmd.Process.Kill()
		<-wk.done
		t.Error("worker did not stop within 40s of SIGTERM")
	}
}

// freePort asks the kernel for a free loopback port. Another process could take it
// before it is used; on this machine nothing else races for ports.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// redisServer is a redis-server process a test runs itself (password, TLS, AOF,
// restarts): things neither miniredis nor the shared REDIS_URL server allow.
type redisServer struct {
	t    testing.TB
	Port int
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *lockedWriter
	done chan struct{}
}

// errRedisExited means redis-server exited before it was ready; the error carries
// the tail of its log.
var errRedisExited = errors.New("redis-server exited before it was ready")

// startRedis runs redis-server with the given arguments (args receives the port
// chosen) and waits until it accepts connections. It returns an error rather than
// failing the test so that a caller can skip when a feature is missing.
func startRedis(t testing.TB, args func(port int) []string) (*redisServer, error) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed")
	}
	port := freePort(t)
	r := &redisServer{t: t, Port: port, args: args(port)}
	if err := r.start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { r.kill() })
	return r, nil
}

func (r *redisServer) start() error {
	cmd := exec.Command("redis-server", r.args...)
	logs := &lockedWriter{w: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := testredis.Spawn(cmd); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.mu.Lock()
	r.cmd, r.logs, r.done = cmd, logs, done
	r.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for {
		logs.mu.Lock()
		text := logs.w.String()
		logs.mu.Unlock()
		if strings.Contains(text, "Ready to accept connections") {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%w: %s", errRedisExited, tail(text, 1500))
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redis-server not ready within 15s: %s", tail(text, 1500))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop shuts the server down with SIGTERM, as an orchestrator does, and waits.
func (r *redisServer) stop() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		r.t.Errorf("redis-server did not stop within 30s of SIGTERM")
	}
}

// restart starts the server again with the same arguments (same port and dir).
func (r *redisServer) restart() error { return r.start() }

func (r *redisServer) kill() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	_ = cmd.Process.Kill()
	<-done
}

// Log returns what redis-server printed since it last started.
func (r *redisServer) Log() string {
	r.mu.Lock()
	logs := r.logs
	r.mu.Unlock()
	logs.mu.Lock()
	defer logs.mu.Unlock()
	return logs.w.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// redisDB describes a server the test runs itself, for world.
func redisDB(url string) *testredis.DB { return &testredis.DB{URL: url, Real: true} }

// nonJSONLines returns the lines of logs that are not JSON objects: the worker
// logs nothing but JSON, so anything else escaped its logger.
func nonJSONLines(logs string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "{") || !strings.HasSuffix(line, "}") {
			out = append(out, line)
		}
	}
	return out
}

// readAll is io.ReadAll on an HTTP response, closing it.
func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
