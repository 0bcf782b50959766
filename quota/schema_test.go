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
	// take, give back and finish at least.
	luacheck.Check(t, ".", 3, known(), "limiter.go")
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
