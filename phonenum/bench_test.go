package phonenum

import (
	"fmt"
	"testing"
)

// BenchmarkParse is the compiled path on CN mobiles and landlines in the spellings
// lists use; it must not allocate.
func BenchmarkParse(b *testing.B) {
	v, err := New("CN")
	if err != nil {
		b.Fatal(err)
	}
	var nums []string
	for i := range 4096 {
		m := fmt.Sprintf("13%d%08d", i%10, i*7919%100_000_000)
		nums = append(nums, m, "+86 "+m[:3]+" "+m[3:7]+" "+m[7:], "0086-"+m, fmt.Sprintf("0755-%08d", 20000000+i*31))
	}
	var n Number
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if st := v.Parse(nums[i%len(nums)], &n); st != Valid {
			b.Fatalf("Parse(%q) = %v", nums[i%len(nums)], st)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "numbers/s")
}
