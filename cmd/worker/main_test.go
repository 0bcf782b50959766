package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/internal/testredis"
)

func demoEnv(t *testing.T) map[string]string {
	t.Helper()
	env, err := fakevendor.DemoEnv("http://127.0.0.1:1", filepath.Join(t.TempDir(), "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	// The shared test Redis keeps nothing on disk.
	env["DIALQ_ALLOW_VOLATILE_REDIS"] = "true"
	return env
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{"defaults", nil, nil, ""},
		{"flags override env", map[string]string{"WORKER_CONCURRENCY": "x"}, []string{"-concurrency", "5"}, ""},
		{"bad concurrency", map[string]string{"WORKER_CONCURRENCY": "0"}, nil, "concurrency"},
		{"bad queues", map[string]string{"WORKER_QUEUES": "dialq"}, nil, "queues"},
		{"bad shutdown", map[string]string{"WORKER_SHUTDOWN_TIMEOUT": "soon"}, nil, "shutdown timeout"},
		{"bad rate", map[string]string{"NXCLOUD_RATE": "-1"}, nil, "nxcloud rate"},
		{"bad writable", map[string]string{"MONITORING_WRITABLE": "maybe"}, nil, "MONITORING_WRITABLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, &bytes.Buffer{})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("parseConfig = %v; want error containing %q", err, tt.wantErr)
			}
		})
	}
	c, err := parseConfig([]string{"-concurrency", "5"}, func(k string) string {
		return map[string]string{"WORKER_CONCURRENCY": "9", "NXCLOUD_RATE": "2.5", "WORKER_QUEUES": "a=2,b=1"}[k]
	}, &bytes.Buffer{})
	if err != nil || c.concurrency != 5 || c.rates["nxcloud"] != 2.5 || c.queues["a"] != 2 || c.queues["b"] != 1 {
		t.Errorf("parseConfig = %+v, %v", c, err)
	}
}

func runWorker(t *testing.T, env map[string]string, stopAfter time.Duration) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stopAfter)
	defer cancel()
	var logs bytes.Buffer
	log := logrus.New()
	log.SetOutput(&logs)
	log.SetFormatter(&logrus.JSONFormatter{})
	err := run(ctx, nil, func(k string) string { return env[k] }, log)
	return logs.String(), err
}

func TestRefusesToStart(t *testing.T) {
	db := testredis.New(t)
	full := demoEnv(t)
	tests := []struct {
		name    string
		edit    func(map[string]string)
		wantErr string
	}{
		{"no vendor", func(e map[string]string) {
			for k := range e {
				if k != "REDIS_URL" && k != "DIALQ_ALLOW_VOLATILE_REDIS" {
					delete(e, k)
				}
			}
		}, "no vendor is configured"},
		{"half nxcloud", func(e map[string]string) { delete(e, "NXCLOUD_ACCESS_SECRET") }, "NXCLOUD_ACCESS_SECRET"},
		{"half flashai", func(e map[string]string) { delete(e, "FLASHAI_USER_ID") }, "FLASHAI_USER_ID"},
		{"speech without key", func(e map[string]string) { delete(e, "SPEECH_PRIVATE_KEY_FILE") }, "SPEECH_PRIVATE_KEY"},
		{"writable dashboard without credentials", func(e map[string]string) { e["MONITORING_WRITABLE"] = "true" }, "monitoring"},
		{"bad redis url", func(e map[string]string) { e["REDIS_URL"] = "http://x" }, "REDIS_URL"},
		{"redis unreachable", func(e map[string]string) { e["REDIS_URL"] = "redis://127.0.0.1:1/0" }, "redis at redis://127.0.0.1:1/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"REDIS_URL": db.URL, "WORKER_HTTP_ADDR": "127.0.0.1:0"}
			for k, v := range full {
				env[k] = v
			}
			tt.edit(env)
			_, err := runWorker(t, env, 5*time.Second)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run = %v; want an error naming %q", err, tt.wantErr)
			}
			for _, secret := range []string{full["NXCLOUD_ACCESS_SECRET"], full["FLASHAI_CLIENT_SECRET"], full["YCCALL_ACCESSKEY"]} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks a secret: %v", err)
				}
			}
		})
	}
}

func TestStartsAndStops(t *testing.T) {
	db := testredis.New(t)
	env := demoEnv(t)
	env["REDIS_URL"] = db.URL
	env["WORKER_HTTP_ADDR"] = "127.0.0.1:0"
	start := time.Now()
	logs, err := runWorker(t, env, 2*time.Second)
	if err != nil {
		t.Fatalf("run = %v\n%s", err, logs)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("worker took %s to stop", time.Since(start))
	}
	for _, want := range []string{`"msg":"worker started"`, `"vendors":["flashai","nxcloud","speech","yccall"]`, `"msg":"worker stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	for _, k := range []string{"NXCLOUD_ACCESS_SECRET", "FLASHAI_CLIENT_SECRET", "YCCALL_ACCESSKEY"} {
		if strings.Contains(logs, env[k]) {
			t.Errorf("logs leak %s", k)
		}
	}
}

// TestDurabilityAtStart runs the worker on Redis servers of its own: it refuses a
// Redis that would lose acknowledged writes unless DIALQ_ALLOW_VOLATILE_REDIS,
// and then says so at start and on /readyz (still 200).
func TestDurabilityAtStart(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		allow    string
		wantErr  string // empty: starts
		wantLog  string
		wantNote bool
	}{
		{"no aof refused", nil, "", "appendonly no", "", false},
		{"aof everysec refused", []string{"--appendonly", "yes", "--appendfsync", "everysec"}, "", "appendfsync everysec", "", false},
		{"config disabled refused", append([]string{"--rename-command", "CONFIG", ""}, testredis.Durable...), "", "CONFIG is disabled", "", false},
		{"aof always", testredis.Durable, "", "", `"msg":"redis durable"`, false},
		{"no aof allowed", nil, "true", "", `"level":"warning"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testredis.StartServer(t, tt.args...)
			env := demoEnv(t)
			env["REDIS_URL"] = srv.URL()
			env["DIALQ_ALLOW_VOLATILE_REDIS"] = tt.allow
			addr := freeAddr(t)
			env["WORKER_HTTP_ADDR"] = addr
			var ready struct {
				code int
				body string
			}
			done, stop := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
					}
					resp, err := http.Get("http://" + addr + "/readyz")
					if err == nil {
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						ready.code, ready.body = resp.StatusCode, string(b)
						return
					}
				}
			}()
			logs, err := runWorker(t, env, 2*time.Second)
			close(stop)
			<-done
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "DIALQ_ALLOW_VOLATILE_REDIS") {
					t.Fatalf("run = %v; want a refusal naming %q and the override", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("run = %v\n%s", err, logs)
			}
			if !strings.Contains(logs, tt.wantLog) {
				t.Errorf("logs lack %s:\n%s", tt.wantLog, logs)
			}
			if ready.code != http.StatusOK || strings.Contains(ready.body, "warning") != tt.wantNote {
				t.Errorf("/readyz = %d %q; want 200, warning %t", ready.code, ready.body, tt.wantNote)
			}
		})
	}
}

// Neither -h nor an error shows the password of REDIS_URL.
func TestPasswordNotShown(t *testing.T) {
	const password = "pa55-w0rd-xyz"
	srv := testredis.StartServer(t, "--requirepass", "other")
	env := demoEnv(t)
	env["REDIS_URL"] = "redis://:" + password + "@" + srv.Addr + "/0"
	var help bytes.Buffer
	if _, err := parseConfig([]string{"-h"}, func(k string) string { return env[k] }, &help); err == nil {
		t.Fatal("-h did not stop")
	}
	if strings.Contains(help.String(), password) || !strings.Contains(help.String(), "REDIS_CLUSTER_ADDRS") {
		t.Errorf("-h shows the password or lacks the modes:\n%s", help.String())
	}
	logs, err := runWorker(t, env, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "WRONGPASS") || !strings.Contains(err.Error(), ":***@") {
		t.Errorf("run = %v; want WRONGPASS with the password masked", err)
	}
	if strings.Contains(fmt.Sprint(err), password) || strings.Contains(logs, password) {
		t.Errorf("the password is shown: %v\n%s", err, logs)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// -h prints the flags and exits 0 without the Redis password from REDIS_URL;
// -version prints the build; an unknown WORKER_VENDORS name refuses to start.
func TestHelpVersionAndVendors(t *testing.T) {
	env := map[string]string{"REDIS_URL": "redis://:hunter2-secret@127.0.0.1:1/0"}
	for _, args := range [][]string{{"-h"}, {"-help"}, {"-version"}} {
		var out, logs bytes.Buffer
		log := logrus.New()
		log.SetOutput(&logs)
		stdout = &out
		err := run(context.Background(), args, func(k string) string { return env[k] }, log)
		stdout = os.Stdout
		if err != nil {
			t.Errorf("worker %v = %v; want nil (exit 0)", args, err)
		}
		if strings.Contains(out.String()+logs.String(), "hunter2") {
			t.Errorf("worker %v printed the Redis password:\n%s", args, out.String())
		}
		// On stdout, nothing logged.
		want := map[string]string{"-h": "-redis", "-help": "usage: worker", "-version": "worker "}[args[0]]
		if !strings.Contains(out.String(), want) || logs.Len() > 0 {
			t.Errorf("worker %v: stdout %q, logs %q; want %q on stdout and no log", args, out.String(), logs.String(), want)
		}
	}
	// A bad flag is an error naming it, without the usage.
	var out bytes.Buffer
	stdout = &out
	err := run(context.Background(), []string{"-bogus"}, func(k string) string { return env[k] }, logrus.New())
	stdout = os.Stdout
	if err == nil || !strings.Contains(err.Error(), "-bogus") || out.Len() > 0 {
		t.Errorf("worker -bogus = %v, stdout %q; want an error naming the flag", err, out.String())
	}
	db := testredis.New(t)
	env = demoEnv(t)
	env["REDIS_URL"] = db.URL
	env["WORKER_HTTP_ADDR"] = ""
	env["WORKER_VENDORS"] = "flashai,acme"
	if _, err := runWorker(t, env, 5*time.Second); err == nil || !strings.Contains(err.Error(), "acme") {
		t.Errorf("worker with WORKER_VENDORS naming acme: %v; want an error naming it", err)
	}
}
