package schedule

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func testJob() Job {
	return Job{
		Profile:         "mail",
		Config:          "/etc/godwit/godwit.toml",
		Binary:          "/usr/local/bin/godwit",
		Calendar:        "daily",
		RandomizedDelay: DefaultRandomizedDelay,
	}
}

// lines returns the lines of s as a set.
func lines(s string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		m[l] = true
	}
	return m
}

func TestServiceUnitKeyLines(t *testing.T) {
	unit := ServiceUnit(testJob())
	if !strings.HasPrefix(unit, Header) {
		t.Errorf("unit does not start with the header:\n%s", unit)
	}
	have := lines(unit)
	for _, want := range []string{
		"[Service]",
		"Type=oneshot",
		"ExecStart=/usr/local/bin/godwit --config /etc/godwit/godwit.toml backup --profile mail",
		"User=root",
		"Nice=10",
		"IOSchedulingClass=idle",
		"PrivateTmp=yes",
		"NoNewPrivileges=yes",
	} {
		if !have[want] {
			t.Errorf("service lacks line %q:\n%s", want, unit)
		}
	}
	for _, bad := range []string{"ProtectHome=", "ProtectSystem=", "ReadOnlyPaths=", "InaccessiblePaths="} {
		for l := range have {
			if strings.HasPrefix(l, bad) {
				t.Errorf("service has %q, which hides files from the backup", l)
			}
		}
	}
}

func TestTimerUnitKeyLines(t *testing.T) {
	unit := TimerUnit(testJob())
	have := lines(unit)
	for _, want := range []string{Header + "; godwit schedule remove deletes it.", "OnCalendar=daily", "RandomizedDelaySec=30min", "Persistent=true", "WantedBy=timers.target"} {
		if !have[want] {
			t.Errorf("timer lacks line %q:\n%s", want, unit)
		}
	}
	j := testJob()
	j.RandomizedDelay = 0
	if unit := TimerUnit(j); strings.Contains(unit, "RandomizedDelaySec") {
		t.Errorf("timer without delay has RandomizedDelaySec:\n%s", unit)
	}
}

func TestUnitsQuoteAwkwardPaths(t *testing.T) {
	j := testJob()
	j.Config = "/etc/god wit/100%.toml"
	j.Binary = "/opt/$bin/godwit"
	want := `ExecStart=/opt/$$bin/godwit --config "/etc/god wit/100%%.toml" backup --profile mail`
	if !lines(ServiceUnit(j))[want] {
		t.Errorf("service lacks %q:\n%s", want, ServiceUnit(j))
	}
	entry, err := CronEntry(j)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(entry, `ionice -c3 '/opt/$bin/godwit' --config '/etc/god wit/100\%.toml' backup --profile mail`) {
		t.Errorf("cron entry quotes wrongly:\n%s", entry)
	}
}

func TestCronEntryKeyLines(t *testing.T) {
	j := testJob()
	c, _ := ParseCalendar(j.Calendar)
	off := CronOffset(j.Profile, j.RandomizedDelay, c)
	entry, err := CronEntry(j)
	if err != nil {
		t.Fatal(err)
	}
	have := lines(entry)
	job := strings.Fields("X 0 * * * root nice -n 10 ionice -c3 /usr/local/bin/godwit --config /etc/godwit/godwit.toml backup --profile mail")
	job[0] = strconv.Itoa(off)
	for _, want := range []string{Header + "; godwit schedule remove deletes it.", "PATH=" + cronPath, strings.Join(job, " ")} {
		if !have[want] {
			t.Errorf("cron entry lacks %q:\n%s", want, entry)
		}
	}
}

func TestCronEntryRefusesUnconvertibleCalendars(t *testing.T) {
	for _, expr := range []string{"Mon..Fri 02:00", "*-*-01 03:00", "02:30:15", "quarterly"} {
		j := testJob()
		j.Calendar = expr
		if entry, err := CronEntry(j); err == nil {
			t.Errorf("%q converted to cron:\n%s", expr, entry)
		}
	}
}

func TestValidateProfile(t *testing.T) {
	for name, ok := range map[string]bool{
		"mail": true, "mail-2": true, "www_data": true, "A1": true, strings.Repeat("a", 64): true,
		"": false, "-mail": false, "_mail": false, "mail.old": false, "a/b": false, "..": false,
		"a b": false, "mail@x": false, strings.Repeat("a", 65): false, "m\n": false,
	} {
		if err := ValidateProfile(name); (err == nil) != ok {
			t.Errorf("ValidateProfile(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestGeneratedUnitsPassSystemdVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed; the units are not verified")
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	j := testJob()
	j.Binary = bin
	for name, body := range map[string]string{"godwit-mail.service": ServiceUnit(j), "godwit-mail.timer": TimerUnit(j)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(analyze, "verify", filepath.Join(dir, "godwit-mail.timer"), filepath.Join(dir, "godwit-mail.service")).CombinedOutput()
	// verify exits 0 on lines it ignores, so any output is a failure too.
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
