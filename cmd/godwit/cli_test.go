package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godwit-backup/godwit/internal/testutil"
)

// smallTree makes a small mail-server-like tree that any user can create.
func smallTree(t *testing.T, root string) {
	t.Helper()
	writeFile(t, filepath.Join(root, "etc/hostname"), []byte("mail1\n"))
	writeFile(t, filepath.Join(root, "etc/postfix/main.cf"), []byte("myhostname = mail1.example.org\n"))
	for i, name := range []string{"1700000000.M1P1.mail1:2,S", "1700000001.M2P2.mail1:2,RS"} {
		writeFile(t, filepath.Join(root, "home/alice/Maildir/cur", name), []byte(strings.Repeat("Subject: hello\n\nbody line\n", 50+i)))
	}
	if err := os.MkdirAll(filepath.Join(root, "home/alice/Maildir/tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "var/mail/alice"), []byte("From alice@example.org Mon Jan  1 00:00:00 2024\nSubject: x\n\nhi\n\n"))
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i*7 + i/4096)
	}
	writeFile(t, filepath.Join(root, "var/www/big.bin"), big)
}

func compareOpts() testutil.CompareOptions {
	return testutil.CompareOptions{IgnoreOwner: os.Geteuid() != 0}
}

func requireSame(t *testing.T, want, got string, opts testutil.CompareOptions) {
	t.Helper()
	diffs, err := testutil.CompareTrees(want, got, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("restored tree differs from the source (%d differences):\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
}

func TestBackupThenRestoreGivesTheSameTree(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	first := c.owner("backup", src).must(t, 0)
	if !strings.Contains(first.stdout, "6 new, 0 changed, 0 unchanged") {
		t.Errorf("first backup summary: %s", first.stdout)
	}
	second := c.owner("backup", src).must(t, 0)
	if !strings.Contains(second.stdout, "0 new, 0 changed, 6 unchanged") || !strings.Contains(second.stdout, "read 0 B of") {
		t.Errorf("unchanged re-backup summary: %s", second.stdout)
	}

	var snaps []snapshotJSON
	out := c.owner("snapshots", "--json").must(t, 0)
	if err := json.Unmarshal([]byte(out.stdout), &snaps); err != nil || len(snaps) != 2 {
		t.Fatalf("snapshots --json: %v: %s", err, out.stdout)
	}
	if snaps[1].Paths[0] != src || snaps[1].Summary.FilesUnchanged != 6 {
		t.Errorf("snapshot: %+v", snaps[1])
	}

	ls := c.owner("ls", "latest", filepath.Join(src, "home/alice")).must(t, 0)
	if !strings.Contains(ls.stdout, "/Maildir/cur/1700000001.M2P2.mail1:2,RS\n") || strings.Contains(ls.stdout, "/etc/") {
		t.Errorf("ls of a subdirectory:\n%s", ls.stdout)
	}

	target := filepath.Join(c.dir, "restore")
	c.owner("restore", "latest:"+src, "--target", target).must(t, 0)
	requireSame(t, src, target, compareOpts())

	// Restoring the whole snapshot rebuilds the absolute path below the target.
	full := filepath.Join(c.dir, "full")
	c.owner("restore", snaps[0].ShortID, "--target", full).must(t, 0)
	requireSame(t, src, filepath.Join(full, src), compareOpts())
}

func TestRestoreIncludeAndExcludeSelectPaths(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	target := filepath.Join(c.dir, "t")
	c.owner("restore", "latest:"+src, "--target", target, "--include", src+"/home", "--exclude", "tmp").must(t, 0)
	if _, err := os.Stat(filepath.Join(target, "home/alice/Maildir/cur")); err != nil {
		t.Errorf("included directory missing: %v", err)
	}
	for _, p := range []string{"etc", "var", "home/alice/Maildir/tmp"} {
		if _, err := os.Lstat(filepath.Join(target, p)); err == nil {
			t.Errorf("%s restored although not selected", p)
		}
	}
}

func TestBackupExcludes(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	writeFile(t, filepath.Join(src, "home/alice/.cache/CACHEDIR.TAG"), []byte("Signature: 8a477f597d28d172789f06886806bc55\n"))
	writeFile(t, filepath.Join(src, "home/alice/.cache/junk"), []byte("junk"))
	writeFile(t, filepath.Join(src, "home/alice/Maildir/dovecot.index.cache"), []byte("idx"))
	writeFile(t, filepath.Join(src, "var/www/tmp/session"), []byte("s"))
	exFile := filepath.Join(c.dir, "excludes")
	writeFile(t, exFile, []byte("# dovecot indexes\ndovecot.index*\n\n"))
	c.init()
	c.owner("backup", "--exclude-file", exFile, "--exclude", src+"/var/www/tmp", "--exclude-caches", src).must(t, 0)
	ls := c.owner("ls", "latest").must(t, 0).stdout
	for _, gone := range []string{"dovecot.index.cache", "/var/www/tmp", ".cache/junk"} {
		if strings.Contains(ls, gone) {
			t.Errorf("%s was not excluded:\n%s", gone, ls)
		}
	}
	for _, kept := range []string{".cache/CACHEDIR.TAG", "/var/www/big.bin"} {
		if !strings.Contains(ls, kept) {
			t.Errorf("%s missing:\n%s", kept, ls)
		}
	}
}

func TestExitCodes(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	wrong := filepath.Join(c.dir, "wrong")
	writeFile(t, wrong, []byte("not the passphrase\n"))

	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"wrong passphrase", []string{"--repo", c.repo, "--password-file", wrong, "snapshots"}, exitNoKey, "wrong passphrase"},
		{"missing repository", []string{"--repo", filepath.Join(c.dir, "nothing"), "--password-file", c.pwFile, "snapshots"}, exitNoRepo, "does not exist"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
		{"unknown flag", []string{"backup", "--frobnicate"}, exitUsage, "unknown flag"},
		{"no paths", []string{"--repo", c.repo, "--password-file", c.pwFile, "backup"}, exitUsage, "at least one path"},
		{"no repository", []string{"snapshots"}, exitUsage, "no repository given"},
		{"restore without target", []string{"--repo", c.repo, "--password-file", c.pwFile, "restore", "latest"}, exitUsage, "--target"},
		{"bad owner mode", []string{"--repo", c.repo, "--password-file", c.pwFile, "restore", "latest", "--target", "x", "--owner", "bogus"}, exitUsage, "--owner"},
		{"no such snapshot", []string{"--repo", c.repo, "--password-file", c.pwFile, "ls", "ffffffff"}, exitError, "no matching snapshot"},
		{"init twice", []string{"--repo", c.repo, "--password-file", c.pwFile, "init"}, exitError, "already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.run(tc.args...).must(t, tc.code)
			if !strings.Contains(r.stderr, tc.msg) {
				t.Errorf("stderr does not say %q:\n%s", tc.msg, r.stderr)
			}
		})
	}
}

func TestVersionAndHelpListExitCodes(t *testing.T) {
	c := newCLI(t)
	if r := c.run("version").must(t, 0); !strings.Contains(r.stdout, "godwit "+version) {
		t.Errorf("version: %q", r.stdout)
	}
	h := c.run("--help").must(t, 0)
	for _, want := range []string{"12  wrong passphrase", "10  repository does not exist", "3   backup written"} {
		if !strings.Contains(h.stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestRetriesFlagZeroMeansNoRetries(t *testing.T) {
	for in, want := range map[int]int{0: -1, -3: -1, 1: 1, 3: 3} {
		if got := retryOption(in); got != want {
			t.Errorf("retryOption(%d) = %d, want %d", in, got, want)
		}
	}
}
