package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyDest is a second repository next to c's, with its own passphrase.
type copyDest struct {
	c            *cli
	repo, pwFile string
}

func newCopyDest(t *testing.T, c *cli) *copyDest {
	t.Helper()
	d := &copyDest{c: c, repo: filepath.Join(c.dir, "dst"), pwFile: filepath.Join(c.dir, "dst-pw")}
	if err := os.WriteFile(d.pwFile, []byte("a different passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.owner("init").must(t, 0)
	return d
}

// owner runs godwit on the destination, unlocked with its passphrase.
func (d *copyDest) owner(args ...string) result {
	d.c.t.Helper()
	return d.c.run(append([]string{"--repo", d.repo, "--password-file", d.pwFile}, args...)...)
}

// copyFrom runs copy into the destination with the source's passphrase.
func (d *copyDest) copyFrom(args ...string) result {
	d.c.t.Helper()
	return d.owner(append([]string{"copy", "--from-repo", d.c.repo, "--from-password-file", d.c.pwFile}, args...)...)
}

func parseCopyJSON(t *testing.T, r result) copyJSON {
	t.Helper()
	var out copyJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("copy --json: %v\n%s", err, r.stdout)
	}
	return out
}

// repoDataSize sums the sizes of the pack files of a local repository.
func repoDataSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(filepath.Join(dir, "data"), func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		fi, err := de.Info()
		n += fi.Size()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCopyRestoresIdenticallyAndSecondCopyAddsNothing(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	c.owner("backup", "--tag", "daily", src).must(t, 0)
	writeFile(t, filepath.Join(src, "var/mail/alice"), []byte("From bob@example.org Tue Jan  2 00:00:00 2024\nSubject: y\n\nnew\n\n"))
	c.owner("backup", "--tag", "daily", src).must(t, 0)
	d := newCopyDest(t, c)

	first := parseCopyJSON(t, d.copyFrom("--json").must(t, 0))
	if len(first.Copied) != 2 || len(first.Skipped) != 0 {
		t.Fatalf("first copy: %+v, want 2 snapshots copied", first)
	}
	var srcSnaps, dstSnaps []snapshotJSON
	if err := json.Unmarshal([]byte(c.owner("snapshots", "--json").must(t, 0).stdout), &srcSnaps); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(d.owner("snapshots", "--json").must(t, 0).stdout), &dstSnaps); err != nil {
		t.Fatal(err)
	}
	if len(dstSnaps) != len(srcSnaps) {
		t.Fatalf("destination has %d snapshots, source %d", len(dstSnaps), len(srcSnaps))
	}
	for i, s := range srcSnaps {
		got := dstSnaps[i]
		if !got.Time.Equal(s.Time) || got.Host != s.Host || strings.Join(got.Paths, " ") != strings.Join(s.Paths, " ") ||
			strings.Join(got.Tags, ",") != "daily" || got.ID == s.ID || got.Tree == s.Tree || (got.Manifest == "") != (s.Manifest == "") {
			t.Errorf("snapshot %d: copy %+v does not match source %+v", i, got, s)
		}
	}

	fromSrc, fromDst := filepath.Join(c.dir, "restore-src"), filepath.Join(c.dir, "restore-dst")
	c.owner("restore", "latest", "--target", fromSrc).must(t, 0)
	d.owner("restore", "latest", "--target", fromDst).must(t, 0)
	requireSame(t, fromSrc, fromDst, compareOpts())
	requireSame(t, src, filepath.Join(fromDst, src), compareOpts())
	d.owner("check", "--read-data").must(t, 0)

	sizeBefore := repoDataSize(t, d.repo)
	second := parseCopyJSON(t, d.copyFrom("--json").must(t, 0))
	if len(second.Copied) != 0 || len(second.Skipped) != 2 || second.Stats.BytesAdded != 0 || second.Stats.BlobsRead != 0 {
		t.Errorf("second copy: %+v, want everything skipped and nothing read or added", second)
	}
	if after := repoDataSize(t, d.repo); after != sizeBefore {
		t.Errorf("second copy grew the destination's packs from %d to %d bytes", sizeBefore, after)
	}
}

func TestCopyIntoWriteKeyDestinationFromEnvironmentCredentials(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	d := newCopyDest(t, c)
	wk := filepath.Join(c.dir, "dst-write.key")
	d.owner("key", "write-key", "--output", wk, "--host", "admin").must(t, 0)

	c.env["GODWIT_FROM_REPOSITORY"] = c.repo
	c.env["GODWIT_FROM_PASSWORD_FILE"] = c.pwFile
	out := c.run("--repo", d.repo, "-i", wk, "copy", "latest").must(t, 0)
	if !strings.Contains(out.stdout, "1 snapshots copied, 0 skipped") {
		t.Errorf("copy with a write key: %s", out.stdout)
	}

	target := filepath.Join(c.dir, "restore")
	d.owner("restore", "latest:"+src, "--target", target).must(t, 0)
	requireSame(t, src, target, compareOpts())
	d.owner("check", "--read-data").must(t, 0)
}

func TestCopyStoresSharedDataOnce(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	c.owner("backup", "--host", "one", src).must(t, 0)
	writeFile(t, filepath.Join(src, "etc/hostname"), []byte("mail2\n"))
	c.owner("backup", "--host", "two", src).must(t, 0)

	one := newCopyDest(t, c)
	one.copyFrom("--host", "one").must(t, 0)
	oneSize := repoDataSize(t, one.repo)

	both := &copyDest{c: c, repo: filepath.Join(c.dir, "dst2"), pwFile: one.pwFile}
	both.owner("init").must(t, 0)
	both.copyFrom().must(t, 0)
	bothSize := repoDataSize(t, both.repo)
	// The second snapshot differs in one small file: it may add a few
	// trees and a small pack, never the 3 MiB of shared content again.
	if bothSize > oneSize+64<<10 {
		t.Errorf("two snapshots sharing their data take %d bytes, one takes %d: shared data stored twice", bothSize, oneSize)
	}
}

func TestCopyRefusesBadSources(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	d := newCopyDest(t, c)
	wk := filepath.Join(c.dir, "src-write.key")
	c.owner("key", "write-key", "--output", wk).must(t, 0)

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no source", []string{"copy"}, exitUsage, "--from-repo"},
		{"source opened with a write key", []string{"copy", "--from-repo", c.repo, "--from-identity-file", wk}, exitError, "owner credential"},
		{"wrong source passphrase", []string{"copy", "--from-repo", c.repo, "--from-password-file", d.pwFile}, exitNoKey, "source"},
		{"same repository", []string{"copy", "--from-repo", d.repo, "--from-password-file", d.pwFile}, exitUsage, "same repository"},
		{"unknown snapshot", []string{"copy", "--from-repo", c.repo, "--from-password-file", c.pwFile, "ffffffff"}, exitError, "no matching snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := d.owner(tt.args...).must(t, tt.code)
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr does not mention %q:\n%s", tt.want, r.stderr)
			}
		})
	}
	if r := d.owner("snapshots", "--json").must(t, 0); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("a refused copy wrote snapshots: %s", r.stdout)
	}
}
