package mailbox

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestIsMaildirMessage(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/home/bob/Maildir/cur/1700000000.M1P2.host:2,S", true},
		{"/home/bob/Maildir/new/1700000000.M1P2.host", true},
		{"home/bob/Maildir/.Sent/cur/1700000000.M1P2.host:2,S", true},
		{"Maildir/new/msg", true},
		{"/home/bob/Maildir/tmp/1700000000.M1P2.host", false},
		{"/home/bob/Maildir/cur/.hidden", false},
		{"/home/bob/Maildir/dovecot-uidlist", false},
		{"/home/bob/Maildir/cur", false},
		{"/home/bob/Maildir/cur/", false},
		{"cur/msg", false},
		{"/home/bob/Maildir/new/../cur/msg", true},
		{"/home/bob/curious/msg", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsMaildirMessage(tt.path); got != tt.want {
			t.Errorf("IsMaildirMessage(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestMaildirUniqueName(t *testing.T) {
	now := time.Date(2024, 3, 4, 9, 15, 2, 123456789, time.UTC)
	rnd := bytes.NewReader([]byte{0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78})
	tests := []struct {
		host, wantHost string
	}{
		{"mail.example.net", "mail.example.net"},
		{"odd/host:name", `odd\057host\072name`},
		{"", "localhost"},
	}
	for _, tt := range tests {
		rnd.Seek(0, 0)
		got := MaildirUniqueName(now, tt.host, rnd)
		want := "1709543702.M123456P" + strconv.Itoa(os.Getpid()) + "R0f1e2d3c4b5a6978." + tt.wantHost
		if got != want {
			t.Errorf("MaildirUniqueName(host %q) = %q, want %q", tt.host, got, want)
		}
	}
}

func TestDeliverMaildirCreatesMaildirAndUniqueFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Maildir")
	now := time.Date(2024, 3, 4, 9, 15, 2, 0, time.UTC)
	msgs := [][]byte{[]byte("Subject: one\n\nbody one\n"), []byte("Subject: two\n\nbody two\n")}
	var paths []string
	for _, m := range msgs {
		p, err := DeliverMaildir(dir, m, 0, 0, false, now, "mail.example.net")
		if err != nil {
			t.Fatalf("DeliverMaildir: %v", err)
		}
		paths = append(paths, p)
	}
	if paths[0] == paths[1] {
		t.Fatalf("two deliveries at the same time got the same name %s", paths[0])
	}
	for i, p := range paths {
		if filepath.Dir(p) != filepath.Join(dir, "new") {
			t.Errorf("delivered to %s, want a file in new/", p)
		}
		if !IsMaildirMessage(filepath.ToSlash(p)) {
			t.Errorf("IsMaildirMessage(%s) = false for a delivered message", p)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msgs[i]) {
			t.Errorf("content of %s = %q, want %q", p, got, msgs[i])
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode of %s = %v, want 0600", p, fi.Mode().Perm())
		}
	}
	for _, sub := range []string{"", "tmp", "new", "cur"} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s/%s: mode %v, want directory 0700", dir, sub, fi.Mode())
		}
	}
	tmp, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tmp) != 0 {
		t.Errorf("tmp/ holds %d leftover files", len(tmp))
	}
}

func TestDeliverMaildirLeavesExistingFilesAlone(t *testing.T) {
	dir := t.TempDir()
	existing := map[string]string{
		"cur/1600000000.M1P1.old:2,S": "old seen message\n",
		"new/1600000001.M1P1.old":     "old new message\n",
		"tmp/1600000002.M1P1.old":     "delivery in progress\n",
	}
	for name, content := range existing {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	p, err := DeliverMaildir(dir, []byte("Subject: restored\n\n"), 0, 0, false, time.Now(), "h")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range existing {
		fp := filepath.Join(dir, name)
		got, err := os.ReadFile(fp)
		if err != nil {
			t.Fatalf("existing file %s: %v", name, err)
		}
		fi, err := os.Stat(fp)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content || fi.Mode().Perm() != 0o640 || fi.ModTime().Year() != 2020 {
			t.Errorf("existing file %s was changed", name)
		}
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("existing directory %s mode changed to %v", sub, fi.Mode().Perm())
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("new/ holds %d files, want the old one and %s", len(entries), filepath.Base(p))
	}
}

func TestDeliverMaildirRefusesFileInPlaceOfDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "new"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := DeliverMaildir(dir, []byte("x\n"), 0, 0, false, time.Now(), "h"); err == nil {
		t.Fatal("DeliverMaildir succeeded with a regular file named new")
	}
}

func TestDeliverMaildirChownsMessageAndCreatedDirectories(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	dir := filepath.Join(t.TempDir(), "Maildir")
	p, err := DeliverMaildir(dir, []byte("x\n"), 1234, 5678, true, time.Now(), "h")
	if err != nil {
		t.Fatal(err)
	}
	for _, fp := range []string{p, dir, filepath.Join(dir, "cur")} {
		var st unix.Stat_t
		if err := unix.Stat(fp, &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != 1234 || st.Gid != 5678 {
			t.Errorf("%s owned by %d:%d, want 1234:5678", fp, st.Uid, st.Gid)
		}
		if fs.FileMode(st.Mode&0o7777) != 0o600 && fs.FileMode(st.Mode&0o7777) != 0o700 {
			t.Errorf("%s mode %o", fp, st.Mode&0o7777)
		}
	}
}
