package sftp

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/backends/backendtest"
)

// testServer returns the configuration of the test server started by
// scripts/sftp-server.sh, from GODWIT_TEST_SFTP_REPO and
// GODWIT_TEST_SFTP_SSH_OPTIONS, or from the file GODWIT_TEST_SFTP_ENV
// names. Without them the test is skipped, or fails when CI=true.
func testServer(t *testing.T) Config {
	t.Helper()
	vars := map[string]string{
		"GODWIT_TEST_SFTP_REPO":        os.Getenv("GODWIT_TEST_SFTP_REPO"),
		"GODWIT_TEST_SFTP_SSH_OPTIONS": os.Getenv("GODWIT_TEST_SFTP_SSH_OPTIONS"),
	}
	if file := os.Getenv("GODWIT_TEST_SFTP_ENV"); file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("GODWIT_TEST_SFTP_ENV: %v", err)
		}
		for line := range strings.Lines(string(data)) {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if ok && vars[k] == "" {
				vars[k] = strings.Trim(v, `'"`)
			}
		}
	}
	loc := vars["GODWIT_TEST_SFTP_REPO"]
	if loc == "" {
		msg := "no SFTP test server: run scripts/sftp-server.sh start DIR and set GODWIT_TEST_SFTP_ENV=DIR/env"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (the CI job did not start the server)")
		}
		t.Skip(msg)
	}
	cfg, err := ParseLocation(loc)
	if err != nil {
		t.Fatalf("GODWIT_TEST_SFTP_REPO: %v", err)
	}
	cfg.SSHOptions = strings.Fields(strings.Trim(vars["GODWIT_TEST_SFTP_SSH_OPTIONS"], `'"`))
	return cfg
}

// freshConfig returns the test server's configuration with a path no other
// test uses, removed when the test ends.
func freshConfig(t *testing.T) Config {
	t.Helper()
	cfg := testServer(t)
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "-" + hex.EncodeToString(suffix[:])
	cfg.Path = path.Join(cfg.Path, name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := dial(ctx, cfg)
		if err != nil {
			t.Errorf("clean up %s: %v", cfg.Path, err)
			return
		}
		defer c.close()
		if err := c.client.RemoveAll(cfg.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("clean up %s: %v", cfg.Path, err)
		}
	})
	return cfg
}

func create(t *testing.T, cfg Config) *Backend {
	t.Helper()
	be, err := Create(t.Context(), cfg)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return be
}

func TestConformance(t *testing.T) {
	testServer(t)
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return create(t, freshConfig(t))
	})
}

func TestCreateMakesPrivateLayoutAndRefusesExistingRepository(t *testing.T) {
	cfg := freshConfig(t)
	be := create(t, cfg)
	defer be.Close()
	if err := be.Save(t.Context(), backends.Handle{Type: backends.ConfigFile}, []byte("cfg")); err != nil {
		t.Fatalf("save config: %v", err)
	}
	if err := be.Save(t.Context(), backends.Handle{Type: backends.PackFile, Name: "zz01"}, []byte("pack")); err != nil {
		t.Fatalf("save pack in a new directory: %v", err)
	}
	c, err := be.conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rel  string
		mode fs.FileMode
	}{
		{"", fs.ModeDir | 0o700},
		{"keys", fs.ModeDir | 0o700},
		{"data/00", fs.ModeDir | 0o700},
		{"data/ff", fs.ModeDir | 0o700},
		{"data/zz", fs.ModeDir | 0o700},
		{"config", 0o600},
		{"data/zz/zz01", 0o600},
	} {
		fi, err := c.client.Stat(path.Join(cfg.Path, tc.rel))
		if err != nil {
			t.Errorf("stat %q: %v", tc.rel, err)
			continue
		}
		if got := fi.Mode() & (fs.ModeDir | fs.ModePerm); got != tc.mode {
			t.Errorf("mode of %q: got %v, want %v", tc.rel, got, tc.mode)
		}
	}

	_, err = Create(t.Context(), cfg)
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), cfg.Location()) {
		t.Errorf("create over existing repository: got %v, want fs.ErrExist naming %s", err, cfg.Location())
	}
	be2, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if got, err := backends.LoadAll(t.Context(), be2, backends.Handle{Type: backends.ConfigFile}); err != nil || string(got) != "cfg" {
		t.Errorf("load config through Open: got %q, %v", got, err)
	}
	be2.Close()
}

func TestOpenMissingRepositoryWrapsErrNotExist(t *testing.T) {
	cfg := freshConfig(t)
	_, err := Open(t.Context(), cfg)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open missing repository: got %v, want fs.ErrNotExist", err)
	}
	want := "repository " + cfg.Location() + " does not exist"
	if err.Error() != want {
		t.Errorf("open missing repository: got %q, want %q", err, want)
	}
}

// writeKnownHosts writes a known_hosts file holding, for the test server,
// a freshly generated key that is not the server's.
func writeKnownHosts(t *testing.T, cfg Config, withWrongKey bool) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "known_hosts")
	var data []byte
	if withWrongKey {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		sshPub, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		data = append([]byte(cfg.knownHostsName()+" "), ssh.MarshalAuthorizedKey(sshPub)...)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// replaceOption returns opts with the -o option key set to value instead.
func replaceOption(opts []string, key, value string) []string {
	var out []string
	for i := 0; i < len(opts); i++ {
		if opts[i] == "-o" && i+1 < len(opts) && strings.HasPrefix(strings.ToLower(opts[i+1]), strings.ToLower(key)+"=") {
			i++
			continue
		}
		out = append(out, opts[i])
	}
	return append(out, "-o", key+"="+value)
}

func TestHostKeyProblemIsAnErrorThatSaysWhatToDo(t *testing.T) {
	tests := []struct {
		name     string
		wrongKey bool
		want     []string
	}{
		{"unknown key", false, []string{"host key", "known_hosts", "ssh-keyscan"}},
		{"changed key", true, []string{"host key has changed", "ssh-keygen -R"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := freshConfig(t)
			cfg.SSHOptions = replaceOption(cfg.SSHOptions, "UserKnownHostsFile", writeKnownHosts(t, cfg, tc.wrongKey))
			// A user's own option cannot switch checking off.
			cfg.SSHOptions = append(cfg.SSHOptions, "-o", "StrictHostKeyChecking=no")
			be, err := Create(t.Context(), cfg)
			if err == nil {
				be.Close()
				t.Fatal("create with a wrong host key: got no error")
			}
			for _, w := range append(tc.want, cfg.Location()) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if !errors.Is(err, backends.ErrPermanent) {
				t.Errorf("error %v does not wrap backends.ErrPermanent", err)
			}
		})
	}
}

func TestAuthenticationFailureIsAnErrorThatSaysWhatToDo(t *testing.T) {
	cfg := freshConfig(t)
	cfg.User = "godwit-no-such-user"
	_, err := Open(t.Context(), cfg)
	if err == nil {
		t.Fatal("open as an unknown user: got no error")
	}
	for _, w := range []string{"authentication failed for godwit-no-such-user", "authorized_keys", "Permission denied", cfg.Location()} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if !errors.Is(err, backends.ErrPermanent) {
		t.Errorf("error %v does not wrap backends.ErrPermanent", err)
	}
}

func TestCommandReplacesSSH(t *testing.T) {
	base := freshConfig(t)
	t.Run("working command", func(t *testing.T) {
		cfg := base
		cfg.Command = slices.Concat([]string{"ssh", "-p", strconv.Itoa(base.Port), "-l", base.User}, base.SSHOptions, []string{base.Host, "-s", "sftp"})
		be := create(t, cfg)
		defer be.Close()
		h := backends.Handle{Type: backends.KeyFile, Name: "k1"}
		if err := be.Save(t.Context(), h, []byte("key")); err != nil {
			t.Fatalf("save: %v", err)
		}
	})
	t.Run("failing command", func(t *testing.T) {
		cfg := base
		cfg.Command = []string{"sh", "-c", "echo 'no route to the backup host' >&2; exit 1"}
		_, err := Open(t.Context(), cfg)
		if err == nil || !strings.Contains(err.Error(), "no route to the backup host") || !strings.Contains(err.Error(), "--sftp-command") {
			t.Errorf("open with a failing command: got %v, want its output and a hint about --sftp-command", err)
		}
	})
	t.Run("missing command", func(t *testing.T) {
		cfg := base
		cfg.Command = []string{"/nonexistent/godwit-ssh"}
		_, err := Open(t.Context(), cfg)
		if err == nil || !strings.Contains(err.Error(), "cannot run /nonexistent/godwit-ssh") {
			t.Errorf("open with a missing command: got %v, want it to say the command cannot run", err)
		}
	})
}

// sshProcess returns the running ssh child of be.
func sshProcess(t *testing.T, be *Backend) *conn {
	t.Helper()
	be.mu.Lock()
	defer be.mu.Unlock()
	if be.c == nil {
		t.Fatal("backend has no connection")
	}
	return be.c
}

func TestReconnectsAfterSSHProcessDies(t *testing.T) {
	be := create(t, freshConfig(t))
	defer be.Close()
	ctx := t.Context()
	h := backends.Handle{Type: backends.IndexFile, Name: "before"}
	if err := be.Save(ctx, h, []byte("saved before")); err != nil {
		t.Fatalf("save: %v", err)
	}
	ops := []struct {
		name string
		fn   func() error
	}{
		{"load", func() error {
			got, err := backends.LoadAll(ctx, be, h)
			if err == nil && string(got) != "saved before" {
				err = errors.New("wrong contents " + string(got))
			}
			return err
		}},
		{"save", func() error {
			return be.Save(ctx, backends.Handle{Type: backends.PackFile, Name: "after1"}, bytes.Repeat([]byte("x"), 3<<20))
		}},
		{"stat", func() error { _, err := be.Stat(ctx, h); return err }},
		{"list", func() error {
			return be.List(ctx, backends.IndexFile, func(backends.FileInfo) error { return nil })
		}},
		{"remove", func() error { return be.Remove(ctx, h) }},
	}
	for _, op := range ops {
		c := sshProcess(t, be)
		if err := c.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-c.exited
		if err := op.fn(); err != nil {
			t.Errorf("%s after the ssh process died: %v", op.name, err)
		}
		if sshProcess(t, be) == c {
			t.Errorf("%s after the ssh process died: still the old connection", op.name)
		}
	}
}

func TestCloseKillsSSHProcess(t *testing.T) {
	be := create(t, freshConfig(t))
	c := sshProcess(t, be)
	if err := be.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	select {
	case <-c.exited:
	default:
		t.Fatal("ssh process still running after Close returned")
	}
	if err := c.cmd.Process.Signal(os.Signal(nil)); err == nil {
		t.Error("ssh process still accepts signals after Close")
	}
	_, err := be.Stat(t.Context(), backends.Handle{Type: backends.KeyFile, Name: "x"})
	if !errors.Is(err, os.ErrClosed) {
		t.Errorf("stat after close: got %v, want os.ErrClosed", err)
	}
	if err := be.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestLoadStopsWhenContextIsCancelled(t *testing.T) {
	be := create(t, freshConfig(t))
	defer be.Close()
	h := backends.Handle{Type: backends.PackFile, Name: "big"}
	if err := be.Save(t.Context(), h, make([]byte, 8<<20)); err != nil {
		t.Fatalf("save: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var read int64
	err := be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		buf := make([]byte, 4096)
		n, err := rd.Read(buf)
		read += int64(n)
		if err != nil {
			return err
		}
		cancel()
		n64, err := io.Copy(io.Discard, rd)
		read += n64
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("load cancelled while reading: got %v, want context.Canceled", err)
	}
	if read >= 8<<20 {
		t.Errorf("load cancelled while reading read all %d bytes", read)
	}
	// The backend still works for other calls.
	if _, err := be.Stat(t.Context(), h); err != nil {
		t.Errorf("stat after a cancelled load: %v", err)
	}
}

func TestDiskFullIsAnErrorThatSaysWhatToDo(t *testing.T) {
	cfg := freshConfig(t)
	if cfg.Host != "127.0.0.1" && cfg.Host != "localhost" && cfg.Host != "::1" {
		t.Skip("the server's file system is not on this machine")
	}
	// A 1 MiB file system under the repository: it needs root (or mount
	// privileges), which the test server setup has in CI.
	if err := os.MkdirAll(cfg.Path, 0o700); err != nil {
		t.Skipf("cannot make %s here: %v", cfg.Path, err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", cfg.Path).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small file system: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", cfg.Path).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", cfg.Path, err, out)
		}
	})

	be := create(t, cfg)
	defer be.Close()
	h := backends.Handle{Type: backends.PackFile, Name: "toolarge"}
	err := be.Save(t.Context(), h, make([]byte, 2<<20))
	if err == nil {
		t.Fatal("save 2 MiB onto a 1 MiB file system: got no error")
	}
	for _, w := range []string{"no space left", "save data/to/toolarge", cfg.Location()} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, backends.ErrPermanent) {
		t.Errorf("error %v does not wrap ENOSPC and backends.ErrPermanent", err)
	}
	entries, err := os.ReadDir(filepath.Join(cfg.Path, "data", "to"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("files left behind after the failed save: %v", entries)
	}
	// A small object still fits.
	if err := be.Save(t.Context(), backends.Handle{Type: backends.LockFile, Name: "small"}, []byte("lock")); err != nil {
		t.Errorf("save a small object after the failed one: %v", err)
	}
}

func TestPermissionDeniedIsAnErrorThatSaysWhatToDo(t *testing.T) {
	cfg := freshConfig(t)
	if cfg.Host != "127.0.0.1" && cfg.Host != "localhost" && cfg.Host != "::1" {
		t.Skip("the server's file system is not on this machine")
	}
	be := create(t, cfg)
	defer be.Close()
	// An immutable directory refuses new entries even to root.
	keys := filepath.Join(cfg.Path, "keys")
	if out, err := exec.Command("chattr", "+i", keys).CombinedOutput(); err != nil {
		t.Skipf("cannot make a directory immutable: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("chattr", "-i", keys).CombinedOutput(); err != nil {
			t.Errorf("chattr -i %s: %v: %s", keys, err, out)
		}
	})

	err := be.Save(t.Context(), backends.Handle{Type: backends.KeyFile, Name: "k"}, []byte("key"))
	if err == nil {
		t.Fatal("save into a directory that refuses writes: got no error")
	}
	for _, w := range []string{"save keys/k", "permission denied", cfg.Location()} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if !errors.Is(err, fs.ErrPermission) || !errors.Is(err, backends.ErrPermanent) {
		t.Errorf("error %v does not wrap fs.ErrPermission and backends.ErrPermanent", err)
	}
}

func TestLoadCallsFnAgainWhenConnectionDropsWhileReading(t *testing.T) {
	be := create(t, freshConfig(t))
	defer be.Close()
	h := backends.Handle{Type: backends.PackFile, Name: "dropped"}
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	if err := be.Save(t.Context(), h, data); err != nil {
		t.Fatalf("save: %v", err)
	}
	calls := 0
	var got []byte
	err := be.Load(t.Context(), h, 0, 0, func(rd io.Reader) error {
		calls++
		if calls == 1 {
			if _, err := io.ReadFull(rd, make([]byte, 1000)); err != nil {
				return err
			}
			c := sshProcess(t, be)
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		var err error
		got, err = io.ReadAll(rd)
		return err
	})
	if err != nil {
		t.Fatalf("load with the connection dropped while reading: %v", err)
	}
	if calls != 2 {
		t.Errorf("fn called %d times, want 2", calls)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("load after reconnecting: got %d bytes, want %d (contents differ)", len(got), len(data))
	}
}
