package phonenum

import (
	"math/rand/v2"
	"regexp/syntax"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// TestMetadataDrift fails when the compiled tables and the linked libphonenumber
// part ways (a dependency update changed the metadata's shape): every region and
// non-geographic code of the metadata compiles, and for each of them the example
// number and samples of every number type's pattern, written internationally and
// nationally, get libphonenumber's verdict.
func TestMetadataDrift(t *testing.T) {
	tb, err := load()
	if err != nil {
		t.Fatal(err)
	}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		t.Fatal(err)
	}
	if len(coll.GetMetadata()) < 240 {
		t.Fatalf("%d territories in the metadata; libphonenumber has about 250", len(coll.GetMetadata()))
	}
	cn, err := New("CN")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	compiled, checked, decided := 0, 0, 0
	for _, ters := range tb.byCC {
		for _, ter := range ters {
			if !ter.ready() {
				t.Errorf("%s (+%d): %v", ter.id, ter.cc, ter.err)
				continue
			}
			compiled++
			v := cn
			if ter.id != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
				if v, err = New(ter.id); err != nil {
					t.Fatal(err)
				}
			}
			m := ter.meta
			for _, d := range []*phonenumbers.PhoneNumberDesc{m.GetFixedLine(), m.GetMobile(), m.GetTollFree(), m.GetPremiumRate(),
				m.GetSharedCost(), m.GetPersonalNumber(), m.GetVoip(), m.GetPager(), m.GetUan(), m.GetVoicemail()} {
				if d == nil || d.GetNationalNumberPattern() == "" || d.GetNationalNumberPattern() == "NA" {
					continue
				}
				re, err := syntax.Parse(d.GetNationalNumberPattern(), syntax.Perl)
				if err != nil {
					t.Fatalf("%s: %v", ter.id, err)
				}
				nsns := []string{d.GetExampleNumber()}
				for range 5 / raceDivisor {
					nsns = append(nsns, string(gen{rng}.sample(re, nil)))
				}
				for _, nsn := range nsns {
					if nsn == "" {
						continue
					}
					for _, c := range []struct {
						v   *Validator
						raw string
					}{{cn, "+" + ter.ccDigits + " " + nsn}, {v, nsn}, {v, m.GetNationalPrefix() + nsn}} {
						region := "CN"
						if c.v != cn {
							region = ter.id
						}
						st, bad := compare(c.v, c.raw, region)
						if bad != "" {
							t.Errorf("%s: %s", ter.id, bad)
						}
						checked++
						if st != Unknown {
							decided++
						}
					}
				}
			}
		}
	}
	t.Logf("%d territories compiled; %d numbers checked, %d decided without libphonenumber", compiled, checked, decided)
	if compiled != len(coll.GetMetadata()) {
		t.Errorf("%d territories compiled; the metadata has %d", compiled, len(coll.GetMetadata()))
	}
	if decided < checked/2 {
		t.Errorf("only %d of %d decided without libphonenumber", decided, checked)
	}
}
