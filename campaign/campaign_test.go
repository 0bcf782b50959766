package campaign

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dialq/dialq/vendors/registry"
)

func TestExamplesParse(t *testing.T) {
	for _, v := range registry.Names() {
		data, err := os.ReadFile(filepath.Join("..", "examples", v+".json"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse(v, data)
		if err != nil {
			t.Errorf("examples/%s.json: %v", v, err)
			continue
		}
		if c.Vendor() != v {
			t.Errorf("examples/%s.json parsed as %s", v, c.Vendor())
		}
	}
}

// mutate loads vendor's example, applies a JSON-level replacement and parses it.
func mutate(t *testing.T, vendor, old, new string) error {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", vendor+".json"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	if !strings.Contains(s, old) {
		t.Fatalf("examples/%s.json has no %q", vendor, old)
	}
	_, err = Parse(vendor, []byte(strings.Replace(s, old, new, 1)))
	return err
}

func TestValidateNamesField(t *testing.T) {
	long := strings.Repeat("x", 51)
	tests := []struct {
		vendor, old, new, field string
	}{
		{"nxcloud", `"task_name": "spring-renewals"`, `"task_name": "` + long + `"`, "task_name"},
		{"nxcloud", `"task_name": "spring-renewals"`, `"task_name": ""`, "task_name"},
		{"nxcloud", `"country": "CN"`, `"country": "China"`, "country"},
		{"nxcloud", `"dispatch_type": 0`, `"dispatch_type": 3`, "dispatch_type"},
		{"nxcloud", `"startup_type": 3`, `"startup_type": 4`, "startup_type"},
		{"yccall", `"assign_type": 2`, `"assign_type": 4`, "assign_type"},
		{"yccall", `"task_scale": "1:1"`, `"task_scale": "2"`, "task_scale"},
		{"yccall", `"display_numbers": []`, `"display_numbers": ["1,2"]`, "display_numbers"},
		{"speech", `"max_ringing_duration": 45`, `"max_ringing_duration": 19`, "max_ringing_duration"},
		{"speech", `"max_ringing_duration": 45`, `"max_ringing_duration": 51`, "max_ringing_duration"},
		{"speech", `"acw": 10`, `"acw": 181`, "acw"},
		{"speech", `"exec_start_date": "2026-11-23"`, `"exec_start_date": "23/11/2026"`, "exec_start_date"},
		{"speech", `"exec_end_date": "2026-11-30"`, `"exec_end_date": "2026-11-01"`, "exec_end_date"},
		{"speech", `"start": "09:00:00"`, `"start": "9am"`, "exec_times[0]"},
		{"speech", `"multiply_power": 2`, `"multiply_power": 0`, "multiply_power"},
		{"speech", `"auto_outbound_switch": 0`, `"auto_outbound_switch": 1`, "phone_group.auto_outbound_interval"},
		{"flashai", `"call_hours": [9, 10, 11, 14, 15, 16]`, `"call_hours": [8, 9]`, "call_hours"},
		{"flashai", `"call_hours": [9, 10, 11, 14, 15, 16]`, `"call_hours": [21]`, "call_hours"},
		{"flashai", `"call_date": "20261123"`, `"call_date": "2026-11-23"`, "call_date"},
		{"flashai", `"recall": 0`, `"recall": 1`, "recall_params"},
		{"flashai", `"batch_name_prefix": "spring"`, `"batch_name_prefix": "a^b"`, "batch_name_prefix"},
		{"flashai", `"clear": 0`, `"clear": 2`, "clear"},
	}
	for _, tt := range tests {
		t.Run(tt.vendor+"/"+tt.field, func(t *testing.T) {
			err := mutate(t, tt.vendor, tt.old, tt.new)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("Parse with %s = %v; want a FieldError on %s", tt.new, err, tt.field)
			}
		})
	}
}

// TestEveryVendorHasSettings: a vendor added to the registry needs its campaign
// type here, and every one here is a registry's vendor.
func TestEveryVendorHasSettings(t *testing.T) {
	for _, v := range registry.Names() {
		newCampaign, ok := settings[v]
		if !ok {
			t.Errorf("vendor %s has no campaign settings (campaign.settings)", v)
			continue
		}
		if got := newCampaign().Vendor(); got != v {
			t.Errorf("settings[%s]().Vendor() = %s", v, got)
		}
	}
	for v := range settings {
		if !registry.Known(v) {
			t.Errorf("campaign settings for %s, which the registry does not list", v)
		}
	}
}

func TestParseRejectsUnknownFieldsAndVendors(t *testing.T) {
	if _, err := Parse("nxcloud", []byte(`{"task_nmae":"x"}`)); err == nil || !strings.Contains(err.Error(), "task_nmae") {
		t.Errorf("unknown field: err = %v", err)
	}
	if _, err := Parse("acme", []byte(`{}`)); err == nil {
		t.Error("unknown vendor accepted")
	}
}

func TestPartName(t *testing.T) {
	tests := []struct {
		base, suffix string
		max          int
		want         string
	}{
		{"renewals", "-ab12-3", 50, "renewals-ab12-3"},
		{strings.Repeat("名", 50), "-ab12-3", 50, strings.Repeat("名", 43) + "-ab12-3"},
		{"x", "-toolongsuffix", 5, "-toolongsuffix"},
	}
	for _, tt := range tests {
		if got := PartName(tt.base, tt.suffix, tt.max); got != tt.want {
			t.Errorf("PartName(%q, %q, %d) = %q; want %q", tt.base, tt.suffix, tt.max, got, tt.want)
		}
	}
}
