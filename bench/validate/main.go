// Command validate measures the raw validation rate of a list: ingest.Open and
// ingest.Run into a sink that only counts, no Redis. It prints one JSON object.
//
//	validate -vendor yccall [-workers N] [-cpuprofile cpu.out] FILE
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/ingest"
)

type result struct {
	File          string           `json:"file"`
	Format        string           `json:"format"`
	Workers       int              `json:"workers"`
	Read          int64            `json:"read"`
	Accepted      int64            `json:"accepted"`
	Rejected      int64            `json:"rejected"`
	Duplicates    int64            `json:"duplicates"`
	Seconds       float64          `json:"seconds"`
	RowsPerSecond float64          `json:"rows_per_second"`
	Reasons       map[string]int64 `json:"reasons"`
}

// countSink counts; reasons are bucketed by their first words so the table stays small.
type countSink struct{ reasons map[string]int64 }

func (s *countSink) Accept(chunking.Record) error { return nil }

func (s *countSink) Reject(r ingest.Reject) error {
	reason := r.Reason
	if strings.HasPrefix(reason, "duplicate of line") {
		reason = "duplicate"
	}
	s.reasons[reason]++
	return nil
}

func main() {
	vendor := flag.String("vendor", "yccall", "vendor whose rules apply")
	region := flag.String("region", "CN", "region for numbers without a country code")
	format := flag.String("format", "auto", "auto, lines, csv or jsonl")
	workers := flag.Int("workers", 0, "validation goroutines (0: one per CPU)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here")
	memPerRow := flag.Int64("mem-per-row", 0, "if set, keep a soft memory limit of 64 MiB + this many bytes per row read (see README)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: validate [flags] FILE")
		os.Exit(1)
	}
	if err := run(flag.Arg(0), *vendor, *region, *format, *workers, *cpuprofile, *memPerRow); err != nil {
		fmt.Fprintln(os.Stderr, "validate:", err)
		os.Exit(1)
	}
}

func run(file, vendor, region, format string, workers int, cpuprofile string, memPerRow int64) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fm, err := ingest.ParseFormat(format)
	if err != nil {
		return err
	}
	if cpuprofile != "" {
		pf, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	started := time.Now()
	src, err := ingest.Open(f, fm)
	if err != nil {
		return err
	}
	sink := &countSink{reasons: map[string]int64{}}
	opt := ingest.Options{Vendor: vendor, Region: region, Workers: workers}
	if memPerRow > 0 {
		// The dedup set is the only memory that grows with the list; without a limit
		// the GC lets the heap reach twice it before collecting the garbage that
		// validation leaves. A limit that grows with the rows read holds the peak to
		// the budget and costs GC work only near it.
		opt.Progress = func(read int64) { debug.SetMemoryLimit(64<<20 + memPerRow*read) }
	}
	c, err := ingest.Run(context.Background(), src, opt, sink)
	if err != nil {
		return err
	}
	secs := time.Since(started).Seconds()
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(result{
		File: file, Format: string(src.Format), Workers: workers, Read: c.Read, Accepted: c.Accepted,
		Rejected: c.Rejected, Duplicates: c.Duplicates, Seconds: round(secs), RowsPerSecond: round(float64(c.Read) / secs),
		Reasons: sink.reasons,
	})
}

func round(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
