package preflight

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/vendors/flashai"
)

var tenant = &Tenant{
	Scripts: []flashai.Script{{ID: "1"}, {ID: "2", Name: "Two"}},
	Params:  []flashai.Param{{Name: "a", Seq: 1}, {Name: "b", Seq: 2}},
	Lines:   []flashai.Line{{ID: "L1"}, {ID: "L2", Name: "Second"}},
	Agents:  []flashai.Agent{{GroupID: "G", AgentID: "A"}},
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		c    campaign.FlashAI
		miss *MissError
	}{
		{"ok", campaign.FlashAI{BotenceID: "2", LineIDs: []string{"L2", "L1"}}, nil},
		{"bare id script", campaign.FlashAI{BotenceID: "1"}, nil},
		{"script", campaign.FlashAI{BotenceID: "3"}, &MissError{"botence_id", "3", "scripts", []string{"1", "2 Two"}}},
		{"line", campaign.FlashAI{BotenceID: "1", LineIDs: []string{"L1", "L3"}}, &MissError{"line_ids", "L3", "lines", []string{"L1", "L2 Second"}}},
		{"agent ok", campaign.FlashAI{Agent: &campaign.FlashAIAgent{GroupID: "G", AgentID: "A"}}, nil},
		{"group", campaign.FlashAI{Agent: &campaign.FlashAIAgent{GroupID: "H", AgentID: "A"}}, &MissError{"agent.group_id", "H", "agent groups", []string{"G"}}},
		{"agent", campaign.FlashAI{Agent: &campaign.FlashAIAgent{GroupID: "G", AgentID: "B"}}, &MissError{"agent.agent_id", "B", "agents of group G", []string{"A"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(&tt.c, tenant)
			var got *MissError
			errors.As(err, &got)
			if diff := cmp.Diff(tt.miss, got); diff != "" || (tt.miss == nil) != (err == nil) {
				t.Errorf("Check = %v (-want +got):\n%s", err, diff)
			}
		})
	}
	empty := &MissError{"botence_id", "3", "scripts", nil}
	if got, want := empty.Error(), `campaign field botence_id: "3" is not one of the tenant's scripts (the tenant has: none)`; got != want {
		t.Errorf("Error() = %s; want %s", got, want)
	}
}

func TestRowCheck(t *testing.T) {
	check := RowCheck(&campaign.FlashAI{BotenceID: "1"}, tenant)
	for n, want := range map[int]string{0: "", 2: "", 3: "params: 3 given, the tenant's scripts take 2"} {
		if got := check(chunking.Record{Params: make([]string, n)}); got != want {
			t.Errorf("%d params: %q; want %q", n, got, want)
		}
	}
	if RowCheck(&campaign.FlashAI{Agent: &campaign.FlashAIAgent{}}, tenant) != nil {
		t.Error("agent campaigns have no variable limit")
	}
}

func TestCache(t *testing.T) {
	c := &Cache{Dir: filepath.Join(t.TempDir(), "sub"), TTL: time.Minute}
	cfg := flashai.Config{BaseURL: "http://a/flashai", ClientID: "x"}
	other := flashai.Config{BaseURL: "http://b/flashai", ClientID: "x"}
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	if _, ok := c.Load(cfg, now); ok {
		t.Fatal("empty cache hit")
	}
	tt := *tenant
	tt.FetchedAt = now
	c.Store(cfg, &tt)
	got, ok := c.Load(cfg, now.Add(30*time.Second))
	if !ok || cmp.Diff(&tt, got) != "" {
		t.Errorf("Load = %+v, %v", got, ok)
	}
	if _, ok := c.Load(other, now); ok {
		t.Error("another tenant's cache was read")
	}
	if _, ok := c.Load(cfg, now.Add(2*time.Minute)); ok {
		t.Error("an expired entry was read")
	}
	entries, _ := os.ReadDir(c.Dir)
	for _, e := range entries {
		if info, _ := e.Info(); info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", e.Name(), info.Mode())
		}
	}
	var nilCache *Cache
	nilCache.Store(cfg, &tt)
	if _, ok := nilCache.Load(cfg, now); ok {
		t.Error("nil cache hit")
	}
}
