package window

import (
	"testing"
	"time"
)

func mustParse(t *testing.T, tz string, days []string, from, to string) Window {
	t.Helper()
	w, err := Parse(tz, days, from, to)
	if err != nil {
		t.Fatalf("Parse(%q, %v, %q, %q): %v", tz, days, from, to, err)
	}
	return w
}

func at(t *testing.T, tz, s string) time.Time {
	t.Helper()
	loc, err := Location(tz)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var all = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, tz  string
		days      []string
		from, to  string
		wantField string
	}{
		{"no zone", "", all, "09:00", "20:00", "timezone"},
		{"bad zone", "Mars/Olympus", all, "09:00", "20:00", "timezone"},
		{"no days", "UTC", nil, "09:00", "20:00", "days"},
		{"bad day", "UTC", []string{"monday"}, "09:00", "20:00", "days"},
		{"repeated day", "UTC", []string{"mon", "Mon"}, "09:00", "20:00", "days"},
		{"bad from", "UTC", all, "9:00", "20:00", "from"},
		{"from 24", "UTC", all, "24:00", "20:00", "from"},
		{"bad to", "UTC", all, "09:00", "20:60", "to"},
		{"equal", "UTC", all, "09:00", "09:00", "to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.tz, tt.days, tt.from, tt.to)
			fe, ok := err.(*FieldError)
			if !ok || fe.Field != tt.wantField {
				t.Fatalf("Parse = %v; want a FieldError on %q", err, tt.wantField)
			}
		})
	}
	if _, err := Parse("UTC", all, "00:00", "24:00"); err != nil {
		t.Fatalf("00:00-24:00: %v", err)
	}
}

func TestNextOpen(t *testing.T) {
	shanghai := mustParse(t, "Asia/Shanghai", all, "09:00", "20:00")
	weekdays := mustParse(t, "Asia/Shanghai", []string{"mon", "tue", "wed", "thu", "fri"}, "09:00", "20:00")
	ny := mustParse(t, "America/New_York", all, "08:00", "21:00")
	nyWeekdays := mustParse(t, "America/New_York", []string{"mon", "tue", "wed", "thu", "fri"}, "08:00", "21:00")
	overnight := mustParse(t, "Europe/Berlin", []string{"fri"}, "22:00", "02:00")
	nyEarly := mustParse(t, "America/New_York", all, "01:00", "04:00")
	nyLate := mustParse(t, "UTC", all, "12:00", "23:00")
	tests := []struct {
		name     string
		w        Window
		now      time.Time
		zones    []string
		wantOpen bool
		wantAt   time.Time
	}{
		{"inside", shanghai, at(t, "Asia/Shanghai", "2026-12-03 10:00"), nil, true, time.Time{}},
		{"at from", shanghai, at(t, "Asia/Shanghai", "2026-12-03 09:00"), nil, true, time.Time{}},
		{"at to is closed", shanghai, at(t, "Asia/Shanghai", "2026-12-03 20:00"), nil, false, at(t, "Asia/Shanghai", "2026-12-04 09:00")},
		{"before from", shanghai, at(t, "Asia/Shanghai", "2026-12-03 08:59"), nil, false, at(t, "Asia/Shanghai", "2026-12-03 09:00")},
		{"same zone number", shanghai, at(t, "Asia/Shanghai", "2026-12-03 10:00"), []string{"Asia/Shanghai"}, true, time.Time{}},
		{"unknown zone ignored", shanghai, at(t, "Asia/Shanghai", "2026-12-03 10:00"), []string{"Etc/Unknown"}, true, time.Time{}},
		// Thursday 2026-12-03; Saturday after 20:00 waits for Monday.
		{"weekend waits for monday", weekdays, at(t, "Asia/Shanghai", "2026-12-05 21:00"), nil, false, at(t, "Asia/Shanghai", "2026-12-07 09:00")},
		{"friday evening", weekdays, at(t, "Asia/Shanghai", "2026-12-04 19:59"), nil, true, time.Time{}},
		// DST: New York springs forward on 2027-03-14 (02:00 -> 03:00), falls back 2026-11-01.
		{"dst spring forward day", ny, at(t, "America/New_York", "2027-03-14 07:30"), nil, false, at(t, "America/New_York", "2027-03-14 08:00")},
		{"dst spring forward in utc", ny, time.Date(2027, 3, 14, 11, 59, 0, 0, time.UTC), nil, false, time.Date(2027, 3, 14, 12, 0, 0, 0, time.UTC)},
		{"dst before spring forward in utc", ny, time.Date(2027, 3, 13, 12, 30, 0, 0, time.UTC), nil, false, time.Date(2027, 3, 13, 13, 0, 0, 0, time.UTC)},
		{"dst fall back day", ny, time.Date(2026, 11, 1, 12, 30, 0, 0, time.UTC), nil, false, time.Date(2026, 11, 1, 13, 0, 0, 0, time.UTC)},
		{"friday weekdays in ny", nyWeekdays, at(t, "America/New_York", "2026-12-04 21:00"), nil, false, at(t, "America/New_York", "2026-12-07 08:00")},
		// Midnight-spanning: the span opens Friday 22:00 and runs into Saturday.
		{"overnight saturday 01:00", overnight, at(t, "Europe/Berlin", "2026-12-05 01:00"), nil, true, time.Time{}},
		{"overnight saturday 02:00 closed", overnight, at(t, "Europe/Berlin", "2026-12-05 02:00"), nil, false, at(t, "Europe/Berlin", "2026-12-11 22:00")},
		{"overnight friday 01:00 closed", overnight, at(t, "Europe/Berlin", "2026-12-04 01:00"), nil, false, at(t, "Europe/Berlin", "2026-12-04 22:00")},
		{"overnight friday 23:59", overnight, at(t, "Europe/Berlin", "2026-12-04 23:59"), nil, true, time.Time{}},
		// Stricter reading: UTC 12-23 is open at 12:30 UTC, but for a New York number
		// it is 07:30 there; both agree from 17:00 UTC (12:00 EST).
		{"number zone stricter", nyLate, time.Date(2026, 12, 3, 12, 30, 0, 0, time.UTC), []string{"America/New_York"}, false, time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)},
		{"number zone open", nyLate, time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC), []string{"America/New_York"}, true, time.Time{}},
		{"two number zones", nyLate, time.Date(2026, 12, 3, 12, 30, 0, 0, time.UTC), []string{"America/Chicago", "America/New_York"}, false, time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)},
		{"never opens", shanghai, at(t, "Asia/Shanghai", "2026-12-03 10:00"), []string{"America/New_York"}, false, time.Time{}},
		{"never opens short", nyEarly, at(t, "America/New_York", "2026-12-03 10:00"), []string{"Asia/Tokyo"}, false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			open, got := tt.w.NextOpen(tt.now, tt.zones)
			if open != tt.wantOpen || !got.Equal(tt.wantAt) {
				t.Fatalf("%s NextOpen(%v, %v) = %v, %v; want %v, %v", tt.w, tt.now, tt.zones, open, got, tt.wantOpen, tt.wantAt)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	w := mustParse(t, "Asia/Shanghai", []string{"mon", "tue", "wed", "thu", "fri"}, "09:00", "20:00")
	day := mustParse(t, "UTC", all, "00:00", "24:00")
	overnight := mustParse(t, "UTC", all, "22:00", "06:00")
	tests := []struct {
		name       string
		w          Window
		start, end time.Time
		want       bool
	}{
		{"inside", w, at(t, "Asia/Shanghai", "2026-12-03 09:00"), at(t, "Asia/Shanghai", "2026-12-03 10:00"), true},
		{"last hour", w, at(t, "Asia/Shanghai", "2026-12-03 19:00"), at(t, "Asia/Shanghai", "2026-12-03 20:00"), true},
		{"past to", w, at(t, "Asia/Shanghai", "2026-12-03 19:30"), at(t, "Asia/Shanghai", "2026-12-03 20:30"), false},
		{"saturday", w, at(t, "Asia/Shanghai", "2026-12-05 10:00"), at(t, "Asia/Shanghai", "2026-12-05 11:00"), false},
		{"other zone", w, time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC), time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC), true},
		{"across midnight all day", day, time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC), time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC), true},
		{"overnight", overnight, time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC), time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC), true},
		{"overnight past", overnight, time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC), time.Date(2026, 12, 4, 7, 0, 0, 0, time.UTC), false},
		{"empty", w, at(t, "Asia/Shanghai", "2026-12-03 10:00"), at(t, "Asia/Shanghai", "2026-12-03 10:00"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.w.Covers(tt.start, tt.end); got != tt.want {
				t.Fatalf("%s Covers(%v, %v) = %v; want %v", tt.w, tt.start, tt.end, got, tt.want)
			}
		})
	}
}
