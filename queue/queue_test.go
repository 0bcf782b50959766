package queue

import (
	"testing"

	"github.com/dialq/dialq/vendors/registry"
)

func TestParsePartTaskID(t *testing.T) {
	tests := []struct {
		in   string
		id   string
		n    int
		isOK bool
	}{
		{PartTaskID("b1", 0), "b1", 0, true},
		{PartTaskID("yccall:CN:ab12", 1234), "yccall:CN:ab12", 1234, true},
		{"b1", "", 0, false},
		{"b1:", "", 0, false},
		{"b1:x", "", 0, false},
		{"b1:-1", "", 0, false},
		{":3", "", 0, false},
		{"", "", 0, false},
	}
	for _, tt := range tests {
		id, n, ok := ParsePartTaskID(tt.in)
		if id != tt.id || n != tt.n || ok != tt.isOK {
			t.Errorf("ParsePartTaskID(%q) = %q, %d, %v; want %q, %d, %v", tt.in, id, n, ok, tt.id, tt.n, tt.isOK)
		}
	}
	for _, id := range []string{"b", "vendor:region:hash", "x:1"} {
		for _, n := range []int{0, 7, 99999} {
			gotID, gotN, ok := ParsePartTaskID(PartTaskID(id, n))
			if !ok || gotID != id || gotN != n {
				t.Errorf("ParsePartTaskID(PartTaskID(%q, %d)) = %q, %d, %v", id, n, gotID, gotN, ok)
			}
		}
	}
}

func TestPartTypeNames(t *testing.T) {
	for vendor, typ := range map[string]string{registry.NXCloud: TypeNXCloudCreate, registry.Yccall: TypeYccallCreate,
		registry.Speech: TypeSpeechCreate, registry.FlashAI: TypeFlashAIAdd} {
		if got := PartType(vendor); got != typ {
			t.Errorf("PartType(%s) = %q; this package names it %q", vendor, got, typ)
		}
	}
	if got := PartType("acme"); got != "" {
		t.Errorf("PartType(acme) = %q", got)
	}
}
