package monitor

import "testing"

func TestReasonKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"duplicate of line 2", "duplicate"},
		{"duplicate of line 123456", "duplicate"},
		{"invalid number", "invalid number"},
		{maskDigits("number 13800138000 is blacklisted"), "number <number> is blacklisted"},
		{maskDigits("number 13900139000 is blacklisted"), "number <number> is blacklisted"},
		{"code 1010 at line 5", "code 1010 at line 5"},
	}
	for _, tt := range tests {
		if got := reasonKey(tt.in); got != tt.want {
			t.Errorf("reasonKey(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
