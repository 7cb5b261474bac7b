package mailbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

var fromPrefix = []byte("From ")

// ScanMbox splits the mbox read from r into messages and calls fn once per
// message, in order, with the message's byte offset and length in the
// stream, its "From " separator line (without line terminator) and its
// parsed header. Offsets and lengths cover the stream exactly: each message
// runs from its separator to the next separator (including the empty line
// before it) or to the end of the stream, so concatenating all messages
// gives back the input. Bytes before the first separator, which only a
// damaged spool has, are reported as a message with an empty separator.
//
// A separator is a line beginning with "From " at offset 0 or right after
// an empty line (LF or CRLF). Only one message's header block (at most
// MaxHeaderSize bytes; a longer one is cut) is held in memory at a time.
//
// ScanMbox stops at the first error from fn and returns it unchanged; a read
// error is returned wrapped. fn is called on the caller's goroutine.
func ScanMbox(r io.Reader, fn func(offset, length int64, separator string, h Header) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		pos       int64 // bytes consumed so far
		start     int64 // offset of the current message
		inMessage bool
		separator []byte
		header    []byte
		inHeader  bool // still collecting the header block
		lineStart = true
		prevBlank = true // offset 0 counts as following an empty line
		sepLine   bool   // the current line is a separator being read
	)
	emit := func(end int64) error {
		if !inMessage {
			return nil
		}
		h := parseHeaderBlock(header)
		sep := string(bytes.TrimRight(separator, "\r\n"))
		inMessage = false
		return fn(start, end-start, sep, h)
	}
	for {
		seg, err := br.ReadSlice('\n')
		if len(seg) > 0 {
			complete := seg[len(seg)-1] == '\n'
			if lineStart {
				if prevBlank && bytes.HasPrefix(seg, fromPrefix) {
					if ferr := emit(pos); ferr != nil {
						return ferr
					}
					inMessage, start = true, pos
					separator, header = separator[:0], header[:0]
					sepLine, inHeader = true, true
				} else if !inMessage {
					// Data before the first separator.
					inMessage, start = true, pos
					separator, header = separator[:0], header[:0]
					sepLine, inHeader = false, true
				}
				if inHeader && !sepLine && isBlankLine(seg) {
					inHeader = false
				}
				prevBlank = isBlankLine(seg)
			} else {
				prevBlank = false
			}
			switch {
			case sepLine:
				if len(separator)+len(seg) <= MaxHeaderSize {
					separator = append(separator, seg...)
				}
			case inHeader:
				if len(header)+len(seg) <= MaxHeaderSize {
					header = append(header, seg...)
				} else {
					inHeader = false // keep the header cut at a line boundary
					if i := bytes.LastIndexByte(header, '\n'); i >= 0 {
						header = header[:i+1]
					} else {
						header = header[:0]
					}
				}
			}
			if complete {
				sepLine = false
			}
			lineStart = complete
			pos += int64(len(seg))
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			return emit(pos)
		}
		if err != nil {
			return fmt.Errorf("scan mbox: %w", err)
		}
	}
}

// ExtractMboxMessage reads the message at offset and length (as reported by
// ScanMbox) from an mbox and returns it as a plain RFC 5322 message: the
// "From " separator line removed, every ">+From " line unquoted by one '>'
// (mboxrd; for mboxo, where only "From " was quoted, this is also right),
// and the empty line that ends each message in an mbox removed. The message
// is read into memory whole. r may be shared: only ReadAt is used.
func ExtractMboxMessage(r io.ReaderAt, offset, length int64) ([]byte, error) {
	if offset < 0 || length < 0 {
		return nil, fmt.Errorf("extract mbox message: invalid range %d+%d", offset, length)
	}
	buf := make([]byte, length)
	n, err := r.ReadAt(buf, offset)
	if n < len(buf) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("extract mbox message at %d: %w", offset, err)
	}
	if bytes.HasPrefix(buf, fromPrefix) {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		} else {
			buf = buf[len(buf):]
		}
	}
	out := make([]byte, 0, len(buf))
	for len(buf) > 0 {
		line := buf
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			line = buf[:i+1]
		}
		buf = buf[len(line):]
		if isQuotedFrom(line) {
			line = line[1:]
		}
		out = append(out, line...)
	}
	switch {
	case bytes.HasSuffix(out, []byte("\n\n")):
		out = out[:len(out)-1]
	case bytes.HasSuffix(out, []byte("\r\n\r\n")):
		out = out[:len(out)-2]
	}
	return out, nil
}

// isQuotedFrom reports whether line matches ^>+From .
func isQuotedFrom(line []byte) bool {
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	return i > 0 && bytes.HasPrefix(line[i:], fromPrefix)
}

// needsQuote reports whether line matches ^>*From .
func needsQuote(line []byte) bool {
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	return bytes.HasPrefix(line[i:], fromPrefix)
}
