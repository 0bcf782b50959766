package chunking

import (
	"fmt"
	"strings"
)

// FlashAI's mobileList separators (sheet §4).
const (
	recordSep = "|"
	fieldSep  = "^"
	paramSep  = "-"
)

// FieldError names the field of a record that cannot be encoded, and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// ValidateMobileRecord reports the first value of r that would corrupt a mobileList:
// '^' or '|' anywhere, '-' or '~' inside a call parameter. Such input is refused,
// never mangled, so that what the vendor dials is exactly what the list said.
func ValidateMobileRecord(r Record) error {
	fields := []struct{ name, value string }{
		{"phone", r.Phone}, {"attach", r.Attach}, {"name", r.Name}, {"company", r.Company},
	}
	for _, f := range fields {
		if err := checkSeparators(f.name, f.value); err != nil {
			return err
		}
	}
	if r.Phone == "" {
		return &FieldError{Field: "phone", Reason: "empty"}
	}
	for i, p := range r.Params {
		name := fmt.Sprintf("param%d", i+1)
		if err := checkSeparators(name, p); err != nil {
			return err
		}
		if strings.ContainsAny(p, "-~") {
			return &FieldError{Field: name, Reason: "contains '-' or '~', which separate call parameters"}
		}
	}
	return nil
}

func checkSeparators(field, v string) error {
	if strings.ContainsAny(v, "^|") {
		return &FieldError{Field: field, Reason: "contains '^' or '|', which separate mobileList fields and records"}
	}
	if strings.ContainsAny(v, "\r\n") {
		return &FieldError{Field: field, Reason: "contains a line break"}
	}
	return nil
}

// EncodeMobileList encodes recs as `phone^attach^params^custName^custCompany`
// records joined by '|', params joined by '-'.
func EncodeMobileList(recs []Record) (string, error) {
	var b strings.Builder
	for i, r := range recs {
		if err := ValidateMobileRecord(r); err != nil {
			return "", fmt.Errorf("record %d (line %d): %w", i, r.Line, err)
		}
		if i > 0 {
			b.WriteString(recordSep)
		}
		b.WriteString(r.Phone)
		b.WriteString(fieldSep)
		b.WriteString(r.Attach)
		b.WriteString(fieldSep)
		b.WriteString(strings.Join(r.Params, paramSep))
		b.WriteString(fieldSep)
		b.WriteString(r.Name)
		b.WriteString(fieldSep)
		b.WriteString(r.Company)
	}
	return b.String(), nil
}

// DecodeMobileList parses a mobileList back into records (Line is left zero). Trailing
// empty fields may be omitted, as the vendor's own examples do.
func DecodeMobileList(s string) ([]Record, error) {
	if s == "" {
		return nil, nil
	}
	items := strings.Split(s, recordSep)
	out := make([]Record, 0, len(items))
	for i, item := range items {
		f := strings.Split(item, fieldSep)
		if len(f) > 5 {
			return nil, fmt.Errorf("record %d: %d fields, want at most 5", i, len(f))
		}
		f = append(f, make([]string, 5-len(f))...)
		r := Record{Phone: f[0], Attach: f[1], Name: f[3], Company: f[4]}
		if f[2] != "" {
			r.Params = strings.Split(f[2], paramSep)
		}
		if r.Phone == "" {
			return nil, fmt.Errorf("record %d: empty phone", i)
		}
		out = append(out, r)
	}
	return out, nil
}
