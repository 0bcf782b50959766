package chunking

import "fmt"

// What follows is transitional. The vendor names and limits live in the vendor
// registry (vendors/registry); these stay only for the packages being moved at the
// same time (intake, batch and lifecycle tests), and go when those call the
// registry. Nothing new may use them.

// Vendor names, the registry's.
//
// Deprecated: use vendors/registry's names.
const (
	NXCloud = "nxcloud"
	Yccall  = "yccall"
	Speech  = "speech"
	FlashAI = "flashai"
)

// limitsOf is the registry's lookup, set by vendors/registry when it is linked
// (chunking cannot import it: the registry imports chunking for Limits).
var limitsOf func(vendor string) (Limits, error)

// SetLimits is called once, by vendors/registry's init, so that DefaultProfile and
// Validate answer with the registry's limits.
//
// Deprecated: goes with DefaultProfile and Validate.
func SetLimits(f func(vendor string) (Limits, error)) { limitsOf = f }

func lookup(vendor string) (Limits, error) {
	if limitsOf == nil {
		return Limits{}, fmt.Errorf("unknown vendor %q: no vendor registry linked", vendor)
	}
	return limitsOf(vendor)
}

// DefaultProfile returns vendor's default profile.
//
// Deprecated: use registry.Profile.
func DefaultProfile(vendor string) (Profile, error) {
	l, err := lookup(vendor)
	if err != nil {
		return Profile{}, err
	}
	return l.Profile(vendor), nil
}

// Validate checks p against its vendor's limits.
//
// Deprecated: use registry.Validate.
func (p Profile) Validate() error {
	l, err := lookup(p.Vendor)
	if err != nil {
		return err
	}
	return p.Check(l)
}
