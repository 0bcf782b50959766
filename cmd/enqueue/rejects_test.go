package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSafeCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"13800138000", "13800138000"},
		// Phone numbers stay as they are, so the file is valid input again.
		{"+8613800138000", "+8613800138000"},
		{"+86 (138) 0013-8000", "+86 (138) 0013-8000"},
		{"-13600136000", "-13600136000"},
		{"=1+1", "'=1+1"},
		{"=13900139000", "'=13900139000"},
		{"@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
		{"-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"},
		{`=HYPERLINK("http://x.example")`, `'=HYPERLINK("http://x.example")`},
		{"\t=1+1", "'\t=1+1"},
		{"\r=1+1", "'\r=1+1"},
		{"a=1", "a=1"},
		{"duplicate of line 2", "duplicate of line 2"},
	}
	for _, tt := range tests {
		if got := safeCell(tt.in); got != tt.want {
			t.Errorf("safeCell(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// The rejects file and the failures listing open in spreadsheets: a rejected cell
// that starts with a formula prefix is defused there, a phone number is not touched.
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
		{"6", "+8613800138000", "duplicate of line 2"},
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
	if diff := cmp.Diff([]string{`'=HYPERLINK("http://x.example")`, "+8613800138000", "'@SUM(A1:A2)"}, got); diff != "" {
		t.Errorf("failures phones (-want +got):\n%s", diff)
	}
}
