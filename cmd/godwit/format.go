package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// quotePath prints a path as is when it is printable UTF-8, quoted with
// escapes otherwise (newlines, control characters, invalid bytes).
func quotePath(p string) string {
	if !utf8.ValidString(p) {
		return strconv.Quote(p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return strconv.Quote(p)
		}
	}
	return p
}

// escapeText returns s with control characters and bytes that are not
// UTF-8 escaped as in Go strings (\n, \x1b, \xff), so that error text
// quoting a hostile file name cannot move the cursor or rewrite the
// terminal. Printable text is returned as it is.
func escapeText(s string) string {
	clean := utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
	if clean {
		return s
	}
	q := strconv.Quote(s)
	q = q[1 : len(q)-1]
	return strings.ReplaceAll(q, `\"`, `"`)
}
