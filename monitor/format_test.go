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
		{"batch id kept", `{"batch":"speech-3039847b6e5c1b28","part":0}`, `{"batch":"speech-3039847b6e5c1b28","part":0}`},
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
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"letters", "abc", "abc"},
		{"six digits", "123456", "123456"},
		{"seven digits", "1234567", "123**67"},
		{"mobile between letters", "a13800000001b", "a138******01b"},
		{"two mobiles", "13800000001-13900000002", "138******01-139******02"},
		{"exponent", "-1.38000000001e10", "-1.380******01e10"},
		{"short exponent", "1.3800138e10", "1.380**38e10"},
		{"batch id kept", "speech-3039847b6e5c1b28", "speech-3039847b6e5c1b28"},
		{"upper-case hex kept", "ID 3039847B6E5C1B28", "ID 3039847B6E5C1B28"},
		{"nxcloud task name kept", "Monday-3039847b6e5c-3-0-100", "Monday-3039847b6e5c-3-0-100"},
		{"flashai batch name kept", "demo_3039847b6e5c_3", "demo_3039847b6e5c_3"},
		{"task id kept", "flashai-1234567abcdef012:7", "flashai-1234567abcdef012:7"},
		{"short hex word masked", "a1234567b", "a123**67b"},
		{"mobile inside hex masked", "abc13800000001def", "abc138******01def"},
		{"not hex masked", "phone13800000001x", "phone138******01x"},
		{"fifteen digits masked", "123456789012345", "123**********45"},
		{"yccall task id kept", "20261203094925000001", "20261203094925000001"},
		{"id beside phone", "speech-3039847b6e5c1b28 13800000001", "speech-3039847b6e5c1b28 138******01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maskDigits(tt.in); got != tt.want {
				t.Errorf("maskDigits(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
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
		// Whatever the input, no run of 11 to 15 digits survives, and no run of 7 to
		// 15 digits outside a hash-like word.
		for i := 0; i < len(got); {
			j := i
			for j < len(got) && isAlnum(got[j]) {
				j++
			}
			if j == i {
				i++
				continue
			}
			w, run := got[i:j], 0
			for k := 0; k < len(w); k++ {
				if !isDigit(w[k]) {
					run = 0
					continue
				}
				run++
				if k+1 < len(w) && isDigit(w[k+1]) || run > maxPhoneDigits {
					continue // the run goes on, or is too long for a phone number
				}
				if run > maxHashDigitRun || run >= minPhoneDigits && !hashLike(w) {
					t.Fatalf("redactJSON(%q) = %q: keeps a %d-digit run in %q", b, got, run, w)
				}
			}
			i = j
		}
	})
}
