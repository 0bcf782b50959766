package campaign

import (
	"time"

	"github.com/dialq/dialq/compliance/window"
)

// MaxDailyCap bounds "daily_cap".
const MaxDailyCap = 100_000_000

// DailyCapOf is c's "daily_cap": at most that many numbers of the batch sent per
// calendar day; 0 means none.
func DailyCapOf(c Campaign) int {
	if d, ok := c.(interface{ dailyCap() int }); ok {
		return d.dailyCap()
	}
	return 0
}

func (c Common) dailyCap() int { return c.DailyCap }

// Zone is the campaign's own time zone (its compliance window's), or nil.
func Zone(c Campaign) *time.Location {
	cc := c.Compliance()
	if cc == nil || cc.Window == nil {
		return nil
	}
	loc, err := window.Location(cc.Window.Timezone)
	if err != nil {
		return nil
	}
	return loc
}

func checkDailyCap(c Campaign) error {
	d, ok := c.(interface{ dailyCap() int })
	if !ok {
		return nil
	}
	if n := d.dailyCap(); n < 0 || n > MaxDailyCap {
		return fieldErr("daily_cap", "must be 1-%d numbers a day (or left out for none), is %d", MaxDailyCap, n)
	}
	return nil
}
