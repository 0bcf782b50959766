package results

import (
	"testing"

	"github.com/dialq/dialq/internal/luacheck"
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
	luacheck.ExpectUnknown(t, known(), []luacheck.Case{
		{Name: "record as written", Src: scripts["recordScript"], Want: nil},
		{Name: "misspelt counter", Src: `redis.call('HINCRBY', KEYS[1], 'redialed', ARGV[3])`, Want: []string{"redialed"}},
		{Name: "unknown prefix", Src: `if string.sub(cur, 1, 4) == 'due:' then return 0 end`, Want: []string{"due"}},
		{Name: "unknown table key", Src: `local c = {answered = 1, busy = 2}`, Want: []string{"busy"}},
	})
}
