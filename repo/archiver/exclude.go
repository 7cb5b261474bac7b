package archiver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/godwit-backup/godwit/internal/fsmeta"
)

// Excluder decides which paths a backup skips. Patterns are shell globs
// (filepath.Match): a pattern without a slash matches a base name at any
// depth ("*.tmp", "dovecot.index*"); a pattern with a slash matches the
// whole absolute path ("/var/cache/*", "/home/*/.cache"). A pattern that
// starts with '!' is not supported and is rejected. An excluded directory
// is not descended into.
type Excluder struct {
	patterns []string
}

// NewExcluder checks the patterns and returns an Excluder.
func NewExcluder(patterns []string) (*Excluder, error) {
	var ps []string
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.HasPrefix(p, "!") {
			return nil, fmt.Errorf("exclude pattern %q: negation is not supported", p)
		}
		if _, err := filepath.Match(p, ""); err != nil {
			return nil, fmt.Errorf("exclude pattern %q: %w", p, err)
		}
		if p != "/" {
			// "/var/cache/" means the directory; "/" alone stays the root
			// rather than becoming an empty pattern that matches nothing.
			p = strings.TrimSuffix(p, "/")
		}
		ps = append(ps, p)
	}
	return &Excluder{patterns: ps}, nil
}

// Excluded reports whether the absolute path is excluded.
func (e *Excluder) Excluded(path string) bool {
	if e == nil {
		return false
	}
	base := filepath.Base(path)
	for _, p := range e.patterns {
		target := base
		if strings.Contains(p, "/") {
			target = path
		}
		if ok, _ := filepath.Match(p, target); ok {
			return true
		}
	}
	return false
}

// ReadPatterns reads an exclude file: one pattern per line; blank lines
// and lines starting with '#' are skipped.
func ReadPatterns(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

// cacheDirSignature starts a valid CACHEDIR.TAG (bford.ch/cachedir).
var cacheDirSignature = []byte("Signature: 8a477f597d28d172789f06886806bc55")

// isCacheDir reports whether dir holds a valid CACHEDIR.TAG.
func isCacheDir(dir string) bool {
	f, err := fsmeta.OpenFile(filepath.Join(dir, "CACHEDIR.TAG"), os.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, len(cacheDirSignature))
	if _, err := io.ReadFull(f, buf); err != nil {
		return false
	}
	return bytes.Equal(buf, cacheDirSignature)
}
