package ingest

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/vendors/registry"
)

// BenchmarkStage measures each stage of enqueue's ingest on one goroutine, per row,
// so the next bottleneck can be named: read (split and decode rows), validate
// (normalise the number and check the fields: compiled validator, and
// libphonenumber alone), dedup (the table), encode (the parts' record format).
func BenchmarkStage(b *testing.B) {
	const rows = 100_000
	for _, format := range []Format{Lines, CSV} {
		input, _ := benchList(format, rows)
		b.Run("read/"+string(format), func(b *testing.B) {
			b.SetBytes(int64(len(input)))
			for b.Loop() {
				src, err := Open(strings.NewReader(input), format)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for {
					_, err := src.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != rows {
					b.Fatalf("%d rows; want %d", n, rows)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows*b.N), "ns/row")
		})
	}
	input, _ := benchList(CSV, rows)
	src, err := Open(strings.NewReader(input), CSV)
	if err != nil {
		b.Fatal(err)
	}
	var all []Row
	for {
		r, err := src.Next()
		if err != nil {
			break
		}
		all = append(all, r)
	}
	for _, path := range []string{"compiled", "libphonenumber"} {
		b.Run("validate/"+path, func(b *testing.B) {
			norm, err := NewNormaliser(registry.Yccall, "CN")
			if err != nil {
				b.Fatal(err)
			}
			if path == "libphonenumber" {
				norm.fast = nil
			}
			i := 0
			for b.Loop() {
				validate(norm, registry.Yccall, &all[i%len(all)])
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/row")
		})
	}
	keys := make([]uint64, rows)
	for i := range keys {
		keys[i] = 8613800000000 + uint64(i)*7919
	}
	b.Run("dedup", func(b *testing.B) {
		for b.Loop() {
			d := NewDedup()
			for i, k := range keys {
				d.Add(k, int64(i))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows*b.N), "ns/row")
	})
	recs := make([]chunking.Record, 10_000)
	for i := range recs {
		v := validate(mustNormaliser(b), registry.Yccall, &all[i])
		recs[i] = v.rec
	}
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			ledger.EncodeRecords(recs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(len(recs)*b.N), "ns/row")
	})
}

func mustNormaliser(b *testing.B) *Normaliser {
	n, err := NewNormaliser(registry.Yccall, "CN")
	if err != nil {
		b.Fatal(err)
	}
	return n
}
