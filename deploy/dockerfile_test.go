package deploy

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is where the container files live, relative to this package.
const repoRoot = ".."

// stage is one FROM of the Dockerfile with what the runtime sees of it; a stage
// built FROM an earlier one inherits its binaries, user and entrypoint.
type stage struct {
	name, from  string
	bins        []string // absolute paths of files copied from the build output
	user        string
	entrypoint  []string
	exposes     []string
	healthcheck string
}

// dockerfile is the parsed Dockerfile: its go build step and its stages in order.
type dockerfile struct {
	build  string // the RUN with go build, continuation lines joined
	outDir string // its -o directory
	stages []*stage
}

// instructions returns the Dockerfile's instructions, continuation lines joined and
// comments dropped.
func instructions(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
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

var outFlag = regexp.MustCompile(`-o\s+(\S+)`)

func parseDockerfile(t *testing.T) *dockerfile {
	t.Helper()
	df := &dockerfile{}
	byName := map[string]*stage{}
	var cur *stage
	for _, ins := range instructions(t) {
		keyword, args, _ := strings.Cut(ins, " ")
		args = strings.TrimSpace(args)
		if strings.ToUpper(keyword) == "FROM" {
			f := strings.Fields(args)
			cur = &stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				cur.name = f[2]
			}
			if parent, ok := byName[cur.from]; ok {
				cur.bins = slices.Clone(parent.bins)
				cur.user, cur.entrypoint, cur.healthcheck = parent.user, parent.entrypoint, parent.healthcheck
				cur.exposes = slices.Clone(parent.exposes)
			}
			df.stages = append(df.stages, cur)
			if cur.name != "" {
				byName[cur.name] = cur
			}
			continue
		}
		if cur == nil {
			continue // parser directives and ARGs before the first FROM
		}
		switch strings.ToUpper(keyword) {
		case "RUN":
			if strings.Contains(args, "go build") {
				df.build = args
				if m := outFlag.FindStringSubmatch(args); m != nil {
					df.outDir = m[1]
				}
			}
		case "COPY":
			f := strings.Fields(args)
			if len(f) < 3 || !strings.HasPrefix(f[0], "--from=") {
				continue
			}
			dst := f[len(f)-1]
			for _, src := range f[1 : len(f)-1] {
				if strings.HasSuffix(dst, "/") {
					cur.bins = append(cur.bins, path.Join(dst, path.Base(src)))
				} else {
					cur.bins = append(cur.bins, dst)
				}
			}
		case "USER":
			cur.user = args
		case "ENTRYPOINT":
			var argv []string
			if err := json.Unmarshal([]byte(args), &argv); err != nil {
				t.Fatalf("ENTRYPOINT %s: want exec form (shell form keeps SIGTERM from the program): %v", args, err)
			}
			cur.entrypoint = argv
		case "EXPOSE":
			cur.exposes = append(cur.exposes, strings.Fields(args)...)
		case "HEALTHCHECK":
			cur.healthcheck = args
		}
	}
	if len(df.stages) == 0 {
		t.Fatal("Dockerfile has no FROM")
	}
	return df
}

// target returns the stage `docker build --target name` builds; "" is the last.
func (df *dockerfile) target(name string) *stage {
	if name == "" {
		return df.stages[len(df.stages)-1]
	}
	for _, s := range df.stages {
		if s.name == name {
			return s
		}
	}
	return nil
}

// built reports whether the go build step produces the binary at path (copied from
// its output directory): that is, whether it builds ./cmd/<base>.
func (df *dockerfile) built(bin string) bool {
	return slices.Contains(strings.Fields(df.build), "./cmd/"+path.Base(bin))
}

func TestDockerfile(t *testing.T) {
	df := parseDockerfile(t)
	if from := df.stages[0].from; !strings.HasPrefix(from, "golang:1.26") {
		t.Errorf("first FROM = %q; want a golang:1.26 build stage (go.mod says go 1.26)", from)
	}
	for _, want := range []string{"CGO_ENABLED=0", "type=cache", "-trimpath", "internal/buildinfo.version=", "internal/buildinfo.revision="} {
		if !strings.Contains(df.build, want) {
			t.Errorf("go build step %q lacks %q", df.build, want)
		}
	}

	prod := df.target("")
	if len(prod.entrypoint) == 0 || prod.entrypoint[0] != "/usr/local/bin/worker" {
		t.Errorf("default target's ENTRYPOINT = %q; want [\"/usr/local/bin/worker\"]", prod.entrypoint)
	}
	for _, bin := range prod.bins {
		if path.Base(bin) == "fakevendor" {
			t.Errorf("default target holds %s: the fake vendor stays out of the production image", bin)
		}
	}
	if !slices.Contains(prod.exposes, "8080") || !strings.Contains(prod.healthcheck, ":8080/healthz") {
		t.Errorf("default target EXPOSE %q, HEALTHCHECK %q; want 8080 and GET :8080/healthz", prod.exposes, prod.healthcheck)
	}
	for _, s := range df.stages[1:] {
		if len(s.bins) == 0 {
			continue
		}
		if u, _, _ := strings.Cut(s.user, ":"); u == "" || u == "root" || u == "0" {
			t.Errorf("stage %q runs as %q; want a numeric non-root USER", s.name, s.user)
		}
		for _, bin := range s.bins {
			if !df.built(bin) {
				t.Errorf("stage %q copies %s, which the go build step does not build", s.name, bin)
			}
		}
	}
}

func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	// Root binaries (go build ./cmd/x at the root), test binaries, keys, the VCS.
	for _, want := range []string{".git", "**/*.pem", "enqueue", "worker", "demo", "**/*.test"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
	// Docker anchors patterns at the context root: an entry naming a directory the
	// build needs would drop it, and with it the build.
	for _, l := range lines {
		l = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(l), "/"), "/")
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if fi, err := os.Stat(filepath.Join(repoRoot, l)); err == nil && fi.IsDir() && l != ".git" && l != ".ci" && l != ".notes" {
			t.Errorf(".dockerignore entry %q is a source directory", l)
		}
	}
}
