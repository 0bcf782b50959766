package yccall

import (
	"encoding/json"
	"testing"

	"github.com/dialq/dialq/redact"
)

func TestParseEnvelope(t *testing.T) {
	tests := []struct {
		in      string
		want    envelope
		wantErr bool
	}{
		{in: `{"ret":200,"data":{"status":0,"desc":"ok","result":{"taskid":"1"}},"msg":""}`,
			want: envelope{Ret: 200, Desc: "ok", Result: json.RawMessage(`{"taskid":"1"}`)}},
		{in: `{"ret":200,"data":{"status":1,"errors":{"code":1003,"codemsg":"auth"}}}`,
			want: envelope{Ret: 200, Status: 1, ErrCode: 1003, ErrMsg: "auth"}},
		{in: `{"ret":"600","msg":"token invalid"}`, want: envelope{Ret: 600, Msg: "token invalid"}},
		{in: `{"ret":400,"data":[],"msg":"bad"}`, want: envelope{Ret: 400, Msg: "bad"}},
		{in: `{"ret":200,"data":{"result":{}}}`, want: envelope{Ret: 200, Result: json.RawMessage(`{}`)}},
		{in: `{"ret":200,"data":{"status":"x"}}`, wantErr: true},
		{in: `{"ret":200,"data":null}`, wantErr: true},
		{in: `{"ret":200}`, wantErr: true},
		{in: `{"data":{}}`, wantErr: true},
		{in: `{"ret":2.5}`, wantErr: true},
		{in: `[]`, wantErr: true},
		{in: `<html>`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseEnvelope([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("parseEnvelope(%s) error = %v; want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if got.Ret != tt.want.Ret || got.Status != tt.want.Status || got.Msg != tt.want.Msg || got.Desc != tt.want.Desc ||
			got.ErrCode != tt.want.ErrCode || got.ErrMsg != tt.want.ErrMsg || string(got.Result) != string(tt.want.Result) {
			t.Errorf("parseEnvelope(%s) = %+v; want %+v", tt.in, *got, tt.want)
		}
	}
}

func TestCleanMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"token invalid", "token invalid"},
		{"phone 13800000001 refused", "phone 138******01 refused"},
		{"ret 600 at 12:00", "ret 600 at 12:00"},
	}
	for _, tt := range tests {
		if got := redact.Message(tt.in); got != tt.want {
			t.Errorf("redact.Message(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`{"ret":200,"data":{"status":0,"desc":"ok","result":{"taskid":"1","invaliddata":[]}},"msg":""}`))
	f.Add([]byte(`{"ret":200,"data":{"status":1,"errors":{"code":"1001","codemsg":"x"}}}`))
	f.Add([]byte(`{"ret":"600"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := parseEnvelope(b)
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("parseEnvelope accepted invalid JSON %q", b)
		}
		if env.Ret == RetOK && env.Result != nil && !json.Valid(env.Result) {
			t.Fatalf("result %q is not JSON", env.Result)
		}
	})
}

func FuzzParseInvalid(f *testing.F) {
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"phone":"13800000001","reason":"blacklisted"}]`))
	f.Add([]byte(`["13800000001",13800000002]`))
	f.Add([]byte(`{"13800000001":"dup"}`))
	f.Add([]byte(`[true,null,{}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		inv, err := parseInvalid(b)
		if err != nil {
			return
		}
		for _, in := range inv {
			if in.Reason == "" {
				t.Fatalf("parseInvalid(%q) gave an entry without a reason", b)
			}
		}
		// Every element of a list comes back, readable or not: none is lost.
		var list []json.RawMessage
		if json.Unmarshal(b, &list) == nil && len(list) != len(inv) {
			t.Fatalf("parseInvalid(%q) = %d entries; want %d", b, len(inv), len(list))
		}
	})
}
