package ingest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	"github.com/dialq/dialq/internal/csvcell"
	"github.com/dialq/dialq/phonenum"
	"github.com/dialq/dialq/vendors/registry"
)

// ValidatorEnv names the environment variable that selects the number validator:
// "libphonenumber" validates every number with libphonenumber alone (the path
// before the compiled validator, for comparisons); anything else, or unset, uses
// the compiled validator (package phonenum) and libphonenumber for what it leaves.
const ValidatorEnv = "DIALQ_PHONE_VALIDATOR"

// Normaliser validates numbers with libphonenumber's rules and writes them in the
// form a vendor expects: NXCloud takes the country code and no '+'; Yccall, speech
// and FlashAI dial national numbers of one region (sheet §1-4). The compiled
// validator (package phonenum) decides the common spellings; libphonenumber itself
// the rest, with the same results.
type Normaliser struct {
	region   string
	vendor   string
	national bool
	// prefixes caches national prefixes by prefixKey; shared by the validating
	// goroutines.
	prefixes sync.Map
	// fast decides the common spellings without libphonenumber; nil when
	// ValidatorEnv asks for libphonenumber alone.
	fast *phonenum.Validator
}

// NewNormaliser returns a Normaliser for vendor; region (ISO-2, e.g. CN) is assumed
// for numbers written without a country code.
func NewNormaliser(vendor, region string) (*Normaliser, error) {
	region = strings.ToUpper(region)
	if phonenumbers.GetCountryCodeForRegion(region) == 0 {
		return nil, fmt.Errorf("region %q: not a region libphonenumber knows", region)
	}
	v, err := registry.Get(vendor)
	if err != nil {
		return nil, err
	}
	n := &Normaliser{region: region, vendor: vendor, national: !v.International}
	if os.Getenv(ValidatorEnv) != "libphonenumber" {
		fast, err := phonenum.New(region)
		if err != nil {
			return nil, fmt.Errorf("compiled validator: %w", err)
		}
		n.fast = fast
	}
	return n, nil
}

// Normalise returns the number's key (its E.164 digits, for dedup) and its vendor
// form, or the reason it is rejected.
func (n *Normaliser) Normalise(raw string) (key uint64, phone string, reason string) {
	// A number from a CSV dialq wrote (failures, -rejects) carries the ' that
	// keeps spreadsheets from evaluating it.
	raw = csvcell.Unquote(strings.TrimSpace(raw))
	if raw == "" {
		return 0, "", "empty phone"
	}
	if n.fast != nil {
		if key, phone, reason, ok := n.normaliseFast(raw); ok {
			return key, phone, reason
		}
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
	// E.164 without the '+' is the country code and the national significant
	// number; built directly, it costs nothing next to Format.
	cc := strconv.Itoa(int(num.GetCountryCode()))
	nsn := phonenumbers.GetNationalSignificantNumber(num)
	key, err = strconv.ParseUint(cc+nsn, 10, 64)
	if err != nil {
		return 0, "", "not a phone number"
	}
	if !n.national {
		return key, cc + nsn, ""
	}
	if region := phonenumbers.GetRegionCodeForNumber(num); region != n.region {
		return 0, "", fmt.Sprintf("a %s number: %s dials %s numbers only", region, n.vendor, n.region)
	}
	phone = n.nationalForm(num, nsn)
	if n.vendor == registry.FlashAI && (len(phone) < 11 || len(phone) > 12) {
		return 0, "", "flashai takes 11- or 12-digit numbers only"
	}
	return key, phone, ""
}

// normaliseFast is Normalise by the compiled validator: the same key, vendor form and
// reasons, or ok false when libphonenumber must decide. The one allocation is
// the vendor form's string.
func (n *Normaliser) normaliseFast(raw string) (key uint64, phone, reason string, ok bool) {
	var num phonenum.Number
	switch n.fast.Parse(raw, &num) {
	case phonenum.Invalid:
		return 0, "", "not a valid number for its region", true
	case phonenum.NotANumber:
		return 0, "", "not a phone number: " + strings.ToLower(num.Err.Error()), true
	case phonenum.Valid:
	default:
		return 0, "", "", false
	}
	key, ok = num.Key()
	if !ok {
		return 0, "", "", false
	}
	var buf [24]byte
	if !n.national {
		return key, string(num.AppendE164(buf[:0])), "", true
	}
	if num.Region != n.region {
		return 0, "", fmt.Sprintf("a %s number: %s dials %s numbers only", num.Region, n.vendor, n.region), true
	}
	national, ok := num.AppendNational(buf[:0])
	if !ok {
		return 0, "", "", false
	}
	if n.vendor == registry.FlashAI && (len(national) < 11 || len(national) > 12) {
		return 0, "", "flashai takes 11- or 12-digit numbers only", true
	}
	return key, string(national), "", true
}

// nationalForm returns the digits a national call dials: the national prefix (CN:
// "0" for landlines, nothing for mobiles) and the national significant number, as
// Format(NATIONAL) writes them. Format matches the region's formatting patterns
// with regular expressions, a third of the cost of a number; the prefix depends
// only on the number's leading digits and length, so it is cached by those.
func (n *Normaliser) nationalForm(num *phonenumbers.PhoneNumber, nsn string) string {
	key := prefixKey{cc: num.GetCountryCode(), lead: nsn[:min(len(nsn), prefixLeadDigits)], length: len(nsn)}
	if p, ok := n.prefixes.Load(key); ok {
		return p.(string) + nsn
	}
	national := digitsOnly(phonenumbers.Format(num, phonenumbers.NATIONAL))
	if p, ok := strings.CutSuffix(national, nsn); ok {
		n.prefixes.Store(key, p)
	}
	return national
}

// prefixLeadDigits is how many leading digits select a formatting pattern; the
// metadata's leading-digit patterns for CN and most regions are shorter.
const prefixLeadDigits = 6

type prefixKey struct {
	cc     int32
	lead   string
	length int
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
