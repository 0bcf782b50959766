package jobs

import (
	"reflect"
	"testing"

	"github.com/dialq/dialq/chunking"
)

// A vendor may echo a refused number in any spelling; each must find its record,
// and one that matches nothing must be reported, never counted as delivered.
func TestMatchRefusals(t *testing.T) {
	national := []chunking.Record{{Phone: "13800138000"}, {Phone: "13900139000"}, {Phone: "01062345678"}}
	e164 := []chunking.Record{{Phone: "8613800138000"}, {Phone: "8613900139000"}}
	for _, tc := range []struct {
		name          string
		recs          []chunking.Record
		refused       map[string]string
		wantIdx       []int
		wantUnmatched []string
	}{
		{"exact", national, map[string]string{"13900139000": "busy"}, []int{1}, nil},
		{"with +cc and separators", national, map[string]string{"+86 139-0013-9000": "busy"}, []int{1}, nil},
		{"with 00cc", national, map[string]string{"0086 13800138000": "x"}, []int{0}, nil},
		{"with cc, no +", national, map[string]string{"8613800138000": "x"}, []int{0}, nil},
		{"fixed line without national prefix", national, map[string]string{"1062345678": "x"}, []int{2}, nil},
		{"fixed line with cc", national, map[string]string{"+86 10 6234 5678": "x"}, []int{2}, nil},
		{"e164 records, national echo", e164, map[string]string{"13900139000": "x"}, []int{1}, nil},
		{"e164 records, parenthesised", e164, map[string]string{"(+86)138 0013 8000": "x"}, []int{0}, nil},
		{"unmatched", national, map[string]string{"13700137000": "x", "13800138000": "y"}, []int{0}, []string{"13700137000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, unmatched := matchRefusals("CN", tc.recs, "code", tc.refused)
			var idx []int
			for _, r := range got {
				idx = append(idx, r.idx)
			}
			if !reflect.DeepEqual(idx, tc.wantIdx) || !reflect.DeepEqual(unmatched, tc.wantUnmatched) {
				t.Errorf("matchRefusals = %v, unmatched %v; want %v, %v", idx, unmatched, tc.wantIdx, tc.wantUnmatched)
			}
		})
	}
}

// Vendor-side names carry a hash of the whole batch id: ids that share long
// prefixes, or differ in one character anywhere, get different names.
func TestNameIDUsesWholeID(t *testing.T) {
	ids := []string{"campaign2026-jan-flashai", "campaign2026-feb-flashai", "campaign2026-jan-flashaj",
		"flashai-0123456789abcdef", "flashai-0123456789abcdee", "x"}
	seen := map[string]string{}
	for _, id := range ids {
		n := NameID(id)
		if len(n) != 12 {
			t.Errorf("NameID(%q) = %q; want 12 hex digits", id, n)
		}
		if other, ok := seen[n]; ok {
			t.Errorf("NameID(%q) = NameID(%q) = %s", id, other, n)
		}
		seen[n] = id
	}
}
