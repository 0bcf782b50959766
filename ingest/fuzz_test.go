package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/dialq/dialq/vendors/registry"
)

func FuzzSource(f *testing.F) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.Bytes()
	}
	for _, s := range []string{
		"",
		"13800138000\n+86 139 0013 9000\r\n0086-137-0013-7000\r13800138000",
		"\xef\xbb\xbfphone,name,customer_id,attach,company,param1,param2\n13800138000,Li,c1,a^1,co,p-1,p2\n",
		"phone;name\r\n\"13800138000\";\"Li\nLei\"\r\n1\"3,x\n",
		"phone\n\"13800138000\n",
		"{\"phone\":\"13800138000\",\"params\":[\"a\",\"b\",\"\"]}\n{\"phone\":13900139000}\n[1]\n{\"phone\":\"\\u0000\"}\n",
		"\xff\xfe1\x003\x00",
		"1390013\x009000\n\xff\n",
		"tel\r13800138000\r\r\n",
	} {
		for _, format := range []uint8{0, 1, 2, 3} {
			f.Add([]byte(s), format)
		}
	}
	f.Add(gz("13800138000\n13900139000\n"), uint8(0))
	f.Add(gz("phone\n13800138000\n")[:20], uint8(0))

	formats := []Format{Auto, Lines, CSV, JSONL}
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		for _, vendor := range registry.Names() {
			src, err := Open(bytes.NewReader(data), formats[int(format)%len(formats)])
			if err != nil {
				var ie *InputError
				if !errors.As(err, &ie) {
					t.Fatalf("Open: %v; want an *InputError", err)
				}
				return
			}
			sink := &orderSink{}
			c, err := Run(context.Background(), src, Options{Vendor: vendor, Region: "CN", Workers: 2}, sink)
			var ie *InputError
			if err != nil && !errors.As(err, &ie) {
				t.Fatalf("Run: %v; want nil or an *InputError", err)
			}
			checkInvariants(t, outcome{sink: sink, counts: c, err: err})
		}
	})
}

func FuzzNormalise(f *testing.F) {
	for _, s := range []string{
		"13800138000", "+86 138 0013 8000", "0086-138-0013-8000", "(010) 6552 9988", "+852 5123 4567",
		"+1 212 555 0100", "4008001234", "13800138000#12", "1380013800a", "+", "", "１３９００１３９０００",
		"=13800138000", "8613800138000", "+86 10 1", "00", "+0", "+999 1", "\x00", "\xff",
	} {
		f.Add(s)
	}
	norms := map[string]*Normaliser{}
	libOnly := map[string]*Normaliser{} // libphonenumber alone: the reference
	for _, v := range registry.Names() {
		n, err := NewNormaliser(v, "CN")
		if err != nil {
			f.Fatal(err)
		}
		norms[v] = n
		if libOnly[v], err = NewNormaliser(v, "CN"); err != nil {
			f.Fatal(err)
		}
		libOnly[v].fast = nil
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for vendor, n := range norms {
			key, phone, reason := n.Normalise(raw)
			if k, p, r := libOnly[vendor].Normalise(raw); k != key || p != phone || r != reason {
				t.Fatalf("%s Normalise(%q) = %d, %q, %q; libphonenumber alone %d, %q, %q", vendor, raw, key, phone, reason, k, p, r)
			}
			if reason != "" {
				if key != 0 || phone != "" {
					t.Fatalf("%s Normalise(%q) = %d, %q, %q: a reject with a number", vendor, raw, key, phone, reason)
				}
				continue
			}
			if key == 0 || phone == "" || digitsOnly(phone) != phone {
				t.Fatalf("%s Normalise(%q) = %d, %q: want a key and digits", vendor, raw, key, phone)
			}
			if vendor == registry.NXCloud && strconv.FormatUint(key, 10) != phone {
				t.Fatalf("nxcloud Normalise(%q) = %d, %q: want the E.164 digits", raw, key, phone)
			}
			if vendor == registry.FlashAI && (len(phone) < 11 || len(phone) > 12) {
				t.Fatalf("flashai Normalise(%q) = %q: want 11 or 12 digits", raw, phone)
			}
			// What we send must read back as the same number: the vendor's form is
			// stable, and a rejects file fed back in dedups against it.
			again := phone
			if vendor == registry.NXCloud {
				again = "+" + phone
			}
			key2, phone2, reason2 := n.Normalise(again)
			if key2 != key || phone2 != phone {
				t.Fatalf("%s Normalise(%q) = %d, %q; Normalise(%q) = %d, %q, %q", vendor, raw, key, phone, again, key2, phone2, reason2)
			}
		}
	})
}
