package monitor

// No Docker engine runs the tests, so the container files are checked as data: the
// properties that matter in production (replicas, AOF, healthchecks, grace period,
// shared credentials, non-root exec-form image) are asserted here.

import (
	"encoding/json"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Deploy      struct {
		Replicas int `yaml:"replicas"`
	} `yaml:"deploy"`
	Healthcheck struct {
		Test    []string `yaml:"test"`
		Disable bool     `yaml:"disable"`
	} `yaml:"healthcheck"`
	StopGracePeriod string `yaml:"stop_grace_period"`
	DependsOn       map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Secrets  []string `yaml:"secrets"`
	Ports    []string `yaml:"ports"`
	Volumes  []string `yaml:"volumes"`
	Profiles []string `yaml:"profiles"`
}

// vendorCredentials are the variables worker and fakevendor must agree on.
var vendorCredentials = []string{
	"NXCLOUD_ACCESS_KEY", "NXCLOUD_ACCESS_SECRET",
	"YCCALL_APPID", "YCCALL_ACCESSKEY",
	"SPEECH_APP_ID", "SPEECH_PRIVATE_KEY_FILE",
	"FLASHAI_CLIENT_ID", "FLASHAI_CLIENT_SECRET", "FLASHAI_USER_ID",
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	// yaml.v3 resolves the anchors and merge keys the way Compose does.
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"redis", "fakevendor", "worker", "asynqmon"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("docker-compose.yml has no service %q", name)
		}
	}
	return c
}

func TestComposeRedis(t *testing.T) {
	r := loadCompose(t).Services["redis"]
	if !strings.HasPrefix(r.Image, "redis:7") {
		t.Errorf("redis image = %q; want redis:7", r.Image)
	}
	if i := slices.Index(r.Command, "--appendonly"); i < 0 || i+1 >= len(r.Command) || r.Command[i+1] != "yes" {
		t.Errorf("redis command = %q; want --appendonly yes", r.Command)
	}
	if !slices.ContainsFunc(r.Volumes, func(v string) bool { return strings.HasSuffix(v, ":/data") }) {
		t.Errorf("redis volumes = %q; want a volume at /data for the AOF", r.Volumes)
	}
	if got := strings.Join(r.Healthcheck.Test, " "); !strings.Contains(got, "redis-cli ping") {
		t.Errorf("redis healthcheck = %q; want redis-cli ping", got)
	}
}

func TestComposeWorker(t *testing.T) {
	c := loadCompose(t)
	w := c.Services["worker"]
	if w.Deploy.Replicas != 3 {
		t.Errorf("worker replicas = %d; want 3", w.Deploy.Replicas)
	}
	if w.Build == nil && w.Image == "" {
		t.Errorf("worker has neither build nor image")
	}
	if len(w.Entrypoint) != 0 {
		t.Errorf("worker entrypoint = %q; want the image's (the worker)", w.Entrypoint)
	}

	shutdown, err := time.ParseDuration(w.Environment["WORKER_SHUTDOWN_TIMEOUT"])
	if err != nil {
		t.Fatalf("WORKER_SHUTDOWN_TIMEOUT: %v", err)
	}
	grace, err := time.ParseDuration(w.StopGracePeriod)
	if err != nil {
		t.Fatalf("worker stop_grace_period: %v", err)
	}
	if shutdown != 25*time.Second || grace <= shutdown {
		t.Errorf("worker shutdown timeout %v, stop grace %v; want 25s and a longer grace", shutdown, grace)
	}

	if got := strings.Join(w.Healthcheck.Test, " "); !strings.Contains(got, ":8080/healthz") {
		t.Errorf("worker healthcheck = %q; want GET :8080/healthz", got)
	}
	if got := w.DependsOn["redis"].Condition; got != "service_healthy" {
		t.Errorf("worker depends_on redis condition = %q; want service_healthy", got)
	}

	if got, want := w.Environment["REDIS_URL"], "redis://redis:6379/0"; got != want {
		t.Errorf("worker REDIS_URL = %q; want %q", got, want)
	}
	fakePort := ""
	if f := c.Services["fakevendor"]; len(f.Command) == 2 && f.Command[0] == "-addr" {
		fakePort = f.Command[1][strings.LastIndex(f.Command[1], ":")+1:]
	}
	for name, path := range map[string]string{
		"NXCLOUD_BASE_URL": "/nxcloud",
		"YCCALL_BASE_URL":  "/yccall/",
		"SPEECH_BASE_URL":  "/speech",
		"FLASHAI_BASE_URL": "/flashai",
	} {
		u, err := url.Parse(w.Environment[name])
		if err != nil || u.Hostname() != "fakevendor" || u.Port() != fakePort || u.Path != path {
			t.Errorf("worker %s = %q; want http://fakevendor:%s%s", name, w.Environment[name], fakePort, path)
		}
	}
}

func TestComposeFakeVendor(t *testing.T) {
	c := loadCompose(t)
	f := c.Services["fakevendor"]
	if w := c.Services["worker"]; f.Image == "" || f.Image != w.Image {
		t.Errorf("fakevendor image %q, worker image %q; want the same dialq image", f.Image, w.Image)
	}
	if !slices.Equal(f.Command, []string{"-addr", "0.0.0.0:9090"}) {
		t.Errorf("fakevendor command = %q; want -addr 0.0.0.0:9090", f.Command)
	}
	if len(f.Entrypoint) != 1 || !strings.HasSuffix(f.Entrypoint[0], "/fakevendor") {
		t.Errorf("fakevendor entrypoint = %q; want the fakevendor binary", f.Entrypoint)
	}
	if got := strings.Join(f.Healthcheck.Test, " "); !strings.Contains(got, ":9090/healthz") {
		t.Errorf("fakevendor healthcheck = %q; want GET :9090/healthz", got)
	}
}

// TestComposeSharedCredentials checks that one environment configures both sides:
// a worker signing with other credentials than the fake checks would fail every call.
func TestComposeSharedCredentials(t *testing.T) {
	c := loadCompose(t)
	w, f := c.Services["worker"], c.Services["fakevendor"]
	for _, name := range vendorCredentials {
		if w.Environment[name] == "" || w.Environment[name] != f.Environment[name] {
			t.Errorf("%s: worker %q, fakevendor %q; want the same non-empty value", name, w.Environment[name], f.Environment[name])
		}
	}
	keyFile := w.Environment["SPEECH_PRIVATE_KEY_FILE"]
	secret, ok := strings.CutPrefix(keyFile, "/run/secrets/")
	if !ok {
		t.Fatalf("SPEECH_PRIVATE_KEY_FILE = %q; want a mounted secret under /run/secrets/", keyFile)
	}
	if got := c.Secrets[secret].File; got != "./examples/speech-demo-key.pem" {
		t.Errorf("secret %q file = %q; want ./examples/speech-demo-key.pem", secret, got)
	}
	for _, svc := range []string{"worker", "fakevendor"} {
		if !slices.Contains(c.Services[svc].Secrets, secret) {
			t.Errorf("%s does not mount secret %q", svc, secret)
		}
	}
}

func TestComposeAsynqmon(t *testing.T) {
	a := loadCompose(t).Services["asynqmon"]
	if a.Image != "hibiken/asynqmon:0.7.2" {
		t.Errorf("asynqmon image = %q; want hibiken/asynqmon:0.7.2", a.Image)
	}
	if !slices.Contains(a.Command, "--read-only") || !slices.Contains(a.Command, "--redis-url=redis://redis:6379/0") {
		t.Errorf("asynqmon command = %q; want --redis-url and --read-only", a.Command)
	}
	if len(a.Ports) != 1 || !strings.HasSuffix(a.Ports[0], "8081:8080") {
		t.Errorf("asynqmon ports = %q; want 8081:8080", a.Ports)
	}
}

// dockerfile returns the Dockerfile's instructions, continuation lines joined and
// comments dropped.
func dockerfile(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	cur := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur += s + " "
			continue
		}
		out = append(out, cur+line)
		cur = ""
	}
	return out
}

func TestDockerfile(t *testing.T) {
	var froms, users, entrypoints, exposes []string
	build := ""
	instructions := dockerfile(t)
	lastFrom := 0
	for i, ins := range instructions {
		if strings.HasPrefix(strings.ToUpper(ins), "FROM ") {
			lastFrom = i
		}
	}
	for i, ins := range instructions {
		keyword, args, _ := strings.Cut(ins, " ")
		runtime := i >= lastFrom
		switch strings.ToUpper(keyword) {
		case "FROM":
			froms = append(froms, args)
		case "USER":
			if runtime {
				users = append(users, args)
			}
		case "ENTRYPOINT":
			entrypoints = append(entrypoints, args)
		case "EXPOSE":
			exposes = append(exposes, args)
		case "RUN":
			if strings.Contains(args, "go build") {
				build = args
			}
		}
	}

	if len(froms) < 2 || !strings.HasPrefix(froms[0], "golang:1.26") {
		t.Errorf("FROM = %q; want a golang:1.26 build stage and a runtime stage", froms)
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/worker", "./cmd/enqueue", "./cmd/fakevendor", "type=cache"} {
		if !strings.Contains(build, want) {
			t.Errorf("go build step %q lacks %q", build, want)
		}
	}
	if len(users) == 0 {
		t.Fatalf("runtime stage has no USER: it would run as root")
	}
	if u, _, _ := strings.Cut(users[len(users)-1], ":"); u == "root" || u == "0" {
		t.Errorf("runtime USER = %q; want a non-root user", users[len(users)-1])
	}
	if len(entrypoints) != 1 {
		t.Fatalf("ENTRYPOINT = %q; want one", entrypoints)
	}
	var argv []string
	if err := json.Unmarshal([]byte(entrypoints[0]), &argv); err != nil || len(argv) == 0 || argv[0] != "/usr/local/bin/worker" {
		t.Errorf("ENTRYPOINT %s; want exec form [\"/usr/local/bin/worker\"] (shell form keeps SIGTERM from the worker)", entrypoints[0])
	}
	if !slices.Contains(exposes, "8080") {
		t.Errorf("EXPOSE = %q; want 8080", exposes)
	}
}

func TestDockerignoreKeepsKeysOut(t *testing.T) {
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for _, want := range []string{".git", "**/*.pem"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
}
