package mailbox

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// windows1252High maps bytes 0x80-0x9F of windows-1252 to Unicode; the five
// bytes windows-1252 leaves undefined map to the C1 control of the same
// value, as in the WHATWG encoding standard.
var windows1252High = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

// iso885915 lists the code points where iso-8859-15 differs from iso-8859-1.
var iso885915 = map[byte]rune{
	0xA4: 0x20AC, 0xA6: 0x0160, 0xA8: 0x0161, 0xB4: 0x017D,
	0xB8: 0x017E, 0xBC: 0x0152, 0xBD: 0x0153, 0xBE: 0x0178,
}

func decodeWindows1252(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		if c >= 0x80 && c < 0xA0 {
			sb.WriteRune(windows1252High[c-0x80])
		} else {
			sb.WriteRune(rune(c))
		}
	}
	return sb.String()
}

func decodeLatin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

func decodeLatin9(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		if r, ok := iso885915[c]; ok {
			sb.WriteRune(r)
		} else {
			sb.WriteRune(rune(c))
		}
	}
	return sb.String()
}

// charsetReader converts the single-byte charsets common in European mail
// to UTF-8 for mime.WordDecoder. utf-8, us-ascii and iso-8859-1 proper are
// handled by the decoder itself.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	var conv func([]byte) string
	switch strings.ToLower(charset) {
	case "windows-1252", "cp1252", "x-cp1252":
		conv = decodeWindows1252
	case "latin1", "l1", "iso8859-1", "iso_8859-1", "iso-8859-1", "iso-ir-100", "cp819":
		conv = decodeLatin1
	case "iso-8859-15", "iso8859-15", "iso_8859-15", "latin-9", "latin9":
		conv = decodeLatin9
	case "ascii", "ansi_x3.4-1968":
		conv = decodeWindows1252
	default:
		return nil, fmt.Errorf("unsupported charset %q", charset)
	}
	b, err := io.ReadAll(input)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader([]byte(conv(b))), nil
}
