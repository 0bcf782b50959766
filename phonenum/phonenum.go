// Package phonenum validates phone numbers as libphonenumber does, without regular
// expressions: github.com/nyaruka/phonenumbers' own metadata (the version linked
// in, read at start-up) is compiled into automata over the digits 0-9, and a
// number is parsed, validated and formatted (E.164 digits, national digits) by
// walking its digits once per automaton, with no allocation.
//
// It takes the common spellings only: digits with spaces, dots, dashes and
// parentheses, an optional leading '+'. For anything else, or whenever a step
// of libphonenumber's parse is one it cannot reproduce exactly (a national
// prefix transform rule, an ambiguous prefix, a parse error), Parse answers
// Unknown and the caller asks libphonenumber: the verdicts it does give are
// libphonenumber's, as the differential tests in this package check.
package phonenum

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Status is Parse's verdict.
type Status uint8

const (
	// Unknown: ask libphonenumber (Parse, IsValidNumber, Format).
	Unknown Status = iota
	// Valid: phonenumbers.Parse succeeds and IsValidNumber is true.
	Valid
	// Invalid: phonenumbers.Parse succeeds and IsValidNumber is false.
	Invalid
	// NotANumber: phonenumbers.Parse fails with the error in Number.Err.
	NotANumber
)

func (s Status) String() string {
	switch s {
	case Valid:
		return "valid"
	case Invalid:
		return "invalid"
	case NotANumber:
		return "not a number"
	}
	return "unknown"
}

// Number is a parsed number. Its fields are meaningful when Parse said Valid.
type Number struct {
	// CountryCode is the calling code (86).
	CountryCode int32
	// Region is GetRegionCodeForNumber: ISO-2, or "001" for non-geographic codes.
	Region string
	// Err is phonenumbers.Parse's error when Parse said NotANumber.
	Err    error
	nsn    [maxNSN]byte
	nsnLen uint8
	// nationalPrefix is what Format(NATIONAL) writes before the national
	// significant number, digits only; nationalOK is false when that is not
	// known (AppendNational then reports false).
	nationalPrefix string
	nationalOK     bool
}

// NSN appends the national significant number's digits to dst.
func (n *Number) NSN(dst []byte) []byte { return append(dst, n.nsn[:n.nsnLen]...) }

// AppendE164 appends the E.164 form without '+': calling code and national
// significant number.
func (n *Number) AppendE164(dst []byte) []byte {
	dst = appendInt(dst, int(n.CountryCode))
	return append(dst, n.nsn[:n.nsnLen]...)
}

// AppendNational appends the digits of Format(NATIONAL): the national prefix where
// the region's format puts one (CN landlines: "0"), then the national significant
// number. ok is false when the compiled formats cannot tell; ask libphonenumber.
func (n *Number) AppendNational(dst []byte) (out []byte, ok bool) {
	if !n.nationalOK {
		return dst, false
	}
	dst = append(dst, n.nationalPrefix...)
	return append(dst, n.nsn[:n.nsnLen]...), true
}

// Key is the E.164 digits as an integer; ok is false when they overflow uint64.
func (n *Number) Key() (key uint64, ok bool) {
	var digits [24]byte
	for _, c := range n.AppendE164(digits[:0]) {
		d := uint64(c - '0')
		if key > (^uint64(0)-d)/10 {
			return 0, false
		}
		key = key*10 + d
	}
	return key, true
}

func appendInt(dst []byte, v int) []byte {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

// Validator parses numbers written without a country code as numbers of one
// region, as phonenumbers.Parse(raw, region) does. It is safe for concurrent use.
type Validator struct {
	t      *tables
	region *territory
}

// New returns a Validator for region (ISO-2, e.g. CN). The first call compiles the
// metadata of every region (a fraction of a second).
func New(region string) (*Validator, error) {
	t, err := load()
	if err != nil {
		return nil, err
	}
	ter := t.regions[strings.ToUpper(region)]
	if ter == nil || !phonenumbers.GetSupportedRegions()[strings.ToUpper(region)] {
		return nil, fmt.Errorf("region %q: not a region libphonenumber knows", region)
	}
	if !ter.ready() {
		return nil, ter.err
	}
	return &Validator{t: t, region: ter}, nil
}

// maxInput is libphonenumber's MAX_INPUT_STRING_LENGTH.
const maxInput = phonenumbers.MAX_INPUT_STRING_LENGTH

// Parse reads raw (surrounding white space already trimmed) into num and says
// whether libphonenumber finds it a valid number, an invalid one, not a number
// (num.Err is Parse's error), or Unknown: raw is not a spelling this package
// reads, or a step needs libphonenumber itself.
func (v *Validator) Parse(raw string, num *Number) Status {
	var buf [maxInput]byte
	digits, plus, ok := tokenize(raw, buf[:0])
	if !ok {
		return Unknown
	}
	return v.parseDigits(digits, plus, num)
}

// tokenize accepts digits separated by spaces, dots, dashes and parentheses, with
// at most one '+' before the first digit (as in "+86 138…" and "(+86)138…"). For
// such text libphonenumber's parse reduces to the digits and whether a '+' leads:
// no extension pattern can match it (they all need a letter, '#', '~', ',' or
// ';'), extractPossibleNumber only drops leading and trailing punctuation, and
// normalisation keeps the ASCII digits.
func tokenize(raw string, buf []byte) (digits []byte, plus, ok bool) {
	if len(raw) > maxInput {
		return nil, false, false
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= '0' && c <= '9':
			buf = append(buf, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		case c == '+' && !plus && len(buf) == 0:
			plus = true
		default:
			return nil, false, false
		}
	}
	// Fewer than three digits is not a viable number (VALID_PHONE_NUMBER), and
	// national significant numbers run to 17 digits after a 3-digit code.
	if len(buf) < 3 || len(buf) > 3+3+maxNSN {
		return nil, false, false
	}
	return buf, plus, true
}

// parseDigits follows parseHelper, maybeExtractCountryCode and IsValidNumber on the
// normalised digits.
func (v *Validator) parseDigits(digits []byte, plus bool, num *Number) Status {
	region := v.region
	// Room for a national number rewritten by a transform rule (it may grow).
	var scratch1, scratch2 [maxNSN + 16]byte
	meta := region // regionMetadata in parseHelper
	cc, national, st := v.countryCode(digits, plus, scratch1[:], num)
	if st != Valid {
		return st
	}
	fromDefault := cc == 0
	if fromDefault {
		cc, national = region.cc, digits
	} else {
		main := v.t.byCC[cc][0]
		if main.id != region.id {
			if !main.ready() {
				return Unknown
			}
			meta = main
		}
	}
	if len(national) < phonenumbers.MIN_LENGTH_FOR_NSN {
		*num = Number{Err: phonenumbers.ErrTooShortNSN}
		return NotANumber
	}
	pot, st := meta.stripNationalPrefix(national, scratch2[:])
	if st == Unknown {
		return Unknown
	}
	switch meta.lengthResult(len(pot)) {
	case tooShort, isPossibleLocalOnly, invalidLength:
	default:
		national = pot
	}
	if len(national) < phonenumbers.MIN_LENGTH_FOR_NSN {
		*num = Number{Err: phonenumbers.ErrTooShortNSN}
		return NotANumber
	}
	if len(national) > maxNSN {
		*num = Number{Err: phonenumbers.ErrNumTooLong}
		return NotANumber
	}
	// The national significant number is these digits: Parse keeps leading zeros
	// (Italian leading zero) so GetNationalSignificantNumber gives them back.
	*num = Number{CountryCode: cc}
	num.nsnLen = uint8(copy(num.nsn[:], national))
	nsn := num.nsn[:num.nsnLen]

	ter, ok := v.t.regionFor(cc, nsn)
	if !ok {
		return Unknown
	}
	if ter == nil || !ter.valid(nsn) {
		return Invalid
	}
	num.Region = ter.id
	main := v.t.byCC[cc][0]
	if !main.ready() {
		return Unknown
	}
	if i := main.formats.choose(nsn); i < 0 {
		num.nationalOK = true // no format: Format gives the number as it is
	} else if main.formats.ok[i] {
		num.nationalPrefix, num.nationalOK = main.formats.prefix[i], true
	}
	return Valid
}

// countryCode is maybeExtractCountryCode, with parseHelper's retry: a '+' followed
// by no known calling code is tried again as if the '+' were not there. cc is 0
// when the number has none (it is the default region's); st is Valid when the
// parse goes on, NotANumber (num.Err set) or Unknown otherwise.
func (v *Validator) countryCode(digits []byte, plus bool, scratch []byte, num *Number) (cc int32, national []byte, st Status) {
	if plus {
		if cc, national, ok := v.t.extractCountryCode(digits); ok {
			return cc, national, Valid
		}
		// ErrInvalidCountryCode: parseHelper strips the '+' and tries again;
		// this time no calling code at all is an error too.
		cc, national, st = v.countryCodeWithoutPlus(digits, scratch, num)
		if st == Valid && cc == 0 {
			*num = Number{Err: phonenumbers.ErrInvalidCountryCode}
			return 0, nil, NotANumber
		}
		return cc, national, st
	}
	return v.countryCodeWithoutPlus(digits, scratch, num)
}

func (v *Validator) countryCodeWithoutPlus(digits []byte, scratch []byte, num *Number) (cc int32, national []byte, st Status) {
	region := v.region
	var caps [maxCaps]int
	matched, st := region.idd.match(digits, &caps)
	if st == Unknown {
		return 0, nil, Unknown
	}
	// parsePrefixAsIdd: an IDD followed by a 0 is not one (no calling code
	// starts with 0).
	if end := caps[1]; matched && (end == len(digits) || digits[end] != '0') {
		cc, national, ok := v.t.extractCountryCode(digits[end:])
		if !ok {
			*num = Number{Err: phonenumbers.ErrInvalidCountryCode}
			if len(digits)-end <= phonenumbers.MIN_LENGTH_FOR_NSN {
				num.Err = phonenumbers.ErrTooShortAfterIDD
			}
			return 0, nil, NotANumber
		}
		return cc, national, Valid
	}
	// A number that starts with the region's calling code loses it when the rest
	// fits the general pattern and the whole does not, or the whole is too long.
	if bytes.HasPrefix(digits, region.ccBytes) {
		pot, st := region.stripNationalPrefix(digits[len(region.ccDigits):], scratch)
		if st == Unknown {
			return 0, nil, Unknown
		}
		fullValid := region.generalMatches(digits)
		if (!fullValid && region.generalMatches(pot)) || region.lengthResult(len(digits)) == tooLong {
			return region.cc, pot, Valid
		}
	}
	return 0, nil, Valid
}

// extractCountryCode takes the calling code off digits that follow a '+' or an
// IDD; ok is false where Parse would fail (too short, unknown code).
func (t *tables) extractCountryCode(full []byte) (cc int32, rest []byte, ok bool) {
	if len(full) <= phonenumbers.MIN_LENGTH_FOR_NSN || full[0] == '0' {
		return 0, nil, false
	}
	for i := 1; i <= 3 && i <= len(full); i++ {
		cc = cc*10 + int32(full[i-1]-'0')
		if len(t.byCC[cc]) > 0 {
			return cc, full[i:], true
		}
	}
	return 0, nil, false
}

// match runs an IDD or national prefix on digits: whether libphonenumber's
// (leftmost-first, anchored) match exists, and its groups; Unknown when only
// libphonenumber can say.
func (p *prefixRule) match(digits []byte, caps *[maxCaps]int) (bool, Status) {
	switch p.kind {
	case prefixNone:
		return false, Valid
	case prefixExact:
		end := p.exact.prefixMatchEnd(digits)
		caps[0], caps[1] = 0, end
		return end >= 0, Valid
	case prefixBacktrack:
		if p.any.accept[p.any.run(digits)]&1 == 0 {
			return false, Valid
		}
		matched, ok := matchPrefix(p.prog, digits, caps)
		if !ok {
			return false, Unknown
		}
		return matched, Valid
	}
	return false, Unknown
}

// stripNationalPrefix is maybeStripNationalPrefixAndCarrierCode: the prefix comes
// off (or is rewritten by the transform rule, into scratch) unless the number fit
// the general pattern and the result does not.
func (t *territory) stripNationalPrefix(number []byte, scratch []byte) ([]byte, Status) {
	if len(number) == 0 {
		return number, Valid
	}
	var caps [maxCaps]int
	matched, st := t.nationalPrefix.match(number, &caps)
	if st == Unknown {
		return nil, Unknown
	}
	if !matched {
		return number, Valid
	}
	viable := t.generalMatches(number)
	// The last group decides: when it took no part there is nothing to transform.
	ncap := 2
	if t.nationalPrefix.prog != nil {
		ncap = t.nationalPrefix.prog.NumCap
	}
	if t.transform == "" || caps[ncap-2] < 0 {
		if viable && !t.generalMatches(number[caps[1]:]) {
			return number, Valid
		}
		return number[caps[1]:], Valid
	}
	out, ok := expand(scratch[:0], t.transform, number, &caps, ncap)
	if !ok || len(out) > cap(scratch) {
		return nil, Unknown
	}
	out = append(out, number[caps[1]:]...)
	if len(out) > cap(scratch) {
		return nil, Unknown
	}
	if viable && !t.generalMatches(out) {
		return number, Valid
	}
	return out, Valid
}

// generalMatches is the general description's pattern alone, without lengths.
func (t *territory) generalMatches(digits []byte) bool {
	return t.types.accept[t.types.run(digits)]&1 != 0
}

func (t *territory) lengthResult(n int) lengthResult {
	if n >= len(t.lengthVerdict) {
		return t.lengthVerdict[len(t.lengthVerdict)-1] // beyond the longest: as long
	}
	return t.lengthVerdict[n]
}

// valid is getNumberTypeHelper(nsn) != UNKNOWN: the general description and any one
// number type match, patterns and possible lengths.
func (t *territory) valid(nsn []byte) bool {
	acc := t.types.accept[t.types.run(nsn)]
	bit := uint32(1) << len(nsn)
	if acc&1 == 0 || t.lengths[0]&bit == 0 {
		return false
	}
	for p := 1; p < len(t.lengths); p++ {
		if acc&(1<<p) != 0 && t.lengths[p]&bit != 0 {
			return true
		}
	}
	return false
}

// regionFor is GetRegionCodeForNumber's territory, or nil; ok is false when a
// territory's metadata did not compile.
func (t *tables) regionFor(cc int32, nsn []byte) (ter *territory, ok bool) {
	ters := t.byCC[cc]
	for _, ter := range ters {
		if !ter.ready() {
			return nil, false
		}
		if len(ters) == 1 {
			return ter, true
		}
		if ter.leading != nil {
			if ter.leading.accept[ter.leading.run(nsn)]&1 != 0 {
				return ter, true
			}
		} else if ter.valid(nsn) {
			return ter, true
		}
	}
	return nil, true
}
