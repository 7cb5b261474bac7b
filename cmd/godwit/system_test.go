package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/godwit-backup/godwit/internal/fsmeta"
	"github.com/godwit-backup/godwit/internal/sysinfo"
	"github.com/godwit-backup/godwit/internal/testutil"
)

// deadServer makes the disk of a mail server, as mounted from a rescue
// system: its own passwd and group, mail, and dovecot indexes.
func deadServer(t *testing.T, root string) {
	t.Helper()
	writeFile(t, filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash\nvmail:x:5000:5000::/home/vmail:/usr/sbin/nologin\n"))
	writeFile(t, filepath.Join(root, "etc/group"), []byte("root:x:0:\nvmail:x:5000:\n"))
	writeFile(t, filepath.Join(root, "etc/hostname"), []byte("mail1\n"))
	writeFile(t, filepath.Join(root, "etc/os-release"), []byte("ID=debian\nVERSION_ID=\"12\"\n"))
	writeFile(t, filepath.Join(root, "home/vmail/alice/Maildir/cur/1700000000.M1P1.mail1:2,S"), []byte("Subject: kept\n\nbody\n"))
	writeFile(t, filepath.Join(root, "home/vmail/alice/Maildir/dovecot.index.cache"), []byte("index"))
	os.MkdirAll(filepath.Join(root, "home/vmail/alice/Maildir/new"), 0o700)
	os.MkdirAll(filepath.Join(root, "home/vmail/alice/Maildir/tmp"), 0o700)
	writeFile(t, filepath.Join(root, "var/mail/bob"), []byte("From a@b Mon Jan  1 00:00:00 2024\nSubject: x\n\nhi\n\n"))
	if os.Geteuid() == 0 {
		filepath.Walk(filepath.Join(root, "home/vmail"), func(p string, fi os.FileInfo, err error) error {
			if err == nil {
				os.Lchown(p, 5000, 5000)
			}
			return nil
		})
	}
}

func TestBackupOfAMountedSystemRecordsItsOwnPathsAndManifest(t *testing.T) {
	c := newCLI(t)
	root := filepath.Join(c.dir, "mnt")
	deadServer(t, root)
	c.init()
	c.owner("backup", "--root", root, "--preset", "mailserver").must(t, 0)

	ls := c.owner("ls", "latest").must(t, 0).stdout
	for _, want := range []string{"/etc/hostname\n", "/home/vmail/alice/Maildir/cur/1700000000.M1P1.mail1:2,S\n", "/var/mail/bob\n"} {
		if !strings.Contains(ls, want) {
			t.Errorf("ls lacks %q:\n%s", want, ls)
		}
	}
	if strings.Contains(ls, root) || strings.Contains(ls, "dovecot.index") {
		t.Errorf("ls shows the mount point or dovecot indexes:\n%s", ls)
	}
	if os.Geteuid() == 0 {
		long := c.owner("ls", "-l", "latest", "/home/vmail/alice").must(t, 0).stdout
		if !strings.Contains(long, " vmail ") {
			t.Errorf("owner names do not come from the mounted system's passwd:\n%s", long)
		}
	}

	var snaps []snapshotJSON
	if err := json.Unmarshal([]byte(c.owner("snapshots", "--json").must(t, 0).stdout), &snaps); err != nil {
		t.Fatal(err)
	}
	if snaps[0].Manifest == "" {
		t.Fatal("no manifest stored")
	}
	if got := strings.Join(snaps[0].Paths, " "); got != "/etc /home /var/mail" {
		t.Errorf("paths %q", got)
	}
	raw := c.owner("cat", "blob", snaps[0].Manifest).must(t, 0).stdout
	m, err := sysinfo.Unmarshal([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Hostname != "mail1" || len(m.Users) != 2 || m.Users[1].Name != "vmail" {
		t.Errorf("manifest: host %q users %+v", m.Hostname, m.Users)
	}
	if os.Geteuid() == 0 && !bytes.Contains([]byte(raw), []byte(`5000`)) {
		t.Errorf("manifest lacks the owner ids: %s", raw)
	}

	// A write key cannot read the manifest: it is a data blob.
	wk := filepath.Join(c.dir, "wk")
	c.owner("key", "write-key", "-o", wk).must(t, 0)
	c.run("--repo", c.repo, "-i", wk, "cat", "blob", snaps[0].Manifest).must(t, exitError)
}

// TestRestoreOwnerNameMapsACLEntriesThroughTheManifest backs up a mounted
// system whose ACL grants webapp (uid 4242 there) access, and restores it
// into another system where webapp is uid 6000: the ACL entry follows the
// name, not the number.
func TestRestoreOwnerNameMapsACLEntriesThroughTheManifest(t *testing.T) {
	testutil.RequireRoot(t)
	c := newCLI(t)
	old := filepath.Join(c.dir, "old")
	writeFile(t, filepath.Join(old, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash\nwebapp:x:4242:4242::/srv:/usr/sbin/nologin\n"))
	writeFile(t, filepath.Join(old, "etc/group"), []byte("root:x:0:\nwebapp:x:4242:\n"))
	data := filepath.Join(old, "srv/data.db")
	writeFile(t, data, []byte("rows\n"))
	acl := fsmeta.ACL{
		{Tag: fsmeta.ACLUserObj, Perm: 6, ID: fsmeta.ACLUndefinedID},
		{Tag: fsmeta.ACLUser, Perm: 6, ID: 4242},
		{Tag: fsmeta.ACLGroupObj, Perm: 4, ID: fsmeta.ACLUndefinedID},
		{Tag: fsmeta.ACLGroup, Perm: 4, ID: 4242},
		{Tag: fsmeta.ACLMask, Perm: 6, ID: fsmeta.ACLUndefinedID},
		{Tag: fsmeta.ACLOther, Perm: 0, ID: fsmeta.ACLUndefinedID},
	}
	if err := unix.Setxattr(data, fsmeta.XattrACLAccess, acl.Marshal(), 0); err != nil {
		t.Fatal(err)
	}
	newRoot := filepath.Join(c.dir, "new")
	writeFile(t, filepath.Join(newRoot, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash\nwebapp:x:6000:6001::/srv:/usr/sbin/nologin\n"))
	writeFile(t, filepath.Join(newRoot, "etc/group"), []byte("root:x:0:\nwebapp:x:6001:\n"))

	c.init()
	c.owner("backup", "--root", old, "--manifest", "/srv").must(t, 0)
	c.owner("restore", "latest:/srv", "--target", filepath.Join(newRoot, "srv"), "--owner", "name", "--names-from", newRoot).must(t, 0)
	buf := make([]byte, 256)
	n, err := unix.Getxattr(filepath.Join(newRoot, "srv/data.db"), fsmeta.XattrACLAccess, buf)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fsmeta.ParseACL(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		if e.Tag == fsmeta.ACLUser && e.ID != 6000 || e.Tag == fsmeta.ACLGroup && e.ID != 6001 {
			t.Errorf("ACL entry %+v: want webapp's ids on the new system (6000/6001)", e)
		}
	}
}
