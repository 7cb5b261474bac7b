package archiver

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestMaildirListingsWalkNewBeforeCur(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{".Sent", "cur", "dovecot-uidlist", "new", "tmp"}, []string{".Sent", "dovecot-uidlist", "new", "tmp", "cur"}},
		{[]string{"cur", "new"}, []string{"cur", "new"}}, // not a Maildir: no tmp
		{[]string{"a", "b"}, []string{"a", "b"}},
	} {
		got := append([]string(nil), tc.in...)
		maildirOrder(got)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("maildirOrder(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestRenamedMessageIsFoundUnderItsNewName renames a message in cur/ the
// way an IMAP client setting a flag does, between the listing and the
// read, and checks the new name is picked up.
func TestRenamedMessageIsFoundUnderItsNewName(t *testing.T) {
	dir := t.TempDir()
	cur := filepath.Join(dir, "cur")
	os.MkdirAll(cur, 0o700)
	for _, n := range []string{"1700000000.M1P1.mail:2,RS", "1700000001.M2P2.mail:2,S"} {
		os.WriteFile(filepath.Join(cur, n), []byte("x"), 0o600)
	}
	a := &Archiver{}
	seen := map[string]bool{"1700000000.M1P1.mail:2,S": true, "1700000001.M2P2.mail:2,S": true}
	got := a.renamedMessages(cur, "1700000000.M1P1.mail:2,S", seen)
	if !reflect.DeepEqual(got, []string{"1700000000.M1P1.mail:2,RS"}) {
		t.Errorf("renamed: %v", got)
	}
	if again := a.renamedMessages(cur, "1700000000.M1P1.mail:2,S", seen); len(again) != 0 {
		t.Errorf("a renamed message is picked up twice: %v", again)
	}
}

func TestInMaildirAndSpoolPaths(t *testing.T) {
	for p, want := range map[string]bool{"/home/a/Maildir/new/x": true, "/home/a/Maildir/cur/x": true, "/home/a/Maildir/x": false} {
		if inMaildir(p) != want {
			t.Errorf("inMaildir(%s) != %v", p, want)
		}
	}
	for p, want := range map[string]bool{"/var/mail/alice": true, "/var/spool/mail/bob": true, "/var/mail/sub/x": false, "/home/var/mail/x": false} {
		if isSpool(p) != want {
			t.Errorf("isSpool(%s) != %v", p, want)
		}
	}
}

func TestRetriesOptionZeroMeansDefaultNegativeMeansNone(t *testing.T) {
	for in, want := range map[int]int{0: 3, -1: 0, 5: 5} {
		a := New(fakePolynomial{}, Options{Retries: in, Warn: func(string, error) {}})
		if a.opts.Retries != want {
			t.Errorf("Retries %d became %d, want %d", in, a.opts.Retries, want)
		}
	}
}

// fakePolynomial is enough of a Repository for New.
type fakePolynomial struct{ Repository }

func (fakePolynomial) Polynomial() uint64 { return 0x3DA3358B4DC173 }
