// Plain input, one number a line, and the line reader JSON Lines shares: line
// endings, the 64 KiB cap, blank lines.

package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

type lineReader struct {
	br   *bufio.Reader
	line int64
	// slow turns the buffered fast path off (tests compare the two).
	slow bool
}

// readLine returns the next line without its line ending (LF, CRLF or a lone CR,
// which old Mac exports use), or tooLong when it exceeds MaxLineBytes: the rest of
// such a line is skipped, never held in memory.
func (lr *lineReader) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	seen := false // the last line may have no line ending
	for {
		if lr.br.Buffered() == 0 {
			if _, err := lr.br.Peek(1); err != nil {
				switch {
				case !errors.Is(err, io.EOF):
					return nil, false, &InputError{Line: lr.line + 1, Err: err}
				case !seen:
					return nil, false, io.EOF
				}
				lr.line++
				return buf, tooLong, nil
			}
		}
		chunk, _ := lr.br.Peek(lr.br.Buffered())
		end := bytes.IndexAny(chunk, "\r\n")
		text := chunk
		if end >= 0 {
			text = chunk[:end]
		}
		seen = true
		if len(buf)+len(text) > MaxLineBytes {
			tooLong, buf = true, nil
		} else if !tooLong {
			buf = append(buf, text...)
		}
		if end < 0 {
			_, _ = lr.br.Discard(len(chunk))
			continue
		}
		cr := chunk[end] == '\r'
		_, _ = lr.br.Discard(end + 1)
		if cr {
			// A read error met looking for the LF comes again on the next call (stickyErr).
			if next, _ := lr.br.Peek(1); len(next) == 1 && next[0] == '\n' {
				_, _ = lr.br.Discard(1)
			}
		}
		lr.line++
		return buf, tooLong, nil
	}
}

// bufferedLine is readLine and trimming for the common case, a line whose end is
// already in the buffer: it is cut out of the buffer with one copy (the string)
// instead of two. ok is false when the buffer does not hold the whole line and its
// ending (a CR must be followed by a buffered byte to tell CRLF from a lone CR);
// readLine then reads it.
func (lr *lineReader) bufferedLine() (text string, ok bool) {
	if lr.slow {
		return "", false
	}
	chunk, _ := lr.br.Peek(lr.br.Buffered())
	end := bytes.IndexByte(chunk, '\n')
	if end < 0 || end > MaxLineBytes {
		return "", false
	}
	skip := end + 1
	if cr := bytes.IndexByte(chunk[:end], '\r'); cr >= 0 {
		end, skip = cr, cr+1
		if chunk[cr+1] == '\n' { // cr < the LF's index, so cr+1 is buffered
			skip++
		}
	}
	text = string(bytes.TrimSpace(chunk[:end]))
	_, _ = lr.br.Discard(skip)
	lr.line++
	return text, true
}

// rawLine is one non-blank line of plain or JSON Lines input.
type rawLine struct {
	line    int64
	text    string
	tooLong bool
}

func (lr *lineReader) nextNonBlank() (rawLine, error) {
	for {
		if s, ok := lr.bufferedLine(); ok {
			if s == "" {
				continue
			}
			return rawLine{line: lr.line, text: s}, nil
		}
		b, tooLong, err := lr.readLine()
		if err != nil {
			return rawLine{}, err
		}
		if tooLong {
			return rawLine{line: lr.line, tooLong: true}, nil
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			continue
		}
		return rawLine{line: lr.line, text: s}, nil
	}
}

const problemTooLong = "line longer than 64 KiB"

func (lr *lineReader) nextPlain() (Row, error) {
	l, err := lr.nextNonBlank()
	if err != nil {
		return Row{}, err
	}
	if l.tooLong {
		return Row{Line: l.line, Problem: problemTooLong}, nil
	}
	r := Row{Line: l.line, Phone: l.text}
	r.Problem = textProblem(l.text)
	return r, nil
}
