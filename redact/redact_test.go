package redact

import "testing"

func TestPhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"13800000001", "138******01"},
		{"8613800000001", "861********01"},
		{"12345", "***"},
		{"", "***"},
	}
	for _, tt := range tests {
		if got := Phone(tt.in); got != tt.want {
			t.Errorf("Phone(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestSecret(t *testing.T) {
	if got := Secret("abc"); got != "[redacted]" {
		t.Errorf("Secret(abc) = %q", got)
	}
	if got := Secret(""); got != "" {
		t.Errorf("Secret(\"\") = %q", got)
	}
}
