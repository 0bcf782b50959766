// Package chunking splits a stream of accepted records into parts (one asynq task
// each) and parts into vendor calls, to each vendor's limits, and encodes FlashAI's
// mobileList. It is pure: no Redis, asynq or HTTP, and it never holds more than one
// part in memory. Its rules name no vendor: a vendor's limits come as data (Limits)
// from the vendor registry, vendors/registry.
package chunking

import (
	"fmt"
	"strconv"
)

// Profile is how a vendor's list is cut: PartSize records make one part (one asynq
// task, and for Yccall and speech one vendor task); CallSize records go in one call.
type Profile struct {
	Vendor   string `json:"vendor"`
	PartSize int    `json:"part_size"`
	CallSize int    `json:"call_size"`
}

// Limits are a vendor's limits from the contract sheet, as data, so that the rules
// below are written once for every vendor.
type Limits struct {
	// PartSize and CallSize are the default profile's sizes: the sheet's limit, or
	// our choice where the sheet is silent.
	PartSize, CallSize int
	// MaxPart and MaxCall are hard limits the sheet states; 0 when it states none.
	MaxPart, MaxCall int
	// Appends is true when a part is one vendor task made by a create and appends
	// (speech); a part of any other vendor is one call.
	Appends bool
	// Unit is what the sheet counts in its limits ("numbers", "customers"), for
	// the messages.
	Unit string
}

// Profile is vendor's default profile under l.
func (l Limits) Profile(vendor string) Profile {
	return Profile{Vendor: vendor, PartSize: l.PartSize, CallSize: l.CallSize}
}

// Check checks p against its vendor's limits l (a profile may be smaller). A vendor
// without appends has no vendor-side task to add to (NXCloud, FlashAI) or makes
// one task a call (Yccall's TaskCreat), so its parts are one call each.
func (p Profile) Check(l Limits) error {
	switch {
	case p.CallSize < 1 || p.PartSize < 1:
		return fmt.Errorf("%s: part and call sizes must be at least 1", p.Vendor)
	case p.CallSize > p.PartSize:
		return fmt.Errorf("%s: call size %d exceeds part size %d", p.Vendor, p.CallSize, p.PartSize)
	case l.MaxCall > 0 && p.CallSize > l.MaxCall:
		return fmt.Errorf("%s: call size %d exceeds the vendor's %s %s a call", p.Vendor, p.CallSize, thousands(l.MaxCall), l.Unit)
	case l.MaxPart > 0 && p.PartSize > l.MaxPart:
		return fmt.Errorf("%s: part size %d exceeds the vendor's %s %s a task", p.Vendor, p.PartSize, thousands(l.MaxPart), l.Unit)
	case !l.Appends && p.PartSize != p.CallSize:
		return fmt.Errorf("%s: a part is one vendor task made by one call, so part size must equal call size", p.Vendor)
	}
	return nil
}

// thousands writes n as the sheet does: 20,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
