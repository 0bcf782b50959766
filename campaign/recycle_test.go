package campaign

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestRecycle(t *testing.T) {
	base, err := os.ReadFile("../examples/flashai.json")
	if err != nil {
		t.Fatal(err)
	}
	with := func(block string) []byte {
		s := strings.TrimSpace(string(base))
		return []byte(s[:len(s)-1] + `, "recycle": ` + block + "}")
	}
	c, err := Parse("flashai", with(`{"on": ["not_answered", "not_called"], "after": "2h", "max_attempts": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.(*FlashAI).Recycling()
	if r.Delay() != 2*time.Hour || !r.Redials("not_called") || r.Redials("answered") {
		t.Errorf("recycle %+v", r)
	}
	for block, field := range map[string]string{
		`{"on": ["answered"], "after": "1h", "max_attempts": 2}`:                 "recycle.on[0]",
		`{"on": ["busy"], "after": "1h", "max_attempts": 2}`:                     "recycle.on[0]",
		`{"on": [], "after": "1h", "max_attempts": 2}`:                           "recycle.on",
		`{"on": ["not_called", "not_called"], "after": "1h", "max_attempts": 2}`: "recycle.on[1]",
		`{"on": ["not_called"], "after": "2 hours", "max_attempts": 2}`:          "recycle.after",
		`{"on": ["not_called"], "after": "500ms", "max_attempts": 2}`:            "recycle.after",
		`{"on": ["not_called"], "after": "1s", "max_attempts": 1}`:               "recycle.max_attempts",
		`{"on": ["not_called"], "after": "1s", "max_attempts": 11}`:              "recycle.max_attempts",
		`{"on": ["not_called"], "after": "1s", "max_attempts": 2, "x": 1}`:       "unknown field",
	} {
		_, err := Parse("flashai", with(block))
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v; want an error naming %s", block, err, field)
		}
	}
	if _, err := Parse("yccall", func() []byte {
		b, _ := os.ReadFile("../examples/yccall.json")
		s := strings.TrimSpace(string(b))
		return []byte(s[:len(s)-1] + `, "recycle": {"on": ["not_answered"], "after": "30s", "max_attempts": 2}}`)
	}()); err != nil {
		t.Errorf("yccall with recycle: %v", err)
	}
}
