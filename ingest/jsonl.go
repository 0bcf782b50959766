package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
)

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
