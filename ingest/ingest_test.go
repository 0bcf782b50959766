package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/chunking"
)

type memSink struct {
	accepted []chunking.Record
	rejected []Reject
}

func (m *memSink) Accept(r chunking.Record) error { m.accepted = append(m.accepted, r); return nil }
func (m *memSink) Reject(r Reject) error          { m.rejected = append(m.rejected, r); return nil }

func run(t *testing.T, vendor, input string, f Format) (*memSink, Counts, error) {
	t.Helper()
	src, err := Open(strings.NewReader(input), f)
	if err != nil {
		return nil, Counts{}, err
	}
	sink := &memSink{}
	c, err := Run(context.Background(), src, Options{Vendor: vendor, Region: "CN", Workers: 3}, sink)
	if c.Read != c.Accepted+c.Rejected {
		t.Errorf("counts %+v: read != accepted + rejected", c)
	}
	if int64(len(sink.accepted)) != c.Accepted || int64(len(sink.rejected)) != c.Rejected {
		t.Errorf("sink saw %d accepted, %d rejected; counts %+v", len(sink.accepted), len(sink.rejected), c)
	}
	return sink, c, err
}

func phones(recs []chunking.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Phone)
	}
	return out
}

func TestNormalise(t *testing.T) {
	tests := []struct {
		vendor, raw, want, reason string
	}{
		{"yccall", "13800138000", "13800138000", ""},
		{"yccall", "+86 138 0013 8000", "13800138000", ""},
		{"yccall", "0086-138-0013-8000", "13800138000", ""},
		{"nxcloud", "13800138000", "8613800138000", ""},
		{"nxcloud", "+852 5123 4567", "85251234567", ""},
		{"speech", "010 6552 9988", "01065529988", ""},
		{"yccall", "+852 5123 4567", "", "a HK number: yccall dials CN numbers only"},
		{"yccall", "1380013800", "", "not a valid number for its region"},
		{"yccall", "138001380001234", "", "not a valid number for its region"},
		{"yccall", "1380013800a", "", "contains letters (extensions and vanity numbers are not dialable)"},
		{"yccall", "13800138000 ext 12", "", "contains letters (extensions and vanity numbers are not dialable)"},
		{"yccall", "13800138000;ext=12", "", "contains letters (extensions and vanity numbers are not dialable)"},
		{"yccall", "12", "", "not a valid number for its region"},
		{"yccall", "", "", "empty phone"},
		{"yccall", "+", "", "not a phone number: the phone number supplied is not a number"},
		{"flashai", "01065529988", "01065529988", ""},
	}
	for _, tt := range tests {
		n, err := NewNormaliser(tt.vendor, "CN")
		if err != nil {
			t.Fatal(err)
		}
		_, got, reason := n.Normalise(tt.raw)
		if got != tt.want || reason != tt.reason {
			t.Errorf("%s Normalise(%q) = %q, %q; want %q, %q", tt.vendor, tt.raw, got, reason, tt.want, tt.reason)
		}
	}
	if _, err := NewNormaliser("yccall", "XX"); err == nil {
		t.Error("region XX accepted")
	}
}

func TestFormats(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		format Format
		want   Format
		phones []string
		lines  []int64
	}{
		{"lines", "13800138000\n13900139000\n", Auto, Lines, []string{"13800138000", "13900139000"}, []int64{1, 2}},
		{"lines crlf bom blanks spaces", "\ufeff 13800138000 \r\n\r\n\t13900139000\r\n", Auto, Lines, []string{"13800138000", "13900139000"}, []int64{1, 3}},
		{"csv", "name,phone\nLi,13800138000\n\"Wang, Jr\",13900139000\n", Auto, CSV, []string{"13800138000", "13900139000"}, []int64{2, 3}},
		{"csv semicolon", "phone;name\n13800138000;Li\n", Auto, CSV, []string{"13800138000"}, []int64{2}},
		{"csv single column", "phone\n13800138000\n", Auto, CSV, []string{"13800138000"}, []int64{2}},
		{"csv quoted newline", "name,phone\n\"Li\nLei\",13800138000\nx,13900139000\n", Auto, CSV, []string{"13800138000", "13900139000"}, []int64{2, 4}},
		{"jsonl", `{"phone":"13800138000"}` + "\n" + `{"phone":13900139000,"name":"x"}` + "\n", Auto, JSONL, []string{"13800138000", "13900139000"}, []int64{1, 2}},
		{"forced lines", "13800138000\n", Lines, Lines, []string{"13800138000"}, []int64{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := Open(strings.NewReader(tt.input), tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if src.Format != tt.want {
				t.Errorf("format %s; want %s", src.Format, tt.want)
			}
			sink, _, err := run(t, "yccall", tt.input, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.phones, phones(sink.accepted)); diff != "" {
				t.Errorf("phones (-want +got):\n%s", diff)
			}
			var lines []int64
			for _, r := range sink.accepted {
				lines = append(lines, r.Line)
			}
			if diff := cmp.Diff(tt.lines, lines); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i := range 1000 {
		fmt.Fprintf(zw, "1380013%04d\n", i)
	}
	zw.Close()
	sink, c, err := run(t, "yccall", buf.String(), Auto)
	if err != nil || c.Accepted != 1000 || len(sink.rejected) != 0 {
		t.Fatalf("gzip: %+v, %v", c, err)
	}
	// Truncated gzip: the input is refused as a whole, never half taken.
	_, _, err = run(t, "yccall", buf.String()[:buf.Len()/2], Auto)
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Errorf("truncated gzip: err = %v; want *InputError", err)
	}
}

func TestRejects(t *testing.T) {
	input := strings.Join([]string{
		"phone,name,customer_id,attach,param1,param2",
		"13800138000,Li,c1,a1,p1,p2",                          // 2 ok
		"+86 138-0013-8000,Li,c2,a2,,",                        // 3 duplicate of line 2
		"1380013800,Li,c3,a3,,",                               // 4 invalid
		"13900139000,Li,c4,a|b,,",                             // 5 separator
		"13700137000,Li,c5,a5,x-y,",                           // 6 dash in param
		"13600136000,Li,c6",                                   // 7 field count
		"13500135000," + strings.Repeat("n", 51) + ",c7,a7,,", // 8 name too long
		"13400134000,\xff,c8,a8,,",                            // 9 invalid utf-8
		"13300133000,ok,c9,a9,p1,",                            // 10 ok
	}, "\n")
	sink, c, err := run(t, "flashai", input, Auto)
	if err != nil {
		t.Fatal(err)
	}
	want := []Reject{
		{3, "+86 138-0013-8000", "duplicate of line 2", true},
		{4, "1380013800", "not a valid number for its region", false},
		{5, "13900139000", "attach contains '^' or '|', which separate mobileList fields and records", false},
		{6, "13700137000", "param1 contains '-' or '~', which separate call parameters", false},
		{7, "13600136000", "has 3 fields, the header has 6", false},
		{8, "13500135000", "name is 51 characters; flashai takes at most 50", false},
		{9, "13400134000", "invalid UTF-8", false},
	}
	if diff := cmp.Diff(want, sink.rejected); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}
	if c.Duplicates != 1 || c.Accepted != 2 {
		t.Errorf("counts %+v", c)
	}
	if got := sink.accepted[1].Params; !cmp.Equal(got, []string{"p1"}) {
		t.Errorf("trailing empty params kept: %q", got)
	}
}

func TestCSVWithoutPhoneColumn(t *testing.T) {
	_, err := Open(strings.NewReader("name,mobile_no\nx,1\n"), CSV)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "no phone column") {
		t.Errorf("err = %v; want an InputError naming the phone column", err)
	}
}

func TestLongLine(t *testing.T) {
	input := "13800138000\n" + strings.Repeat("1", 10<<20) + "\n13900139000\n"
	sink, _, err := run(t, "yccall", input, Auto)
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.rejected) != 1 || sink.rejected[0].Line != 2 || sink.rejected[0].Reason != problemTooLong {
		t.Errorf("rejected = %+v", sink.rejected)
	}
	if diff := cmp.Diff([]string{"13800138000", "13900139000"}, phones(sink.accepted)); diff != "" {
		t.Error(diff)
	}
}

func TestDedup(t *testing.T) {
	d := NewDedup()
	const n = 200000
	for i := uint64(1); i <= n; i++ {
		if _, added := d.Add(8613800000000+i, int64(i)); !added {
			t.Fatalf("key %d reported as a duplicate", i)
		}
	}
	for i := uint64(1); i <= n; i += 997 {
		first, added := d.Add(8613800000000+i, 1e9)
		if added || first != int64(i) {
			t.Fatalf("Add(dup %d) = %d, %v; want %d, false", i, first, added, i)
		}
	}
	if d.Len() != n {
		t.Errorf("Len = %d; want %d", d.Len(), n)
	}
	if per := float64(d.Bytes()) / n; per > 16.2 {
		t.Errorf("%.2f bytes a number; want at most 16", per)
	}
}

// The dedup table stays within 16 bytes a number at every size, not only on average.
func TestDedupMemoryBound(t *testing.T) {
	d := NewDedup()
	worst := 0.0
	for i := uint64(1); i <= 2_000_000; i++ {
		d.Add(8613000000000+i*7919, int64(i))
		if i >= 100_000 && i%50_000 == 0 {
			worst = max(worst, float64(d.Bytes())/float64(i))
		}
	}
	if worst > 16.2 {
		t.Errorf("worst %.2f bytes a number; want at most 16", worst)
	}
	t.Logf("worst %.2f bytes a number", worst)
}
