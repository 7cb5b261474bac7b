package profile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Event names a point in a backup run where hooks run.
type Event string

const (
	// Before runs before the backup; the first failing command stops the
	// run, and the backup does not start.
	Before Event = "before"
	// After runs after every backup that was started, whatever its
	// outcome, with its exit code and snapshot id.
	After Event = "after"
	// Failure runs when the run ends with an exit code other than 0
	// (success) and 3 (snapshot written, some files unreadable).
	Failure Event = "failure"
)

// RunInfo is what hooks learn about the run through their environment.
type RunInfo struct {
	Profile    string // GODWIT_PROFILE
	SnapshotID string // GODWIT_SNAPSHOT_ID, after a snapshot was written
	// ExitCode and Err become GODWIT_EXIT_CODE and GODWIT_ERROR for the
	// after and failure hooks.
	ExitCode int
	Err      error
}

// secretVariables are never passed to hooks, whoever set them.
var secretVariables = []string{
	"GODWIT_PASSWORD",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
}

// HookEnviron returns the environment of a hook command: base (usually
// os.Environ()) without credential variables and without the variables
// the profile's [env] table sets, plus GODWIT_HOOK, GODWIT_PROFILE and,
// for the after and failure hooks, GODWIT_EXIT_CODE, GODWIT_ERROR and
// GODWIT_SNAPSHOT_ID.
func (p *Profile) HookEnviron(base []string, ev Event, info RunInfo) []string {
	env := make([]string, 0, len(base)+5)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, set := p.Env[k]; set || isSecret(k) || strings.HasPrefix(k, "GODWIT_HOOK") {
			continue
		}
		switch k {
		case "GODWIT_PROFILE", "GODWIT_SNAPSHOT_ID", "GODWIT_EXIT_CODE", "GODWIT_ERROR":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "GODWIT_HOOK="+string(ev), "GODWIT_PROFILE="+p.Name)
	if ev != Before {
		env = append(env, "GODWIT_EXIT_CODE="+strconv.Itoa(info.ExitCode), "GODWIT_SNAPSHOT_ID="+info.SnapshotID)
		if info.Err != nil {
			env = append(env, "GODWIT_ERROR="+strings.ReplaceAll(info.Err.Error(), "\n", " "))
		}
	}
	return env
}

func isSecret(k string) bool {
	for _, s := range secretVariables {
		if k == s {
			return true
		}
	}
	return false
}

// Commands returns the profile's hook commands for ev.
func (p *Profile) Commands(ev Event) []string {
	if p.Hooks == nil {
		return nil
	}
	switch ev {
	case Before:
		return p.Hooks.Before
	case After:
		return p.Hooks.After
	case Failure:
		return p.Hooks.Failure
	}
	return nil
}

// HookTimeout is the limit on each hook command's run time.
func (p *Profile) HookTimeout() time.Duration {
	if p.Hooks == nil || p.Hooks.timeout == 0 {
		return DefaultHookTimeout
	}
	return p.Hooks.timeout
}

// RunHooks runs the profile's commands for ev one after the other, each
// with /bin/sh -c in its own process group, the environment HookEnviron
// builds from base, stdin empty, and stdout and stderr both written to
// out (out need not be safe for concurrent use: one command runs at a
// time). A command still running at its timeout or when ctx ends is
// killed with its process group.
//
// For Before, the first failing command stops the rest and its error is
// returned. For After and Failure every command runs and the errors of
// all failing ones are returned joined. Each error names the event and
// the command.
func (p *Profile) RunHooks(ctx context.Context, ev Event, info RunInfo, base []string, out io.Writer) error {
	var errs []error
	env := p.HookEnviron(base, ev, info)
	for _, command := range p.Commands(ev) {
		err := runHook(ctx, command, env, p.HookTimeout(), out)
		if err == nil {
			continue
		}
		err = fmt.Errorf("%s hook %q: %w", ev, command, err)
		if ev == Before {
			return err
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func runHook(ctx context.Context, command string, env []string, timeout time.Duration, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("killed after %s: %w", timeout, err)
	}
	return err
}
