package ledgerstore

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/internal/luacheck"
)

// known is every name the ledger's scripts may spell: the Go constants of the
// schema (schema.go, state.go).
func known() map[string]bool {
	var names []string
	for _, s := range PartStates {
		names = append(names, string(s))
	}
	for _, s := range []State{StateEnqueued, StatePaused, StateCancelled, StateFinished} {
		names = append(names, string(s))
	}
	names = append(names, string(ControlPaused), string(ControlCancelled))
	for _, o := range Outcomes {
		names = append(names, string(o))
	}
	names = append(names, ManifestFields...)
	names = append(names, PartFields...)
	names = append(names, SuffixRepeatErr)
	return luacheck.Known(names...)
}

// TestScriptsNameOnlyConstants fails when a Lua script of the package spells a
// state, outcome or field that no Go constant holds: a misspelt or removed state
// in a script would otherwise just never match.
func TestScriptsNameOnlyConstants(t *testing.T) {
	scripts := luacheck.Check(t, ".", 10, known(), "schema.go, state.go")
	// The scripts of the files added after scripts.go (the daily cap, the
	// in-flight keep, the full-Redis note) are checked too.
	for _, name := range []string{"settleScript", "markDailyScript", "giveBackDailyScript", "keepScript", "noteScript"} {
		if scripts[name] == "" {
			t.Errorf("script %s not found among the checked scripts", name)
		}
	}
}

// TestScriptCheckCatchesUnknownNames proves the check above can fail.
func TestScriptCheckCatchesUnknownNames(t *testing.T) {
	luacheck.ExpectUnknown(t, known(), []luacheck.Case{
		{Name: "settle as written", Src: settleSource(t), Want: nil},
		{Name: "daily mark, misspelt control", Src: `if ctl == 'pausd' then return -3 end`, Want: []string{"pausd"}},
		{Name: "daily mark, unknown wait field", Src: `redis.call('HDEL', KEYS[2], 'resume_at', 'wait_why')`, Want: []string{"wait_why"}},
		{Name: "misspelt state", Src: `if st == 'done' or st == 'runing' then return 0 end`, Want: []string{"runing"}},
		{Name: "unknown table key", Src: `local final = {done = true, finshed = true}`, Want: []string{"finshed"}},
		{Name: "unknown field", Src: `redis.call('HGET', KEYS[1], 'finish_generation')`, Want: []string{"finish_generation"}},
		{Name: "unknown range prefix", Src: `string.match(f, '^sent:(%d+)-(%d+)$')`, Want: []string{"sent"}},
		{Name: "state that does not exist", Src: `redis.call('HSET', KEYS[1], 'state', 'archived')`, Want: []string{"archived"}},
	})
}

func settleSource(t *testing.T) string {
	t.Helper()
	scripts, err := luacheck.Scripts(".")
	if err != nil || scripts["settleScript"] == "" {
		t.Fatalf("settleScript not found: %v", err)
	}
	return scripts["settleScript"]
}

// TestPartStatesComplete parses state.go, as River tests its JobStates list: a
// PartState constant missing from PartStates is refused by SetPartState and
// unknown to the script check.
func TestPartStatesComplete(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "state.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[PartState]bool{}
	for _, s := range PartStates {
		listed[s] = true
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "PartState" {
			return true
		}
		for _, v := range vs.Values {
			lit, ok := v.(*ast.BasicLit)
			if !ok {
				continue
			}
			s, _ := strconv.Unquote(lit.Value)
			n++
			if !listed[PartState(s)] {
				t.Errorf("part state %q is declared in state.go but missing from PartStates", s)
			}
		}
		return true
	})
	if n != len(PartStates) {
		t.Errorf("state.go declares %d part states; PartStates lists %d", n, len(PartStates))
	}
}

// TestManifestHoldsOnlyKnownFields writes a batch through its life and checks
// every field of its manifest and part hashes is a schema name.
func TestManifestHoldsOnlyKnownFields(t *testing.T) {
	f := setup(t)
	m := f.newBatch(t, "schema", 4)
	r := chunking.Range{Lo: 0, Hi: 4}
	if err := f.s.MarkInflight(f.ctx, m.ID, 0, r); err != nil {
		t.Fatal(err)
	}
	res := RangeResult{Range: r, Delivered: 3, Outcomes: []Outcome{{Index: 3, Phone: "13800000000", State: OutcomeFailed}},
		Extra: map[string]string{TaskField(r): "t-1"}}
	if _, err := f.s.RecordRange(f.ctx, m.ID, 0, res); err != nil {
		t.Fatal(err)
	}
	f.settle(t, m.ID, 0, PartDone)
	fields := map[string]bool{}
	for _, name := range ManifestFields {
		fields[name] = true
	}
	man, err := f.db.Client.HKeys(f.ctx, k.manifest(m.ID)).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range man {
		if !fields[name] {
			t.Errorf("manifest field %q is not in ManifestFields", name)
		}
	}
	prefixes := map[string]bool{}
	for _, name := range PartFields {
		prefixes[name] = true
	}
	part, err := f.db.Client.HKeys(f.ctx, k.state(m.ID, 0)).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range part {
		if _, ok := ParseRangeField(PrefixDone, name); ok {
			continue
		}
		if kind, _, _ := strings.Cut(name, ":"); !prefixes[kind] {
			t.Errorf("part field %q is not in PartFields", name)
		}
	}
}

func TestTaskFieldRoundTrip(t *testing.T) {
	extra := map[string]string{
		TaskField(chunking.Range{Lo: 500, Hi: 1000}): "second",
		TaskField(chunking.Range{Lo: 0, Hi: 500}):    "first",
		"task:bad": "skipped",
		TaskField(chunking.Range{Lo: 1000, Hi: 1001}): "",
		"other:0-1": "skipped",
	}
	if diff := cmp.Diff([]string{"first", "second"}, TaskRefs(extra)); diff != "" {
		t.Errorf("TaskRefs (-want +got):\n%s", diff)
	}
	extra[UncertainTaskField(chunking.Range{Lo: 500, Hi: 1000})] = "second-uncertain"
	extra["uncertain:x"] = "skipped"
	want := []CallTask{
		{Range: chunking.Range{Lo: 0, Hi: 500}, Name: "first"},
		{Range: chunking.Range{Lo: 500, Hi: 1000}, Name: "second"},
		{Range: chunking.Range{Lo: 500, Hi: 1000}, Name: "second-uncertain", Uncertain: true},
	}
	if diff := cmp.Diff(want, CallTasks(extra)); diff != "" {
		t.Errorf("CallTasks (-want +got):\n%s", diff)
	}
	if got := UncertainTaskField(chunking.Range{Lo: 3, Hi: 9}); got != "uncertain:3-9" {
		t.Errorf("UncertainTaskField(3-9) = %q; want uncertain:3-9 (a stored format: never change it)", got)
	}
	if got := TaskField(chunking.Range{Lo: 3, Hi: 9}); got != "task:3-9" {
		t.Errorf("TaskField(3-9) = %q; want task:3-9 (a stored format: never change it)", got)
	}
}

// TestPendingLuaMatchesGo holds settleScript's pending to Pending, the reference,
// on real Redis: a batch whose parts are all final finishes exactly when Pending
// is zero, and Status reports Pending's value.
func TestPendingLuaMatchesGo(t *testing.T) {
	f := setup(t)
	cases := []struct{ delivered, refused, failed, uncertain, late int64 }{
		{10, 0, 0, 0, 0},
		{4, 3, 2, 1, 0},
		{4, 3, 2, 0, 1},
		{9, 0, 0, 0, 0},
		{0, 0, 0, 0, 10},
		{5, 0, 0, 0, 0},
		{6, 3, 2, 0, 0}, // over-counted: never finishes
		{0, 0, 0, 9, 0},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			m := f.newBatch(t, fmt.Sprintf("pending-%d", i), 10)
			if err := f.db.Client.HSet(f.ctx, k.manifest(m.ID), FieldDelivered, c.delivered, FieldRefused, c.refused,
				FieldFailed, c.failed, FieldUncertain, c.uncertain, FieldSuppressedLate, c.late).Err(); err != nil {
				t.Fatal(err)
			}
			want := Pending(10, c.delivered, c.refused, c.failed, c.uncertain, c.late)
			got := f.settle(t, m.ID, 0, PartDone)
			if got.Finished != (want == 0) {
				t.Errorf("settle: finished = %v; Pending = %d says %v", got.Finished, want, want == 0)
			}
			st, err := f.s.Status(f.ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if st.Pending != want {
				t.Errorf("Status.Pending = %d; Pending = %d", st.Pending, want)
			}
		})
	}
}

// The audit key is stored data: its name must not change, and it carries the
// batch's hash tag like every other key of the batch.
func TestAuditKey(t *testing.T) {
	if got, want := AuditKey("b1"), "dialq:{b1}:audit"; got != want {
		t.Errorf("AuditKey(b1) = %q; want %q", got, want)
	}
	if !strings.HasPrefix(AuditKey("b1"), tag("b1")+":") {
		t.Errorf("AuditKey(b1) = %q does not carry the batch's hash tag %q", AuditKey("b1"), tag("b1"))
	}
}
