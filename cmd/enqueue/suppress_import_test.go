package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/internal/testredis"
)

// suppress import does not drop a row it cannot read in silence: it counts them on
// stderr, lists them with -rejects, and with -strict imports nothing (exit 3).
func TestSuppressImportRejects(t *testing.T) {
	testredis.RequireReal(t) // suppression lists use BITFIELD
	h := setup(t)
	input := []byte("13800138000\n1380013800a\n=1+1\n13900139000\n13800138000\n12\n")
	rejects := filepath.Join(t.TempDir(), "rejects.csv")

	// -strict: nothing imported, exit 3, the rows listed.
	r := h.runStdin(input, "suppress", "import", "-list", "strict", "-strict", "-rejects", rejects, "-")
	wantCode(t, r, exitStrict, "-strict: 3 rows are not valid numbers, nothing imported into strict")
	if !strings.Contains(r.stderr, "3 rows are not valid numbers and were not imported (listed in "+rejects+")") {
		t.Errorf("stderr %q; want the count and the file", r.stderr)
	}
	for _, k := range h.keys() {
		if strings.Contains(k, "{strict}") {
			t.Errorf("-strict with bad rows wrote %s", k)
		}
	}
	data, err := os.ReadFile(rejects)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"line", "phone", "reason"},
		{"2", "1380013800a", "contains letters (extensions and vanity numbers are not dialable)"},
		{"3", "'=1+1", "not a valid number for its region"},
		{"6", "12", "not a valid number for its region"},
	}
	got := readCSV(t, string(data))
	for i := range got { // the reasons are the validator's; the rows and phones are the point
		if i < len(want) && len(got[i]) == 3 {
			got[i][2], want[i][2] = "", ""
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rejects file (-want +got):\n%s", diff)
	}

	// Without -strict: the good numbers imported, exit 0, the bad ones said.
	r = h.runStdin(input, "suppress", "import", "-list", "loose", "-")
	wantCode(t, r, exitOK, "loose: read 6, imported 2 (2 new), 3 invalid, 1 duplicates")
	if !strings.Contains(r.stderr, "3 rows are not valid numbers and were not imported (rerun with -rejects FILE to list them)") {
		t.Errorf("stderr %q; want the bad rows counted", r.stderr)
	}
	if r := h.run("suppress", "count", "-list", "loose"); strings.TrimSpace(r.stdout) != "2" {
		t.Errorf("count loose = %q; want 2", r.stdout)
	}

	// -strict on a clean file imports it all.
	r = h.runStdin([]byte("13800138000\n+8613900139000\n13800138000\n"), "suppress", "import", "-list", "strict", "-strict", "-json", "-")
	if r.code != exitOK || !strings.Contains(r.stdout, `"imported":2`) || !strings.Contains(r.stdout, `"rejected":0`) {
		t.Errorf("-strict clean import: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := h.run("suppress", "count", "-list", "strict"); strings.TrimSpace(r.stdout) != "2" {
		t.Errorf("count strict = %q; want 2", r.stdout)
	}
}

// A campaign naming a suppression list that does not exist is refused at enqueue,
// naming the list, with nothing written.
func TestEnqueueUnknownSuppressionList(t *testing.T) {
	testredis.RequireReal(t)
	h := setup(t)
	camp := campaignWith(t, "yccall", "compliance", map[string]any{"suppress": []string{"nosuchlist"}})
	r := h.run("-vendor", "yccall", "-campaign", camp, listCSV)
	wantCode(t, r, exitUsage, `suppression list "nosuchlist" does not exist`)
	h.wantNoKeys()
	// Once the list exists, the same campaign goes through.
	if r := h.run("suppress", "add", "-list", "nosuchlist", "13600136000"); r.code != exitOK {
		t.Fatalf("suppress add: %+v", r)
	}
	if r := h.run("-vendor", "yccall", "-campaign", camp, listCSV); r.code != exitOK {
		t.Errorf("enqueue with the list created: exit %d, %s", r.code, r.stderr)
	}
}
