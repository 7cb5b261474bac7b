package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/godwit-backup/godwit/internal/schedule"
)

// profileRig is a repository, a source tree and a profile file whose
// profile "mail" backs the tree up into the repository.
type profileRig struct {
	*cli
	src, config string
}

func newProfileRig(t *testing.T, extra string) *profileRig {
	t.Helper()
	c := newCLI(t)
	c.init()
	r := &profileRig{cli: c, src: filepath.Join(c.dir, "src"), config: filepath.Join(c.dir, "godwit.toml")}
	writeFile(t, filepath.Join(r.src, "etc/hostname"), []byte("mx1\n"))
	writeFile(t, filepath.Join(r.src, "var/mail/alice"), []byte("From a@example.org Mon Jan  1 00:00:00 2024\n\nhi\n"))
	writeFile(t, filepath.Join(r.src, "var/mail/scratch.tmp"), []byte("temporary\n"))
	r.writeConfig(t, fmt.Sprintf(`[profiles.mail]
repository = %q
password-file = %q
sources = [%q]
exclude = ["*.tmp"]
tags = ["nightly"]
host = "mx1.example.org"
%s`, c.repo, c.pwFile, r.src, extra))
	return r
}

func (r *profileRig) writeConfig(t *testing.T, doc string) {
	t.Helper()
	writeFile(t, r.config, []byte(doc))
}

// backup runs godwit backup --profile mail with more arguments.
func (r *profileRig) backup(args ...string) result {
	r.t.Helper()
	return r.run(append([]string{"--config", r.config, "backup", "--profile", "mail"}, args...)...)
}

func (r *profileRig) snapshots(t *testing.T) []snapshotJSON {
	t.Helper()
	res := r.owner("snapshots", "--json").must(t, 0)
	var list []snapshotJSON
	if err := json.Unmarshal([]byte(res.stdout), &list); err != nil {
		t.Fatalf("snapshots --json: %v\n%s", err, res.stdout)
	}
	return list
}

// hookEnv reads a file a hook wrote with env.
func hookEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the hook did not run: %v", err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

func TestBackupProfileDoesWhatTheProfileSays(t *testing.T) {
	r := newProfileRig(t, "")
	r.backup().must(t, 0)
	list := r.snapshots(t)
	if len(list) != 1 {
		t.Fatalf("%d snapshots, want 1", len(list))
	}
	sn := list[0]
	if sn.Host != "mx1.example.org" || strings.Join(sn.Tags, ",") != "nightly" || strings.Join(sn.Paths, ",") != r.src {
		t.Errorf("snapshot host %q tags %v paths %v", sn.Host, sn.Tags, sn.Paths)
	}
	ls := r.owner("ls", "latest").must(t, 0)
	if !strings.Contains(ls.stdout, "alice") || strings.Contains(ls.stdout, "scratch.tmp") {
		t.Errorf("ls of the snapshot (want alice, no excluded scratch.tmp):\n%s", ls.stdout)
	}
}

func TestBackupFlagsOverrideTheProfile(t *testing.T) {
	r := newProfileRig(t, "")
	other := filepath.Join(r.src, "etc")
	r.backup("--tag", "manual", "--host", "other", "--exclude", "hostname", other).must(t, 0)
	sn := r.snapshots(t)[0]
	if sn.Host != "other" || strings.Join(sn.Tags, ",") != "manual" || strings.Join(sn.Paths, ",") != other {
		t.Errorf("snapshot host %q tags %v paths %v, want the flags' values", sn.Host, sn.Tags, sn.Paths)
	}
	// --password-file given on the command line wins over the profile's.
	wrong := filepath.Join(r.dir, "wrong-pw")
	writeFile(t, wrong, []byte("not the passphrase\n"))
	r.backup("--password-file", wrong).must(t, exitNoKey)
	// --repo given on the command line wins over the profile's repository.
	res := r.backup("--repo", filepath.Join(r.dir, "elsewhere"))
	if res.code != exitNoRepo {
		t.Errorf("backup --repo elsewhere: exit %d, want %d (no repository there)\n%s", res.code, exitNoRepo, res.stderr)
	}
}

func TestBackupProfileFileErrorsNameLineAndKey(t *testing.T) {
	r := newProfileRig(t, "[profiles.mail.retention]\nkeep-daly = 7\n")
	res := r.backup().must(t, exitError)
	want := r.config + ":9: profiles.mail.retention.keep-daly: unknown key"
	if !strings.Contains(res.stderr, want) {
		t.Errorf("stderr %q\nwant %q", res.stderr, want)
	}
	r = newProfileRig(t, "")
	res = r.run("--config", r.config, "backup", "--profile", "web").must(t, exitUsage)
	if !strings.Contains(res.stderr, `no such profile "web" (defined: mail)`) {
		t.Errorf("stderr %q", res.stderr)
	}
	// GODWIT_CONFIG names the file when --config is not given.
	r.env["GODWIT_CONFIG"] = filepath.Join(r.dir, "missing.toml")
	res = r.run("backup", "--profile", "mail").must(t, exitError)
	if !strings.Contains(res.stderr, "missing.toml") {
		t.Errorf("stderr %q does not name GODWIT_CONFIG's file", res.stderr)
	}
}

func TestFailingBeforeHookStopsTheBackup(t *testing.T) {
	dir := t.TempDir()
	r := newProfileRig(t, fmt.Sprintf(`[profiles.mail.hooks]
before = ["echo postfix would not stop; exit 7"]
after = ["touch %s/after"]
failure = ["env > %s/failure"]
`, dir, dir))
	res := r.backup().must(t, exitError)
	if !strings.Contains(res.stderr, "backup not started") || !strings.Contains(res.stderr, "exit status 7") ||
		!strings.Contains(res.stderr, "postfix would not stop") {
		t.Errorf("stderr:\n%s", res.stderr)
	}
	if n := len(r.snapshots(t)); n != 0 {
		t.Errorf("%d snapshots written after a failing before hook", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "after")); err == nil {
		t.Error("after hook ran although the backup never started")
	}
	env := hookEnv(t, filepath.Join(dir, "failure"))
	if env["GODWIT_HOOK"] != "failure" || env["GODWIT_EXIT_CODE"] != "1" || env["GODWIT_PROFILE"] != "mail" ||
		!strings.Contains(env["GODWIT_ERROR"], "exit status 7") || env["GODWIT_SNAPSHOT_ID"] != "" {
		t.Errorf("failure hook environment: %v", env)
	}
}

func TestAfterHookGetsTheSnapshotID(t *testing.T) {
	dir := t.TempDir()
	r := newProfileRig(t, fmt.Sprintf(`[profiles.mail.hooks]
after = ["env > %s/after"]
failure = ["touch %s/failure"]
`, dir, dir))
	r.backup().must(t, 0)
	env := hookEnv(t, filepath.Join(dir, "after"))
	if id := r.snapshots(t)[0].ID; env["GODWIT_SNAPSHOT_ID"] != id {
		t.Errorf("GODWIT_SNAPSHOT_ID=%q, want %s", env["GODWIT_SNAPSHOT_ID"], id)
	}
	if env["GODWIT_EXIT_CODE"] != "0" || env["GODWIT_HOOK"] != "after" || env["GODWIT_ERROR"] != "" {
		t.Errorf("after hook environment: %v", env)
	}
	if _, err := os.Stat(filepath.Join(dir, "failure")); err == nil {
		t.Error("failure hook ran after a successful backup")
	}
}

func TestProfileRunsAreRecordedForScheduleStatus(t *testing.T) {
	r := newProfileRig(t, "")
	r.backup().must(t, 0)
	st, err := schedule.ReadStatus(r.env["GODWIT_STATUS_DIR"], "mail")
	if err != nil {
		t.Fatalf("no status recorded: %v", err)
	}
	if id := r.snapshots(t)[0].ID; st.ExitCode != 0 || st.SnapshotID != id || st.Error != "" || st.End.Before(st.Start) {
		t.Errorf("status after a good run %+v, want exit 0 and snapshot %s", st, id)
	}
	r.backup("--repo", filepath.Join(r.dir, "missing")).must(t, exitNoRepo)
	if st, err = schedule.ReadStatus(r.env["GODWIT_STATUS_DIR"], "mail"); err != nil || st.ExitCode != exitNoRepo || st.SnapshotID != "" || !strings.Contains(st.Error, "does not exist") {
		t.Errorf("status after a failed run %+v, %v", st, err)
	}
}

func TestFailingAfterHookFailsTheRun(t *testing.T) {
	dir := t.TempDir()
	r := newProfileRig(t, fmt.Sprintf(`[profiles.mail.hooks]
after = ["exit 5"]
failure = ["env > %s/failure"]
`, dir))
	res := r.backup().must(t, exitError)
	if !strings.Contains(res.stderr, `after hook "exit 5": exit status 5`) {
		t.Errorf("stderr:\n%s", res.stderr)
	}
	if len(r.snapshots(t)) != 1 {
		t.Error("the snapshot is gone")
	}
	if env := hookEnv(t, filepath.Join(dir, "failure")); env["GODWIT_SNAPSHOT_ID"] == "" || env["GODWIT_EXIT_CODE"] != "1" {
		t.Errorf("failure hook environment: %v", env)
	}
}

func TestProfileRetentionForgetsAndPrunesAfterBackup(t *testing.T) {
	r := newProfileRig(t, "[profiles.mail.retention]\nkeep-last = 2\nprune = true\n")
	for i := range 4 {
		writeFile(t, filepath.Join(r.src, "var/mail/bob"), []byte(strings.Repeat(fmt.Sprintf("message %d\n", i), 1000)))
		res := r.backup().must(t, 0)
		if i >= 2 && (!strings.Contains(res.stdout, "removed 1 snapshot") || !strings.Contains(res.stdout, "space freed")) {
			t.Errorf("backup %d output:\n%s", i, res.stdout)
		}
	}
	if n := len(r.snapshots(t)); n != 2 {
		t.Errorf("%d snapshots after 4 backups with keep-last = 2", n)
	}
	r.owner("check", "--read-data").must(t, 0)
}

func TestProfileRetentionLeavesOtherHostsAlone(t *testing.T) {
	r := newProfileRig(t, "[profiles.mail.retention]\nkeep-last = 1\n")
	r.owner("backup", "--host", "web1", r.src).must(t, 0)
	r.owner("backup", "--host", "web1", r.src).must(t, 0)
	r.backup().must(t, 0)
	r.backup().must(t, 0)
	hosts := map[string]int{}
	for _, sn := range r.snapshots(t) {
		hosts[sn.Host]++
	}
	if hosts["mx1.example.org"] != 1 || hosts["web1"] != 2 {
		t.Errorf("snapshots per host %v, want mx1.example.org:1 web1:2", hosts)
	}
}

func TestProfileCheckRunsWhenDue(t *testing.T) {
	r := newProfileRig(t, "[profiles.mail.check]\nevery = \"weekly\"\nread-data-subset = \"50%\"\n")
	first := r.backup().must(t, 0)
	if !strings.Contains(first.stdout, "check: 1 snapshots") {
		t.Errorf("first backup did not check:\n%s", first.stdout)
	}
	second := r.backup().must(t, 0)
	if strings.Contains(second.stdout, "check:") {
		t.Errorf("second backup checked again within the week:\n%s", second.stdout)
	}
	states, _ := filepath.Glob(filepath.Join(r.env["GODWIT_CACHE_DIR"], "*", "profile-mail-check.json"))
	if len(states) != 1 {
		t.Fatalf("check state files: %v", states)
	}
	// Forget the last check: the next backup checks again.
	if err := os.Remove(states[0]); err != nil {
		t.Fatal(err)
	}
	if third := r.backup().must(t, 0); !strings.Contains(third.stdout, "check: 3 snapshots") {
		t.Errorf("backup after the state was removed did not check:\n%s", third.stdout)
	}
}

var sampleLine = regexp.MustCompile(`(?m)^(godwit_backup_[a-z_]+)\{profile="mail"\} ([0-9.e+]+)$`)

func readMetrics(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range sampleLine.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	if !strings.Contains(string(b), "# TYPE godwit_backup_exit_code gauge\n") {
		t.Errorf("no TYPE line:\n%s", b)
	}
	return out
}

func TestProfileMetricsFileRecordsRuns(t *testing.T) {
	dir := t.TempDir()
	prom := filepath.Join(dir, "godwit.prom")
	r := newProfileRig(t, fmt.Sprintf("metrics-file = %q\n", prom))
	r.backup().must(t, 0)
	m := readMetrics(t, prom)
	if m["godwit_backup_exit_code"] != "0" || m["godwit_backup_files"] != "2" || m["godwit_backup_errors"] != "0" ||
		m["godwit_backup_added_bytes"] == "0" || m["godwit_backup_last_success_timestamp_seconds"] == "0" {
		t.Fatalf("metrics after a good run: %v", m)
	}
	success := m["godwit_backup_last_success_timestamp_seconds"]

	// A failed run records its exit code and keeps the last success.
	r.writeConfig(t, strings.Replace(mustRead(t, r.config), "[profiles.mail]\n", "[profiles.mail.hooks]\nbefore = [\"false\"]\n[profiles.mail]\n", 1))
	r.backup().must(t, exitError)
	m = readMetrics(t, prom)
	if m["godwit_backup_exit_code"] != "1" || m["godwit_backup_last_success_timestamp_seconds"] != success {
		t.Errorf("metrics after a failed run: %v (last success was %s)", m, success)
	}
}

func TestMetricsFileWithoutProfile(t *testing.T) {
	c := newCLI(t)
	c.init()
	src := filepath.Join(c.dir, "src")
	writeFile(t, filepath.Join(src, "a"), []byte("a\n"))
	prom := filepath.Join(c.dir, "m.prom")
	c.owner("backup", "--metrics-file", prom, src).must(t, 0)
	b, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "godwit_backup_files{profile=\"\"} 1\n") {
		t.Errorf("metrics:\n%s", b)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
