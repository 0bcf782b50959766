package main

import (
	"context"
	"io"
	"os"
	"sync/atomic"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

func stderrIsTerminal() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

// countingReader counts the bytes read, for the progress bar.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// newProgressBar shows bytes read against the file size, or a spinner for stdin.
func newProgressBar(size int64, w io.Writer) *progressbar.ProgressBar {
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription("reading"),
		progressbar.OptionThrottle(200_000_000),
		progressbar.OptionClearOnFinish(),
	)
}

// stoppable reads in a goroutine so that a read that never returns (a silent
// terminal or pipe) does not hold up a stopped command: once ctx is done, Read
// returns its error at once and the pending read is abandoned with its buffer
// (the buffer is reused otherwise: no read is issued after ctx is done).
type stoppable struct {
	ctx context.Context
	r   io.Reader
	buf []byte
	res chan readResult
}

type readResult struct {
	n   int
	err error
}

func newStoppable(ctx context.Context, r io.Reader) *stoppable {
	return &stoppable{ctx: ctx, r: r, res: make(chan readResult, 1)}
}

func (s *stoppable) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	if cap(s.buf) < len(p) {
		s.buf = make([]byte, len(p))
	}
	buf := s.buf[:len(p)]
	go func() {
		n, err := s.r.Read(buf)
		s.res <- readResult{n, err}
	}()
	select {
	case r := <-s.res:
		return copy(p, buf[:r.n]), r.err
	case <-s.ctx.Done():
		return 0, s.ctx.Err()
	}
}
