package buildinfo

import (
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name         string
		bi           *debug.BuildInfo
		ldV, ldR     string
		wantV, wantR string
	}{
		{"no build info", nil, "", "", "devel", Unknown},
		{"devel, no vcs", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "", "", "devel", Unknown},
		{"module version and clean tree", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs("0123abcd", "false")}, "", "", "v1.4.0", "0123abcd"},
		{"modified tree", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123abcd", "true")}, "", "", "devel", "0123abcd-dirty"},
		{"link time wins", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs("0123abcd", "true")}, "v2.0.0", "feedbeef", "v2.0.0", "feedbeef"},
		{"link time version only", &debug.BuildInfo{Settings: vcs("0123abcd", "false")}, " v2.0.0 ", "", "v2.0.0", "0123abcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, r := resolve(tt.bi, tt.ldV, tt.ldR)
			if v != tt.wantV || r != tt.wantR {
				t.Errorf("resolve() = %q, %q; want %q, %q", v, r, tt.wantV, tt.wantR)
			}
		})
	}
}

// TestLinkFlags builds a program the way the Dockerfile does and checks that the
// -X flags reach Version: a renamed variable would silently drop them.
func TestLinkFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "prog")
	pkg := "github.com/dialq/dialq/internal/buildinfo"
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X "+pkg+".version=v9.8.7 -X "+pkg+".revision=cafe1234", "./testdata/printversion")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(out)), "v9.8.7 cafe1234"; got != want {
		t.Errorf("built program prints %q; want %q", got, want)
	}
}
