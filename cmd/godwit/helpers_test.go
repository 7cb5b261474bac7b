package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cli runs godwit commands in-process against one repository, with its own
// known_repositories file and cache, and a fast scrypt work factor.
type cli struct {
	t      *testing.T
	dir    string
	repo   string
	pwFile string
	env    map[string]string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	dir := t.TempDir()
	c := &cli{t: t, dir: dir, repo: filepath.Join(dir, "repo"), pwFile: filepath.Join(dir, "pw")}
	if err := os.WriteFile(c.pwFile, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.env = map[string]string{
		"GODWIT_KNOWN_REPOSITORIES": filepath.Join(dir, "known_repositories"),
		"GODWIT_CACHE_DIR":          filepath.Join(dir, "cache"),
		"GODWIT_SCRYPT_WORK_FACTOR": "10",
		"GODWIT_STATUS_DIR":         filepath.Join(dir, "status"),
	}
	return c
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs godwit with args as given (no implicit flags).
func (c *cli) run(args ...string) result {
	c.t.Helper()
	return c.runClock(nil, args...)
}

// runClock is run with the clock now, or the real one when now is nil.
func (c *cli) runClock(now func() time.Time, args ...string) result {
	c.t.Helper()
	var out, errb bytes.Buffer
	e := newEnv()
	e.stdin = strings.NewReader("")
	e.stdout, e.stderr = &out, &errb
	e.getenv = func(k string) string { return c.env[k] }
	e.tty = nil
	if now != nil {
		e.now = now
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	code := run(ctx, args, e)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// owner runs godwit unlocked with the passphrase.
func (c *cli) owner(args ...string) result {
	c.t.Helper()
	return c.run(append([]string{"--repo", c.repo, "--password-file", c.pwFile}, args...)...)
}

// must fails the test unless the command exited with want.
func (r result) must(t *testing.T, want int) result {
	t.Helper()
	if r.code != want {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
	return r
}

func (c *cli) init() {
	c.t.Helper()
	c.owner("init").must(c.t, 0)
}

// binary builds the godwit command once per test binary run, for tests
// that need a separate process (another user, a signal).
var builtBinary string

func godwitBinary(t *testing.T) string {
	t.Helper()
	if builtBinary != "" {
		return builtBinary
	}
	dir, err := os.MkdirTemp("", "godwit-bin-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "godwit")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	builtBinary = bin
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBinary != "" {
		os.RemoveAll(filepath.Dir(builtBinary))
	}
	os.Exit(code)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
