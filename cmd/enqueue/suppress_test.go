package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/compliance"
	"github.com/dialq/dialq/internal/testredis"
	"github.com/dialq/dialq/lifecycle/ledger"
)

func TestSuppressHelp(t *testing.T) {
	for _, sub := range []string{"import", "add", "remove", "check", "count", "export"} {
		r := runWith(t, nil, nil, "suppress", sub, "-h")
		if r.code != exitOK || !strings.Contains(r.stdout, "-list") || !strings.Contains(r.stdout, "-json") {
			t.Errorf("suppress %s -h: exit %d, stdout %q; want 0 and the flags", sub, r.code, r.stdout)
		}
	}
	if r := runWith(t, nil, nil, "suppress", "import", "-h"); !strings.Contains(r.stdout, "-expires") || !strings.Contains(r.stdout, "-region") {
		t.Errorf("suppress import -h lacks -expires/-region: %q", r.stdout)
	}
	if r := runWith(t, nil, nil, "suppress", "frobnicate"); r.code != exitUsage {
		t.Errorf("suppress frobnicate: exit %d; want %d", r.code, exitUsage)
	}
}

func TestSuppressCommands(t *testing.T) {
	testredis.RequireReal(t)
	h := setup(t)
	// Lines: a national mobile, the same in E.164 (a duplicate), an invalid row, a
	// landline, a US number.
	input := "13800138000\n+86 138 0013 8000\nnot-a-number\n010 1234 5678\n+1 212 555 0100\n"
	r := h.runStdin([]byte(input), "suppress", "import", "-json", "-")
	if r.code != exitOK {
		t.Fatalf("import: exit %d: %s", r.code, r.stderr)
	}
	var imp map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &imp); err != nil {
		t.Fatalf("import -json %q: %v", r.stdout, err)
	}
	for k, want := range map[string]float64{"read": 5, "imported": 3, "added": 3, "rejected": 1, "duplicates": 1} {
		if imp[k] != want {
			t.Errorf("import %s = %v; want %v (%s)", k, imp[k], want, r.stdout)
		}
	}
	tests := []struct {
		name string
		args []string
		want string // stdout
	}{
		{"check", []string{"suppress", "check", "13800138000", "+8613900139000", "+12125550100"},
			"+8613800138000\tlisted in dnc\n+8613900139000\tnot listed in dnc\n+12125550100\tlisted in dnc\n"},
		{"check other list", []string{"suppress", "check", "-list", "vip", "13800138000"}, "+8613800138000\tnot listed in vip\n"},
		{"count", []string{"suppress", "count"}, "3\n"},
		{"count json", []string{"suppress", "count", "-json"}, `{"count":3,"list":"dnc"}` + "\n"},
		{"remove", []string{"suppress", "remove", "-json", "+12125550100"}, `{"list":"dnc","numbers":1,"removed":1}` + "\n"},
		{"count after remove", []string{"suppress", "count"}, "2\n"},
		{"add expiring", []string{"suppress", "add", "-list", "vip", "-expires", "30d", "-json", "13900139000"}, `{"added":1,"list":"vip","numbers":1}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(tt.args...)
			if r.code != exitOK || r.stdout != tt.want {
				t.Fatalf("%v: exit %d, stdout %q, stderr %q; want %q", tt.args, r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
	r = h.run("suppress", "export")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	sort.Strings(lines[1:])
	if want := "phone,expires|'+861012345678,|'+8613800138000,"; strings.Join(lines, "|") != want {
		t.Fatalf("export = %q; want %q", lines, want)
	}
	// The export is valid import input.
	if r := h.runStdin([]byte(r.stdout), "suppress", "import", "-list", "copy", "-json", "-"); r.code != exitOK || !strings.Contains(r.stdout, `"added":2`) {
		t.Fatalf("re-import of the export: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = h.run("suppress", "export", "-list", "vip", "-json")
	var row map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &row); err != nil || row["phone"] != "+8613900139000" {
		t.Fatalf("export -json = %q, %v", r.stdout, err)
	}
	if exp, err := time.Parse(time.RFC3339, row["expires"]); err != nil || time.Until(exp) < 29*24*time.Hour {
		t.Fatalf("export expiry %q; want 30 days ahead", row["expires"])
	}
	// An invalid number is refused, masked, nothing written.
	if r := h.run("suppress", "add", "13800138000", "1380013800a"); r.code != exitUsage || strings.Contains(r.stderr, "1380013800a") || !strings.Contains(r.stderr, "number 2") {
		t.Fatalf("add of an invalid number: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := h.run("suppress", "add", "-expires", "soon", "13800138000"); r.code != exitUsage {
		t.Fatalf("-expires soon: exit %d", r.code)
	}
}

// gatedCampaign writes vendor's example campaign with a compliance block.
func gatedCampaign(t *testing.T, vendor, block string) string {
	t.Helper()
	data, err := os.ReadFile(campaignFile(vendor))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), "{", `{"compliance": `+block+",", 1)
	path := filepath.Join(t.TempDir(), vendor+".json")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEnqueueSuppressed(t *testing.T) {
	testredis.RequireReal(t)
	h := setup(t)
	// Two numbers of examples/list.csv opt out; one was delivered under a cap of 1.
	if r := h.run("suppress", "add", "13600136000", "+8615800158000"); r.code != exitOK {
		t.Fatalf("suppress add: %s", r.stderr)
	}
	if r := h.run("suppress", "add", "-list", "dnc-2", "18600186000"); r.code != exitOK {
		t.Fatalf("suppress add: %s", r.stderr)
	}
	camp := gatedCampaign(t, "yccall", `{"suppress": ["dnc", "dnc-2"], "contact_cap": {"max": 1, "days": 30}}`)
	storeTakeCap(t, h, "+8618800188000")
	rejects := filepath.Join(t.TempDir(), "rejects.csv")
	r := h.run("-vendor", "yccall", "-campaign", camp, "-json", "-rejects", rejects, listCSV)
	if r.code != exitOK {
		t.Fatalf("enqueue: exit %d: %s", r.code, r.stderr)
	}
	sum := summaryOf(t, r)
	// yccall takes 9 of the 13 rows; 4 of them are suppressed or capped.
	if sum.Read != 13 || sum.Accepted != 5 || sum.Rejected != 4 || sum.Suppressed != 4 || sum.Read != sum.Accepted+sum.Rejected+sum.Suppressed {
		t.Fatalf("summary = read %d accepted %d rejected %d suppressed %d; want 13 5 4 4", sum.Read, sum.Accepted, sum.Rejected, sum.Suppressed)
	}
	if !strings.Contains(r.stderr, "4 numbers suppressed") {
		t.Errorf("stderr lacks the gate line: %q", r.stderr)
	}
	f, err := os.Open(rejects)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, row := range rows[1:] {
		if strings.HasPrefix(row[2], "suppressed:") || row[2] == "contact_cap" {
			got = append(got, row[0]+" "+row[1]+" "+row[2])
		}
	}
	want := []string{"5 13600136000 suppressed:dnc", "6 15800158000 suppressed:dnc", "7 18600186000 suppressed:dnc-2", "14 18800188000 contact_cap"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("suppressed rejects = %v; want %v", got, want)
	}
	m, err := ledger.NewReader(h.db.Client).Manifest(t.Context(), sum.Batch)
	if err != nil || m.Suppressed != 4 || m.Accepted != 5 {
		t.Fatalf("manifest suppressed %d accepted %d (%v); want 4 and 5", m.Suppressed, m.Accepted, err)
	}
	r = h.run("audit", sum.Batch)
	audit, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(audit) != 5 || audit[0][2] != "decision" {
		t.Fatalf("audit: exit %d %q %v", r.code, r.stdout, err)
	}
	if audit[4][1] != "'+8618800188000" || audit[4][2] != "contact_cap" || audit[4][3] != "1/30d" {
		t.Fatalf("audit last row %v", audit[4])
	}

	// Without a compliance block: as before, and stderr says no gate applied.
	r = h.run("-vendor", "yccall", "-campaign", campaignFile("yccall"), "-json", listCSV)
	if r.code != exitOK || !strings.Contains(r.stderr, "no compliance gate applied") || summaryOf(t, r).Accepted != 9 {
		t.Fatalf("ungated enqueue: exit %d, stderr %q", r.code, r.stderr)
	}
}

func storeTakeCap(t *testing.T, h *harness, number string) {
	t.Helper()
	st := newComplianceStore(h)
	if ok, err := st.TakeCap(t.Context(), number, 1, 30, time.Now()); err != nil || !ok {
		t.Fatalf("TakeCap: %v %v", ok, err)
	}
}

func newComplianceStore(h *harness) *compliance.Store { return compliance.NewStore(h.db.Client) }

func TestEnqueueGateStates(t *testing.T) {
	h := setup(t)
	window := `{"window": {"timezone": "Asia/Shanghai", "days": ["mon","tue","wed","thu","fri","sat","sun"], "from": "09:00", "to": "20:00"}}`
	tests := []struct {
		name, campaign string
		args           []string
		gate           string
	}{
		{"none", campaignFile("yccall"), nil, ""},
		{"window only", gatedCampaign(t, "yccall", window), nil, "worker"},
		{"dry run", gatedCampaign(t, "yccall", `{"suppress": ["dnc"]}`), []string{"-dry-run"}, "not checked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-vendor", "yccall", "-campaign", tt.campaign, "-json"}, tt.args...)
			r := h.run(append(args, listCSV)...)
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if sum := summaryOf(t, r); sum.Gate != tt.gate || sum.Suppressed != 0 || sum.Accepted != 9 {
				t.Fatalf("gate %q suppressed %d accepted %d; want %q, 0, 9", sum.Gate, sum.Suppressed, sum.Accepted, tt.gate)
			}
		})
	}
	// A campaign whose vendor fields contradict its window is refused, naming the field.
	bad := gatedCampaign(t, "flashai", `{"window": {"timezone": "Asia/Shanghai", "days": ["sat","sun"], "from": "09:00", "to": "20:00"}}`)
	if r := h.run("-vendor", "flashai", "-campaign", bad, listCSV); r.code != exitUsage || !strings.Contains(r.stderr, "call_hours") {
		t.Fatalf("contradicting campaign: exit %d, %q", r.code, r.stderr)
	}
}
