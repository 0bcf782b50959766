package phonenum

import (
	"testing"
	"time"
)

func TestLoadTime(t *testing.T) {
	start := time.Now()
	tb, err := load()
	if err != nil {
		t.Fatal(err)
	}
	states := 0
	for _, ter := range tb.regions {
		if !ter.ready() {
			t.Errorf("%s: %v", ter.id, ter.err)
			continue
		}
		states += len(ter.types.accept) + len(ter.formats.d.accept)
	}
	t.Logf("compiled %d regions in %v, %d states", len(tb.regions), time.Since(start), states)
}
