package campaign

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDailyCap(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "examples", "nxcloud.json"))
	if err != nil {
		t.Fatal(err)
	}
	with := func(field string) []byte {
		s := strings.TrimSpace(string(base))
		return []byte(s[:len(s)-1] + "," + field + "}")
	}
	tests := []struct {
		field string
		want  int    // the cap read
		err   string // or a piece of the error
	}{
		{`"daily_cap": 50000`, 50000, ""},
		{`"daily_cap": 0`, 0, ""},
		{`"daily_cap": -5`, 0, "daily_cap"},
		{`"daily_cap": 100000001`, 0, "daily_cap"},
		{`"daily_cap": "many"`, 0, "daily_cap"},
		{`"daily_cap": 1.5`, 0, "daily_cap"},
	}
	for _, tt := range tests {
		c, err := Parse("nxcloud", with(tt.field))
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: %v; want an error naming %s", tt.field, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.field, err)
		case tt.err == "" && DailyCapOf(c) != tt.want:
			t.Errorf("%s: cap %d; want %d", tt.field, DailyCapOf(c), tt.want)
		}
	}
	c, err := Parse("nxcloud", with(`"daily_cap": 10, "compliance": {"window": {"timezone": "Asia/Kolkata", "days": ["mon"], "from": "09:00", "to": "18:00"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if z := Zone(c); z == nil || z.String() != "Asia/Kolkata" {
		t.Errorf("zone %v; want the window's Asia/Kolkata", z)
	}
}
