package metrics

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The exposition format's lines, as node_exporter's textfile collector
// reads them: comments, and `name{label="value"} number`.
var (
	helpLine   = regexp.MustCompile(`^# HELP [a-z_]+ \S.*$`)
	typeLine   = regexp.MustCompile(`^# TYPE [a-z_]+ gauge$`)
	sampleLine = regexp.MustCompile(`^([a-z_]+)\{profile="((?:[^"\\\n]|\\[\\"n])*)"\} (-?[0-9]+(?:\.[0-9]+)?(?:e[+-][0-9]+)?)$`)
)

// parse checks every line of the file against the format and returns the
// samples as "name/profile" → value text.
func parse(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), "\n") {
		t.Error("file does not end with a newline")
	}
	out := map[string]string{}
	typed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		switch {
		case helpLine.MatchString(line):
		case typeLine.MatchString(line):
			typed[strings.Fields(line)[2]] = true
		default:
			m := sampleLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("not a Prometheus text-format line: %q", line)
			}
			if !typed[m[1]] {
				t.Errorf("sample before its TYPE line: %q", line)
			}
			out[m[1]+"/"+m[2]] = m[3]
		}
	}
	return out
}

func TestWriteSuccessfulRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "godwit.prom")
	start := time.Unix(1741575600, 0)
	err := Write(path, Run{Profile: "mail", Start: start, End: start.Add(83500 * time.Millisecond), Success: true,
		AddedBytes: 123456789, Files: 4200, Errors: 1, ExitCode: 3})
	if err != nil {
		t.Fatal(err)
	}
	got := parse(t, path)
	want := map[string]string{
		LastSuccess + "/mail": "1741575683.5",
		Duration + "/mail":    "83.5",
		AddedBytes + "/mail":  "123456789",
		Files + "/mail":       "4200",
		Errors + "/mail":      "1",
		ExitCode + "/mail":    "3",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("samples %v, want %v", got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
}

func TestFailedRunKeepsLastSuccess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "godwit.prom")
	t0 := time.Unix(1741575600, 0)
	if err := Write(path, Run{Profile: "mail", Start: t0, End: t0.Add(time.Minute), Success: true, Files: 10}); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(24 * time.Hour)
	if err := Write(path, Run{Profile: "mail", Start: t1, End: t1.Add(5 * time.Second), ExitCode: 1}); err != nil {
		t.Fatal(err)
	}
	got := parse(t, path)
	if got[LastSuccess+"/mail"] != "1741575660" || got[ExitCode+"/mail"] != "1" || got[Files+"/mail"] != "0" {
		t.Errorf("after a failed run: %v", got)
	}
	last, ok, err := LastSuccessTime(path, "mail")
	if err != nil || !ok || !last.Equal(t0.Add(time.Minute)) {
		t.Errorf("LastSuccessTime = %v, %v, %v", last, ok, err)
	}
}

func TestNeverSucceededIsZero(t *testing.T) {
	path := filepath.Join(t.TempDir(), "godwit.prom")
	if err := Write(path, Run{Profile: "mail", ExitCode: 12}); err != nil {
		t.Fatal(err)
	}
	if got := parse(t, path); got[LastSuccess+"/mail"] != "0" {
		t.Errorf("last success %q, want 0", got[LastSuccess+"/mail"])
	}
	if _, ok, _ := LastSuccessTime(path, "mail"); ok {
		t.Error("LastSuccessTime reports a success that never happened")
	}
}

func TestProfilesSharingAFileKeepTheirSamples(t *testing.T) {
	path := filepath.Join(t.TempDir(), "godwit.prom")
	t0 := time.Unix(1741575600, 0)
	for _, p := range []string{"mail", `we"ird\name`, ""} {
		if err := Write(path, Run{Profile: p, Start: t0, End: t0.Add(time.Second), Success: true, Files: 7}); err != nil {
			t.Fatal(err)
		}
	}
	if err := Write(path, Run{Profile: "mail", Start: t0, End: t0.Add(time.Second), Success: true, Files: 8}); err != nil {
		t.Fatal(err)
	}
	got := parse(t, path)
	for k, v := range map[string]string{Files + "/mail": "8", Files + `/we\"ird\\name`: "7", Files + "/": "7"} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

func TestWriteLeavesNoTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "godwit.prom")
	if err := os.WriteFile(path, []byte("garbage that is not a metric\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, Run{Profile: "x", Success: true}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the metrics file", len(entries))
	}
	if err := Write(filepath.Join(dir, "missing", "godwit.prom"), Run{}); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
