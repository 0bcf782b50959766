package phonenum

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"strconv"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// maxNSN is libphonenumber's longest national significant number.
const maxNSN = phonenumbers.MAX_LENGTH_FOR_NSN

// lengthResult is libphonenumber's testNumberLength verdict.
type lengthResult uint8

const (
	isPossible lengthResult = iota
	isPossibleLocalOnly
	tooShort
	invalidLength
	tooLong
)

// prefixKind says how far a prefix pattern (national prefix for parsing, IDD) is
// compiled.
type prefixKind uint8

const (
	// prefixNone: the metadata has no such prefix; nothing is stripped.
	prefixNone prefixKind = iota
	// prefixExact: its language is prefix-free, so the anchored match, when there
	// is one, ends at the one prefix of the input in the language.
	prefixExact
	// prefixBacktrack: matches may end in more than one place, or a transform
	// rule rewrites them: the automaton tells cheaply whether the pattern matches
	// at all, and a backtracker finds regexp's leftmost-first match and groups
	// when it does.
	prefixBacktrack
	// prefixOpaque: the pattern could not be compiled (an anchor other than $):
	// every number that reaches it goes to libphonenumber.
	prefixOpaque
)

type prefixRule struct {
	kind prefixKind
	// exact matches the pattern's language (prefixExact); any matches any input
	// with a prefix in it (prefixExact and prefixBacktrack).
	exact, any *dfa
	prog       *syntax.Prog // prefixBacktrack
}

// territory is one region's (or non-geographic calling code's) compiled metadata.
type territory struct {
	meta     *phonenumbers.PhoneMetadata
	once     sync.Once
	err      error
	id       string
	cc       int32
	ccDigits string
	ccBytes  []byte
	// types runs the general description (pattern 0) and every number type that
	// makes a number valid (patterns 1..); lengths[p] has bit n set when a
	// national number of n digits may match pattern p.
	types   *dfa
	lengths []uint32
	// lengthVerdict is testNumberLength(number, metadata, UNKNOWN) by length.
	lengthVerdict  [maxNSN + 2]lengthResult
	nationalPrefix prefixRule // national prefix for parsing
	transform      string     // national prefix transform rule
	idd            prefixRule // international dialling prefix
	// leading is the metadata's leadingDigits (which region of a shared calling
	// code a number belongs to), nil when there are none.
	leading *dfa
	formats *formatTable
}

// formatTable chooses the national format as chooseFormattingPatternForNumber does:
// the first format whose last leading-digits pattern matches a prefix and whose
// pattern matches the whole number. Pattern 2i of d is format i's leading digits,
// 2i+1 its pattern.
type formatTable struct {
	d          *dfa
	hasLeading []bool
	// prefix is what Format(NATIONAL) puts before the national significant number,
	// digits only; ok is false when the format is not a plain split of the number
	// into groups, and such numbers go to libphonenumber.
	prefix []string
	ok     []bool
}

// tables is all the compiled metadata.
type tables struct {
	regions map[string]*territory
	// byCC lists, per calling code, the territories in libphonenumber's order
	// (GetRegionCodesForCountryCode); main is the first, whose metadata Parse and
	// Format use for the calling code.
	byCC [1000][]*territory
}

var (
	loadOnce sync.Once
	loaded   *tables
	loadErr  error
)

// load compiles every territory of the metadata linked into this binary, once.
func load() (*tables, error) {
	loadOnce.Do(func() { loaded, loadErr = compileAll() })
	return loaded, loadErr
}

func compileAll() (*tables, error) {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil, fmt.Errorf("phonenumbers metadata: %w", err)
	}
	t := &tables{regions: map[string]*territory{}}
	nonGeo := map[int32]*territory{}
	for _, m := range coll.GetMetadata() {
		ter := &territory{id: m.GetId(), cc: m.GetCountryCode(), ccDigits: strconv.Itoa(int(m.GetCountryCode())), meta: m}
		ter.ccBytes = []byte(ter.ccDigits)
		if ter.id == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
			nonGeo[ter.cc] = ter
		} else {
			t.regions[ter.id] = ter
		}
	}
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		if cc <= 0 || cc >= len(t.byCC) {
			return nil, fmt.Errorf("calling code %d: not 1-3 digits", cc)
		}
		for _, r := range phonenumbers.GetRegionCodesForCountryCode(cc) {
			var ter *territory
			if r == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
				ter = nonGeo[int32(cc)]
			} else {
				ter = t.regions[r]
			}
			if ter == nil {
				return nil, fmt.Errorf("calling code %d: region %s has no metadata", cc, r)
			}
			t.byCC[int32(cc)] = append(t.byCC[int32(cc)], ter)
		}
	}
	return t, nil
}

// ready compiles the territory's automata the first time it is needed (all of
// them take about half a second; a list mostly needs one region). False means
// its metadata did not compile: its numbers go to libphonenumber.
func (ter *territory) ready() bool {
	ter.once.Do(func() { ter.err = ter.compile() })
	return ter.err == nil
}

func (ter *territory) compile() error {
	m := ter.meta
	general := m.GetGeneralDesc()
	if general == nil {
		return errors.New("no general description")
	}
	// The types getNumberTypeHelper tries; any match makes the number valid. When
	// fixed-line and mobile share a pattern, mobile is only consulted through
	// fixed-line, so it adds nothing.
	descs := []*phonenumbers.PhoneNumberDesc{general, m.GetPremiumRate(), m.GetTollFree(), m.GetSharedCost(),
		m.GetVoip(), m.GetPersonalNumber(), m.GetPager(), m.GetUan(), m.GetVoicemail(), m.GetFixedLine()}
	if !m.GetSameMobileAndFixedLinePattern() {
		descs = append(descs, m.GetMobile())
	}
	var pats []pattern
	for _, d := range descs {
		if d == nil {
			// No description: isNumberMatchingDesc never matches; an empty
			// language stands for it.
			pats = append(pats, pattern{re: `[^\x00-\x{10FFFF}]`})
			ter.lengths = append(ter.lengths, 0)
			continue
		}
		pats = append(pats, pattern{re: d.GetNationalNumberPattern()})
		ter.lengths = append(ter.lengths, lengthMask(d.PossibleLength))
	}
	var err error
	if ter.types, err = compileDFA(pats); err != nil {
		return fmt.Errorf("%s number types: %w", ter.id, err)
	}
	for n := range ter.lengthVerdict {
		ter.lengthVerdict[n] = testLength(n, general)
	}
	// A transform rule rewrites the match: only detect it.
	ter.transform = m.GetNationalPrefixTransformRule()
	ter.nationalPrefix = prefixRuleFor(m.GetNationalPrefixForParsing(), ter.transform == "")
	ter.idd = prefixRuleFor(m.GetInternationalPrefix(), true)
	if ld := m.GetLeadingDigits(); ld != "" {
		if ter.leading, err = compileDFA([]pattern{{re: ld, prefix: true}}); err != nil {
			return fmt.Errorf("%s leading digits: %w", ter.id, err)
		}
	}
	if ter.formats, err = compileFormats(m.GetNumberFormat()); err != nil {
		return fmt.Errorf("%s formats: %w", ter.id, err)
	}
	return nil
}

// prefixRule compiles a national or international prefix. exactOK is false when
// a match is transformed (national prefix transform rule): then only detection.
func prefixRuleFor(re string, exactOK bool) prefixRule {
	if re == "" {
		return prefixRule{kind: prefixNone}
	}
	anyDFA, err := compileDFA([]pattern{{re: re, prefix: true}})
	if err != nil {
		return prefixRule{kind: prefixOpaque}
	}
	if exactOK && !strings.Contains(re, "$") { // a match through $ has no end but the input's
		exact, err := compileDFA([]pattern{{re: re}})
		if err == nil && exact.prefixFree() {
			return prefixRule{kind: prefixExact, exact: exact, any: anyDFA}
		}
	}
	// As regexp compiles it, so the backtracker sees regexp's priorities.
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return prefixRule{kind: prefixOpaque}
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return prefixRule{kind: prefixOpaque}
	}
	return prefixRule{kind: prefixBacktrack, any: anyDFA, prog: prog}
}

func lengthMask(lengths []int32) uint32 {
	if len(lengths) == 0 {
		return ^uint32(0) // no list: any length (the general description decides)
	}
	var m uint32
	for _, l := range lengths {
		if l >= 0 && l < 32 {
			m |= 1 << l
		}
	}
	return m
}

// testLength is libphonenumber's testNumberLength for the UNKNOWN type: the general
// description's possible lengths.
func testLength(n int, general *phonenumbers.PhoneNumberDesc) lengthResult {
	possible := general.PossibleLength
	if len(possible) == 0 || possible[0] == -1 {
		return invalidLength
	}
	for _, l := range general.PossibleLengthLocalOnly {
		if int(l) == n {
			return isPossibleLocalOnly
		}
	}
	switch {
	case int(possible[0]) == n:
		return isPossible
	case int(possible[0]) > n:
		return tooShort
	case int(possible[len(possible)-1]) < n:
		return tooLong
	}
	for _, l := range possible[1:] {
		if int(l) == n {
			return isPossible
		}
	}
	return invalidLength
}

func compileFormats(formats []*phonenumbers.NumberFormat) (*formatTable, error) {
	ft := &formatTable{}
	var pats []pattern
	for _, f := range formats {
		lead := f.GetLeadingDigitsPattern()
		if len(lead) > 0 {
			pats = append(pats, pattern{re: lead[len(lead)-1], prefix: true})
		} else {
			pats = append(pats, pattern{re: `[^\x00-\x{10FFFF}]`, prefix: true})
		}
		pats = append(pats, pattern{re: f.GetPattern()})
		ft.hasLeading = append(ft.hasLeading, len(lead) > 0)
		prefix, ok := nationalPrefixDigits(f)
		ft.prefix = append(ft.prefix, prefix)
		ft.ok = append(ft.ok, ok)
	}
	var err error
	if ft.d, err = compileDFA(pats); err != nil {
		return nil, err
	}
	return ft, nil
}

// choose returns the index of the format Format(NATIONAL) uses for nsn, or -1.
func (ft *formatTable) choose(nsn []byte) int {
	acc := ft.d.accept[ft.d.run(nsn)]
	for i, lead := range ft.hasLeading {
		if (!lead || acc&(1<<(2*i)) != 0) && acc&(1<<(2*i+1)) != 0 {
			return i
		}
	}
	return -1
}

// nationalPrefixDigits works out what Format(NATIONAL) writes before a number that
// format f matches, digits only, from the format's pattern and rule
// (formatNsnUsingPatternWithCarrier): the first $n of the rule is replaced by the
// national prefix formatting rule, then the pattern's match is replaced by the
// expanded rule. It is a plain prefix when the pattern is a sequence of capturing
// groups covering the number, the rule names groups 1..n once each in order, and
// its only digits come before group 1. The groups must be fixed-length or runs of
// \d so that the unanchored leftmost-first match Format uses covers the whole
// number exactly as the full match chooseFormattingPatternForNumber checked.
func nationalPrefixDigits(f *phonenumbers.NumberFormat) (string, bool) {
	re, err := syntax.Parse(f.GetPattern(), syntax.Perl)
	if err != nil {
		return "", false
	}
	groups, ok := plainGroups(re)
	if !ok {
		return "", false
	}
	rule := f.GetFormat()
	if np := f.GetNationalPrefixFormattingRule(); np != "" {
		if loc := firstGroupRef(rule); loc != nil {
			rule = rule[:loc[0]] + np + rule[loc[1]:]
		}
	}
	var prefix strings.Builder
	want := 1
	for i := 0; i < len(rule); {
		c := rule[i]
		if c != '$' {
			if c >= '0' && c <= '9' {
				if want != 1 {
					return "", false // digits between groups
				}
				prefix.WriteByte(c)
			}
			i++
			continue
		}
		// regexp.Expand: $$, ${name}, or $name with name the longest run of
		// letters, digits and underscores.
		if i+1 < len(rule) && rule[i+1] == '$' {
			i += 2
			continue
		}
		var name string
		if i+1 < len(rule) && rule[i+1] == '{' {
			end := strings.IndexByte(rule[i:], '}')
			if end < 0 {
				return "", false
			}
			name, i = rule[i+2:i+end], i+end+1
		} else {
			j := i + 1
			for j < len(rule) && (rule[j] == '_' || rule[j] >= '0' && rule[j] <= '9' || rule[j] >= 'a' && rule[j] <= 'z' || rule[j] >= 'A' && rule[j] <= 'Z') {
				j++
			}
			name, i = rule[i+1:j], j
		}
		n, err := strconv.Atoi(name)
		if err != nil || n != want {
			return "", false
		}
		want++
	}
	if want-1 != groups {
		return "", false
	}
	return prefix.String(), true
}

// firstGroupRef finds what FIRST_GROUP_PATTERN (`(\$\d)`) finds first.
func firstGroupRef(rule string) []int {
	for i := 0; i+1 < len(rule); i++ {
		if rule[i] == '$' && rule[i+1] >= '0' && rule[i+1] <= '9' {
			return []int{i, i + 2}
		}
	}
	return nil
}

// plainGroups reports whether re is a concatenation of capturing groups, each of
// fixed length or a greedy run of \d, and how many.
func plainGroups(re *syntax.Regexp) (int, bool) {
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	variable, allDigits := 0, true
	for _, s := range subs {
		if s.Op != syntax.OpCapture {
			return 0, false
		}
		g := s.Sub[0]
		switch {
		case fixedLength(g) >= 0:
			allDigits = allDigits && (isDigitClass(g) || g.Op == syntax.OpRepeat && isDigitClass(g.Sub[0]))
		case digitRun(g):
			variable++
		default:
			return 0, false
		}
	}
	// One run of \d: its length is the number's less the fixed groups, whichever
	// way the match is tried. Several: only when every group takes any digit, so
	// greedy runs end where the number ends.
	if variable > 1 && !allDigits {
		return 0, false
	}
	return len(subs), true
}

func isDigitClass(re *syntax.Regexp) bool {
	return re.Op == syntax.OpCharClass && len(re.Rune) == 2 && re.Rune[0] == '0' && re.Rune[1] == '9'
}

func digitRun(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpRepeat, syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return re.Flags&syntax.NonGreedy == 0 && isDigitClass(re.Sub[0])
	}
	return false
}

// fixedLength is the one length of the strings re matches, or -1.
func fixedLength(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture:
		return fixedLength(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min != re.Max {
			return -1
		}
		n := fixedLength(re.Sub[0])
		if n < 0 {
			return -1
		}
		return n * re.Min
	case syntax.OpConcat:
		total := 0
		for _, s := range re.Sub {
			n := fixedLength(s)
			if n < 0 {
				return -1
			}
			total += n
		}
		return total
	case syntax.OpAlternate:
		n := -1
		for i, s := range re.Sub {
			m := fixedLength(s)
			if m < 0 || i > 0 && m != n {
				return -1
			}
			n = m
		}
		return n
	}
	return -1
}
