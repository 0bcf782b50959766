// Package chunking splits a stream of accepted records into parts (one asynq task
// each) and parts into vendor calls, to each vendor's limits, and encodes FlashAI's
// mobileList. It is pure: no Redis, asynq or HTTP, and it never holds more than one
// part in memory.
package chunking

import "fmt"

// Vendor names as used throughout dialq.
const (
	NXCloud = "nxcloud"
	Yccall  = "yccall"
	Speech  = "speech"
	FlashAI = "flashai"
)

// Vendors lists every supported vendor.
var Vendors = []string{NXCloud, Yccall, Speech, FlashAI}

// Profile is how a vendor's list is cut: PartSize records make one part (one asynq
// task, and for Yccall and speech one vendor task); CallSize records go in one call.
type Profile struct {
	Vendor   string `json:"vendor"`
	PartSize int    `json:"part_size"`
	CallSize int    `json:"call_size"`
}

// vendorLimits are the contract sheet's hard limits; a profile may be smaller.
var vendorLimits = map[string]Profile{
	NXCloud: {Vendor: NXCloud, PartSize: 1000, CallSize: 1000},  // our choice, sheet §1
	Yccall:  {Vendor: Yccall, PartSize: 10000, CallSize: 10000}, // at most 10,000 per task
	Speech:  {Vendor: Speech, PartSize: 20000, CallSize: 1000},  // 1,000 a call, 20,000 a task
	FlashAI: {Vendor: FlashAI, PartSize: 1000, CallSize: 1000},  // server setting; 1,000 by default
}

// DefaultProfile returns the contract sheet's limits for vendor.
func DefaultProfile(vendor string) (Profile, error) {
	p, ok := vendorLimits[vendor]
	if !ok {
		return Profile{}, fmt.Errorf("unknown vendor %q: want one of nxcloud, yccall, speech, flashai", vendor)
	}
	return p, nil
}

// Validate checks p against the vendor's hard limits. NXCloud and FlashAI have no
// vendor-side task to append to, and a Yccall part is one TaskCreat, so their
// parts are one call each; only speech parts are a create and appends.
func (p Profile) Validate() error {
	limit, err := DefaultProfile(p.Vendor)
	if err != nil {
		return err
	}
	switch {
	case p.CallSize < 1 || p.PartSize < 1:
		return fmt.Errorf("%s: part and call sizes must be at least 1", p.Vendor)
	case p.CallSize > p.PartSize:
		return fmt.Errorf("%s: call size %d exceeds part size %d", p.Vendor, p.CallSize, p.PartSize)
	case p.Vendor == Speech && p.CallSize > limit.CallSize:
		return fmt.Errorf("speech: call size %d exceeds the vendor's 1,000 customers a call", p.CallSize)
	case p.Vendor == Speech && p.PartSize > limit.PartSize:
		return fmt.Errorf("speech: part size %d exceeds the vendor's 20,000 customers a task", p.PartSize)
	case p.Vendor == Yccall && p.PartSize > limit.PartSize:
		return fmt.Errorf("yccall: part size %d exceeds the vendor's 10,000 numbers a task", p.PartSize)
	case p.Vendor != Speech && p.PartSize != p.CallSize:
		return fmt.Errorf("%s: a part is one vendor task made by one call, so part size must equal call size", p.Vendor)
	}
	return nil
}
