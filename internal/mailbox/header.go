package mailbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxHeaderSize is the largest header block ParseHeader accepts and the most
// ScanMbox keeps of one message's header.
const MaxHeaderSize = 256 << 10

// ErrHeaderTooLarge is returned (wrapped) by ParseHeader when no empty line
// ends the header within MaxHeaderSize bytes.
var ErrHeaderTooLarge = errors.New("header block larger than 256 KiB")

// Header holds the fields of one message's header that are used to find it,
// decoded for display and search.
//
// Text fields have RFC 2047 encoded-words decoded (utf-8, us-ascii,
// iso-8859-1, iso-8859-15 and windows-1252; words in other charsets are kept
// as written) and raw 8-bit bytes that are not valid UTF-8 read as
// windows-1252, so every field is valid UTF-8. Folded lines are unfolded and
// surrounding white space trimmed. When a field occurs more than once the
// first occurrence wins, except To and Cc, whose occurrences are joined with
// ", ".
type Header struct {
	From, To, Cc, Subject, MessageID string
	// Date is the Date field parsed with net/mail.ParseDate; zero when the
	// field is missing or unparsable.
	Date time.Time
}

// ParseHeader reads a message's header block from r: everything up to the
// first empty line (LF or CRLF line endings) or the end of input. Lines that
// are not fields (such as an mbox "From " separator or 8-bit junk) are
// skipped. It returns an error wrapping ErrHeaderTooLarge when the block
// exceeds MaxHeaderSize, and read errors other than io.EOF.
//
// ParseHeader buffers its reads, so it may consume bytes of r beyond the
// header block.
func ParseHeader(r io.Reader) (Header, error) {
	br := bufio.NewReader(r)
	var block []byte
	lineStart := true
	for {
		line, err := br.ReadSlice('\n')
		if lineStart && err == nil && isBlankLine(line) {
			break
		}
		if len(block)+len(line) > MaxHeaderSize {
			return Header{}, fmt.Errorf("parse header: %w", ErrHeaderTooLarge)
		}
		block = append(block, line...)
		lineStart = err == nil
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return Header{}, fmt.Errorf("parse header: %w", err)
		}
	}
	return parseHeaderBlock(block), nil
}

// isBlankLine reports whether line is an empty line with its terminator.
func isBlankLine(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

// parseHeaderBlock extracts the Header fields from a header block. It never
// fails: whatever cannot be understood is ignored.
func parseHeaderBlock(block []byte) Header {
	var h Header
	var to, cc []string
	var name string
	var value []byte
	flush := func() {
		if name == "" {
			return
		}
		v := decodeText(value)
		switch strings.ToLower(name) {
		case "from":
			if h.From == "" {
				h.From = v
			}
		case "to":
			to = append(to, v)
		case "cc":
			cc = append(cc, v)
		case "subject":
			if h.Subject == "" {
				h.Subject = v
			}
		case "message-id":
			if h.MessageID == "" {
				h.MessageID = v
			}
		case "date":
			if h.Date.IsZero() {
				if t, err := mail.ParseDate(v); err == nil {
					h.Date = t
				}
			}
		}
		name, value = "", nil
	}
	for len(block) > 0 {
		var line []byte
		if i := bytes.IndexByte(block, '\n'); i >= 0 {
			line, block = block[:i], block[i+1:]
		} else {
			line, block = block, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if name != "" {
				value = append(value, line...)
			}
			continue
		}
		flush()
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		n := string(bytes.TrimRight(line[:colon], " \t"))
		if !validFieldName(n) {
			continue
		}
		name, value = n, append([]byte(nil), line[colon+1:]...)
	}
	flush()
	h.To = strings.Join(nonEmpty(to), ", ")
	h.Cc = strings.Join(nonEmpty(cc), ", ")
	return h
}

// validFieldName reports whether s is a field name per RFC 5322: printable
// US-ASCII except colon, no space.
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func nonEmpty(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// encodedWord matches one RFC 2047 encoded-word.
var encodedWord = regexp.MustCompile(`=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=`)

// decodeText turns a raw field value into trimmed, valid UTF-8 text with
// encoded-words decoded.
func decodeText(raw []byte) string {
	s := string(raw)
	if !utf8.ValidString(s) {
		s = decodeWindows1252(raw)
	}
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "=?") {
		return s
	}
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return strings.ToValidUTF8(d, "\uFFFD")
	}
	// Some word failed (unknown charset, bad encoding): decode word by word
	// and keep the failing ones as written.
	var b strings.Builder
	last := 0
	prevDecoded := false
	for _, m := range encodedWord.FindAllStringIndex(s, -1) {
		between := s[last:m[0]]
		d, err := wordDecoder.Decode(s[m[0]:m[1]])
		// White space between two adjacent encoded-words is not displayed.
		if !(prevDecoded && err == nil && strings.TrimSpace(between) == "") {
			b.WriteString(between)
		}
		if err == nil {
			b.WriteString(d)
		} else {
			b.WriteString(s[m[0]:m[1]])
		}
		prevDecoded = err == nil
		last = m[1]
	}
	b.WriteString(s[last:])
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}
