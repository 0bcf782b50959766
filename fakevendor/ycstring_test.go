package fakevendor

import (
	"encoding/json"
	"testing"
)

// ycString must decode exactly as json.Unmarshal does; it only skips the work.
func TestYcStringMatchesUnmarshal(t *testing.T) {
	for _, v := range []string{
		`"13800138000"`, `""`, `"a\"b"`, `"\u00e9t\u00e9"`, `"été"`, "\"\xff\"", `"tab\there"`,
		`13800138000`, `null`, `true`, `{"a":1}`, `["x"]`, `"\\"`, `"/"`,
	} {
		var want string
		wantOK := json.Unmarshal([]byte(v), &want) == nil
		var got string
		if ok := ycString(json.RawMessage(v), &got); ok != wantOK || got != want {
			t.Errorf("ycString(%s) = %q, %v; want %q, %v", v, got, ok, want, wantOK)
		}
	}
}

func FuzzYcString(f *testing.F) {
	for _, s := range []string{`"13800138000"`, `"a\"b"`, "\"\xff\"", `12`, `"\u0000"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if !json.Valid([]byte(v)) {
			return // ycString only sees values json.Unmarshal has checked
		}
		var want, got string
		wantOK := json.Unmarshal([]byte(v), &want) == nil
		if ok := ycString(json.RawMessage(v), &got); ok != wantOK || got != want {
			t.Errorf("ycString(%q) = %q, %v; want %q, %v", v, got, ok, want, wantOK)
		}
	})
}
