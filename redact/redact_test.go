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

func TestMessage(t *testing.T) {
	long := ""
	for range 250 {
		long += "错"
	}
	tests := []struct{ in, want string }{
		{"ok", "ok"},
		{"number 13800138000 refused", "number 138******00 refused"},
		{"code 123456 stays", "code 123456 stays"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{long, long[:600] + "…"},
	}
	for _, tt := range tests {
		if got := Message(tt.in); got != tt.want {
			t.Errorf("Message(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
