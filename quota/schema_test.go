package quota

import (
	"testing"

	"github.com/dialq/dialq/internal/luacheck"
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
	luacheck.ExpectUnknown(t, known(), []luacheck.Case{
		{Name: "take as written", Src: scripts["takeScript"], Want: nil},
		{Name: "misspelt kind", Src: `if kind == 'slide' then return 0 end`, Want: []string{"slide"}},
		{Name: "unknown table key", Src: `local w = {s = 1, hour = 2}`, Want: []string{"hour"}},
		{Name: "unknown field", Src: `redis.call('HGET', KEYS[1], 'taken')`, Want: []string{"taken"}},
	})
}
