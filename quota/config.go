// Package quota holds vendor quotas as contracts write them, fleet-wide in Redis:
// numbers per window (<VENDOR>_QUOTA=5000/1m,200000/24h) and calls in flight
// (<VENDOR>_INFLIGHT=4, a semaphore with leases). A call takes its numbers from
// every window and its slot at once, in one script on the vendor's slot; the
// engine joins that take to the batch's in-flight mark (another slot on a Cluster)
// by take-then-mark-or-give-back (see Limiter.Take).
package quota

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dialq/dialq/compliance/window"
	"github.com/dialq/dialq/vendors/registry"
)

// Environment variables read here.
const (
	EnvTZ    = "DIALQ_QUOTA_TZ"
	EnvLease = "DIALQ_INFLIGHT_LEASE"
	// DefaultTZ is where day-long windows reset when DIALQ_QUOTA_TZ is not set: the
	// vendors' own zone (China Standard Time).
	DefaultTZ = "Asia/Shanghai"
	// DefaultLease is how long an in-flight slot outlives a worker that died holding
	// it; a live call renews its lease every third of it.
	DefaultLease = 30 * time.Second
	// MaxLimit bounds N in N/<window> and <VENDOR>_INFLIGHT.
	MaxLimit = 1_000_000_000
	// MinWindow and MaxWindow bound a window's length.
	MinWindow = time.Second
	MaxWindow = 366 * 24 * time.Hour
)

// Window is one N/<window> of a vendor's quota.
type Window struct {
	// Spec is how it was written, normalised ("1m", "24h"): the metrics' window label.
	Spec  string
	Limit int64
	Len   time.Duration
	// Day is true for a 24h window: it resets at midnight in the quota's zone
	// instead of sliding.
	Day bool
}

// Vendor is one vendor's quotas.
type Vendor struct {
	Windows []Window
	// Inflight is the most calls in flight across the fleet; 0 means no limit.
	Inflight int
}

// Config is every vendor's quotas.
type Config struct {
	Vendors map[string]Vendor
	// Zone is where day-long windows reset (and a campaign's daily cap, when the
	// campaign names no zone).
	Zone  *time.Location
	Lease time.Duration
}

// Has reports whether vendor has any quota.
func (c *Config) Has(vendor string) bool {
	if c == nil {
		return false
	}
	v, ok := c.Vendors[vendor]
	return ok && (len(v.Windows) > 0 || v.Inflight > 0)
}

// Smallest is the smallest window limit of vendor's quota: no call larger can ever
// go out whole. Without windows, no limit.
func (c *Config) Smallest(vendor string) int {
	n := MaxLimit
	if c != nil {
		for _, w := range c.Vendors[vendor].Windows {
			n = min(n, int(w.Limit))
		}
	}
	return n
}

// VendorNames lists the vendors with a quota, sorted.
func (c *Config) VendorNames() []string {
	var out []string
	for v := range c.Vendors {
		if c.Has(v) {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// FromEnv reads every vendor's <VENDOR>_QUOTA and <VENDOR>_INFLIGHT, DIALQ_QUOTA_TZ
// and DIALQ_INFLIGHT_LEASE. environ (os.Environ()) is scanned for quotas on vendors
// that do not exist: a variable FOO_QUOTA or FOO_INFLIGHT whose prefix is one word
// is refused, naming it (a typo such as NXCLUOD_QUOTA would otherwise leave the
// vendor unlimited). Every error names its variable.
func FromEnv(getenv func(string) string, environ []string) (*Config, error) {
	c := &Config{Vendors: map[string]Vendor{}, Lease: DefaultLease}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		for _, suffix := range []string{"_QUOTA", "_INFLIGHT"} {
			prefix, ok := strings.CutSuffix(name, suffix)
			if !ok || !oneWord(prefix) {
				continue
			}
			if !slices.Contains(registry.Names(), strings.ToLower(prefix)) {
				return nil, fmt.Errorf("%s: no vendor %q (vendors: %s); unset it or fix the name", name, strings.ToLower(prefix), strings.Join(registry.Names(), ", "))
			}
		}
	}
	for _, v := range registry.Names() {
		var vq Vendor
		name := strings.ToUpper(v) + "_QUOTA"
		if s := strings.TrimSpace(getenv(name)); s != "" {
			ws, err := ParseWindows(s)
			if err != nil {
				return nil, fmt.Errorf("%s=%q: %w", name, s, err)
			}
			vq.Windows = ws
		}
		name = strings.ToUpper(v) + "_INFLIGHT"
		if s := strings.TrimSpace(getenv(name)); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > MaxLimit {
				return nil, fmt.Errorf("%s=%q: want the most calls in flight, 1-%d (unset it for no limit)", name, s, MaxLimit)
			}
			vq.Inflight = n
		}
		if len(vq.Windows) > 0 || vq.Inflight > 0 {
			c.Vendors[v] = vq
		}
	}
	zone := strings.TrimSpace(getenv(EnvTZ))
	if zone == "" {
		zone = DefaultTZ
	}
	loc, err := window.Location(zone)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", EnvTZ, zone, err)
	}
	c.Zone = loc
	if s := strings.TrimSpace(getenv(EnvLease)); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second || d > time.Hour {
			return nil, fmt.Errorf("%s=%q: want a duration from 1s to 1h, such as 30s", EnvLease, s)
		}
		c.Lease = d
	}
	return c, nil
}

func oneWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// ParseWindows reads a comma list of N/<window>: N a positive count of numbers, the
// window a Go duration (1s to 366 days) or Nd for N days. Exactly one day (24h, 1d)
// resets at midnight; other windows slide.
func ParseWindows(s string) ([]Window, error) {
	var out []Window
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		ns, ws, ok := strings.Cut(item, "/")
		if !ok {
			return nil, fmt.Errorf("%q: want N/<window>, such as 5000/1m", item)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(ns), 10, 64)
		if err != nil || n < 1 || n > MaxLimit {
			return nil, fmt.Errorf("%q: the count must be a whole number from 1 to %d", item, MaxLimit)
		}
		d, err := parseWindow(strings.TrimSpace(ws))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", item, err)
		}
		w := Window{Limit: n, Len: d, Day: d == 24*time.Hour, Spec: specOf(d)}
		for _, prev := range out {
			if prev.Len == d {
				return nil, fmt.Errorf("%q: window %s given twice", item, w.Spec)
			}
		}
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Len < out[j].Len })
	return out, nil
}

func parseWindow(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 366 {
			return 0, fmt.Errorf("window %q: want a duration such as 1m, 1h, 24h or 1d", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("window %q: want a duration such as 1m, 1h, 24h or 1d", s)
		}
	}
	if d < MinWindow || d > MaxWindow {
		return 0, fmt.Errorf("window %q: must be from %s to 366 days", s, MinWindow)
	}
	if d%time.Millisecond != 0 {
		return 0, fmt.Errorf("window %q: whole milliseconds only", s)
	}
	return d, nil
}

// specOf writes d the short way: 1m, 90s, 24h, 7d.
func specOf(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0 && d != 24*time.Hour:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d%time.Second == 0:
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	return d.String()
}

// String writes the vendor's quotas back as the variables take them.
func (v Vendor) String() string {
	var parts []string
	for _, w := range v.Windows {
		parts = append(parts, fmt.Sprintf("%d/%s", w.Limit, w.Spec))
	}
	if v.Inflight > 0 {
		parts = append(parts, fmt.Sprintf("%d in flight", v.Inflight))
	}
	return strings.Join(parts, ", ")
}

// NextMidnight is the start of the day after t's, in loc (DST-safe).
func NextMidnight(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
}

// Day is t's calendar date in loc, yyyy-mm-dd.
func Day(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateOnly) }
