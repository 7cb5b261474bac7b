package main

import (
	"bytes"
	"time"
)

// appendMboxMessage appends msg to an mboxrd spool: a "From " separator line,
// the message with every line matching ^>*From  quoted by one more '>', and a
// blank line.
func appendMboxMessage(dst []byte, sender string, date int64, msg []byte) []byte {
	dst = append(dst, "From "...)
	dst = append(dst, sender...)
	dst = append(dst, ' ')
	dst = append(dst, time.Unix(date, 0).UTC().Format("Mon Jan _2 15:04:05 2006")...)
	dst = append(dst, '\n')
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i+1], msg[i+1:]
		} else {
			msg = nil
		}
		j := 0
		for j < len(line) && line[j] == '>' {
			j++
		}
		if bytes.HasPrefix(line[j:], []byte("From ")) {
			dst = append(dst, '>')
		}
		dst = append(dst, line...)
	}
	if len(dst) > 0 && dst[len(dst)-1] != '\n' {
		dst = append(dst, '\n')
	}
	return append(dst, '\n')
}

// splitMbox returns the raw entries of an mbox spool, each starting with its
// "From " line and including the trailing blank line. A spool that does not
// start with "From " gives one entry, the whole spool.
func splitMbox(spool []byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 0; i < len(spool); {
		j := bytes.Index(spool[i:], []byte("\nFrom "))
		if j < 0 {
			break
		}
		cut := i + j + 1
		out = append(out, spool[start:cut])
		start = cut
		i = cut
	}
	if start < len(spool) {
		out = append(out, spool[start:])
	}
	return out
}

// insertHeader inserts a header line at the end of a message's header.
func insertHeader(msg []byte, line string) []byte {
	end := bytes.Index(msg, []byte("\n\n"))
	if end < 0 {
		return append(append(append([]byte(nil), msg...), line...), '\n')
	}
	out := make([]byte, 0, len(msg)+len(line)+1)
	out = append(out, msg[:end+1]...)
	out = append(out, line...)
	out = append(out, '\n')
	return append(out, msg[end+1:]...)
}
