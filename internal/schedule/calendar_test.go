package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
)

func TestCalendarConvertsShorthandsToCron(t *testing.T) {
	cases := []struct{ expr, cron string }{
		{"minutely", "* * * * *"},
		{"hourly", "0 * * * *"},
		{"daily", "0 0 * * *"},
		{"weekly", "0 0 * * 1"},
		{"monthly", "0 0 1 * *"},
		{"yearly", "0 0 1 1 *"},
		{"annually", "0 0 1 1 *"},
		{"02:30", "30 2 * * *"},
		{"7:05", "5 7 * * *"},
		{"02:30:00", "30 2 * * *"},
		{"*-*-* 23:05", "5 23 * * *"},
		{"*-*-* 23:05:00", "5 23 * * *"},
	}
	for _, tc := range cases {
		c, err := ParseCalendar(tc.expr)
		if err != nil {
			t.Fatalf("ParseCalendar(%q): %v", tc.expr, err)
		}
		got, err := c.Cron(0)
		if err != nil {
			t.Fatalf("%q: Cron: %v", tc.expr, err)
		}
		if got != tc.cron {
			t.Errorf("%q: cron %q, want %q", tc.expr, got, tc.cron)
		}
	}
}

func TestParseCalendarRefusesOtherForms(t *testing.T) {
	for _, expr := range []string{
		"", "bogus", "Mon *-*-* 03:00", "Mon..Fri 02:00", "quarterly", "*-*-01 00:00",
		"24:00", "12:60", "12:00:60", "-1:00", "1:2:3:4", "02:3x", "002:30", "Daily",
	} {
		_, err := ParseCalendar(expr)
		if !errors.Is(err, ErrUnsupportedCalendar) {
			t.Errorf("ParseCalendar(%q) = %v, want ErrUnsupportedCalendar", expr, err)
		}
	}
}

func TestCronRefusesSecondsAndOffsetsPastTheHour(t *testing.T) {
	c, _ := ParseCalendar("02:30:15")
	if _, err := c.Cron(0); err == nil {
		t.Error("02:30:15 converted to cron, want an error (cron has no seconds)")
	}
	c, _ = ParseCalendar("02:50")
	if _, err := c.Cron(10); err == nil {
		t.Error("02:50 delayed by 10 minutes converted, want an error")
	}
	c, _ = ParseCalendar("minutely")
	if _, err := c.Cron(1); err == nil {
		t.Error("minutely delayed by 1 minute converted, want an error")
	}
	c, _ = ParseCalendar("daily")
	if got, err := c.Cron(17); err != nil || got != "17 0 * * *" {
		t.Errorf("daily delayed by 17 minutes = %q, %v; want \"17 0 * * *\"", got, err)
	}
}

func TestCalendarNextFromFixedClock(t *testing.T) {
	// A Wednesday, the day before a leap day.
	now := time.Date(2024, 2, 28, 23, 59, 30, 0, time.UTC)
	cases := []struct {
		expr string
		want time.Time
	}{
		{"minutely", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"hourly", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"daily", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"weekly", time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)},
		{"monthly", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"yearly", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"23:59:45", time.Date(2024, 2, 28, 23, 59, 45, 0, time.UTC)},
		{"23:59:30", time.Date(2024, 2, 29, 23, 59, 30, 0, time.UTC)},
		{"*-*-* 06:00", time.Date(2024, 2, 29, 6, 0, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		c, err := ParseCalendar(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Next(now); !got.Equal(tc.want) {
			t.Errorf("%q: next after %v = %v, want %v", tc.expr, now, got, tc.want)
		}
	}
}

func TestCalendarNextSkipsTimeMissingInDSTGap(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// 02:30 does not exist on 2024-03-31 in Berlin.
	c, _ := ParseCalendar("02:30")
	got := c.Next(time.Date(2024, 3, 31, 0, 0, 0, 0, berlin))
	want := time.Date(2024, 4, 1, 2, 30, 0, 0, berlin)
	if !got.Equal(want) {
		t.Errorf("next = %v, want %v", got, want)
	}
}

func TestCronFieldsGiveTheSameNextRunAsTheCalendar(t *testing.T) {
	now := time.Date(2023, 12, 31, 12, 34, 56, 0, time.UTC)
	for expr := range shorthands {
		c, _ := ParseCalendar(expr)
		fields, err := c.Cron(0)
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseCronFields(strings.Fields(fields))
		if err != nil {
			t.Fatalf("%q: parse %q: %v", expr, fields, err)
		}
		if a, b := c.Next(now), back.Next(now); !a.Equal(b) {
			t.Errorf("%q: calendar next %v, cron %q next %v", expr, a, fields, b)
		}
	}
}

func TestCronOffsetStaysInsideDelayAndHour(t *testing.T) {
	cases := []struct {
		profile string
		delay   time.Duration
		expr    string
		limit   int // offset must be < limit; 1 means it must be 0
	}{
		{"mail", 30 * time.Minute, "daily", 30},
		{"www", 30 * time.Minute, "hourly", 30},
		{"mail", 2 * time.Hour, "daily", 60},
		{"mail", 30 * time.Minute, "23:50", 10},
		{"mail", 30 * time.Minute, "23:59", 1},
		{"mail", 0, "daily", 1},
		{"mail", 30 * time.Second, "daily", 1},
		{"mail", 30 * time.Minute, "minutely", 1},
	}
	for _, tc := range cases {
		c, _ := ParseCalendar(tc.expr)
		got := CronOffset(tc.profile, tc.delay, c)
		if got < 0 || got >= tc.limit {
			t.Errorf("CronOffset(%q, %v, %q) = %d, want in [0, %d)", tc.profile, tc.delay, tc.expr, got, tc.limit)
		}
		if again := CronOffset(tc.profile, tc.delay, c); again != got {
			t.Errorf("CronOffset(%q) not stable: %d then %d", tc.profile, got, again)
		}
	}
}

func TestCronOffsetDiffersBetweenProfiles(t *testing.T) {
	c, _ := ParseCalendar("daily")
	seen := map[int]bool{}
	for _, p := range []string{"mail", "www", "etc", "db", "home", "spool"} {
		seen[CronOffset(p, time.Hour, c)] = true
	}
	if len(seen) < 2 {
		t.Errorf("six profiles got %d distinct offsets, want them spread", len(seen))
	}
}
