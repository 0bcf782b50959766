package ingest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nyaruka/phonenumbers"
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
