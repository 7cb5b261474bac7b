package schedule

import (
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Header is the first line of every file this package writes; a file
// without it is never overwritten or removed unless forced.
const Header = "# Written by godwit schedule install"

// DefaultRandomizedDelay spreads the start of the job over this window
// after the calendar time, so that many servers on one schedule do not hit
// the storage at the same second.
const DefaultRandomizedDelay = 30 * time.Minute

// cronPath is the PATH line of cron entries.
const cronPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var profileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ValidateProfile checks that name can be part of a systemd unit name, a
// cron.d file name (which cron ignores when it holds a dot) and a status
// file name: 1 to 64 letters, digits, '-' and '_', starting with a letter
// or digit.
func ValidateProfile(name string) error {
	if !profileName.MatchString(name) {
		return fmt.Errorf("invalid profile name %q: use 1 to 64 letters, digits, '-' and '_', starting with a letter or digit", name)
	}
	return nil
}

// Job is the periodic backup of one profile.
type Job struct {
	Profile  string // profile name, see ValidateProfile
	Config   string // absolute path of the profile file on the target system
	Binary   string // absolute path of the godwit binary on the target system
	Calendar string // systemd OnCalendar expression
	// RandomizedDelay is the window over which systemd delays each start
	// at random; cron gets a fixed offset inside it instead (see
	// CronOffset). Zero starts the job on the calendar time.
	RandomizedDelay time.Duration
}

func (j Job) validate() error {
	if err := ValidateProfile(j.Profile); err != nil {
		return err
	}
	if !filepath.IsAbs(j.Config) {
		return fmt.Errorf("profile file %q is not an absolute path", j.Config)
	}
	if !filepath.IsAbs(j.Binary) {
		return fmt.Errorf("godwit binary %q is not an absolute path", j.Binary)
	}
	if j.RandomizedDelay < 0 {
		return errors.New("randomized delay must not be negative")
	}
	if strings.ContainsAny(j.Calendar, "\n\r") {
		return fmt.Errorf("invalid calendar expression %q", j.Calendar)
	}
	return nil
}

func (j Job) args() []string {
	return []string{j.Binary, "--config", j.Config, "backup", "--profile", j.Profile}
}

// UnitName returns the name of the systemd units of profile, without the
// .service or .timer suffix.
func UnitName(profile string) string { return "godwit-" + profile }

// ServiceUnit returns the contents of the systemd service that runs the
// backup of j once.
func ServiceUnit(j Job) string {
	quoted := make([]string, 0, 6)
	for _, a := range j.args() {
		quoted = append(quoted, systemdQuote(a))
	}
	return Header + `; godwit schedule remove deletes it.
[Unit]
Description=godwit backup of profile ` + j.Profile + `
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=` + strings.Join(quoted, " ") + `
# Root reads every file and records its owner, mode, ACLs and xattrs.
User=root
Nice=10
IOSchedulingClass=idle
CPUSchedulingPolicy=batch
# Hardening that keeps every file readable: /home, /root and /etc are
# backed up, so neither ProtectHome nor ProtectSystem is set.
PrivateTmp=yes
NoNewPrivileges=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictRealtime=yes
LockPersonality=yes
`
}

// TimerUnit returns the contents of the systemd timer that starts the
// service of j on its calendar.
func TimerUnit(j Job) string {
	var delay string
	if j.RandomizedDelay > 0 {
		delay = "RandomizedDelaySec=" + systemdSpan(j.RandomizedDelay) + "\n"
	}
	return Header + `; godwit schedule remove deletes it.
[Unit]
Description=Scheduled godwit backup of profile ` + j.Profile + `

[Timer]
OnCalendar=` + j.Calendar + `
` + delay + `# Run a start missed while the machine was off as soon as it is up.
Persistent=true

[Install]
WantedBy=timers.target
`
}

// CronOffset returns the fixed delay in minutes that cron gets instead of
// systemd's random one: derived from the profile name, so it is stable
// across installs, and less than both the randomized delay and the
// minutes left in the calendar's hour. Minutely calendars get none.
func CronOffset(profile string, delay time.Duration, c Calendar) int {
	if c.minute == every {
		return 0
	}
	limit := min(int(delay/time.Minute), 60-c.minute)
	if limit <= 0 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(profile))
	return int(h.Sum32() % uint32(limit))
}

// CronEntry returns the contents of the cron.d file for j. The calendar
// must be one of SupportedForms; other expressions return an error
// wrapping ErrUnsupportedCalendar.
func CronEntry(j Job) (string, error) {
	c, err := ParseCalendar(j.Calendar)
	if err != nil {
		return "", fmt.Errorf("cannot convert to cron: %w", err)
	}
	offset := CronOffset(j.Profile, j.RandomizedDelay, c)
	fields, err := c.Cron(offset)
	if err != nil {
		return "", err
	}
	quoted := make([]string, 0, 6)
	for _, a := range j.args() {
		quoted = append(quoted, cronQuote(a))
	}
	return fmt.Sprintf(`%s; godwit schedule remove deletes it.
# Profile %s, calendar %q, started %d minutes late (fixed, from the profile name).
SHELL=/bin/sh
PATH=%s
%s root nice -n 10 ionice -c3 %s
`, Header, j.Profile, j.Calendar, offset, cronPath, fields, strings.Join(quoted, " ")), nil
}

// systemdSpan formats d as a systemd time span.
func systemdSpan(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dmin", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", (d+time.Millisecond-1)/time.Millisecond)
}

// systemdQuote quotes one ExecStart argument: specifiers (%) and
// variables ($) are escaped, and an argument with blanks or quotes is put
// in double quotes.
func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}

// cronQuote quotes one argument for the shell cron runs, and escapes %,
// which cron turns into a newline.
func cronQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@") == "" {
		return s
	}
	s = "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	return strings.ReplaceAll(s, "%", `\%`)
}
