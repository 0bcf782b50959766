package results

import (
	"testing"

	"github.com/dialq/dialq/internal/luacheck"
	"github.com/google/go-cmp/cmp"
)

// known is every name the results scripts may spell (schema.go).
func known() map[string]bool {
	return luacheck.Known(schemaNames...)
}

// TestScriptsNameOnlyConstants fails when a results script spells a counter or
// prefix that no Go constant holds: a misspelt counter would be written where
// Summary never reads it.
func TestScriptsNameOnlyConstants(t *testing.T) {
	// put and record at least.
	luacheck.Check(t, ".", 2, known(), "schema.go")
}

// TestScriptCheckCatchesUnknownNames proves the check above can fail.
func TestScriptCheckCatchesUnknownNames(t *testing.T) {
	scripts, err := luacheck.Scripts(".")
	if err != nil || scripts["recordScript"] == "" {
		t.Fatalf("recordScript not found: %v", err)
	}
	tests := []struct {
		name, src string
		want      []string
	}{
		{"record as written", scripts["recordScript"], nil},
		{"misspelt counter", `redis.call('HINCRBY', KEYS[1], 'redialed', ARGV[3])`, []string{"redialed"}},
		{"unknown prefix", `if string.sub(cur, 1, 4) == 'due:' then return 0 end`, []string{"due"}},
		{"unknown table key", `local c = {answered = 1, busy = 2}`, []string{"busy"}},
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
