package schedule

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSystemd records the commands it is asked to run and answers
// systemctl show with props; systemd-analyze is "not installed".
type fakeSystemd struct {
	calls []string
	props map[string]string
	// before, when set, is called before each command.
	before func(cmd string)
}

func (f *fakeSystemd) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := strings.Join(append([]string{name}, args...), " ")
	if f.before != nil {
		f.before(cmd)
	}
	if name == "systemd-analyze" {
		return nil, &exec.Error{Name: name, Err: exec.ErrNotFound}
	}
	f.calls = append(f.calls, cmd)
	if len(args) > 0 && args[0] == "show" {
		var b strings.Builder
		for _, p := range strings.Split(args[2], ",") {
			b.WriteString(p + "=" + f.props[p] + "\n")
		}
		return []byte(b.String()), nil
	}
	return nil, nil
}

func systemdRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func TestDetectPicksSystemdOnlyWhereItIsInstalledOrRunning(t *testing.T) {
	for _, tc := range []struct {
		dirs []string
		want Kind
	}{
		{nil, Cron},
		{[]string{"etc/cron.d"}, Cron},
		{[]string{"etc/systemd/system"}, Systemd},
		{[]string{"run/systemd/system", "etc/cron.d"}, Systemd},
	} {
		root := t.TempDir()
		for _, d := range tc.dirs {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if got := (&System{Root: root}).Detect(); got != tc.want {
			t.Errorf("dirs %v: %s, want %s", tc.dirs, got, tc.want)
		}
	}
}

func TestInstallUnderRootWritesUnitsAndRunsNoSystemctl(t *testing.T) {
	root := systemdRoot(t)
	f := &fakeSystemd{}
	s := &System{Root: root, Run: f.run}
	rep, err := s.Install(context.Background(), testJob(), Systemd, false)
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(root, "etc/systemd/system/godwit-mail")
	if len(rep.Written) != 2 || rep.Written[0] != unit+".service" || rep.Written[1] != unit+".timer" {
		t.Errorf("written %v", rep.Written)
	}
	for _, p := range rep.Written {
		b, err := os.ReadFile(p)
		if err != nil || !strings.HasPrefix(string(b), Header) {
			t.Errorf("%s: %v, content:\n%s", p, err, b)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("ran %v under --root", f.calls)
	}
	want := "systemctl --root=" + root + " enable godwit-mail.timer"
	if len(rep.ToRun) != 1 || rep.ToRun[0] != want {
		t.Errorf("to run %v, want [%s]", rep.ToRun, want)
	}
}

func TestInstallCronWritesEntry(t *testing.T) {
	root := t.TempDir()
	s := &System{Root: root}
	rep, err := s.Install(context.Background(), testJob(), s.Detect(), false)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "etc/cron.d/godwit-mail")
	if rep.Kind != Cron || len(rep.Written) != 1 || rep.Written[0] != p || len(rep.ToRun) != 0 {
		t.Errorf("report %+v", rep)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := CronEntry(testJob())
	if string(b) != want {
		t.Errorf("cron.d file:\n%s\nwant:\n%s", b, want)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 (cron ignores group- or world-writable files)", fi.Mode().Perm())
	}
}

func TestInstallRefusesBadCalendarsAndWritesNothing(t *testing.T) {
	cases := []struct {
		kind Kind
		expr string
	}{
		{Cron, "Mon..Fri 02:00"},
		{Cron, "02:30:15"},
		{Cron, "bogus"},
		{Systemd, "bogus"},
		{Systemd, ""},
		{Systemd, "daily\nExecStart=/bin/sh"},
	}
	for _, tc := range cases {
		root := systemdRoot(t)
		j := testJob()
		j.Calendar = tc.expr
		f := &fakeSystemd{}
		_, err := (&System{Root: root, Run: f.run}).Install(context.Background(), j, tc.kind, false)
		if err == nil {
			t.Errorf("%s %q: installed", tc.kind, tc.expr)
		}
		for _, p := range []string{"etc/cron.d/godwit-mail", "etc/systemd/system/godwit-mail.timer"} {
			if exists(filepath.Join(root, p)) {
				t.Errorf("%s %q: %s written", tc.kind, tc.expr, p)
			}
		}
	}
}

func TestSystemdAnalyzeJudgesCalendarsBeyondShorthands(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed; only the shorthand forms are checked")
	}
	s := &System{Root: t.TempDir(), Run: ExecRunner}
	ctx := context.Background()
	if err := s.CheckCalendar(ctx, Systemd, "Mon..Fri *-*-* 02:00"); err != nil {
		t.Errorf("weekday range refused: %v", err)
	}
	if err := s.CheckCalendar(ctx, Systemd, "bogus"); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("bogus: %v, want an error naming it", err)
	}
	if err := s.CheckCalendar(ctx, Cron, "Mon..Fri *-*-* 02:00"); err == nil || !strings.Contains(err.Error(), "cron") {
		t.Errorf("weekday range for cron: %v, want a refusal", err)
	}
}

func TestInstallAndRemoveLeaveForeignFilesAlone(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "etc/cron.d/godwit-mail")
	foreign := "0 4 * * * root /usr/local/bin/my-own-backup\n"
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(foreign), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &System{Root: root}
	ctx := context.Background()
	if _, err := s.Install(ctx, testJob(), Cron, false); !errors.Is(err, ErrForeign) {
		t.Errorf("install over foreign file: %v, want ErrForeign", err)
	}
	if _, err := s.Remove(ctx, "mail", false); !errors.Is(err, ErrForeign) {
		t.Errorf("remove of foreign file: %v, want ErrForeign", err)
	}
	if b, _ := os.ReadFile(p); string(b) != foreign {
		t.Fatalf("foreign file changed:\n%s", b)
	}
	if entries, err := s.Status(ctx, "", time.Now()); err != nil || len(entries) != 0 {
		t.Errorf("status lists foreign file: %+v, %v", entries, err)
	}
	if _, err := s.Install(ctx, testJob(), Cron, true); err != nil {
		t.Fatalf("install --force: %v", err)
	}
	if ours, _ := isOurs(p); !ours {
		t.Error("install --force did not replace the foreign file")
	}
}

func TestInstallReplacesItsOwnFilesAndSwitchesKind(t *testing.T) {
	root := systemdRoot(t)
	s := &System{Root: root}
	ctx := context.Background()
	if _, err := s.Install(ctx, testJob(), Systemd, false); err != nil {
		t.Fatal(err)
	}
	j := testJob()
	j.Calendar = "03:15"
	if _, err := s.Install(ctx, j, Systemd, false); err != nil {
		t.Fatalf("second install: %v", err)
	}
	timer := filepath.Join(root, "etc/systemd/system/godwit-mail.timer")
	if b, _ := os.ReadFile(timer); !lines(string(b))["OnCalendar=03:15"] {
		t.Errorf("timer not replaced:\n%s", b)
	}
	rep, err := s.Install(ctx, j, Cron, false)
	if err != nil {
		t.Fatal(err)
	}
	if exists(timer) || exists(strings.TrimSuffix(timer, ".timer")+".service") {
		t.Error("switching to cron left the systemd units")
	}
	if len(rep.Removed) != 2 {
		t.Errorf("removed %v, want the two units", rep.Removed)
	}
}

func TestRemoveIsIdempotent(t *testing.T) {
	root := systemdRoot(t)
	s := &System{Root: root}
	ctx := context.Background()
	if _, err := s.Install(ctx, testJob(), Systemd, false); err != nil {
		t.Fatal(err)
	}
	// What `systemctl --root enable` leaves behind.
	wants := filepath.Join(root, "etc/systemd/system/timers.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/systemd/system/godwit-mail.timer", filepath.Join(wants, "godwit-mail.timer")); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Remove(ctx, "mail", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Removed) != 3 {
		t.Errorf("removed %v, want service, timer and the enable link", rep.Removed)
	}
	ents, _ := os.ReadDir(filepath.Join(root, "etc/systemd/system"))
	for _, e := range ents {
		if e.Name() != "timers.target.wants" {
			t.Errorf("left %s", e.Name())
		}
	}
	rep, err = s.Remove(ctx, "mail", false)
	if err != nil || len(rep.Removed) != 0 || rep.Kind != "" {
		t.Errorf("second remove: %+v, %v; want an empty report", rep, err)
	}
}

func TestLiveInstallEnablesAndRemoveDisablesBeforeDeleting(t *testing.T) {
	root := systemdRoot(t)
	timer := filepath.Join(root, "etc/systemd/system/godwit-mail.timer")
	f := &fakeSystemd{}
	f.before = func(cmd string) {
		if strings.HasPrefix(cmd, "systemctl disable") && !exists(timer) {
			t.Error("timer deleted before it was disabled")
		}
	}
	s := &System{Root: root, Live: true, Run: f.run}
	ctx := context.Background()
	rep, err := s.Install(ctx, testJob(), Systemd, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"systemctl daemon-reload", "systemctl enable --now godwit-mail.timer"}
	if strings.Join(f.calls, "; ") != strings.Join(want, "; ") || len(rep.ToRun) != 0 {
		t.Errorf("install ran %q (to run %q), want %q", f.calls, rep.ToRun, want)
	}
	f.calls = nil
	if _, err := s.Remove(ctx, "mail", false); err != nil {
		t.Fatal(err)
	}
	want = []string{"systemctl disable --now godwit-mail.timer", "systemctl daemon-reload"}
	if strings.Join(f.calls, "; ") != strings.Join(want, "; ") {
		t.Errorf("remove ran %q, want %q", f.calls, want)
	}
}

func TestStatusReportsNextAndLastRunFromFiles(t *testing.T) {
	root := systemdRoot(t)
	s := &System{Root: root}
	ctx := context.Background()
	if _, err := s.Install(ctx, testJob(), Systemd, false); err != nil {
		t.Fatal(err)
	}
	www := testJob()
	www.Profile, www.Calendar = "www", "04:00"
	if _, err := s.Install(ctx, www, Cron, false); err != nil {
		t.Fatal(err)
	}
	last := Status{Start: time.Date(2024, 5, 1, 0, 7, 0, 0, time.UTC), End: time.Date(2024, 5, 1, 0, 9, 0, 0, time.UTC), SnapshotID: "4f2a9c1e"}
	if err := WriteStatus(StatusDirIn(root), "mail", last); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	entries, err := s.Status(ctx, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("entries %+v, want mail and www", entries)
	}
	mail, w := entries[0], entries[1]
	if mail.Profile != "mail" || mail.Kind != Systemd || mail.Calendar != "daily" || mail.Delay != "30min" || len(mail.Files) != 2 {
		t.Errorf("mail entry %+v", mail)
	}
	if want := time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC); mail.NextRun == nil || !mail.NextRun.Equal(want) {
		t.Errorf("mail next run %v, want %v", mail.NextRun, want)
	}
	if mail.Last == nil || mail.Last.SnapshotID != "4f2a9c1e" || !mail.Last.End.Equal(last.End) {
		t.Errorf("mail last run %+v, want %+v", mail.Last, last)
	}
	c, _ := ParseCalendar("04:00")
	off := CronOffset("www", DefaultRandomizedDelay, c)
	if want := time.Date(2024, 5, 2, 4, off, 0, 0, time.UTC); w.Kind != Cron || w.NextRun == nil || !w.NextRun.Equal(want) {
		t.Errorf("www entry %+v, want cron next run %v", w, want)
	}
	if w.Last != nil {
		t.Errorf("www last run %+v, want none", w.Last)
	}
	only, err := s.Status(ctx, "www", now)
	if err != nil || len(only) != 1 || only[0].Profile != "www" {
		t.Errorf("status of www: %+v, %v", only, err)
	}
}

func TestLiveStatusAsksSystemctl(t *testing.T) {
	root := systemdRoot(t)
	ctx := context.Background()
	if _, err := (&System{Root: root}).Install(ctx, testJob(), Systemd, false); err != nil {
		t.Fatal(err)
	}
	f := &fakeSystemd{props: map[string]string{
		"NextElapseUSecRealtime": "@1714611000",
		"Result":                 "exit-code",
		"ExecMainStatus":         "3",
		"ActiveEnterTimestamp":   "Wed 2024-05-01 00:07:00 UTC",
	}}
	entries, err := (&System{Root: root, Live: true, Run: f.run}).Status(ctx, "mail", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("entries %+v", entries)
	}
	e := entries[0]
	if e.NextRun == nil || e.NextRun.Unix() != 1714611000 {
		t.Errorf("next run %v, want systemd's", e.NextRun)
	}
	if e.Unit["Result"] != "exit-code" || e.Unit["ExecMainStatus"] != "3" || e.Unit["ActiveEnterTimestamp"] == "" {
		t.Errorf("unit state %v", e.Unit)
	}
}

func TestParseSystemdTime(t *testing.T) {
	for v, ok := range map[string]bool{"@1714611000": true, "Wed 2024-05-01 00:07:00 UTC": true, "": false, "n/a": false} {
		if _, got := parseSystemdTime(v); got != ok {
			t.Errorf("parseSystemdTime(%q) ok=%v, want %v", v, got, ok)
		}
	}
}
