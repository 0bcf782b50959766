package quota

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// WindowUse is what one window holds now.
type WindowUse struct {
	Window string `json:"window"`
	Limit  int64  `json:"limit"`
	Used   int64  `json:"used"`
	// Day is true for a window that resets at midnight (Zone).
	Day bool `json:"resets_at_midnight,omitempty"`
	// NextFree is when the next numbers free (the oldest bucket leaves a sliding
	// window; midnight for a day), and NextFreeN how many; AllFree is when the
	// window is empty again. Nil when nothing is used.
	NextFree  *time.Time `json:"next_free,omitempty"`
	NextFreeN int64      `json:"next_free_numbers,omitempty"`
	AllFree   *time.Time `json:"all_free,omitempty"`
}

// VendorUse is one vendor's quotas and their use.
type VendorUse struct {
	Vendor  string      `json:"vendor"`
	Quota   string      `json:"quota"`
	Windows []WindowUse `json:"windows"`
	// Inflight and InflightLimit are the calls in flight under a lease and the
	// most allowed (0: no limit); LeaseEnds is when the first lease runs out.
	Inflight      int64      `json:"inflight,omitempty"`
	InflightLimit int        `json:"inflight_limit,omitempty"`
	LeaseEnds     *time.Time `json:"first_lease_ends,omitempty"`
}

// Usage reads every configured vendor's quotas as the take script counts them.
func (l *Limiter) Usage(ctx context.Context) ([]VendorUse, error) {
	now := l.now()
	var out []VendorUse
	for _, vendor := range l.cfg.VendorNames() {
		v := l.cfg.Vendors[vendor]
		keys, _ := l.args(vendor, v, now)
		// One vendor's keys share a slot: one pipeline, one node.
		p := l.rdb.Pipeline()
		sem := p.ZRangeByScoreWithScores(ctx, keys[0], &redis.ZRangeBy{Min: "(" + strconv.FormatInt(now.UnixMilli(), 10), Max: "+inf"})
		cmds := make([]redis.Cmder, len(v.Windows))
		for i, w := range v.Windows {
			if w.Day {
				cmds[i] = p.Get(ctx, keys[1+i])
			} else {
				cmds[i] = p.HGetAll(ctx, keys[1+i])
			}
		}
		if _, err := p.Exec(ctx); err != nil && err != redis.Nil {
			return nil, fmt.Errorf("%s quota: %w", vendor, err)
		}
		vu := VendorUse{Vendor: vendor, Quota: v.String(), InflightLimit: v.Inflight}
		if zs := sem.Val(); len(zs) > 0 {
			vu.Inflight = int64(len(zs))
			t := time.UnixMilli(int64(zs[0].Score)).UTC()
			vu.LeaseEnds = &t
		}
		for i, w := range v.Windows {
			wu := WindowUse{Window: w.Spec, Limit: w.Limit, Day: w.Day}
			if w.Day {
				wu.Used, _ = cmds[i].(*redis.StringCmd).Int64()
				if wu.Used > 0 {
					t := NextMidnight(now, l.cfg.Zone).UTC()
					wu.NextFree, wu.AllFree, wu.NextFreeN = &t, &t, wu.Used
				}
			} else {
				wu.Used, wu.NextFree, wu.NextFreeN, wu.AllFree = slideUse(cmds[i].(*redis.MapStringStringCmd).Val(), w, now)
			}
			vu.Windows = append(vu.Windows, wu)
		}
		out = append(out, vu)
	}
	return out, nil
}

// slideUse sums a sliding window's live buckets as takeScript does.
func slideUse(h map[string]string, w Window, now time.Time) (used int64, next *time.Time, nextN int64, all *time.Time) {
	g := bucketMS(w)
	minb := floorDiv(now.UnixMilli()-w.Len.Milliseconds(), g)
	oldest, newest := int64(-1), int64(-1)
	for f, v := range h {
		b, err1 := strconv.ParseInt(f, 10, 64)
		c, err2 := strconv.ParseInt(v, 10, 64)
		if err1 != nil || err2 != nil || b < minb || c <= 0 {
			continue
		}
		used += c
		if oldest < 0 || b < oldest {
			oldest, nextN = b, c
		}
		newest = max(newest, b)
	}
	if used == 0 {
		return 0, nil, 0, nil
	}
	n := time.UnixMilli((oldest+1)*g + w.Len.Milliseconds()).UTC()
	a := time.UnixMilli((newest+1)*g + w.Len.Milliseconds()).UTC()
	return used, &n, nextN, &a
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// PrintUsage writes use as a table.
func PrintUsage(w io.Writer, use []VendorUse, zone *time.Location) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VENDOR\tWINDOW\tUSED\tLIMIT\tNEXT FREES\tALL FREE")
	for _, v := range use {
		for _, wu := range v.Windows {
			kind := wu.Window
			if wu.Day {
				kind += " (day, " + zone.String() + ")"
			}
			next, all := "-", "-"
			if wu.NextFree != nil {
				next = fmt.Sprintf("%s (%d)", wu.NextFree.Format(time.RFC3339), wu.NextFreeN)
				all = wu.AllFree.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", v.Vendor, kind, wu.Used, wu.Limit, next, all)
		}
		if v.InflightLimit > 0 {
			next := "-"
			if v.LeaseEnds != nil {
				next = v.LeaseEnds.Format(time.RFC3339) + " (first lease ends)"
			}
			fmt.Fprintf(tw, "%s\tin flight\t%d\t%d\t%s\t-\n", v.Vendor, v.Inflight, v.InflightLimit, next)
		}
	}
	return tw.Flush()
}

// Collector reports dialq_quota_used and dialq_quota_limit{vendor,window} on each
// scrape, read from Redis (fleet-wide, not this worker's share); window "inflight"
// is the semaphore.
type Collector struct {
	l         *Limiter
	used, lim *prometheus.Desc
	timeout   time.Duration
}

// NewCollector returns the quota metrics of l.
func NewCollector(l *Limiter) *Collector {
	labels := []string{"vendor", "window"}
	return &Collector{l: l, timeout: 2 * time.Second,
		used: prometheus.NewDesc("dialq_quota_used", "Numbers taken from each vendor quota window across the fleet (window inflight: calls in flight).", labels, nil),
		lim:  prometheus.NewDesc("dialq_quota_limit", "Each vendor quota window's limit (window inflight: the most calls in flight).", labels, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.used; ch <- c.lim }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	use, err := c.l.Usage(ctx)
	if err != nil {
		// An invalid metric would fail the whole scrape (promhttp's default): a
		// Redis blip only leaves these series out of it.
		return
	}
	for _, v := range use {
		for _, w := range v.Windows {
			ch <- prometheus.MustNewConstMetric(c.used, prometheus.GaugeValue, float64(w.Used), v.Vendor, w.Window)
			ch <- prometheus.MustNewConstMetric(c.lim, prometheus.GaugeValue, float64(w.Limit), v.Vendor, w.Window)
		}
		if v.InflightLimit > 0 {
			ch <- prometheus.MustNewConstMetric(c.used, prometheus.GaugeValue, float64(v.Inflight), v.Vendor, "inflight")
			ch <- prometheus.MustNewConstMetric(c.lim, prometheus.GaugeValue, float64(v.InflightLimit), v.Vendor, "inflight")
		}
	}
}

// ErrNoQuota means no vendor has a quota where the command runs.
var ErrNoQuota = errors.New("no vendor quota is set here: set <VENDOR>_QUOTA or <VENDOR>_INFLIGHT as on the workers (README \"Vendor quotas\")")

// Report writes every configured vendor's quotas, their use and when each frees:
// a table, or one JSON object with asJSON. It is `enqueue quota`.
func Report(ctx context.Context, w io.Writer, rdb redis.UniversalClient, cfg *Config, asJSON bool) error {
	if len(cfg.VendorNames()) == 0 {
		return ErrNoQuota
	}
	use, err := New(rdb, cfg).Usage(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(w).Encode(struct {
			Zone    string      `json:"zone"`
			Vendors []VendorUse `json:"vendors"`
		}{cfg.Zone.String(), use})
	}
	return PrintUsage(w, use, cfg.Zone)
}
