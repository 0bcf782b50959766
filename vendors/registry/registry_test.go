package registry

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dialq/dialq/chunking"
)

func TestEntries(t *testing.T) {
	names, types := map[string]bool{}, map[string]bool{}
	for _, v := range All() {
		if v.Name == "" || v.Name != strings.ToLower(v.Name) || strings.ContainsAny(v.Name, " _-:,") {
			t.Errorf("vendor %q: a name is one lower-case word (it prefixes env variables and queues)", v.Name)
		}
		if names[v.Name] || types[v.PartType] {
			t.Errorf("vendor %q: name or part type %q repeated", v.Name, v.PartType)
		}
		names[v.Name], types[v.PartType] = true, true
		// jobs.ErrorHandler settles only tasks whose type starts "dial:".
		if !strings.HasPrefix(v.PartType, "dial:"+v.Name+":") {
			t.Errorf("vendor %q: part type %q; want dial:%s:<op>", v.Name, v.PartType, v.Name)
		}
		p, err := Profile(v.Name)
		if err != nil || Validate(p) != nil {
			t.Errorf("Profile(%s) = %+v, %v; want a valid profile", v.Name, p, err)
		}
		if v.Limits.Unit == "" && (v.Limits.MaxPart > 0 || v.Limits.MaxCall > 0) {
			t.Errorf("vendor %q: a hard limit needs its unit for the messages", v.Name)
		}
		if (v.Fields.Param == 0) != (v.Fields.Params == 0) {
			t.Errorf("vendor %q: call parameters need both a count and a length", v.Name)
		}
	}
	if got := strings.Join(Names(), ","); got != "nxcloud,yccall,speech,flashai" {
		t.Errorf("Names() = %s", got)
	}
	if got := OneOf(); got != "nxcloud, yccall, speech or flashai" {
		t.Errorf("OneOf() = %s", got)
	}
}

// TestValidate keeps the messages enqueue prints (cmd/enqueue's tests check some).
func TestValidate(t *testing.T) {
	tests := []struct {
		p    chunking.Profile
		want string
	}{
		{chunking.Profile{Vendor: NXCloud, PartSize: 1000, CallSize: 1000}, ""},
		{chunking.Profile{Vendor: NXCloud, PartSize: 2000, CallSize: 1000}, "nxcloud: a part is one vendor task made by one call, so part size must equal call size"},
		{chunking.Profile{Vendor: Yccall, PartSize: 10000, CallSize: 10000}, ""},
		{chunking.Profile{Vendor: Yccall, PartSize: 10001, CallSize: 10001}, "yccall: part size 10001 exceeds the vendor's 10,000 numbers a task"},
		{chunking.Profile{Vendor: Yccall, PartSize: 5000, CallSize: 5000}, ""},
		{chunking.Profile{Vendor: Yccall, PartSize: 10000, CallSize: 5000}, "yccall: a part is one vendor task made by one call, so part size must equal call size"},
		{chunking.Profile{Vendor: Speech, PartSize: 20000, CallSize: 1000}, ""},
		{chunking.Profile{Vendor: Speech, PartSize: 20001, CallSize: 1000}, "speech: part size 20001 exceeds the vendor's 20,000 customers a task"},
		{chunking.Profile{Vendor: Speech, PartSize: 20000, CallSize: 1001}, "speech: call size 1001 exceeds the vendor's 1,000 customers a call"},
		{chunking.Profile{Vendor: Speech, PartSize: 100, CallSize: 200}, "speech: call size 200 exceeds part size 100"},
		{chunking.Profile{Vendor: FlashAI, PartSize: 500, CallSize: 500}, ""},
		{chunking.Profile{Vendor: FlashAI}, "flashai: part and call sizes must be at least 1"},
		{chunking.Profile{Vendor: "acme", PartSize: 10, CallSize: 10}, `unknown vendor "acme": want one of nxcloud, yccall, speech, flashai`},
	}
	for _, tt := range tests {
		err := Validate(tt.p)
		if (err == nil) != (tt.want == "") || err != nil && err.Error() != tt.want {
			t.Errorf("Validate(%+v) = %v; want %q", tt.p, err, tt.want)
		}
	}
}

// TestLinksNoVendorClient keeps the registry usable by the producer: it imports
// no vendor client, no Redis, asynq or HTTP.
func TestLinksNoVendorClient(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(path, ".") || strings.HasPrefix(path, "net") {
				if path != "github.com/dialq/dialq/chunking" {
					t.Errorf("%s imports %s: the registry imports chunking and the standard library only", f, path)
				}
			}
		}
	}
}
