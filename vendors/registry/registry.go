// Package registry is the list of vendors dialq delivers to: one entry a vendor,
// holding what every layer needs to know of it as data (its name, the contract
// sheet's limits, its part task type, its field limits, its number form). Every
// list or switch over vendors elsewhere loops over All or looks an entry up.
//
// It is pure (no Redis, asynq or HTTP) and links no vendor client, so that the
// producer (producer, queue, campaign, ingest) can use it without linking them. What
// does need the client, building it from the environment and the caller that
// delivers a part, is the worker's: one table in jobs (jobs/vendors.go) keyed by
// these names, kept whole by a test there.
//
// Adding a vendor: an entry here, its client package under vendors/, its campaign
// type (campaign.Parse's table), and its jobs entry; a test in each of those
// fails on a vendor of this list it lacks.
package registry

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dialq/dialq/chunking"
)

// Vendor names as used throughout dialq: in Redis (manifests, queues, task
// types), metrics, env prefixes (<VENDOR>_QUOTA) and flags. Never rename one.
const (
	NXCloud = "nxcloud"
	Yccall  = "yccall"
	Speech  = "speech"
	FlashAI = "flashai"
)

// Vendor is one vendor's entry.
type Vendor struct {
	Name string
	// Limits are the contract sheet's part and call limits (chunking.Profile.Check).
	Limits chunking.Limits
	// PartType is the asynq task type of the vendor's parts. It is stored with
	// every task: never change a deployed one; add a new one and drain the old.
	PartType string
	// Fields bounds the record fields the vendor takes (ingest).
	Fields Fields
	// International is true when the vendor takes numbers with their country code;
	// otherwise they go in national form.
	International bool
}

// Fields is the most characters each record field may hold for a vendor (README
// "Column mapping"); 0 means the vendor has no place for the field and it is
// dropped. Where the sheet is silent the bound is what the vendor's examples
// suggest, so an over-long value is refused at enqueue, not by the vendor.
type Fields struct {
	Name, CustomerID, Attach, Company int
	// Param bounds each call parameter, Params their number.
	Param, Params int
}

// all is the list, in the order vendors are shown and configured.
var all = []Vendor{
	{
		Name: NXCloud,
		// Our choice: the sheet (§1) gives no per-call limit.
		Limits:   chunking.Limits{PartSize: 1000, CallSize: 1000},
		PartType: "dial:nxcloud:create",
		// other ← attach; name, customer id, company and params have no NXCloud field.
		Fields:        Fields{Attach: 255},
		International: true,
	},
	{
		Name: Yccall,
		// At most 10,000 numbers a task; a part is one TaskCreat.
		Limits:   chunking.Limits{PartSize: 10000, CallSize: 10000, MaxPart: 10000, Unit: "numbers"},
		PartType: "dial:yccall:create",
		// userid ← customer_id; memberid ← attach.
		Fields: Fields{CustomerID: 64, Attach: 64},
	},
	{
		Name: Speech,
		// 1,000 customers a call, 20,000 a task: a part is a create and appends.
		Limits:   chunking.Limits{PartSize: 20000, CallSize: 1000, MaxPart: 20000, MaxCall: 1000, Appends: true, Unit: "customers"},
		PartType: "dial:speech:create",
		// name ≤ 20, externalCustomerId ≤ 64, externalData ≤ 40 (sheet §3); desc ← company.
		Fields: Fields{Name: 20, CustomerID: 64, Attach: 40, Company: 200},
	},
	{
		Name: FlashAI,
		// A server setting, 1,000 by default.
		Limits:   chunking.Limits{PartSize: 1000, CallSize: 1000},
		PartType: "dial:flashai:add",
		// mobileList: phone^attach^p1-p2-p3^custName^custCompany.
		Fields: Fields{Name: 50, Attach: 100, Company: 100, Param: 100, Params: 10},
	},
}

// All returns every vendor's entry, in order.
func All() []Vendor { return slices.Clone(all) }

// Names returns every vendor's name, in order.
func Names() []string {
	out := make([]string, len(all))
	for i, v := range all {
		out[i] = v.Name
	}
	return out
}

// OneOf spells the names for a message: "nxcloud, yccall, speech or flashai".
func OneOf() string {
	n := Names()
	if len(n) == 1 {
		return n[0]
	}
	return strings.Join(n[:len(n)-1], ", ") + " or " + n[len(n)-1]
}

// Known reports whether name is a vendor's.
func Known(name string) bool {
	_, ok := Lookup(name)
	return ok
}

// Lookup returns name's entry.
func Lookup(name string) (Vendor, bool) {
	for _, v := range all {
		if v.Name == name {
			return v, true
		}
	}
	return Vendor{}, false
}

// Get returns name's entry, or an error listing the vendors.
func Get(name string) (Vendor, error) {
	v, ok := Lookup(name)
	if !ok {
		return Vendor{}, fmt.Errorf("unknown vendor %q: want one of %s", name, strings.Join(Names(), ", "))
	}
	return v, nil
}

// Profile returns vendor's default profile: its sheet's sizes.
func Profile(vendor string) (chunking.Profile, error) {
	v, err := Get(vendor)
	if err != nil {
		return chunking.Profile{}, err
	}
	return v.Limits.Profile(vendor), nil
}

// Validate checks p against its vendor's limits.
func Validate(p chunking.Profile) error {
	v, err := Get(p.Vendor)
	if err != nil {
		return err
	}
	return p.Check(v.Limits)
}
