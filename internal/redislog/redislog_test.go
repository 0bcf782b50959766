package redislog

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"github.com/sirupsen/logrus"
)

func newLogger(buf *bytes.Buffer) *Logger {
	log := logrus.New()
	log.SetOutput(buf)
	log.SetFormatter(&logrus.JSONFormatter{})
	return New(log.WithField("component", "go-redis"))
}

// lines decodes buf as JSON lines, failing on any line that is not JSON.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestPrintf(t *testing.T) {
	tests := []struct {
		name, format string
		args         []any
		want         string
	}{
		{"plain", "redis: connection pool: %s", []any{"failed to dial"}, "redis: connection pool: failed to dial"},
		{"number masked", "redis: discarding bad conn: %v", []any{"ERR unknown key +8613800138000"}, "redis: discarding bad conn: ERR unknown key +861********00"},
		{"address kept", "redis: dial tcp %s: connection refused", []any{"127.0.0.1:6379"}, "redis: dial tcp 127.0.0.1:6379: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			newLogger(&buf).Printf(context.Background(), tt.format, tt.args...)
			got := lines(t, &buf)
			if len(got) != 1 {
				t.Fatalf("%d lines; want 1", len(got))
			}
			if got[0]["msg"] != tt.want || got[0]["level"] != "warning" || got[0]["component"] != "go-redis" {
				t.Errorf("line = %v; want msg %q, level warning, component go-redis", got[0], tt.want)
			}
		})
	}
}

// TestGoRedisOutage installs the adapter as go-redis's logger and points a client
// at a port nothing listens on (Redis down): what go-redis logs about its failed
// dials must come out as JSON through the adapter.
func TestGoRedisOutage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var buf bytes.Buffer
	redis.SetLogger(newLogger(&buf))
	// The logger is process-wide: leave a silent one for the tests that follow.
	t.Cleanup(func() { redis.SetLogger(&logging.VoidLogger{}) })

	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 1, DialerRetries: 2, DialerRetryTimeout: 10 * time.Millisecond})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("ping to a closed port succeeded")
	}
	got := lines(t, &buf)
	if len(got) == 0 {
		t.Fatal("go-redis logged nothing through the adapter")
	}
	for _, l := range got {
		if l["component"] != "go-redis" {
			t.Errorf("line %v lacks component go-redis", l)
		}
	}
}
