// Package window is calling-window arithmetic: when a campaign may place a call,
// read in the campaign's time zone and in each of the called number's own zones.
// It is pure: no Redis, no clock of its own (the caller passes now).
//
// The rule: a window is a set of weekdays and a daily span [from, to) of wall-clock
// time. A span with to <= from crosses midnight: it opens at from on a listed day
// and closes at to on the next day (so "fri 22:00-02:00" includes Saturday 01:00
// but not Friday 01:00). The same rule is read in the campaign's zone and in every
// zone of the number; a call may be placed only at an instant that is inside the
// window in all of them (the stricter reading wins). Wall-clock times that do not
// exist on a DST change day (02:30 in New York on the spring-forward Sunday) are
// moved forward as time.Date does.
package window

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Window is a parsed calling window.
type Window struct {
	Loc  *time.Location
	Days [7]bool // indexed by time.Weekday
	// From and To are minutes after midnight; To may be 1440 ("24:00").
	From, To int
}

// DayNames are the accepted weekday names, indexed by time.Weekday.
var DayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// FieldError names the window field that is wrong ("timezone", "days", "from", "to").
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Parse builds a Window from its settings.
func Parse(timezone string, days []string, from, to string) (Window, error) {
	var w Window
	if timezone == "" {
		return w, &FieldError{"timezone", "required, an IANA zone such as Asia/Shanghai"}
	}
	loc, err := Location(timezone)
	if err != nil {
		return w, &FieldError{"timezone", fmt.Sprintf("%q is not an IANA time zone", timezone)}
	}
	w.Loc = loc
	if len(days) == 0 {
		return w, &FieldError{"days", "at least one day is required (mon ... sun)"}
	}
	for _, d := range days {
		i := dayIndex(d)
		if i < 0 {
			return w, &FieldError{"days", fmt.Sprintf("%q is not one of mon, tue, wed, thu, fri, sat, sun", d)}
		}
		if w.Days[i] {
			return w, &FieldError{"days", fmt.Sprintf("%q repeated", d)}
		}
		w.Days[i] = true
	}
	if w.From, err = clock(from, false); err != nil {
		return w, &FieldError{"from", err.Error()}
	}
	if w.To, err = clock(to, true); err != nil {
		return w, &FieldError{"to", err.Error()}
	}
	if w.From == w.To {
		return w, &FieldError{"to", "must differ from from"}
	}
	return w, nil
}

func dayIndex(d string) int {
	for i, n := range DayNames {
		if strings.EqualFold(d, n) {
			return i
		}
	}
	return -1
}

// clock parses "HH:MM"; "24:00" only when end is set.
func clock(s string, end bool) (int, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, errors.New("must be HH:MM")
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil {
		return 0, errors.New("must be HH:MM")
	}
	if end && h == 24 && m == 0 {
		return 1440, nil
	}
	if h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, errors.New("must be 00:00-23:59")
	}
	return h*60 + m, nil
}

var locs sync.Map // name -> *time.Location; LoadLocation reads zoneinfo every time

// Location is time.LoadLocation, cached.
func Location(name string) (*time.Location, error) {
	if l, ok := locs.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locs.Store(name, l)
	return l, nil
}

// span is a half-open interval of instants.
type span struct{ start, end time.Time }

// spans lists the window's open spans read in loc that end after lo and start before hi.
func (w Window) spans(loc *time.Location, lo, hi time.Time) []span {
	var out []span
	d := lo.In(loc)
	// Start a day early: a span that crosses midnight may have opened yesterday.
	day := time.Date(d.Year(), d.Month(), d.Day()-1, 0, 0, 0, 0, loc)
	for ; day.Before(hi); day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc) {
		if !w.Days[day.Weekday()] {
			continue
		}
		s := time.Date(day.Year(), day.Month(), day.Day(), 0, w.From, 0, 0, loc)
		endDay := day.Day()
		if w.To <= w.From {
			endDay++
		}
		e := time.Date(day.Year(), day.Month(), endDay, 0, w.To, 0, 0, loc)
		if !e.After(lo) || !s.Before(hi) || !e.After(s) {
			continue
		}
		if n := len(out); n > 0 && !s.After(out[n-1].end) {
			// Touching spans (00:00-24:00 on consecutive days) are one.
			out[n-1].end = later(out[n-1].end, e)
			continue
		}
		out = append(out, span{s, e})
	}
	return out
}

// intersect returns the instants in both a and b; both sorted and disjoint.
func intersect(a, b []span) []span {
	var out []span
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		s, e := later(a[i].start, b[j].start), earlier(a[i].end, b[j].end)
		if s.Before(e) {
			out = append(out, span{s, e})
		}
		if a[i].end.Before(b[j].end) {
			i++
		} else {
			j++
		}
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Horizon is how far ahead NextOpen looks: two weeks covers every weekly pattern
// and the DST shift between two zones.
const Horizon = 15 * 24 * time.Hour

// ErrNeverOpens means the window read in all the zones has no common instant
// within Horizon (e.g. 09:00-20:00 in Asia/Shanghai and in America/New_York).
var ErrNeverOpens = errors.New("calling window never opens in all the zones")

// NextOpen reports whether a call may be placed at now, and if not, the first
// instant it may. numberZones are the called number's IANA zones (unknown or
// unparsable zones are ignored: the campaign zone still applies). When the zones
// never share an open instant within Horizon, open is false and at is zero.
func (w Window) NextOpen(now time.Time, numberZones []string) (open bool, at time.Time) {
	hi := now.Add(Horizon)
	common := w.spans(w.Loc, now, hi)
	for _, z := range Zones(numberZones) {
		if z.String() == w.Loc.String() {
			continue
		}
		common = intersect(common, w.spans(z, now, hi))
	}
	for _, s := range common {
		if !s.start.After(now) && s.end.After(now) {
			return true, time.Time{}
		}
		if s.start.After(now) {
			return false, s.start
		}
	}
	return false, time.Time{}
}

// Zones loads the named zones, skipping unknown ones and duplicates, sorted by name.
func Zones(names []string) []*time.Location {
	seen := map[string]bool{}
	var out []*time.Location
	for _, n := range names {
		if n == "" || seen[n] || strings.HasPrefix(n, "Etc/Unknown") {
			continue
		}
		seen[n] = true
		if l, err := Location(n); err == nil {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Covers reports whether every instant of [start, end) is inside the window read in
// its own zone: how a vendor's own call times are checked against the window.
func (w Window) Covers(start, end time.Time) bool {
	if !end.After(start) {
		return false
	}
	for _, s := range w.spans(w.Loc, start, end) {
		if !s.start.After(start) && !s.end.Before(end) {
			return true
		}
	}
	return false
}

// String is the window as settings would write it.
func (w Window) String() string {
	var days []string
	for i, on := range w.Days {
		if on {
			days = append(days, DayNames[i])
		}
	}
	return fmt.Sprintf("%s %s %02d:%02d-%02d:%02d", w.Loc, strings.Join(days, ","), w.From/60, w.From%60, w.To/60, w.To%60)
}
