package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

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
