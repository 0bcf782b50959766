package ledgerstore

import (
	"fmt"
	"testing"

	"github.com/dialq/dialq/chunking"
)

// benchPart is one full yccall part: 10,000 records with a customer id and attach.
func benchPart() []chunking.Record {
	recs := make([]chunking.Record, 10_000)
	for i := range recs {
		recs[i] = chunking.Record{Line: int64(i + 2), Phone: fmt.Sprintf("139%08d", i*7919%100_000_000),
			CustomerID: fmt.Sprintf("C%d", i), Attach: fmt.Sprintf("ref-%d", i)}
	}
	return recs
}

func BenchmarkEncodeRecords(b *testing.B) {
	recs := benchPart()
	b.SetBytes(int64(len(EncodeRecords(recs))))
	for b.Loop() {
		EncodeRecords(recs)
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "numbers/s")
}

func BenchmarkDecodeRecords(b *testing.B) {
	recs := benchPart()
	enc := EncodeRecords(recs)
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		got, err := DecodeRecords(enc)
		if err != nil || len(got) != len(recs) {
			b.Fatalf("DecodeRecords: %d records, %v", len(got), err)
		}
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "numbers/s")
}
