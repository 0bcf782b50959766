// Package luacheck holds the Redis Lua scripts of a package to the Go constants
// they spell out. A script names states and hash fields as quoted strings and
// table keys; nothing in Redis refuses an unknown one, so a misspelt 'runing' in
// a script would silently never match. Scripts reads every redis.NewScript of a
// package from its source (as River's tests parse theirs), Names lists what a
// script names, and a package's test compares those names with its constants.
package luacheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Scripts returns the source of every redis.NewScript call with a literal
// argument in the non-test Go files of dir, keyed by the variable it is assigned
// to (or file:line when it is not assigned).
func Scripts(dir string) (map[string]string, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			return nil, err
		}
		var perr error
		check := func(n ast.Node) bool {
			if src, ok := newScriptSource(n); ok {
				out[fset.Position(n.Pos()).String()] = src
			} else if call, isCall := n.(*ast.CallExpr); isCall && isNewScript(call) {
				perr = fmt.Errorf("%s: redis.NewScript without a literal source cannot be checked", fset.Position(n.Pos()))
			}
			return true
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, isSpec := n.(*ast.ValueSpec)
			if isSpec {
				for i, v := range vs.Values {
					if src, ok := newScriptSource(v); ok && i < len(vs.Names) {
						out[vs.Names[i].Name] = src
						continue
					}
					ast.Inspect(v, check)
				}
				return false
			}
			return check(n)
		})
		if perr != nil {
			return nil, perr
		}
	}
	return out, nil
}

func isNewScript(call *ast.CallExpr) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "NewScript"
}

// newScriptSource returns the literal source of a redis.NewScript(`…`) call.
func newScriptSource(n ast.Node) (string, bool) {
	call, ok := n.(*ast.CallExpr)
	if !ok || !isNewScript(call) || len(call.Args) != 1 {
		return "", false
	}
	lit, ok := call.Args[0].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

var (
	comment  = regexp.MustCompile(`--[^\n]*`)
	quoted   = regexp.MustCompile(`'([^'\\]*)'|"([^"\\]*)"`)
	command  = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	escape   = regexp.MustCompile(`%[a-zA-Z]`)
	word     = regexp.MustCompile(`[a-z_]+`)
	table    = regexp.MustCompile(`\{[^{}]*\}`)
	tableKey = regexp.MustCompile(`(?:^|[{,;])\s*([A-Za-z_][A-Za-z0-9_]*)\s*=[^=]`)
)

// Names lists, sorted and once each, the names src spells: the lower-case words
// of its quoted strings (Lua pattern items such as %d left out) and the keys of
// its table constructors. Upper-case strings are Redis commands and options, not
// names.
func Names(src string) []string {
	seen := map[string]bool{}
	// Comments go first (a script's strings hold no "--").
	src = comment.ReplaceAllString(src, "")
	for _, m := range quoted.FindAllStringSubmatch(src, -1) {
		s := m[1] + m[2]
		if command.MatchString(s) {
			continue
		}
		for _, w := range word.FindAllString(escape.ReplaceAllString(s, ""), -1) {
			seen[w] = true
		}
	}
	// Table keys outside strings.
	code := quoted.ReplaceAllString(src, "''")
	for _, t := range table.FindAllString(code, -1) {
		for _, m := range tableKey.FindAllStringSubmatch(t, -1) {
			seen[m[1]] = true
		}
	}
	out := make([]string, 0, len(seen))
	for w := range seen {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}

// Unknown returns the names of src that known does not hold.
func Unknown(src string, known map[string]bool) []string {
	var out []string
	for _, n := range Names(src) {
		if !known[n] {
			out = append(out, n)
		}
	}
	return out
}

// Known builds the set of names a package's constants spell: each value's
// lower-case words, as Names reads a quoted string.
func Known(values ...string) map[string]bool {
	set := map[string]bool{}
	for _, v := range values {
		for _, w := range word.FindAllString(v, -1) {
			set[w] = true
		}
	}
	return set
}

// Check is a package's schema test in one call: it parses the Lua scripts of dir,
// fails t when fewer than min are found (the parse would be broken) or when a
// script spells a name known does not hold (where names the file of the
// constants, for the message), and returns the scripts for further checks.
func Check(t testing.TB, dir string, min int, known map[string]bool, where string) map[string]string {
	t.Helper()
	scripts, err := Scripts(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(scripts) < min {
		t.Fatalf("found %d scripts in %s; want %d or more (is the parse broken?)", len(scripts), dir, min)
	}
	for name, src := range scripts {
		if bad := Unknown(src, known); len(bad) > 0 {
			t.Errorf("script %s names %q, which no constant holds (%s)", name, bad, where)
		}
	}
	return scripts
}

// Case is a script source and the unknown names Unknown must find in it.
type Case struct {
	Name, Src string
	Want      []string
}

// ExpectUnknown runs each case as a subtest of t: the proof, in each package, that
// its schema check can fail.
func ExpectUnknown(t *testing.T, known map[string]bool, cases []Case) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if got := Unknown(c.Src, known); !slices.Equal(got, c.Want) {
				t.Errorf("Unknown(%q) = %q; want %q", c.Src, got, c.Want)
			}
		})
	}
}
