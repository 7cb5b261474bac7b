package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrUnsupportedCalendar is returned for a calendar expression outside the
// shorthand forms that ParseCalendar understands. systemd may still accept
// it; cron cannot be given it.
var ErrUnsupportedCalendar = errors.New("unsupported calendar expression")

// SupportedForms lists the calendar forms that ParseCalendar accepts, for
// error messages and help text.
const SupportedForms = "minutely, hourly, daily, weekly, monthly, yearly, HH:MM[:SS], *-*-* HH:MM[:SS]"

// every marks a field that matches every value.
const every = -1

// Calendar is a parsed calendar expression in one of the shorthand forms
// (see SupportedForms). Its zero value is not valid; use ParseCalendar.
type Calendar struct {
	expr    string
	month   int // 1-12 or every
	day     int // 1-31 or every
	weekday int // time.Weekday or every
	hour    int // 0-23 or every
	minute  int // 0-59 or every
	second  int // 0-59
}

var shorthands = map[string]Calendar{
	"minutely": {month: every, day: every, weekday: every, hour: every, minute: every},
	"hourly":   {month: every, day: every, weekday: every, hour: every},
	"daily":    {month: every, day: every, weekday: every},
	"weekly":   {month: every, day: every, weekday: int(time.Monday)},
	"monthly":  {month: every, day: 1, weekday: every},
	"yearly":   {month: 1, day: 1, weekday: every},
	"annually": {month: 1, day: 1, weekday: every},
}

// ParseCalendar parses expr, which must be one of SupportedForms with the
// meaning systemd gives it (systemd.time(7)). Other expressions return an
// error wrapping ErrUnsupportedCalendar.
func ParseCalendar(expr string) (Calendar, error) {
	s := strings.TrimSpace(expr)
	if c, ok := shorthands[s]; ok {
		c.expr = s
		return c, nil
	}
	clock := strings.TrimPrefix(s, "*-*-* ")
	parts := strings.Split(clock, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Calendar{}, fmt.Errorf("%w %q: use one of %s", ErrUnsupportedCalendar, expr, SupportedForms)
	}
	limits := []int{23, 59, 59}
	vals := []int{0, 0, 0}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || len(p) > 2 || n < 0 || n > limits[i] {
			return Calendar{}, fmt.Errorf("%w %q: use one of %s", ErrUnsupportedCalendar, expr, SupportedForms)
		}
		vals[i] = n
	}
	return Calendar{expr: s, month: every, day: every, weekday: every, hour: vals[0], minute: vals[1], second: vals[2]}, nil
}

// String returns the expression the calendar was parsed from.
func (c Calendar) String() string { return c.expr }

// Cron returns the five cron time fields (minute hour day month weekday)
// of c delayed by offset minutes. The offset must keep the start inside
// the same hour; cron has no seconds, so an expression with seconds other
// than 0 is refused.
func (c Calendar) Cron(offset int) (string, error) {
	if c.second != 0 {
		return "", fmt.Errorf("cannot express %q in cron: cron has no seconds", c.expr)
	}
	if offset < 0 || offset > 0 && (c.minute == every || c.minute+offset > 59) {
		return "", fmt.Errorf("cannot delay %q by %d minutes inside its hour", c.expr, offset)
	}
	field := func(v int) string {
		if v == every {
			return "*"
		}
		return strconv.Itoa(v)
	}
	minute := c.minute
	if minute != every {
		minute += offset
	}
	return strings.Join([]string{field(minute), field(c.hour), field(c.day), field(c.month), field(c.weekday)}, " "), nil
}

// parseCronFields is the inverse of Cron for the fields it writes: each a
// number or "*".
func parseCronFields(fields []string) (Calendar, error) {
	if len(fields) != 5 {
		return Calendar{}, fmt.Errorf("cron schedule needs 5 fields, got %d", len(fields))
	}
	limits := [][2]int{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}
	vals := make([]int, 5)
	for i, f := range fields {
		if f == "*" {
			vals[i] = every
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < limits[i][0] || n > limits[i][1] {
			return Calendar{}, fmt.Errorf("%w: cron field %q", ErrUnsupportedCalendar, f)
		}
		vals[i] = n
	}
	if vals[4] == 7 {
		vals[4] = int(time.Sunday)
	}
	return Calendar{expr: strings.Join(fields, " "), minute: vals[0], hour: vals[1], day: vals[2], month: vals[3], weekday: vals[4]}, nil
}

// Next returns the first time strictly after t that c matches, in t's
// location. Like systemd and cron, a day matches when both the day of the
// month and the weekday match (at most one of them is ever set here).
func (c Calendar) Next(t time.Time) time.Time {
	loc := t.Location()
	y, m, d := t.Date()
	// Eight years cover every leap-day and weekday combination.
	for i := 0; i < 8*366; i++ {
		day := time.Date(y, m, d+i, 0, 0, 0, 0, loc)
		if !c.matchDay(day) {
			continue
		}
		for h := 0; h < 24; h++ {
			if c.hour != every && h != c.hour {
				continue
			}
			for mi := 0; mi < 60; mi++ {
				if c.minute != every && mi != c.minute {
					continue
				}
				cand := time.Date(day.Year(), day.Month(), day.Day(), h, mi, c.second, 0, loc)
				// Skip times that do not exist on this day (a DST gap
				// normalizes them into another hour).
				if cand.Hour() != h || cand.Day() != day.Day() {
					continue
				}
				if cand.After(t) {
					return cand
				}
			}
		}
	}
	return time.Time{}
}

func (c Calendar) matchDay(day time.Time) bool {
	return (c.month == every || int(day.Month()) == c.month) &&
		(c.day == every || day.Day() == c.day) &&
		(c.weekday == every || int(day.Weekday()) == c.weekday)
}
