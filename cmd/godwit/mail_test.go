package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/godwit-backup/godwit/internal/mailbox"
	"github.com/godwit-backup/godwit/repo/blob"
)

// Owners given to the mailboxes of the test tree when the tests run as
// root.
const (
	aliceUID, aliceGID = 1001, 1002
	bobUID, bobGID     = 1003, 1004
)

func mailMessage(from, to, subject, date, id, body string) []byte {
	return []byte("Return-Path: <bounce@example.org>\nFrom: " + from + "\nTo: " + to + "\nSubject: " + subject +
		"\nDate: " + date + "\nMessage-ID: " + id + "\nMIME-Version: 1.0\n\n" + body)
}

// bigAttachmentMessage is a multipart message with a 300 KiB base64
// attachment after its header and text part.
func bigAttachmentMessage() []byte {
	raw := make([]byte, 225<<10)
	x := uint32(2463534242)
	for i := range raw {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		raw[i] = byte(x)
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	var b strings.Builder
	b.WriteString("From: Bob Example <bob@example.org>\nTo: alice@example.org\nSubject: Quarterly report\n" +
		"Date: Sat, 1 Jun 2024 10:00:00 +0000\nMessage-ID: <m3@example.org>\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain\n\nSee the attachment.\n\n" +
		"--b1\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n")
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\n--b1--\n")
	return []byte(b.String())
}

// mboxMessages are the messages of the spool var/mail/alice, as a reader
// of the mbox must return them; mboxSpool is the spool as written by an
// MDA (mboxrd quoting of "From " body lines).
var mboxMessages = []struct {
	separator string
	msg       string
}{
	{"From dave@example.com  Sat Feb  3 09:00:00 2024", string(mailMessage("Dave <dave@example.com>", "alice@example.org",
		"Invoice 42", "Sat, 3 Feb 2024 09:00:00 +0000", "<mb1@example.com>", "Please pay.\n"))},
	{"From erin@example.com  Fri Apr  5 12:00:00 2024", string(mailMessage("Erin <erin@example.com>", "alice@example.org",
		"The desk", "Fri, 5 Apr 2024 12:00:00 +0000", "<mb2@example.com>", "Hello,\n\nFrom the desk of Erin:\n>From a quote\nbye\n"))},
	{"From frank@example.com  Mon May  6 08:00:00 2024", string(mailMessage("Frank <frank@example.com>", "alice@example.org",
		"=?utf-8?q?S=C3=BCmmary?=", "Mon, 6 May 2024 08:00:00 +0000", "<mb3@example.com>", "Numbers.\n"))},
}

func mboxSpool() []byte {
	var b bytes.Buffer
	for _, m := range mboxMessages {
		b.WriteString(m.separator + "\n")
		for _, line := range strings.SplitAfter(m.msg, "\n") {
			if strings.HasPrefix(strings.TrimLeft(line, ">"), "From ") {
				b.WriteByte('>')
			}
			b.WriteString(line)
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

// mailFixture is a backed-up tree with the Maildirs of alice and bob, the
// spool var/mail/alice and an mbox folder of bob.
type mailFixture struct {
	c   *cli
	src string
	// files maps a Message-ID of a Maildir message to its path below src.
	files map[string]string
}

func newMailFixture(t *testing.T) *mailFixture {
	t.Helper()
	c := newCLI(t)
	f := &mailFixture{c: c, src: filepath.Join(c.dir, "src"), files: map[string]string{}}
	maildir := []struct {
		path string
		msg  []byte
	}{
		{"home/alice/Maildir/cur/1705312800.M1P1.mail1:2,S", mailMessage("Bob Example <bob@example.org>", "alice@example.org",
			"=?UTF-8?B?R3LDvMOfZSBhdXMgQmVybGlu?=", "Mon, 15 Jan 2024 10:00:00 +0000", "<m1@example.org>", "Hallo.\n")},
		{"home/alice/Maildir/new/1710064800.M2P2.mail1", mailMessage("Carol <carol@example.net>", "alice@example.org",
			"=?ISO-8859-1?Q?Caf=E9_meeting?=", "Sun, 10 Mar 2024 10:00:00 +0000", "<m2@example.net>", "At ten.\n")},
		{"home/alice/Maildir/cur/1717236000.M3P3.mail1:2,S", bigAttachmentMessage()},
		{"home/alice/Maildir/cur/1718000000.M5P5.mail1:2,S", mailMessage("Dave <dave@example.com>", "alice@example.org, bob@example.org",
			"Team lunch", "Mon, 10 Jun 2024 10:00:00 +0000", "<dup@example.org>", "Friday?\n")},
		{"home/bob/Maildir/cur/1706781600.M4P4.mail1:2,S", mailMessage("Alice <alice@example.org>", "bob@example.org",
			"Lunch?", "Thu, 1 Feb 2024 10:00:00 +0000", "<m4@example.org>", "Today?\n")},
		{"home/bob/Maildir/cur/1718000001.M6P6.mail1:2,S", mailMessage("Dave <dave@example.com>", "alice@example.org, bob@example.org",
			"Team lunch", "Mon, 10 Jun 2024 10:00:00 +0000", "<dup@example.org>", "Friday?\n")},
		// A delivery in progress is not a message yet.
		{"home/bob/Maildir/tmp/1718000002.M7P7.mail1", mailMessage("Eve <eve@example.com>", "bob@example.org",
			"in delivery", "Mon, 10 Jun 2024 11:00:00 +0000", "<tmp@example.com>", "x\n")},
	}
	for _, m := range maildir {
		writeFile(t, filepath.Join(f.src, m.path), m.msg)
		h, err := mailbox.ParseHeader(bytes.NewReader(m.msg))
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := f.files[h.MessageID]; !dup {
			f.files[h.MessageID] = m.path
		}
	}
	writeFile(t, filepath.Join(f.src, "var/mail/alice"), mboxSpool())
	writeFile(t, filepath.Join(f.src, "home/bob/mail/archive"), []byte("From alice@example.org  Wed Jan 10 10:00:00 2024\n"+
		string(mailMessage("Alice <alice@example.org>", "bob@example.org", "Archived note", "Wed, 10 Jan 2024 10:00:00 +0000", "<hm1@example.org>", "Old.\n"))+"\n"))
	writeFile(t, filepath.Join(f.src, "home/bob/mail/notes.txt"), []byte("Subject: not mail\nMessage-ID: <notes@example.org>\n\n"))
	if os.Geteuid() == 0 {
		for _, u := range []struct {
			dir      string
			uid, gid int
		}{{"home/alice", aliceUID, aliceGID}, {"home/bob", bobUID, bobGID}, {"var/mail/alice", aliceUID, aliceGID}} {
			err := filepath.Walk(filepath.Join(f.src, u.dir), func(p string, _ os.FileInfo, err error) error {
				if err != nil {
					return err
				}
				return os.Lchown(p, u.uid, u.gid)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	c.init()
	c.owner("backup", f.src).must(t, 0)
	return f
}

type mailFindJSON struct {
	Messages []struct {
		Snapshot  string   `json:"snapshot"`
		Path      string   `json:"path"`
		Mbox      *mboxPos `json:"mbox"`
		MessageID string   `json:"message_id"`
		From      string   `json:"from"`
		To        string   `json:"to"`
		Subject   string   `json:"subject"`
		Date      string   `json:"date"`
	} `json:"messages"`
}

func (f *mailFixture) find(t *testing.T, args ...string) mailFindJSON {
	t.Helper()
	out := f.c.owner(append([]string{"--json", "mail", "find"}, args...)...).must(t, 0)
	var res mailFindJSON
	if err := json.Unmarshal([]byte(out.stdout), &res); err != nil {
		t.Fatalf("mail find --json: %v\n%s", err, out.stdout)
	}
	return res
}

func (r mailFindJSON) ids() []string {
	ids := []string{}
	for _, m := range r.Messages {
		ids = append(ids, m.MessageID)
	}
	slices.Sort(ids)
	return ids
}

func TestMailFindSelectsMessagesByHeader(t *testing.T) {
	f := newMailFixture(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"decoded utf-8 subject", []string{"--subject", "grüße"}, []string{"<m1@example.org>"}},
		{"decoded latin-1 subject, any case", []string{"--subject", "CAFÉ"}, []string{"<m2@example.net>"}},
		{"subject in an mbox", []string{"--subject", "sümm"}, []string{"<mb3@example.com>"}},
		{"from", []string{"--from", "carol"}, []string{"<m2@example.net>"}},
		{"from address", []string{"--from", "bob@example.org"}, []string{"<m1@example.org>", "<m3@example.org>"}},
		{"to", []string{"--to", "bob@"}, []string{"<dup@example.org>", "<dup@example.org>", "<hm1@example.org>", "<m4@example.org>"}},
		{"message-id without brackets", []string{"--message-id", "mb2@example.com"}, []string{"<mb2@example.com>"}},
		{"date range", []string{"--since", "2024-04-01", "--until", "2024-05-06"}, []string{"<mb2@example.com>", "<mb3@example.com>"}},
		{"until a day includes the day", []string{"--until", "2024-01-15"}, []string{"<hm1@example.org>", "<m1@example.org>"}},
		{"since an instant is inclusive", []string{"--since", "2024-06-01T10:00:00Z"}, []string{"<dup@example.org>", "<dup@example.org>", "<m3@example.org>"}},
		{"user", []string{"--user", "bob"}, []string{"<dup@example.org>", "<hm1@example.org>", "<m4@example.org>"}},
		{"user and subject", []string{"--user", "alice", "--subject", "lunch"}, []string{"<dup@example.org>"}},
		{"tmp and non-mbox files are not messages", []string{"--subject", "not mail"}, []string{}},
		{"deliveries in progress are not messages", []string{"--subject", "in delivery"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.find(t, tc.args...).ids(); !slices.Equal(got, tc.want) {
				t.Errorf("found %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMailFindJSONLocatesMboxMessages(t *testing.T) {
	f := newMailFixture(t)
	res := f.find(t, "--message-id", "<mb2@example.com>")
	if len(res.Messages) != 1 {
		t.Fatalf("want one message: %+v", res)
	}
	m := res.Messages[0]
	spool := mboxSpool()
	start := int64(len(mboxMessages[0].separator) + 1 + len(mboxMessages[0].msg) + 1)
	if m.Path != filepath.Join(f.src, "var/mail/alice") || m.Mbox == nil || m.Mbox.Number != 2 || m.Mbox.Offset != start {
		t.Fatalf("mbox message located as %+v %+v, want number 2 at offset %d", m, m.Mbox, start)
	}
	if got := string(spool[m.Mbox.Offset : m.Mbox.Offset+m.Mbox.Length]); !strings.HasPrefix(got, mboxMessages[1].separator+"\n") || !strings.HasSuffix(got, "bye\n\n") {
		t.Errorf("offset and length cover %q", got)
	}
	if m.From != "Erin <erin@example.com>" || m.To != "alice@example.org" || m.Subject != "The desk" || m.Date != "2024-04-05T12:00:00Z" || len(m.Snapshot) != 64 {
		t.Errorf("fields: %+v", m)
	}
	maildir := f.find(t, "--message-id", "<m1@example.org>").Messages
	if len(maildir) != 1 || maildir[0].Mbox != nil || maildir[0].Subject != "Grüße aus Berlin" {
		t.Errorf("maildir message: %+v", maildir)
	}
}

func TestMailFindPrintsATable(t *testing.T) {
	f := newMailFixture(t)
	var snaps []snapshotJSON
	if err := json.Unmarshal([]byte(f.c.owner("snapshots", "--json").must(t, 0).stdout), &snaps); err != nil {
		t.Fatal(err)
	}
	out := f.c.owner("mail", "find", snaps[0].ShortID, "--subject", "e").must(t, 0).stdout
	for _, want := range []string{
		"Snapshot", snaps[0].ShortID, "Grüße aus Berlin", "Carol <carol@example.net>", "2024-04-05",
		filepath.Join(f.src, "var/mail/alice") + "#2\n", filepath.Join(f.src, "home/alice/Maildir/cur/1705312800.M1P1.mail1:2,S") + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestMailFindAllListsAMessageOnceUnlessVerbose(t *testing.T) {
	f := newMailFixture(t)
	writeFile(t, filepath.Join(f.src, "home/alice/Maildir/new/1719000000.M8P8.mail1"), mailMessage("Grace <grace@example.com>", "alice@example.org",
		"Later", "Fri, 21 Jun 2024 10:00:00 +0000", "<m8@example.com>", "New.\n"))
	f.c.owner("backup", f.src).must(t, 0)
	var snaps []snapshotJSON
	if err := json.Unmarshal([]byte(f.c.owner("snapshots", "--json").must(t, 0).stdout), &snaps); err != nil || len(snaps) != 2 {
		t.Fatalf("snapshots: %v %+v", err, snaps)
	}
	old, newest := snaps[0].ID, snaps[1].ID

	all := f.find(t, "--all")
	if got := all.ids(); len(got) != 11 || !slices.Contains(got, "<m8@example.com>") {
		t.Errorf("--all found %v", got)
	}
	for _, m := range all.Messages {
		if m.Snapshot != newest {
			t.Errorf("%s %s listed with snapshot %s, want the newest %s", m.Path, m.MessageID, m.Snapshot, newest)
		}
	}
	verbose := f.find(t, "--all", "--verbose", "--message-id", "<m1@example.org>")
	if len(verbose.Messages) != 2 || verbose.Messages[0].Snapshot != newest || verbose.Messages[1].Snapshot != old {
		t.Errorf("--all --verbose: %+v", verbose.Messages)
	}
	if got := f.find(t, snaps[0].ShortID, "--message-id", "<m8@example.com>").ids(); len(got) != 0 {
		t.Errorf("old snapshot has the later message: %v", got)
	}
}

// fileOwner returns the uid and gid of a file.
func fileOwner(t *testing.T, p string) (int, int) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

func TestMailRestoreDeliversIntoMaildirNew(t *testing.T) {
	f := newMailFixture(t)
	for _, tc := range []struct {
		name     string
		existing bool
		uid, gid int // expected owner, as root
	}{
		{"new maildir owned like the message", false, aliceUID, aliceGID},
		{"existing maildir keeps its owner", true, 2001, 2002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "Maildir")
			existing := filepath.Join(dest, "cur", "1600000000.M0P0.old:2,S")
			if tc.existing {
				writeFile(t, existing, []byte("Subject: old\n\nold\n"))
				if os.Geteuid() == 0 {
					if err := os.Chown(dest, tc.uid, tc.gid); err != nil {
						t.Fatal(err)
					}
				}
			}
			out := f.c.owner("mail", "restore", "latest", "--message-id", "<m3@example.org>", "--to-maildir", dest).must(t, 0)
			news, err := filepath.Glob(filepath.Join(dest, "new", "*"))
			if err != nil || len(news) != 1 {
				t.Fatalf("new/ holds %v (%v)", news, err)
			}
			if !strings.Contains(out.stdout, news[0]) {
				t.Errorf("output does not name %s:\n%s", news[0], out.stdout)
			}
			want, err := os.ReadFile(filepath.Join(f.src, f.files["<m3@example.org>"]))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(news[0]); err != nil || !bytes.Equal(got, want) {
				t.Errorf("delivered message differs from the original (%d bytes, want %d): %v", len(got), len(want), err)
			}
			if tmp, _ := os.ReadDir(filepath.Join(dest, "tmp")); len(tmp) != 0 {
				t.Errorf("tmp/ not empty: %v", tmp)
			}
			wantCur := 0
			if tc.existing {
				wantCur = 1
				if got, err := os.ReadFile(existing); err != nil || string(got) != "Subject: old\n\nold\n" {
					t.Errorf("existing message changed: %q %v", got, err)
				}
			}
			if cur, _ := os.ReadDir(filepath.Join(dest, "cur")); len(cur) != wantCur {
				t.Errorf("cur/ holds %d files, want %d", len(cur), wantCur)
			}
			if os.Geteuid() == 0 {
				if uid, gid := fileOwner(t, news[0]); uid != tc.uid || gid != tc.gid {
					t.Errorf("delivered message owned by %d:%d, want %d:%d", uid, gid, tc.uid, tc.gid)
				}
			}
		})
	}
}

func TestMailRestoreAppendsToMbox(t *testing.T) {
	f := newMailFixture(t)
	m1, err := os.ReadFile(filepath.Join(f.src, f.files["<m1@example.org>"]))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id  string
		want      []byte
		separator string // prefix of the appended separator
	}{
		{"mbox message with a From body line", "<mb2@example.com>", []byte(mboxMessages[1].msg), "From erin@example.com Fri Apr  5 12:00:00 2024"},
		{"maildir message", "<m1@example.org>", m1, "From bounce@example.org "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "inbox")
			before := []byte("From old@example.org  Mon Jan  1 00:00:00 2024\nSubject: old\n\nold body\n\n")
			writeFile(t, dest, before)
			if os.Geteuid() == 0 {
				if err := os.Chown(dest, 3001, 3002); err != nil {
					t.Fatal(err)
				}
			}
			f.c.owner("mail", "restore", "latest", "--message-id", tc.id, "--to-mbox", dest).must(t, 0)
			after, err := os.ReadFile(dest)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(after, before) {
				t.Fatalf("existing content changed:\n%q", after)
			}
			type msg struct {
				off, n int64
				sep    string
			}
			var msgs []msg
			err = mailbox.ScanMbox(bytes.NewReader(after), func(off, n int64, sep string, _ mailbox.Header) error {
				msgs = append(msgs, msg{off, n, sep})
				return nil
			})
			if err != nil || len(msgs) != 2 {
				t.Fatalf("mbox holds %d messages (%v):\n%s", len(msgs), err, after)
			}
			if !strings.HasPrefix(msgs[1].sep, tc.separator) {
				t.Errorf("separator %q, want prefix %q", msgs[1].sep, tc.separator)
			}
			got, err := mailbox.ExtractMboxMessage(bytes.NewReader(after), msgs[1].off, msgs[1].n)
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("appended message extracts as\n%q\nwant\n%q (%v)", got, tc.want, err)
			}
			if os.Geteuid() == 0 {
				if uid, gid := fileOwner(t, dest); uid != 3001 || gid != 3002 {
					t.Errorf("mbox owned by %d:%d after append, want 3001:3002", uid, gid)
				}
			}
		})
	}
}

func TestMailRestoreCreatesMboxOwnedLikeTheSpool(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ownership needs root")
	}
	f := newMailFixture(t)
	dest := filepath.Join(t.TempDir(), "alice")
	f.c.owner("mail", "restore", "latest", "--message-id", "<mb1@example.com>", "--to-mbox", dest).must(t, 0)
	if uid, gid := fileOwner(t, dest); uid != aliceUID || gid != aliceGID {
		t.Errorf("new mbox owned by %d:%d, want %d:%d", uid, gid, aliceUID, aliceGID)
	}
}

func TestMailRestoreErrors(t *testing.T) {
	f := newMailFixture(t)
	dest := filepath.Join(f.c.dir, "dest")
	alicePath := filepath.Join(f.src, f.files["<dup@example.org>"])
	for _, tc := range []struct {
		name string
		args []string
		code int
		msgs []string
	}{
		{"missing message", []string{"--message-id", "<nope@example.org>", "--to-maildir", dest}, exitError, []string{"no message with Message-ID <nope@example.org>"}},
		{"ambiguous message", []string{"--message-id", "dup@example.org", "--to-maildir", dest}, exitError,
			[]string{alicePath, filepath.Join(f.src, "home/bob/Maildir/cur/1718000001.M6P6.mail1:2,S"), "--path"}},
		{"no such path", []string{"--message-id", "dup@example.org", "--path", "/nowhere#1", "--to-maildir", dest}, exitError, []string{"no such file"}},
		{"no target", []string{"--message-id", "<m1@example.org>"}, exitUsage, []string{"exactly one of --to-maildir"}},
		{"two targets", []string{"--message-id", "<m1@example.org>", "--to-maildir", dest, "--to-mbox", dest}, exitUsage, []string{"exactly one of --to-maildir"}},
		{"no message id", []string{"--to-maildir", dest}, exitUsage, []string{"--message-id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.c.owner(append([]string{"mail", "restore", "latest"}, tc.args...)...).must(t, tc.code)
			for _, m := range tc.msgs {
				if !strings.Contains(r.stderr, m) {
					t.Errorf("stderr lacks %q:\n%s", m, r.stderr)
				}
			}
			if _, err := os.Lstat(dest); err == nil {
				t.Errorf("a failed restore created %s", dest)
			}
		})
	}
	// --path chooses among messages with the same Message-ID.
	f.c.owner("mail", "restore", "latest", "--message-id", "dup@example.org", "--path", alicePath, "--to-maildir", dest).must(t, 0)
	// PATH#N names a message of an mbox.
	mbox := filepath.Join(f.c.dir, "mbox")
	f.c.owner("mail", "restore", "latest", "--message-id", "mb3@example.com", "--path", filepath.Join(f.src, "var/mail/alice#3"), "--to-mbox", mbox).must(t, 0)
	f.c.owner("mail", "restore", "latest", "--message-id", "mb3@example.com", "--path", filepath.Join(f.src, "var/mail/alice#2"), "--to-mbox", mbox).must(t, exitError)
}

func TestMailFindUsageErrors(t *testing.T) {
	f := newMailFixture(t)
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"snapshot and --all", []string{"latest", "--all"}, "not both"},
		{"bad date", []string{"--since", "yesterday"}, "--since"},
		{"two snapshots", []string{"latest", "latest"}, "usage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.c.owner(append([]string{"mail", "find"}, tc.args...)...).must(t, exitUsage)
			if !strings.Contains(r.stderr, tc.msg) {
				t.Errorf("stderr lacks %q:\n%s", tc.msg, r.stderr)
			}
		})
	}
}

func TestMailNeedsAnOwnerCredential(t *testing.T) {
	f := newMailFixture(t)
	wk := filepath.Join(f.c.dir, "write.key")
	f.c.owner("key", "write-key", "--output", wk).must(t, 0)
	dest := filepath.Join(f.c.dir, "dest")
	for _, args := range [][]string{
		{"mail", "find", "--subject", "lunch"},
		{"mail", "restore", "latest", "--message-id", "<m1@example.org>", "--to-maildir", dest},
	} {
		r := f.c.run(append([]string{"--repo", f.c.repo, "-i", wk}, args...)...).must(t, exitError)
		if !strings.Contains(r.stderr, "write key") || !strings.Contains(r.stderr, "owner credential") {
			t.Errorf("%v: error does not explain the write key:\n%s", args, r.stderr)
		}
	}
	if _, err := os.Lstat(dest); err == nil {
		t.Error("restore with a write key created the target")
	}
}

// memBlobs is a blobSource over blobs in memory that counts loads.
type memBlobs struct {
	blobs map[blob.ID][]byte
	loads int
}

func newMemBlobs(parts ...string) (*memBlobs, []blob.ID) {
	m := &memBlobs{blobs: map[blob.ID][]byte{}}
	var ids []blob.ID
	for _, p := range parts {
		id := blob.Hash([]byte(p))
		m.blobs[id] = []byte(p)
		ids = append(ids, id)
	}
	return m, ids
}

func (m *memBlobs) LoadBlob(_ context.Context, _ blob.Type, id blob.ID) ([]byte, error) {
	m.loads++
	b, ok := m.blobs[id]
	if !ok {
		return nil, errors.New("blob not found")
	}
	return b, nil
}

func (m *memBlobs) BlobSize(id blob.ID) (int64, bool) {
	b, ok := m.blobs[id]
	return int64(len(b)), ok
}

func TestContentReaderLoadsBlobsOnlyWhenReached(t *testing.T) {
	header := "From: a@example.org\nSubject: big\n\n"
	for _, tc := range []struct {
		name  string
		parts []string
		loads int
	}{
		{"header in the first blob", []string{header + "text", strings.Repeat("A", 100<<10), strings.Repeat("B", 100<<10)}, 1},
		{"header across two blobs", []string{"From: a@example.org\nSub", "ject: big\n\nbody", strings.Repeat("B", 100<<10)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, ids := newMemBlobs(tc.parts...)
			h, err := mailbox.ParseHeader(newContentReader(context.Background(), src, ids))
			if err != nil || h.Subject != "big" {
				t.Fatalf("header %+v, %v", h, err)
			}
			if src.loads != tc.loads {
				t.Errorf("reading the header loaded %d blobs, want %d", src.loads, tc.loads)
			}
		})
	}
}

func TestContentReaderSkipsWholeBlobsWithoutLoading(t *testing.T) {
	parts := []string{"aaaa", "bbbb", "cccc", "dddd"}
	all := strings.Join(parts, "")
	for off := 0; off <= len(all); off++ {
		t.Run(fmt.Sprint(off), func(t *testing.T) {
			src, ids := newMemBlobs(parts...)
			cr := newContentReader(context.Background(), src, ids)
			if err := cr.skip(int64(off)); err != nil {
				t.Fatal(err)
			}
			if src.loads != 0 && off%4 == 0 {
				t.Errorf("skipping %d bytes loaded %d blobs", off, src.loads)
			}
			rest, err := io.ReadAll(cr)
			if err != nil || string(rest) != all[off:] {
				t.Errorf("after skip(%d) read %q, want %q (%v)", off, rest, all[off:], err)
			}
		})
	}
	src, ids := newMemBlobs(parts...)
	if err := newContentReader(context.Background(), src, ids).skip(int64(len(all) + 1)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("skip past the end: %v", err)
	}
}

func TestContentReaderReportsLoadErrors(t *testing.T) {
	src, ids := newMemBlobs("one")
	ids = append(ids, blob.Hash([]byte("missing")))
	cr := newContentReader(context.Background(), src, ids)
	got, err := io.ReadAll(cr)
	if string(got) != "one" || err == nil {
		t.Fatalf("read %q, %v; want the first blob and an error", got, err)
	}
	if _, again := cr.Read(make([]byte, 1)); again == nil || again.Error() != err.Error() {
		t.Errorf("error not sticky: %v", again)
	}
}

func TestMailKindOfPaths(t *testing.T) {
	for _, tc := range []struct {
		path, user string
		want       mailKind
	}{
		{"/home/alice/Maildir/cur/1.M1.host:2,S", "", maildirMessage},
		{"/home/alice/Maildir/.Sent/new/1.M1.host", "", maildirMessage},
		{"/var/vmail/example.org/alice/cur/1.M1.host", "", maildirMessage},
		{"/var/vmail/example.org/alice/cur/1.M1.host", "alice", notMail},
		{"/home/alice/Maildir/tmp/1.M1.host", "", notMail},
		{"/home/alice/Maildir/cur/.hidden", "", notMail},
		{"/home/alice/Maildir/cur/1.M1.host", "bob", notMail},
		{"/var/mail/alice", "", spoolMbox},
		{"/var/spool/mail/alice", "alice", spoolMbox},
		{"/srv/chroot/var/mail/alice", "", spoolMbox},
		{"/var/mail/alice", "bob", notMail},
		{"/var/mail/alice.lock", "", notMail},
		{"/var/mail/.alice.swp", "", notMail},
		{"/var/mail/sub/alice", "", notMail},
		{"/home/bob/mbox", "", homeMbox},
		{"/home/bob/mail/lists/golang", "bob", homeMbox},
		{"/home/bob/Mail/sent", "", homeMbox},
		{"/home/bob/mail/sent", "alice", notMail},
		{"/home/bob/notes/mail.txt", "", notMail},
		{"/etc/mail/aliases", "", notMail},
	} {
		if got := mailKindOf(tc.path, tc.user); got != tc.want {
			t.Errorf("mailKindOf(%q, %q) = %d, want %d", tc.path, tc.user, got, tc.want)
		}
	}
}
