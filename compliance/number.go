package compliance

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"

	"github.com/dialq/dialq/vendors/registry"
)

// A number is kept as its E.164 digits read as an integer (country code and
// national significant number): at most 15 digits, so below 10^15 < 2^50.
const numberBits = 50

// ErrNumber is a string that is not an E.164 number.
var ErrNumber = errors.New("not an E.164 number (country code and number, '+' optional)")

// ParseE164 reads "+8613800138000" or "8613800138000" (spaces, dashes and
// parentheses allowed) as the number's key. It checks the shape only (8-15 digits,
// no leading zero); validation against numbering plans is ingest's job.
func ParseE164(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "+")
	var n uint64
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 0 && c == '0' {
				return 0, ErrNumber
			}
			n = n*10 + uint64(c-'0')
			digits++
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '.':
		default:
			return 0, ErrNumber
		}
	}
	if digits < 7 || digits > 15 {
		return 0, ErrNumber
	}
	return n, nil
}

// FormatE164 writes a key as "+<digits>".
func FormatE164(n uint64) string { return "+" + strconv.FormatUint(n, 10) }

// Converter turns a vendor-form number (what a part's records carry: NXCloud country
// code and number, the others national numbers of one region) into its key, without
// libphonenumber's cost on every number: the national prefix to strip depends only on
// the leading digits and the length, so it is learned once per pattern (the inverse
// of ingest's national form cache).
type Converter struct {
	region   string
	cc       string
	national bool
	strip    sync.Map // prefixKey -> int (digits to strip)
}

type prefixKey struct {
	lead   string
	length int
}

const leadDigits = 6

// NewConverter returns a Converter for numbers written as vendor writes them for region.
func NewConverter(vendor, region string) (*Converter, error) {
	region = strings.ToUpper(region)
	cc := phonenumbers.GetCountryCodeForRegion(region)
	if cc == 0 {
		return nil, errors.New("region " + strconv.Quote(region) + ": not a region libphonenumber knows")
	}
	v, err := registry.Get(vendor)
	if err != nil {
		return nil, err
	}
	return &Converter{region: region, cc: strconv.Itoa(cc), national: !v.International}, nil
}

// Key returns the E.164 key of phone in the converter's vendor form.
func (c *Converter) Key(phone string) (uint64, error) {
	if !c.national || strings.HasPrefix(phone, "+") {
		return ParseE164(phone)
	}
	if len(phone) == 0 {
		return 0, ErrNumber
	}
	k := prefixKey{lead: phone[:min(len(phone), leadDigits)], length: len(phone)}
	if n, ok := c.strip.Load(k); ok {
		return ParseE164(c.cc + phone[n.(int):])
	}
	num, err := phonenumbers.Parse(phone, c.region)
	if err != nil {
		return 0, ErrNumber
	}
	nsn := phonenumbers.GetNationalSignificantNumber(num)
	if p, ok := strings.CutSuffix(phone, nsn); ok && int(num.GetCountryCode()) == atoi(c.cc) {
		c.strip.Store(k, len(p))
	}
	return ParseE164(strconv.Itoa(int(num.GetCountryCode())) + nsn)
}

// E164 returns phone (in the converter's vendor form) as "+<digits>".
func (c *Converter) E164(phone string) (string, error) {
	n, err := c.Key(phone)
	if err != nil {
		return "", err
	}
	return FormatE164(n), nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// Zones are the number's time zones as libphonenumber maps them (nil when unknown).
func Zones(n uint64) []string {
	num, err := phonenumbers.Parse(FormatE164(n), "")
	if err != nil {
		return nil
	}
	zs, err := phonenumbers.GetTimezonesForNumber(num)
	if err != nil {
		return nil
	}
	return zs
}

// mix is a bijection of [0, 2^50): it spreads numbers that share their last digits
// (or are consecutive) evenly over the buckets, and keeps every bit of the number, so
// the bucket and the field together give it back (unmix).
func mix(x uint64) uint64 {
	x = (x * mulA) & mask50
	x ^= x >> 25
	x = (x * mulB) & mask50
	x ^= x >> 27
	return x
}

func unmix(x uint64) uint64 {
	x ^= x >> 27 // a shift of at least half the width is its own inverse
	x = (x * invB) & mask50
	x ^= x >> 25
	x = (x * invA) & mask50
	return x
}

const (
	mask50 = 1<<numberBits - 1
	mulA   = 0x2545f4914f6cdd1d & mask50
	mulB   = 0x9e3779b97f4a7c15 & mask50
)

var (
	invA = inverse(mulA)
	invB = inverse(mulB)
)

// inverse is the multiplicative inverse of odd a modulo 2^50 (Newton's iteration).
func inverse(a uint64) uint64 {
	x := a
	for range 6 {
		x *= 2 - a*x
	}
	return x & mask50
}
