package campaign

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withGate loads vendor's example with a compliance block (and optional JSON-level
// replacements of the example) and parses it.
func withGate(t *testing.T, vendor, gate string, repl ...string) (Campaign, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", vendor+".json"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(s, repl[i]) {
			t.Fatalf("examples/%s.json has no %q", vendor, repl[i])
		}
		s = strings.Replace(s, repl[i], repl[i+1], 1)
	}
	s = strings.Replace(s, "{", `{"compliance": `+gate+",", 1)
	return Parse(vendor, []byte(s))
}

const okGate = `{"suppress": ["dnc", "opt-out"], "contact_cap": {"max": 1, "days": 30},
  "window": {"timezone": "Asia/Shanghai", "days": ["mon","tue","wed","thu","fri","sat","sun"], "from": "09:00", "to": "20:00"}}`

func TestComplianceParses(t *testing.T) {
	for _, v := range []string{"nxcloud", "yccall", "speech", "flashai"} {
		c, err := withGate(t, v, okGate)
		if err != nil {
			t.Fatalf("%s with a gate: %v", v, err)
		}
		g := c.Compliance()
		if g == nil || len(g.Suppress) != 2 || g.ContactCap.Max != 1 || g.ContactCap.Days != 30 || g.Window.From != "09:00" {
			t.Fatalf("%s Compliance() = %+v", v, g)
		}
	}
	for _, v := range []string{"nxcloud", "yccall", "speech", "flashai"} {
		data, _ := os.ReadFile(filepath.Join("..", "examples", v+".json"))
		c, err := Parse(v, data)
		if err != nil || c.Compliance() != nil {
			t.Fatalf("%s without a gate: Compliance() = %v, %v; want nil", v, c.Compliance(), err)
		}
	}
}

func TestComplianceNamesField(t *testing.T) {
	win := func(tz, days, from, to string) string {
		return `{"window": {"timezone": "` + tz + `", "days": ` + days + `, "from": "` + from + `", "to": "` + to + `"}}`
	}
	all := `["mon","tue","wed","thu","fri","sat","sun"]`
	tests := []struct {
		name, vendor, gate string
		repl               []string
		field              string
	}{
		{"empty block", "nxcloud", `{}`, nil, "compliance"},
		{"bad list", "nxcloud", `{"suppress": ["DNC list"]}`, nil, "compliance.suppress[0]"},
		{"repeated list", "nxcloud", `{"suppress": ["dnc", "dnc"]}`, nil, "compliance.suppress[1]"},
		{"cap max", "nxcloud", `{"contact_cap": {"max": 0, "days": 30}}`, nil, "compliance.contact_cap.max"},
		{"cap days", "nxcloud", `{"contact_cap": {"max": 1, "days": 0}}`, nil, "compliance.contact_cap.days"},
		{"cap days long", "nxcloud", `{"contact_cap": {"max": 1, "days": 400}}`, nil, "compliance.contact_cap.days"},
		{"zone", "nxcloud", win("Mars/Base", all, "09:00", "20:00"), nil, "compliance.window.timezone"},
		{"days", "nxcloud", win("UTC", `["mo"]`, "09:00", "20:00"), nil, "compliance.window.days"},
		{"from", "nxcloud", win("UTC", all, "9", "20:00"), nil, "compliance.window.from"},
		{"to", "nxcloud", win("UTC", all, "09:00", "25:00"), nil, "compliance.window.to"},
		// FlashAI's call hours 9-11 and 14-16 of 2026-11-23 (a Monday), CST.
		{"flashai hour past window", "flashai", win("Asia/Shanghai", all, "09:00", "16:00"), nil, "call_hours"},
		{"flashai weekday outside", "flashai", win("Asia/Shanghai", `["sat","sun"]`, "09:00", "20:00"), nil, "call_hours"},
		{"flashai other zone", "flashai", win("Europe/London", all, "09:00", "20:00"), nil, "call_hours"},
		// speech runs 2026-11-23..30 every day: a weekdays-only window contradicts it.
		{"speech weekend", "speech", win("Asia/Shanghai", `["mon","tue","wed","thu","fri"]`, "08:00", "20:00"), nil, "exec_times"},
		{"speech early", "speech", win("Asia/Shanghai", all, "10:00", "20:00"), nil, "exec_times"},
		{"yccall call time", "yccall", win("Asia/Shanghai", all, "09:00", "20:00"),
			[]string{`"task_name"`, `"call_time": "2026-11-23T21:00:00+08:00", "task_name"`}, "call_time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := withGate(t, tt.vendor, tt.gate, tt.repl...)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Parse(%s, %s) = %v; want an error on field %q", tt.vendor, tt.gate, err, tt.field)
			}
		})
	}
}

func TestComplianceWindowAgrees(t *testing.T) {
	all := `["mon","tue","wed","thu","fri","sat","sun"]`
	tests := []struct {
		name, vendor, gate string
		repl               []string
	}{
		{"flashai", "flashai", `{"window": {"timezone": "Asia/Shanghai", "days": ["mon"], "from": "09:00", "to": "17:00"}}`, nil},
		// 09:00 CST is 01:00 UTC.
		{"flashai utc window", "flashai", `{"window": {"timezone": "UTC", "days": ` + all + `, "from": "00:00", "to": "09:00"}}`, nil},
		{"speech", "speech", `{"window": {"timezone": "Asia/Shanghai", "days": ` + all + `, "from": "09:00", "to": "18:00"}}`, nil},
		{"yccall", "yccall", `{"window": {"timezone": "Asia/Shanghai", "days": ` + all + `, "from": "09:00", "to": "20:00"}}`,
			[]string{`"task_name"`, `"call_time": "2026-11-23T10:00:00+08:00", "task_name"`}},
		{"nxcloud overnight", "nxcloud", `{"window": {"timezone": "Asia/Shanghai", "days": ` + all + `, "from": "22:00", "to": "02:00"}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := withGate(t, tt.vendor, tt.gate, tt.repl...); err != nil {
				t.Fatalf("Parse(%s, %s) = %v; want ok", tt.vendor, tt.gate, err)
			}
		})
	}
}
