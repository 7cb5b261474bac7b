package mailbox

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Header
	}{
		{
			name: "plain fields",
			in:   "From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: Hello\nDate: Mon, 4 Mar 2024 10:15:01 +0100\nMessage-ID: <a@b>\n\nbody\nSubject: not a header\n",
			want: Header{From: "Alice <alice@example.org>", To: "bob@example.net", Subject: "Hello", MessageID: "<a@b>",
				Date: time.Date(2024, 3, 4, 9, 15, 1, 0, time.UTC)},
		},
		{
			name: "folded lines and CRLF",
			in:   "Subject: part one\r\n\tpart two\r\nTo: a@example.org,\r\n b@example.org\r\n\r\n",
			want: Header{Subject: "part one\tpart two", To: "a@example.org, b@example.org"},
		},
		{
			name: "utf-8 encoded words joined across folding",
			in:   "Subject: =?UTF-8?Q?R=C3=A9union?=\n =?UTF-8?B?IOKAlCBsdW5kaQ==?=\n\n",
			want: Header{Subject: "Réunion — lundi"},
		},
		{
			name: "iso-8859-1 and windows-1252 words",
			in:   "From: =?iso-8859-1?q?Fran=E7ois?= <f@example.fr>\nSubject: =?windows-1252?Q?=93hi=94_=80?=\n\n",
			want: Header{From: "François <f@example.fr>", Subject: "\u201chi\u201d \u20ac"},
		},
		{
			name: "unknown charset left raw next to decoded word",
			in:   "Subject: =?x-unknown?Q?abc?= =?utf-8?Q?d=C3=A9f?=\n\n",
			want: Header{Subject: "=?x-unknown?Q?abc?= déf"},
		},
		{
			name: "raw 8-bit read as windows-1252",
			in:   "From: Ren\xe9 \x93X\x94 <r@example.fr>\n\n",
			want: Header{From: "René \u201cX\u201d <r@example.fr>"},
		},
		{
			name: "missing and unparsable date",
			in:   "Subject: x\nDate: yesterday-ish\n\n",
			want: Header{Subject: "x"},
		},
		{
			name: "mbox separator and junk lines skipped",
			in:   "From alice@example.org  Mon Mar  4 09:15:02 2024\nnot a field\n\xff\xfe: junk\nSubject : spaced\n\n",
			want: Header{Subject: "spaced"},
		},
		{
			name: "first occurrence wins, To and Cc joined",
			in:   "Subject: first\nSubject: second\nTo: a@x\nCc: c@x\nTo: b@x\nCC: d@x\n\n",
			want: Header{Subject: "first", To: "a@x, b@x", Cc: "c@x, d@x"},
		},
		{
			name: "header without body or final newline",
			in:   "Message-Id: <id@host>",
			want: Header{MessageID: "<id@host>"},
		},
		{
			name: "empty input",
			in:   "",
			want: Header{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHeader(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("ParseHeader: %v", err)
			}
			if !got.Date.Equal(tt.want.Date) {
				t.Errorf("Date = %v, want %v", got.Date, tt.want.Date)
			}
			got.Date, tt.want.Date = time.Time{}, time.Time{}
			if got != tt.want {
				t.Errorf("ParseHeader =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseHeaderRejectsOversizedHeader(t *testing.T) {
	in := strings.Repeat("X-Filler: "+strings.Repeat("a", 100)+"\n", MaxHeaderSize/100)
	_, err := ParseHeader(strings.NewReader(in + "\nbody\n"))
	if !errors.Is(err, ErrHeaderTooLarge) {
		t.Fatalf("ParseHeader error = %v, want ErrHeaderTooLarge", err)
	}
}

func TestParseHeaderHandlesLinesLongerThanBuffer(t *testing.T) {
	long := strings.Repeat("b", 10000)
	h, err := ParseHeader(strings.NewReader("X-Long: " + long + "\nSubject: after\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if h.Subject != "after" {
		t.Errorf("Subject = %q, want %q", h.Subject, "after")
	}
}

func TestQueryMatch(t *testing.T) {
	h := Header{
		From:      "Alice Müller <alice@example.org>",
		To:        "Bob <bob@example.net>",
		Cc:        "carol@example.net",
		Subject:   "Réunion de l’équipe",
		MessageID: "<id-1@example.org>",
		Date:      time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC),
	}
	day := func(d int) time.Time { return time.Date(2024, 3, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name string
		q    Query
		h    Header
		want bool
	}{
		{"empty query matches", Query{}, h, true},
		{"empty query matches empty header", Query{}, Header{}, true},
		{"from substring case-insensitive", Query{From: "MÜLLER"}, h, true},
		{"from mismatch", Query{From: "mallory"}, h, false},
		{"to substring", Query{To: "bob@"}, h, true},
		{"to does not look at cc", Query{To: "carol"}, h, false},
		{"subject substring", Query{Subject: "réunion"}, h, true},
		{"message-id with brackets", Query{MessageID: "<id-1@example.org>"}, h, true},
		{"message-id without brackets", Query{MessageID: "id-1@example.org"}, h, true},
		{"message-id is exact", Query{MessageID: "id-1@example"}, h, false},
		{"since inclusive", Query{Since: h.Date}, h, true},
		{"since after date", Query{Since: day(5)}, h, false},
		{"until inclusive", Query{Until: h.Date}, h, true},
		{"until before date", Query{Until: day(3)}, h, false},
		{"range containing date", Query{Since: day(1), Until: day(31)}, h, true},
		{"date bound excludes undated message", Query{Since: day(1)}, Header{Subject: "x"}, false},
		{"all fields must match", Query{From: "alice", Subject: "invoice"}, h, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.q.Match(tt.h); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}
