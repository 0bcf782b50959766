package phonenum

import (
	"fmt"
	"math/rand/v2"
	"regexp/syntax"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// diffRegions are the regions dialq takes numbers for (issue 12), at least.
var diffRegions = []string{"CN", "HK", "TW", "SG", "US", "GB", "IN", "ID", "PH", "VN", "TH", "MY", "JP", "KR", "DE", "FR", "BR", "MX", "AE", "SA", "NG"}

// libResult is what libphonenumber says of raw parsed for region.
type libResult struct {
	status   Status
	err      error // Parse's error (status NotANumber)
	cc       int32
	nsn      string
	region   string
	national string
}

func digitsOnly(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func libParse(raw, region string) libResult {
	num, err := phonenumbers.Parse(raw, region)
	if err != nil {
		return libResult{status: NotANumber, err: err}
	}
	if !phonenumbers.IsValidNumber(num) {
		return libResult{status: Invalid}
	}
	return libResult{
		status:   Valid,
		cc:       num.GetCountryCode(),
		nsn:      phonenumbers.GetNationalSignificantNumber(num),
		region:   phonenumbers.GetRegionCodeForNumber(num),
		national: digitsOnly(phonenumbers.Format(num, phonenumbers.NATIONAL)),
	}
}

// compare checks the compiled path against libphonenumber on one input; it returns
// the compiled verdict and a description of any disagreement.
func compare(v *Validator, raw, region string) (Status, string) {
	var n Number
	st := v.Parse(raw, &n)
	if st == Unknown {
		return st, ""
	}
	return st, check(raw, region, st, &n, libParse(raw, region))
}

func check(raw, region string, st Status, n *Number, want libResult) string {
	if want.status != st {
		return fmt.Sprintf("Parse(%q, %s) = %v; libphonenumber %+v", raw, region, st, want)
	}
	if st == NotANumber {
		if n.Err != want.err {
			return fmt.Sprintf("Parse(%q, %s) = not a number: %v; libphonenumber: %v", raw, region, n.Err, want.err)
		}
		return ""
	}
	if st == Invalid {
		return ""
	}
	got := libResult{status: st, cc: n.CountryCode, nsn: string(n.NSN(nil)), region: n.Region, national: want.national}
	if nat, ok := n.AppendNational(nil); ok {
		got.national = string(nat)
	}
	if got != want {
		return fmt.Sprintf("Parse(%q, %s) = %+v; libphonenumber %+v", raw, region, got, want)
	}
	if e164, want := string(n.AppendE164(nil)), fmt.Sprint(want.cc)+want.nsn; e164 != want {
		return fmt.Sprintf("Parse(%q, %s) E.164 %s; want %s", raw, region, e164, want)
	}
	return ""
}

// gen makes random strings of a regular expression's language.
type gen struct {
	rng *rand.Rand
}

func (g gen) sample(re *syntax.Regexp, b []byte) []byte {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			b = append(b, byte(r))
		}
	case syntax.OpCharClass:
		// Rune holds ranges lo-hi pairs; only digits matter here.
		var opts []byte
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := max(re.Rune[i], '0'); r <= min(re.Rune[i+1], '9'); r++ {
				opts = append(opts, byte(r))
			}
		}
		if len(opts) > 0 {
			b = append(b, opts[g.rng.IntN(len(opts))])
		}
	case syntax.OpCapture:
		b = g.sample(re.Sub[0], b)
	case syntax.OpConcat:
		for _, s := range re.Sub {
			b = g.sample(s, b)
		}
	case syntax.OpAlternate:
		b = g.sample(re.Sub[g.rng.IntN(len(re.Sub))], b)
	case syntax.OpQuest:
		if g.rng.IntN(2) == 0 {
			b = g.sample(re.Sub[0], b)
		}
	case syntax.OpStar, syntax.OpPlus, syntax.OpRepeat:
		lo, hi := re.Min, re.Max
		if re.Op == syntax.OpStar {
			lo, hi = 0, 3
		} else if re.Op == syntax.OpPlus {
			lo, hi = 1, 3
		} else if hi < 0 {
			hi = lo + 3
		}
		for range lo + g.rng.IntN(hi-lo+1) {
			b = g.sample(re.Sub[0], b)
		}
	}
	return b
}

// corpus holds, per region, national significant numbers drawn from every number
// type's pattern and example number.
type corpus struct {
	region string
	cc     string
	np     string // national prefix
	idd    string // a literal international prefix of the region, if simple
	pats   []*syntax.Regexp
	ex     []string
}

func newCorpus(t testing.TB, region string) *corpus {
	var meta *phonenumbers.PhoneMetadata
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range coll.GetMetadata() {
		if m.GetId() == region {
			meta = m
		}
	}
	if meta == nil {
		t.Fatalf("no metadata for %s", region)
	}
	c := &corpus{region: region, cc: fmt.Sprint(meta.GetCountryCode()), np: meta.GetNationalPrefix()}
	if p := meta.GetPreferredInternationalPrefix(); p != "" {
		c.idd = p
	} else if ip := meta.GetInternationalPrefix(); digitsOnly(ip) == ip {
		c.idd = ip
	}
	for _, d := range []*phonenumbers.PhoneNumberDesc{meta.GetFixedLine(), meta.GetMobile(), meta.GetTollFree(), meta.GetPremiumRate(),
		meta.GetSharedCost(), meta.GetPersonalNumber(), meta.GetVoip(), meta.GetPager(), meta.GetUan(), meta.GetVoicemail()} {
		if d == nil || d.GetNationalNumberPattern() == "" || d.GetNationalNumberPattern() == "NA" {
			continue
		}
		re, err := syntax.Parse(d.GetNationalNumberPattern(), syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		c.pats = append(c.pats, re)
		if e := d.GetExampleNumber(); e != "" {
			c.ex = append(c.ex, e)
		}
	}
	if len(c.pats) == 0 || len(c.ex) == 0 {
		t.Fatalf("%s: no number types in the metadata", region)
	}
	return c
}

// nsn returns a national significant number candidate: mostly valid ones from the
// patterns and examples, some with a digit changed, one too many or one too few,
// or random digits.
func (c *corpus) nsn(rng *rand.Rand) string {
	var s []byte
	switch k := rng.IntN(10); {
	case k < 5:
		s = gen{rng}.sample(c.pats[rng.IntN(len(c.pats))], nil)
	case k < 7:
		s = []byte(c.ex[rng.IntN(len(c.ex))])
		for range rng.IntN(3) {
			if len(s) > 0 {
				s[rng.IntN(len(s))] = byte('0' + rng.IntN(10))
			}
		}
	case k < 9:
		s = gen{rng}.sample(c.pats[rng.IntN(len(c.pats))], nil)
		if rng.IntN(2) == 0 && len(s) > 1 {
			s = s[:len(s)-1]
		} else {
			s = append(s, byte('0'+rng.IntN(10)))
		}
	default:
		for range 3 + rng.IntN(14) {
			s = append(s, byte('0'+rng.IntN(10)))
		}
	}
	return string(s)
}

// forms are the ways a list writes nsn, normalised: whether a '+' leads, and the
// digits (calling code, IDD, national prefix, stray prefixes).
func (c *corpus) forms(rng *rand.Rand, nsn string) []form {
	return []form{
		{false, nsn},
		{true, c.cc + nsn},
		{false, c.idd + c.cc + nsn},
		{false, c.cc + nsn},
		{false, c.np + nsn},
		{true, c.cc + "0" + nsn},
		{false, c.idd + nsn}, // an IDD without a calling code, maybe followed by 0
		{false, c.np + c.np + nsn},
		{false, []string{"0", "00", "000", "1", "01", c.idd + "0", c.cc + "0"}[rng.IntN(7)] + nsn},
		{true, []string{"0", "00", "1", ""}[rng.IntN(4)] + nsn},
	}
}

type form struct {
	plus   bool
	digits string
}

// spellings writes one form with the punctuation lists use: groups separated by
// spaces, dashes or dots, the first group in parentheses, "(+86)".
func (f form) spellings(rng *rand.Rand) []string {
	plus := ""
	if f.plus {
		plus = "+"
	}
	d := f.digits
	cut := func(n int) (string, string) { n = min(n, len(d)); return d[:n], d[n:] }
	grouped := func(d, sep string) string {
		var b strings.Builder
		for i := 0; i < len(d); i++ {
			if i > 0 && i%4 == 2+rng.IntN(2) {
				b.WriteString(sep)
			}
			b.WriteByte(d[i])
		}
		return b.String()
	}
	a, b := cut(2 + rng.IntN(2))
	return []string{
		plus + d,
		plus + grouped(d, " "),
		plus + grouped(d, "-"),
		plus + grouped(d, "."),
		"(" + plus + a + ")" + b,
		"(" + plus + a + ") " + grouped(b, " "),
		plus + a + " (" + b + ")",
		" " + plus + " " + a + "-" + b + "- ",
	}
}

type memoKey struct {
	region string
	f      form
}

// TestDifferential compares the compiled path with libphonenumber on generated
// numbers of every region of diffRegions, parsed with their own region and with
// CN as default region, in every form and spelling. libphonenumber's answer is
// computed once per region and normalised form (its answer depends on nothing
// else for these spellings: that is the tokenizer's claim, which every 16th
// comparison and FuzzParse check by calling libphonenumber on the spelling
// itself).
func TestDifferential(t *testing.T) {
	total := diffComparisons
	if testing.Short() {
		total /= 10
	}
	vals := map[string]*Validator{}
	var corpora []*corpus
	for _, r := range diffRegions {
		v, err := New(r)
		if err != nil {
			t.Fatal(err)
		}
		vals[r] = v
		corpora = append(corpora, newCorpus(t, r))
	}
	workers := runtime.GOMAXPROCS(0)
	var done, unknown, valid, libCalls atomic.Int64
	perRegion := make([]atomic.Int64, len(corpora))
	perRegionUnknown := make([]atomic.Int64, len(corpora))
	var mu sync.Mutex
	var failures []string
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w)+1, 12))
			memo := map[memoKey]libResult{}
			for i := w; done.Load() < int64(total); i += workers {
				ci := i % len(corpora)
				c := corpora[ci]
				nsn := c.nsn(rng)
				for _, f := range c.forms(rng, nsn) {
					for _, region := range []string{c.region, "CN"} {
						for _, raw := range f.spellings(rng) {
							var n Number
							st := vals[region].Parse(raw, &n)
							done.Add(1)
							perRegion[ci].Add(1)
							if st == Unknown {
								unknown.Add(1)
								perRegionUnknown[ci].Add(1)
								continue
							}
							if st == Valid {
								valid.Add(1)
							}
							k := memoKey{region, f}
							want, ok := memo[k]
							if !ok || rng.IntN(16) == 0 {
								want = libParse(raw, region)
								libCalls.Add(1)
								memo[k] = want
							}
							if bad := check(raw, region, st, &n, want); bad != "" {
								mu.Lock()
								failures = append(failures, bad)
								mu.Unlock()
							}
						}
					}
				}
				if len(memo) > 100_000 {
					clear(memo)
				}
				mu.Lock()
				stop := len(failures) > 20
				mu.Unlock()
				if stop {
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("%d comparisons in %v: %d valid, %d libphonenumber-only (unknown); %d libphonenumber calls", done.Load(), time.Since(start).Round(time.Millisecond), valid.Load(), unknown.Load(), libCalls.Load())
	for i, c := range corpora {
		t.Logf("%s: %d, %.1f%% to libphonenumber", c.region, perRegion[i].Load(), 100*float64(perRegionUnknown[i].Load())/float64(perRegion[i].Load()))
	}
	if done.Load() < int64(total) {
		t.Fatalf("%d comparisons; want %d", done.Load(), total)
	}
	// The compiled path must decide most numbers itself, or it saves nothing.
	if float64(unknown.Load()) > 0.3*float64(done.Load()) {
		t.Errorf("%d of %d numbers went to libphonenumber", unknown.Load(), done.Load())
	}
}
