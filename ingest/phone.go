package ingest

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	"github.com/dialq/dialq/chunking"
)

// Normaliser validates numbers with libphonenumber and writes them in the form a
// vendor expects: NXCloud takes the country code and no '+'; Yccall, speech and
// FlashAI dial national numbers of one region (sheet §1-4).
type Normaliser struct {
	region   string
	vendor   string
	national bool
}

// NewNormaliser returns a Normaliser for vendor; region (ISO-2, e.g. CN) is assumed
// for numbers written without a country code.
func NewNormaliser(vendor, region string) (*Normaliser, error) {
	region = strings.ToUpper(region)
	if phonenumbers.GetCountryCodeForRegion(region) == 0 {
		return nil, fmt.Errorf("region %q: not a region libphonenumber knows", region)
	}
	if _, err := chunking.DefaultProfile(vendor); err != nil {
		return nil, err
	}
	return &Normaliser{region: region, vendor: vendor, national: vendor != chunking.NXCloud}, nil
}

// Normalise returns the number's key (its E.164 digits, for dedup) and its vendor
// form, or the reason it is rejected.
func (n *Normaliser) Normalise(raw string) (key uint64, phone string, reason string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return 0, "", "empty phone"
	}
	for _, r := range raw {
		if unicode.IsLetter(r) {
			return 0, "", "contains letters (extensions and vanity numbers are not dialable)"
		}
	}
	num, err := phonenumbers.Parse(raw, n.region)
	if err != nil {
		return 0, "", "not a phone number: " + strings.ToLower(err.Error())
	}
	if num.GetExtension() != "" {
		return 0, "", "has an extension"
	}
	if !phonenumbers.IsValidNumber(num) {
		return 0, "", "not a valid number for its region"
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	key, err = strconv.ParseUint(e164[1:], 10, 64)
	if err != nil {
		return 0, "", "not a phone number"
	}
	if !n.national {
		return key, e164[1:], ""
	}
	if region := phonenumbers.GetRegionCodeForNumber(num); region != n.region {
		return 0, "", fmt.Sprintf("a %s number: %s dials %s numbers only", region, n.vendor, n.region)
	}
	phone = digitsOnly(phonenumbers.Format(num, phonenumbers.NATIONAL))
	if n.vendor == chunking.FlashAI && (len(phone) < 11 || len(phone) > 12) {
		return 0, "", "flashai takes 11- or 12-digit numbers only"
	}
	return key, phone, ""
}

func digitsOnly(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b = append(b, s[i])
		}
	}
	return string(b)
}
