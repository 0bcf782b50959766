package ingest

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/dialq/dialq/chunking"
)

// fieldLimit is the most characters a vendor field takes; 0 means the field is not
// sent to that vendor and is dropped.
type fieldLimits struct {
	name, customerID, attach, company, param, params int
}

// limits maps each column to its vendor field (README "Column mapping") and bounds it
// as the contract sheet says; where the sheet is silent we bound at what the
// vendor's examples suggest, so an over-long value is refused here, not by the vendor.
var limits = map[string]fieldLimits{
	// other ← attach; name, customer id, company and params have no NXCloud field.
	chunking.NXCloud: {attach: 255},
	// userid ← customer_id; memberid ← attach.
	chunking.Yccall: {customerID: 64, attach: 64},
	// name ≤ 20, externalCustomerId ≤ 64, externalData ≤ 40 (sheet §3); desc ← company.
	chunking.Speech: {name: 20, customerID: 64, attach: 40, company: 200},
	// mobileList: phone^attach^p1-p2-p3^custName^custCompany.
	chunking.FlashAI: {name: 50, attach: 100, company: 100, param: 100, params: 10},
}

// checkFields reports why rec cannot go to vendor, dropping fields the vendor has no
// place for.
func checkFields(vendor string, rec *chunking.Record) string {
	l := limits[vendor]
	checks := []struct {
		field string
		v     *string
		max   int
	}{
		{"name", &rec.Name, l.name},
		{"customer_id", &rec.CustomerID, l.customerID},
		{"attach", &rec.Attach, l.attach},
		{"company", &rec.Company, l.company},
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
	if l.params == 0 {
		rec.Params = nil
	} else if len(rec.Params) > l.params {
		return fmt.Sprintf("%d call parameters; %s takes at most %d", len(rec.Params), vendor, l.params)
	}
	for i, p := range rec.Params {
		if n := utf8.RuneCountInString(p); n > l.param {
			return fmt.Sprintf("param%d is %d characters; %s takes at most %d", i+1, n, vendor, l.param)
		}
	}
	if vendor == chunking.FlashAI {
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
