package batch

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dialq/dialq/chunking"
)

func TestRecordsRoundTrip(t *testing.T) {
	full := chunking.Record{
		Line: 42, Phone: "13800138000", Name: "李雷", CustomerID: "c-1001", Attach: "order=1&x=2",
		Company: "Acme, Inc.", Params: []string{"Li", "", "100"},
	}
	big := make([]chunking.Record, 20000) // a speech part
	for i := range big {
		big[i] = chunking.Record{Line: int64(i + 2), Phone: fmt.Sprintf("1380013%04d", i%10000), Attach: fmt.Sprint(i)}
	}
	tests := []struct {
		name string
		recs []chunking.Record
	}{
		{"none", nil},
		{"phone only", []chunking.Record{{Line: 1, Phone: "13800138000"}}},
		{"every field", []chunking.Record{full}},
		{"each optional field alone", []chunking.Record{
			{Line: 1, Phone: "1", Name: "n"}, {Line: 2, Phone: "2", CustomerID: "c"}, {Line: 3, Phone: "3", Attach: "a"},
			{Line: 4, Phone: "4", Company: "co"}, {Line: 5, Phone: "5", Params: []string{"p"}},
		}},
		{"empty strings and zero line", []chunking.Record{{}, {Params: []string{""}}}},
		{"extreme lines", []chunking.Record{{Line: math.MaxInt64, Phone: "1"}, {Line: math.MaxUint32 + 1, Phone: "2"}, {Line: -1, Phone: "3"}}},
		// Lengths past one varint byte, separators and bytes that are not text.
		{"long and odd strings", []chunking.Record{{
			Line: 7, Phone: strings.Repeat("9", 300), Name: strings.Repeat("张", 1000), Attach: "a^b|c-d~e\r\n\x00\xff",
			Params: []string{strings.Repeat("p", 128), "q"},
		}}},
		{"many params", []chunking.Record{{Line: 1, Phone: "1", Params: strings.Split("a,b,c,d,e,f,g,h,i,j,k,l", ",")}}},
		{"speech part", big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := EncodeRecords(tt.recs)
			got, err := DecodeRecords(b)
			if err != nil {
				t.Fatalf("DecodeRecords(EncodeRecords(recs)): %v", err)
			}
			if diff := cmp.Diff(tt.recs, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
	// The encoding is compact: a bare number costs little more than its digits.
	if n := len(EncodeRecords(big)) / len(big); n > 20 {
		t.Errorf("%d bytes a record with a short attach; want at most 20", n)
	}
}

func TestDecodeRecordsCorrupt(t *testing.T) {
	valid := EncodeRecords([]chunking.Record{
		{Line: 300, Phone: "13800138000", Name: "Li", CustomerID: "c1", Attach: "a1", Company: "co", Params: []string{"p1", "p2"}},
		{Line: 301, Phone: "13900139000"},
	})
	// Every proper prefix of a valid encoding is refused, never half decoded.
	for n := range len(valid) {
		if recs, err := DecodeRecords(valid[:n]); err == nil {
			t.Errorf("DecodeRecords(first %d of %d bytes) = %d records; want an error", n, len(valid), len(recs))
		}
	}
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "corrupt"},
		{"other version", []byte{2, 0}, "version 2"},
		{"trailing bytes", append(append([]byte{}, valid...), 0), "corrupt"},
		// A count far beyond the bytes must not allocate for it.
		{"huge count", []byte{codecVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, "corrupt"},
		{"huge string", []byte{codecVersion, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f}, "corrupt"},
		{"huge params", []byte{codecVersion, 1, 1, 1, '1', hasParams, 0xff, 0xff, 0xff, 0xff, 0x0f}, "corrupt"},
		{"varint overflow", []byte{codecVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "corrupt"},
		{"missing flags", []byte{codecVersion, 1, 1, 1, '1'}, "corrupt"},
	}
	for _, tt := range tests {
		recs, err := DecodeRecords(tt.b)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: DecodeRecords = %d records, %v; want an error containing %q", tt.name, len(recs), err, tt.want)
		}
		if tt.want == "corrupt" && !errors.Is(err, errCorrupt) {
			t.Errorf("%s: err = %v; want errCorrupt", tt.name, err)
		}
	}
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{codecVersion, 0})
	f.Add(EncodeRecords([]chunking.Record{{Line: 1, Phone: "13800138000"}}))
	f.Add(EncodeRecords([]chunking.Record{
		{Line: 300, Phone: "13800138000", Name: "Li", CustomerID: "c1", Attach: "a1", Company: "co", Params: []string{"p1", "", "p3"}},
		{Line: 301, Phone: "13900139000", Attach: "张"},
	}))
	f.Add([]byte{codecVersion, 1, 1, 1, '1', 0xff, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeRecords(b)
		if err != nil {
			if recs != nil {
				t.Fatalf("DecodeRecords = %d records and %v", len(recs), err)
			}
			return
		}
		// Whatever decodes encodes and decodes to the same records. (Not the same
		// bytes: unknown flag bits and long varints decode too.)
		again, err := DecodeRecords(EncodeRecords(recs))
		if err != nil {
			t.Fatalf("re-encoded records do not decode: %v", err)
		}
		if diff := cmp.Diff(recs, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzEncodeRecords(f *testing.F) {
	f.Add(int64(1), "13800138000", "Li", "c1", "a1", "co", "p1\x00p2", uint8(2))
	f.Add(int64(-1), "", "", "", "", "", "", uint8(0))
	f.Add(int64(math.MaxInt64), "\xff", "张", "\x00", "a^b|c", "co", "\x00\x00", uint8(5))
	f.Fuzz(func(t *testing.T, line int64, phone, name, id, attach, company, params string, copies uint8) {
		r := chunking.Record{Line: line, Phone: phone, Name: name, CustomerID: id, Attach: attach, Company: company}
		if params != "" {
			r.Params = strings.Split(params, "\x00")
		}
		recs := make([]chunking.Record, int(copies)%8)
		for i := range recs {
			recs[i] = r
			recs[i].Line += int64(i)
		}
		got, err := DecodeRecords(EncodeRecords(recs))
		if err != nil {
			t.Fatalf("DecodeRecords(EncodeRecords(%+v)): %v", recs, err)
		}
		if diff := cmp.Diff(recs, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	})
}
