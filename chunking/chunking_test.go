package chunking

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestProfileCheck(t *testing.T) {
	oneCall := Limits{PartSize: 1000, CallSize: 1000}
	capped := Limits{PartSize: 10000, CallSize: 10000, MaxPart: 10000, Unit: "numbers"}
	appends := Limits{PartSize: 20000, CallSize: 1000, MaxPart: 20000, MaxCall: 1000, Appends: true, Unit: "customers"}
	tests := []struct {
		p       Profile
		l       Limits
		wantErr string
	}{
		{Profile{"a", 1000, 1000}, oneCall, ""},
		{Profile{"a", 2000, 1000}, oneCall, "a: a part is one vendor task made by one call, so part size must equal call size"},
		{Profile{"a", 5000, 5000}, oneCall, ""}, // no hard limit stated
		{Profile{"a", 0, 0}, oneCall, "a: part and call sizes must be at least 1"},
		{Profile{"b", 10000, 10000}, capped, ""},
		{Profile{"b", 10001, 10001}, capped, "b: part size 10001 exceeds the vendor's 10,000 numbers a task"},
		{Profile{"b", 10000, 5000}, capped, "b: a part is one vendor task made by one call, so part size must equal call size"},
		{Profile{"c", 20000, 1000}, appends, ""},
		{Profile{"c", 20001, 1000}, appends, "c: part size 20001 exceeds the vendor's 20,000 customers a task"},
		{Profile{"c", 20000, 1001}, appends, "c: call size 1001 exceeds the vendor's 1,000 customers a call"},
		{Profile{"c", 100, 200}, appends, "c: call size 200 exceeds part size 100"},
	}
	for _, tt := range tests {
		err := tt.p.Check(tt.l)
		if got := fmt.Sprint(err); (err == nil) != (tt.wantErr == "") || err != nil && got != tt.wantErr {
			t.Errorf("%+v.Check(%+v) = %v; want %q", tt.p, tt.l, err, tt.wantErr)
		}
	}
	for _, l := range []Limits{oneCall, capped, appends} {
		if err := l.Profile("x").Check(l); err != nil {
			t.Errorf("%+v: default profile refused: %v", l, err)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{1: "1", 999: "999", 1000: "1,000", 20000: "20,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q; want %q", n, got, want)
		}
	}
}

func TestSplitter(t *testing.T) {
	tests := []struct {
		n, size int
		want    []int
	}{
		{0, 3, nil},
		{1, 3, []int{1}},
		{3, 3, []int{3}},
		{7, 3, []int{3, 3, 1}},
		{10000, 10000, []int{10000}},
		{10001, 10000, []int{10000, 1}},
	}
	for _, tt := range tests {
		var got []int
		next := int64(1)
		s, err := NewSplitter(tt.size, func(part int, recs []Record) error {
			if part != len(got) {
				t.Errorf("part numbered %d; want %d", part, len(got))
			}
			for _, r := range recs {
				if r.Line != next {
					t.Fatalf("record line %d out of order; want %d", r.Line, next)
				}
				next++
			}
			got = append(got, len(recs))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < tt.n; i++ {
			if err := s.Add(Record{Line: int64(i + 1)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Split(%d, %d) parts (-want +got):\n%s", tt.n, tt.size, diff)
		}
		if s.Records() != int64(tt.n) || s.Parts() != len(tt.want) {
			t.Errorf("Split(%d, %d): Records %d Parts %d", tt.n, tt.size, s.Records(), s.Parts())
		}
	}
	if _, err := NewSplitter(0, nil); err == nil {
		t.Error("NewSplitter(0) = nil error")
	}
}

func TestSplitterEmitError(t *testing.T) {
	boom := errors.New("boom")
	s, _ := NewSplitter(1, func(int, []Record) error { return boom })
	if err := s.Add(Record{}); !errors.Is(err, boom) {
		t.Errorf("Add = %v; want wrapped boom", err)
	}
}

func TestRemainingAndCalls(t *testing.T) {
	tests := []struct {
		name string
		n    int
		done []Range
		size int
		want []Range
	}{
		{"fresh", 2500, nil, 1000, []Range{{0, 1000}, {1000, 2000}, {2000, 2500}}},
		{"first done", 2500, []Range{{0, 1000}}, 1000, []Range{{1000, 2000}, {2000, 2500}}},
		{"bisected middle", 10, []Range{{0, 5}, {7, 10}}, 10, []Range{{5, 7}}},
		{"overlap and order", 10, []Range{{8, 10}, {0, 3}, {2, 4}}, 2, []Range{{4, 6}, {6, 8}}},
		{"all done", 4, []Range{{0, 4}}, 2, nil},
		{"empty", 0, nil, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Calls(Remaining(tt.n, tt.done), tt.size)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Calls(Remaining(%d, %v), %d) (-want +got):\n%s", tt.n, tt.done, tt.size, diff)
			}
		})
	}
}

func TestRangeHalves(t *testing.T) {
	a, b := Range{4, 9}.Halves()
	if a != (Range{4, 6}) || b != (Range{6, 9}) {
		t.Errorf("Range{4,9}.Halves() = %v, %v", a, b)
	}
}

func TestEncodeMobileList(t *testing.T) {
	recs := []Record{
		{Phone: "13800000001", Attach: "order-1", Params: []string{"Li", "100"}, Name: "Li Lei", Company: "ACME"},
		{Phone: "13800000002"},
	}
	got, err := EncodeMobileList(recs)
	if err != nil {
		t.Fatal(err)
	}
	want := "13800000001^order-1^Li-100^Li Lei^ACME|13800000002^^^^"
	if got != want {
		t.Errorf("EncodeMobileList = %q; want %q", got, want)
	}
}

func TestEncodeMobileListRefuses(t *testing.T) {
	tests := []struct {
		name  string
		rec   Record
		field string
	}{
		{"caret in attach", Record{Phone: "13800000001", Attach: "a^b"}, "attach"},
		{"pipe in name", Record{Phone: "13800000001", Name: "a|b"}, "name"},
		{"pipe in company", Record{Phone: "13800000001", Company: "|"}, "company"},
		{"dash in param", Record{Phone: "13800000001", Params: []string{"a-b"}}, "param1"},
		{"tilde in param", Record{Phone: "13800000001", Params: []string{"ok", "x~y"}}, "param2"},
		{"caret in param", Record{Phone: "13800000001", Params: []string{"^"}}, "param1"},
		{"newline in name", Record{Phone: "13800000001", Name: "a\nb"}, "name"},
		{"empty phone", Record{}, "phone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncodeMobileList([]Record{tt.rec})
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("EncodeMobileList(%+v) = %v; want a FieldError on %s", tt.rec, err, tt.field)
			}
		})
	}
	// A dash outside the params is legal: attach data often holds order ids.
	if _, err := EncodeMobileList([]Record{{Phone: "1", Attach: "a-b~c", Name: "Jean-Luc"}}); err != nil {
		t.Errorf("dash in attach/name refused: %v", err)
	}
}

func normaliseParams(recs []Record) {
	for i := range recs {
		recs[i].Line = 0
		if len(recs[i].Params) == 1 && recs[i].Params[0] == "" {
			recs[i].Params = nil
		}
	}
}

func FuzzMobileListRoundTrip(f *testing.F) {
	f.Add("13800000001", "attach", "p1", "p2", "name", "co")
	f.Add("1", "", "", "", "", "")
	f.Add("x^y", "a|b", "c-d", "e~f", "g", "h")
	f.Fuzz(func(t *testing.T, phone, attach, p1, p2, name, company string) {
		in := []Record{{Phone: phone, Attach: attach, Params: []string{p1, p2}, Name: name, Company: company}, {Phone: "2"}}
		enc, err := EncodeMobileList(in)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error is not a FieldError: %v", err)
			}
			return
		}
		out, err := DecodeMobileList(enc)
		if err != nil {
			t.Fatalf("DecodeMobileList(%q): %v", enc, err)
		}
		normaliseParams(in)
		if diff := cmp.Diff(in, out); diff != "" {
			t.Fatalf("round trip of %q (-in +out):\n%s", enc, diff)
		}
	})
}

func ExampleEncodeMobileList() {
	s, _ := EncodeMobileList([]Record{{Phone: "13800000001", Params: []string{"Li", "9"}}, {Phone: "13800000002", Attach: "x"}})
	fmt.Println(s)
	// Output: 13800000001^^Li-9^^|13800000002^x^^^
}
