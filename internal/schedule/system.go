package schedule

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind says how a job is scheduled.
type Kind string

const (
	Systemd Kind = "systemd" // a service and a timer in /etc/systemd/system
	Cron    Kind = "cron"    // an entry in /etc/cron.d
)

// ErrForeign is returned when a file to be written or removed exists but
// does not start with Header: godwit did not write it.
var ErrForeign = errors.New("file was not written by godwit")

// Runner runs a command and returns its combined output. An error wraps
// exec.ErrNotFound when the command is not installed.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// ExecRunner runs commands with os/exec.
func ExecRunner(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out, nil
}

// System is a system root on which jobs are installed. Its methods are
// not safe for concurrent use on the same profile.
type System struct {
	// Root is the system root; "/" for the running system.
	Root string
	// Live says that systemd manages Root right now, so that systemctl
	// may be run to reload, enable, disable and query units.
	Live bool
	// Run runs systemd-analyze (to check calendar expressions, on any
	// root) and systemctl (only when Live). Nil runs nothing: calendar
	// expressions must then be one of SupportedForms.
	Run Runner
	// StatusDir is where profile runs record their last status;
	// StatusDirIn(Root) when empty.
	StatusDir string
}

// NewSystem returns the System for root, live when root is "/" and
// systemd is booted (/run/systemd/system exists), running commands with
// ExecRunner.
func NewSystem(root string) *System {
	live := false
	if filepath.Clean(root) == "/" {
		if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
			live = true
		}
	}
	return &System{Root: root, Live: live, Run: ExecRunner, StatusDir: StatusDirIn(root)}
}

func (s *System) path(p string) string { return filepath.Join(s.Root, p) }

func (s *System) unitDir() string { return s.path("/etc/systemd/system") }

// files returns the paths of the files a job of profile has, of each kind.
func (s *System) files(kind Kind, profile string) []string {
	if kind == Cron {
		return []string{s.path("/etc/cron.d/" + UnitName(profile))}
	}
	base := filepath.Join(s.unitDir(), UnitName(profile))
	return []string{base + ".service", base + ".timer"}
}

// Detect returns the kind of job the root supports: Systemd when
// ROOT/run/systemd/system exists (systemd is running) or
// ROOT/etc/systemd/system is a directory (systemd is installed), Cron
// otherwise.
func (s *System) Detect() Kind {
	if s.Live || isDir(s.path("/run/systemd/system")) || isDir(s.unitDir()) {
		return Systemd
	}
	return Cron
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Report says what Install or Remove did and what is left to the user.
type Report struct {
	Kind    Kind     `json:"kind,omitempty"`
	Written []string `json:"written,omitempty"` // files written
	Removed []string `json:"removed,omitempty"` // files removed
	Ran     []string `json:"ran,omitempty"`     // commands run
	ToRun   []string `json:"to_run,omitempty"`  // commands the user must run for the change to take effect
}

// CheckCalendar checks expr for kind. For systemd it asks
// `systemd-analyze calendar` when Run is set and the command is installed,
// and otherwise accepts SupportedForms; cron accepts SupportedForms only
// and, for a valid systemd expression it cannot express, says so.
func (s *System) CheckCalendar(ctx context.Context, kind Kind, expr string) error {
	if strings.TrimSpace(expr) == "" {
		return errors.New("empty calendar expression")
	}
	if strings.ContainsAny(expr, "\n\r") {
		return fmt.Errorf("invalid calendar expression %q", expr)
	}
	_, perr := ParseCalendar(expr)
	if kind == Cron {
		if perr != nil {
			return fmt.Errorf("cron cannot run %q: it takes only %s", expr, SupportedForms)
		}
		return nil
	}
	if s.Run != nil {
		out, err := s.Run(ctx, "systemd-analyze", "calendar", expr)
		if err == nil {
			return nil
		}
		if !errors.Is(err, exec.ErrNotFound) {
			msg := strings.TrimSpace(string(out))
			if msg == "" {
				msg = err.Error()
			}
			return fmt.Errorf("invalid calendar expression %q: %s", expr, msg)
		}
	}
	if perr != nil {
		return fmt.Errorf("invalid calendar expression %q: without systemd-analyze only %s are accepted", expr, SupportedForms)
	}
	return nil
}

// Install writes the files of j for kind, replacing files this package
// wrote before, and removes a job of the other kind for the same profile
// that this package wrote. A file of the same name without Header is an
// error wrapping ErrForeign unless force is set. When s is Live and kind is
// Systemd, it reloads systemd and enables and starts the timer; otherwise
// the Report lists the commands to run. Files written before an error stay.
func (s *System) Install(ctx context.Context, j Job, kind Kind, force bool) (Report, error) {
	rep := Report{Kind: kind}
	if err := j.validate(); err != nil {
		return rep, err
	}
	if err := s.CheckCalendar(ctx, kind, j.Calendar); err != nil {
		return rep, err
	}
	var contents []string
	switch kind {
	case Systemd:
		contents = []string{ServiceUnit(j), TimerUnit(j)}
	case Cron:
		entry, err := CronEntry(j)
		if err != nil {
			return rep, err
		}
		contents = []string{entry}
	default:
		return rep, fmt.Errorf("unknown schedule kind %q", kind)
	}
	paths := s.files(kind, j.Profile)
	for _, p := range paths {
		if err := checkOurs(p, force); err != nil {
			return rep, err
		}
	}
	other := Cron
	if kind == Cron {
		other = Systemd
	}
	var stale []string
	for _, p := range s.files(other, j.Profile) {
		if ours, err := isOurs(p); err == nil && ours {
			stale = append(stale, p)
		}
	}
	if len(stale) > 0 {
		r, err := s.remove(ctx, other, j.Profile, stale)
		rep.Removed, rep.Ran, rep.ToRun = r.Removed, r.Ran, r.ToRun
		if err != nil {
			return rep, err
		}
	}
	for i, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return rep, fmt.Errorf("install: %w", err)
		}
		if err := writeAtomic(p, []byte(contents[i]), 0o644); err != nil {
			return rep, err
		}
		rep.Written = append(rep.Written, p)
	}
	if kind != Systemd {
		return rep, nil
	}
	timer := UnitName(j.Profile) + ".timer"
	cmds := [][]string{{"systemctl", "daemon-reload"}, {"systemctl", "enable", "--now", timer}}
	if !s.Live {
		if filepath.Clean(s.Root) == "/" {
			rep.ToRun = append(rep.ToRun, strings.Join(cmds[0], " "), strings.Join(cmds[1], " "))
		} else {
			rep.ToRun = append(rep.ToRun, "systemctl --root="+s.Root+" enable "+timer)
		}
		return rep, nil
	}
	return rep, s.runAll(ctx, &rep, cmds)
}

// Remove removes the job of profile of either kind: when s is Live it
// disables and stops the timer first, then deletes the files and reloads
// systemd. A file without Header is an error wrapping ErrForeign unless
// force is set. Removing a profile with nothing installed is not an error:
// the Report is empty.
func (s *System) Remove(ctx context.Context, profile string, force bool) (Report, error) {
	var rep Report
	if err := ValidateProfile(profile); err != nil {
		return rep, err
	}
	// Check every file before removing any.
	present := make(map[Kind][]string)
	for _, kind := range []Kind{Systemd, Cron} {
		for _, p := range s.files(kind, profile) {
			if _, err := os.Lstat(p); err != nil {
				continue
			}
			if err := checkOurs(p, force); err != nil {
				return rep, err
			}
			present[kind] = append(present[kind], p)
		}
	}
	for _, kind := range []Kind{Systemd, Cron} {
		if len(present[kind]) == 0 {
			continue
		}
		r, err := s.remove(ctx, kind, profile, present[kind])
		rep.Kind = kind
		rep.Removed = append(rep.Removed, r.Removed...)
		rep.Ran = append(rep.Ran, r.Ran...)
		rep.ToRun = append(rep.ToRun, r.ToRun...)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// remove deletes paths, the files of a kind job of profile, that were
// checked already.
func (s *System) remove(ctx context.Context, kind Kind, profile string, paths []string) (Report, error) {
	var rep Report
	timer := UnitName(profile) + ".timer"
	if kind == Systemd && s.Live {
		if err := s.runAll(ctx, &rep, [][]string{{"systemctl", "disable", "--now", timer}}); err != nil {
			return rep, err
		}
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rep, fmt.Errorf("remove: %w", err)
		}
		rep.Removed = append(rep.Removed, p)
	}
	if kind != Systemd {
		return rep, nil
	}
	// An enabled timer leaves a symlink that now points nowhere.
	link := filepath.Join(s.unitDir(), "timers.target.wants", timer)
	if fi, err := os.Lstat(link); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if err := os.Remove(link); err != nil {
			return rep, fmt.Errorf("remove: %w", err)
		}
		rep.Removed = append(rep.Removed, link)
	}
	if s.Live {
		return rep, s.runAll(ctx, &rep, [][]string{{"systemctl", "daemon-reload"}})
	}
	if filepath.Clean(s.Root) == "/" {
		rep.ToRun = append(rep.ToRun, "systemctl daemon-reload")
	}
	return rep, nil
}

func (s *System) runAll(ctx context.Context, rep *Report, cmds [][]string) error {
	if s.Run == nil {
		return errors.New("no command runner for a live system")
	}
	for _, c := range cmds {
		out, err := s.Run(ctx, c[0], c[1:]...)
		if err != nil {
			if msg := strings.TrimSpace(string(out)); msg != "" {
				return fmt.Errorf("%w: %s", err, msg)
			}
			return err
		}
		rep.Ran = append(rep.Ran, strings.Join(c, " "))
	}
	return nil
}

// checkOurs returns nil when path does not exist, starts with Header, or
// force is set; otherwise an error wrapping ErrForeign.
func checkOurs(path string, force bool) error {
	ours, err := isOurs(path)
	if errors.Is(err, fs.ErrNotExist) || ours || force {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s: %w (use --force to replace it)", path, ErrForeign)
}

func isOurs(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	return strings.HasPrefix(line, Header), nil
}

// Entry describes one installed job.
type Entry struct {
	Profile  string   `json:"profile"`
	Kind     Kind     `json:"kind"`
	Calendar string   `json:"calendar"` // OnCalendar expression, or the cron time fields
	Delay    string   `json:"randomized_delay,omitempty"`
	Files    []string `json:"files"`
	// NextRun is the next start, from systemd when Live, otherwise
	// computed from the calendar (for systemd without the random delay);
	// nil when neither knows it.
	NextRun *time.Time `json:"next_run,omitempty"`
	// Last is the outcome of the last backup run, nil when none was
	// recorded.
	Last *Status `json:"last,omitempty"`
	// Unit holds properties of the service from systemctl show; only when
	// Live.
	Unit map[string]string `json:"unit,omitempty"`
}

// Status lists the jobs this package installed on s, sorted by profile and
// kind, or only those of profile when it is not empty. now is the time
// from which NextRun is computed. A job whose files cannot be parsed is
// listed with what could be read.
func (s *System) Status(ctx context.Context, profile string, now time.Time) ([]Entry, error) {
	if profile != "" {
		if err := ValidateProfile(profile); err != nil {
			return nil, err
		}
	}
	var entries []Entry
	timers, _ := filepath.Glob(filepath.Join(s.unitDir(), "godwit-*.timer"))
	crons, _ := filepath.Glob(s.path("/etc/cron.d/godwit-*"))
	for _, p := range append(timers, crons...) {
		name := filepath.Base(p)
		kind := Cron
		if strings.HasSuffix(name, ".timer") {
			kind = Systemd
			name = strings.TrimSuffix(name, ".timer")
		}
		prof := strings.TrimPrefix(name, "godwit-")
		if ValidateProfile(prof) != nil || profile != "" && prof != profile {
			continue
		}
		if ours, err := isOurs(p); err != nil || !ours {
			continue
		}
		e, err := s.entry(ctx, kind, prof, p, now)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, k int) bool {
		if entries[i].Profile != entries[k].Profile {
			return entries[i].Profile < entries[k].Profile
		}
		return entries[i].Kind < entries[k].Kind
	})
	return entries, nil
}

func (s *System) entry(ctx context.Context, kind Kind, profile, path string, now time.Time) (Entry, error) {
	e := Entry{Profile: profile, Kind: kind}
	for _, p := range s.files(kind, profile) {
		if _, err := os.Stat(p); err == nil {
			e.Files = append(e.Files, p)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return e, fmt.Errorf("status: %w", err)
	}
	var cal *Calendar
	if kind == Systemd {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "OnCalendar="); ok {
				e.Calendar = v
			}
			if v, ok := strings.CutPrefix(line, "RandomizedDelaySec="); ok {
				e.Delay = v
			}
		}
		if c, err := ParseCalendar(e.Calendar); err == nil {
			cal = &c
		}
	} else {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 6 && f[5] == "root" && !strings.HasPrefix(f[0], "#") {
				e.Calendar = strings.Join(f[:5], " ")
				if c, err := parseCronFields(f[:5]); err == nil {
					cal = &c
				}
			}
		}
	}
	if cal != nil {
		if t := cal.Next(now); !t.IsZero() {
			e.NextRun = &t
		}
	}
	dir := s.StatusDir
	if dir == "" {
		dir = StatusDirIn(s.Root)
	}
	if st, err := ReadStatus(dir, profile); err == nil {
		e.Last = &st
	} else if !errors.Is(err, fs.ErrNotExist) {
		return e, err
	}
	if kind == Systemd && s.Live {
		if err := s.liveState(ctx, &e); err != nil {
			return e, err
		}
	}
	return e, nil
}

// liveState asks systemd for the next elapse of the timer and the result
// of the last run of the service.
func (s *System) liveState(ctx context.Context, e *Entry) error {
	if s.Run == nil {
		return errors.New("no command runner for a live system")
	}
	unit := UnitName(e.Profile)
	out, err := s.Run(ctx, "systemctl", "show", "-p", "NextElapseUSecRealtime", unit+".timer")
	if err != nil {
		return err
	}
	props := parseProps(out)
	e.NextRun = nil
	if t, ok := parseSystemdTime(props["NextElapseUSecRealtime"]); ok {
		e.NextRun = &t
	}
	out, err = s.Run(ctx, "systemctl", "show", "-p", "Result,ExecMainStatus,ActiveEnterTimestamp", unit+".service")
	if err != nil {
		return err
	}
	e.Unit = parseProps(out)
	return nil
}

func parseProps(out []byte) map[string]string {
	m := make(map[string]string)
	for _, line := range bytes.Split(out, []byte("\n")) {
		if k, v, ok := strings.Cut(string(line), "="); ok {
			m[k] = v
		}
	}
	return m
}

// parseSystemdTime parses a timestamp as systemctl show prints it
// ("Mon 2024-01-01 03:00:00 UTC", or "@1704078000" with
// --timestamp=unix); empty or "n/a" means none.
func parseSystemdTime(v string) (time.Time, bool) {
	if sec, ok := strings.CutPrefix(v, "@"); ok {
		n, err := strconv.ParseInt(sec, 10, 64)
		return time.Unix(n, 0), err == nil
	}
	t, err := time.ParseInLocation("Mon 2006-01-02 15:04:05 MST", v, time.Local)
	return t, err == nil
}
