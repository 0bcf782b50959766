package campaign

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dialq/dialq/vendors/registry"
)

func TestAgentExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "examples", "flashai-agent.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(registry.FlashAI, data)
	if err != nil {
		t.Fatalf("examples/flashai-agent.json: %v", err)
	}
	a := c.(*FlashAI).Agent
	if a == nil || a.GroupID != "G1" || a.AgentID != "A1" || a.AddType != "1" || a.CallTypeString() != "1" {
		t.Errorf("agent block = %+v", a)
	}
}

func TestAgentValidateNamesField(t *testing.T) {
	const base = `{"batch_name_prefix": "p", "agent": {"group_id": "G1", "agent_id": "A1", "call_type": 0, "add_type": "1"}}`
	tests := []struct {
		name, old, new, field string
	}{
		{"no group", `"group_id": "G1"`, `"group_id": ""`, "agent.group_id"},
		{"blank agent", `"agent_id": "A1"`, `"agent_id": "  "`, "agent.agent_id"},
		{"no add type", `, "add_type": "1"`, ``, "agent.add_type"},
		{"caret in agent", `"agent_id": "A1"`, `"agent_id": "A^1"`, "agent.agent_id"},
		{"long group", `"group_id": "G1"`, `"group_id": "` + strings.Repeat("g", 65) + `"`, "agent.group_id"},
		{"call type 2", `"call_type": 0`, `"call_type": 2`, "agent.call_type"},
		{"call type negative", `"call_type": 0`, `"call_type": -1`, "agent.call_type"},
		{"no prefix", `"batch_name_prefix": "p"`, `"batch_name_prefix": ""`, "batch_name_prefix"},
		{"botence", `"batch_name_prefix": "p"`, `"batch_name_prefix": "p", "botence_id": "2873"`, "botence_id"},
		{"lines", `"batch_name_prefix": "p"`, `"batch_name_prefix": "p", "line_ids": ["101"]`, "line_ids"},
		{"hours", `"batch_name_prefix": "p"`, `"batch_name_prefix": "p", "call_hours": [9]`, "call_hours"},
		{"date", `"batch_name_prefix": "p"`, `"batch_name_prefix": "p", "call_date": "20261123"`, "call_date"},
		{"recall", `"batch_name_prefix": "p"`, `"batch_name_prefix": "p", "recall": 1`, "recall"},
		{"user", `"batch_name_prefix": "p"`, `"batch_name_prefix": "p", "user_id": 5`, "user_id"},
		{"notify", `"batch_name_prefix": "p"`, `"batch_name_prefix": "p", "notify_url": "ftp://x"`, "notify_url"},
		{"unknown field", `"add_type": "1"`, `"add_type": "1", "agent_name": "x"`, ""},
	}
	if _, err := Parse(registry.FlashAI, []byte(base)); err != nil {
		t.Fatalf("base: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("base has no %q", tt.old)
			}
			_, err := Parse(registry.FlashAI, []byte(strings.Replace(base, tt.old, tt.new, 1)))
			if err == nil {
				t.Fatal("accepted")
			}
			var fe *FieldError
			if tt.field == "" {
				if !strings.Contains(err.Error(), "unknown field") {
					t.Errorf("error = %v; want unknown field", err)
				}
				return
			}
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("error = %v; want field %s", err, tt.field)
			}
		})
	}
	// Call type may be left out: it is optional in the seed.
	if _, err := Parse(registry.FlashAI, []byte(strings.Replace(base, `"call_type": 0, `, ``, 1))); err != nil {
		t.Errorf("without call_type: %v", err)
	}
}
