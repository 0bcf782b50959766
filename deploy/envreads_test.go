package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// envReads is what a command reads from its environment, derived from the source
// of the packages it links (not a list kept by hand):
//   - in dialq's packages, every call getenv(NAME), os.Getenv(NAME),
//     envconf.Or(getenv, NAME, default) and envconf.Secret(getenv, NAME) (which
//     reads NAME and NAME_FILE), NAME being a string literal, a constant, a range
//     over a literal list, or an expression of those (a computed part, such as
//     strings.ToUpper(vendor)+"_RATE", becomes a wildcard);
//   - in the OpenTelemetry SDK and OTLP exporter it links, the OTEL_* names their
//     source spells out.
//
// A name passed through a function parameter cannot be followed: keep variable
// names literal (or constants) at the getenv call.
type envReads struct {
	exact    map[string]bool
	patterns []*regexp.Regexp
	// secrets are the names read with envconf.Secret: they may come as a file.
	secrets map[string]bool
	// defaults are envconf.Or's defaults, by name.
	defaults map[string]string
	// wrappers are functions that read the variable named by one of their
	// parameters (enqueue's envString), by function name.
	wrappers map[string]wrapper
}

type wrapper struct {
	arg         int
	secret, or_ bool
}

func (r *envReads) reads(name string) bool {
	if r.exact[name] {
		return true
	}
	for _, p := range r.patterns {
		if p.MatchString(name) {
			return true
		}
	}
	return false
}

const module = "github.com/dialq/dialq"

type goPackage struct {
	path, dir string
	files     []string
}

// deps lists the non-standard packages cmd links.
func deps(t *testing.T, cmd string) []goPackage {
	t.Helper()
	c := exec.Command("go", "list", "-deps", "-f", `{{if not .Standard}}{{.ImportPath}}	{{.Dir}}	{{join .GoFiles " "}}{{end}}`, cmd)
	c.Dir = repoRoot
	out, err := c.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", cmd, err)
	}
	var pkgs []goPackage
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 {
			pkgs = append(pkgs, goPackage{path: f[0], dir: f[1], files: strings.Fields(f[2])})
		}
	}
	return pkgs
}

var (
	otelLiteral  = regexp.MustCompile(`"(OTEL_[A-Z0-9_]+)"`)
	otlpEnvName  = regexp.MustCompile(`(?:envconfig\.With\w+|WithEnv\w+)\(\s*"([A-Z0-9_]+)"`)
	printfVerb   = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)
	wildcard     = `[A-Z0-9][A-Z0-9_]*`
	envNameShape = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
)

// readEnv derives what cmd (such as "./cmd/worker") reads.
func readEnv(t *testing.T, cmd string) *envReads {
	t.Helper()
	r := &envReads{exact: map[string]bool{}, secrets: map[string]bool{}, defaults: map[string]string{}, wrappers: map[string]wrapper{}}
	pkgs := deps(t, cmd)
	fset := token.NewFileSet()
	parsed := map[string][]*ast.File{}
	consts := map[string]map[string]string{} // import path -> name -> value
	vars := map[string]map[string]ast.Expr{} // import path -> package var -> value
	for _, p := range pkgs {
		if strings.HasPrefix(p.path, "go.opentelemetry.io/") {
			otelNames(t, p, r)
			continue
		}
		if !strings.HasPrefix(p.path, module) || p.path == module+"/internal/envconf" {
			continue // envconf's own reads are its callers' names, expanded below
		}
		consts[p.path], vars[p.path] = map[string]string{}, map[string]ast.Expr{}
		for _, name := range p.files {
			f, err := parser.ParseFile(fset, filepath.Join(p.dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			parsed[p.path] = append(parsed[p.path], f)
			for _, d := range f.Decls {
				if g, ok := d.(*ast.GenDecl); ok && (g.Tok == token.CONST || g.Tok == token.VAR) {
					for _, s := range g.Specs {
						vs := s.(*ast.ValueSpec)
						for i, n := range vs.Names {
							if i < len(vs.Values) && g.Tok == token.VAR {
								vars[p.path][n.Name] = vs.Values[i]
							} else if i < len(vs.Values) {
								if v, ok := vs.Values[i].(*ast.BasicLit); ok && v.Kind == token.STRING {
									consts[p.path][n.Name], _ = strconv.Unquote(v.Value)
								}
							}
						}
					}
				}
			}
		}
	}
	// Twice: the second pass reads the calls of wrappers the first one found.
	for range 2 {
		collectAll(t, fset, parsed, consts, vars, r)
	}
	return r
}

func collectAll(t *testing.T, fset *token.FileSet, parsed map[string][]*ast.File, consts map[string]map[string]string,
	vars map[string]map[string]ast.Expr, r *envReads) {
	for path, files := range parsed {
		for _, f := range files {
			imports := map[string]string{}
			for _, is := range f.Imports {
				p, _ := strconv.Unquote(is.Path.Value)
				name := p[strings.LastIndex(p, "/")+1:]
				if is.Name != nil {
					name = is.Name.Name
				}
				imports[name] = p
			}
			for _, d := range f.Decls {
				e := &exprResolver{pkg: path, imports: imports, consts: consts, bound: map[string]ast.Expr{}}
				for k, v := range vars[path] {
					e.bound[k] = v
				}
				// A function's own name := expr bindings (the last one wins).
				ast.Inspect(d, func(n ast.Node) bool {
					if as, ok := n.(*ast.AssignStmt); ok && as.Tok == token.DEFINE && len(as.Lhs) == len(as.Rhs) {
						for i, l := range as.Lhs {
							if id, ok := l.(*ast.Ident); ok {
								e.bound[id.Name] = as.Rhs[i]
							}
						}
					}
					return true
				})
				if fd, ok := d.(*ast.FuncDecl); ok {
					e.funcName, e.params = fd.Name.Name, map[string]int{}
					i := 0
					for _, field := range fd.Type.Params.List {
						for _, n := range field.Names {
							e.params[n.Name] = i
							i++
						}
						if len(field.Names) == 0 {
							i++
						}
					}
				}
				collectReads(t, fset, d, e, r)
			}
		}
	}
}

// otelNames adds the OTEL_* variables an OpenTelemetry package's source names.
func otelNames(t *testing.T, p goPackage, r *envReads) {
	t.Helper()
	for _, name := range p.files {
		b, err := os.ReadFile(filepath.Join(p.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range otelLiteral.FindAllSubmatch(b, -1) {
			r.exact[string(m[1])] = true
		}
		// The OTLP exporter builds its names from a namespace and a suffix.
		if strings.Contains(string(b), `Namespace: "OTEL_EXPORTER_OTLP"`) {
			for _, m := range otlpEnvName.FindAllSubmatch(b, -1) {
				r.exact["OTEL_EXPORTER_OTLP_"+string(m[1])] = true
			}
		}
	}
}

type exprResolver struct {
	pkg     string
	imports map[string]string
	consts  map[string]map[string]string
	// ranged binds a range variable to the literal list it ranges over.
	ranged map[string][]string
	// bound holds package variables and the function's name := expr.
	bound map[string]ast.Expr
	depth int
	// funcName and params describe the function being read.
	funcName string
	params   map[string]int
}

// pattern returns a regular expression for the names expr can evaluate to, and
// whether any part of it was resolved.
func (e *exprResolver) pattern(expr ast.Expr) (string, bool) {
	switch x := expr.(type) {
	case *ast.BasicLit:
		if s, err := strconv.Unquote(x.Value); err == nil && x.Kind == token.STRING {
			return regexp.QuoteMeta(s), true
		}
	case *ast.Ident:
		if v, ok := e.consts[e.pkg][x.Name]; ok {
			return regexp.QuoteMeta(v), true
		}
		if vs, ok := e.ranged[x.Name]; ok {
			q := make([]string, len(vs))
			for i, v := range vs {
				q[i] = regexp.QuoteMeta(v)
			}
			return "(?:" + strings.Join(q, "|") + ")", true
		}
		if b, ok := e.bound[x.Name]; ok && e.depth < 5 {
			e.depth++
			defer func() { e.depth-- }()
			return e.pattern(b)
		}
	case *ast.SelectorExpr:
		if id, ok := x.X.(*ast.Ident); ok {
			if v, ok := e.consts[e.imports[id.Name]][x.Sel.Name]; ok {
				return regexp.QuoteMeta(v), true
			}
		}
	case *ast.ParenExpr:
		return e.pattern(x.X)
	case *ast.BinaryExpr:
		if x.Op == token.ADD {
			l, lok := e.pattern(x.X)
			rr, rok := e.pattern(x.Y)
			return l + rr, lok || rok
		}
	case *ast.CallExpr:
		if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sprintf" && len(x.Args) > 0 {
			if lit, ok := x.Args[0].(*ast.BasicLit); ok {
				s, _ := strconv.Unquote(lit.Value)
				parts := printfVerb.Split(s, -1)
				for i := range parts {
					parts[i] = regexp.QuoteMeta(parts[i])
				}
				return strings.Join(parts, wildcard), true
			}
		}
	}
	return wildcard, false
}

// literalList returns the strings of a composite literal of string literals and
// constants.
func (e *exprResolver) literalList(expr ast.Expr) ([]string, bool) {
	if id, ok := expr.(*ast.Ident); ok && e.bound[id.Name] != nil {
		expr = e.bound[id.Name]
	}
	cl, ok := expr.(*ast.CompositeLit)
	if !ok {
		return nil, false
	}
	var out []string
	for _, el := range cl.Elts {
		p, ok := e.pattern(el)
		if !ok || regexp.QuoteMeta(p) != p && !envNameShape.MatchString(strings.ReplaceAll(p, `\`, "")) {
			return nil, false
		}
		out = append(out, strings.ReplaceAll(p, `\`, ""))
	}
	return out, true
}

// envCall returns the argument of call that names a variable, and whether it is
// read with envconf.Secret or envconf.Or.
func envCall(call *ast.CallExpr, wrappers map[string]wrapper) (name ast.Expr, secret, or bool) {
	callee := ""
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		callee = fn.Name
	case *ast.SelectorExpr:
		callee = fn.Sel.Name
	}
	if w, ok := wrappers[callee]; ok && w.arg < len(call.Args) {
		return call.Args[w.arg], w.secret, w.or_
	}
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		if fn.Name == "getenv" && len(call.Args) == 1 {
			return call.Args[0], false, false
		}
	case *ast.SelectorExpr:
		x, _ := fn.X.(*ast.Ident)
		switch {
		case (fn.Sel.Name == "Getenv" || fn.Sel.Name == "LookupEnv" || fn.Sel.Name == "getenv") && len(call.Args) == 1:
			return call.Args[0], false, false
		case x != nil && x.Name == "envconf" && fn.Sel.Name == "Secret" && len(call.Args) == 2:
			return call.Args[1], true, false
		case x != nil && x.Name == "envconf" && fn.Sel.Name == "Or" && len(call.Args) == 3:
			return call.Args[1], false, true
		}
	}
	return nil, false, false
}

func collectReads(t *testing.T, fset *token.FileSet, f ast.Node, e *exprResolver, r *envReads) {
	add := func(call *ast.CallExpr) {
		name, secret, or := envCall(call, r.wrappers)
		if name == nil {
			return
		}
		p, ok := e.pattern(name)
		if id, isIdent := name.(*ast.Ident); !ok && isIdent {
			if i, isParam := e.params[id.Name]; isParam {
				r.wrappers[e.funcName] = wrapper{arg: i, secret: secret, or_: or}
				return
			}
		}
		if !ok {
			t.Logf("%s: cannot tell which variable this reads", fset.Position(call.Pos()))
			return
		}
		names := []string{p}
		if secret {
			names = append(names, p+"_FILE")
		}
		for _, n := range names {
			if unq := strings.ReplaceAll(n, `\`, ""); envNameShape.MatchString(unq) && regexp.QuoteMeta(unq) == n {
				r.exact[unq] = true
				if secret && !strings.HasSuffix(unq, "_FILE") {
					r.secrets[unq] = true
				}
				if or {
					if lit, ok := call.Args[2].(*ast.BasicLit); ok {
						r.defaults[unq], _ = strconv.Unquote(lit.Value)
					}
				}
				continue
			}
			r.patterns = append(r.patterns, regexp.MustCompile("^"+n+"$"))
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if rs, ok := n.(*ast.RangeStmt); ok {
			if v, ok := rs.Value.(*ast.Ident); ok {
				if vals, ok := e.literalList(rs.X); ok {
					if e.ranged == nil {
						e.ranged = map[string][]string{}
					}
					prev, had := e.ranged[v.Name]
					e.ranged[v.Name] = vals
					ast.Inspect(rs.Body, func(m ast.Node) bool {
						if c, ok := m.(*ast.CallExpr); ok {
							add(c)
						}
						return true
					})
					if had {
						e.ranged[v.Name] = prev
					} else {
						delete(e.ranged, v.Name)
					}
					return false
				}
			}
		}
		if c, ok := n.(*ast.CallExpr); ok {
			add(c)
		}
		return true
	})
}

// TestEnvReads pins the derivation on variables the worker is known to read.
func TestEnvReads(t *testing.T) {
	r := readEnv(t, "./cmd/worker")
	for _, name := range []string{"REDIS_URL", "WORKER_SHUTDOWN_TIMEOUT", "NXCLOUD_ACCESS_SECRET_FILE", "YCCALL_RATE",
		"FLASHAI_CLIENT_SECRET_FILE", "REDIS_SENTINEL_MASTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS",
		"OTEL_RESOURCE_ATTRIBUTES", "WORKER_GAUGES_ONLY"} {
		if !r.reads(name) {
			t.Errorf("the worker reads %s, the derivation says not", name)
		}
	}
	for _, name := range []string{"WORKER_CONCURENCY", "NXCLOUD_SECRET", "REDIS_ADDR", "DIALQ_VENDOR", "OTEL_FOO"} {
		if r.reads(name) {
			t.Errorf("the derivation says the worker reads %s", name)
		}
	}
	if !r.secrets["NXCLOUD_ACCESS_SECRET"] || r.secrets["NXCLOUD_ACCESS_KEY"] {
		t.Errorf("secrets = %v", r.secrets)
	}
	if r.defaults["WORKER_SHUTDOWN_TIMEOUT"] == "" {
		t.Errorf("no default found for WORKER_SHUTDOWN_TIMEOUT: %v", r.defaults)
	}
	// enqueue reads its flags' defaults through a helper taking the name.
	e := readEnv(t, "./cmd/enqueue")
	for _, name := range []string{"DIALQ_VENDOR", "REDIS_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if !e.reads(name) {
			t.Errorf("enqueue reads %s, the derivation says not", name)
		}
	}
	if e.reads("WORKER_CONCURRENCY") {
		t.Error("the derivation says enqueue reads WORKER_CONCURRENCY")
	}
}
