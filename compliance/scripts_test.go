package compliance

import (
	"testing"

	"github.com/dialq/dialq/internal/luacheck"
)

// TestScriptsNameNothing: compliance's scripts work on numbers, buckets and caps
// passed as KEYS and ARGV; they name no state or field. A name creeping in (a
// batch state, say) must come with a constant and a check like batch's.
func TestScriptsNameNothing(t *testing.T) {
	scripts, err := luacheck.Scripts(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(scripts) == 0 {
		t.Fatal("found no scripts (is the parse broken?)")
	}
	for name, src := range scripts {
		if names := luacheck.Names(src); len(names) > 0 {
			t.Errorf("script %s names %q; compliance's scripts take every name as an argument", name, names)
		}
	}
}
