package deploy

// TestComposeUp is `docker compose up` without an engine: every service of
// docker-compose.yml runs as a local process with the command, environment,
// files, dependencies, healthchecks and restart policy the file gives it. What a
// container engine would provide is mapped onto the machine:
//
//   - images: ours are the Dockerfile's targets, whose binaries are built here with
//     the Dockerfile's link flags; redis:7 is the local redis-server;
//     hibiken/asynqmon:<v> is built from the module of the same version (a go.mod
//     tool);
//   - network: each service replica listens on its own free loopback port; an
//     address naming a service (redis:6379 in a URL) or the container itself
//     (0.0.0.0:9090, 127.0.0.1:8080 in a healthcheck) is rewritten to it;
//   - files: each replica gets a root directory in which its secrets, bind mounts
//     and named volumes appear at their container paths; paths in its command and
//     environment point there;
//   - healthchecks: the local equivalent of the test (redis-cli against the mapped
//     port, an HTTP GET for wget).

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/dialq/dialq/vendors/registry"
)

// program says how to run an image's process locally when it listens on a port
// the compose file does not name (the image's default): the port, and how to move
// it to addr (args appended, environment added).
type program struct {
	defaultPort uint32
	move        func(addr string) (args, env []string)
}

// programs are keyed by the base name of the executable.
var programs = map[string]program{
	"redis-server": {6379, func(addr string) ([]string, []string) {
		host, port, _ := net.SplitHostPort(addr)
		return []string{"--bind", host, "--port", port}, nil
	}},
	"asynqmon": {8080, func(addr string) ([]string, []string) {
		_, port, _ := net.SplitHostPort(addr)
		return []string{"--port", port}, nil
	}},
	// The worker listens on WORKER_HTTP_ADDR, default :8080 (the image's EXPOSE).
	"worker": {8080, func(addr string) ([]string, []string) {
		return nil, []string{"WORKER_HTTP_ADDR=" + addr}
	}},
	"fakevendor": {}, // takes -addr from the file
	"enqueue":    {}, // no listener
}

// images maps the images the file pulls to local executables ("" in bin: on PATH
// under the name the command gives; else a binary built into the bin directory).
// workdir is the image's WORKDIR, where named volumes usually go.
var images = map[string]struct{ bin, workdir string }{
	"redis:7":                {"", "/data"},
	"hibiken/asynqmon:0.7.2": {"asynqmon", "/"},
}

// replica is one running container of a service.
type replica struct {
	svc    string
	index  int
	root   string            // the replica's filesystem root
	mounts []string          // container paths of its secrets, bind mounts and volumes
	ports  map[uint32]string // container port -> loopback host:port
	log    *os.File

	mu       sync.Mutex
	cmd      *exec.Cmd
	starts   int
	exits    []string
	stopping bool
	done     chan struct{} // closed when the supervisor gave up or was stopped
}

func (r *replica) name() string { return fmt.Sprintf("%s-%d", r.svc, r.index+1) }

type stack struct {
	t        *testing.T
	p        *types.Project
	df       *dockerfile
	bin, dir string
	replicas map[string][]*replica
	volumes  map[string]string // named volume -> host directory
	up       []string          // services in dependency order
}

func TestComposeUp(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed (CI installs it)")
	}
	start := time.Now()
	s := &stack{t: t, p: loadProject(t), df: parseDockerfile(t), dir: t.TempDir(), replicas: map[string][]*replica{}, volumes: map[string]string{}}
	s.buildImages()
	t.Logf("built in %v", time.Since(start).Round(time.Millisecond))
	s.allocate()
	t.Cleanup(s.down)

	// Up, in dependency order: a service starts once every dependency meets its
	// condition, as Compose does.
	order := s.order()
	s.up = order
	for _, name := range order {
		svc := s.p.Services[name]
		if oneOff(svc) {
			continue
		}
		s.waitDependencies(t, svc)
		for _, r := range s.replicas[name] {
			s.supervise(svc, r)
		}
	}
	for _, name := range order {
		if svc := s.p.Services[name]; !oneOff(svc) {
			for _, r := range s.replicas[name] {
				s.waitHealthy(t, svc, r)
			}
		}
	}
	t.Logf("up in %v: %s", time.Since(start).Round(time.Millisecond), strings.Join(order, ", "))

	t.Run("redis settings", func(t *testing.T) {
		// The settings come from the file's command: check Redis took them.
		for param, want := range map[string]string{"appendonly": "yes", "appendfsync": "always", "maxmemory-policy": "noeviction"} {
			if got := s.redisCLI(t, "CONFIG", "GET", param); !strings.HasSuffix(got, "\n"+want) {
				t.Errorf("redis CONFIG GET %s = %q; want %s", param, got, want)
			}
		}
	})

	t.Run("restart policy", func(t *testing.T) {
		// A worker that dies comes back by itself: restart: unless-stopped.
		w := s.replicas["worker"][0]
		w.mu.Lock()
		pid, starts := w.cmd.Process.Pid, w.starts
		w.mu.Unlock()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitRestart(t, w, starts)
		s.waitHealthy(t, s.p.Services["worker"], w)
	})

	t.Run("build info", func(t *testing.T) {
		body := s.get(t, "worker", 0, 8080, "/metrics")
		want := `dialq_build_info{go_version="` + runtime.Version() + `",revision="` + testRevision + `",version="` + testVersion + `"} 1`
		if !strings.Contains(body, want) {
			t.Errorf("worker /metrics lacks %s", want)
		}
	})

	finished := map[string]status{}
	t.Run("enqueue", func(t *testing.T) {
		for _, vendor := range registry.Names() {
			t.Run(vendor, func(t *testing.T) {
				st := s.deliver(t, vendor)
				finished[st.Batch] = st
			})
		}
	})
	t.Logf("delivered in %v", time.Since(start).Round(time.Millisecond))

	t.Run("redis crash", func(t *testing.T) {
		// SIGKILL gives Redis no chance to save: what survives is what the AOF
		// (appendfsync always) had, in the volume the file gives it.
		r := s.replicas["redis"][0]
		r.mu.Lock()
		pid, starts := r.cmd.Process.Pid, r.starts
		r.mu.Unlock()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitRestart(t, r, starts)
		s.waitHealthy(t, s.p.Services["redis"], r)
		for id, want := range finished {
			var got status
			if out := s.run(t, "enqueue", "status", "-json", id); json.Unmarshal(out, &got) != nil || got != want {
				t.Errorf("batch %s after a Redis crash: %s; want %+v", id, out, want)
			}
		}
		// The workers reconnect by themselves.
		for i, w := range s.replicas["worker"] {
			deadline := time.Now().Add(15 * time.Second)
			for httpOK("http://"+w.ports[8080]+"/readyz", time.Second) != nil {
				if time.Now().After(deadline) {
					t.Fatalf("worker %d not ready 15 s after Redis came back", i+1)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	})

	t.Run("down", func(t *testing.T) {
		s.down()
		for name, rs := range s.replicas {
			// SIGTERM must stop our programs and Redis cleanly (the worker
			// drains, Redis flushes); asynqmon just dies.
			if s.p.Services[name].Build == nil && name != "redis" {
				continue
			}
			for _, r := range rs {
				r.mu.Lock()
				exits := slices.Clone(r.exits)
				r.mu.Unlock()
				if len(exits) == 0 {
					continue // a one-off: run, not supervised
				}
				if last := exits[len(exits)-1]; last != "exit status 0" {
					t.Errorf("%s stopped with %q on SIGTERM; want exit status 0", r.name(), last)
				}
			}
		}
		// The AOF is where the file's volume put it.
		aof, _ := filepath.Glob(filepath.Join(s.volumes["redis-data"], "appendonlydir", "*.aof"))
		if len(aof) == 0 {
			t.Errorf("no AOF in the redis-data volume %s", s.volumes["redis-data"])
		}
		for _, r := range s.replicas["worker"] {
			checkJSONLog(t, r)
		}
	})
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// waitRestart waits until r was started again after its starts-th start.
func waitRestart(t *testing.T, r *replica, starts int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.mu.Lock()
		again := r.starts > starts
		r.mu.Unlock()
		if again {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not restarted after SIGKILL", r.name())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The version and revision linked into the binaries, as the Dockerfile's build
// arguments would.
const testVersion, testRevision = "v0.0.0-compose-test", "0123456789abcdef"

var buildArg = regexp.MustCompile(`\$\{(\w+)\}`)

// buildImages builds, in one go build, every binary the Dockerfile builds (with its
// link flags, VERSION and REVISION filled in) and asynqmon at the version of the
// image the file names.
func (s *stack) buildImages() {
	t := s.t
	s.bin = filepath.Join(s.dir, "bin")
	var pkgs []string
	ldflags := ""
	for _, f := range strings.Fields(s.df.build) {
		if strings.HasPrefix(f, "./cmd/") {
			pkgs = append(pkgs, f)
		}
	}
	// The flags are one quoted argument: take it whole from the build line.
	if i := strings.Index(s.df.build, `-ldflags="`); i >= 0 {
		rest := s.df.build[i+len(`-ldflags="`):]
		ldflags = rest[:strings.Index(rest, `"`)]
	}
	ldflags = buildArg.ReplaceAllStringFunc(ldflags, func(m string) string {
		switch m {
		case "${VERSION}":
			return testVersion
		case "${REVISION}":
			return testRevision
		}
		t.Fatalf("Dockerfile go build uses %s, which this test does not supply", m)
		return ""
	})
	mon := ""
	for _, svc := range s.p.Services {
		if name, tag, ok := strings.Cut(svc.Image, ":"); ok && name == "hibiken/asynqmon" {
			mon = tag
		}
	}
	if mon != "" {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/hibiken/asynqmon").Output()
		if err != nil {
			t.Fatalf("go list asynqmon: %v", err)
		}
		if got := strings.TrimSpace(string(out)); got != "v"+mon {
			t.Fatalf("compose runs hibiken/asynqmon:%s but go.mod has asynqmon %s", mon, got)
		}
		pkgs = append(pkgs, "github.com/hibiken/asynqmon/cmd/asynqmon")
	}
	args := append([]string{"build", "-ldflags=" + ldflags, "-o", s.bin + "/"}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// argv returns the program and arguments of svc as its image runs them, with the
// executable resolved to a local file.
func (s *stack) argv(svc types.ServiceConfig) []string {
	t := s.t
	var entry []string
	local := ""
	if svc.Build != nil {
		st := s.df.target(svc.Build.Target)
		if st == nil {
			t.Fatalf("%s: no Dockerfile target %q", svc.Name, svc.Build.Target)
		}
		entry = st.entrypoint
		if len(svc.Entrypoint) > 0 {
			entry = svc.Entrypoint
		}
		if len(entry) == 0 || !slices.Contains(st.bins, entry[0]) {
			t.Fatalf("%s runs %q, which target %q does not hold", svc.Name, entry, svc.Build.Target)
		}
		local = filepath.Join(s.bin, filepath.Base(entry[0]))
	} else {
		img, ok := images[svc.Image]
		if !ok {
			t.Fatalf("%s: image %s has no local equivalent here", svc.Name, svc.Image)
		}
		if img.bin != "" {
			local = filepath.Join(s.bin, img.bin)
		} else {
			path, err := exec.LookPath(svc.Command[0])
			if err != nil {
				t.Fatalf("%s: %v", svc.Name, err)
			}
			return append([]string{path}, svc.Command[1:]...)
		}
		entry = svc.Entrypoint
		if len(entry) == 0 {
			entry = []string{img.bin}
		}
	}
	return append(append([]string{local}, entry[1:]...), svc.Command...)
}

// bindAddr matches an address of the container itself: one its command binds
// (0.0.0.0:9090) or its healthcheck calls (127.0.0.1:8080).
var bindAddr = regexp.MustCompile(`(?:0\.0\.0\.0|127\.0\.0\.1|\[::\]):(\d+)`)

// allocate gives every replica its root directory and a free loopback port for
// each container port: those its command binds, its program's default, and those
// it exposes or publishes.
func (s *stack) allocate() {
	t := s.t
	for name, svc := range s.p.Services {
		ports := map[uint32]bool{}
		argv := s.argv(svc)
		for _, a := range argv {
			for _, m := range bindAddr.FindAllStringSubmatch(a, -1) {
				ports[mustPort(t, m[1])] = true
			}
		}
		prog, ok := programs[filepath.Base(argv[0])]
		if !ok {
			t.Fatalf("%s: no rule to run %s locally", name, argv[0])
		}
		if prog.defaultPort != 0 && !oneOff(svc) {
			ports[prog.defaultPort] = true
		}
		for _, e := range svc.Expose {
			ports[mustPort(t, e)] = true
		}
		for _, p := range svc.Ports {
			ports[p.Target] = true
		}
		n := max(svc.GetScale(), 1)
		for i := range n {
			r := &replica{svc: name, index: i, ports: map[uint32]string{}, done: make(chan struct{})}
			r.root = filepath.Join(s.dir, "containers", r.name())
			for p := range ports {
				r.ports[p] = freePort(t)
			}
			s.mount(svc, r)
			s.replicas[name] = append(s.replicas[name], r)
		}
	}
}

func mustPort(t *testing.T, s string) uint32 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		t.Fatalf("port %q: %v", s, err)
	}
	return uint32(n)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// mount makes the replica's secrets, bind mounts and volumes appear under its root.
func (s *stack) mount(svc types.ServiceConfig, r *replica) {
	t := s.t
	link := func(target, source string) {
		r.mounts = append(r.mounts, target)
		dst := filepath.Join(r.root, target)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(source, dst); err != nil {
			t.Fatal(err)
		}
	}
	for _, sec := range svc.Secrets {
		def, ok := s.p.Secrets[sec.Source]
		if !ok {
			t.Fatalf("%s: secret %q is not defined", svc.Name, sec.Source)
		}
		if _, err := os.Stat(def.File); err != nil {
			t.Fatalf("%s: secret %q: %v", svc.Name, sec.Source, err)
		}
		target := sec.Target
		if target == "" {
			target = sec.Source
		}
		if !filepath.IsAbs(target) {
			target = "/run/secrets/" + target
		}
		link(target, def.File)
	}
	for _, v := range svc.Volumes {
		switch v.Type {
		case types.VolumeTypeBind:
			if _, err := os.Stat(v.Source); err != nil {
				t.Fatalf("%s: bind mount %s: %v", svc.Name, v.Source, err)
			}
			link(v.Target, v.Source)
		case types.VolumeTypeVolume:
			if _, ok := s.p.Volumes[v.Source]; !ok {
				t.Fatalf("%s: volume %q is not defined", svc.Name, v.Source)
			}
			dir, ok := s.volumes[v.Source]
			if !ok {
				dir = filepath.Join(s.dir, "volumes", v.Source)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				s.volumes[v.Source] = dir
			}
			link(v.Target, dir)
		default:
			t.Fatalf("%s: volume type %s has no local equivalent here", svc.Name, v.Type)
		}
	}
	if err := os.MkdirAll(r.root, 0o755); err != nil {
		t.Fatal(err)
	}
}

// rewrite maps one value of r's command, environment or healthcheck from the
// container's view to the machine's: addresses of the replica itself and of other
// services, and paths under the replica's root.
func (s *stack) rewrite(t *testing.T, r *replica, v string) string {
	v = bindAddr.ReplaceAllStringFunc(v, func(m string) string {
		_, p, _ := net.SplitHostPort(m)
		if a, ok := r.ports[mustPort(t, p)]; ok {
			return a
		}
		return m
	})
	for name, rs := range s.replicas {
		// A service's name resolves to its replicas; the first one serves here.
		re := regexp.MustCompile(`(^|[/@=])` + regexp.QuoteMeta(name) + `:(\d+)`)
		v = re.ReplaceAllStringFunc(v, func(m string) string {
			sub := re.FindStringSubmatch(m)
			a, ok := rs[0].ports[mustPort(t, sub[2])]
			if !ok {
				t.Fatalf("%s addresses %s:%s, a port %s does not listen on", r.svc, name, sub[2], name)
			}
			return sub[1] + a
		})
	}
	for _, m := range r.mounts {
		if v == m || strings.HasPrefix(v, m+"/") {
			return filepath.Join(r.root, v)
		}
	}
	return v
}

// spec is how to start a process: program, arguments, environment, directory.
type spec struct {
	argv []string
	env  []string
	dir  string
}

func (sp spec) command() *exec.Cmd {
	cmd := exec.Command(sp.argv[0], sp.argv[1:]...)
	cmd.Env, cmd.Dir = sp.env, sp.dir
	return cmd
}

// process returns how to run r, with extra arguments appended, as its container
// would: the image's program, the file's command and environment, rewritten.
func (s *stack) process(t *testing.T, svc types.ServiceConfig, r *replica, extra ...string) spec {
	argv := s.argv(svc)
	env := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range svc.Environment {
		val := ""
		if v != nil {
			val = *v
		}
		env = append(env, k+"="+s.rewrite(t, r, val))
	}
	args := []string{argv[0]}
	for _, a := range append(argv[1:], extra...) {
		args = append(args, s.rewrite(t, r, a))
	}
	// The program's default port, which the file leaves to the image.
	if prog := programs[filepath.Base(argv[0])]; prog.move != nil && !oneOff(svc) {
		a, e := prog.move(r.ports[prog.defaultPort])
		args = append(args, a...)
		env = append(env, e...)
	}
	dir := r.root
	if svc.Build == nil {
		if wd := images[svc.Image].workdir; wd != "" {
			dir = filepath.Join(r.root, wd)
		}
	}
	return spec{argv: args, env: env, dir: dir}
}

// supervise starts r and restarts it per the service's restart policy, with
// Docker's doubling delay, until down stops it.
func (s *stack) supervise(svc types.ServiceConfig, r *replica) {
	t := s.t
	logPath := filepath.Join(s.dir, "logs", r.name()+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	r.log = f
	sp := s.process(t, svc, r)
	started := make(chan error, 1)
	go func() {
		defer close(r.done)
		delay := 100 * time.Millisecond
		for {
			cmd := sp.command()
			cmd.Stdout, cmd.Stderr = f, f
			r.mu.Lock()
			if r.stopping {
				r.mu.Unlock()
				return
			}
			err := cmd.Start()
			if err == nil {
				r.cmd = cmd
				r.starts++
			}
			first := r.starts <= 1
			r.mu.Unlock()
			if first {
				started <- err
			}
			if err != nil {
				return
			}
			err = cmd.Wait()
			status := "exit status 0"
			if err != nil {
				status = err.Error()
			}
			fmt.Fprintf(f, "--- supervisor: %s exited: %s\n", r.name(), status)
			r.mu.Lock()
			r.exits = append(r.exits, status)
			stop := r.stopping
			r.mu.Unlock()
			if stop || !restarts(svc.Restart, err) {
				return
			}
			time.Sleep(delay)
			delay = min(2*delay, 2*time.Second)
		}
	}()
	if err := <-started; err != nil {
		t.Fatalf("start %s: %v", r.name(), err)
	}
}

func restarts(policy string, err error) bool {
	switch {
	case policy == "always" || policy == "unless-stopped":
		return true
	case strings.HasPrefix(policy, "on-failure"):
		return err != nil
	}
	return false
}

// down stops every replica as `docker compose down` does: SIGTERM, then SIGKILL
// after the stop grace period (capped: the test has no time to lose).
func (s *stack) down() {
	for _, name := range slices.Backward(s.up) {
		rs := s.replicas[name]
		grace := 10 * time.Second
		if g := s.p.Services[name].StopGracePeriod; g != nil {
			grace = min(time.Duration(*g), 30*time.Second)
		}
		for _, r := range rs {
			r.mu.Lock()
			already := r.stopping
			r.stopping = true
			cmd := r.cmd
			r.mu.Unlock()
			if already || cmd == nil {
				continue
			}
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.done:
			case <-time.After(grace):
				_ = cmd.Process.Kill()
				<-r.done
			}
		}
	}
	if s.t.Failed() {
		s.dumpLogs()
	}
}

func (s *stack) dumpLogs() {
	for _, rs := range s.replicas {
		for _, r := range rs {
			if r.log == nil {
				continue
			}
			s.t.Logf("--- %s log (tail):\n%s", r.name(), tail(r))
		}
	}
}

// tail returns the end of r's log.
func tail(r *replica) string {
	if r.log == nil {
		return ""
	}
	b, _ := os.ReadFile(r.log.Name())
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// order returns the services with every service after its dependencies.
func (s *stack) order() []string {
	var out []string
	seen := map[string]bool{}
	var visit func(name string, path []string)
	visit = func(name string, path []string) {
		if slices.Contains(path, name) {
			s.t.Fatalf("depends_on cycle: %s", strings.Join(append(path, name), " -> "))
		}
		if seen[name] {
			return
		}
		svc, ok := s.p.Services[name]
		if !ok {
			s.t.Fatalf("%s depends on %q, which is not a service", path[len(path)-1], name)
		}
		deps := svc.GetDependencies()
		slices.Sort(deps)
		for _, d := range deps {
			visit(d, append(path, name))
		}
		seen[name] = true
		out = append(out, name)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range s.p.Services {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		visit(n, nil)
	}
	return out
}

// waitDependencies waits until each of svc's dependencies meets its condition.
func (s *stack) waitDependencies(t *testing.T, svc types.ServiceConfig) {
	for dep, d := range svc.DependsOn {
		switch d.Condition {
		case types.ServiceConditionHealthy:
			for _, r := range s.replicas[dep] {
				if hc := s.p.Services[dep].HealthCheck; hc == nil || hc.Disable {
					t.Fatalf("%s waits for %s to be healthy, which has no healthcheck: it never would be", svc.Name, dep)
				}
				s.waitHealthy(t, s.p.Services[dep], r)
			}
		case types.ServiceConditionStarted, "":
		default:
			t.Fatalf("%s: depends_on %s condition %q is not handled here", svc.Name, dep, d.Condition)
		}
	}
}

// waitHealthy probes r with its service's healthcheck until it passes, within
// start_period + interval × retries as Docker would (probing more often).
// A service without a healthcheck is probed at its published port's root.
func (s *stack) waitHealthy(t *testing.T, svc types.ServiceConfig, r *replica) {
	t.Helper()
	probe, budget := s.probe(t, svc, r)
	deadline := time.Now().Add(budget)
	r.mu.Lock()
	exited := len(r.exits)
	r.mu.Unlock()
	var err error
	for {
		if err = probe(); err == nil {
			return
		}
		select {
		case <-r.done:
			t.Fatalf("%s exited before it was healthy: %v\n%s", r.name(), err, tail(r))
		default:
		}
		// Docker would restart a crashing service forever; twice tells enough.
		r.mu.Lock()
		exits := r.exits[exited:]
		r.mu.Unlock()
		if len(exits) >= 2 {
			t.Fatalf("%s keeps exiting (%s) instead of becoming healthy:\n%s", r.name(), strings.Join(exits, "; "), tail(r))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy after %v: %v", r.name(), budget, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var urlArg = regexp.MustCompile(`https?://\S+`)

func (s *stack) probe(t *testing.T, svc types.ServiceConfig, r *replica) (func() error, time.Duration) {
	hc := svc.HealthCheck
	if hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
		if len(svc.Ports) == 0 {
			t.Fatalf("%s has neither a healthcheck nor a published port to probe", svc.Name)
		}
		u := "http://" + r.ports[svc.Ports[0].Target] + "/"
		return func() error { return httpOK(u, 3*time.Second) }, 30 * time.Second
	}
	dur := func(d *types.Duration, def time.Duration) time.Duration {
		if d == nil {
			return def
		}
		return time.Duration(*d)
	}
	retries := uint64(3)
	if hc.Retries != nil {
		retries = *hc.Retries
	}
	budget := dur(hc.StartPeriod, 0) + dur(hc.Interval, 30*time.Second)*time.Duration(retries)
	timeout := dur(hc.Timeout, 30*time.Second)
	test := strings.Join(hc.Test[1:], " ")
	switch {
	case strings.Contains(test, "redis-cli") && strings.Contains(test, "ping"):
		// With "| grep -q PONG" the answer must be PONG; redis-cli alone exits 0
		// on any reply.
		wantPong := strings.Contains(test, "PONG")
		return func() error {
			host, port, _ := net.SplitHostPort(r.ports[6379])
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			out, err := exec.CommandContext(ctx, "redis-cli", "-h", host, "-p", port, "ping").Output()
			if err != nil {
				return fmt.Errorf("redis-cli ping: %w", err)
			}
			if got := strings.TrimSpace(string(out)); wantPong && got != "PONG" {
				return fmt.Errorf("redis-cli ping = %q", got)
			}
			return nil
		}, budget
	case strings.HasPrefix(test, "wget ") || strings.HasPrefix(test, "curl "):
		u := urlArg.FindString(test)
		if u == "" {
			t.Fatalf("%s healthcheck %q: no URL", svc.Name, test)
		}
		u = s.rewrite(t, r, u)
		return func() error { return httpOK(u, timeout) }, budget
	}
	t.Fatalf("%s healthcheck %q has no local equivalent here: teach probe()", svc.Name, test)
	return nil, 0
}

func httpOK(u string, timeout time.Duration) error {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode >= 400 {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}

// get fetches path from replica i of svc's container port.
func (s *stack) get(t *testing.T, svc string, i int, port uint32, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + s.replicas[svc][i].ports[port] + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s from %s: %s %v", path, svc, resp.Status, err)
	}
	return string(b)
}

func (s *stack) redisCLI(t *testing.T, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.replicas["redis"][0].ports[6379])
	out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %q: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// run runs the one-off service name like `docker compose run --rm name args...`:
// its dependencies must meet their conditions, and it exits.
func (s *stack) run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	svc := s.p.Services[name]
	s.waitDependencies(t, svc)
	r := s.replicas[name][0]
	cmd := s.process(t, svc, r, args...).command()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		<-ctx.Done()
		if cmd.Process != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			_ = cmd.Process.Kill()
		}
	}()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("compose run %s %q: %v\n%s", name, args, err, stderr.String())
	}
	return out
}

// status is the part of `enqueue status -json` the README promises.
type status struct {
	Batch     string `json:"batch"`
	Vendor    string `json:"vendor"`
	Finished  bool   `json:"finished"`
	Read      int64  `json:"read"`
	Rejected  int64  `json:"rejected"`
	Delivered int64  `json:"delivered"`
	Refused   int64  `json:"refused"`
	Failed    int64  `json:"failed"`
	Uncertain int64  `json:"uncertain"`
	Pending   int64  `json:"pending"`
}

// deliver enqueues the example list to vendor through the enqueue service and
// waits for the workers to finish the batch; every accepted number must be
// delivered and in the fake vendor's ledger exactly once.
func (s *stack) deliver(t *testing.T, vendor string) status {
	out := s.run(t, "enqueue", "-vendor", vendor, "-campaign", "/examples/"+vendor+".json", "-json", "/examples/list.csv")
	var sum struct {
		Batch    string `json:"batch"`
		Accepted int64  `json:"accepted"`
	}
	if err := json.Unmarshal(out, &sum); err != nil || sum.Batch == "" || sum.Accepted == 0 {
		t.Fatalf("enqueue -json = %q (%v); want a batch with accepted numbers", out, err)
	}
	var st status
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := s.run(t, "enqueue", "status", "-json", sum.Batch)
		if err := json.Unmarshal(out, &st); err != nil {
			t.Fatalf("enqueue status -json = %q: %v", out, err)
		}
		if st.Finished {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch %s not finished after 30 s: %+v", sum.Batch, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st.Delivered != sum.Accepted || st.Read != st.Rejected+st.Delivered+st.Refused+st.Failed+st.Uncertain+st.Pending {
		t.Errorf("batch %s account %+v; want all %d accepted delivered and the sum to hold", sum.Batch, st, sum.Accepted)
	}
	var ledger struct {
		Numbers map[string]int `json:"numbers"`
	}
	// The fake's admin port is the one the file publishes.
	fv := s.p.Services["fakevendor"]
	body := s.get(t, "fakevendor", 0, fv.Ports[0].Target, "/_admin/ledger?vendor="+vendor)
	if err := json.Unmarshal([]byte(body), &ledger); err != nil {
		t.Fatal(err)
	}
	for _, c := range ledger.Numbers {
		if c != 1 {
			// The number itself stays out of the test log.
			t.Errorf("%s ledger: a number received %d times", vendor, c)
		}
	}
	if int64(len(ledger.Numbers)) != sum.Accepted {
		t.Errorf("%s ledger holds %d numbers; want the %d accepted", vendor, len(ledger.Numbers), sum.Accepted)
	}
	return st
}

// checkJSONLog checks that every line r wrote is a JSON object (go-redis's own lines
// included), apart from the supervisor's notes.
func checkJSONLog(t *testing.T, r *replica) {
	t.Helper()
	f, err := os.Open(r.log.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines, goRedis := 0, 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "--- supervisor:") {
			continue
		}
		lines++
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("%s logged a line that is not JSON: %q", r.name(), line)
		}
		if m["component"] == "go-redis" {
			goRedis++
		}
	}
	t.Logf("%s: %d lines, %d of them from go-redis", r.name(), lines, goRedis)
	if lines == 0 {
		t.Errorf("%s logged nothing", r.name())
	}
}
