package profile

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	return env
}

func TestFailingBeforeHookStopsTheRest(t *testing.T) {
	dir := t.TempDir()
	p := &Profile{Name: "mail", Hooks: &Hooks{Before: []string{
		"echo one >> " + dir + "/ran",
		"echo stopping postfix failed >&2; exit 4",
		"echo three >> " + dir + "/ran",
	}}}
	var out bytes.Buffer
	err := p.RunHooks(context.Background(), Before, RunInfo{Profile: "mail"}, nil, &out)
	if err == nil || !strings.Contains(err.Error(), `before hook "echo stopping postfix failed >&2; exit 4": exit status 4`) {
		t.Fatalf("error %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ran")); string(b) != "one\n" {
		t.Errorf("commands that ran: %q, want only the first", b)
	}
	if !strings.Contains(out.String(), "stopping postfix failed") {
		t.Errorf("hook output not passed on: %q", out.String())
	}
}

func TestAfterAndFailureHooksAllRun(t *testing.T) {
	dir := t.TempDir()
	for _, ev := range []Event{After, Failure} {
		p := &Profile{Name: "mail", Hooks: &Hooks{After: []string{"exit 1", "echo a >> " + dir + "/after"}, Failure: []string{"false", "echo f >> " + dir + "/failure"}}}
		err := p.RunHooks(context.Background(), ev, RunInfo{}, nil, &bytes.Buffer{})
		if err == nil {
			t.Errorf("%s: a failing command returned no error", ev)
		}
		if _, err := os.Stat(filepath.Join(dir, string(ev))); err != nil {
			t.Errorf("%s: the command after the failing one did not run", ev)
		}
	}
}

func TestHookEnvironmentCarriesRunButNoCredentials(t *testing.T) {
	dir := t.TempDir()
	p := &Profile{Name: "mail", Env: Env{"AWS_REGION": "eu-west-1", "MY_TOKEN": "t0k"},
		Hooks: &Hooks{After: []string{"env > " + dir + "/env"}}}
	base := []string{"PATH=/usr/bin:/bin", "HOME=/root", "GODWIT_PASSWORD=hunter2", "AWS_SECRET_ACCESS_KEY=sk",
		"AWS_ACCESS_KEY_ID=AK", "AWS_SESSION_TOKEN=st", "MY_TOKEN=t0k", "GODWIT_SNAPSHOT_ID=stale"}
	info := RunInfo{Profile: "mail", SnapshotID: "4f2a9c", ExitCode: 3, Err: errors.New("backup incomplete\nsecond line")}
	if err := p.RunHooks(context.Background(), After, info, base, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	env := readEnvFile(t, filepath.Join(dir, "env"))
	want := map[string]string{"GODWIT_HOOK": "after", "GODWIT_PROFILE": "mail", "GODWIT_SNAPSHOT_ID": "4f2a9c",
		"GODWIT_EXIT_CODE": "3", "GODWIT_ERROR": "backup incomplete second line", "HOME": "/root"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"GODWIT_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "MY_TOKEN"} {
		if v, ok := env[k]; ok {
			t.Errorf("hook sees %s=%q", k, v)
		}
	}
}

func TestBeforeHookEnvironmentHasNoOutcome(t *testing.T) {
	p := &Profile{Name: "mail"}
	env := strings.Join(p.HookEnviron(nil, Before, RunInfo{ExitCode: 1, SnapshotID: "x"}), "\n")
	if !strings.Contains(env, "GODWIT_HOOK=before") || strings.Contains(env, "GODWIT_EXIT_CODE") || strings.Contains(env, "GODWIT_SNAPSHOT_ID") {
		t.Errorf("before environment:\n%s", env)
	}
}

func TestHookIsKilledAtTimeout(t *testing.T) {
	p := &Profile{Name: "mail", Hooks: &Hooks{Before: []string{"sleep 30 & sleep 30; wait"}, timeout: 200 * time.Millisecond}}
	start := time.Now()
	err := p.RunHooks(context.Background(), Before, RunInfo{}, nil, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "killed after 200ms") {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("hook ran %s after its timeout", d)
	}
}
