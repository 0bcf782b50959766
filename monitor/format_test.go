package monitor

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRedactJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"ids and counts untouched", `{"batch":"b-1","part":3,"count":500}`, `{"batch":"b-1","part":3,"count":500}`},
		{"phone string", `{"phone":"13800000001"}`, `{"phone":"138******01"}`},
		{"phone with plus", `{"to":"+8613800000001"}`, `{"to":"+861********01"}`},
		{"phone inside text", `{"note":"call 13800000001 or 13900000002."}`, `{"note":"call 138******01 or 139******02."}`},
		{"phone as number", `{"phone":13800000001}`, `{"phone":"138******01"}`},
		{"seven digits", `["1234567"]`, `["123**67"]`},
		{"six digits kept", `{"n":"123456","m":123456}`, `{"n":"123456","m":123456}`},
		{"float kept", `{"ratio":0.25,"e":1e300}`, `{"ratio":0.25,"e":1e300}`},
		{"nested list", `{"numbers":["13800000001",["13900000002"]]}`, `{"numbers":["138******01",["139******02"]]}`},
		{"phone as key", `{"13800000001":"refused"}`, `{"138******01":"refused"}`},
		{"secrets dropped", `{"Token":"t","sign":"s","app_secret":"x","Password":"p","accessKey":"k","id":1}`, `{"id":1}`},
		{"secret with nested value dropped", `{"a":1,"privateKey":{"pem":["x",{"y":2}]},"b":2}`, `{"a":1,"b":2}`},
		{"signature dropped", `{"signature":"abc","ok":true,"none":null}`, `{"ok":true,"none":null}`},
		{"order kept", `{"z":1,"a":2}`, `{"z":1,"a":2}`},
		{"no html escaping", `{"s":"<a>&"}`, `{"s":"<a>&"}`},
		{"top-level string", `"13800000001"`, `"138******01"`},
		{"empty object", `{}`, `{}`},
		{"not json", `call 13800000001`, `<16 bytes>`},
		{"empty", ``, `<0 bytes>`},
		{"trailing data", `{"a":1} {"b":2}`, `<15 bytes>`},
		{"truncated", `{"phone":"13800000001"`, `<22 bytes>`},
		{"binary", "\x00\x01\x02", `<3 bytes>`},
		{"too deep", strings.Repeat("[", 100) + strings.Repeat("]", 100), `<200 bytes>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactJSON([]byte(tt.in)); got != tt.want {
				t.Errorf("redactJSON(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormattersRedact(t *testing.T) {
	in := []byte(`{"phone":"13800000001","token":"t0k3n"}`)
	want := `{"phone":"138******01"}`
	if got := PayloadFormatter.FormatPayload("dial:test", in); got != want {
		t.Errorf("PayloadFormatter = %q; want %q", got, want)
	}
	if got := ResultFormatter.FormatResult("dial:test", in); got != want {
		t.Errorf("ResultFormatter = %q; want %q", got, want)
	}
}

func TestMaskDigits(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"123456", "123456"},
		{"1234567", "123**67"},
		{"a13800000001b", "a138******01b"},
		{"13800000001-13900000002", "138******01-139******02"},
		{"-1.38000000001e10", "-1.380******01e10"},
	}
	for _, tt := range tests {
		if got := maskDigits(tt.in); got != tt.want {
			t.Errorf("maskDigits(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzRedactJSON(f *testing.F) {
	for _, s := range []string{`{"phone":"13800000001"}`, `[1,2,{"key":3}]`, `"x"`, `{`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := redactJSON(b)
		switch {
		case !json.Valid(b) && got != notJSON(b):
			t.Fatalf("redactJSON(%q) = %q; want %q", b, got, notJSON(b))
		case got != notJSON(b) && !json.Valid([]byte(got)):
			t.Fatalf("redactJSON(%q) = %q: not JSON", b, got)
		}
		// Whatever the input, no 7-digit run survives.
		run := 0
		for i := 0; i < len(got); i++ {
			if isDigit(got[i]) {
				run++
				if run >= minPhoneDigits {
					t.Fatalf("redactJSON(%q) = %q: keeps a %d-digit run", b, got, run)
				}
			} else {
				run = 0
			}
		}
	})
}
