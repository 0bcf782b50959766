package nxcloud

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dialq/dialq/redact"
)

func TestParseEnvelope(t *testing.T) {
	tests := []struct {
		in      string
		want    envelope
		wantErr bool
	}{
		{in: `{"reqId":"R","code":0,"msg":"ok","data":null}`, want: envelope{ReqID: "R", Msg: "ok"}},
		{in: `{"reqId":"R","code":41000,"msg":"bad","data":{}}`, want: envelope{ReqID: "R", Code: 41000, Msg: "bad"}},
		{in: `{"code":"99"}`, want: envelope{Code: 99}},
		{in: `{"code":0,"msg":5,"reqId":[]}`, want: envelope{}},
		{in: `{"msg":"ok"}`, wantErr: true},
		{in: `{"code":null}`, wantErr: true},
		{in: `{"code":1.5}`, wantErr: true},
		{in: `{"code":"x"}`, wantErr: true},
		{in: `[]`, wantErr: true},
		{in: ``, wantErr: true},
		{in: `<html>`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseEnvelope([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("parseEnvelope(%s) error = %v; want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && *got != tt.want {
			t.Errorf("parseEnvelope(%s) = %+v; want %+v", tt.in, *got, tt.want)
		}
	}
}

func TestCleanMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Parameter error or empty", "Parameter error or empty"},
		{"bad userPhone 85235757581 in list", "bad userPhone 852******81 in list"},
		{"code 41000 at 123456", "code 41000 at 123456"},
		{strings.Repeat("é", 250), strings.Repeat("é", 200) + "…"},
	}
	for _, tt := range tests {
		if got := redact.Message(tt.in); got != tt.want {
			t.Errorf("redact.Message(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestMarshalRates(t *testing.T) {
	tests := []struct {
		predict, ratio float64
		want           string
	}{
		{1, 1, `"predictCallRate":1.00,"ratioCallRate":1.0`},
		{1.234, 0.25, `"predictCallRate":1.23,"ratioCallRate":0.2`},
		{0, 10, `"predictCallRate":0.00,"ratioCallRate":10.0`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(CreateAndCallRequest{PredictCallRate: tt.predict, RatioCallRate: tt.ratio})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tt.want) {
			t.Errorf("Marshal rates %v, %v = %s; want it to contain %s", tt.predict, tt.ratio, b, tt.want)
		}
		if !strings.Contains(string(b), `"callList":[]`) || strings.Contains(string(b), "startupType") {
			t.Errorf("Marshal = %s; want an empty callList and no startupType", b)
		}
	}
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`{"reqId":"R","code":0,"msg":"ok","data":null}`))
	f.Add([]byte(`{"code":"41000","msg":"bad","data":{}}`))
	f.Add([]byte(`{"code":1e3}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := parseEnvelope(b)
		if err != nil {
			if env != nil {
				t.Fatalf("parseEnvelope returned both %+v and %v", env, err)
			}
			return
		}
		// Whatever parsed was valid JSON carrying a code.
		if !json.Valid(b) {
			t.Fatalf("parseEnvelope accepted invalid JSON %q", b)
		}
		if msg := redact.Message(env.Msg); utf8.RuneCountInString(msg) > 201 {
			t.Fatalf("cleanMessage kept %d bytes", len(msg))
		}
	})
}
