package mailbox

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var appendNow = time.Date(2024, 3, 8, 14, 3, 9, 0, time.FixedZone("CET", 3600))

// roundTripMessages are appended and must come back byte for byte.
var roundTripMessages = [][]byte{
	[]byte("Return-Path: <alice@example.org>\nFrom: Alice <alice@example.org>\nTo: bob@example.net\nSubject: From lines\n\n" +
		"From the start of a line.\n>From already quoted.\n>>From twice quoted.\n\nFrom after an empty line.\nFromage is not quoted.\n"),
	[]byte("From: =?UTF-8?Q?Ren=C3=A9?= <rene@example.fr>\r\nSubject: crlf\r\n\r\nFrom a CRLF body.\r\n\r\n"),
	[]byte("Subject: no sender fields\n\nbody ending in an empty line\n\n"),
}

func readMessages(t *testing.T, path string) ([][]byte, []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msgs := scanAll(t, data)
	checkCoverage(t, data, msgs)
	var out [][]byte
	var seps []string
	for _, m := range msgs {
		b, err := ExtractMboxMessage(f, m.offset, m.length)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
		seps = append(seps, m.separator)
	}
	return out, seps
}

func TestAppendMboxRoundTripsThroughScanAndExtract(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bob")
	for _, m := range roundTripMessages {
		if err := AppendMbox(path, m, "", 0, 0, false, appendNow); err != nil {
			t.Fatalf("AppendMbox: %v", err)
		}
	}
	got, seps := readMessages(t, path)
	if len(got) != len(roundTripMessages) {
		t.Fatalf("read back %d messages, want %d", len(got), len(roundTripMessages))
	}
	for i := range got {
		if !bytes.Equal(got[i], roundTripMessages[i]) {
			t.Errorf("message %d =\n%q\nwant\n%q", i, got[i], roundTripMessages[i])
		}
	}
	wantSeps := []string{
		"From alice@example.org Fri Mar  8 13:03:09 2024",
		"From rene@example.fr Fri Mar  8 13:03:09 2024",
		"From MAILER-DAEMON Fri Mar  8 13:03:09 2024",
	}
	if strings.Join(seps, "\n") != strings.Join(wantSeps, "\n") {
		t.Errorf("separators = %q, want %q", seps, wantSeps)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, quoted := range []string{"\n>From the start", "\n>>From already", "\n>>>From twice", "\n>From after", "\nFromage"} {
		if !bytes.Contains(raw, []byte(quoted)) {
			t.Errorf("mbox lacks mboxrd-quoted line %q", quoted)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("new mbox mode = %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Lstat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dotlock left behind: %v", err)
	}
}

func TestAppendMboxKeepsExistingContent(t *testing.T) {
	tests := []struct {
		name, existing string
		wantPrefix     string
	}{
		{"complete mbox", "From a x\n\nold\n\n", "From a x\n\nold\n\n"},
		{"last message without empty line", "From a x\n\nold\n", "From a x\n\nold\n\n"},
		{"last line without newline", "From a x\n\nold", "From a x\n\nold\n\n"},
		{"crlf mbox", "From a x\r\n\r\nold\r\n\r\n", "From a x\r\n\r\nold\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mbox")
			if err := os.WriteFile(path, []byte(tt.existing), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o660); err != nil {
				t.Fatal(err)
			}
			msg := []byte("Subject: new\n\nFrom body\n")
			if err := AppendMbox(path, msg, "someone@example.org", 0, 0, false, appendNow); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.wantPrefix + "From someone@example.org Fri Mar  8 13:03:09 2024\nSubject: new\n\n>From body\n\n"
			if string(raw) != want {
				t.Errorf("mbox =\n%q\nwant\n%q", raw, want)
			}
			got, _ := readMessages(t, path)
			if len(got) != 2 || !bytes.Equal(got[1], msg) {
				t.Errorf("appended message not read back as the second message")
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o660 {
				t.Errorf("mode changed to %v", fi.Mode().Perm())
			}
		})
	}
}

func TestAppendMboxKeepsOwnerAndCreatesWithGivenOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing")
	if err := os.WriteFile(existing, []byte("From a x\n\nold\n\n"), 0o620); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(existing, 1001, 8); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(existing, 0o620); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "fresh")
	for _, p := range []string{existing, fresh} {
		if err := AppendMbox(p, []byte("Subject: s\n\n"), "", 2002, 9, true, appendNow); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		path     string
		uid, gid uint32
		mode     uint32
	}{
		{existing, 1001, 8, 0o620},
		{fresh, 2002, 9, 0o600},
	}
	for _, tt := range tests {
		var st unix.Stat_t
		if err := unix.Stat(tt.path, &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != tt.uid || st.Gid != tt.gid || st.Mode&0o7777 != tt.mode {
			t.Errorf("%s: owner %d:%d mode %o, want %d:%d %o", tt.path, st.Uid, st.Gid, st.Mode&0o7777, tt.uid, tt.gid, tt.mode)
		}
	}
}

func TestAppendMboxRefusesSymlinkAndHardlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	symlink := filepath.Join(dir, "symlink")
	if err := os.Symlink(target, symlink); err != nil {
		t.Fatal(err)
	}
	hardlink := filepath.Join(dir, "hardlink")
	if err := os.Link(target, hardlink); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{symlink, hardlink} {
		if err := AppendMbox(p, []byte("Subject: s\n\n"), "", 0, 0, false, appendNow); err == nil {
			t.Errorf("AppendMbox(%s) succeeded", filepath.Base(p))
		}
	}
	got, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "precious\n" {
		t.Errorf("target changed to %q", got)
	}
}

func TestAppendMboxWaitsForDotlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bob")
	if err := os.WriteFile(path+".lock", []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const hold = 300 * time.Millisecond
	released := make(chan error, 1)
	go func() {
		time.Sleep(hold)
		released <- os.Remove(path + ".lock")
	}()
	start := time.Now()
	if err := AppendMbox(path, []byte("Subject: s\n\n"), "", 0, 0, false, appendNow); err != nil {
		t.Fatalf("AppendMbox: %v", err)
	}
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < hold {
		t.Errorf("AppendMbox returned after %v, before the lock was released", waited)
	}
}

func TestAppendMboxFailsWhileDotlockHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bob")
	if err := os.WriteFile(path, []byte("From a x\n\nold\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".lock", []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := appendMbox(path, []byte("Subject: s\n\n"), "", 0, 0, false, appendNow, 200*time.Millisecond, time.Now)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("appendMbox error = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "pid 4242") {
		t.Errorf("error %q does not name the holder", err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "From a x\n\nold\n\n" {
		t.Errorf("mbox changed to %q", got)
	}
	if _, err := os.Stat(path + ".lock"); err != nil {
		t.Errorf("foreign lock removed: %v", err)
	}
}

func TestAppendMboxRemovesStaleDotlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bob")
	if err := os.WriteFile(path+".lock", []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-6 * time.Minute)
	if err := os.Chtimes(path+".lock", old, old); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := AppendMbox(path, []byte("Subject: s\n\n"), "", 0, 0, false, appendNow); err != nil {
		t.Fatalf("AppendMbox: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v despite a stale lock", d)
	}
	if _, err := os.Lstat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file still present: %v", err)
	}
}

func TestAppendMboxFailsWhileFcntlLockHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bob")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// An open file description lock conflicts with the fcntl lock of any
	// process, this one included.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		t.Skipf("OFD locks unavailable: %v", err)
	}
	err = appendMbox(path, []byte("Subject: s\n\n"), "", 0, 0, false, appendNow, 200*time.Millisecond, time.Now)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("appendMbox error = %v, want ErrLocked", err)
	}
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Errorf("mbox grew to %d bytes while locked", fi.Size())
	}
	if _, err := os.Lstat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dotlock left behind after failure: %v", err)
	}
}

func TestAppendMboxTruncatesBackOnWriteError(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	if _, err := exec.LookPath("mount"); err != nil {
		t.Skip("no mount command")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	path := filepath.Join(dir, "bob")
	existing := []byte("From a x\n\n" + strings.Repeat("old line\n", 100<<10/9) + "\n")
	if err := os.WriteFile(path, existing, 0o600); err != nil {
		t.Fatal(err)
	}
	big := []byte("Subject: too big\n\n" + strings.Repeat("From a line that needs quoting\n", 400<<10/31))
	err := AppendMbox(path, big, "", 0, 0, false, appendNow)
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("AppendMbox error = %v, want ENOSPC", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, existing) {
		t.Errorf("mbox is %d bytes after failed append, want the original %d", len(got), len(existing))
	}
	// The file system has room again, and the next append works.
	if err := AppendMbox(path, []byte("Subject: small\n\n"), "", 0, 0, false, appendNow); err != nil {
		t.Fatalf("AppendMbox after truncation: %v", err)
	}
}

func TestEnvelopeSender(t *testing.T) {
	tests := []struct {
		name, sender, msg, want string
	}{
		{"explicit sender wins", "bounce@example.org", "From: a@example.org\n\n", "bounce@example.org"},
		{"return-path", "", "From: a@example.org\nReturn-Path: <rp@example.org>\n\n", "rp@example.org"},
		{"null return-path falls back to from", "", "Return-Path: <>\nFrom: Alice <a@example.org>\n\n", "a@example.org"},
		{"from with display name", "", "From: \"Alice M\" <a@example.org>\r\n\r\n", "a@example.org"},
		{"unparsable from kept without spaces", "", "From: not an address\n\n", "not_an_address"},
		{"body fields ignored", "", "Subject: s\n\nFrom: body@example.org\n", "MAILER-DAEMON"},
		{"nothing", "", "", "MAILER-DAEMON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := envelopeSender(tt.sender, []byte(tt.msg)); got != tt.want {
				t.Errorf("envelopeSender = %q, want %q", got, tt.want)
			}
		})
	}
}
