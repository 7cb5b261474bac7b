package main

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// snapshotTree returns path → contents of every regular file under dir.
func snapshotTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[rel] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func generateTiny(t *testing.T, seed uint64) string {
	t.Helper()
	dir := t.TempDir()
	if err := run([]string{"-out", dir, "-size", "16MiB", "-seed", strconv.FormatUint(seed, 10)}, io.Discard); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGenerateIsByteIdenticalForASeed(t *testing.T) {
	a := snapshotTree(t, generateTiny(t, 1))
	b := snapshotTree(t, generateTiny(t, 1))
	if len(a) < 100 {
		t.Fatalf("tiny corpus has only %d files", len(a))
	}
	for path, content := range a {
		if !bytes.Equal(content, b[path]) {
			t.Errorf("%s differs between two runs with the same seed", path)
		}
	}
	if len(a) != len(b) {
		t.Errorf("runs with the same seed made %d and %d files", len(a), len(b))
	}
}

func TestGenerateHitsSizeAndLayout(t *testing.T) {
	dir := generateTiny(t, 1)
	files := snapshotTree(t, dir)
	var total int
	has := map[string]bool{}
	for path, content := range files {
		total += len(content)
		for _, want := range []string{"/Maildir/cur/", "/Maildir/new/", "/Maildir/.Sent/cur/", "/Maildir/.INBOX.lists/cur/", "/Maildir/.Trash/cur/", "dovecot-uidlist", "dovecot.index", "dovecot.index.cache", "dovecot.index.log", "maildirsize", "var/mail/", "etc/passwd", "etc/group", "etc/aliases", "etc/postfix/main.cf", "etc/dovecot/dovecot.conf"} {
			if strings.Contains(path, want) {
				has[want] = true
			}
		}
	}
	for _, want := range []string{"/Maildir/cur/", "/Maildir/new/", "/Maildir/.Sent/cur/", "/Maildir/.INBOX.lists/cur/", "dovecot-uidlist", "dovecot.index", "dovecot.index.cache", "dovecot.index.log", "maildirsize", "var/mail/", "etc/passwd", "etc/group", "etc/aliases", "etc/postfix/main.cf", "etc/dovecot/dovecot.conf"} {
		if !has[want] {
			t.Errorf("no file matching %q", want)
		}
	}
	if want := 16 << 20; total < want*8/10 || total > want*13/10 {
		t.Errorf("corpus is %d bytes, want about %d", total, want)
	}
}

func TestMessagesCarryRealisticHeadersAndAttachments(t *testing.T) {
	files := snapshotTree(t, generateTiny(t, 1))
	var msgs, withAtt, replies int
	for path, content := range files {
		if !strings.Contains(path, "/cur/") && !strings.Contains(path, "/new/") {
			continue
		}
		msgs++
		hdr := string(headerOf(content))
		for _, h := range []string{"\nDKIM-Signature: ", "\nMessage-ID: <", "\nDate: ", "\nFrom: ", "\nTo: ", "\nSubject: ", "\nMIME-Version: 1.0", "Received: "} {
			if !strings.Contains(hdr, h) {
				t.Fatalf("%s: no %q header", path, strings.TrimSpace(h))
			}
		}
		if bytes.Contains(content, []byte("Content-Transfer-Encoding: base64")) {
			withAtt++
		}
		if bytes.Contains(content, []byte("\n> ")) {
			replies++
		}
	}
	if msgs == 0 {
		t.Fatal("no Maildir messages")
	}
	if frac := float64(withAtt) / float64(msgs); frac < 0.08 || frac > 0.5 {
		t.Errorf("%d of %d messages have attachments (%.0f%%), want about 15-25%%", withAtt, msgs, 100*frac)
	}
	if replies == 0 {
		t.Error("no message quotes another")
	}
}

func TestSameAttachmentIsStoredInManyMessages(t *testing.T) {
	files := snapshotTree(t, generateTiny(t, 1))
	// A base64 line of an attachment is 76 random characters: seeing the same
	// line in two files means the attachment was delivered twice.
	seen := map[string]map[string]bool{}
	for path, content := range files {
		for _, line := range bytes.Split(content, []byte("\n")) {
			if len(line) != 76 || bytes.ContainsAny(line, " :<>") {
				continue
			}
			k := string(line)
			if seen[k] == nil {
				seen[k] = map[string]bool{}
			}
			seen[k][path] = true
		}
	}
	shared := 0
	for _, paths := range seen {
		if len(paths) >= 2 {
			shared++
		}
	}
	if shared < 100 {
		t.Errorf("only %d base64 lines appear in more than one file", shared)
	}
}

// checkMbox checks that spool parses as an mboxrd file: it starts with a
// "From " line, every message is separated by a blank line, and no line in
// a message body starts with an unquoted "From ".
func checkMbox(t *testing.T, name string, spool []byte) (messages, quoted int) {
	t.Helper()
	if len(spool) == 0 {
		return 0, 0
	}
	if !bytes.HasPrefix(spool, []byte("From ")) {
		t.Fatalf("%s does not start with a From line", name)
	}
	entries := splitMbox(spool)
	quoted = 0
	for i, e := range entries {
		if !bytes.HasSuffix(e, []byte("\n\n")) {
			t.Errorf("%s: message %d does not end with a blank line", name, i)
		}
		lines := bytes.Split(e, []byte("\n"))
		if !bytes.HasPrefix(lines[0], []byte("From ")) || !bytes.Contains(lines[0], []byte("@")) {
			t.Errorf("%s: message %d starts with %q", name, i, lines[0])
		}
		for _, l := range lines[1:] {
			if bytes.HasPrefix(l, []byte("From ")) {
				t.Errorf("%s: message %d has an unquoted From line %q", name, i, l)
			}
			if bytes.HasPrefix(l, []byte(">From ")) {
				quoted++
			}
		}
	}
	return len(entries), quoted
}

func TestMboxSpoolsParseAsMbox(t *testing.T) {
	dir := generateTiny(t, 1)
	spools, _ := filepath.Glob(filepath.Join(dir, "var/mail/*"))
	if len(spools) < 2 {
		t.Fatalf("want spools for root and at least one mbox user, got %v", spools)
	}
	total, quoted := 0, 0
	for _, p := range spools {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		n, q := checkMbox(t, p, b)
		total += n
		quoted += q
	}
	if total < 10 {
		t.Errorf("spools hold %d messages in all", total)
	}
	if quoted == 0 {
		t.Error("no body line needed >From quoting; the corpus does not exercise it")
	}
}

func TestAppendMboxMessageQuotesFromLines(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{"Subject: x\n\nFrom here on\n", "Subject: x\n\n>From here on\n"},
		{"Subject: x\n\n>From quoted\n", "Subject: x\n\n>>From quoted\n"},
		{"Subject: x\n\nFromage is cheese\n", "Subject: x\n\nFromage is cheese\n"},
		{"Subject: x\n\nno newline", "Subject: x\n\nno newline\n"},
	}
	for _, tc := range tests {
		got := string(appendMboxMessage(nil, "a@b", 0, []byte(tc.body)))
		want := "From a@b Thu Jan  1 00:00:00 1970\n" + tc.want + "\n"
		if got != want {
			t.Errorf("appendMboxMessage(%q) = %q, want %q", tc.body, got, want)
		}
	}
}

func TestMutateChangesOneDay(t *testing.T) {
	dir := generateTiny(t, 1)
	// The first day fills new/; the second reads it.
	if _, err := mutate(dir, 2); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, dir)
	st, err := mutate(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	after := snapshotTree(t, dir)

	var added, removed, grown, rewritten []string
	for p := range after {
		if _, ok := before[p]; !ok {
			added = append(added, p)
		}
	}
	for p, b := range before {
		a, ok := after[p]
		switch {
		case !ok:
			removed = append(removed, p)
		case bytes.Equal(a, b):
		case bytes.HasPrefix(a, b):
			grown = append(grown, p)
		default:
			rewritten = append(rewritten, p)
		}
	}
	count := func(paths []string, sub string) int {
		n := 0
		for _, p := range paths {
			if strings.Contains(p, sub) {
				n++
			}
		}
		return n
	}
	if count(added, "/new/") == 0 {
		t.Error("no new deliveries in new/")
	}
	// new/ → cur/ with ":2,S", and ":2,S" → ":2,RS": same bytes, new name.
	renamed := map[string]int{}
	byContent := map[string]string{}
	for _, p := range removed {
		byContent[string(before[p])] = p
	}
	for _, p := range added {
		if old, ok := byContent[string(after[p])]; ok {
			_, oldFlags, _ := strings.Cut(filepath.Base(old), ":2,")
			_, newFlags, _ := strings.Cut(filepath.Base(p), ":2,")
			switch {
			case strings.Contains(old, "/new/") && strings.Contains(p, "/cur/"):
				renamed["seen"]++
			case strings.Contains(p, "/.Trash/"):
				renamed["trash"]++
			case oldFlags != newFlags:
				renamed["flags"]++
			}
		}
	}
	for _, kind := range []string{"seen", "flags"} {
		if renamed[kind] == 0 {
			t.Errorf("no %s renames (stats: %v)", kind, st)
		}
	}
	if len(removed)-renamed["seen"]-renamed["flags"]-renamed["trash"] <= 0 {
		t.Errorf("no message was deleted (stats: %v)", st)
	}
	if count(grown, "var/mail/") == 0 {
		t.Error("no mbox spool was appended to")
	}
	if count(rewritten, "var/mail/") == 0 {
		t.Error("no mbox spool was rewritten in place")
	}
	for _, name := range []string{"dovecot-uidlist", "dovecot.index"} {
		if count(rewritten, name) == 0 {
			t.Errorf("no %s was rewritten", name)
		}
	}
	for _, name := range []string{"dovecot.index.log", "maildirsize"} {
		if count(grown, name) == 0 {
			t.Errorf("no %s was appended to", name)
		}
	}
	for p, b := range after {
		if strings.HasPrefix(p, "var/mail/") {
			checkMbox(t, p, b)
		}
	}
}

func TestMutateIsDeterministic(t *testing.T) {
	a, b := generateTiny(t, 1), generateTiny(t, 1)
	for _, dir := range []string{a, b} {
		if _, err := mutate(dir, 2); err != nil {
			t.Fatal(err)
		}
	}
	ta, tb := snapshotTree(t, a), snapshotTree(t, b)
	if len(ta) != len(tb) {
		t.Fatalf("mutated trees have %d and %d files", len(ta), len(tb))
	}
	for p, content := range ta {
		if !bytes.Equal(content, tb[p]) {
			t.Errorf("%s differs after the same mutation", p)
		}
	}
}

func TestFilesModeWritesNFiles(t *testing.T) {
	dir := t.TempDir()
	if err := run([]string{"-out", dir, "-files", "2500", "-seed", "3"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	files := snapshotTree(t, dir)
	if len(files) != 2500 {
		t.Errorf("got %d files, want 2500", len(files))
	}
}

func TestGenerateRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-out", dir, "-size", "1MiB"}, io.Discard); err == nil {
		t.Error("generate into a non-empty directory succeeded")
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"200MiB", 200 << 20, true},
		{"1GiB", 1 << 30, true},
		{"1.5g", 3 << 29, true},
		{"512k", 512 << 10, true},
		{"4096", 4096, true},
		{"", 0, false},
		{"-1MiB", 0, false},
		{"lots", 0, false},
	}
	for _, tc := range tests {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
