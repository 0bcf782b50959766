package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/vendors/registry"
)

// benchPrefixes are CN mobile prefixes valid with any eight digits after them.
var benchPrefixes = []string{"135", "136", "137", "138", "139", "150", "151", "158", "186", "188"}

// benchNumbers are distinct CN mobile numbers written the ways lists write them.
func benchNumbers(n int) []string {
	styles := []func(string) string{
		func(s string) string { return s },
		func(s string) string { return "+86" + s },
		func(s string) string { return "+86 " + s[:3] + " " + s[3:7] + " " + s[7:] },
		func(s string) string { return "0086-" + s[:3] + "-" + s[3:7] + "-" + s[7:] },
	}
	out := make([]string, n)
	for i := range out {
		// 7919 is prime to 10^8, so i/10 -> suffix is one to one.
		num := benchPrefixes[i%len(benchPrefixes)] + fmt.Sprintf("%08d", i/len(benchPrefixes)*7919%100_000_000)
		out[i] = styles[i%len(styles)](num)
	}
	return out
}

// BenchmarkNormalise is libphonenumber validation of one number, the cost that
// bounds enqueue: national (yccall) and international (nxcloud) forms.
func BenchmarkNormalise(b *testing.B) {
	nums := benchNumbers(4096)
	for _, vendor := range []string{registry.Yccall, registry.NXCloud} {
		b.Run(vendor, func(b *testing.B) {
			n, err := NewNormaliser(vendor, "CN")
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				if _, _, reason := n.Normalise(nums[i%len(nums)]); reason != "" {
					b.Fatalf("Normalise(%q): %s", nums[i%len(nums)], reason)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "numbers/s")
		})
	}
}

type countingSink struct{ accepted, rejected int }

func (s *countingSink) Accept(chunking.Record) error { s.accepted++; return nil }
func (s *countingSink) Reject(Reject) error          { s.rejected++; return nil }

// benchList is rows numbers in format with 2% bad rows and about 1% duplicates;
// it returns the list and its bad rows.
func benchList(format Format, rows int) (string, int64) {
	nums := benchNumbers(rows)
	var sb strings.Builder
	var bad int64
	if format == CSV {
		sb.WriteString("phone,name,customer_id,attach\n")
	}
	for i, p := range nums {
		switch {
		case i%50 == 7:
			p = "139abc45678"
			bad++
		case i%100 == 13:
			p = nums[i/2]
		}
		switch format {
		case Lines:
			fmt.Fprintf(&sb, "%s\n", p)
		case CSV:
			fmt.Fprintf(&sb, "%s,Customer %d,C%d,ref-%d\n", p, i, i, i)
		case JSONL:
			fmt.Fprintf(&sb, "{\"phone\":%q,\"name\":\"Customer %d\",\"customer_id\":\"C%d\",\"attach\":\"ref-%d\"}\n", p, i, i, i)
		}
	}
	return sb.String(), bad
}

// BenchmarkRun is the whole ingest pipeline (read, validate in parallel, dedup, in
// order) into a sink that only counts, per format and worker count.
func BenchmarkRun(b *testing.B) {
	const rows = 20_000
	for _, format := range []Format{Lines, CSV, JSONL} {
		input, bad := benchList(format, rows)
		for _, workers := range []int{1, 0} {
			name := fmt.Sprintf("%s/workers=%d", format, workers)
			if workers == 0 {
				name = fmt.Sprintf("%s/workers=cpus", format)
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(len(input)))
				for b.Loop() {
					src, err := Open(strings.NewReader(input), format)
					if err != nil {
						b.Fatal(err)
					}
					sink := &countingSink{}
					c, err := Run(context.Background(), src, Options{Vendor: registry.Yccall, Region: "CN", Workers: workers}, sink)
					if err != nil {
						b.Fatal(err)
					}
					if c.Read != rows || c.Rejected-c.Duplicates != bad || c.Duplicates == 0 {
						b.Fatalf("counts %+v: want %d rows, %d bad, and duplicates", c, rows, bad)
					}
				}
				b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}
