package jobs

import (
	"testing"

	"github.com/dialq/dialq/vendors/registry"
)

// TestEveryVendorIsWired: a vendor added to the registry needs its wiring here
// (client from the environment, caller), and every wiring is a registry vendor's.
func TestEveryVendorIsWired(t *testing.T) {
	for _, v := range registry.Names() {
		w, ok := wirings[v]
		if !ok {
			t.Errorf("vendor %s has no wiring in jobs/vendors.go", v)
			continue
		}
		if w.fromEnv == nil || w.has == nil || w.caller == nil {
			t.Errorf("vendor %s: wiring lacks fromEnv, has or caller", v)
			continue
		}
		if got := w.caller(&Deps{}).vendor(); got != v {
			t.Errorf("vendor %s: its caller says %s", v, got)
		}
		if w.has(&Deps{}) {
			t.Errorf("vendor %s: served by empty Deps", v)
		}
	}
	for v := range wirings {
		if !registry.Known(v) {
			t.Errorf("wiring for %s, which the registry does not list", v)
		}
	}
}
