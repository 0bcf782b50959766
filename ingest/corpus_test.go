package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/vendors/registry"
)

// corpusDir is the bad-input corpus, shared with cmd/enqueue's tests.
const corpusDir = "../testdata/badinput"

var allVendors = registry.Names()

// corpusCase is one input and what must become of it for each of vendors: either
// the input is refused as a whole (inputErr), or exactly the lines in rejects are
// rejected, with a reason containing the text given, and exactly accepted are
// accepted, in order.
type corpusCase struct {
	file    string // under corpusDir; or a label when gen is set
	gen     func() []byte
	big     bool // large: read only whole, not a byte at a time
	vendors []string
	format  Format

	inputErr string
	rejects  map[int64]string
	accepted []int64
	check    func(t *testing.T, recs []chunking.Record)
}

func lines(from, to int64) []int64 {
	var out []int64
	for l := from; l <= to; l++ {
		out = append(out, l)
	}
	return out
}

const (
	letters     = "contains letters"
	invalidNum  = "not a valid number for its region"
	sepField    = "contains '^' or '|', which separate mobileList fields and records"
	sepParam    = "contains '-' or '~', which separate call parameters"
	lineBreak   = "contains a line break"
	lineTooLong = "line longer than 64 KiB"
)

func fieldOf(recs []chunking.Record, line int64, get func(chunking.Record) string) string {
	for _, r := range recs {
		if r.Line == line {
			return get(r)
		}
	}
	return "<no record>"
}

func wantFields(want map[int64]chunking.Record) func(t *testing.T, recs []chunking.Record) {
	return func(t *testing.T, recs []chunking.Record) {
		t.Helper()
		for line, w := range want {
			i := slices.IndexFunc(recs, func(r chunking.Record) bool { return r.Line == line })
			if i < 0 {
				t.Errorf("line %d: no record", line)
				continue
			}
			w.Line = line
			if w.Phone == "" {
				w.Phone = recs[i].Phone
			}
			if diff := cmp.Diff(w, recs[i]); diff != "" {
				t.Errorf("line %d record (-want +got):\n%s", line, diff)
			}
		}
	}
}

func wantPhones(want ...string) func(t *testing.T, recs []chunking.Record) {
	return func(t *testing.T, recs []chunking.Record) {
		t.Helper()
		if diff := cmp.Diff(want, phones(recs)); diff != "" {
			t.Errorf("phones (-want +got):\n%s", diff)
		}
	}
}

var jsonlBadRejects = map[int64]string{
	3: "no phone field", 4: "no phone field", 5: "phone must be a string or a number",
	6: "not a JSON object: syntax error", 7: "not a JSON object: it is a JSON array",
	8: "not a JSON object: field params has the wrong type", 9: "not a JSON object: it is a JSON number",
	10: "phone must be a string or a number",
}

var corpus = []corpusCase{
	{file: "empty.txt", vendors: allVendors},
	{file: "blank_lines.txt", vendors: allVendors},
	{file: "header_only.csv", vendors: allVendors},
	{file: "bom.txt", vendors: allVendors, accepted: []int64{1, 2}},
	{file: "bom.csv", vendors: allVendors, accepted: []int64{2, 3}},
	{file: "bom_inside.csv.gz", vendors: allVendors, accepted: []int64{2}},
	{file: "utf16le.txt", vendors: allVendors, inputErr: "UTF-16"},

	{file: "crlf.txt", vendors: allVendors, accepted: []int64{1, 2, 4}},
	{file: "crlf.csv", vendors: []string{registry.Speech}, accepted: []int64{2, 3},
		check: wantFields(map[int64]chunking.Record{2: {Name: "Li"}, 3: {Name: "Han"}})},
	{file: "mixed_endings.txt", vendors: allVendors, accepted: []int64{1, 2, 3, 4, 6}},
	{file: "mixed_endings.csv", vendors: []string{registry.Speech}, accepted: []int64{2, 3, 4},
		check: wantFields(map[int64]chunking.Record{2: {Name: "Li"}, 3: {Name: "Han"}, 4: {Name: "Wang"}})},
	{file: "lone_cr.txt", vendors: allVendors, accepted: []int64{1, 2, 3},
		check: func(t *testing.T, recs []chunking.Record) {
			for _, r := range recs {
				if strings.ContainsAny(r.Phone, "\r\n") || len(r.Phone) > 13 {
					t.Errorf("line %d: phone %q", r.Line, r.Phone)
				}
			}
		}},
	{file: "lone_cr.jsonl", vendors: allVendors, accepted: []int64{1, 2}},
	// A lone CR inside quotes stays a line break (as encoding/csv does with CRLF).
	{file: "lone_cr.csv", vendors: []string{registry.Yccall, registry.NXCloud}, accepted: []int64{2, 3, 5}},
	{file: "lone_cr.csv", vendors: []string{registry.Speech}, accepted: []int64{2, 3, 5},
		check: wantFields(map[int64]chunking.Record{2: {Name: "Li"}, 3: {Name: "Han\nMeimei"}, 5: {Name: "Wang"}})},
	{file: "lone_cr.csv", vendors: []string{registry.FlashAI}, accepted: []int64{2, 5},
		rejects: map[int64]string{3: "name " + lineBreak}},

	{file: "invalid_utf8.txt", vendors: allVendors, accepted: []int64{1, 3}, rejects: map[int64]string{2: "invalid UTF-8"}},
	{file: "invalid_utf8.csv", vendors: allVendors, accepted: []int64{2, 4}, rejects: map[int64]string{3: "invalid UTF-8"}},
	{file: "invalid_utf8.jsonl", vendors: allVendors, accepted: []int64{1}, rejects: map[int64]string{2: "invalid UTF-8"}},
	{file: "nul.txt", vendors: allVendors, accepted: []int64{1, 3}, rejects: map[int64]string{2: "contains a NUL byte"}},
	{file: "nul.csv", vendors: allVendors, accepted: []int64{2}, rejects: map[int64]string{3: "contains a NUL byte"}},
	{file: "nul_escaped.jsonl", vendors: allVendors, accepted: []int64{2}, rejects: map[int64]string{1: "contains a NUL byte"}},

	{file: "no_phone_column.csv", vendors: allVendors, inputErr: "no phone column"},
	{file: "two_phone_columns.csv", vendors: allVendors, inputErr: `columns "phone" and "mobile" both map to the same field`},
	{file: "bad_header.csv", vendors: allVendors, inputErr: `csv header: parse error on line 1, column 4: bare "`},
	{file: "field_count.csv", vendors: allVendors, accepted: []int64{2, 7}, rejects: map[int64]string{
		3: "has 4 fields, the header has 3", 4: "has 2 fields, the header has 3",
		5: "has 4 fields, the header has 3", 6: "has 1 fields, the header has 3",
	}},
	{file: "quoted_newline.csv", vendors: []string{registry.Yccall, registry.NXCloud}, accepted: []int64{2, 4, 6}},
	{file: "quoted_newline.csv", vendors: []string{registry.Speech}, accepted: []int64{2, 4, 6},
		check: wantFields(map[int64]chunking.Record{
			2: {Name: "Li\nLei", Attach: "a1"}, 4: {Name: "Han", Attach: "a\nb"}, 6: {Phone: "13700137000", Name: "Wang", Attach: "a3"},
		})},
	{file: "quoted_newline.csv", vendors: []string{registry.FlashAI}, accepted: []int64{6},
		rejects: map[int64]string{2: "name " + lineBreak, 4: "attach " + lineBreak}},
	// An unclosed quote swallows rows up to the next quote: one reject names them all.
	{file: "unclosed_quote.csv", vendors: allVendors, accepted: []int64{2, 6},
		rejects: map[int64]string{3: `csv: extraneous or missing " in quoted-field (lines 3-5 read as one row)`}},
	{file: "bare_quote.csv", vendors: allVendors, accepted: []int64{2, 5},
		rejects: map[int64]string{3: `csv: bare " in non-quoted-field`, 4: `csv: bare " in non-quoted-field`}},

	// Formula prefixes pass through to the vendor untouched (what the list said is
	// what is sent); in the phone column libphonenumber reads past them.
	{file: "formula.csv", vendors: []string{registry.Speech}, accepted: []int64{2, 3, 4, 7},
		rejects: map[int64]string{5: letters, 6: "duplicate of line 2", 8: letters},
		check: wantFields(map[int64]chunking.Record{
			2: {Phone: "13800138000", Name: "=1+1", CustomerID: "+c1", Attach: "-a1", Company: "@co"},
			3: {Phone: "13900139000", Name: "Han", CustomerID: "c2", Attach: `=HYPERLINK("http://x.example/?q="&A1)`, Company: "co"},
			4: {Phone: "13700137000", Name: "Wang", CustomerID: "c3", Attach: "a3", Company: "co"},
			7: {Phone: "13600136000", Name: "Qian", CustomerID: "c6", Attach: "a6", Company: "co"},
		})},
	{file: "formula.csv", vendors: []string{registry.Yccall, registry.NXCloud, registry.FlashAI}, accepted: []int64{2, 3, 4, 7},
		rejects: map[int64]string{5: letters, 6: "duplicate of line 2", 8: letters}},

	{file: "flashai_separators.csv", vendors: []string{registry.FlashAI}, accepted: []int64{7, 8},
		rejects: map[int64]string{
			2: "attach " + sepField, 3: "name " + sepField, 4: "company " + sepField,
			5: "param1 " + sepParam, 6: "param2 " + sepParam, 9: "param1 " + sepField,
			10: "param1 is 101 characters; flashai takes at most 100", 11: "param1 " + sepField,
		},
		check: wantFields(map[int64]chunking.Record{
			7: {Phone: "18600186000", Name: "Li~Lei-Jr", Attach: "a6", Company: "co", Params: []string{"p1", "p2"}},
			8: {Phone: "18800188000", Name: "Wu", Attach: "a-b~c", Company: "co-op", Params: []string{"p1", "p2"}},
		})},
	// The separators are FlashAI's alone.
	{file: "flashai_separators.csv", vendors: []string{registry.Yccall, registry.Speech, registry.NXCloud}, accepted: lines(2, 11)},

	{file: "long_fields.csv", vendors: []string{registry.Yccall}, accepted: []int64{2, 3, 4, 6, 8, 9},
		rejects: map[int64]string{
			5: "customer_id is 65 characters; yccall takes at most 64",
			7: "attach is 256 characters; yccall takes at most 64",
		}},
	{file: "long_fields.csv", vendors: []string{registry.Speech}, accepted: []int64{2},
		rejects: map[int64]string{
			3: "name is 21 characters; speech takes at most 20",
			4: "name is 51 characters; speech takes at most 20",
			5: "customer_id is 65 characters; speech takes at most 64",
			6: "attach is 41 characters; speech takes at most 40",
			7: "attach is 256 characters; speech takes at most 40",
			8: "name is 50 characters; speech takes at most 20",
			9: "company is 201 characters; speech takes at most 200",
		},
		check: wantFields(map[int64]chunking.Record{2: {Name: strings.Repeat("张", 20), CustomerID: "c1", Attach: "a1", Company: "co"}})},
	{file: "long_fields.csv", vendors: []string{registry.FlashAI}, accepted: []int64{2, 3, 5, 6, 8},
		rejects: map[int64]string{
			4: "name is 51 characters; flashai takes at most 50",
			7: "attach is 256 characters; flashai takes at most 100",
			9: "company is 201 characters; flashai takes at most 100",
		},
		// FlashAI has no customer id: the over-long one is dropped, not refused.
		check: wantFields(map[int64]chunking.Record{5: {Name: "Zhao", Attach: "a4", Company: "co"}})},
	{file: "long_fields.csv", vendors: []string{registry.NXCloud}, accepted: []int64{2, 3, 4, 5, 6, 8, 9},
		rejects: map[int64]string{7: "attach is 256 characters; nxcloud takes at most 255"}},

	{file: "numbers.txt", vendors: []string{registry.Yccall}, accepted: []int64{1, 13, 14, 19},
		rejects: map[int64]string{
			2: letters, 3: letters, 4: "has an extension", 5: letters, 6: invalidNum, 7: invalidNum, 8: invalidNum,
			9: "too long to be a phone number", 10: "a US number: yccall dials CN numbers only",
			11: "a GB number: yccall dials CN numbers only", 12: "a HK number: yccall dials CN numbers only",
			15: invalidNum, 16: invalidNum, 17: "not a phone number", 18: letters,
		},
		check: wantPhones("13800138000", "4008001234", "01065529988", "13900139000")},
	{file: "numbers.txt", vendors: []string{registry.FlashAI}, accepted: []int64{1, 14, 19},
		rejects: map[int64]string{
			2: letters, 3: letters, 4: "has an extension", 5: letters, 6: invalidNum, 7: invalidNum, 8: invalidNum,
			9: "too long to be a phone number", 10: "a US number", 11: "a GB number", 12: "a HK number",
			13: "flashai takes 11- or 12-digit numbers only", 15: invalidNum, 16: invalidNum, 17: "not a phone number", 18: letters,
		}},
	// NXCloud dials abroad: other countries' numbers are accepted with their code.
	{file: "numbers.txt", vendors: []string{registry.NXCloud}, accepted: []int64{1, 10, 11, 12, 13, 14, 19},
		rejects: map[int64]string{
			2: letters, 3: letters, 4: "has an extension", 5: letters, 6: invalidNum, 7: invalidNum, 8: invalidNum,
			9: "too long to be a phone number", 15: invalidNum, 16: invalidNum, 17: "not a phone number", 18: letters,
		},
		check: wantPhones("8613800138000", "12125550100", "442079460958", "85251234567", "864008001234", "861065529988", "8613900139000")},
	{file: "duplicates.txt", vendors: allVendors, accepted: []int64{1, 6},
		rejects: map[int64]string{
			2: "duplicate of line 1", 3: "duplicate of line 1", 4: "duplicate of line 1", 5: "duplicate of line 1",
			7: "duplicate of line 6", 8: "duplicate of line 6",
		}},
	{file: "jsonl_bad.jsonl", vendors: allVendors, accepted: []int64{1, 2, 11}, rejects: jsonlBadRejects},
	{file: "jsonl_bad.jsonl", vendors: []string{registry.FlashAI}, accepted: []int64{1, 2, 11}, rejects: jsonlBadRejects,
		check: wantFields(map[int64]chunking.Record{1: {Name: "Li"}, 2: {}, 11: {Params: []string{"a", "b"}}})},

	// Validation is the cost of a big input (and no vendor changes how it breaks off).
	{file: "truncated.txt.gz", vendors: []string{registry.Yccall}, inputErr: "unexpected EOF"},
	{file: "gzip_header_only.gz", vendors: allVendors, inputErr: "gzip"},
	{file: "gzip_bad_crc.gz", vendors: allVendors, inputErr: "gzip: invalid checksum"},

	// Generated.
	{file: "10 MB line", big: true, vendors: allVendors, accepted: []int64{1, 3}, rejects: map[int64]string{2: lineTooLong},
		gen: func() []byte { return []byte("13800138000\n" + strings.Repeat("1", 10<<20) + "\n13900139000\n") }},
	{file: "10 MB line, lone CR", big: true, vendors: allVendors, accepted: []int64{1, 3}, rejects: map[int64]string{2: lineTooLong},
		gen: func() []byte { return []byte("13800138000\r" + strings.Repeat("1", 10<<20) + "\r13900139000") }},
	{file: "10 MB last line", big: true, vendors: allVendors, accepted: []int64{1}, rejects: map[int64]string{2: lineTooLong},
		gen: func() []byte { return []byte("13800138000\n" + strings.Repeat("1", 10<<20)) }},
	{file: "10 MB JSON line", big: true, vendors: allVendors, accepted: []int64{1, 3}, rejects: map[int64]string{2: lineTooLong},
		gen: func() []byte {
			return []byte(`{"phone":"13800138000"}` + "\n" + `{"phone":"13900139000","name":"` + strings.Repeat("n", 10<<20) + `"}` + "\n" + `{"phone":"13700137000"}` + "\n")
		}},
	{file: "10 MB CSV name", big: true, vendors: []string{registry.FlashAI}, accepted: []int64{2, 4},
		rejects: map[int64]string{3: fmt.Sprintf("name is %d characters; flashai takes at most 50", 10<<20)},
		gen: func() []byte {
			return []byte("phone,name\n13800138000,Li\n13900139000," + strings.Repeat("n", 10<<20) + "\n13700137000,Wang\n")
		}},
	{file: "10 MB CSV phone", big: true, vendors: allVendors, accepted: []int64{2, 4},
		rejects: map[int64]string{3: "too long to be a phone number"},
		gen: func() []byte {
			return []byte("phone,name\n13800138000,Li\n" + strings.Repeat("1", 10<<20) + ",Han\n13700137000,Wang\n")
		}},
	// MaxLineBytes is the line without its ending.
	{file: "line of MaxLineBytes", vendors: allVendors, accepted: []int64{1},
		gen: func() []byte { return []byte(strings.Repeat(" ", MaxLineBytes-11) + "13800138000\r\n") }},
	{file: "line of MaxLineBytes+1", vendors: allVendors, rejects: map[int64]string{1: lineTooLong},
		gen: func() []byte { return []byte(strings.Repeat(" ", MaxLineBytes-10) + "13800138000\r\n") }},
	// Outcomes stay in input order across blocks and workers; the first occurrence wins.
	{file: "1500 lone-CR lines, 500 duplicates", big: true, vendors: []string{registry.Yccall, registry.NXCloud}, accepted: lines(1, 1000),
		rejects: func() map[int64]string {
			m := map[int64]string{}
			for l := int64(1001); l <= 1500; l++ {
				m[l] = fmt.Sprintf("duplicate of line %d", l-1000)
			}
			return m
		}(),
		gen: func() []byte {
			var b bytes.Buffer
			for i := range 1500 {
				fmt.Fprintf(&b, "1380013%04d\r", i%1000)
			}
			return b.Bytes()
		}},
}

// orderSink records every outcome's line in the order the sink saw them.
type orderSink struct {
	memSink
	order []int64
}

func (s *orderSink) Accept(r chunking.Record) error {
	s.order = append(s.order, r.Line)
	return s.memSink.Accept(r)
}

func (s *orderSink) Reject(r Reject) error {
	s.order = append(s.order, r.Line)
	return s.memSink.Reject(r)
}

type outcome struct {
	format Format
	sink   *orderSink
	counts Counts
	err    error
}

// ingestWithin runs Open and Run over r for vendor, failing t if they take longer
// than d: no input may hang the reader.
func ingestWithin(t *testing.T, d time.Duration, r io.Reader, f Format, vendor string) outcome {
	t.Helper()
	done := make(chan outcome, 1)
	if f == "" {
		f = Auto
	}
	go func() {
		src, err := Open(r, f)
		if err != nil {
			done <- outcome{err: err}
			return
		}
		sink := &orderSink{}
		c, err := Run(context.Background(), src, Options{Vendor: vendor, Region: "CN", Workers: 3}, sink)
		done <- outcome{format: src.Format, sink: sink, counts: c, err: err}
	}()
	select {
	case o := <-done:
		return o
	case <-time.After(d):
		t.Fatalf("no outcome after %s: the reader hangs", d)
		return outcome{}
	}
}

// checkInvariants holds for every outcome, good input or bad.
func checkInvariants(t *testing.T, o outcome) {
	t.Helper()
	if o.sink == nil {
		return
	}
	c := o.counts
	if c.Read != c.Accepted+c.Rejected {
		t.Errorf("counts %+v: read != accepted + rejected", c)
	}
	if int64(len(o.sink.accepted)) != c.Accepted || int64(len(o.sink.rejected)) != c.Rejected {
		t.Errorf("sink saw %d accepted, %d rejected; counts %+v", len(o.sink.accepted), len(o.sink.rejected), c)
	}
	dups := int64(0)
	for _, r := range o.sink.rejected {
		if r.Line < 1 || r.Reason == "" {
			t.Errorf("reject %+v: want a line >= 1 and a reason", r)
		}
		if strings.HasPrefix(r.Reason, "duplicate of line ") {
			dups++
		}
	}
	if dups != c.Duplicates {
		t.Errorf("%d duplicate rejects; counts say %d", dups, c.Duplicates)
	}
	for _, r := range o.sink.accepted {
		if r.Line < 1 || r.Phone == "" {
			t.Errorf("accepted %+v: want a line >= 1 and a phone", r)
		}
	}
	// Input order: every row starts on a later line than the one before.
	for i := 1; i < len(o.sink.order); i++ {
		if o.sink.order[i] <= o.sink.order[i-1] {
			t.Errorf("outcome %d on line %d after line %d: not in input order", i, o.sink.order[i], o.sink.order[i-1])
			break
		}
	}
}

func TestCorpus(t *testing.T) {
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		// One byte a read puts every CR at the end of a buffer, its LF in the next.
		{"onebyte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"dataerr", iotest.DataErrReader},
	}
	for _, tc := range corpus {
		var input []byte
		if tc.gen != nil {
			input = tc.gen()
		} else {
			var err error
			if input, err = os.ReadFile(filepath.Join(corpusDir, tc.file)); err != nil {
				t.Fatal(err)
			}
		}
		for _, vendor := range tc.vendors {
			for _, rd := range readers {
				if tc.big && rd.name != "whole" {
					continue
				}
				t.Run(tc.file+"/"+vendor+"/"+rd.name, func(t *testing.T) {
					o := ingestWithin(t, time.Minute, rd.wrap(bytes.NewReader(input)), tc.format, vendor)
					checkInvariants(t, o)
					if tc.inputErr != "" {
						var ie *InputError
						if !errors.As(o.err, &ie) || !strings.Contains(o.err.Error(), tc.inputErr) {
							t.Fatalf("err = %v; want an *InputError containing %q", o.err, tc.inputErr)
						}
						return
					}
					if o.err != nil {
						t.Fatalf("err = %v", o.err)
					}
					got := map[int64]string{}
					for _, r := range o.sink.rejected {
						got[r.Line] = r.Reason
					}
					for line, want := range tc.rejects {
						if reason, ok := got[line]; !ok {
							t.Errorf("line %d accepted or dropped; want rejected: %q", line, want)
						} else if !strings.Contains(reason, want) {
							t.Errorf("line %d rejected for %q; want %q", line, reason, want)
						}
					}
					for line, reason := range got {
						if _, ok := tc.rejects[line]; !ok {
							t.Errorf("line %d rejected for %q; want accepted", line, reason)
						}
					}
					var acc []int64
					for _, r := range o.sink.accepted {
						acc = append(acc, r.Line)
					}
					if diff := cmp.Diff(tc.accepted, acc); diff != "" {
						t.Errorf("accepted lines (-want +got):\n%s", diff)
					}
					if tc.check != nil {
						tc.check(t, o.sink.accepted)
					}
				})
			}
		}
	}
}

// TestCorpusCovered keeps the corpus and its expectations together.
func TestCorpusCovered(t *testing.T) {
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "README.md" {
			continue
		}
		if !slices.ContainsFunc(corpus, func(c corpusCase) bool { return c.file == e.Name() && c.gen == nil }) {
			t.Errorf("%s has no expected outcome in corpus", e.Name())
		}
	}
}

// failOnce returns its data, then err once, then EOF: a reader whose error is easy
// to lose, since bufio.Reader hands a read error out only once.
type failOnce struct {
	data   []byte
	err    error
	failed bool
}

func (f *failOnce) Read(p []byte) (int, error) {
	if len(f.data) > 0 {
		n := copy(p, f.data)
		f.data = f.data[n:]
		return n, nil
	}
	if !f.failed {
		f.failed = true
		return 0, f.err
	}
	return 0, io.EOF
}

// An I/O error must refuse the input even where the reader looks one byte ahead
// (past a lone CR for its LF): otherwise the list would be taken as complete.
func TestReadErrorNotLost(t *testing.T) {
	errDisk := errors.New("disk on fire")
	tests := []struct {
		name  string
		input string
		f     Format
	}{
		{"lines after lone CR", "13800138000\r", Lines},
		{"lines after LF", "13800138000\n", Lines},
		{"lines mid-line", "1380013", Lines},
		{"jsonl after lone CR", `{"phone":"13800138000"}` + "\r", JSONL},
		{"csv after lone CR", "phone\r13800138000\r", CSV},
		{"csv mid-row", "phone\r1380013", CSV},
		{"csv header", "phone", CSV},
		{"auto after lone CR", "13800138000\r13900139000\r", Auto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, wrap := range []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }, iotest.OneByteReader} {
				o := ingestWithin(t, time.Minute, wrap(&failOnce{data: []byte(tt.input), err: errDisk}), tt.f, registry.Yccall)
				checkInvariants(t, o)
				var ie *InputError
				if !errors.As(o.err, &ie) || !errors.Is(o.err, errDisk) {
					t.Errorf("err = %v; want an *InputError wrapping the read error", o.err)
				}
			}
		})
	}
}

// stuck returns nothing, forever.
type stuck struct{}

func (stuck) Read([]byte) (int, error) { return 0, nil }

func TestReaderWithoutProgress(t *testing.T) {
	for _, f := range []Format{Auto, Lines, CSV, JSONL} {
		o := ingestWithin(t, time.Minute, stuck{}, f, registry.Yccall)
		var ie *InputError
		if !errors.As(o.err, &ie) || !errors.Is(o.err, io.ErrNoProgress) {
			t.Errorf("%s: err = %v; want an *InputError for no progress", f, o.err)
		}
	}
}

// The CSV reader's positions are valid only after a successful read; a bare quote
// on the first data row used to panic the whole process.
func TestCSVParseErrorFirstRow(t *testing.T) {
	for _, input := range []string{"phone\n1\"3\n", "phone,name\n\"138\"x,Li\n13800138000,Li\n", "phone\n\"13800138000"} {
		o := ingestWithin(t, time.Minute, strings.NewReader(input), CSV, registry.Yccall)
		checkInvariants(t, o)
		if o.err != nil || o.counts.Rejected != 1 || o.sink.rejected[0].Line != 2 || !strings.HasPrefix(o.sink.rejected[0].Reason, "csv: ") {
			t.Errorf("%q: %+v, %v; want one csv reject on line 2", input, o.sink, o.err)
		}
	}
}

func TestDetectLoneCR(t *testing.T) {
	for input, want := range map[string]Format{
		"phone\r13800138000\r":         CSV,
		"13800138000\r13900139000\r":   Lines,
		"\r\r{\"phone\":\"1\"}\r":      JSONL,
		"phone,name\r13800138000,Li\r": CSV,
	} {
		src, err := Open(strings.NewReader(input), Auto)
		if err != nil || src.Format != want {
			t.Errorf("Open(%q) format = %v, %v; want %s", input, src, err, want)
		}
	}
}
