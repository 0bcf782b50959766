package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dialq/dialq/fakevendor"
)

// faHarness is a test Redis and the fake vendor, with the worker's FLASHAI_*
// variables pointing at it and a private cache dir.
type faHarness struct {
	*harness
	fake *fakevendor.Server
	vars map[string]string
}

func setupFA(t *testing.T) *faHarness {
	t.Helper()
	h := setup(t)
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	env, err := fakevendor.DemoEnv(srv.URL, filepath.Join(t.TempDir(), "speech.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := fakevendor.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	fake := fakevendor.New(cfg)
	srv.Config.Handler = fake
	vars := map[string]string{"REDIS_URL": h.db.URL, "XDG_CACHE_HOME": t.TempDir()}
	for k, v := range env {
		if strings.HasPrefix(k, "FLASHAI_") {
			vars[k] = v
		}
	}
	return &faHarness{harness: h, fake: fake, vars: vars}
}

func (h *faHarness) run(stdin string, args ...string) result {
	h.t.Helper()
	return runWith(h.t, h.vars, []byte(stdin), args...)
}

func (h *faHarness) without(keys ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h.vars {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

func TestVendorDiscovery(t *testing.T) {
	h := setupFA(t)
	r := h.run("", "vendor", "flashai", "scripts")
	if r.code != 0 || !strings.Contains(r.stdout, "2873  Spring greeting") || !strings.Contains(r.stdout, "ID") {
		t.Errorf("scripts: %+v", r)
	}
	r = h.run("", "vendor", "flashai", "params", "-json")
	var params []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &params); r.code != 0 || err != nil || len(params) != 3 ||
		params[1]["name"] != "amount" || params[1]["seq"] != 2.0 || params[1]["type"] != "number" {
		t.Errorf("params -json: %+v (%v)", r, err)
	}
	r = h.run("", "vendor", "flashai", "lines", "-json")
	if r.code != 0 || !strings.Contains(r.stdout, `{"id":"102","name":"Beijing 02"}`) {
		t.Errorf("lines -json: %+v", r)
	}
	r = h.run("", "vendor", "flashai", "agents")
	if r.code != 0 || !strings.Contains(r.stdout, "G2     Support     A3     Wang Fang") {
		t.Errorf("agents: %+v", r)
	}
	h.fake.SetFlashAITenant(fakevendor.FlashAITenant{})
	if r := h.run("", "vendor", "flashai", "scripts"); r.code != 0 || r.stdout != "the tenant has no scripts\n" {
		t.Errorf("no scripts: %+v", r)
	}
	if r := h.run("", "vendor", "flashai", "agents", "-json"); r.code != 0 || r.stdout != "[]\n" {
		t.Errorf("no agents -json: %+v", r)
	}
	if r := h.run("", "vendor", "-h"); r.code != 0 || !strings.Contains(r.stdout, "scripts|params|lines|agents") {
		t.Errorf("-h: %+v", r)
	}
	if r := h.run("", "vendor", "flashai", "scripts", "-h"); r.code != 0 || !strings.Contains(r.stdout, "FLASHAI_CLIENT_SECRET_FILE") {
		t.Errorf("scripts -h: %+v", r)
	}
	if r := h.run("", "help", "vendor", "flashai"); r.code != 0 || !strings.Contains(r.stdout, "agents") {
		t.Errorf("help vendor flashai: %+v", r)
	}
	if r := h.run("", "vendor", "flashai"); r.code != 1 || !strings.Contains(r.stderr, "want one of scripts, params, lines, agents") {
		t.Errorf("vendor flashai alone: %+v", r)
	}
}

func TestVendorDiscoveryErrors(t *testing.T) {
	h := setupFA(t)
	secret := h.vars["FLASHAI_CLIENT_SECRET"]
	wrong := h.without()
	wrong["FLASHAI_CLIENT_SECRET"] = "not-the-secret"
	unreachable := h.without()
	unreachable["FLASHAI_BASE_URL"] = "http://127.0.0.1:1/flashai"
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile := h.without("FLASHAI_CLIENT_SECRET")
	fromFile["FLASHAI_CLIENT_SECRET_FILE"] = secretFile
	tests := []struct {
		name string
		vars map[string]string
		args []string
		code int
		want string
	}{
		{"secret from file", fromFile, []string{"scripts"}, 0, "Spring greeting"},
		{"no credentials", h.without("FLASHAI_BASE_URL", "FLASHAI_CLIENT_ID", "FLASHAI_CLIENT_SECRET", "FLASHAI_USER_ID"), []string{"scripts"}, 1, "FlashAI is not configured"},
		{"half configured", h.without("FLASHAI_CLIENT_ID"), []string{"lines"}, 1, "FLASHAI_CLIENT_ID is not set"},
		{"refused", wrong, []string{"params"}, 1, "refused the credentials"},
		{"unreachable", unreachable, []string{"agents"}, 2, "could not be asked"},
		{"unknown kind", h.vars, []string{"robots"}, 1, `unknown command "robots": vendor flashai takes scripts, params, lines, agents`},
		{"two kinds", h.vars, []string{"lines", "agents"}, 1, `takes no argument, got "agents"`},
		{"flag after", h.vars, []string{"lines", "x", "-json"}, 1, "flags go first"},
		{"other vendor", h.vars, nil, 1, `unknown command "yccall": vendor takes flashai`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"vendor", "flashai"}, tt.args...)
			if tt.args == nil {
				args = []string{"vendor", "yccall", "scripts"}
			}
			r := runWith(t, tt.vars, nil, args...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Errorf("exit %d, %q %q; want %d with %q", r.code, r.stdout, r.stderr, tt.code, tt.want)
			}
			if strings.Contains(r.stderr, secret) || strings.Contains(r.stderr, "not-the-secret") {
				t.Errorf("stderr leaks the secret: %s", r.stderr)
			}
		})
	}
}

// writeCampaign writes campaign JSON to a temp file.
func writeCampaign(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	robotCampaign = `{"botence_id": "%s", "call_date": "20261123", "call_hours": [9], "clear": 0, "line_ids": [%s], "recall": 0, "batch_name_prefix": "pf"}`
	agentCampaign = `{"agent": {"group_id": "%s", "agent_id": "%s", "add_type": "1"}, "batch_name_prefix": "pfa"}`
)

func TestPreflightRefuses(t *testing.T) {
	h := setupFA(t)
	list := "phone,param1\n13800138000,a\n13900139000,b\n"
	tests := []struct {
		name, campaign string
		want           []string
	}{
		{"unknown script", strings.Replace(strings.Replace(robotCampaign, "%s", "2837", 1), "%s", `"101"`, 1),
			[]string{`botence_id: "2837" is not one of the tenant's scripts`, "2873 Spring greeting", "2874 Payment reminder"}},
		{"unknown line", strings.Replace(strings.Replace(robotCampaign, "%s", "2873", 1), "%s", `"101", "103"`, 1),
			[]string{`line_ids: "103" is not one of the tenant's lines`, "101 Shanghai 01, 102 Beijing 02"}},
		{"unknown group", strings.Replace(strings.Replace(agentCampaign, "%s", "G7", 1), "%s", "A1", 1),
			[]string{`agent.group_id: "G7" is not one of the tenant's agent groups`, "G1 Sales, G2 Support"}},
		{"unknown agent", strings.Replace(strings.Replace(agentCampaign, "%s", "G1", 1), "%s", "A3", 1),
			[]string{`agent.agent_id: "A3" is not one of the tenant's agents of group G1`, "A1 Li Lei, A2 Han Meimei"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(list, "-vendor", "flashai", "-campaign", writeCampaign(t, tt.campaign), "-")
			if r.code != 1 {
				t.Errorf("exit %d; want 1: %s", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
			h.wantNoKeys()
		})
	}
	// Unreachable vendor: exit 2, nothing written, and the way out is named.
	vars := h.without()
	vars["FLASHAI_BASE_URL"] = "http://127.0.0.1:1/flashai"
	r := runWith(t, vars, []byte(list), "-vendor", "flashai", "-campaign", campaignFile("flashai"), "-")
	if r.code != 2 || !strings.Contains(r.stderr, "-no-vendor-check") {
		t.Errorf("unreachable: exit %d %q; want 2 naming -no-vendor-check", r.code, r.stderr)
	}
	h.wantNoKeys()
}

func TestPreflightParamsAndSkips(t *testing.T) {
	h := setupFA(t)
	list := "phone,param1,param2,param3,param4\n13800138000,a,b,c,d\n13900139000,a,b,c,\n13700137000,,,,\n"
	r := h.run(list, "-vendor", "flashai", "-campaign", campaignFile("flashai"), "-json", "-")
	var sum map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &sum); r.code != 0 || err != nil {
		t.Fatalf("enqueue: %+v (%v)", r, err)
	}
	if sum["accepted"] != 2.0 || sum["rejected"] != 1.0 || sum["vendor_check"] != "checked against the FlashAI tenant" {
		t.Errorf("summary = %v", sum)
	}
	if !strings.Contains(r.stderr, "campaign checked against the FlashAI tenant") {
		t.Errorf("stderr = %s", r.stderr)
	}
	f := h.run("", "failures", sum["batch"].(string))
	if !strings.Contains(f.stdout, "params: 4 given, the tenant's scripts take 3") {
		t.Errorf("rejects = %+v", f)
	}
	// Read again within the TTL: from the cache, said so.
	r = h.run(list, "-vendor", "flashai", "-campaign", campaignFile("flashai"), "-dry-run", "-")
	if r.code != 0 || !strings.Contains(r.stderr, "checked against the FlashAI tenant (as read") {
		t.Errorf("cached: %+v", r)
	}
	// A script added at the vendor since the cache was filled is found by a live re-read.
	tenant := fakevendor.DefaultFlashAITenant()
	tenant.Scripts = append(tenant.Scripts, fakevendor.FlashAIEntry{ID: "3000", Name: "New"})
	h.fake.SetFlashAITenant(tenant)
	fresh := writeCampaign(t, strings.Replace(strings.Replace(robotCampaign, "%s", "3000", 1), "%s", `"101"`, 1))
	if r := h.run(list, "-vendor", "flashai", "-campaign", fresh, "-dry-run", "-"); r.code != 0 {
		t.Errorf("new script refused from a stale cache: %+v", r)
	}

	bad := writeCampaign(t, strings.Replace(strings.Replace(robotCampaign, "%s", "9999", 1), "%s", `"101"`, 1))
	r = h.run(list, "-vendor", "flashai", "-campaign", bad, "-no-vendor-check", "-json", "-batch", "offline", "-")
	if r.code != 0 || !strings.Contains(r.stderr, "not checked against the FlashAI tenant (-no-vendor-check)") ||
		!strings.Contains(r.stdout, `"accepted":3,"rejected":0`) {
		t.Errorf("-no-vendor-check: %+v", r)
	}
	vars := h.without("FLASHAI_BASE_URL", "FLASHAI_CLIENT_ID", "FLASHAI_CLIENT_SECRET", "FLASHAI_USER_ID")
	r = runWith(t, vars, []byte(list), "-vendor", "flashai", "-campaign", bad, "-batch", "nocreds", "-")
	if r.code != 0 || !strings.Contains(r.stderr, "not checked against the FlashAI tenant: FLASHAI_* variables not set") {
		t.Errorf("no credentials: %+v", r)
	}
}
