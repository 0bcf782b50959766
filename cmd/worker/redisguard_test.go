package main

import (
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/internal/testredis"
)

// An evicting Redis is refused at start with the setting and the fix named, and
// DIALQ_ALLOW_VOLATILE_REDIS does not let it through.
func TestEvictingRedisRefusedAtStart(t *testing.T) {
	for _, allow := range []string{"", "true"} {
		t.Run("allow volatile="+allow, func(t *testing.T) {
			srv := testredis.StartServer(t, append([]string{"--maxmemory-policy", "volatile-lru"}, testredis.Durable...)...)
			env := demoEnv(t)
			env["REDIS_URL"] = srv.URL()
			env["DIALQ_ALLOW_VOLATILE_REDIS"] = allow
			env["WORKER_HTTP_ADDR"] = "127.0.0.1:0"
			logs, err := runWorker(t, env, 10*time.Second)
			if err == nil {
				t.Fatalf("worker started on an evicting Redis:\n%s", logs)
			}
			for _, want := range []string{srv.Addr + " has maxmemory-policy volatile-lru", "CONFIG SET maxmemory-policy noeviction", "maxmemory-policy noeviction`"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("run = %v; want it to say %q", err, want)
				}
			}
			if strings.Contains(logs, "worker started") {
				t.Errorf("logs say the worker started:\n%s", logs)
			}
		})
	}
}
