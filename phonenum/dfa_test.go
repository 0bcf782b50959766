package phonenum

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// The automata accept what regexp accepts: full matches, prefix matches (and $
// inside a prefix pattern), on random digit strings.
func TestDFAMatchesRegexp(t *testing.T) {
	tests := []struct {
		re     string
		prefix bool
	}{
		{`1[3-9]\d{9}`, false},
		{`(?:10|2[0-57-9])\d{8}|[3-9]\d{9,10}`, false},
		{`0|180020`, true},
		{`(1(?:[12]\d|79)\d\d)|0`, true},
		{`0(8(?:[1-46-8]|5\d\d))?`, true},
		{`([2-9]\d{6})$|1`, true},
		{`(000[2569]\d{4,6})$|(?:(?:003768)0?)|0`, true},
		{`\d{5,6}`, false},
		{`NA`, false},
		{`(?:)`, false},
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tt := range tests {
		d, err := compileDFA([]pattern{{re: tt.re, prefix: tt.prefix}})
		if err != nil {
			t.Fatalf("compileDFA(%q): %v", tt.re, err)
		}
		anchored := `^(?:` + tt.re + `)$`
		if tt.prefix {
			anchored = `^(?:` + tt.re + `)`
		}
		re := regexp.MustCompile(anchored)
		for range 20000 / raceDivisor {
			b := make([]byte, rng.IntN(14))
			for i := range b {
				b[i] = byte('0' + rng.IntN(10))
				if rng.IntN(4) == 0 && i > 0 {
					b[i] = b[i-1]
				}
			}
			if got, want := d.accept[d.run(b)]&1 != 0, re.Match(b); got != want {
				t.Fatalf("%q (prefix %v) on %s: automaton %v, regexp %v", tt.re, tt.prefix, b, got, want)
			}
		}
	}
}

// Several patterns in one automaton keep their own verdicts.
func TestDFAMultiplePatterns(t *testing.T) {
	pats := []pattern{{re: `1\d{10}`}, {re: `13`, prefix: true}, {re: `\d{11}`}, {re: `2`, prefix: true}}
	d, err := compileDFA(pats)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want uint64
	}{
		{"13800138000", 0b0111},
		{"23800138000", 0b1100},
		{"1380013800", 0b0010},
		{"", 0},
		{"2", 0b1000},
	}
	for _, tt := range tests {
		if got := d.accept[d.run([]byte(tt.in))]; got != tt.want {
			t.Errorf("run(%q) accepts %04b; want %04b", tt.in, got, tt.want)
		}
	}
}
