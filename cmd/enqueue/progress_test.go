package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The bar shows no rate (nor time left) until a second has passed: its first frame
// read "103 GB/s", bytes over the microseconds since it started.
func TestProgressRateOnlyWhenMeaningful(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(1_000_000_000, &out)
	clock := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return clock }

	p.set(256 << 10)  // the first blocks, read in no time
	p.set(20_000_000) // 2%: the old bar's first frame, at "N GB/s"
	first := out.String()
	if first == "" {
		t.Fatal("no first frame rendered")
	}
	if strings.Contains(first, "/s") || strings.Contains(first, "left") {
		t.Errorf("first frame %q shows a rate", first)
	}
	for _, tt := range []struct {
		after time.Duration
		n     int64
		want  string
	}{
		{0, 256 << 10, "reading 262.1 kB"},
		{900 * time.Millisecond, 90_000_000, "reading 90.0 MB"},
		{2 * time.Second, 200_000_000, "reading 200.0 MB, 100.0 MB/s, 8s left"},
		{10 * time.Second, 1_000_000_000, "reading 1.0 GB, 100.0 MB/s"},
	} {
		if got := p.describe(tt.n, p.start.Add(tt.after)); got != tt.want {
			t.Errorf("after %v with %d bytes: %q; want %q", tt.after, tt.n, got, tt.want)
		}
	}
	// Rendered: once a second has passed the frame carries the rate.
	clock = clock.Add(2 * time.Second)
	time.Sleep(250 * time.Millisecond) // the bar's own render throttle
	p.set(200_000_000)
	if !strings.Contains(out.String(), "100.0 MB/s") {
		t.Errorf("frames after 2s %q; want the rate", out.String())
	}
	// stdin: no size, no time left.
	s := newProgress(-1, &bytes.Buffer{})
	s.start = clock
	if got := s.describe(50_000_000, clock.Add(5*time.Second)); got != "reading 50.0 MB, 10.0 MB/s" {
		t.Errorf("stdin: %q", got)
	}
}
