package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godwit-backup/godwit/crypto"
)

// secretNames and secretContent are planted in the backed-up tree; nothing
// a write key can decrypt may contain them.
var (
	secretNames   = []string{"alice-private-mailbox", "1700000099.M9P9.mail1:2,S", "quarterly-results-xyzzy.pdf"}
	secretContent = []string{"Subject: the merger plan", "The password for the vault is plugh"}
)

func secretTree(t *testing.T, root string) {
	t.Helper()
	smallTree(t, root)
	writeFile(t, filepath.Join(root, "home", secretNames[0], "Maildir/cur", secretNames[1]),
		[]byte("From: bob@example.org\n"+secretContent[0]+"\n\n"+secretContent[1]+"\n"))
	writeFile(t, filepath.Join(root, "var/www", secretNames[2]), []byte(strings.Repeat(secretContent[1]+"\n", 1000)))
}

func TestWriteKeyBacksUpButCannotRead(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	secretTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	wk := filepath.Join(c.dir, "write.key")
	c.owner("key", "write-key", "--output", wk, "--host", "mail1").must(t, 0)
	if fi, err := os.Stat(wk); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("write key file: %v %v", fi.Mode(), err)
	}
	writer := func(args ...string) result {
		return c.run(append([]string{"--repo", c.repo, "-i", wk}, args...)...)
	}

	// A new file plus everything already stored: only the new content is added.
	writeFile(t, filepath.Join(src, "etc/new.conf"), []byte("added by the writer\n"))
	out := writer("backup", "--force", src).must(t, 0)
	if strings.Contains(out.stdout, "MiB in") {
		t.Errorf("write-key backup re-uploaded content instead of deduplicating:\n%s", out.stdout)
	}
	if r := writer("snapshots").must(t, 0); !strings.Contains(r.stdout, "2 snapshots") && !strings.Contains(r.stderr, "2 snapshots") {
		t.Errorf("writer cannot list snapshots: %s %s", r.stdout, r.stderr)
	}

	for _, args := range [][]string{
		{"ls", "latest"},
		{"restore", "latest", "--target", filepath.Join(c.dir, "nope")},
		{"cat", "pack", "00"},
		{"cat", "blob", strings.Repeat("0", 64)},
		{"key", "add", "--new-password-file", c.pwFile},
		{"key", "write-key", "--output", filepath.Join(c.dir, "wk2")},
	} {
		r := writer(args...).must(t, exitError)
		if !strings.Contains(r.stderr, "write key") || !strings.Contains(r.stderr, "owner credential") {
			t.Errorf("%v: error does not explain the write key:\n%s", args, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(c.dir, "nope")); err == nil {
		t.Error("restore with a write key created the target")
	}

	// The owner restores what the writer backed up.
	target := filepath.Join(c.dir, "restore")
	c.owner("restore", "latest:"+src, "--target", target).must(t, 0)
	requireSame(t, src, target, compareOpts())
}

// TestNothingAWriteKeyDecryptsHoldsNamesOrContent decrypts every object
// of a repository with the write key's metadata key and looks for the
// file names and contents that were backed up.
func TestNothingAWriteKeyDecryptsHoldsNamesOrContent(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	secretTree(t, src)
	c.init()
	c.owner("backup", src).must(t, 0)
	wkPath := filepath.Join(c.dir, "write.key")
	c.owner("key", "write-key", "--output", wkPath).must(t, 0)
	writeFile(t, filepath.Join(src, "home", secretNames[0], "Maildir/new/1700000100.M1P1.mail1"), []byte(secretContent[0]+" (new)\n"))
	c.run("--repo", c.repo, "-i", wkPath, "backup", src).must(t, 0)

	data, err := os.ReadFile(wkPath)
	if err != nil {
		t.Fatal(err)
	}
	wk, err := crypto.ParseWriteKey(data)
	if err != nil {
		t.Fatal(err)
	}
	keys := wk.Keys()
	decrypted, packs := 0, 0
	err = filepath.Walk(c.repo, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(c.repo, p)
		ct, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, "data/") {
			packs++
			if _, err := keys.OpenMeta(ct); err == nil {
				t.Errorf("%s: a pack decrypts with the write key", rel)
			}
			if _, err := keys.OpenData(ct); err == nil {
				t.Errorf("%s: OpenData works with a write key", rel)
			}
			return nil
		}
		plain, err := keys.OpenMeta(ct)
		if err != nil {
			if !strings.HasPrefix(rel, "keys/") {
				t.Errorf("%s: the write key cannot decrypt a metadata object: %v", rel, err)
			}
			return nil
		}
		decrypted++
		for _, s := range append(append([]string{}, secretNames...), secretContent...) {
			if bytes.Contains(plain, []byte(s)) {
				t.Errorf("%s decrypts with the write key and contains %q", rel, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if decrypted < 4 || packs < 2 {
		t.Fatalf("checked only %d metadata objects and %d packs", decrypted, packs)
	}
}
