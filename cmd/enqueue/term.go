package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

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

// minRateWindow is the least time a rate is shown over: the bar's own rate, bytes
// over the microseconds since its first update, made the first frame read
// "103 GB/s" (and its time left nonsense).
const minRateWindow = time.Second

// progress shows bytes read against the file size, or a spinner for stdin; the
// rate and time left are ours, shown once they mean something.
type progress struct {
	bar      *progressbar.ProgressBar
	size     int64
	now      func() time.Time
	start    time.Time
	lastDesc time.Time
}

func newProgress(size int64, w io.Writer) *progress {
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(false),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetDescription("reading"),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return &progress{bar: bar, size: size, now: time.Now}
}

// set records n bytes read.
func (p *progress) set(n int64) {
	now := p.now()
	if p.start.IsZero() {
		p.start = now
	}
	if now.Sub(p.lastDesc) >= 200*time.Millisecond {
		p.bar.Describe(p.describe(n, now))
		p.lastDesc = now
	}
	_ = p.bar.Set64(n)
}

func (p *progress) finish() { _ = p.bar.Finish() }

func (p *progress) describe(n int64, now time.Time) string {
	s := "reading " + humanBytes(float64(n))
	elapsed := now.Sub(p.start)
	if elapsed < minRateWindow || n == 0 {
		return s
	}
	rate := float64(n) / elapsed.Seconds()
	s += ", " + humanBytes(rate) + "/s"
	if p.size > n {
		left := time.Duration(float64(p.size-n) / rate * float64(time.Second))
		s += ", " + left.Round(time.Second).String() + " left"
	}
	return s
}

// humanBytes is n in B, kB, MB, GB (SI, as the bar's own units).
func humanBytes(n float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for n >= 1000 && i < len(units)-1 {
		n /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
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
