// Package policy is a campaign's compliance block as data: which suppression
// lists to check, the contact cap and the calling window, with their validation.
// It holds no Redis: campaign parses and validates it, compliance enforces it, and
// neither imports the other for it.
package policy

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/dialq/dialq/compliance/window"
)

// Compliance is a campaign's gate: which suppression lists to check, how often one
// number may be delivered across every batch and vendor, and when calls may be placed.
// A campaign without it behaves as before: no gate.
type Compliance struct {
	// Suppress names the suppression lists checked before every delivery.
	Suppress   []string    `json:"suppress,omitempty"`
	ContactCap *ContactCap `json:"contact_cap,omitempty"`
	Window     *Window     `json:"window,omitempty"`
}

// ContactCap allows at most Max deliveries of one number per Days days.
type ContactCap struct {
	Max  int `json:"max"`
	Days int `json:"days"`
}

// Window is when calls may be placed: Days (mon ... sun) From-To (HH:MM, "24:00"
// allowed as To; To <= From crosses midnight) in Timezone, and in the called
// number's own zones too (see package compliance/window).
type Window struct {
	Timezone string   `json:"timezone"`
	Days     []string `json:"days"`
	From     string   `json:"from"`
	To       string   `json:"to"`
}

// ListName is what a suppression list may be called.
var ListName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Limits of the contact cap: VICIdial's and Amazon Connect's ranges together.
const (
	MaxCapDays = 366
	MaxCapMax  = 1000
)

// Parse returns the window's compiled form.
func (w *Window) Parse() (window.Window, error) {
	return window.Parse(w.Timezone, w.Days, w.From, w.To)
}

// Validate checks the block; errors name the field (compliance.window.from, ...).
func (c *Compliance) Validate() error {
	if c == nil {
		return nil
	}
	seen := map[string]bool{}
	for i, l := range c.Suppress {
		if !ListName.MatchString(l) {
			return fieldErr(fmt.Sprintf("compliance.suppress[%d]", i), "%q: 1-32 lower-case letters, digits, '_' or '-'", l)
		}
		if seen[l] {
			return fieldErr(fmt.Sprintf("compliance.suppress[%d]", i), "%q repeated", l)
		}
		seen[l] = true
	}
	if cc := c.ContactCap; cc != nil {
		if cc.Max < 1 || cc.Max > MaxCapMax {
			return fieldErr("compliance.contact_cap.max", "must be 1-%d", MaxCapMax)
		}
		if cc.Days < 1 || cc.Days > MaxCapDays {
			return fieldErr("compliance.contact_cap.days", "must be 1-%d", MaxCapDays)
		}
	}
	if c.Window != nil {
		if _, err := c.Window.Parse(); err != nil {
			var fe *window.FieldError
			if errors.As(err, &fe) {
				return fieldErr("compliance.window."+fe.Field, "%s", fe.Reason)
			}
			return fieldErr("compliance.window", "%v", err)
		}
	}
	if len(c.Suppress) == 0 && c.ContactCap == nil && c.Window == nil {
		return fieldErr("compliance", "empty: name suppress lists, a contact_cap or a window (or leave the block out)")
	}
	return nil
}

// FieldError names the campaign field that breaks a rule.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return "campaign field " + e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
