package nxcloud

import (
	"regexp"
	"testing"
)

func TestSignVectors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"name first", `{"name":"牛小信","id":10001}`, "87c3560d3331ae23f1021e2025722354"},
		{"id first", `{"id":10001,"name":"牛小信"}`, "7750759da06333f20d0640be09355e34"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Sign("fme2na3kdi3ki", "send", "1", "1655710885431", []byte(tt.body), "abciiiko2k3")
			if got != tt.want {
				t.Errorf("Sign(..., %s, ...) = %s; want %s", tt.body, got, tt.want)
			}
		})
	}
}

func TestSignWithoutBody(t *testing.T) {
	// With no body the &body= segment is left out, so nil and empty agree and
	// differ from a body of any content.
	a := Sign("ak", "cc", "8", "1", nil, "s")
	b := Sign("ak", "cc", "8", "1", []byte{}, "s")
	c := Sign("ak", "cc", "8", "1", []byte("{}"), "s")
	if a != b {
		t.Errorf("Sign with nil body = %s, with empty body = %s; want equal", a, b)
	}
	if a == c {
		t.Errorf("Sign with no body = Sign with body {} = %s; want different", a)
	}
	// md5("accessKey=ak&action=cc&bizType=8&ts=1&accessSecret=s"), computed with md5sum.
	if want := "2379392474381cab6fb861bafdc6d686"; a != want {
		t.Errorf("Sign with no body = %s; want %s", a, want)
	}
}

var hexMD5 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func FuzzSign(f *testing.F) {
	f.Add("fme2na3kdi3ki", "1655710885431", []byte(`{"name":"牛小信","id":10001}`), "abciiiko2k3")
	f.Add("", "", []byte(nil), "")
	f.Add("k", "0", []byte("&accessSecret=x"), "x")
	f.Fuzz(func(t *testing.T, ak, ts string, body []byte, secret string) {
		got := Sign(ak, "cc", "8", ts, body, secret)
		if !hexMD5.MatchString(got) {
			t.Fatalf("Sign = %q; want 32 lower-case hex digits", got)
		}
		if again := Sign(ak, "cc", "8", ts, body, secret); again != got {
			t.Fatalf("Sign not deterministic: %s then %s", got, again)
		}
		if len(body) > 0 {
			// The body is part of what is signed: changing one byte changes the sign.
			mod := append([]byte(nil), body...)
			mod[0] ^= 1
			if Sign(ak, "cc", "8", ts, mod, secret) == got {
				t.Fatalf("Sign ignores a change to the body")
			}
		}
	})
}
