package ingest

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/vendors/registry"
)

// checkFields reports why rec cannot go to vendor, dropping fields the vendor has no
// place for. The bounds are the vendor's registry entry's Fields.
func checkFields(vendor string, rec *chunking.Record) string {
	v, _ := registry.Lookup(vendor)
	l := v.Fields
	checks := []struct {
		field string
		v     *string
		max   int
	}{
		{"name", &rec.Name, l.Name},
		{"customer_id", &rec.CustomerID, l.CustomerID},
		{"attach", &rec.Attach, l.Attach},
		{"company", &rec.Company, l.Company},
	}
	for _, c := range checks {
		if c.max == 0 {
			*c.v = ""
			continue
		}
		if n := utf8.RuneCountInString(*c.v); n > c.max {
			return fmt.Sprintf("%s is %d characters; %s takes at most %d", c.field, n, vendor, c.max)
		}
	}
	if l.Params == 0 {
		rec.Params = nil
	} else if len(rec.Params) > l.Params {
		return fmt.Sprintf("%d call parameters; %s takes at most %d", len(rec.Params), vendor, l.Params)
	}
	for i, p := range rec.Params {
		if n := utf8.RuneCountInString(p); n > l.Param {
			return fmt.Sprintf("param%d is %d characters; %s takes at most %d", i+1, n, vendor, l.Param)
		}
	}
	if vendor == registry.FlashAI {
		if err := chunking.ValidateMobileRecord(*rec); err != nil {
			var fe *chunking.FieldError
			if errors.As(err, &fe) {
				return fe.Field + " " + fe.Reason
			}
			return err.Error()
		}
	}
	return ""
}
