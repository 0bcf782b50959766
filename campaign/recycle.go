package campaign

import (
	"fmt"
	"time"
)

// Recycle is a campaign's redial rule: a number whose latest result is one of On
// and whose attempts are below MaxAttempts is sent again After its last result.
// An answered number is never redialled.
type Recycle struct {
	// On lists the dispositions that are redialled: not_answered, not_called.
	On []string `json:"on"`
	// After is a Go duration ("2h"; seconds are allowed, for tests).
	After string `json:"after"`
	// MaxAttempts counts every attempt, the first included: 2 to 10.
	MaxAttempts int `json:"max_attempts"`
}

// Recycle limits.
const (
	MinRecycleAfter    = time.Second
	MaxRecycleAttempts = 10
)

// Delay is After as a duration (Validate has checked it).
func (r *Recycle) Delay() time.Duration {
	d, _ := time.ParseDuration(r.After)
	return d
}

// Redials reports whether a number whose latest result is disposition is redialled.
func (r *Recycle) Redials(disposition string) bool {
	for _, o := range r.On {
		if o == disposition {
			return true
		}
	}
	return false
}

// Validate checks the block; errors name the field (recycle.on[0], ...).
func (r *Recycle) Validate() error {
	if r == nil {
		return nil
	}
	if len(r.On) == 0 {
		return fieldErr("recycle.on", "required: not_answered and/or not_called")
	}
	seen := map[string]bool{}
	for i, o := range r.On {
		field := fmt.Sprintf("recycle.on[%d]", i)
		switch {
		case o == "answered":
			return fieldErr(field, "an answered number is never redialled")
		case o != "not_answered" && o != "not_called":
			return fieldErr(field, "%q: want not_answered or not_called", o)
		case seen[o]:
			return fieldErr(field, "%q repeated", o)
		}
		seen[o] = true
	}
	d, err := time.ParseDuration(r.After)
	if err != nil || d < MinRecycleAfter {
		return fieldErr("recycle.after", "%q: want a Go duration of at least 1s, such as 2h", r.After)
	}
	if r.MaxAttempts < 2 || r.MaxAttempts > MaxRecycleAttempts {
		return fieldErr("recycle.max_attempts", "must be 2-%d (the first attempt counts)", MaxRecycleAttempts)
	}
	return nil
}

// Recycling is the campaign's redial rule, nil when it has none.
func (c Common) Recycling() *Recycle { return c.Recycle }
