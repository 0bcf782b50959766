package phonenum

import "testing"

// FuzzParse compares the compiled path with libphonenumber on arbitrary input:
// whatever Parse decides (valid or invalid, number, region, national form) must
// be libphonenumber's answer. The seed corpus runs in every go test.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"13800138000", "+86 138 0013 8000", "0086-138-0013-8000", "(+86)13800138000", "8613800138000",
		"075512345678", "0755-1234-5678", "(0755) 12345678", "010.1234.5678", "+8613800138000",
		"+1 650 253 0000", "011 44 20 7946 0958", "+44 (0) 20 7946 0958", "020 7946 0958", "+852 2123 4567",
		"0012123", "00", "+", "++86138", "(+)", "86", "0086", "000", "+0", "1 800 FLOWERS", "138-0013-8000 x12",
		"+82 10-2000-0000", "010-2000-0000", "+55 11 96123-4567", "0 11 96123 4567", "+81 90-1234-5678",
		"090-1234-5678", "+6723 12345", "+1 441 234 5678", "441 234 5678",
	} {
		for r := range uint8(4) {
			f.Add(s, r)
		}
	}
	regions := []string{"CN", "US", "GB", "HK", "KR", "BR", "JP", "DE"}
	vals := map[string]*Validator{}
	for _, r := range regions {
		v, err := New(r)
		if err != nil {
			f.Fatal(err)
		}
		vals[r] = v
	}
	f.Fuzz(func(t *testing.T, raw string, r uint8) {
		region := regions[int(r)%len(regions)]
		if _, bad := compare(vals[region], raw, region); bad != "" {
			t.Error(bad)
		}
	})
}
