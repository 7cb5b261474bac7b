package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/internal/schedule"
)

const scheduleProfiles = `[profiles.mail]
repository = "/srv/repo"
sources = ["/etc", "/var/mail"]
schedule = "*-*-* 03:30:00"

[profiles.www]
repository = "/srv/repo"
sources = ["/var/www"]
`

// scheduleRoot returns a system root holding the profile file at
// /etc/godwit/godwit.toml, with /etc/systemd/system when systemd is set,
// and points the CLI's GODWIT_CONFIG at that file.
func scheduleRoot(t *testing.T, c *cli, systemd bool) string {
	t.Helper()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/godwit/godwit.toml"), []byte(scheduleProfiles))
	if systemd {
		if err := os.MkdirAll(filepath.Join(root, "etc/systemd/system"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c.env["GODWIT_CONFIG"] = "/etc/godwit/godwit.toml"
	return root
}

// runAt runs godwit like c.run with the clock stopped at now.
func runAt(c *cli, now time.Time, args ...string) result {
	c.t.Helper()
	return c.runClock(func() time.Time { return now }, args...)
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestScheduleInstallWritesSystemdUnitsFromProfileSchedule(t *testing.T) {
	c := newCLI(t)
	root := scheduleRoot(t, c, true)
	r := c.run("schedule", "install", "--profile", "mail", "--root", root).must(t, 0)
	if !strings.Contains(r.stdout, "systemctl --root="+root+" enable godwit-mail.timer") {
		t.Errorf("output does not say how to enable the timer:\n%s", r.stdout)
	}
	dir := filepath.Join(root, "etc/systemd/system")
	timer := readText(t, filepath.Join(dir, "godwit-mail.timer"))
	for _, want := range []string{"\nOnCalendar=*-*-* 03:30:00\n", "\nRandomizedDelaySec=30min\n", "\nPersistent=true\n"} {
		if !strings.Contains(timer, want) {
			t.Errorf("timer lacks %q:\n%s", strings.TrimSpace(want), timer)
		}
	}
	service := readText(t, filepath.Join(dir, "godwit-mail.service"))
	if !strings.Contains(service, " --config /etc/godwit/godwit.toml backup --profile mail\n") || !strings.Contains(service, "\nIOSchedulingClass=idle\n") {
		t.Errorf("service:\n%s", service)
	}
}

func TestScheduleInstallWritesCronEntryWithoutSystemd(t *testing.T) {
	c := newCLI(t)
	root := scheduleRoot(t, c, false)
	writeFile(t, filepath.Join(root, "srv/godwit.toml"), []byte(scheduleProfiles))
	c.run("--config", "/srv/godwit.toml", "schedule", "install", "--profile", "www", "--on-calendar", "daily", "--randomized-delay", "0", "--root", root).must(t, 0)
	entry := readText(t, filepath.Join(root, "etc/cron.d/godwit-www"))
	if !strings.HasPrefix(entry, schedule.Header) || !strings.Contains(entry, "\n0 0 * * * root nice -n 10 ionice -c3 ") ||
		!strings.HasSuffix(entry, " --config /srv/godwit.toml backup --profile www\n") {
		t.Errorf("cron entry:\n%s", entry)
	}
}

func TestScheduleInstallRefusals(t *testing.T) {
	cases := []struct {
		name    string
		systemd bool
		args    []string
		code    int
		stderr  string
	}{
		{"calendar cron cannot express", true, []string{"--profile", "mail", "--cron", "--on-calendar", "Mon..Fri 02:00"}, 1, "cron cannot run"},
		{"invalid calendar", true, []string{"--profile", "mail", "--on-calendar", "bogus"}, 1, "invalid calendar expression"},
		{"profile the file lacks", true, []string{"--profile", "db", "--on-calendar", "daily"}, 1, "no such profile"},
		{"profile without schedule", true, []string{"--profile", "www"}, 2, "has no schedule"},
		{"unsafe profile name", true, []string{"--profile", "../x", "--on-calendar", "daily"}, 2, "invalid profile name"},
		{"no profile", true, []string{"--on-calendar", "daily"}, 2, "--profile NAME is required"},
		{"both kinds", true, []string{"--profile", "mail", "--cron", "--systemd"}, 2, "cannot be used together"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			root := scheduleRoot(t, c, tc.systemd)
			r := c.run(append([]string{"schedule", "install", "--root", root}, tc.args...)...).must(t, tc.code)
			if !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.stderr)
			}
			for _, p := range []string{"etc/cron.d", "etc/systemd/system/godwit-mail.timer", "etc/systemd/system/godwit-db.timer"} {
				if _, err := os.Stat(filepath.Join(root, p)); err == nil {
					t.Errorf("%s written", p)
				}
			}
		})
	}
}

func TestScheduleInstallKeepsForeignCronFileUnlessForced(t *testing.T) {
	c := newCLI(t)
	root := scheduleRoot(t, c, false)
	path := filepath.Join(root, "etc/cron.d/godwit-mail")
	writeFile(t, path, []byte("30 3 * * * root /usr/local/bin/old-backup\n"))
	r := c.run("schedule", "install", "--profile", "mail", "--root", root).must(t, 1)
	if !strings.Contains(r.stderr, "not written by godwit") || !strings.Contains(r.stderr, "--force") {
		t.Errorf("stderr: %s", r.stderr)
	}
	c.run("schedule", "remove", "--profile", "mail", "--root", root).must(t, 1)
	if got := readText(t, path); !strings.Contains(got, "old-backup") {
		t.Fatalf("foreign file changed:\n%s", got)
	}
	c.run("schedule", "install", "--profile", "mail", "--root", root, "--force").must(t, 0)
	if got := readText(t, path); !strings.HasPrefix(got, schedule.Header) {
		t.Errorf("--force did not replace the file:\n%s", got)
	}
}

func TestScheduleRemoveIsIdempotent(t *testing.T) {
	c := newCLI(t)
	root := scheduleRoot(t, c, true)
	c.run("schedule", "install", "--profile", "mail", "--root", root).must(t, 0)
	r := c.run("schedule", "remove", "--profile", "mail", "--root", root).must(t, 0)
	if strings.Count(r.stdout, "removed ") != 3 { // the headline and two files
		t.Errorf("remove output:\n%s", r.stdout)
	}
	ents, _ := os.ReadDir(filepath.Join(root, "etc/systemd/system"))
	if len(ents) != 0 {
		t.Errorf("left %d files in etc/systemd/system", len(ents))
	}
	r = c.run("schedule", "remove", "--profile", "mail", "--root", root).must(t, 0)
	if !strings.Contains(r.stdout, "no schedule is installed for profile mail") {
		t.Errorf("second remove output:\n%s", r.stdout)
	}
	r = c.run("--json", "schedule", "remove", "--profile", "mail", "--root", root).must(t, 0)
	var out struct {
		Profile string   `json:"profile"`
		Removed []string `json:"removed"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Profile != "mail" || out.Removed == nil || len(out.Removed) != 0 {
		t.Errorf("remove --json: %+v, %v\n%s", out, err, r.stdout)
	}
}

func TestScheduleStatusShowsNextAndLastRun(t *testing.T) {
	c := newCLI(t)
	root := scheduleRoot(t, c, true)
	c.run("schedule", "install", "--profile", "mail", "--root", root).must(t, 0)
	c.run("schedule", "install", "--profile", "www", "--cron", "--on-calendar", "hourly", "--randomized-delay", "0", "--root", root).must(t, 0)
	last := schedule.Status{
		Start:      time.Date(2024, 5, 1, 3, 41, 0, 0, time.UTC),
		End:        time.Date(2024, 5, 1, 3, 43, 30, 0, time.UTC),
		ExitCode:   3,
		SnapshotID: "4f2a9c1e",
		Error:      "2 files could not be read",
	}
	if err := schedule.WriteStatus(schedule.StatusDirIn(root), "mail", last); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 5, 1, 12, 10, 0, 0, time.UTC)

	r := runAt(c, now, "schedule", "status", "--root", root).must(t, 0)
	for _, want := range []string{
		"mail: systemd, *-*-* 03:30:00",
		"next run:   2024-05-02 03:30:00 UTC (plus up to 30min random delay)",
		"incomplete (exit 3, took 2m30s), snapshot 4f2a9c1e",
		"last error: 2 files could not be read",
		"www: cron, 0 * * * *",
		"next run:   2024-05-01 13:00:00 UTC",
		"last run:   never recorded",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}

	r = runAt(c, now, "--json", "schedule", "status", "--root", root, "--profile", "mail").must(t, 0)
	var out struct {
		Schedules []struct {
			Profile  string           `json:"profile"`
			Kind     string           `json:"kind"`
			Calendar string           `json:"calendar"`
			Delay    string           `json:"randomized_delay"`
			Files    []string         `json:"files"`
			NextRun  *time.Time       `json:"next_run"`
			Last     *schedule.Status `json:"last"`
		} `json:"schedules"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	if len(out.Schedules) != 1 {
		t.Fatalf("schedules %+v, want only mail", out.Schedules)
	}
	s := out.Schedules[0]
	if s.Profile != "mail" || s.Kind != "systemd" || s.Calendar != "*-*-* 03:30:00" || s.Delay != "30min" || len(s.Files) != 2 {
		t.Errorf("entry %+v", s)
	}
	if want := time.Date(2024, 5, 2, 3, 30, 0, 0, time.UTC); s.NextRun == nil || !s.NextRun.Equal(want) {
		t.Errorf("next_run %v, want %v", s.NextRun, want)
	}
	if s.Last == nil || s.Last.ExitCode != 3 || s.Last.SnapshotID != "4f2a9c1e" || !s.Last.End.Equal(last.End) {
		t.Errorf("last %+v", s.Last)
	}
}

func TestScheduleStatusWithNothingInstalled(t *testing.T) {
	c := newCLI(t)
	root := t.TempDir()
	r := c.run("schedule", "status", "--root", root).must(t, 0)
	if !strings.Contains(r.stdout, "no schedules are installed") {
		t.Errorf("status: %s", r.stdout)
	}
	r = c.run("--json", "schedule", "status", "--root", root).must(t, 0)
	if strings.TrimSpace(r.stdout) != `{
  "schedules": []
}` {
		t.Errorf("status --json: %s", r.stdout)
	}
}
