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
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
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

// jsonRow is one JSON Lines object; phone may be a string or a number.
type jsonRow struct {
	Phone      json.RawMessage `json:"phone"`
	Name       string          `json:"name"`
	CustomerID string          `json:"customer_id"`
	Attach     string          `json:"attach"`
	Company    string          `json:"company"`
	Params     []string        `json:"params"`
}

func (lr *lineReader) nextJSON() (Row, error) {
	l, err := lr.nextNonBlank()
	if err != nil {
		return Row{}, err
	}
	if l.tooLong {
		return Row{Line: l.line, Problem: problemTooLong}, nil
	}
	r := Row{Line: l.line, Phone: l.text}
	if p := textProblem(l.text); p != "" {
		r.Problem = p
		return r, nil
	}
	var j jsonRow
	if err := json.Unmarshal([]byte(l.text), &j); err != nil {
		r.Problem = "not a JSON object: " + jsonReason(err)
		return r, nil
	}
	r = Row{Line: l.line, Name: j.Name, CustomerID: j.CustomerID, Attach: j.Attach, Company: j.Company, Params: trimParams(j.Params)}
	switch {
	case len(j.Phone) == 0 || string(j.Phone) == "null":
		r.Problem = "no phone field"
	case j.Phone[0] == '"':
		_ = json.Unmarshal(j.Phone, &r.Phone)
	case j.Phone[0] >= '0' && j.Phone[0] <= '9':
		r.Phone = string(j.Phone)
	default:
		r.Phone = string(j.Phone)
		r.Problem = "phone must be a string or a number"
	}
	// JSON escapes can spell what the raw line may not hold (\u0000).
	for _, f := range append([]string{r.Phone, r.Name, r.CustomerID, r.Attach, r.Company}, r.Params...) {
		if p := textProblem(f); p != "" && r.Problem == "" {
			r.Problem = p
		}
	}
	return r, nil
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return "it is a JSON " + te.Value
		}
		return fmt.Sprintf("field %s has the wrong type", te.Field)
	}
	return "cannot decode"
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

// column roles for CSV headers.
const (
	colPhone = iota
	colName
	colCustomerID
	colAttach
	colCompany
	colParam
	colIgnored
)

var headerRoles = map[string]int{
	"phone": colPhone, "mobile": colPhone, "number": colPhone, "tel": colPhone, "telephone": colPhone,
	"phone_number": colPhone, "msisdn": colPhone,
	"name": colName, "customer_name": colName, "cust_name": colName,
	"customer_id": colCustomerID, "id": colCustomerID, "external_id": colCustomerID,
	"attach": colAttach, "other": colAttach, "external_data": colAttach, "passthrough": colAttach,
	"company": colCompany, "cust_company": colCompany,
}

var paramHeader = regexp.MustCompile(`^param_?([0-9]{1,2})$`)

type csvColumns struct {
	phone, name, customerID, attach, company int
	params                                   []int // column index per parameter, in order
	width                                    int
	line                                     int64 // the last row's line, for errors
}

func openCSV(br *bufio.Reader) (*Source, error) {
	cr := csv.NewReader(loneCR{br})
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	// Sniff the delimiter from the header: some spreadsheets export ';' or tabs.
	if head, _ := br.Peek(4096); len(head) > 0 {
		first := head
		if i := bytes.IndexAny(head, "\r\n"); i >= 0 {
			first = head[:i]
		}
		switch {
		case bytes.Count(first, []byte("\t")) > bytes.Count(first, []byte(",")):
			cr.Comma = '\t'
		case bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")):
			cr.Comma = ';'
		}
	}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return &Source{Format: CSV, next: func() (Row, error) { return Row{}, io.EOF }}, nil
	}
	if err != nil {
		return nil, &InputError{Line: 1, Err: fmt.Errorf("csv header: %w", err)}
	}
	cols := csvColumns{phone: -1, name: -1, customerID: -1, attach: -1, company: -1, width: len(header)}
	src := &Source{Format: CSV}
	type param struct{ n, col int }
	var params []param
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		src.Columns = append(src.Columns, name)
		role, ok := headerRoles[name]
		if m := paramHeader.FindStringSubmatch(name); m != nil {
			n, _ := strconv.Atoi(m[1])
			params = append(params, param{n, i})
			continue
		}
		if !ok {
			src.Ignored = append(src.Ignored, name)
			continue
		}
		target := map[int]*int{colPhone: &cols.phone, colName: &cols.name, colCustomerID: &cols.customerID, colAttach: &cols.attach, colCompany: &cols.company}[role]
		if *target >= 0 {
			return nil, &InputError{Line: 1, Err: fmt.Errorf("csv header: columns %q and %q both map to the same field", header[*target], h)}
		}
		*target = i
	}
	if cols.phone < 0 {
		return nil, &InputError{Line: 1, Err: errors.New("csv header has no phone column (phone, mobile, number, tel, msisdn)")}
	}
	sort.Slice(params, func(a, b int) bool { return params[a].n < params[b].n })
	for _, p := range params {
		cols.params = append(cols.params, p.col)
	}
	src.next = func() (Row, error) { return nextCSV(cr, &cols) }
	return src, nil
}

func nextCSV(cr *csv.Reader, cols *csvColumns) (Row, error) {
	for {
		rec, err := cr.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				cols.line = int64(pe.Line)
				return Row{Line: int64(pe.StartLine), Problem: csvProblem(pe)}, nil
			}
			if errors.Is(err, io.EOF) {
				return Row{}, io.EOF
			}
			return Row{}, &InputError{Line: cols.line + 1, Err: err}
		}
		// FieldPos only after a successful Read: a parse error can leave no fields,
		// and FieldPos(0) then panics.
		line, _ := cr.FieldPos(0)
		cols.line = int64(line)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		r := Row{Line: int64(line)}
		if len(rec) != cols.width {
			r.Phone = field(rec, cols.phone)
			r.Problem = fmt.Sprintf("has %d fields, the header has %d", len(rec), cols.width)
			return r, nil
		}
		r.Phone = field(rec, cols.phone)
		r.Name = field(rec, cols.name)
		r.CustomerID = field(rec, cols.customerID)
		r.Attach = field(rec, cols.attach)
		r.Company = field(rec, cols.company)
		if len(cols.params) > 0 {
			ps := make([]string, len(cols.params))
			for i, c := range cols.params {
				ps[i] = field(rec, c)
			}
			r.Params = trimParams(ps)
		}
		for _, f := range rec {
			if p := textProblem(f); p != "" {
				r.Problem = p
				break
			}
		}
		return r, nil
	}
}

// csvProblem names the lines a malformed row swallowed: an unclosed quote runs on
// until the next quote, so the rows in between are part of this one reject.
func csvProblem(pe *csv.ParseError) string {
	if pe.Line > pe.StartLine {
		return fmt.Sprintf("csv: %v (lines %d-%d read as one row)", pe.Err, pe.StartLine, pe.Line)
	}
	return "csv: " + pe.Err.Error()
}

// loneCR turns a lone CR (old Mac line ending) into LF for encoding/csv, which
// knows only LF and CRLF and would otherwise read such a file as one row. A CR in
// a quoted field becomes LF too, as encoding/csv does with CRLF.
type loneCR struct{ br *bufio.Reader }

func (l loneCR) Read(p []byte) (int, error) {
	n, err := l.br.Read(p)
	b := p[:n]
	for i := bytes.IndexByte(b, '\r'); i >= 0; {
		if i+1 < len(b) {
			if b[i+1] != '\n' {
				b[i] = '\n'
			}
		} else if next, _ := l.br.Peek(1); len(next) == 0 || next[0] != '\n' {
			b[i] = '\n' // a read error met here comes again (stickyErr)
		}
		j := bytes.IndexByte(b[i+1:], '\r')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return n, err
}

func field(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
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
