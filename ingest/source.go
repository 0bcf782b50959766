// Package ingest turns a producer's list into normalised, validated, de-duplicated
// records: it reads plain lines, CSV or JSON Lines (gzip or not) from a stream,
// validates every number with libphonenumber, and reports every rejected row with
// its line and reason. It never holds the list in memory, only the dedup set.
package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Format is an input format.
type Format string

// Input formats; Auto detects from the first line.
const (
	Auto  Format = "auto"
	Lines Format = "lines"
	CSV   Format = "csv"
	JSONL Format = "jsonl"
)

// ParseFormat reads a -format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case Auto, Lines, CSV, JSONL:
		return f, nil
	case "":
		return Auto, nil
	}
	return "", fmt.Errorf("format %q: want auto, lines, csv or jsonl", s)
}

// MaxLineBytes bounds one line of plain or JSON Lines input; a longer line is
// rejected (and skipped) rather than read into memory.
const MaxLineBytes = 64 << 10

// Row is one input row before validation.
type Row struct {
	Line       int64
	Phone      string
	Name       string
	CustomerID string
	Attach     string
	Company    string
	Params     []string
	// Problem is set when the row could not be read as the format requires.
	Problem string
}

// InputError means the input as a whole cannot be read (truncated gzip, I/O error,
// a CSV without a phone column): the batch must not be enqueued.
type InputError struct {
	Line int64
	Err  error
}

func (e *InputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("input unreadable at line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("input unreadable: %v", e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

// Source yields the rows of one input.
type Source struct {
	Format Format
	next   func() (Row, error)
	// Columns maps CSV headers to fields, for the summary; nil for other formats.
	Columns []string
	// Ignored lists CSV headers that map to no field.
	Ignored []string
	stop    *stopper
}

// Next returns the next row, or io.EOF at the end. Any other error is an *InputError.
func (s *Source) Next() (Row, error) { return s.next() }

// stopOn makes every later read of the input fail with ctx's error once ctx is done.
// Call it before the rows are read from another goroutine.
func (s *Source) stopOn(ctx context.Context) {
	if s.stop != nil {
		s.stop.ctx = ctx
	}
}

// ctxReader checks its context before each read of the input. An endless line
// (enqueue … /dev/zero) is read and dropped a buffer at a time, so a signal is seen
// within one buffer fill: 256 KiB of input or of gzip output.
type ctxReader struct {
	r    io.Reader
	stop *stopper
}

type stopper struct{ ctx context.Context }

func (c *ctxReader) Read(p []byte) (int, error) {
	if c.stop.ctx != nil {
		if err := c.stop.ctx.Err(); err != nil {
			return 0, err
		}
	}
	return c.r.Read(p)
}

var gzipMagic = []byte{0x1f, 0x8b}

// Open wraps r, detecting gzip by content and the format when f is Auto.
func Open(r io.Reader, f Format) (*Source, error) { return OpenTee(r, f, nil) }

// OpenTee is Open that also copies the content, decompressed, to content (when not
// nil): the same list gives the same bytes there whether or not it was gzipped.
func OpenTee(r io.Reader, f Format, content io.Writer) (*Source, error) {
	src, err := openTee(r, f, content, &stopper{})
	return src, err
}

func openTee(r io.Reader, f Format, content io.Writer, stop *stopper) (*Source, error) {
	br := bufio.NewReaderSize(&stickyErr{r: &ctxReader{r: r, stop: stop}}, 256<<10)
	if magic, _ := br.Peek(2); bytes.Equal(magic, gzipMagic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &InputError{Err: fmt.Errorf("gzip: %w", err)}
		}
		var plain io.Reader = zr
		if content != nil {
			plain = io.TeeReader(zr, content)
		}
		br = bufio.NewReaderSize(&stickyErr{r: &ctxReader{r: plain, stop: stop}}, 256<<10)
	} else if content != nil {
		br = bufio.NewReaderSize(&stickyErr{r: io.TeeReader(br, content)}, 256<<10)
	}
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	// Excel's "Unicode text" is UTF-16: read as UTF-8 every row would be refused for
	// NUL bytes, which tells the operator nothing. No UTF-8 text starts so.
	if bom, _ := br.Peek(2); bytes.Equal(bom, []byte{0xff, 0xfe}) || bytes.Equal(bom, []byte{0xfe, 0xff}) {
		return nil, &InputError{Err: errors.New("UTF-16 text (it starts with a UTF-16 byte-order mark): save the list as UTF-8")}
	}
	if f == Auto {
		f = detect(br)
	}
	switch f {
	case Lines:
		lr := &lineReader{br: br}
		return &Source{Format: Lines, next: lr.nextPlain, stop: stop}, nil
	case JSONL:
		lr := &lineReader{br: br}
		return &Source{Format: JSONL, next: lr.nextJSON, stop: stop}, nil
	case CSV:
		src, err := openCSV(br)
		if src != nil {
			src.stop = stop
		}
		return src, err
	}
	return nil, fmt.Errorf("format %q: want auto, lines, csv or jsonl", f)
}

// stickyErr repeats the first error (or EOF) of its reader. bufio.Reader.Peek hands
// a read error out once and forgets it: the peeks that sniff gzip, BOM, format and
// line endings must not swallow an error that would make a broken input look whole.
type stickyErr struct {
	r   io.Reader
	err error
}

func (s *stickyErr) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.err = err
	return n, err
}

var phoneHeaders = map[string]bool{"phone": true, "mobile": true, "number": true, "tel": true, "telephone": true, "phone_number": true, "msisdn": true}

// detect looks at the first non-blank line: '{' starts JSON Lines; a comma, a tab,
// or a known phone header means CSV; anything else is one number a line.
func detect(br *bufio.Reader) Format {
	peek, _ := br.Peek(64 << 10)
	for len(peek) > 0 {
		line := peek
		if i := bytes.IndexAny(peek, "\r\n"); i >= 0 {
			line, peek = peek[:i], peek[i+1:]
		} else {
			peek = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		switch {
		case line[0] == '{':
			return JSONL
		case bytes.ContainsAny(line, ",\t;"), phoneHeaders[strings.ToLower(string(line))]:
			return CSV
		}
		return Lines
	}
	return Lines
}

// textProblem reports text that no field may hold.
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "invalid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL byte"
	}
	return ""
}

// trimParams drops trailing empty parameters: "a,b,," and "a,b" mean the same call.
func trimParams(ps []string) []string {
	for len(ps) > 0 && ps[len(ps)-1] == "" {
		ps = ps[:len(ps)-1]
	}
	if len(ps) == 0 {
		return nil
	}
	return ps
}
