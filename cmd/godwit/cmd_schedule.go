package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/godwit-backup/godwit/internal/profile"
	"github.com/godwit-backup/godwit/internal/schedule"
)

func newScheduleCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Run a profile's backup periodically with a systemd timer or cron",
		Long: `Install, remove and inspect the periodic backup of a profile. Where systemd
is installed godwit writes a service and a timer to /etc/systemd/system;
elsewhere it writes an entry to /etc/cron.d. The job runs as root (so that
every file and its ownership can be read) at low CPU and I/O priority.

--root DIR works on the system image under DIR instead of this system and
never runs systemctl. See docs/scheduling.md.`,
	}
	cmd.AddCommand(newScheduleInstallCommand(e), newScheduleRemoveCommand(e), newScheduleStatusCommand(e))
	return cmd
}

// scheduleConfigPath returns the absolute path of the profile file the
// scheduled job will use: --config, GODWIT_CONFIG, or the default.
func (e *env) scheduleConfigPath() (string, error) {
	path := e.config
	if path == "" {
		path = e.getenv("GODWIT_CONFIG")
	}
	if path == "" {
		path = profile.DefaultPath
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("profile file: %w", err)
	}
	return abs, nil
}

func newScheduleInstallCommand(e *env) *cobra.Command {
	var (
		name, calendar, root, binary string
		delay                        time.Duration
		useCron, useSystemd, force   bool
	)
	cmd := &cobra.Command{
		Use:   "install --profile NAME [--on-calendar EXPR]",
		Short: "Write a systemd timer or cron entry that backs up a profile",
		Long: `Write the periodic job that runs 'godwit --config FILE backup --profile NAME'.
The calendar is --on-calendar or the profile's schedule setting, a systemd
OnCalendar expression; cron takes only ` + schedule.SupportedForms + `.

systemd is used when /run/systemd/system or /etc/systemd/system exists under
--root, cron otherwise; --systemd and --cron choose. On this system with
systemd running, the timer is enabled and started at once; otherwise godwit
prints the command to run. Each start is delayed by a random time up to
--randomized-delay (cron: a fixed delay derived from the profile name).
Files that godwit did not write are not replaced without --force.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if useCron && useSystemd {
				return &usageError{"--cron and --systemd cannot be used together"}
			}
			if err := checkProfileFlag(name); err != nil {
				return err
			}
			if delay < 0 {
				return &usageError{"--randomized-delay must not be negative"}
			}
			root, err := filepath.Abs(root)
			if err != nil {
				return err
			}
			config, err := e.scheduleConfigPath()
			if err != nil {
				return err
			}
			if calendar, err = e.profileCalendar(root, config, name, calendar); err != nil {
				return err
			}
			if binary == "" {
				if binary, err = os.Executable(); err != nil {
					return fmt.Errorf("find the godwit binary (use --binary): %w", err)
				}
				if resolved, err := filepath.EvalSymlinks(binary); err == nil {
					binary = resolved
				}
			}
			sys := schedule.NewSystem(root)
			kind := sys.Detect()
			switch {
			case useCron:
				kind = schedule.Cron
			case useSystemd:
				kind = schedule.Systemd
			}
			job := schedule.Job{Profile: name, Config: config, Binary: binary, Calendar: calendar, RandomizedDelay: delay}
			rep, err := sys.Install(cmd.Context(), job, kind, force)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(struct {
					Profile  string `json:"profile"`
					Calendar string `json:"calendar"`
					schedule.Report
				}{name, calendar, rep})
			}
			e.info("installed %s schedule for profile %s: %s\n", kind, name, calendar)
			e.printReport(rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "profile", "", "back up profile `NAME` (required)")
	f.StringVar(&calendar, "on-calendar", "", "systemd calendar `EXPR` such as daily or 03:30 (default: the profile's schedule)")
	f.DurationVar(&delay, "randomized-delay", schedule.DefaultRandomizedDelay, "delay each start by up to `DURATION` (0 to start on time)")
	f.StringVar(&root, "root", "/", "install into the system under `DIR`")
	f.StringVar(&binary, "binary", "", "`PATH` of godwit on the target system (default: this binary)")
	f.BoolVar(&useCron, "cron", false, "write a cron entry even where systemd is installed")
	f.BoolVar(&useSystemd, "systemd", false, "write systemd units even where systemd is not detected")
	f.BoolVar(&force, "force", false, "replace files that godwit did not write")
	return cmd
}

// profileCalendar checks that the profile file under root defines name
// and returns the calendar to use: given, or the profile's schedule. A
// profile file that does not exist yet is only a warning when a calendar
// is given.
func (e *env) profileCalendar(root, config, name, given string) (string, error) {
	file, err := profile.Load(filepath.Join(root, config))
	if errors.Is(err, fs.ErrNotExist) && given != "" {
		e.warn("profile file %s does not exist; the scheduled backup fails until it does\n", config)
		return given, nil
	}
	if err != nil {
		return "", err
	}
	p, err := file.Profile(name)
	if err != nil {
		return "", err
	}
	if given != "" {
		return given, nil
	}
	if p.Schedule == "" {
		return "", &usageError{fmt.Sprintf("profile %s has no schedule in %s: set schedule there or give --on-calendar", name, config)}
	}
	return p.Schedule, nil
}

func newScheduleRemoveCommand(e *env) *cobra.Command {
	var (
		name, root string
		force      bool
	)
	cmd := &cobra.Command{
		Use:   "remove --profile NAME",
		Short: "Remove the scheduled backup of a profile",
		Long: `Remove the timer and service, or the cron entry, that 'schedule install'
wrote for the profile. On this system with systemd running the timer is
disabled and stopped first. Removing a schedule that is not installed
succeeds and says so. Files that godwit did not write are kept unless
--force.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkProfileFlag(name); err != nil {
				return err
			}
			root, err := filepath.Abs(root)
			if err != nil {
				return err
			}
			rep, err := schedule.NewSystem(root).Remove(cmd.Context(), name, force)
			if err != nil {
				return err
			}
			if e.json {
				if rep.Removed == nil {
					rep.Removed = []string{}
				}
				return e.printJSON(struct {
					Profile string `json:"profile"`
					schedule.Report
					Removed []string `json:"removed"`
				}{name, rep, rep.Removed})
			}
			if len(rep.Removed) == 0 {
				e.info("no schedule is installed for profile %s; nothing removed\n", name)
				return nil
			}
			e.info("removed %s schedule for profile %s\n", rep.Kind, name)
			e.printReport(rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "profile", "", "profile `NAME` (required)")
	f.StringVar(&root, "root", "/", "remove from the system under `DIR`")
	f.BoolVar(&force, "force", false, "remove files that godwit did not write")
	return cmd
}

func checkProfileFlag(name string) error {
	if name == "" {
		return &usageError{"--profile NAME is required"}
	}
	if err := schedule.ValidateProfile(name); err != nil {
		return &usageError{err.Error()}
	}
	return nil
}

func (e *env) printReport(rep schedule.Report) {
	for _, p := range rep.Removed {
		e.info("  removed %s\n", p)
	}
	for _, p := range rep.Written {
		e.info("  wrote   %s\n", p)
	}
	for _, c := range rep.Ran {
		e.info("  ran     %s\n", c)
	}
	if len(rep.ToRun) > 0 {
		e.info("to make it take effect, run:\n")
		for _, c := range rep.ToRun {
			e.info("  %s\n", c)
		}
	}
}

func newScheduleStatusCommand(e *env) *cobra.Command {
	var name, root string
	cmd := &cobra.Command{
		Use:   "status [--profile NAME]",
		Short: "Show installed schedules with their next and last run",
		Long: `List the schedules that 'schedule install' wrote, or only that of --profile:
how each runs, its calendar, the next run (from systemd when it is running,
otherwise computed from the calendar, before any randomized delay) and the
last run as the backup recorded it in /var/lib/godwit/status.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if name != "" {
				if err := schedule.ValidateProfile(name); err != nil {
					return &usageError{err.Error()}
				}
			}
			root, err := filepath.Abs(root)
			if err != nil {
				return err
			}
			sys := schedule.NewSystem(root)
			sys.StatusDir = e.statusDir(root)
			entries, err := sys.Status(cmd.Context(), name, e.now())
			if err != nil {
				return err
			}
			if e.json {
				if entries == nil {
					entries = []schedule.Entry{}
				}
				return e.printJSON(map[string]any{"schedules": entries})
			}
			if len(entries) == 0 {
				if name != "" {
					e.info("no schedule is installed for profile %s\n", name)
				} else {
					e.info("no schedules are installed\n")
				}
				return nil
			}
			for i, en := range entries {
				if i > 0 {
					e.info("\n")
				}
				e.printEntry(en)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "profile", "", "show only profile `NAME`")
	f.StringVar(&root, "root", "/", "inspect the system under `DIR`")
	return cmd
}

func (e *env) printEntry(en schedule.Entry) {
	const layout = "2006-01-02 15:04:05 MST"
	e.info("%s: %s, %s\n", en.Profile, en.Kind, en.Calendar)
	next := "unknown"
	if en.NextRun != nil {
		next = en.NextRun.Format(layout)
		if en.Delay != "" && en.Unit == nil {
			next += " (plus up to " + en.Delay + " random delay)"
		}
	}
	e.info("  next run:   %s\n", next)
	if en.Last == nil {
		e.info("  last run:   never recorded\n")
	} else {
		l := en.Last
		line := fmt.Sprintf("%s, %s (exit %d", l.Start.Local().Format(layout), l.Result(), l.ExitCode)
		if !l.End.IsZero() {
			line += ", took " + l.End.Sub(l.Start).Round(time.Second).String()
		}
		line += ")"
		if l.SnapshotID != "" {
			line += ", snapshot " + l.SnapshotID
		}
		e.info("  last run:   %s\n", line)
		if l.Error != "" {
			e.info("  last error: %s\n", l.Error)
		}
	}
	if en.Unit != nil {
		e.info("  service:    result %s, exit status %s, last started %s\n", orNone(en.Unit["Result"]), orNone(en.Unit["ExecMainStatus"]), orNone(en.Unit["ActiveEnterTimestamp"]))
	}
	e.info("  files:      %s\n", strings.Join(en.Files, " "))
}

func orNone(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

// statusDir is where profile runs record their last status under the
// system root root: /var/lib/godwit/status under root, or on the running
// system ("/") GODWIT_STATUS_DIR when that is set.
func (e *env) statusDir(root string) string {
	if d := e.getenv("GODWIT_STATUS_DIR"); d != "" && filepath.Clean(root) == "/" {
		return d
	}
	return schedule.StatusDirIn(root)
}
