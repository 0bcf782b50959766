package redisconf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

const secret = "s3cr3t-pa55"

func TestLoad(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		env      map[string]string
		flag     string
		mode     Mode
		addrs    []string
		describe string
	}{
		{"nothing set", nil, "", Single, []string{"127.0.0.1:6379"}, "redis://127.0.0.1:6379/0"},
		{"url", map[string]string{"REDIS_URL": "redis://:" + secret + "@10.0.0.1:6380/3"}, "", Single, []string{"10.0.0.1:6380"}, "redis://:***@10.0.0.1:6380/3"},
		{"flag wins over REDIS_URL", map[string]string{"REDIS_URL": "redis://10.0.0.1:1/0"}, "redis://u:" + secret + "@10.0.0.2:2/1", Single, []string{"10.0.0.2:2"}, "redis://u:***@10.0.0.2:2/1"},
		{"url with REDIS_PASSWORD_FILE", map[string]string{"REDIS_URL": "rediss://10.0.0.1:6380/0", "REDIS_USERNAME": "dialq", "REDIS_PASSWORD_FILE": pwFile}, "", Single, []string{"10.0.0.1:6380"}, "rediss://dialq:***@10.0.0.1:6380/0"},
		{"cluster", map[string]string{"REDIS_CLUSTER_ADDRS": "a:7000, b:7001,c:7002", "REDIS_PASSWORD": secret, "REDIS_TLS": "true"}, "", Cluster, []string{"a:7000", "b:7001", "c:7002"}, "redis cluster via a:7000,b:7001,c:7002 password *** tls"},
		{"sentinel", map[string]string{"REDIS_SENTINEL_ADDRS": "s1:26379,s2:26379", "REDIS_SENTINEL_MASTER": "mymaster", "REDIS_USERNAME": "w", "REDIS_PASSWORD": secret, "REDIS_SENTINEL_PASSWORD": secret + "x"}, "", Sentinel, []string{"s1:26379", "s2:26379"}, `redis sentinel master "mymaster" via s1:26379,s2:26379 user w password ***`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(func(k string) string { return tt.env[k] }, tt.flag)
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			if c.Mode != tt.mode {
				t.Errorf("mode = %s; want %s", c.Mode, tt.mode)
			}
			if diff := cmp.Diff(tt.addrs, c.Addrs); diff != "" {
				t.Errorf("addrs (-want +got):\n%s", diff)
			}
			if got := c.Describe(); got != tt.describe {
				t.Errorf("Describe = %q; want %q", got, tt.describe)
			}
			conn := c.Open()
			defer conn.Close()
			if strings.Contains(conn.Describe(), secret) {
				t.Errorf("Describe leaks the password: %s", conn.Describe())
			}
			if tt.env["REDIS_PASSWORD"] != "" || tt.env["REDIS_PASSWORD_FILE"] != "" {
				if got := c.password; got != secret {
					t.Errorf("password = %q; want the one configured", got)
				}
			}
			// Each mode builds the matching go-redis client and asynq options.
			wantClient := map[Mode]string{Single: "*redis.Client", Cluster: "*redis.ClusterClient", Sentinel: "*redis.Client"}[tt.mode]
			if got := typeName(conn.Client); got != wantClient {
				t.Errorf("client %s; want %s", got, wantClient)
			}
			wantDash := map[Mode]string{Single: "asynq.RedisClientOpt", Cluster: "asynq.RedisClusterClientOpt", Sentinel: "asynq.RedisFailoverClientOpt"}[tt.mode]
			if got := typeName(conn.Dashboard()); got != wantDash {
				t.Errorf("dashboard options %s; want %s", got, wantDash)
			}
			if _, ok := conn.Asynq.MakeRedisClient().(redis.UniversalClient); !ok {
				t.Errorf("Asynq.MakeRedisClient is not a UniversalClient")
			}
		})
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		flag string
		want []string // every one must be in the error
	}{
		{"url and cluster", map[string]string{"REDIS_URL": "redis://x:1/0", "REDIS_CLUSTER_ADDRS": "a:1"}, "", []string{"REDIS_URL", "REDIS_CLUSTER_ADDRS"}},
		{"flag and sentinel", map[string]string{"REDIS_SENTINEL_ADDRS": "a:1", "REDIS_SENTINEL_MASTER": "m"}, "redis://x:1/0", []string{"-redis", "REDIS_SENTINEL_ADDRS"}},
		{"cluster and sentinel", map[string]string{"REDIS_CLUSTER_ADDRS": "a:1", "REDIS_SENTINEL_ADDRS": "b:1", "REDIS_SENTINEL_MASTER": "m"}, "", []string{"REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS"}},
		{"all three", map[string]string{"REDIS_URL": "redis://x:1/0", "REDIS_CLUSTER_ADDRS": "a:1", "REDIS_SENTINEL_MASTER": "m"}, "", []string{"REDIS_URL", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS"}},
		{"sentinel without master", map[string]string{"REDIS_SENTINEL_ADDRS": "a:1"}, "", []string{"REDIS_SENTINEL_MASTER"}},
		{"bad cluster addr", map[string]string{"REDIS_CLUSTER_ADDRS": "a:1,nohost"}, "", []string{"REDIS_CLUSTER_ADDRS", "nohost"}},
		{"bad port", map[string]string{"REDIS_CLUSTER_ADDRS": "a:99999"}, "", []string{"REDIS_CLUSTER_ADDRS"}},
		{"not a redis url", map[string]string{"REDIS_URL": "http://u:" + secret + "@x/"}, "", []string{"REDIS_URL", "redis://"}},
		{"two passwords", map[string]string{"REDIS_URL": "redis://:" + secret + "@x:1/0", "REDIS_PASSWORD": "other"}, "", []string{"REDIS_URL", "REDIS_PASSWORD"}},
		{"password and file", map[string]string{"REDIS_PASSWORD": secret, "REDIS_PASSWORD_FILE": "/nonexistent"}, "", []string{"REDIS_PASSWORD_FILE"}},
		{"tls with redis://", map[string]string{"REDIS_URL": "redis://x:1/0", "REDIS_TLS": "true"}, "", []string{"REDIS_TLS", "rediss://"}},
		{"tls not a bool", map[string]string{"REDIS_CLUSTER_ADDRS": "a:1", "REDIS_TLS": "yes please"}, "", []string{"REDIS_TLS"}},
		{"sentinel password without sentinel", map[string]string{"REDIS_CLUSTER_ADDRS": "a:1", "REDIS_SENTINEL_PASSWORD": secret}, "", []string{"REDIS_SENTINEL_PASSWORD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(func(k string) string { return tt.env[k] }, tt.flag)
			if err == nil {
				t.Fatalf("Load = nil; want an error naming %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load = %v; want it to name %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestMaskURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"redis://:" + secret + "@h:1/0", "redis://:***@h:1/0"},
		{"rediss://user:" + secret + "@h:1/2", "rediss://user:***@h:1/2"},
		{"redis://user@h:1/0", "redis://user@h:1/0"},
		{"redis://h:1/0", "redis://h:1/0"},
		{"redis://:" + secret + "@h:1/%zz", "(unparsable URL)"},
	}
	for _, tt := range tests {
		if got := MaskURL(tt.in); got != tt.want {
			t.Errorf("MaskURL(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// The shared asynq option hands asynq the pool itself; asynq's Close must not
// close it under the rest of the process.
func TestAsynqSharesThePool(t *testing.T) {
	conn, err := FromEnv(func(string) string { return "" }, "redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := asynq.NewClient(conn.Asynq)
	if err := client.Close(); err != nil {
		t.Fatalf("asynq client Close = %v", err)
	}
	if err := conn.Client.Ping(t.Context()).Err(); err == redis.ErrClosed {
		t.Fatalf("asynq's Close closed the shared pool")
	}
	if err := conn.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := conn.Client.Ping(t.Context()).Err(); err != redis.ErrClosed {
		t.Fatalf("after Conn.Close, Ping = %v; want ErrClosed", err)
	}
}
