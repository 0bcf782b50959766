package speech

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
)

// The page's sample appId and timestamp.
const (
	vecAppID = "99845aaaaebd4d61acccc9b776208f12"
	vecTS    = "1586314097995"
)

// Signatures of the sample over testdata/key_pkcs1.pem, computed with openssl (see
// testdata/README.md), not with this package.
const (
	vecSHA256 = "Q3O/N5yQNuEyBRRouCrZlxssNlTBr37KyNZaGAuC/7KqC4Q/IzR1yHbNurD+zu2KV4iaW/M+2v3h5HI9fd/FXfUTf9+gmgEOLgPBuYuE1QUt12SLSn0E+HY664QzxzhGGk+rt77nyLx830Of+GUWW+VoIvZdr1hqQ5aUT27cPtD4TXmX7t8lKistyYCJZOnSWD0pewJrRc4IiP1PNRD2aSfkFR5URpefbzoZSreUvo6wyB91LHZ6bkTKHftrzJLH8O/HU3H/BO5ko7RnGrDTsgrdiF2S1p9oMYAGLZAzWv5hKWFfGzsE0CW5CgJ0rT20OEws8JsN3qUwBc/Rbl42Vg=="
	vecSHA1   = "MVA4093twqZICxCDLyUOvb/WaUb3RgMjrD50qe8xtVw3au7VDghsqYZd6Ws3XJDbdQvnCvlcKREvz4GAqarYsZKwr+PdWBobu6HaUK1xEJkTN4opn1w6XY70FZwA9fGGiJZNEqfcuo2Z72x7L8O8Y8C3kstQxSSASw+IDiqH6mYiPPBB4bco4EAJ5r6bE7I7VqWSSanD+O9bATYTOf4HTZbdOQ31VdgWegwNty2odz+cANvR0s39DMUlEdpWXBIUis+Fj/yW5BjW/NclE+Sbl/D7GAa392hBtPfp5TKzbcb2HKKmpbPvOCRFYcupX/Ig4Z+zY7lDxCVHiEOd3rJLCA=="
	vecBody   = "Pi4exW6Gv5GkpRP7WVtUuV1kinOoH0YneRt9Yy5l/Hw69IavfBoYDCGbYktnwJo5cuphrwAxAKw0hELUBxTP3ANfgJGA+uzi96qfDM/9PZY3NAics8yD8VJ46/+z4qXx/haWiyCUieZwNDZT898yQ8qQbaVIafXMG/IiPIorkEsdbpgnpUrEX/AzQsG1owNDTxi7Oep97+WecoQIvzCeAqJwNifaEf0hXKvYWuc4viukySpVsLL5FlpP58qE4xYzVLPdB+0FV+hGMdccJWKDTmrGbiD67byUMSVa8lWjwMrPKdKOONEL+e2FaBOLydMYgg0NvgNTyX1d1ObGPfxERQ=="
)

func readKey(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRSASignerVectors(t *testing.T) {
	tests := []struct {
		name string
		key  string
		opts SignOptions
		body string
		want string
	}{
		{"default pkcs1", "key_pkcs1.pem", SignOptions{}, `{"ignored":true}`, vecSHA256},
		{"default pkcs8", "key_pkcs8.pem", SignOptions{}, "", vecSHA256},
		{"explicit sha256", "key_pkcs1.pem", SignOptions{Hash: crypto.SHA256, Template: DefaultTemplate}, "", vecSHA256},
		{"sha1", "key_pkcs8.pem", SignOptions{Hash: crypto.SHA1}, "", vecSHA1},
		{"body template", "key_pkcs1.pem", SignOptions{Template: "{appId}|{timestamp}|{body}"}, `{"taskId":123}`, vecBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewRSASigner(readKey(t, tt.key), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Sign(vecAppID, vecTS, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Sign(%q, %q) = %s; want %s", vecAppID, vecTS, got, tt.want)
			}
			if err := s.Verifier().Verify(vecAppID, vecTS, []byte(tt.body), got); err != nil {
				t.Errorf("Verify(own signature) = %v", err)
			}
		})
	}
}

func TestPKCS1AndPKCS8LoadSameKey(t *testing.T) {
	k1, err := ParsePrivateKey(readKey(t, "key_pkcs1.pem"))
	if err != nil {
		t.Fatal(err)
	}
	k8, err := ParsePrivateKey(readKey(t, "key_pkcs8.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k8) {
		t.Error("PKCS#1 and PKCS#8 files give different keys")
	}
	if k1.N.BitLen() != 2048 {
		t.Errorf("key size = %d; want 2048", k1.N.BitLen())
	}
}

func TestParsePrivateKeyErrors(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePrivateKey(readKey(t, "key_pkcs1.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pubDER := x509.MarshalPKCS1PublicKey(&pub.PublicKey)
	pk1 := readKey(t, "key_pkcs1.pem")
	corrupt := bytes.Replace(pk1, []byte("MII"), []byte("XXX"), 1)

	tests := []struct {
		name string
		pem  []byte
		want string
	}{
		{"empty", nil, "no PEM block"},
		{"garbage", []byte("not a key at all"), "no PEM block"},
		{"base64 without armour", []byte("MIIEowIBAAKCAQEA"), "no PEM block"},
		{"public key", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pubDER}), "not a private key"},
		{"ec key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), "not RSA"},
		{"pkcs8 bytes as pkcs1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: ecDER}), "bad PKCS#1"},
		{"corrupt", corrupt, "bad PKCS#1"},
		{"encrypted", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}), "encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivateKey(tt.pem)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParsePrivateKey = %v; want error containing %q", err, tt.want)
			}
			if _, err := NewRSASigner(tt.pem, SignOptions{}); err == nil {
				t.Error("NewRSASigner accepted it")
			}
		})
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ParsePrivateKey(readKey(t, "key_pkcs1.pem"))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"taskName":"t","outBoundCustomers":[]}`)
	for _, opts := range []SignOptions{
		{},
		{Hash: crypto.SHA1},
		{Template: "{appId}{timestamp}{body}"},
		{Hash: crypto.SHA1, Template: "{body}"},
	} {
		s, err := NewRSASignerFromKey(key, opts)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := s.Sign("app", "1700000000000", body)
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(&key.PublicKey, opts, "app", "1700000000000", body, sig); err != nil {
			t.Errorf("%+v: Verify = %v", opts, err)
		}
		// Each part that is signed must matter; parts left out must not.
		bad := []struct {
			what          string
			app, ts, body string
			pub           *rsa.PublicKey
			sig           string
			signed        bool
		}{
			{"app id", "other", "1700000000000", string(body), &key.PublicKey, sig, strings.Contains(s.Options().Template, "{appId}")},
			{"timestamp", "app", "1700000000001", string(body), &key.PublicKey, sig, strings.Contains(s.Options().Template, "{timestamp}")},
			{"body", "app", "1700000000000", string(body) + " ", &key.PublicKey, sig, strings.Contains(s.Options().Template, "{body}")},
			{"key", "app", "1700000000000", string(body), &other.PublicKey, sig, true},
			{"not base64", "app", "1700000000000", string(body), &key.PublicKey, "!!" + sig, true},
		}
		for _, b := range bad {
			err := Verify(b.pub, opts, b.app, b.ts, []byte(b.body), b.sig)
			if b.signed && err == nil {
				t.Errorf("%+v: changing the %s still verifies", opts, b.what)
			}
			if !b.signed && err != nil {
				t.Errorf("%+v: changing the unsigned %s fails: %v", opts, b.what, err)
			}
		}
		// Options must match between the two sides.
		mismatch := SignOptions{Hash: crypto.SHA256, Template: opts.Template}
		if s.Options().Hash == crypto.SHA256 {
			mismatch.Hash = crypto.SHA1
		}
		if Verify(&key.PublicKey, mismatch, "app", "1700000000000", body, sig) == nil {
			t.Errorf("%+v: verifies with the other hash", opts)
		}
	}
}

func TestMessage(t *testing.T) {
	tests := []struct {
		template, app, ts, body string
		want                    string
	}{
		{DefaultTemplate, "a", "1", "b", "a1"},
		{"{appId}{timestamp}{body}", "a", "1", `{"x":1}`, `a1{"x":1}`},
		{"appId={appId}&timestamp={timestamp}", "a", "1", "", "appId=a&timestamp=1"},
		{"{body}", "a", "1", "{appId}{timestamp}", "{appId}{timestamp}"},
		{"{appId}", "{timestamp}", "1", "", "{timestamp}"},
		{"{{appId}}", "a", "1", "", "{a}"},
		{"{ literal }{", "a", "1", "", "{ literal }{"},
		{"", "a", "1", "", ""},
	}
	for _, tt := range tests {
		if got := string(Message(tt.template, tt.app, tt.ts, []byte(tt.body))); got != tt.want {
			t.Errorf("Message(%q, %q, %q, %q) = %q; want %q", tt.template, tt.app, tt.ts, tt.body, got, tt.want)
		}
	}
}

func TestSignOptionsErrors(t *testing.T) {
	key, err := ParsePrivateKey(readKey(t, "key_pkcs1.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []SignOptions{
		{Hash: crypto.MD5},
		{Hash: crypto.SHA512},
		{Template: "{appid}{timestamp}"},
		{Template: "{appId}{ts}"},
	} {
		if _, err := NewRSASignerFromKey(key, opts); err == nil {
			t.Errorf("NewRSASignerFromKey(%+v) accepted", opts)
		}
		if _, err := NewRSAVerifier(&key.PublicKey, opts); err == nil {
			t.Errorf("NewRSAVerifier(%+v) accepted", opts)
		}
	}
	if _, err := NewRSASignerFromKey(nil, SignOptions{}); err == nil {
		t.Error("nil key accepted")
	}
	if _, err := NewRSAVerifier(nil, SignOptions{}); err == nil {
		t.Error("nil public key accepted")
	}
}

func TestParseHash(t *testing.T) {
	tests := []struct {
		in      string
		want    crypto.Hash
		wantErr bool
	}{
		{"", crypto.SHA256, false},
		{"sha256", crypto.SHA256, false},
		{"SHA-256", crypto.SHA256, false},
		{"sha1", crypto.SHA1, false},
		{"SHA1", crypto.SHA1, false},
		{"md5", 0, true},
		{"sha512", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseHash(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseHash(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// FuzzMessage checks the one-pass expansion against a second way of doing it
// (earliest placeholder first): what is substituted is never expanded again.
func FuzzMessage(f *testing.F) {
	f.Add("{appId}{timestamp}", "app", "1", []byte("{appId}"))
	f.Add("{body}", "{body}", "{timestamp}", []byte(`{"a":1}`))
	f.Add("x{appId", "a", "b", []byte(nil))
	f.Add("{{timestamp}body}", "a", "{", []byte("b"))
	f.Fuzz(func(t *testing.T, tmpl, app, ts string, body []byte) {
		values := map[string][]byte{PlaceholderAppID: []byte(app), PlaceholderTimestamp: []byte(ts), PlaceholderBody: body}
		var want []byte
		for rest := tmpl; ; {
			at, which := -1, ""
			for p := range values {
				if i := strings.Index(rest, p); i >= 0 && (at < 0 || i < at) {
					at, which = i, p
				}
			}
			if at < 0 {
				want = append(want, rest...)
				break
			}
			want = append(append(want, rest[:at]...), values[which]...)
			rest = rest[at+len(which):]
		}
		if got := Message(tmpl, app, ts, body); !bytes.Equal(got, want) {
			t.Fatalf("Message(%q) = %q; want %q", tmpl, got, want)
		}
	})
}

// FuzzSignVerify checks that whatever is signed verifies with the same inputs and
// no longer verifies when the signed body changes.
func FuzzSignVerify(f *testing.F) {
	key, err := ParsePrivateKey(readKey(f, "key_pkcs1.pem"))
	if err != nil {
		f.Fatal(err)
	}
	s, err := NewRSASignerFromKey(key, SignOptions{Template: "{appId}{timestamp}{body}"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("app", "1586314097995", []byte(`{"taskId":1}`))
	f.Add("", "", []byte(nil))
	f.Fuzz(func(t *testing.T, app, ts string, body []byte) {
		sig, err := s.Sign(app, ts, body)
		if err != nil {
			t.Fatal(err)
		}
		v := s.Verifier()
		if err := v.Verify(app, ts, body, sig); err != nil {
			t.Fatalf("own signature does not verify: %v", err)
		}
		if err := v.Verify(app, ts, append(append([]byte{}, body...), 'x'), sig); err == nil {
			t.Fatal("signature verifies a different body")
		}
	})
}
