package ui

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// statusText is the terminal status: elapsed time, counts against their
// totals, rate, ETA once the totals are known, and the current file cut
// to fit width columns.
func statusText(c counts, elapsed time.Duration, unit string, width int) string {
	var b strings.Builder
	b.WriteString(Duration(elapsed))
	if c.totalKnown {
		fmt.Fprintf(&b, "  %d/%d %s  %s/%s", c.filesDone, c.totalFiles, unit, Bytes(c.bytesDone), Bytes(c.totalBytes))
	} else {
		fmt.Fprintf(&b, "  %d %s  %s", c.filesDone, unit, Bytes(c.bytesDone))
	}
	if secs := elapsed.Seconds(); secs > 0 {
		fmt.Fprintf(&b, "  %s/s", Bytes(uint64(float64(c.bytesDone)/secs)))
	}
	if eta, ok := remaining(c, elapsed); ok {
		fmt.Fprintf(&b, "  ETA %s", Duration(eta))
	}
	if c.errors > 0 {
		fmt.Fprintf(&b, "  %d errors", c.errors)
	}
	text := b.String()
	if c.current != "" {
		if room := width - utf8.RuneCountInString(text) - 2; room >= 8 {
			text += "  " + shorten(printable(c.current), room)
		}
	}
	return text
}

// Bytes formats n with a binary unit: "512 B", "1.5 KiB", "3.2 GiB".
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Duration formats d as "m:ss" or "h:mm:ss".
func Duration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s < 0 {
		s = 0
	}
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// printable replaces control characters and invalid UTF-8 in a file name,
// which must not reach the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}

// shorten keeps the end of s, the more telling part of a path, in at most
// n runes.
func shorten(s string, n int) string {
	runes := []rune(s)
	if len(runes) <= n {
		return s
	}
	return "…" + string(runes[len(runes)-n+1:])
}
