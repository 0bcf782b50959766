package ingest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/dialq/dialq/vendors/registry"
)

// The cached national prefix gives exactly what Format(NATIONAL) gives, for every
// kind of CN number, whichever number of a prefix group comes first.
func TestNationalFormMatchesFormat(t *testing.T) {
	n, err := NewNormaliser("yccall", "CN")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	heads := []string{"13", "14", "15", "16", "17", "18", "19", "10", "20", "21", "22", "23", "24", "25", "27", "28", "29",
		"311", "351", "371", "411", "431", "451", "471", "510", "511", "531", "551", "571", "591", "631", "731", "755", "769", "851", "871", "898", "931", "991", "400", "800", "95"}
	checked := 0
	for range 100000 {
		head := heads[rng.IntN(len(heads))]
		raw := head
		for len(raw) < 7+rng.IntN(5) {
			raw += fmt.Sprint(rng.IntN(10))
		}
		if head[0] != '1' || len(raw) != 11 {
			raw = "0" + raw
		}
		num, err := phonenumbers.Parse(raw, "CN")
		if err != nil || !phonenumbers.IsValidNumber(num) {
			continue
		}
		want := digitsOnly(phonenumbers.Format(num, phonenumbers.NATIONAL))
		_, got, reason := n.Normalise(raw)
		if reason != "" || got != want {
			t.Fatalf("Normalise(%q) = %q, %q; Format(NATIONAL) gives %q", raw, got, reason, want)
		}
		checked++
	}
	if checked < 8000 {
		t.Fatalf("only %d valid numbers generated", checked)
	}
	t.Logf("%d valid numbers checked", checked)
}

// Normalise with the compiled validator gives exactly what libphonenumber alone
// gives: key, vendor form and reason, for every vendor, on numbers of many regions
// in the spellings lists use and on junk.
func TestNormaliseCompiledMatchesLibphonenumber(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	heads := []string{"13", "15", "18", "19", "10", "20", "21", "755", "571", "400", "800", "95", "852", "886", "1", "44", "91", "62", "63", "84", "66", "60", "81", "82", "49", "33", "55", "52", "971", "966", "234", "65", "0", "00"}
	spell := []func(string) string{
		func(s string) string { return s },
		func(s string) string { return "+" + s },
		func(s string) string { return "+86 " + s },
		func(s string) string { return "0086-" + s },
		func(s string) string { return "(+86)" + s },
		func(s string) string { return "86" + s },
		func(s string) string { return "0" + s },
		func(s string) string { return " " + s[:len(s)/2] + " " + s[len(s)/2:] + " " },
		func(s string) string { return s[:len(s)/2] + "." + s[len(s)/2:] },
		func(s string) string { return "(" + s[:3] + ")-" + s[3:] },
		func(s string) string { return s + "x12" },
		func(s string) string { return "tel:" + s },
	}
	for _, region := range []string{"CN", "US", "GB", "HK"} {
		for _, vendor := range []string{registry.NXCloud, registry.Yccall, registry.Speech, registry.FlashAI} {
			fast, err := NewNormaliser(vendor, region)
			if err != nil {
				t.Fatal(err)
			}
			if fast.fast == nil {
				t.Fatalf("%s unset but no compiled validator", ValidatorEnv)
			}
			lib, _ := NewNormaliser(vendor, region)
			lib.fast = nil
			decided := 0
			for range normaliseChecks {
				raw := heads[rng.IntN(len(heads))]
				for len(raw) < 5+rng.IntN(9) {
					raw += fmt.Sprint(rng.IntN(10))
				}
				raw = spell[rng.IntN(len(spell))](raw)
				k1, p1, r1 := fast.Normalise(raw)
				k2, p2, r2 := lib.Normalise(raw)
				if k1 != k2 || p1 != p2 || r1 != r2 {
					t.Fatalf("%s/%s Normalise(%q) = %d, %q, %q; libphonenumber alone %d, %q, %q", region, vendor, raw, k1, p1, r1, k2, p2, r2)
				}
				if _, _, _, ok := fast.normaliseFast(strings.TrimSpace(raw)); ok {
					decided++
				}
			}
			if decided < normaliseChecks/2 {
				t.Errorf("%s/%s: the compiled validator decided only %d of %d", region, vendor, decided, normaliseChecks)
			}
		}
	}
}
