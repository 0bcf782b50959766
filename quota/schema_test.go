package quota

import (
	"testing"

	"github.com/dialq/dialq/internal/luacheck"
	"github.com/google/go-cmp/cmp"
)

// known is every name the quota scripts may spell: the window kinds, and
// "-inf", Redis's own lowest score (ZREMRANGEBYSCORE), not a name of ours.
func known() map[string]bool {
	return luacheck.Known(windowSliding, windowDay, "-inf")
}

// TestScriptsNameOnlyConstants fails when a quota script spells a window kind or
// name that no Go constant holds: a misspelt kind would silently take the day
// branch.
func TestScriptsNameOnlyConstants(t *testing.T) {
	scripts, err := luacheck.Scripts(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(scripts) < 3 {
		t.Fatalf("found %d scripts; want take, give back and finish (is the parse broken?)", len(scripts))
	}
	k := known()
	for name, src := range scripts {
		if bad := luacheck.Unknown(src, k); len(bad) > 0 {
			t.Errorf("script %s names %q, which no constant holds (limiter.go)", name, bad)
		}
	}
}

// TestScriptCheckCatchesUnknownNames proves the check above can fail.
func TestScriptCheckCatchesUnknownNames(t *testing.T) {
	scripts, err := luacheck.Scripts(".")
	if err != nil || scripts["takeScript"] == "" {
		t.Fatalf("takeScript not found: %v", err)
	}
	tests := []struct {
		name, src string
		want      []string
	}{
		{"take as written", scripts["takeScript"], nil},
		{"misspelt kind", `if kind == 'slide' then return 0 end`, []string{"slide"}},
		{"unknown table key", `local w = {s = 1, hour = 2}`, []string{"hour"}},
		{"unknown field", `redis.call('HGET', KEYS[1], 'taken')`, []string{"taken"}},
	}
	k := known()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := luacheck.Unknown(tt.src, k)
			if !cmp.Equal(got, tt.want) {
				t.Errorf("Unknown(%q) = %q; want %q", tt.src, got, tt.want)
			}
		})
	}
}
