package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildEnqueue builds this command once per test binary run.
func buildEnqueue(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "enqueue")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// numbers is an endless stream of distinct valid numbers, one a line.
type numbers struct {
	n   int
	buf []byte
}

func (r *numbers) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		r.buf = fmt.Appendf(r.buf, "138%08d\n", r.n%100_000_000)
		r.n++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// SIGINT and SIGTERM stop enqueue within a second whatever it is doing (reading an
// endless line, staging endless parts, waiting on a silent stdin), exit 130 or 143,
// and leave nothing in Redis.
func TestSignalStopsEnqueue(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /dev/zero and POSIX signals")
	}
	h := setup(t)
	bin := buildEnqueue(t)
	campaign, err := filepath.Abs(campaignFile("yccall"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		sig   syscall.Signal
		code  int
		input string
		stdin func() io.Reader
		// staged is true when keys are in Redis before the signal (staging).
		staged bool
	}{
		{name: "endless line SIGINT", sig: syscall.SIGINT, code: exitSIGINT, input: "/dev/zero"},
		{name: "endless line SIGTERM", sig: syscall.SIGTERM, code: exitSIGTERM, input: "/dev/zero"},
		{name: "staging endless rows SIGTERM", sig: syscall.SIGTERM, code: exitSIGTERM, input: "-", stdin: func() io.Reader { return &numbers{} }, staged: true},
		{name: "silent stdin SIGINT", sig: syscall.SIGINT, code: exitSIGINT, input: "-", stdin: func() io.Reader { return strings.NewReader("13800138000\n13900139000\n") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "-vendor", "yccall", "-campaign", campaign, "-part-size", "100", tt.input)
			cmd.Env = append(os.Environ(), "REDIS_URL="+h.db.URL)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			var stdin io.WriteCloser
			if tt.stdin != nil {
				if stdin, err = cmd.StdinPipe(); err != nil {
					t.Fatal(err)
				}
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if stdin != nil {
				// Fed by hand, not closed: a silent stdin stays open.
				go func() { _, _ = io.Copy(stdin, tt.stdin()) }()
				defer stdin.Close()
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				time.Sleep(300 * time.Millisecond)
				if !tt.staged || len(h.keys()) > 0 || time.Now().After(deadline) {
					break
				}
			}
			if tt.staged && len(h.keys()) == 0 {
				t.Fatal("nothing staged in Redis after 10s of endless rows")
			}
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			sent := time.Now()
			err := cmd.Wait()
			took := time.Since(sent)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tt.code {
				t.Errorf("exit %v; want %d\nstderr: %s", err, tt.code, stderr.String())
			}
			if took > time.Second {
				t.Errorf("stopped %v after the signal; want under 1s", took)
			}
			if !strings.Contains(stderr.String(), "stopped by SIG") {
				t.Errorf("stderr %q; want it to say it was stopped by the signal", stderr.String())
			}
			t.Logf("stopped in %v: %s", took.Round(time.Millisecond), strings.TrimSpace(stderr.String()))
			h.wantNoKeys()
		})
	}
}

// run with a context cancelled mid-read returns at once, writing nothing.
func TestRunCancelled(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip(err)
	}
	h := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	// Timed from the cancel itself, not from run's start: its setup (Redis,
	// the campaign) on a loaded machine is not what the promise is about.
	cancelled := make(chan time.Time, 1)
	time.AfterFunc(300*time.Millisecond, func() {
		cancelled <- time.Now()
		cancel()
	})
	var out, errOut strings.Builder
	e := env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(k string) string {
		return map[string]string{"REDIS_URL": h.db.URL}[k]
	}}
	err := run(ctx, []string{"-vendor", "yccall", "-campaign", campaignFile("yccall"), "/dev/zero"}, e)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "nothing was enqueued") {
		t.Errorf("run = %v; want context.Canceled and nothing enqueued", err)
	}
	returned := time.Now()
	if d := returned.Sub(<-cancelled); d > time.Second {
		t.Errorf("run returned %v after the cancel; want within a second", d)
	}
	h.wantNoKeys()
}
