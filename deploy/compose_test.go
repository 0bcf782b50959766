package deploy

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadProject loads docker-compose.yml the way `docker compose --profile tools`
// does: the Compose loader validates it against the specification's schema,
// interpolates ${VAR:-default} from an empty environment (the shipped defaults),
// resolves the x- anchors and merge keys, and makes paths absolute.
func loadProject(t *testing.T) *types.Project {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv([]string{}),
		cli.WithProfiles([]string{"tools"}),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := cli.ProjectFromOptions(ctx, opts)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"redis", "fakevendor", "worker", "enqueue", "asynqmon"} {
		if _, ok := p.Services[name]; !ok {
			t.Fatalf("docker-compose.yml has no service %q", name)
		}
	}
	return p
}

// env returns service's environment as plain strings (unset values as "").
func env(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

// oneOff reports whether a service is a tool run with `docker compose run` (it is
// behind a profile) rather than a long-running one.
func oneOff(s types.ServiceConfig) bool { return len(s.Profiles) > 0 }

// usesService reports whether s addresses the service named name (a URL or
// address with host name in its environment or command).
func usesService(s types.ServiceConfig, name string) bool {
	for _, v := range append(slices.Collect(maps.Values(env(s))), s.Command...) {
		if strings.Contains(v, "//"+name+":") || strings.HasPrefix(v, name+":") {
			return true
		}
	}
	return false
}

// vendorCredentials are the variables worker and fakevendor must agree on.
var vendorCredentials = []string{
	"NXCLOUD_ACCESS_KEY", "NXCLOUD_ACCESS_SECRET",
	"YCCALL_APPID", "YCCALL_ACCESSKEY",
	"SPEECH_APP_ID", "SPEECH_PRIVATE_KEY_FILE",
	"FLASHAI_CLIENT_ID", "FLASHAI_CLIENT_SECRET", "FLASHAI_USER_ID",
}

// TestComposeFile checks the properties that a local run cannot show: restart
// policies, durability settings, grace periods, and which image runs what.
func TestComposeFile(t *testing.T) {
	p := loadProject(t)
	df := parseDockerfile(t)

	t.Run("restart", func(t *testing.T) {
		for name, s := range p.Services {
			want := "unless-stopped"
			if oneOff(s) {
				want = ""
			}
			if s.Restart != want {
				t.Errorf("%s restart = %q; want %q", name, s.Restart, want)
			}
		}
	})

	t.Run("redis durability", func(t *testing.T) {
		cmd := p.Services["redis"].Command
		for flag, want := range map[string]string{"--appendonly": "yes", "--appendfsync": "always", "--maxmemory-policy": "noeviction"} {
			if i := slices.Index(cmd, flag); i < 0 || i+1 >= len(cmd) || cmd[i+1] != want {
				t.Errorf("redis command = %q; want %s %s", cmd, flag, want)
			}
		}
		if !slices.ContainsFunc(p.Services["redis"].Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Type == types.VolumeTypeVolume && v.Target == "/data"
		}) {
			t.Errorf("redis has no named volume at /data: the AOF would die with the container")
		}
		// redis-cli exits 0 on an error reply (LOADING), so the answer must be read.
		if hc := p.Services["redis"].HealthCheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), "PONG") {
			t.Errorf("redis healthcheck %v; want one that checks for PONG", hc)
		}
	})

	t.Run("depends on a healthy redis", func(t *testing.T) {
		for name, s := range p.Services {
			if !usesService(s, "redis") {
				continue
			}
			if d, ok := s.DependsOn["redis"]; !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s depends_on redis = %+v; want condition service_healthy", name, d)
			}
		}
	})

	t.Run("worker", func(t *testing.T) {
		w := p.Services["worker"]
		if w.GetScale() != 3 {
			t.Errorf("worker replicas = %d; want 3", w.GetScale())
		}
		shutdown, err := time.ParseDuration(env(w)["WORKER_SHUTDOWN_TIMEOUT"])
		if err != nil || w.StopGracePeriod == nil || time.Duration(*w.StopGracePeriod) <= shutdown {
			t.Errorf("WORKER_SHUTDOWN_TIMEOUT %v (%v), stop_grace_period %v; want a grace longer than the timeout", shutdown, err, w.StopGracePeriod)
		}
		if len(w.Entrypoint) != 0 || w.Build == nil || w.Build.Target != "" {
			t.Errorf("worker entrypoint %q, build %+v; want the default target's entrypoint", w.Entrypoint, w.Build)
		}
	})

	t.Run("images", func(t *testing.T) {
		for name, s := range p.Services {
			if s.Build == nil {
				continue
			}
			st := df.target(s.Build.Target)
			if st == nil {
				t.Errorf("%s builds target %q, which the Dockerfile lacks", name, s.Build.Target)
				continue
			}
			argv := []string(s.Entrypoint)
			if len(argv) == 0 {
				argv = st.entrypoint
			}
			if len(argv) == 0 || !slices.Contains(st.bins, argv[0]) || !df.built(argv[0]) {
				t.Errorf("%s runs %q; the Dockerfile's target %q holds %q and builds %q", name, argv, s.Build.Target, st.bins, df.build)
			}
		}
		if p.Services["fakevendor"].Image == p.Services["worker"].Image {
			t.Errorf("fakevendor and worker share image %q: the production image would carry the fake", p.Services["worker"].Image)
		}
	})

	t.Run("shared credentials", func(t *testing.T) {
		w, f := env(p.Services["worker"]), env(p.Services["fakevendor"])
		for _, name := range vendorCredentials {
			if w[name] == "" || w[name] != f[name] {
				t.Errorf("%s: worker %q, fakevendor %q; want the same non-empty value", name, w[name], f[name])
			}
		}
	})

	t.Run("secrets exist", func(t *testing.T) {
		for name, s := range p.Secrets {
			fi, err := os.Stat(s.File)
			if err != nil {
				t.Errorf("secret %s: %v", name, err)
				continue
			}
			// A bind-mounted secret keeps its mode; the image's user is not the owner.
			if fi.Mode().Perm()&0o004 == 0 {
				t.Errorf("secret %s (%s) mode %v; the demo key must be world-readable", name, s.File, fi.Mode())
			}
		}
	})
}
