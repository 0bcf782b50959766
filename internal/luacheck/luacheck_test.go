package luacheck

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNames(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"commands are not names", `redis.call('HSET', KEYS[1], 'state', 'running')`, []string{"running", "state"}},
		{"pattern items dropped", `string.match(f, '^done:(%d+)-(%d+)$')`, []string{"done"}},
		{"double quotes", `if x == "paused" then return 1 end`, []string{"paused"}},
		{"table keys", `local final = {done = true, failed = true}`, []string{"done", "failed"}},
		{"comparison is not a key", `local t = {a == b}`, nil},
		{"assignment is not a key", "local lo, hi = 1, 2\nreturn {-1, 0}", nil},
		{"comments ignored", "-- don't 'count' this\nreturn 1", nil},
		{"concatenated suffix", `redis.call('HGET', KEYS[1], ARGV[1] .. ':err')`, []string{"err"}},
		{"numbers", `if e == '0' then return '1' end`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Names(tt.src), cmp.Comparer(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b) })); diff != "" {
				t.Errorf("Names(%q) (-want +got):\n%s", tt.src, diff)
			}
		})
	}
}

func TestScripts(t *testing.T) {
	dir := t.TempDir()
	src := "package p\n\nimport \"github.com/redis/go-redis/v9\"\n\nvar one = redis.NewScript(`return 'x'`)\n\nfunc f() { _ = redis.NewScript(\"return 2\") }\n"
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p_test.go"), []byte("package p\n\nvar two = redis.NewScript(`skip`)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Scripts(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["one"] != "return 'x'" {
		t.Errorf("Scripts = %q; want one (\"return 'x'\") and f's, not the test file's", got)
	}
	bad := "package p\n\nvar src = \"return 1\"\nvar one = redis.NewScript(src)\n"
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Scripts(dir); err == nil {
		t.Error("Scripts accepted a script whose source is not a literal")
	}
}

// recorder is a testing.TB that keeps what Check reports instead of failing.
type recorder struct {
	testing.TB
	errs, fatals []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatal(args ...any) {
	r.fatals = append(r.fatals, fmt.Sprint(args...))
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// Check reports a script that spells an unknown name, and too few scripts, and
// passes a script that spells only known ones.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	src := "package p\n\nimport \"github.com/redis/go-redis/v9\"\n\nvar ok = redis.NewScript(`return 'done'`)\nvar bad = redis.NewScript(`return 'dun'`)\n"
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                 string
		min                  int
		wantErrs, wantFatals int
	}{
		{"one unknown name", 2, 1, 0},
		{"too few scripts", 3, 0, 1},
	}
	for _, tt := range tests {
		r := &recorder{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); Check(r, dir, tt.min, Known("done"), "p.go") }()
		<-done
		if len(r.errs) != tt.wantErrs || len(r.fatals) != tt.wantFatals {
			t.Errorf("%s: errors %q, fatals %q; want %d and %d", tt.name, r.errs, r.fatals, tt.wantErrs, tt.wantFatals)
		}
		if tt.wantErrs > 0 && !strings.Contains(r.errs[0], `"dun"`) {
			t.Errorf("%s: %q does not name the unknown word", tt.name, r.errs[0])
		}
	}
}
