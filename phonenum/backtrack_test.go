package phonenum

import (
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"slices"
	"testing"
)

// matchPrefix finds regexp's leftmost-first anchored match and groups, and expand
// rewrites as regexp.Expand does, on the metadata's ambiguous prefixes and
// transform rules.
func TestBacktrackMatchesRegexp(t *testing.T) {
	tests := []struct{ re, transform string }{
		{`0(8(?:[1-46-8]|5\d\d))?`, ""},
		{`00(?:30|5[09]|[126-9]?)`, ""},
		{`(?:0|90)(?:(1[245]|2[1-35]|31|4[13]|[56]5|99)(\d{10,11}))?`, "$2"},
		{`(000[2569]\d{4,6})$|(?:(?:003768)0?)|0`, "$1"},
		{`([2-9]\d{6})$|1`, "441$1"},
		{`0?(?:(11|2(?:2(?:02?|[13])|3(?:02?|1[467]))|3(?:3(?:2[79]|6)))15)?`, "9$1"},
		{`0(11\d{6}|60\d{6}|61\d{6}|6[256]\d{6}|7[467]\d{6})`, "$1"},
		{`(\d)(\d)?`, "$2$1${1}x$$"},
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tt := range tests {
		re := regexp.MustCompile(`^(?:` + tt.re + `)`)
		parsed, err := syntax.Parse(tt.re, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := syntax.Compile(parsed.Simplify())
		if err != nil {
			t.Fatal(err)
		}
		for range 20000 / raceDivisor {
			b := make([]byte, rng.IntN(15))
			for i := range b {
				b[i] = byte('0' + rng.IntN(10))
				if rng.IntN(3) == 0 {
					b[i] = "0915"[rng.IntN(4)]
				}
			}
			var caps [maxCaps]int
			matched, ok := matchPrefix(prog, b, &caps)
			if !ok {
				t.Fatalf("%q on %s: program too large", tt.re, b)
			}
			want := re.FindSubmatchIndex(b)
			if matched != (want != nil) {
				t.Fatalf("%q on %s: matched %v; regexp %v", tt.re, b, matched, want)
			}
			if !matched {
				continue
			}
			if got := caps[:len(want)]; !slices.Equal(got, want) {
				t.Fatalf("%q on %s: groups %v; regexp %v", tt.re, b, got, want)
			}
			got, ok := expand(nil, tt.transform, b, &caps, prog.NumCap)
			if wantExp := re.Expand(nil, []byte(tt.transform), b, want); !ok || string(got) != string(wantExp) {
				t.Fatalf("%q on %s: expand(%q) = %q, %v; regexp %q", tt.re, b, tt.transform, got, ok, wantExp)
			}
		}
	}
}
