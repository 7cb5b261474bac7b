package mailbox

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type scanned struct {
	offset, length int64
	separator      string
	header         Header
}

func scanAll(t *testing.T, data []byte) []scanned {
	t.Helper()
	var got []scanned
	err := ScanMbox(bytes.NewReader(data), func(offset, length int64, separator string, h Header) error {
		got = append(got, scanned{offset, length, separator, h})
		return nil
	})
	if err != nil {
		t.Fatalf("ScanMbox: %v", err)
	}
	return got
}

// checkCoverage fails unless the messages cover data exactly, in order.
func checkCoverage(t *testing.T, data []byte, msgs []scanned) {
	t.Helper()
	var next int64
	for i, m := range msgs {
		if m.offset != next {
			t.Fatalf("message %d at offset %d, want %d", i, m.offset, next)
		}
		if m.length <= 0 {
			t.Fatalf("message %d has length %d", i, m.length)
		}
		next += m.length
	}
	if next != int64(len(data)) {
		t.Fatalf("messages cover %d bytes of %d", next, len(data))
	}
}

func testMboxes(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("testdata/*.mbox")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no testdata/*.mbox files")
	}
	m := make(map[string][]byte)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m[p] = b
	}
	return m
}

func TestScanMboxOffsetsReassembleFile(t *testing.T) {
	for name, data := range testMboxes(t) {
		t.Run(name, func(t *testing.T) {
			msgs := scanAll(t, data)
			checkCoverage(t, data, msgs)
			var re []byte
			for _, m := range msgs {
				part := data[m.offset : m.offset+m.length]
				if !bytes.HasPrefix(part, []byte(m.separator)) {
					t.Errorf("message at %d does not start with its separator %q", m.offset, m.separator)
				}
				re = append(re, part...)
			}
			if !bytes.Equal(re, data) {
				t.Error("concatenated messages differ from the file")
			}
		})
	}
}

func TestScanMboxFindsMessagesAndHeaders(t *testing.T) {
	data, err := os.ReadFile("testdata/debian.mbox")
	if err != nil {
		t.Fatal(err)
	}
	msgs := scanAll(t, data)
	want := []struct {
		separator string
		header    Header
	}{
		{"From alice@example.org  Mon Mar  4 09:15:02 2024", Header{
			From:      "Alice Müller <alice@example.org>",
			To:        "Bob Smith <bob@mail.example.net>, Carol Jones <carol@mail.example.net>",
			Cc:        "dave@example.com",
			Subject:   "Réunion de l’équipe — lundi",
			MessageID: "<20240304091501.12345@mx.example.org>",
			Date:      time.Date(2024, 3, 4, 9, 15, 1, 0, time.UTC),
		}},
		{"From bounces+123@lists.example.com  Tue Mar  5 18:00:44 2024", Header{
			From:      "François Béranger <francois@example.fr>",
			To:        "bob@mail.example.net",
			Subject:   "Café crème et gâteau",
			MessageID: "<CAF3c0ffee@example.fr>",
		}},
		{"From MAILER-DAEMON  Wed Mar  6 02:30:00 2024", Header{
			From:      "Mail Delivery System <MAILER-DAEMON@mail.example.net>",
			To:        "bob@mail.example.net",
			Subject:   "Undelivered Mail Returned to Sender  \u201cquoted\u201d",
			MessageID: "CAFEBABE.deadbeef@mail.example.net",
			Date:      time.Date(2024, 3, 6, 2, 30, 0, 0, time.UTC),
		}},
	}
	if len(msgs) != len(want) {
		t.Fatalf("found %d messages, want %d", len(msgs), len(want))
	}
	for i, w := range want {
		got := msgs[i]
		if got.separator != w.separator {
			t.Errorf("message %d separator = %q, want %q", i, got.separator, w.separator)
		}
		if !got.header.Date.Equal(w.header.Date) {
			t.Errorf("message %d Date = %v, want %v", i, got.header.Date, w.header.Date)
		}
		got.header.Date, w.header.Date = time.Time{}, time.Time{}
		if got.header != w.header {
			t.Errorf("message %d header =\n%+v\nwant\n%+v", i, got.header, w.header)
		}
	}
}

func TestScanMboxSplitsOnlyAfterEmptyLine(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		separators []string
	}{
		{"empty stream", "", nil},
		{"from line inside body not after empty line", "From a x\nS: 1\n\nbody\nFrom b y\n\n", []string{"From a x"}},
		{"crlf empty line counts", "From a x\r\n\r\nbody\r\n\r\nFrom b y\r\n\r\n", []string{"From a x", "From b y"}},
		{"quoted from is no separator", "From a x\n\n>From b y\n", []string{"From a x"}},
		{"leading junk reported with empty separator", "junk\n\nFrom a x\n\n", []string{"", "From a x"}},
		{"message without trailing newline", "From a x\nSubject: s", []string{"From a x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := scanAll(t, []byte(tt.in))
			checkCoverage(t, []byte(tt.in), msgs)
			var seps []string
			for _, m := range msgs {
				seps = append(seps, m.separator)
			}
			if strings.Join(seps, "|") != strings.Join(tt.separators, "|") || len(seps) != len(tt.separators) {
				t.Errorf("separators = %q, want %q", seps, tt.separators)
			}
		})
	}
}

func TestScanMboxHandlesLinesLongerThanBuffer(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	in := "From a x\nX-Long: " + long + "\nSubject: s\n\n" + long + "\n\nFrom b y\n\n" + long
	msgs := scanAll(t, []byte(in))
	checkCoverage(t, []byte(in), msgs)
	if len(msgs) != 2 || msgs[0].header.Subject != "s" || msgs[1].separator != "From b y" {
		t.Fatalf("unexpected scan result: %d messages", len(msgs))
	}
}

func TestScanMboxReturnsCallbackError(t *testing.T) {
	data, err := os.ReadFile("testdata/debian.mbox")
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	err = ScanMbox(bytes.NewReader(data), func(int64, int64, string, Header) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Fatalf("ScanMbox = %v after %d calls, want stop after 1", err, calls)
	}
}

func TestExtractMboxMessageUnquotes(t *testing.T) {
	f, err := os.Open("testdata/debian.mbox")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := os.ReadFile("testdata/debian.mbox")
	if err != nil {
		t.Fatal(err)
	}
	msgs := scanAll(t, data)
	got, err := ExtractMboxMessage(f, msgs[0].offset, msgs[0].length)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(got, []byte("From ")) {
		t.Error("separator line not removed")
	}
	if !bytes.HasPrefix(got, []byte("Return-Path: <alice@example.org>\n")) {
		t.Errorf("message starts with %q", got[:40])
	}
	wantBody := "Hi Bob,\n\nFrom the minutes of last week:\n>From what Carol said, the migration is on track.\n\nFrom here on we meet on Mondays.\nAlice\n"
	if !bytes.HasSuffix(got, []byte("\n\n"+wantBody)) {
		t.Errorf("body = %q, want suffix %q", got[bytes.Index(got, []byte("\n\n")):], wantBody)
	}
}

func TestExtractMboxMessageStripsCRLFEndLine(t *testing.T) {
	data, err := os.ReadFile("testdata/crlf.mbox")
	if err != nil {
		t.Fatal(err)
	}
	msgs := scanAll(t, data)
	got, err := ExtractMboxMessage(bytes.NewReader(data), msgs[0].offset, msgs[0].length)
	if err != nil {
		t.Fatal(err)
	}
	want := "From: Carol <carol@example.net>\r\nTo: bob@mail.example.net\r\nSubject: CRLF\r\n message with folded subject\r\nDate: Thu, 7 Mar 2024 12:00:00 +0000\r\nMessage-ID: <crlf-1@example.net>\r\n\r\nBody line one.\r\nFrom a quoted line.\r\n"
	if string(got) != want {
		t.Errorf("ExtractMboxMessage =\n%q\nwant\n%q", got, want)
	}
}

func TestExtractMboxMessageFailsOnShortRead(t *testing.T) {
	_, err := ExtractMboxMessage(strings.NewReader("From a x\n\n"), 0, 100)
	if err == nil {
		t.Fatal("ExtractMboxMessage beyond end of input succeeded")
	}
}

func TestScanMboxCutsOversizedHeaderAtLineBoundary(t *testing.T) {
	filler := strings.Repeat("X-Filler: "+strings.Repeat("a", 90)+"\n", MaxHeaderSize/100-1)
	in := "From a x\nSubject: kept\n" + filler + "X-Huge: " + strings.Repeat("b", 100<<10) + "\nTo: beyond@limit\n\nbody\n"
	msgs := scanAll(t, []byte(in))
	checkCoverage(t, []byte(in), msgs)
	if len(msgs) != 1 || msgs[0].header.Subject != "kept" || msgs[0].header.To != "" {
		t.Fatalf("header = %+v, want Subject kept and nothing past the limit", msgs[0].header)
	}
}
