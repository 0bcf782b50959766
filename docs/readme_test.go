// Package docs holds no code: its test keeps the README's package table true to
// the tree.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// packages lists the repository's Go package directories, relative to root.
func packages(t *testing.T, root string) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".go") {
			rel, err := filepath.Rel(root, filepath.Dir(path))
			if err != nil {
				return err
			}
			seen[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for p := range seen {
		if p != "." {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

var code = regexp.MustCompile("`([^`]+)`")

// covered reports whether the table names pkg: as `pkg`, or as one of the names a
// row for its parent lists (`internal/…` with `redisconf`, `vendors/{a,b}`).
func covered(rows []string, pkg string) bool {
	parent, base := filepath.Dir(pkg), filepath.Base(pkg)
	for _, row := range rows {
		cells := strings.SplitN(row, "|", 3)
		if len(cells) < 3 {
			continue
		}
		for _, m := range code.FindAllStringSubmatch(row, -1) {
			if m[1] == pkg {
				return true
			}
		}
		first := cells[1]
		if parent == "." || !strings.Contains(first, "`"+parent+"/") {
			continue
		}
		if strings.Contains(first, "{") && regexp.MustCompile(`[{,]`+regexp.QuoteMeta(base)+`[,}]`).MatchString(first) {
			return true
		}
		for _, m := range code.FindAllStringSubmatch(row, -1) {
			if m[1] == base {
				return true
			}
		}
	}
	return false
}

// TestReadmePackageTable fails when a package is missing from the README's table
// (How it fits together): the next engineer reads the tree from it.
func TestReadmePackageTable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "| package | job |")
	if start < 0 {
		t.Fatal("README has no package table (| package | job |)")
	}
	table := text[start:]
	if end := strings.Index(table, "\n\n"); end > 0 {
		table = table[:end]
	}
	rows := strings.Split(table, "\n")
	for _, pkg := range packages(t, "..") {
		if !covered(rows, pkg) {
			t.Errorf("package %s is not in the README's package table", pkg)
		}
	}
}

func TestCovered(t *testing.T) {
	rows := []string{
		"| `batch` | the ledger |",
		"| `vendors/{nxcloud,yccall}` | clients |",
		"| `internal/…` | `redisconf` (x), `envconf` |",
		"| `jobs` | handlers; `jobs/wiring` builds a worker |",
	}
	for pkg, want := range map[string]bool{
		"batch": true, "vendors/yccall": true, "internal/envconf": true, "jobs/wiring": true,
		"ledger": false, "vendors/speech": false, "internal/csvcell": false, "cmd/wiring": false,
	} {
		if got := covered(rows, pkg); got != want {
			t.Errorf("covered(%s) = %v; want %v", pkg, got, want)
		}
	}
}
