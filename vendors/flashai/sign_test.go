package flashai_test

import (
	"bytes"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dialq/dialq/vendors/flashai"
	"github.com/google/go-cmp/cmp"
)

func TestSignVector(t *testing.T) {
	params := map[string]string{
		"clientId":  "c8b4f569e0d5a7a57fc6240541827443",
		"nonce":     "abcdef",
		"timestamp": "134214124132",
	}
	const secret = "799d6055c68c8f91de3ee7d852c13844"
	const want = "1158C47E91CB3C570C5E85FE3559CB54"
	if got := flashai.Sign(params, secret); got != want {
		t.Errorf("Sign(vector) = %s; want %s", got, want)
	}
	// sign, signType and empty values never change the signature.
	params["sign"] = "ANYTHING"
	params["signType"] = "MD5"
	params["recallParams"] = ""
	if got := flashai.Sign(params, secret); got != want {
		t.Errorf("Sign(vector + sign, signType, empty) = %s; want %s", got, want)
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"empty", map[string]string{}, ""},
		{"byte order", map[string]string{"b": "2", "B": "1", "a": "3", "_": "0"}, "B=1&_=0&a=3&b=2"},
		{"prefix sorts first", map[string]string{"lineIds": "1", "line": "2"}, "line=2&lineIds=1"},
		{"values raw", map[string]string{"notifyUrl": "http://x/?a=1&b=2", "mobileList": "13800000000^a^p1-p2|x"},
			"mobileList=13800000000^a^p1-p2|x&notifyUrl=http://x/?a=1&b=2"},
		{"drops sign and empty", map[string]string{"sign": "S", "signType": "MD5", "x": "", "y": " "}, "y= "},
		{"unicode", map[string]string{"custName": "牛小信"}, "custName=牛小信"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := flashai.Canonical(tt.params); got != tt.want {
				t.Errorf("Canonical(%v) = %q; want %q", tt.params, got, tt.want)
			}
		})
	}
}

func TestStringParams(t *testing.T) {
	tests := []struct {
		name    string
		body    map[string]any
		want    map[string]string
		wantErr bool
	}{
		{"scalars", map[string]any{"s": "x", "i": 3, "i64": int64(1700000000123), "b": true, "nil": nil},
			map[string]string{"s": "x", "i": "3", "i64": "1700000000123", "b": "true"}, false},
		{"json numbers plain", map[string]any{"a": json.Number("1e3"), "b": json.Number("12345678901234567"),
			"c": json.Number("0.5"), "d": json.Number("-7")},
			map[string]string{"a": "1000", "b": "12345678901234567", "c": "0.5", "d": "-7"}, false},
		{"float plain", map[string]any{"f": 1e21}, map[string]string{"f": "1000000000000000000000"}, false},
		{"empty string kept for Sign to drop", map[string]any{"e": ""}, map[string]string{"e": ""}, false},
		{"nested refused", map[string]any{"o": map[string]any{"a": 1}}, nil, true},
		{"array refused", map[string]any{"o": []any{1}}, nil, true},
		{"bad number", map[string]any{"n": json.Number("1e999")}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := flashai.StringParams(tt.body)
			if (err != nil) != tt.wantErr {
				t.Fatalf("StringParams(%v) error = %v; want error %v", tt.body, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("StringParams(%v) (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

// referenceSign is the rule written out a second way, to fuzz Sign against.
func referenceSign(params map[string]string, secret string) string {
	var pairs []string
	for k, v := range params {
		if v != "" && k != "sign" && k != "signType" {
			pairs = append(pairs, k+"="+v)
		}
	}
	// Sorting whole pairs equals sorting keys unless a key is a prefix of another
	// and the next byte sorts below "="; compare by key explicitly.
	sort.Slice(pairs, func(i, j int) bool {
		ki, _, _ := strings.Cut(pairs[i], "=")
		kj, _, _ := strings.Cut(pairs[j], "=")
		return ki < kj
	})
	return fmt.Sprintf("%X", md5.Sum([]byte(strings.Join(pairs, "&")+secret)))
}

func FuzzSign(f *testing.F) {
	f.Add("clientId", "c8b4f569e0d5a7a57fc6240541827443", "nonce", "abcdef", "799d6055c68c8f91de3ee7d852c13844")
	f.Add("a", "", "sign", "x", "")
	f.Add("line", "1", "line=", "2", "s")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, secret string) {
		if strings.Contains(k1, "=") || strings.Contains(k2, "=") {
			t.Skip() // "=" inside a key makes the reference's split ambiguous
		}
		params := map[string]string{k1: v1, k2: v2, "timestamp": "1"}
		got := flashai.Sign(params, secret)
		if want := referenceSign(params, secret); got != want {
			t.Fatalf("Sign(%q) = %s; reference %s", params, got, want)
		}
		if len(got) != 32 || strings.ToUpper(got) != got {
			t.Fatalf("Sign = %q; want 32 upper-case hex digits", got)
		}
	})
}

// FuzzStringParamsRoundTrip checks that the client, which signs the values it
// marshals, and a server, which signs what it decodes, sign the same text.
func FuzzStringParamsRoundTrip(f *testing.F) {
	f.Add("13800000000^a^p1-p2", "http://x/?a=1&b=<2>", int64(1700000000123), true)
	f.Add("", "\u2028\"\\", int64(-1), false)
	f.Fuzz(func(t *testing.T, s1, s2 string, n int64, b bool) {
		body := map[string]any{"s1": s1, "s2": s2, "n": n, "b": b, "z": nil}
		sent, err := flashai.StringParams(body)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		dec := json.NewDecoder(&buf)
		dec.UseNumber()
		if err := dec.Decode(&back); err != nil {
			t.Fatal(err)
		}
		got, err := flashai.StringParams(back)
		if err != nil {
			t.Fatal(err)
		}
		// Invalid UTF-8 is replaced on the way through JSON; the vendor would see
		// the replacement, so only valid text must round-trip exactly.
		if !validUTF8(s1, s2) {
			return
		}
		if diff := cmp.Diff(sent, got); diff != "" {
			t.Fatalf("params after a JSON round trip (-sent +decoded):\n%s", diff)
		}
	})
}

func validUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
