package campaign

import (
	"time"

	"github.com/dialq/dialq/compliance/policy"
	"github.com/dialq/dialq/compliance/window"
)

// The compliance block lives in package compliance/policy (pure data and its
// validation), which compliance uses too; these names keep campaign's API.
type (
	Compliance = policy.Compliance
	ContactCap = policy.ContactCap
	Window     = policy.Window
)

// ListName is what a suppression list may be called.
var ListName = policy.ListName

// Limits of the contact cap.
const (
	MaxCapDays = policy.MaxCapDays
	MaxCapMax  = policy.MaxCapMax
)

// Compliance returns the campaign's gate, or nil when it has none.
func (c Common) Compliance() *Compliance { return c.Gate }

// vendorZone is where the Chinese vendors read their own time fields (FlashAI
// callHour/callDate, speech exec times): China Standard Time.
const vendorZone = "Asia/Shanghai"

// checkWindow refuses vendor time fields that lie outside the compliance window.
// spans are the vendor's own calling spans, read in the vendor's zone.
func (c Common) checkWindow(field string, spans func(loc *time.Location) ([][2]time.Time, error)) error {
	if c.Gate == nil || c.Gate.Window == nil {
		return nil
	}
	w, err := c.Gate.Window.Parse()
	if err != nil {
		return nil // Validate of the block reports it
	}
	loc, err := window.Location(vendorZone)
	if err != nil {
		return fieldErr(field, "cannot load %s: %v", vendorZone, err)
	}
	ss, err := spans(loc)
	if err != nil {
		return err
	}
	for _, s := range ss {
		if !w.Covers(s[0], s[1]) {
			return fieldErr(field, "%s-%s (%s) lies outside compliance.window %s",
				s[0].Format("2006-01-02 15:04"), s[1].Format("15:04"), vendorZone, w)
		}
	}
	return nil
}

// maxSpanDays bounds how many days of a speech task's date range are checked: the
// weekly pattern and a year of DST changes are covered.
const maxSpanDays = 400

// flashaiSpans are the hours of call_date the plan dials.
func (c *FlashAI) windowSpans(loc *time.Location) ([][2]time.Time, error) {
	d, err := time.ParseInLocation("20060102", c.CallDate, loc)
	if err != nil {
		return nil, nil // reported by Validate
	}
	var out [][2]time.Time
	for _, h := range c.CallHours {
		s := time.Date(d.Year(), d.Month(), d.Day(), h, 0, 0, 0, loc)
		out = append(out, [2]time.Time{s, s.Add(time.Hour)})
	}
	return out, nil
}

// windowSpans are the speech task's exec times on each day of its date range.
func (c *Speech) windowSpans(loc *time.Location) ([][2]time.Time, error) {
	start, err1 := time.ParseInLocation(time.DateOnly, c.ExecStartDate, loc)
	end, err2 := time.ParseInLocation(time.DateOnly, c.ExecEndDate, loc)
	if err1 != nil || err2 != nil {
		return nil, nil
	}
	var out [][2]time.Time
	for d, n := start, 0; !d.After(end) && n < maxSpanDays; d, n = d.AddDate(0, 0, 1), n+1 {
		for _, et := range c.ExecTimes {
			s, err1 := time.Parse(time.TimeOnly, et.Start)
			e, err2 := time.Parse(time.TimeOnly, et.End)
			if err1 != nil || err2 != nil {
				return nil, nil
			}
			out = append(out, [2]time.Time{
				time.Date(d.Year(), d.Month(), d.Day(), s.Hour(), s.Minute(), s.Second(), 0, loc),
				time.Date(d.Year(), d.Month(), d.Day(), e.Hour(), e.Minute(), e.Second(), 0, loc),
			})
		}
	}
	return out, nil
}

// windowSpans is the instant Yccall numbers become callable (a minute from it).
func (c *Yccall) windowSpans(*time.Location) ([][2]time.Time, error) {
	if c.CallTime == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, c.CallTime)
	if err != nil {
		return nil, nil
	}
	return [][2]time.Time{{t, t.Add(time.Minute)}}, nil
}
