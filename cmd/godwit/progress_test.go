package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// jsonLines parses the JSON lines of a --json run: every line an object
// with a message_type, exactly one summary, and that one last.
func jsonLines(t *testing.T, stdout string) []map[string]any {
	t.Helper()
	var msgs []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not a JSON object: %v\n%s", line, err, stdout)
		}
		if _, ok := m["message_type"].(string); !ok {
			t.Fatalf("line %q has no message_type", line)
		}
		msgs = append(msgs, m)
	}
	for i, m := range msgs {
		if (m["message_type"] == "summary") != (i == len(msgs)-1) {
			t.Fatalf("want exactly one summary, as the last line:\n%s", stdout)
		}
	}
	return msgs
}

// jsonSummary decodes the summary line of a --json run into v.
func jsonSummary(t *testing.T, stdout string, v any) {
	t.Helper()
	jsonLines(t, stdout)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout)
	}
}

// lastStatus returns the status line just before the summary.
func lastStatus(t *testing.T, msgs []map[string]any) map[string]any {
	t.Helper()
	if len(msgs) < 2 || msgs[len(msgs)-2]["message_type"] != "status" {
		t.Fatalf("no status line before the summary: %v", msgs)
	}
	return msgs[len(msgs)-2]
}

func backupSource(t *testing.T) (dir string, files int, bytes int) {
	t.Helper()
	dir = t.TempDir()
	contents := map[string]int{"etc/hosts": 300, "var/mail/alice": 200 << 10, "home/bob/notes": 5000}
	for name, size := range contents {
		writeFile(t, filepath.Join(dir, name), []byte(strings.Repeat("x", size-1)+"\n"))
		files++
		bytes += size
	}
	return dir, files, bytes
}

func TestBackupAndRestoreJSONPrintStatusLinesThenOneSummary(t *testing.T) {
	c := newCLI(t)
	c.init()
	src, files, bytes := backupSource(t)

	out := c.owner("--json", "backup", src).must(t, 0)
	msgs := jsonLines(t, out.stdout)
	st := lastStatus(t, msgs)
	for k, want := range map[string]any{"total_files": files, "files_done": files, "total_bytes": bytes, "bytes_done": bytes, "percent_done": 1, "errors": 0, "unit": "files"} {
		if w, ok := want.(int); ok {
			want = float64(w)
		}
		if st[k] != want {
			t.Errorf("backup: last status %s = %v, want %v", k, st[k], want)
		}
	}
	var sum struct {
		Snapshot string `json:"snapshot"`
		Summary  struct {
			FilesNew int `json:"files_new"`
		} `json:"summary"`
		Duration *float64 `json:"duration_seconds"`
	}
	jsonSummary(t, out.stdout, &sum)
	if len(sum.Snapshot) != 64 || sum.Duration == nil {
		t.Errorf("backup summary lacks today's fields: %s", out.stdout)
	}
	if strings.Contains(out.stderr, "\r") {
		t.Errorf("backup --json drew a status line on stderr: %q", out.stderr)
	}

	dst := t.TempDir()
	out = c.owner("--json", "restore", sum.Snapshot[:8]+":"+src, "--target", dst).must(t, 0)
	msgs = jsonLines(t, out.stdout)
	st = lastStatus(t, msgs)
	if st["files_done"] != float64(files) || st["bytes_done"] != float64(bytes) || st["total_bytes"] != float64(bytes) {
		t.Errorf("restore: last status %v, want %d files and %d bytes done", st, files, bytes)
	}
	var rsum struct {
		Target  string `json:"target"`
		Summary struct {
			Files int `json:"files"`
		} `json:"summary"`
	}
	jsonSummary(t, out.stdout, &rsum)
	if rsum.Target != dst || rsum.Summary.Files != files {
		t.Errorf("restore summary: %s", out.stdout)
	}
}

func TestProgressIsNotShownWhenStderrIsNotATerminal(t *testing.T) {
	c := newCLI(t)
	c.init()
	src, _, _ := backupSource(t)
	out := c.owner("backup", src).must(t, 0)
	if out.stderr != "" {
		t.Errorf("backup without a terminal printed on stderr: %q", out.stderr)
	}
	if !strings.Contains(out.stdout, "snapshot ") || strings.ContainsAny(out.stdout, "\r\x1b") {
		t.Errorf("backup summary changed or has terminal codes: %q", out.stdout)
	}
	out = c.owner("--quiet", "restore", "latest", "--target", t.TempDir()).must(t, 0)
	if out.stdout != "" || out.stderr != "" {
		t.Errorf("restore --quiet printed: %q %q", out.stdout, out.stderr)
	}
}

func TestCheckJSONReportsProblemsAsErrorObjects(t *testing.T) {
	c := newCLI(t)
	c.init()
	src, _, _ := backupSource(t)
	c.owner("backup", src).must(t, 0)
	orphan := strings.Repeat("ab", 32)
	writeFile(t, filepath.Join(c.repo, "data", "ab", orphan), []byte("left by an interrupted backup"))

	out := c.owner("--json", "check").must(t, 0)
	msgs := jsonLines(t, out.stdout)
	var errs []map[string]any
	for _, m := range msgs {
		if m["message_type"] == "error" {
			errs = append(errs, m)
		}
	}
	if len(errs) != 1 || errs[0]["path"] != "data/"+orphan {
		t.Errorf("error objects %v, want one for the unindexed pack", errs)
	}
	var sum struct {
		Problems []struct {
			Object string `json:"object"`
		} `json:"problems"`
	}
	jsonSummary(t, out.stdout, &sum)
	if len(sum.Problems) != 1 {
		t.Errorf("summary problems: %s", out.stdout)
	}
}

func TestPruneJSONCountsPacks(t *testing.T) {
	c := newCLI(t)
	c.init()
	src, _, _ := backupSource(t)
	c.owner("backup", src).must(t, 0)
	writeFile(t, filepath.Join(src, "new"), []byte(strings.Repeat("new data ", 1000)))
	c.owner("backup", src).must(t, 0)
	if err := os.Remove(filepath.Join(src, "new")); err != nil {
		t.Fatal(err)
	}
	c.owner("forget", "--keep-last", "1").must(t, 0)
	c.owner("backup", src).must(t, 0)
	c.owner("forget", "--keep-last", "1").must(t, 0)

	out := c.owner("--json", "prune", "--max-unused", "0").must(t, 0)
	st := lastStatus(t, jsonLines(t, out.stdout))
	if st["unit"] != "packs" || st["total_files"] == 0.0 || st["files_done"] != st["total_files"] || st["bytes_done"] != st["total_bytes"] {
		t.Errorf("prune: last status %v, want all packs done", st)
	}
	var sum struct {
		Plan struct {
			DeletePacks int `json:"delete_packs"`
			RepackPacks int `json:"repack_packs"`
		} `json:"plan"`
	}
	jsonSummary(t, out.stdout, &sum)
	if got := float64(sum.Plan.DeletePacks + sum.Plan.RepackPacks); got != st["total_files"] {
		t.Errorf("prune plan %+v, status counted %v packs", sum.Plan, st["total_files"])
	}
}
