package main

import (
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
)

// attKind is the shape of an attachment's bytes.
type attKind int

const (
	attJPEG attKind = iota // random bytes behind a JFIF header: incompressible
	attPDF                 // deflated streams between short text objects: mostly incompressible
	attPNG                 // random IDAT: incompressible
	attCSV                 // numbers and names: compressible
	attLog                 // log lines: compressible
	attDocx                // WordprocessingML XML: compressible
)

var attKinds = []struct {
	kind   attKind
	weight int
	ext    string
	ctype  string
}{
	{attJPEG, 38, "jpg", "image/jpeg"},
	{attPDF, 24, "pdf", "application/pdf"},
	{attPNG, 10, "png", "image/png"},
	{attCSV, 12, "csv", "text/csv"},
	{attLog, 6, "log", "text/plain"},
	{attDocx, 10, "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
}

// attachment is a file attached to one or more messages. Its bytes are a
// pure function of its fields, regenerated whenever a message carries it.
type attachment struct {
	seed uint64
	kind int // index into attKinds
	size int
	name string
}

func pickAttKind(r *rand.Rand) int {
	total := 0
	for _, k := range attKinds {
		total += k.weight
	}
	n := r.IntN(total)
	for i, k := range attKinds {
		if n < k.weight {
			return i
		}
		n -= k.weight
	}
	return 0
}

func newAttachment(r *rand.Rand, maxSize int) *attachment {
	a := &attachment{seed: r.Uint64(), kind: pickAttKind(r)}
	a.size = logNormal(r, 120<<10, 1.3, 2<<10, min(maxSize, 25<<20))
	prefixes := []string{"IMG_", "scan", "invoice-", "report-", "export-", "photo", "minutes-", "contract-"}
	name := []byte(prefixes[r.IntN(len(prefixes))])
	name = strconv.AppendInt(name, int64(1000+r.IntN(9000)), 10)
	name = append(name, '.')
	name = append(name, attKinds[a.kind].ext...)
	a.name = string(name)
	return a
}

// content returns the attachment's raw bytes.
func (a *attachment) content() []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], a.seed)
	src := rand.NewChaCha8(s)
	r := rand.New(rand.NewPCG(a.seed, 0xa77ac4))
	buf := make([]byte, 0, a.size+256)
	random := func(n int) {
		if n <= 0 {
			return
		}
		l := len(buf)
		buf = buf[:l+n]
		src.Read(buf[l:])
	}
	switch attKinds[a.kind].kind {
	case attJPEG:
		buf = append(buf, 0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 0x48, 0, 0x48, 0, 0)
		random(a.size - len(buf) - 2)
		buf = append(buf, 0xff, 0xd9)
	case attPNG:
		buf = append(buf, 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R')
		random(a.size - len(buf) - 12)
		buf = append(buf, 0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82)
	case attPDF:
		buf = append(buf, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"...)
		obj := 1
		for len(buf) < a.size-200 {
			buf = strconv.AppendInt(buf, int64(obj), 10)
			buf = append(buf, " 0 obj\n<< /Type /Page /Font << /F1 5 0 R >> /Filter /FlateDecode /Length "...)
			n := min(4096+r.IntN(60000), a.size-len(buf)-100)
			buf = strconv.AppendInt(buf, int64(max(n, 0)), 10)
			buf = append(buf, " >>\nstream\n"...)
			random(n)
			buf = append(buf, "\nendstream\nendobj\n"...)
			obj++
		}
		buf = append(buf, "xref\n0 "...)
		buf = strconv.AppendInt(buf, int64(obj), 10)
		buf = append(buf, "\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"...)
	case attCSV:
		buf = append(buf, "date,account,customer,amount,currency,status\n"...)
		for len(buf) < a.size {
			buf = strconv.AppendInt(buf, int64(2020+r.IntN(5)), 10)
			buf = append(buf, '-')
			buf = appendPad2(buf, 1+r.IntN(12))
			buf = append(buf, '-')
			buf = appendPad2(buf, 1+r.IntN(28))
			buf = append(buf, ',')
			buf = strconv.AppendInt(buf, int64(100000+r.IntN(900000)), 10)
			buf = append(buf, ',')
			buf = append(buf, lastNames[r.IntN(len(lastNames))]...)
			buf = append(buf, ',')
			buf = strconv.AppendInt(buf, int64(r.IntN(100000)), 10)
			buf = append(buf, '.')
			buf = appendPad2(buf, r.IntN(100))
			buf = append(buf, ",EUR,"...)
			buf = append(buf, []string{"paid", "open", "overdue", "cancelled"}[r.IntN(4)]...)
			buf = append(buf, '\n')
		}
	case attLog:
		for len(buf) < a.size {
			buf = append(buf, "2024-02-"...)
			buf = appendPad2(buf, 1+r.IntN(28))
			buf = append(buf, 'T')
			buf = appendPad2(buf, r.IntN(24))
			buf = append(buf, ':')
			buf = appendPad2(buf, r.IntN(60))
			buf = append(buf, ':')
			buf = appendPad2(buf, r.IntN(60))
			buf = append(buf, []string{" INFO ", " WARN ", " ERROR ", " DEBUG "}[r.IntN(4)]...)
			buf = appendWords(buf, r, 4+r.IntN(10))
			buf = append(buf, '\n')
		}
	case attDocx:
		buf = append(buf, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+"\n"+`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`...)
		for len(buf) < a.size {
			buf = append(buf, `<w:p><w:pPr><w:pStyle w:val="Normal"/></w:pPr><w:r><w:rPr><w:lang w:val="en-GB"/></w:rPr><w:t xml:space="preserve">`...)
			buf = appendWords(buf, r, 8+r.IntN(30))
			buf = append(buf, "</w:t></w:r></w:p>\n"...)
		}
		buf = append(buf, "</w:body></w:document>\n"...)
	}
	return buf
}

func appendPad2(dst []byte, n int) []byte {
	if n < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(n), 10)
}

// appendBase64Lines appends the MIME base64 encoding of src in 76-column lines.
func appendBase64Lines(dst, src []byte) []byte {
	const in = 57 // 57 bytes encode to 76 characters
	var line [76]byte
	for len(src) > 0 {
		n := min(in, len(src))
		m := base64.StdEncoding.EncodedLen(n)
		base64.StdEncoding.Encode(line[:m], src[:n])
		dst = append(dst, line[:m]...)
		dst = append(dst, '\n')
		src = src[n:]
	}
	return dst
}
