package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The rejects file and the failures listing open in spreadsheets: every cell that
// starts with = + - @ (numbers too) is prefixed with ', and the failures listing
// is still valid enqueue input: the ' before a number is dropped on the way in.
func TestRejectsDefuseFormulas(t *testing.T) {
	h := setup(t)
	path := filepath.Join(t.TempDir(), "rejects.csv")
	s := h.enqueue("yccall", "-rejects", path, badInput+"/formula.csv")
	if s.Accepted != 4 || s.Rejected != 3 {
		t.Fatalf("summary %+v; want 4 accepted, 3 rejected", s)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"line", "phone", "reason"},
		{"5", `'=HYPERLINK("http://x.example")`, "contains letters (extensions and vanity numbers are not dialable)"},
		{"6", "'+8613800138000", "duplicate of line 2"},
		{"8", "'@SUM(A1:A2)", "contains letters (extensions and vanity numbers are not dialable)"},
	}
	if diff := cmp.Diff(want, readCSV(t, string(data))); diff != "" {
		t.Errorf("rejects file (-want +got):\n%s", diff)
	}

	r := h.run("failures", s.Batch)
	wantCode(t, r, exitOK, "")
	rows := readCSV(t, r.stdout)
	phone := slices.Index(rows[0], "phone")
	var got []string
	for _, row := range rows[1:] {
		got = append(got, row[phone])
	}
	if diff := cmp.Diff([]string{`'=HYPERLINK("http://x.example")`, "'+8613800138000", "'@SUM(A1:A2)"}, got); diff != "" {
		t.Errorf("failures phones (-want +got):\n%s", diff)
	}

	// Round trip: the failures, fed back, give the number again; the formulas stay refused.
	back := filepath.Join(t.TempDir(), "failures.csv")
	if err := os.WriteFile(back, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	again := h.enqueue("yccall", "-dry-run", back)
	if again.Accepted != 1 || again.Rejected != 2 {
		t.Errorf("failures fed back: %+v; want the one number accepted, the two formulas rejected", again)
	}
}
