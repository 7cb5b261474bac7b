package chunk

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/zeebo/blake3"
)

// mailChunkAll splits data of the given kind with m and returns copies of
// the chunks.
func mailChunkAll(t testing.TB, m *MailChunker, r io.Reader, kind Kind) [][]byte {
	t.Helper()
	m.Reset(r, kind)
	buf := make([]byte, m.MaxSize())
	var chunks [][]byte
	for {
		ch, err := m.Next(buf)
		if err == io.EOF {
			return chunks
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		chunks = append(chunks, bytes.Clone(ch))
	}
}

func mailChunks(t testing.TB, data []byte, kind Kind) [][]byte {
	t.Helper()
	return mailChunkAll(t, NewMail(testPol, Options{}), bytes.NewReader(data), kind)
}

func chunkIDs(chunks [][]byte) []string {
	ids := make([]string, len(chunks))
	for i, ch := range chunks {
		sum := blake3.Sum256(ch)
		ids[i] = hex.EncodeToString(sum[:])
	}
	return ids
}

// mailText returns about n bytes of deterministic prose in lines of at
// most 72 bytes, none starting with "From ".
func mailText(r *rand.Rand, n int) []byte {
	words := []string{"the", "invoice", "meeting", "server", "backup", "please", "find", "attached",
		"thanks", "regards", "tomorrow", "report", "quarterly", "mailbox", "migration", "disk",
		"we", "should", "check", "again", "before", "friday", "and", "then", "restore"}
	var b []byte
	line := 0
	for len(b) < n {
		w := words[r.IntN(len(words))]
		if line+len(w)+1 > 72 {
			b = append(b, '\n')
			line = 0
		} else if line > 0 {
			b = append(b, ' ')
			line++
		}
		b = append(b, w...)
		line += len(w)
	}
	return append(b, '\n')
}

// base64Body encodes data as base64 in lines of 76 characters, each ended
// by LF, as mail clients attach files.
func base64Body(data []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	var b []byte
	for len(enc) > 76 {
		b = append(b, enc[:76]...)
		b = append(b, '\n')
		enc = enc[76:]
	}
	return append(append(b, enc...), '\n')
}

// testMail describes a message for mimeMessage.
type testMail struct {
	from, to, subject string
	text              []byte
	boundary          string
	attName           string
	attBody           []byte // base64 lines; no attachment when nil
}

// mimeMessage renders m: a plain text message, or multipart/mixed with a
// text part and one attachment. When the attachment is present it also
// returns the offsets where its body starts and ends.
func mimeMessage(m testMail) (msg []byte, attStart, attEnd int) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Return-Path: <%s>\nFrom: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s.%d@example.org>\nMIME-Version: 1.0\n",
		m.from, m.from, m.to, m.subject, m.subject, len(m.text))
	if m.attBody == nil {
		b.WriteString("Content-Type: text/plain; charset=utf-8\n\n")
		b.Write(m.text)
		return b.Bytes(), 0, 0
	}
	fmt.Fprintf(&b, "Content-Type: multipart/mixed;\n boundary=\"%s\"\n\nThis is a multi-part message in MIME format.\n", m.boundary)
	fmt.Fprintf(&b, "--%s\nContent-Type: text/plain; charset=utf-8\n\n", m.boundary)
	b.Write(m.text)
	fmt.Fprintf(&b, "--%s\nContent-Type: application/octet-stream; name=\"%s\"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"%s\"\n\n",
		m.boundary, m.attName, m.attName)
	attStart = b.Len()
	b.Write(m.attBody)
	attEnd = b.Len()
	fmt.Fprintf(&b, "--%s--\n", m.boundary)
	return b.Bytes(), attStart, attEnd
}

// mboxEntry renders msg as an mboxrd entry: separator line, message with
// "From " lines quoted, blank line.
func mboxEntry(sender string, n int, msg []byte) []byte {
	b := fmt.Appendf(nil, "From %s Mon Jan %2d 10:%02d:00 2024\n", sender, 1+n%28, n%60)
	for line := range bytes.Lines(msg) {
		if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
			b = append(b, '>')
		}
		b = append(b, line...)
	}
	return append(b, '\n')
}

// testMbox returns the entries of a deterministic mbox of n messages; the
// messages at the indexes in atts carry attachments of those raw sizes.
func testMbox(n int, atts map[int]int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	entries := make([][]byte, n)
	for i := range entries {
		text := mailText(r, 500+r.IntN(12<<10))
		if i%17 == 3 {
			text = append(text, "From the archive: a line that mboxrd quotes.\n"...)
		}
		m := testMail{
			from:     fmt.Sprintf("user%d@example.org", r.IntN(40)),
			to:       "alice@example.net",
			subject:  fmt.Sprintf("message-%d", i),
			text:     text,
			boundary: fmt.Sprintf("=_b%d", i),
			attName:  fmt.Sprintf("file%d.bin", i),
		}
		if size, ok := atts[i]; ok {
			m.attBody = base64Body(pseudoRandom(fmt.Sprintf("mbox attachment %d", i), size))
		}
		msg, _, _ := mimeMessage(m)
		entries[i] = mboxEntry(m.from, i, msg)
	}
	return entries
}

// frozenMboxAttachments are the attachments of the frozen mbox.
var frozenMboxAttachments = map[int]int{17: 100 << 10, 64: 40 << 10, 101: 400 << 10, 150: 1100 << 10}

type frozenChunk struct {
	length int
	blake3 string
}

func checkFrozen(t *testing.T, got [][]byte, want []frozenChunk) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d chunks %v, want %d", len(got), lengths(got), len(want))
	}
	for i, ch := range got {
		sum := blake3.Sum256(ch)
		if len(ch) != want[i].length || hex.EncodeToString(sum[:]) != want[i].blake3 {
			t.Errorf("chunk %d: length %d blake3 %x, want length %d blake3 %s",
				i, len(ch), sum, want[i].length, want[i].blake3)
		}
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name string
		head string
		want Kind
	}{
		{"mbox separator", "From alice@example.org Mon Jan  1 10:00:00 2024\nReturn-Path: <a@b>\n", Mbox},
		{"mbox separator with CRLF", "From MAILER-DAEMON Thu Feb 29 23:59:59 2024\r\n", Mbox},
		{"From line without date", "From alice@example.org\nSubject: x\n", Plain},
		{"From line without sender", "From  Mon Jan 1 2024\n", Plain},
		{"From line cut off", "From alice@example.org Mon Jan  1 10:00:00 2024", Plain},
		{"prose starting with From", "From here on\nthe text goes on\n", Plain},
		{"maildir message", "Return-Path: <a@example.org>\nDelivered-To: b@example.org\nReceived: from x\n\tby y\nSubject: hi\n\nbody\n", Message},
		{"header names are case-insensitive", "message-id: <1@x>\n\n", Message},
		{"header cut off by the head", "X-Spam: no\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nX-Long: aaaa", Message},
		{"CRLF header", "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nbody", Message},
		{"no known field", "X-Custom: 1\nContent-Type: text/plain\n\nbody\n", Plain},
		{"continuation before any field", " Subject: x\n", Plain},
		{"not a header line", "Subject: x\nthis is not a header\n", Plain},
		{"space in field name", "Sub ject: x\n", Plain},
		{"known field after the blank line", "X-A: 1\n\nSubject: x\n", Plain},
		{"shell script", "#!/bin/sh\necho From: nobody\n", Plain},
		{"empty", "", Plain},
		{"binary", "\x00\x01\x02From: x\n", Plain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Detect([]byte(tc.head)); got != tc.want {
				t.Errorf("Detect(%q) = %v, want %v", tc.head, got, tc.want)
			}
		})
	}
}

func TestDetectReadsOnlyTheFirstFourKiB(t *testing.T) {
	head := "X-Filler: " + strings.Repeat("x", 5000) + "\nSubject: late\n\n"
	if got := Detect([]byte(head)); got != Plain {
		t.Errorf("Detect = %v, want plain: the only known field starts after 4 KiB", got)
	}
}

// TestMailBoundariesAreFrozenForMbox pins the cut points of a 3 MiB mbox of
// 200 messages with four attachments. If it fails, mail-aware chunking
// changed: that is a repository format change, not a refactor.
func TestMailBoundariesAreFrozenForMbox(t *testing.T) {
	data := bytes.Join(testMbox(200, frozenMboxAttachments), nil)
	if len(data) < 3<<20 || len(data) > 4<<20 {
		t.Fatalf("test mbox has %d bytes, want about 3 MiB", len(data))
	}
	checkFrozen(t, mailChunks(t, data, Mbox), frozenMbox)
}

// TestMailBoundariesAreFrozenForMessage pins the cut points of a Maildir
// message with a 2 MiB attachment.
func TestMailBoundariesAreFrozenForMessage(t *testing.T) {
	msg, _, _ := mimeMessage(testMail{
		from: "bob@example.org", to: "carol@example.net", subject: "the-big-file",
		text:     mailText(rand.New(rand.NewPCG(3, 4)), 3000),
		boundary: "----=_Part_0_123456.789", attName: "disk.img",
		attBody: base64Body(pseudoRandom("frozen maildir attachment", 2<<20)),
	})
	checkFrozen(t, mailChunks(t, msg, Message), []frozenChunk{
		{3516, "dca1204db687c5b326188839d0e7a9200dcaa80c94bff828944a8236197f309c"},
		{530163, "a80fa4731694e77411d981ad450b1d7b1b61b19c967a454a4430e63d72811419"},
		{1867186, "d7a7801b322eca586fce52169ed2e8c2a0c1ee4730faa7909871b2b5821cd5da"},
		{435648, "3fe09baeb754880df3ce7d67b46e1d55cb2760a228f1dfb6d72d24f8db540f03"},
		{28, "f0981a73d937d479f859109fdde6749c0181e6562cc1fd3e40198fd2b1bb5289"},
	})
}

func TestDeletingMboxMessageUploadsNoNewChunks(t *testing.T) {
	entries := testMbox(200, frozenMboxAttachments)
	before := map[string]bool{}
	for _, id := range chunkIDs(mailChunks(t, bytes.Join(entries, nil), Mbox)) {
		before[id] = true
	}
	for _, deleted := range []int{0, 17, 100, 150, 199} {
		t.Run(fmt.Sprintf("message %d", deleted), func(t *testing.T) {
			rest := slices.Concat(entries[:deleted], entries[deleted+1:])
			var fresh int
			for _, id := range chunkIDs(mailChunks(t, bytes.Join(rest, nil), Mbox)) {
				if !before[id] {
					fresh++
				}
			}
			if fresh > 1 {
				t.Errorf("after deleting message %d, %d chunks are new, want at most 1", deleted, fresh)
			}
		})
	}
}

func TestChangingMboxMessageHeaderKeepsItsAttachmentChunks(t *testing.T) {
	entries := testMbox(200, frozenMboxAttachments)
	before := map[string]bool{}
	for _, id := range chunkIDs(mailChunks(t, bytes.Join(entries, nil), Mbox)) {
		before[id] = true
	}
	// A mail client marks message 150 (1.1 MiB attachment) as read.
	changed := slices.Clone(entries)
	sep := bytes.IndexByte(changed[150], '\n') + 1
	changed[150] = slices.Concat(changed[150][:sep], []byte("Status: RO\n"), changed[150][sep:])
	var fresh []int
	for _, ch := range mailChunks(t, bytes.Join(changed, nil), Mbox) {
		if !before[chunkIDs([][]byte{ch})[0]] {
			fresh = append(fresh, len(ch))
		}
	}
	if len(fresh) != 1 || fresh[0] > 16<<10 {
		t.Errorf("new chunks have lengths %v, want only the changed message's header region", fresh)
	}
}

// TestSameAttachmentGivesSameChunksInEveryMessage checks the attachment
// body's chunks in a Maildir message, in a different message in an mbox,
// and inside a forwarded message/rfc822 in a nested multipart.
func TestSameAttachmentGivesSameChunksInEveryMessage(t *testing.T) {
	att := base64Body(pseudoRandom("shared attachment", 3<<20))
	want := chunkIDs(chunkAll(t, New(testPol, Options{}), att))
	if len(want) < 2 {
		t.Fatalf("attachment is %d chunk(s), want several so the test covers CDC inside the part", len(want))
	}

	first, _, _ := mimeMessage(testMail{
		from: "bob@example.org", to: "team@example.org", subject: "report",
		text: []byte("Here is the report.\n"), boundary: "b1", attName: "report.pdf", attBody: att,
	})
	second, _, _ := mimeMessage(testMail{
		from: "carol@example.net", to: "dave@example.com", subject: "fwd-report",
		text:     mailText(rand.New(rand.NewPCG(5, 6)), 5000),
		boundary: "----=_NextPart_000_0001", attName: "q3.pdf", attBody: att,
	})
	head := "From: eve@example.com\nSubject: Fwd: report\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: multipart/alternative; boundary=\"alt\"\n\n" +
		"--alt\nContent-Type: text/plain\n\nsee below\n--alt\nContent-Type: text/html\n\n<p>see below</p>\n--alt--\n" +
		"--outer\nContent-Type: message/rfc822\n\n"
	tail := "--outer--\n"
	crlf := func(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }
	forward := slices.Concat([]byte(head), first, []byte(tail))
	forwardCRLF := slices.Concat(crlf(head), first, crlf(tail))

	for _, tc := range []struct {
		name string
		data []byte
		kind Kind
	}{
		{"maildir message", first, Message},
		{"other message in an mbox", slices.Concat(mboxEntry("x@example.org", 1, mailText(rand.New(rand.NewPCG(7, 8)), 2000)), mboxEntry("carol@example.net", 2, second)), Mbox},
		{"forwarded message", forward, Message},
		{"forwarded inside a message with CRLF lines", forwardCRLF, Message},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := chunkIDs(mailChunks(t, tc.data, tc.kind))
			i := slices.Index(got, want[0])
			if i < 0 || len(got) < i+len(want) || !slices.Equal(got[i:i+len(want)], want) {
				t.Errorf("chunk ids %v do not contain the attachment's %v", got, want)
			}
		})
	}
}

// TestMailCutPoints lists inputs as the regions the rules must produce. With
// the default sizes every region here is below the minimum chunk size, so
// each region is exactly one chunk.
func TestMailCutPoints(t *testing.T) {
	large := string(base64Body(pseudoRandom("large part", LargePart*3/4)))[:LargePart]
	large = large[:len(large)-1] + "\n"
	small := large[:LargePart-1]
	small = small[:len(small)-1] + "\n"
	hdr := "From: a@example.org\nMIME-Version: 1.0\n"
	mixed := hdr + "Content-Type: multipart/mixed; boundary=\"XX\"\n\n--XX\nContent-Type: text/plain\n\nhello\n--XX\nContent-Type: application/pdf\n\n"
	for _, tc := range []struct {
		name    string
		kind    Kind
		regions []string
	}{
		{"part body of LargePart bytes is cut out", Message, []string{mixed, large, "--XX--\n"}},
		{"part body one byte short of LargePart is not", Message, []string{mixed + small + "--XX--\n"}},
		{"large single-part body runs to the end of input", Message, []string{hdr + "Content-Type: application/zip\n\n", large}},
		{"message without content type has a text body", Message, []string{hdr + "\n", large}},
		{"unclosed multipart ends at the end of input", Message, []string{mixed, large}},
		{"delimiter with trailing white space", Message, []string{mixed, large, "--XX-- \t\n"}},
		{"CRLF lines", Message, []string{strings.ReplaceAll(mixed, "\n", "\r\n"), large[:len(large)-1] + "\r\n", "--XX--\r\n"}},
		{"lower-case field and parameter names", Message, []string{hdr + "content-type: Multipart/Mixed; BOUNDARY=q\n\n--q\n\n", large, "--q--\n"}},
		{"boundary on a folded line, unquoted", Message, []string{hdr + "Content-Type: multipart/mixed;\n\tcharset=x;\n\tboundary=abc\n\n--abc\n\n", large, "--abc\ntrailer\n"}},
		{"quoted boundary with escapes and semicolon", Message, []string{hdr + "Content-Type: multipart/mixed; boundary=\"a\\\"b;c\"\n\n--a\"b;c\n\n", large, "--a\"b;c--\n"}},
		{"only the first Content-Type counts", Message, []string{hdr + "Content-Type: multipart/mixed; boundary=one\nContent-Type: multipart/mixed; boundary=two\n\n--one\n\n", large, "--one--\n--two\n"}},
		{"delimiter of an outer multipart ends the inner one", Message, []string{
			hdr + "Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: multipart/related; boundary=in\n\n--in\n\n", large,
			"--out\nContent-Type: text/plain\n\nlast\n--out--\n"}},
		{"body of message/rfc822 is parsed as a message", Message, []string{
			hdr + "Content-Type: multipart/mixed; boundary=fw\n\n--fw\nContent-Type: message/rfc822\n\nSubject: inner\nContent-Type: image/png\n\n", large, "--fw--\n"}},
		{"preamble and epilogue are text", Message, []string{mixed, large, "--XX--\n" + large}},
		{"multipart without boundary is a leaf", Message, []string{hdr + "Content-Type: multipart/mixed\n\n", "--XX\n\n" + large}},
		{"boundary of 201 bytes is ignored", Message, []string{hdr + "Content-Type: multipart/mixed; boundary=" + strings.Repeat("b", 201) + "\n\n", "--" + strings.Repeat("b", 201) + "\n\n" + large}},
		{"boundary of 200 bytes is used", Message, []string{hdr + "Content-Type: multipart/mixed; boundary=" + strings.Repeat("b", 200) + "\n\n--" + strings.Repeat("b", 200) + "\n\n", large}},
		{"unterminated quoted boundary is ignored", Message, []string{hdr + "Content-Type: multipart/mixed; boundary=\"XX\n\n", "--XX\n\n" + large}},
		{"lines starting with From are not cut in a message", Message, []string{hdr + "\n", "From here\n" + large}},
		{"mbox cuts before every From line", Mbox, []string{"From a 1\n\nx\n", "From b 2\n\ny\n\n", "From c 3\n"}},
		{"mbox quoted From line is not a cut", Mbox, []string{"From a 1\n\nx\n>From b 2\n\n", "From c 3\n"}},
		{"mbox text before the first From line", Mbox, []string{"junk\n", "From a 1\n\n"}},
		{"mbox From line ends a large part", Mbox, []string{"From a 1\n" + mixed, large, "From b 2\n\n"}},
		{"mbox From line resets the multipart state", Mbox, []string{"From a 1\n" + mixed + "short\n", "From b 2\n\n", "--XX\n\n" + large}},
		{"Content-Type line longer than 8 KiB makes a leaf", Message, []string{"Content-Type: multipart/mixed; boundary=XX; name=" + strings.Repeat("n", 9000) + "\n\n", "--XX\n\n" + large}},
		{"plain input has no cut points", Plain, []string{mixed + large + "--XX--\nFrom x 1\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mailChunks(t, []byte(strings.Join(tc.regions, "")), tc.kind)
			if !slices.Equal(lengths(got), lengths(stringsToBytes(tc.regions))) {
				t.Errorf("chunk lengths %v, want %v", lengths(got), lengths(stringsToBytes(tc.regions)))
			}
		})
	}
}

func stringsToBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func TestMailFallsBackToPlainChunking(t *testing.T) {
	body := base64Body(pseudoRandom("fallback body", 3<<20))
	nest := ""
	for i := range mailMaxDepth + 1 {
		nest += fmt.Sprintf("Content-Type: multipart/mixed; boundary=n%d\n\n--n%d\n", i, i)
	}
	for _, tc := range []struct {
		name   string
		prefix string
	}{
		{"header block over 1 MiB", "Subject: x\nContent-Type: application/pdf\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 992)+"\n", 1100) + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := append([]byte(tc.prefix), body...)
			got := lengths(mailChunks(t, data, Message))
			want := lengths(chunkAll(t, New(testPol, Options{}), data))
			if !slices.Equal(got, want) {
				t.Errorf("chunk lengths %v, want those of plain chunking %v", got, want)
			}
		})
	}

	t.Run("multipart nested deeper than 16 is a leaf", func(t *testing.T) {
		got := lengths(mailChunks(t, slices.Concat([]byte(nest), body), Message))
		// The 17th multipart's body (its delimiter line and the base64)
		// is one leaf; the nesting before it is the first region.
		prefix := len(nest) - len(fmt.Sprintf("--n%d\n", mailMaxDepth))
		if len(got) < 2 || got[0] != prefix {
			t.Errorf("chunk lengths %v, want the first to end at the 17th multipart's body (%d)", got, prefix)
		}
	})
}

func TestMailPlainKindCutsLikeChunker(t *testing.T) {
	data := bytes.Join(testMbox(60, map[int]int{10: 2 << 20}), nil)
	for _, kind := range []Kind{Plain, Kind(42)} {
		got := lengths(mailChunks(t, data, kind))
		want := lengths(chunkAll(t, New(testPol, Options{}), data))
		if !slices.Equal(got, want) {
			t.Errorf("kind %v: chunk lengths %v, want %v", kind, got, want)
		}
	}
}

func TestMailChunkingDoesNotDependOnReadSizes(t *testing.T) {
	data := bytes.Join(testMbox(80, map[int]int{5: 300 << 10, 40: 3 << 20}), nil)
	want := chunkIDs(mailChunks(t, data, Mbox))
	reused := NewMail(testPol, Options{})
	mailChunkAll(t, reused, bytes.NewReader(data[:1<<20]), Message)
	for _, tc := range []struct {
		name string
		m    *MailChunker
		r    io.Reader
	}{
		{"one byte per read", NewMail(testPol, Options{}), iotest.OneByteReader(bytes.NewReader(data))},
		{"half reads", NewMail(testPol, Options{}), iotest.HalfReader(bytes.NewReader(data))},
		{"EOF with the last data", NewMail(testPol, Options{}), iotest.DataErrReader(bytes.NewReader(data))},
		{"reused chunker", reused, bytes.NewReader(data)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := chunkIDs(mailChunkAll(t, tc.m, tc.r, Mbox)); !slices.Equal(got, want) {
				t.Errorf("got %d chunks, want the %d of a plain reader", len(got), len(want))
			}
		})
	}
}

// mailFragments are pieces the property test and fuzz seeds glue together.
var mailFragments = []string{
	"From a@b Mon Jan  1 10:00:00 2024\n", "From ", ">From x\n", "\n", "\r\n",
	"Content-Type: multipart/mixed; boundary=\"b1\"\n", "Content-Type: multipart/alternative;\n boundary=b2\n",
	"Content-Type: message/rfc822\n", "Content-Type: text/plain\n", "content-type: MULTIPART/x; boundary=\"", "Subject: s\n",
	"--b1\n", "--b2\n", "--b1--\n", "--b2--\r\n", "--", "\n\n", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n", "x",
}

func randomMail(r *rand.Rand) []byte {
	var b []byte
	for range r.IntN(300) {
		switch k := r.IntN(len(mailFragments) + 3); {
		case k < len(mailFragments):
			b = append(b, mailFragments[k]...)
		case k == len(mailFragments):
			b = append(b, bytes.Repeat([]byte("QUJD"), r.IntN(LargePart/2))...)
		case k == len(mailFragments)+1:
			b = append(b, bytes.Repeat([]byte{'y'}, r.IntN(3*mailMaxLine))...)
		default:
			b = append(b, pseudoRandom(fmt.Sprint(r.Uint64()), r.IntN(2000))...)
		}
	}
	return b
}

// checkMailChunks checks that chunks of data reassemble it, are at most
// max bytes, and do not depend on how the input is read.
func checkMailChunks(t *testing.T, m *MailChunker, data []byte, kind Kind, max int) {
	t.Helper()
	chunks := mailChunkAll(t, m, bytes.NewReader(data), kind)
	if !bytes.Equal(bytes.Join(chunks, nil), data) {
		t.Fatalf("kind %v: %d chunks do not concatenate to the %d input bytes", kind, len(chunks), len(data))
	}
	for i, ch := range chunks {
		if len(ch) == 0 || len(ch) > max {
			t.Fatalf("kind %v: chunk %d has length %d, want 1..%d", kind, i, len(ch), max)
		}
	}
	if slow := mailChunkAll(t, m, iotest.HalfReader(bytes.NewReader(data)), kind); !slices.EqualFunc(slow, chunks, bytes.Equal) {
		t.Fatalf("kind %v: half reads give chunks %v, want %v", kind, lengths(slow), lengths(chunks))
	}
}

func TestMailChunksReassembleArbitraryInput(t *testing.T) {
	opts := Options{MinSize: 64, MaxSize: 4 << 10, AverageBits: 10}
	m := NewMail(testPol, opts)
	r := rand.New(rand.NewPCG(9, 10))
	for range 100 {
		data := randomMail(r)
		for _, kind := range []Kind{Mbox, Message} {
			checkMailChunks(t, m, data, kind, int(opts.MaxSize))
		}
	}
}

func FuzzMailChunker(f *testing.F) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 8 {
		seed := randomMail(r)
		f.Add(seed[:min(4<<10, len(seed))], uint8(Mbox))
	}
	msg, _, _ := mimeMessage(testMail{from: "a@b", to: "c@d", subject: "s", text: []byte("hi\n"), boundary: "zz", attName: "f", attBody: base64Body([]byte("attachment"))})
	f.Add(msg, uint8(Message))
	f.Add(mboxEntry("a@b", 1, msg), uint8(Mbox))
	f.Add([]byte(strings.Join(mailFragments, "")), uint8(Message))
	opts := Options{MinSize: 64, MaxSize: 1 << 10, AverageBits: 8}
	m := NewMail(testPol, opts)
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		checkMailChunks(t, m, data, Kind(kind%3), int(opts.MaxSize))
	})
}

func TestParseContentType(t *testing.T) {
	for _, tc := range []struct {
		value              string
		multipart, message bool
		boundary           string
	}{
		{" multipart/mixed; boundary=abc\n", true, false, "abc"},
		{" multipart/mixed; boundary=\"a b;c\"\n", true, false, "a b;c"},
		{" multipart/mixed; charset=\"x;boundary=no\"; boundary=yes", true, false, "yes"},
		{" multipart/mixed; flag; boundary = sp ", true, false, "sp"},
		{" multipart/mixed; boundary=\"\\\\\"", true, false, "\\"},
		{" multipart/mixed; boundary=\"open", true, false, ""},
		{" multipart/mixed", true, false, ""},
		{" multipart/", false, false, ""},
		{" MESSAGE/RFC822", false, true, ""},
		{" message/global; x=y", false, true, ""},
		{" text/plain; boundary=abc", false, false, "abc"},
		{"", false, false, ""},
		{";;;=;", false, false, ""},
	} {
		multipart, message, boundary := parseContentType([]byte(tc.value))
		if multipart != tc.multipart || message != tc.message || string(boundary) != tc.boundary {
			t.Errorf("parseContentType(%q) = %v, %v, %q; want %v, %v, %q",
				tc.value, multipart, message, boundary, tc.multipart, tc.message, tc.boundary)
		}
	}
}

func TestMailEmptyInputHasNoChunks(t *testing.T) {
	for _, kind := range []Kind{Plain, Mbox, Message} {
		m := NewMail(testPol, Options{})
		m.Reset(bytes.NewReader(nil), kind)
		for range 2 {
			if ch, err := m.Next(make([]byte, 0, 16)); ch != nil || err != io.EOF {
				t.Fatalf("kind %v: Next = (%d bytes, %v), want (nil, io.EOF)", kind, len(ch), err)
			}
		}
	}
}

func TestMailReadErrorIsStickyUntilReset(t *testing.T) {
	boom := errors.New("disk on fire")
	for _, kind := range []Kind{Plain, Mbox, Message} {
		m := NewMail(testPol, Options{})
		m.Reset(io.MultiReader(bytes.NewReader([]byte("From a 1\nSubject: x\n\nbody\n")), iotest.ErrReader(boom)), kind)
		for range 2 {
			if _, err := m.Next(nil); !errors.Is(err, boom) {
				t.Fatalf("kind %v: Next error = %v, want %v", kind, err, boom)
			}
		}
		if got := mailChunkAll(t, m, strings.NewReader("fine"), kind); len(got) != 1 {
			t.Fatalf("kind %v: after Reset got %d chunks, want 1", kind, len(got))
		}
	}
}

func TestMailNextBeforeResetFails(t *testing.T) {
	if _, err := NewMail(testPol, Options{}).Next(nil); err == nil {
		t.Fatal("Next before Reset succeeded")
	}
}

func TestMailInvalidConfigurationIsReportedByNext(t *testing.T) {
	m := NewMail(0, Options{})
	m.Reset(strings.NewReader("Subject: x\n\n"), Message)
	if _, err := m.Next(nil); err == nil || err == io.EOF {
		t.Fatalf("Next error = %v, want a configuration error", err)
	}
}

func TestMailFormattingNeverShowsThePolynomial(t *testing.T) {
	m := NewMail(testPol, Options{})
	secrets := []string{fmt.Sprintf("%d", uint64(testPol)), fmt.Sprintf("%x", uint64(testPol)), fmt.Sprintf("%X", uint64(testPol)), fmt.Sprintf("%o", uint64(testPol))}
	for _, verb := range []string{"%v", "%+v", "%#v", "%d", "%x", "%X", "%o", "%s", "%q"} {
		for _, v := range []any{m, *m} {
			out := fmt.Sprintf(verb, v)
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("Sprintf(%q, %T) = %q shows the polynomial", verb, v, out)
				}
			}
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Plain: "plain", Mbox: "mbox", Message: "message", Kind(7): "Kind(7)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

func benchmarkMbox() []byte {
	return bytes.Join(testMbox(200, frozenMboxAttachments), nil)
}

func BenchmarkMailChunker(b *testing.B) {
	data := benchmarkMbox()
	m := NewMail(testPol, Options{})
	buf := make([]byte, m.MaxSize())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		m.Reset(bytes.NewReader(data), Mbox)
		for {
			if _, err := m.Next(buf); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkChunker(b *testing.B) {
	data := benchmarkMbox()
	c := New(testPol, Options{})
	buf := make([]byte, c.MaxSize())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c.Reset(bytes.NewReader(data))
		for {
			if _, err := c.Next(buf); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// frozenMbox are the chunks of the frozen mbox.
var frozenMbox = []frozenChunk{
	{10209, "c2e2f92081a763a1f38a419d6e2e76e1b2867d24b2ae2f85ee68b8e342b677c3"},
	{10960, "6844ed5a70290cbb116f7a0eb851fd8c3e0f1383590238cb60cb773de1cedaf3"},
	{1558, "9f7ba9d0b097b4222d7d6a4098e9d283cb263534da10582c40674dbccc48439a"},
	{8340, "1bc5fcafe11732758bd4d656d973973c68dcbd456fac7126924a04abad5c9141"},
	{10634, "afafe44c92926ffc9c40b2b239480e7ae48ee5dd2b41617f5d21fd6e8a48cc29"},
	{10940, "5531190567d94357be9737d410465c6b950c9349cceff5ebf6f15e240fde22c4"},
	{4786, "1087b11d96456c7d4659df4f381d6ecd2db49611ba8e67905916f9848c507f14"},
	{4424, "e75ae9ba1f85fa7c729755b4f63e92896592fb7609fd74a422942e80efa71d57"},
	{5450, "eccbb1609ddf050ddf51c953c91d408a21aed5a7efae14917daeb8b6942dd9d0"},
	{6776, "d53728f0a4028bc6a4052ba1fe2e69d841e6f4eb4e525dcdfe33cf9fd6fb3a11"},
	{3194, "9436b1f6f3be5c3ca46ead79e5c06b92ff521a2398e8ca1475d82ccb534d1b3f"},
	{3864, "067e228635b47bc38d8cc7716450eeac2da9f9ef1f95d97dc662d9dbcda3d4eb"},
	{6739, "0d66bc8580d8d4ac6667032d249c3bc5f6ed2798d323cfc4ca0efe9a1883e394"},
	{10367, "b461ba29714fefcab9b5dcff8e83985a4c846fcb0838038e8037096cd0ecd0e7"},
	{8088, "5ec2af9f8821c42492f4fd2a377523812d20fbc2a48542caa6e4269db3b3d1e9"},
	{3506, "b804bcb76f7ad507aba596b5aa47cc199f59c46b1f2f7c35c8441328660b0b7a"},
	{12750, "05c93b86721b82095531a5d83c32875a8402a9abaf0924ce3b223a63868dbb1d"},
	{11182, "bb63bf41b5991ffc61dd41e5b836c3effe6b000e3c158d66f9be7a10a92cb43f"},
	{138333, "6f042828b97dbccc4be765ab798d6ddc4a3ffb223b325cf1d457cc50fe190e75"},
	{11, "b5b7bac31cc8bb87c1b04117697aa741122c7a4c0bdeed88e2d0acabafa2d32c"},
	{7799, "3b9d545cc34279b14e87f6fb459f288556db0decc14bd34c5ca7c26e060b06f5"},
	{12565, "c1a99616e35455de0eb48bd0b876a910297ea6162236a6fb0c9d0fb5efa8ca2c"},
	{10408, "5188bfce4f50f26f1f24f0ba54335e0c21a65485b05c56c586cfec1f087fcf84"},
	{8383, "f021d5522acb9548419eec80dee2f613b506251bbc0c7fda9a752f3ff67acf89"},
	{2275, "8e1b09cc53f8446de392e621f7baa3fbce4c9ac2a0b2db4efe5f7148677598ae"},
	{2862, "c00929bf77b80f258c54a87760c9efeb995e3983f29f0edaa67ce81c195c0249"},
	{5256, "1a84604cb504fdace263715aed071fd6b06e9cc20264042118df3ff1ae195923"},
	{4859, "90f4f48f3ca419070eda825d3530377417a582e5e282d7b655103ab7da47d942"},
	{6782, "2bb3453b6f6c14703d02d559423c35f7e0f1ecbec055341f810bdb207e6a3df4"},
	{12478, "2218c75eaf7c9215857d17e7c50f3c848e90f790484e4c082806ec75f5dda5a7"},
	{4992, "380a0368975ffa8dd96bec4f82027763263f133a1801c405707be8f6cac0b8f3"},
	{1594, "82e8e00d27b17cb5fc39c7d0fc7a9e17f5edf7011ef08768d51b92414c723ebf"},
	{5469, "0c84d3ad1a1298761c028590847b7f3c5faa5687efb6df36dfe04397fb3b0217"},
	{10071, "577c306f4e591503bb56d7aa1bf22373f7d79eb68c003be4fd45a9634e72aa3b"},
	{6920, "f71c52f6cb2c0bc94823fd5778faae6010b01d922513c3f3bb34a7a4dac8695d"},
	{10905, "277c20c39e4c8ccf0702bdfdaeed0b578459028d461fb1b8406cd6656d15cf21"},
	{10789, "e6a4c15ea3dcc76a39bc37583ee125be7ccf808b77bb87699f77ef48fdc217a2"},
	{5126, "fa44caa95d113569be62bd824723cea4a7a235c6cf1e507b260f6603c632550d"},
	{11338, "779cb3f8e6bc411d69acaafc13d1596d1c9d8ff72e96d92328e6130868bd0af6"},
	{6940, "1b0ee3b292aaf2d1bbe876f338a9bfd4605e7779a8c56c6a76ce54430600f88a"},
	{8229, "ec1a9a974670586767a920678f2ecda6369784c518f212ce0bf8900e80e99408"},
	{1368, "ee2aa5074f14416a319548f8f7b89054466619749c38d7d144369340ff1992c7"},
	{8693, "f476e7c45a20dda605ee4e4ad8333a040334d0161717f6b400fa6f64f88271c8"},
	{8077, "dcd0cb182e57c9369d2aa47a3d5121c753ce01cc83db0d4ece665ddbf0710466"},
	{2060, "e1538bd1893917382a9a3181b9e7f7c873fc2aea00a77fa06a2244914e232996"},
	{7730, "24de5caa5c721d441be3e934f215b5bd634750cf875df46a8192dbd25202535f"},
	{7040, "c611c2a05e0e80223b314ece34cb2dcb960e4d5c03a413b9898cc36a57855299"},
	{2904, "4efa37aa063c212ee888783023842bd359b1c858cf86b75eb8de474d9261dcf7"},
	{938, "a720eb74a9d82b9aa0d738b988032e7ccdc7c2f5191fc6c3712e9e7e06a8b2ae"},
	{8687, "3838aab380093b859f36ffdfdea70fd5bf574e50dc81bfb3993a9fa146fad5dc"},
	{2598, "01217c382a5f0c85bfd58a1941a930cf7481caeed782feeedca2797a75c4962f"},
	{5043, "02f1701740c2d94fc5fa1e71c43f2ac57d40cdc38ea3d49829974a9473f7ae6b"},
	{3504, "b23c341dc090a895549b1aa6c6530059bb83879eb9e802e98b0491e04970066b"},
	{4934, "b71545f34edee1d501a1bd1b7ff2f495241bb824a1ffbcf1258632ce48b7f9ff"},
	{1988, "4184a0366468f6d642aefc37c8ea08e3b5a53093ba1adf0206a4bde95907831e"},
	{4207, "ad7ce9f6d13d865e92195d9dbb0f49de6b290b461ac3e082ad40a22877942d99"},
	{12069, "4a696e1f73e522592def0d414af3f2bfb1c6aed491b44cb6073bb7e83befd60e"},
	{10436, "4b0f36d037d096650f966cce719041939a3b761abc9efc718a1681bd3029c0af"},
	{12081, "c884c1ffdd9f3c25e9efbb0fd9326806ca90b6e8a798156093020b8131c9dfcd"},
	{957, "88d09db55141115d527ed0d2f9165733859309a4fa44e02bb9405080fc705073"},
	{9789, "aa65bf5a07d202f99a854e059ca4e2786f59232f845060256c9c5f46438b3160"},
	{3783, "3ddd8fa08f0513ba0b30baa535195eccd0e2f3557d39601f340a8578376e47f8"},
	{12248, "f1740a408ed1053d1bd766ec58c90c0cf286be563e26acb907667f598fab59ce"},
	{9620, "871053618d0c3f0034c6cfe77c0b2d21efc3b6734071cf4b22dddcbca42b5f8e"},
	{7683, "9f3295bcca3208918f170c899bb8d7b47639ea33b0b42290902e6b66d534fe82"},
	{9718, "71fb811ee42a1814a9c37bd048d80d3d5456c74425fecadb2bbec15787dbc036"},
	{60284, "b1144b3b57fb18c02ec3fc8d21db0a10044547445e93750bbf479177d4562231"},
	{1129, "325c0c3ebad040ba978857f530d24c6c3f3b9ee2823e95216fc0bd2e4b28cb5d"},
	{2514, "9a3554641f94d0e72ba77c9b916a70f6eb25b1c2c81ca9fc64c46ed1386802f3"},
	{7151, "2fe1fc833e2d60823fbcc6e96428b4d15b1b7563e6e4f9485be941697350abc7"},
	{4061, "549dae775439f11634185c9e4a44c1951d95384c604d7079fa592b204d508b22"},
	{3905, "1ae86faf2186c86534b717e1792b1c4c32ba5e7de2763b95a4b67b71e619bb8b"},
	{6581, "f1b19ee80db274bab1bcb4355354de1b47246e713db6ab92b6980a8ce134d311"},
	{8555, "fb27a65fedc55899ebf63ad90130dfa45881ab41ea628530b1d4c32f29ee7b88"},
	{12979, "1d7354fbc3f75469e45dd7f2e10256898038f7e809f59e7fabc0f301c262e27c"},
	{12980, "fc5763643b301812871a2d83031470184bc4203293de1e81df413b064e28aebc"},
	{11947, "ece7fa75fc49cdea51812bfe13b81ca561d09d2264e27edf84d24e11e8ea668f"},
	{6940, "e6055062389acfdc79b31387cac370231b2c6c4bb1dbfa7bcb37bdea8f0824cc"},
	{3990, "7d3dd985df65fd2ca6411343fa9053f747644add5dfa5ef68a798986496542ce"},
	{6505, "096e2d0938b537ba16ffcca07202d71bbf60cfbdbf8d09a8d2e15b607388ed30"},
	{1204, "c676b4c8c0c494288a4840a0c7155b3dca2298da7ccc90551d4d7062fd0def49"},
	{7375, "7c8e3cc2080dbfffd3472f6ad034065546fe0b3a1bce64b19518e5e8f7615999"},
	{8723, "5e444b88c9eeafa874c058a10e09f4eae4b969ea7ca9726caafb663a0bf76f5a"},
	{10685, "f0afa6d7339d2fe79990f90e8e98a2add81b52588ec044a671a1be13bb6f34b9"},
	{2176, "01f99cb3d0bb8c8b5084f5b488525720cf4f4ea77fd5a3f656a852587f2599ae"},
	{5597, "11c7d544b9a1c6ae7b9ea9d855b209c65f09bdbc5167acbcecdf525e98ed8e19"},
	{7142, "38f3a959d597ff4d19e2a50c4c0d16a4443bc701d8ba4d592ff028dbd0fbb5bc"},
	{4985, "5c687367526ae2cf7d96830c9d4e2b118088592e11ebd1c7524c6439f42ad19c"},
	{3929, "b69b283c17d4483de47a292df9c5a91084add8cbbb7375698019d5b9528e4fae"},
	{10842, "346ca2a0c0cf09fc690efc2d2bd2299006fc115531ee09a50b09ca1be6fa6832"},
	{5813, "d02642ec8c4b0f5d5731a8573a8fad916ceed2ef8915677805e9af750b619581"},
	{7994, "54619af339caf365644589dc9fa8af4e21d0a272dc73a58f775e7b490c27379c"},
	{1715, "a4a928b77dc10ba3df98750b5a7208808f7b471001bd2fd394e4d41d456e32c1"},
	{9573, "bfac08c068ca6a159bb3926118a113d6e30dfcb5e1fc811a77f60ff7677bd939"},
	{6572, "fe8899759ac9bcba15f16804a85b8c91aaa4630ca015b240cca9a9f72e2ece5e"},
	{1625, "e6f6cb469cff2197a2be687ef5e1a502999607f8b11b9d7194ce153b14526359"},
	{7516, "2139fd6e2514d229ffeb5e95c9150aca48c794f9870da960bac1c09feab7c95e"},
	{7174, "e0c5f625654e9ba96d4c87627e67666f4af6e840dd618c3022f7649b432bded2"},
	{2984, "9cd99e4507a6e105477564c0161d9c7d25561628c53a8d0caed407f61bfff579"},
	{5465, "34af179c63ebdc65268b70a7c5409d7069d1f1ddfc5a1e54b742d597ba64e0b3"},
	{3364, "9a4dd0eb3503dbdf5864e861781cd0eed9d7ba17f22acbd0ef5b547c3ef158e5"},
	{12920, "af13d837dff7abb385a6009862bfdbd061823d1da3ca3b584bccc2736fac081a"},
	{11811, "00d210e2bbd380abd9d37288e439140394d087e0d7dff759a714400a971ee1b7"},
	{13006, "2ef03d990585821b50df907ac8e6e55c9311347c71eba2bc3d3c0be4ab575c5f"},
	{553322, "9bbec6d72fd10d04afe9e7be2d747dba48e7eeedc155da5fa1c3011a9fa1a9b7"},
	{12, "1f8817132bebe343d0c15bed189a502688ceb718122f54165f8292ece601b444"},
	{7208, "7e997cdd47f9a60a6c0e611631684a211c97e45e56315ec1d18885861b86910d"},
	{7860, "fca1e1f0ba562871891672f5717cc7da0a91acde1ce9fe0f1c9e3a55dcdff3c2"},
	{3770, "4ade95fea3a2c081fbc8cb17dd585912e09ebdeeb1ab171b9b6658ede81f4757"},
	{1234, "92eeaf11d9e7f7d35ec53a65f8f7d76b761d4d33fddbb75aa37941c19e1d378b"},
	{2850, "6e3233bf7bd61061f63645c2ecfd9f9fbdea0e5ba4faf8627632da1217b347f8"},
	{1066, "b9fa4023d4a27984e7e2b4fdb7b1a7b9a96024db8990602f61d1479092a6f8f2"},
	{11259, "177950b2829b81a29606a5a43c1a4fddbc19ae17679fe35167053e713ef94d1e"},
	{7645, "88d9afbced71994db70630b818615f0c19fe97cf93e71d136372772a6cc720df"},
	{1197, "737a7998aabab1f9dabc1f500a726fa9c18db9b3916d6b96f6a832accb0e3a05"},
	{11160, "6103c6972d7409f7fc0df7b946fcbf955fd8766b4e7fc05d192c92c7800cd71e"},
	{4645, "a4094483c2989376828c23a3e5ec14e5e58b3c9f4f6981989a608b38b8ababbb"},
	{11661, "ef751ed1e299b90e4132b0e5613962ee3bb5663c01487a6938a77d60b5166c20"},
	{7004, "2fd2f3e4092c1b1e96575d6700c08275cfc6240b1059013d8a183c3ba9736e09"},
	{10037, "2eeea176b35d62934866de98e38e1a5d5486bef60ca8f0ddce2df54e16a0f53e"},
	{4398, "6606d43cb6297113dbbb0e1f9ddc604effe95aa300e849cfb85e54ada6891d6a"},
	{2226, "1d8f5a3d42cff9aafaf7b380ee951cff9fcf0ad3202e77931207b879b56b1ca4"},
	{3068, "b88496a0c42acb4fea1514d852e6e39e562695918fbdc9bfb16a2b42011a46eb"},
	{4720, "99943ed0ef747abfbc52f8de8596484d6d5885ea575df94c89ea382678f5324f"},
	{10918, "80f43de21a63cb159ff10687dca8b0c834c20b43d8636082d43f54699dd4b143"},
	{7044, "2c54473426bd09e7ab2a682a769b01920f11d6c44d095b9616467bcdb6c83c66"},
	{4170, "071797bb5e76cd9913b5b32393bfc3f676b71900f46a4d93b497edb3efd970ac"},
	{2822, "bb80d43b71bd8ace19b0ba6c971fe18fbb71bce45a0ca2f64e56280e88e3b15e"},
	{5928, "92c8b16ee67f7d0caafde4826822f9c253fe2a7df1b7de68bcbfce49822a37b1"},
	{10096, "5a57bda712177d6a0097264e6696eea05708899aa6ef58ba02e3544352826bde"},
	{8245, "bce205aa14b4326a6153ae7c6ca7e31fec426203dad9737a245942a2f8599e85"},
	{9352, "ec47ac35058ca87d43e42400484e9e596ddd03b05d8204a8b7917d06c3241b6a"},
	{7152, "199f180ed6048b1160f1191f801cdb38186759748f717c9092f1f7e7cd319c64"},
	{2375, "7512e91df084b7fdc803bd02fc86c60c428d23b07d40290012734b5ca38a5e69"},
	{3640, "2ead68dd3b92576385b6fdf2925328178b841b2aa2d4655100a4cda8032114c2"},
	{9851, "2008707688474fe72f9f7a25ca5e2a8cf605499d30764fd3918aea56e335ad6e"},
	{2786, "5e252ab4f0dbb7044b6ebb2940ca7b3a06283c615c9427ee1a2e15d5e488c13c"},
	{5409, "eeccb404c3382f5501efb4c7ed412ace24be7d9e931b29ad5c543353cc9d4545"},
	{10389, "7d42b31f0391f91a1ed1f33e23064b645adedbc8315ff7a897641ec2a6a16d46"},
	{7563, "257f94a2a5cc181f12224513add33f03d5df1bc19df8df76742432925ee35682"},
	{7865, "f9e16f697f54bd932d4ea99197ea920ca71826ba962b28bb0559a3b4e1fedd67"},
	{6430, "bafde7f108f5ef379677190ee1b74b6341193504ae1996cae294f0c116086c89"},
	{1677, "f329c186a014862efd4cbd80cbd88f44d9ebbc95fdc3b931e5a828848d720326"},
	{12609, "d6844dc9f8d550d4c2a39fe6870ea2abcd99ffb1dd3df70935c26bd473416023"},
	{6666, "53c124ed7275aaf30cef1fb98ad64a246ff6bc1df70d6aad30f35d54264b0a1f"},
	{12698, "e00e7f4334d140e888c2aa0a1da1fd046b35ab8ca4ff3c3253cf5d75b42dc53b"},
	{7882, "a5e4434c94bd06509e92d2e6bc43fc6f18179b2bc5eb76c8a73cb8d6e0b393fd"},
	{5852, "7076800943acbe3f894951ac80c1238ec4c16c7e86507cc26532483678101056"},
	{5691, "20d262c4159727ab11f7cb12896f5936eb8b2fce5eb01503d1f37211bfaf066e"},
	{4841, "20d3365ec6fd53c488cc71a401a110e9f8021fdbdbb516d1f946b53e2f1ada02"},
	{6260, "dad645c7dc6aa467a3e9c0920ed72630482d682b9a1bd7471e1daa71d8d79a3f"},
	{12094, "690fe82cae0c1918da97a0b6535f5e67db6b65519a37f09626af55fb2bc63a73"},
	{10034, "ad43cb1649b129f5b86dc0d4e6f313051a0a581550f7a393e1b786e50e9b9272"},
	{7782, "b1e3c718adf7919c5305e003dc87b99cffe8389880f4b19bd2ed9b1f94c972d4"},
	{13020, "d7c0d37f796a45646b1e8bac01fd55d343a654e6c9889bb768214bee4e584823"},
	{1521630, "e5683a49338ad1d0e37bc6dfd324fd17466ce8561bd080c3e6928921b754bdff"},
	{12, "0f553eb46d07223827d8739a9fed95118a14baa983136f681115f11ce6c93aad"},
	{8160, "5315a3590a96df803f0aa6514b28f928089d0ead52768c59cad21a3a08ceec97"},
	{7305, "568fecbb76fe2023a4939c18ff87cfff0c380779654d8f91ad1bfbaaca0bdd86"},
	{5088, "ac16085f57b6cd3799ce27466199d3cb05fde255d6d506bb3393dd5c3830e1b3"},
	{12404, "bd363aa75f4111953a8b88f8b9ff67db7d319b935cf2ead04baf59885768ac35"},
	{8361, "f80ddc39910be4be4aac77ba62c9b94567f7fcdc72cf569788ba05f3ddeef06c"},
	{9652, "936d7dbbcccd02cecb2ca9631b030f47d2f8a6593643642404f6a0fc84147db2"},
	{11613, "bea87c46522988b9fe6f4416785aad2748672f1b1919ed55104f26cb00d6d8c7"},
	{11675, "75902352910823ff1d1e6b630e292c66b71c768d2d92d450ebaa1a02f9d130cf"},
	{11746, "626b9928b657be2340b6d88af3db9caeceae82c12c18d127081b0bfa274aae13"},
	{6004, "3a450ee781aab0a94ab9f23ac2dc345b4a11060e77bac62d350cf7fa8f2637f1"},
	{7706, "0d212be57307df877da317c3494df6110e86fddb3e2aaaeb88266f92b16e30b5"},
	{9000, "a04d1e692d26ec0df606b1e6a66a79acfb3e1a49b4f2502816b2b0ac1d645449"},
	{7390, "d207cf26e992d57996f101e9315e34135074384c6503acb4e25e2f2193538d95"},
	{3588, "a0a01499c6da36ffe5435ba2fdc2be5c944ea5939cc4414e756f8230ca274c08"},
	{4026, "6991eb570d1e2cd798a79fc7783d79946e270e77543abb87616eff3ec82259cd"},
	{5589, "d5accc3b77a8d8ec58bb1a1ccd8676e3b23a7d3a4c1a37a7851cbc23d88ea704"},
	{3562, "c4e6a484726ca75fbc7b67d568d95fc91e703f92ded1a82f3073942051b20865"},
	{6479, "99c8d053fb4da6acca2849a19049fe7d594933eed4682fd058c6261048e26de6"},
	{12364, "9054ef89275db3f9e6e9fbb6cd1c5532aba18ae903753496f079b3cb720a3416"},
	{4768, "ad1833f44f4be9b0240ff046fcb38f6ef6c524a4b5caab53ae93a4ccea757de9"},
	{4961, "bb5ae3d79f4c0c9523e688e5cf75999ba4780bd3cf4b0d6b0ad29775d53d6d1b"},
	{6103, "2de8072f2ea49b9d5f718f778edaf1843a0638e43f80dafe834a2d12e2e0cbeb"},
	{11830, "76cd08b4e0ded4cfab8165a211ea4349c95d17020dd91e99ded7177613ea3392"},
	{13028, "50f1855800850040899bbd5561a3ea4211b7e57d6410fb1c17f25256bb01b4fd"},
	{3199, "f671ca22ae988c1eca8ff209a886a84c529570ee91ad57849ed3da395aa49d2f"},
	{2912, "aa43455fd977ca24a578a8427f5a2fff8929eb31bf4ca9c6668fbc812b6033c9"},
	{11367, "740235f9524767860b28f2a680c63fd3721592b264f4b8efd263aeab26faa0e4"},
	{11326, "6350ac38ec09a25bb5e2a5521368236d10df5d7e884a110abdfd4b88aca231dc"},
	{3429, "b69d09f1b7d6ce8e027bc8c64faf93f7fb34b8c246e22cc7fb02c49fb0238925"},
	{7153, "9ddb9ac592a6b2715f16f7ea60776dd4aad9fa0e2427076d247de3077aa409f5"},
	{7602, "591d34d50689f269130ed2383820048b5eef058c21554275bd7e29c70773087c"},
	{5731, "e4ea0afab2d73af9c7a1c80958f149181c8783db5ca301f1fe809c4ac5fa0942"},
	{7565, "8233542feedd378df199839260251ad65bb400d5548f2b24333d33913a35cb64"},
	{10919, "88b1db9cf211b85c09ff34c41958708a484b9424eddf260f64652173585cb7ce"},
	{4132, "8e5f6336aa423867c483f38560dec20a4f8b288d2f3e0eeddee6c136fb0103d7"},
	{12600, "b0b44021fc2415c37fda336dbd3f3b83ba418ae5a1be4644094d98049b13487f"},
	{4281, "5eaf9ba9b2f3dabe289ee96f1d3c2479495d7c15af8c1a0ca09dfe865e75dbf2"},
	{9542, "0be0f01437ae2339fe8eb020032067846e91ad47c8dd6199e7b9734e8736f3e6"},
	{8641, "443dc668372d52bef640fa5f1ad0c023c5e064cfd4a62bf3e83b9b2e73bbf246"},
	{2222, "a0ee9caff1494f9d9e40f5ad07f47d53e7aad72d1bebd1ee376bc922e8620cd1"},
	{6316, "11d6ca4c4153cf534c5d0065bb7dc275430abea561b7e9e85396696c96fc959c"},
	{7381, "d6aa57be91e7a9a598fff3fc7934ade5713ad29e4f4ebf93a2cc12aeb3f829e8"},
	{12145, "a3bc28423e3463d485aa582ef24311260d9f641c42b30f81d377d8ef2146b4e1"},
	{1028, "f2727db6baef88c01e97fa7a5a19e737b8241025812937c0e2489c5517444f2f"},
	{1577, "3dfe2f6a7e6395396da7b2d54bedb32e921957683cb1b04f3532b3eefe65c84c"},
	{5424, "d8936962123aa0d2c202557cbc1f9f31cbac04a8f2d1996afb7716a9735131a3"},
	{12273, "165a076b26e788b2a359981a2559229a10bf6187eba76790ce5a49db638e75d5"},
	{3787, "2a403bace37ef95a277f3e7f9cca460a488eefc0af28eeff071ed1a3e4ac8a48"},
	{10412, "1253a488d36fbd5c8070b77dacf0fc8d591b5673b162d42ac2f30c1dc92d6f62"},
}
