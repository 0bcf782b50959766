package csvcell

import "testing"

func TestSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"13800138000", "13800138000"},
		{"a=1", "a=1"},
		{"duplicate of line 2", "duplicate of line 2"},
		// Numbers too: a spreadsheet evaluates them.
		{"+8613800138000", "'+8613800138000"},
		{"+86 (138) 0013-8000", "'+86 (138) 0013-8000"},
		{"-13600136000", "'-13600136000"},
		{"-2+3", "'-2+3"},
		{"+1-1", "'+1-1"},
		{"=1+1", "'=1+1"},
		{"=13900139000", "'=13900139000"},
		{"@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
		{"-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"},
		{`=HYPERLINK("http://x.example")`, `'=HYPERLINK("http://x.example")`},
		{"\t=1+1", "'\t=1+1"},
		{"\r=1+1", "'\r=1+1"},
		{"'already", "'already"},
	}
	for _, tt := range tests {
		if got := Safe(tt.in); got != tt.want {
			t.Errorf("Safe(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestUnquote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"'+8613800138000", "+8613800138000"},
		{"'13800138000", "13800138000"},
		{"'-13600136000", "-13600136000"},
		{"'(138) 0013-8000", "(138) 0013-8000"},
		{"+8613800138000", "+8613800138000"},
		{"'", "'"},
		{"''+86", "''+86"}, // only one
		{"'=1+1", "'=1+1"}, // a formula stays refused
		{"'abc", "'abc"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Unquote(tt.in); got != tt.want {
			t.Errorf("Unquote(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
	// What Safe writes of a number, Unquote reads back.
	for _, n := range []string{"+8613800138000", "13800138000", "-13600136000", "+86 (138) 0013-8000"} {
		if got := Unquote(Safe(n)); got != n {
			t.Errorf("Unquote(Safe(%q)) = %q", n, got)
		}
	}
}
