package sftp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/sftp"

	"github.com/godwit-backup/godwit/backends"
)

// conn is one ssh child process and the SFTP client speaking over its
// pipes. The client is safe for concurrent use; close may be called more
// than once and from any goroutine.
type conn struct {
	client *sftp.Client
	cmd    *exec.Cmd
	stdout *os.File // read end of the child's standard output
	stderr *tailBuffer
	exited chan struct{} // closed when the child has exited

	closeOnce sync.Once
}

// dial starts the command of cfg and runs the SFTP handshake over its
// pipes. If ctx ends before the handshake completes, the child is killed.
// The child is not bound to ctx afterwards: it lives until close.
func dial(ctx context.Context, cfg Config) (*conn, error) {
	args := cfg.command()
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	c := &conn{
		cmd:    exec.Command(args[0], args[1:]...),
		stdout: outR,
		stderr: &tailBuffer{max: 8 << 10},
		exited: make(chan struct{}),
	}
	c.cmd.Stdin = inR
	c.cmd.Stdout = outW
	c.cmd.Stderr = c.stderr
	// A grandchild that keeps stderr open must not block Wait forever.
	c.cmd.WaitDelay = time.Second
	err = c.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, &connectError{cfg: cfg, msg: fmt.Sprintf("cannot run %s", args[0]),
			hint: "install the OpenSSH client, or give the command to run with --sftp-command", err: err}
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.exited)
	}()

	type result struct {
		client *sftp.Client
		err    error
	}
	done := make(chan result, 1)
	go func() {
		cl, err := sftp.NewClientPipe(outR, inW, sftp.UseConcurrentWrites(true))
		done <- result{cl, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		c.kill()
		r = <-done
		if r.client != nil {
			_ = r.client.Close()
		}
		inW.Close()
		<-c.exited
		return nil, ctx.Err()
	}
	if r.err != nil {
		// Let ssh finish writing why it failed, then make sure it is gone.
		select {
		case <-c.exited:
		case <-time.After(5 * time.Second):
		}
		c.kill()
		inW.Close()
		<-c.exited
		return nil, connectFailure(cfg, c.stderr.String(), r.err)
	}
	c.client = r.client
	return c, nil
}

// kill ends the child and unblocks every reader of its output.
func (c *conn) kill() {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
	}
	_ = c.stdout.Close()
}

// close kills the child, ends the SFTP client and waits for both. Calls in
// progress on the client fail with sftp.ErrSSHFxConnectionLost.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.kill()
		_ = c.client.Close()
		<-c.exited
	})
}

// dead reports whether the child has exited.
func (c *conn) dead() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// lost reports whether err means the connection is gone, so that the
// operation may be tried again on a new one: the client saw the pipe
// close, a request could not be written to the dead child, or the child
// has exited.
func (c *conn) lost(err error) bool {
	return errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, os.ErrClosed) ||
		errors.Is(err, syscall.EPIPE) || c.dead()
}

// connectError is a failure to reach the repository: it names the
// location and says what to do. It wraps backends.ErrPermanent when no
// retry can fix it.
type connectError struct {
	cfg       Config
	msg       string // what went wrong
	hint      string // what to do
	output    string // what ssh printed, if anything
	permanent bool
	err       error
}

func (e *connectError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "connect to %s: %s", e.cfg.Location(), e.msg)
	if e.hint != "" {
		fmt.Fprintf(&b, "; %s", e.hint)
	}
	if e.output != "" {
		fmt.Fprintf(&b, "\nssh said: %s", e.output)
	} else if e.err != nil {
		fmt.Fprintf(&b, ": %v", e.err)
	}
	return b.String()
}

func (e *connectError) Unwrap() []error {
	errs := []error{e.err}
	if e.permanent {
		errs = append(errs, backends.ErrPermanent)
	}
	return errs
}

// connectFailure explains why the handshake failed, from what ssh wrote
// to stderr.
func connectFailure(cfg Config, stderr string, err error) error {
	out := strings.TrimSpace(stderr)
	e := &connectError{cfg: cfg, output: out, err: err}
	custom := len(cfg.Command) > 0
	switch {
	case strings.Contains(out, "REMOTE HOST IDENTIFICATION HAS CHANGED"):
		e.msg = "the server's host key has changed"
		e.hint = fmt.Sprintf("this happens when the server was reinstalled, and when someone intercepts the connection: "+
			"confirm the new fingerprint with the server's administrator, then remove the old key with "+
			"ssh-keygen -R '%s' and connect once with %s to accept the new one", cfg.knownHostsName(), cfg.sshTarget())
		e.permanent = true
	case strings.Contains(out, "Host key verification failed"), strings.Contains(out, "host key is known for"):
		e.msg = "the server's host key is unknown (host key verification failed)"
		e.hint = fmt.Sprintf("add the server's host key to ~/.ssh/known_hosts: connect once with %s and compare "+
			"the fingerprint with the one the server's administrator gives you, or run %s and verify it", cfg.sshTarget(), keyscan(cfg))
		e.permanent = true
	case strings.Contains(out, "Permission denied ("), strings.Contains(out, "Too many authentication failures"):
		user := cfg.User
		if user == "" {
			user = "the login user"
		}
		e.msg = fmt.Sprintf("authentication failed for %s", user)
		e.hint = fmt.Sprintf("check that your public key is in ~/.ssh/authorized_keys of %s on the server, that ssh-agent holds "+
			"the key (ssh-add -l) or ~/.ssh/config names it (IdentityFile), and that %s logs in without a password", user, cfg.sshTarget())
		e.permanent = true
	case strings.Contains(out, "subsystem request failed"):
		e.msg = "the server does not offer SFTP"
		e.hint = "enable it in the server's sshd_config (Subsystem sftp internal-sftp)"
		e.permanent = true
	case strings.Contains(out, "Could not resolve hostname"):
		e.msg = fmt.Sprintf("unknown host %q", cfg.Host)
		e.hint = "check the host name in the repository location and in ~/.ssh/config"
		e.permanent = true
	case strings.Contains(out, "Connection refused"):
		e.msg = "the server refused the connection"
		e.hint = "check that sshd runs on the server and the port is right"
	case strings.Contains(out, "timed out"), strings.Contains(out, "No route to host"), strings.Contains(out, "Network is unreachable"):
		e.msg = "the server cannot be reached"
		e.hint = "check the network and the host name"
	case custom:
		e.msg = fmt.Sprintf("the sftp command %q did not start an SFTP session", cfg.Command[0])
		e.hint = "check --sftp-command"
	default:
		e.msg = "ssh did not start an SFTP session"
		e.hint = fmt.Sprintf("run %s to see what goes wrong", cfg.sshTarget())
	}
	if custom && e.msg != "" && !strings.HasPrefix(e.msg, "the sftp command") {
		e.hint += " (the sftp command was set explicitly)"
	}
	return e
}

func keyscan(cfg Config) string {
	if cfg.Port != 0 {
		return fmt.Sprintf("ssh-keyscan -p %d %s", cfg.Port, cfg.Host)
	}
	return "ssh-keyscan " + cfg.Host
}

// tailBuffer keeps the last max bytes written to it. It is safe for
// concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
