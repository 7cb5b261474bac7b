package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/godwit-backup/godwit/internal/testutil"
)

// TestRestoreRebuildsAServerTreeExactly backs up a tree with every kind of
// entry and metadata a server has, restores it with --sparse, and compares
// everything: content, type, mode, owner, mtime, xattrs and ACLs, link
// targets, hardlink groups, device numbers and holes.
func TestRestoreRebuildsAServerTreeExactly(t *testing.T) {
	testutil.RequireRoot(t)
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	st := testutil.BuildServerTree(t, src)
	c.init()
	b := c.owner("backup", src)
	// The tree holds a mode 0000 file, which root reads anyway.
	b.must(t, 0)

	target := filepath.Join(c.dir, "restore")
	c.owner("restore", "latest:"+src, "--target", target, "--sparse").must(t, 0)
	requireSame(t, src, target, testutil.CompareOptions{CheckSparse: true})

	// The big sparse file must not have been filled in.
	var sst syscall.Stat_t
	if err := syscall.Stat(filepath.Join(target, st.Sparse), &sst); err != nil {
		t.Fatal(err)
	}
	if sst.Blocks*512 > 16<<20 {
		t.Errorf("sparse file allocates %d bytes after restore", sst.Blocks*512)
	}

	// A second restore over the same target skips every complete file and
	// still gives the same tree.
	again := c.owner("restore", "latest:"+src, "--target", target, "--sparse").must(t, 0)
	if !strings.Contains(again.stdout, "already complete and skipped") {
		t.Errorf("second restore did not skip complete files:\n%s", again.stdout)
	}
	requireSame(t, src, target, testutil.CompareOptions{CheckSparse: true})
}

func TestRestoreWithOwnerNoneKeepsTheRestoringUser(t *testing.T) {
	testutil.RequireRoot(t)
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.BuildServerTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	target := filepath.Join(c.dir, "restore")
	r := c.owner("restore", "latest:"+src, "--target", target, "--owner", "none").must(t, 0)
	if strings.Contains(r.stderr, "ownership was not restored") {
		t.Errorf("--owner none must not warn about ownership: %s", r.stderr)
	}
	requireSame(t, src, target, testutil.CompareOptions{IgnoreOwner: true})
	err := filepath.Walk(target, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 0 {
			t.Errorf("%s owned by %d after --owner none", p, uid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// runAsNobody runs the godwit binary as uid/gid 65534.
func runAsNobody(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(godwitBinary(t), args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run godwit: %v", err)
	}
	return string(out), code
}

// nobodyDir makes a directory that uid 65534 can use.
func nobodyDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "godwit-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestUnreadableFilesMakeBackupIncomplete backs up, as an unprivileged
// user, a tree holding a file and a directory it cannot read: the
// snapshot is written, the warnings name them, and the exit code is 3.
// The same user's restore then skips chown and says so once.
func TestUnreadableFilesMakeBackupIncomplete(t *testing.T) {
	testutil.RequireRoot(t)
	dir := nobodyDir(t)
	src := filepath.Join(dir, "src")
	smallTree(t, src)
	writeFile(t, filepath.Join(src, "etc/shadow"), []byte("root:secret\n"))
	if err := os.Chmod(filepath.Join(src, "etc/shadow"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(src, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o004 == 0 && !strings.HasSuffix(p, "shadow") && !strings.HasSuffix(p, "private") {
			return os.Chmod(p, fi.Mode().Perm()|0o005)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "pw")
	writeFile(t, pw, []byte("pass\n"))
	os.Chmod(pw, 0o644)
	env := []string{
		"GODWIT_REPOSITORY=" + filepath.Join(dir, "repo"),
		"GODWIT_PASSWORD_FILE=" + pw,
		"GODWIT_KNOWN_REPOSITORIES=" + filepath.Join(dir, "known"),
		"GODWIT_CACHE_DIR=" + filepath.Join(dir, "cache"),
		"GODWIT_SCRYPT_WORK_FACTOR=10",
	}
	if out, code := runAsNobody(t, env, "init"); code != 0 {
		t.Fatalf("init: %d\n%s", code, out)
	}
	out, code := runAsNobody(t, env, "backup", src)
	if code != exitIncomplete {
		t.Fatalf("backup exit code %d, want %d\n%s", code, exitIncomplete, out)
	}
	for _, want := range []string{"etc/shadow: open", "private: open", "incomplete: 2 files"} {
		if !strings.Contains(out, want) {
			t.Errorf("backup output lacks %q:\n%s", want, out)
		}
	}
	out, code = runAsNobody(t, env, "snapshots")
	if code != 0 || !strings.Contains(out, "(incomplete)") {
		t.Errorf("snapshots (%d) does not mark the snapshot incomplete:\n%s", code, out)
	}
	target := filepath.Join(dir, "restore")
	out, code = runAsNobody(t, env, "restore", "latest:"+src, "--target", target)
	if code != 0 {
		t.Fatalf("restore as nobody: %d\n%s", code, out)
	}
	if n := strings.Count(out, "not running as root: ownership was not restored"); n != 1 {
		t.Errorf("the chown notice appears %d times:\n%s", n, out)
	}
	data, err := os.ReadFile(filepath.Join(target, "etc/postfix/main.cf"))
	if err != nil || !strings.Contains(string(data), "myhostname") {
		t.Errorf("readable file not restored: %v", err)
	}
}
