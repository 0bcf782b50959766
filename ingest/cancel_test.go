package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// endless is an input that never ends: the same bytes again and again, counting
// what was read.
type endless struct {
	fill []byte
	n    atomic.Int64
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.fill[i%len(e.fill)]
	}
	e.n.Add(int64(len(p)))
	return len(p), nil
}

// blocked never answers, as a silent terminal.
type blocked struct{}

func (blocked) Read([]byte) (int, error) { select {} }

// Run stops within a moment of its context's end however the input runs on: one
// endless line (the over-long-line reader), endless rows, an endless gzip
// stream, a read that never returns. After it returns the input is no longer read.
func TestRunStopsOnCancel(t *testing.T) {
	zeros := func() io.Reader { return &endless{fill: []byte{0}} }
	gz := func() io.Reader {
		// An endless gzip stream of a repeated line: built lazily by a pipe.
		pr, pw := io.Pipe()
		go func() {
			zw := gzip.NewWriter(pw)
			line := bytes.Repeat([]byte("x"), 1<<20)
			for {
				if _, err := zw.Write(line); err != nil {
					return
				}
			}
		}()
		return pr
	}
	for _, tt := range []struct {
		name   string
		input  func() io.Reader
		format Format
	}{
		{"endless line", zeros, Auto},
		{"endless line jsonl", zeros, JSONL},
		{"endless rows", func() io.Reader { return &endless{fill: []byte("13800138000\n")} }, Auto},
		{"endless csv field", func() io.Reader {
			return io.MultiReader(bytes.NewReader([]byte("phone\n\"")), &endless{fill: []byte("1")})
		}, CSV},
		{"endless gzip line", gz, Auto},
		{"blocked read", func() io.Reader { return io.MultiReader(bytes.NewReader([]byte("13800138000\n")), blocked{}) }, Lines},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.input()
			ctx, cancel := context.WithCancel(context.Background())
			src, err := Open(in, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := Run(ctx, src, Options{Vendor: "nxcloud", Region: "CN", Workers: 2}, &memSink{})
				done <- err
			}()
			time.Sleep(200 * time.Millisecond)
			cancel()
			start := time.Now()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run = %v; want context.Canceled", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("Run still running 2s after its context was cancelled")
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("Run returned %v after the cancel; want well under a second", d)
			}
			if c, ok := in.(io.Closer); ok {
				c.Close() // the gzip writer's goroutine
			}
			if e, ok := in.(*endless); ok {
				// The reader stops too: at most a buffer fill after the check.
				time.Sleep(50 * time.Millisecond)
				before := e.n.Load()
				time.Sleep(100 * time.Millisecond)
				if after := e.n.Load(); after != before {
					t.Errorf("input still read after Run returned: %d more bytes", after-before)
				}
			}
		})
	}
}
