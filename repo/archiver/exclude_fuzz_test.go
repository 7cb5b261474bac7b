package archiver

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzExcluder checks that no exclude file or path makes ReadPatterns,
// NewExcluder or Excluded panic, and that a plain base-name pattern (no
// glob characters, no slash) excludes a file of that name.
func FuzzExcluder(f *testing.F) {
	seeds := []struct {
		file, path string
	}{
		{"*.tmp\ndovecot.index*\n/var/cache/*\n/home/*/.cache/\n", "/home/alice/.cache"},
		{"# comment\n\n  /var/mail/*.lock  \n", "/var/mail/alice.lock"},
		{"[a-\n", "/x"},
		{"!keep\n", "/keep"},
		{"lost+found\n/proc\n/sys\n", "/srv/lost+found"},
		{"\\*\n", "/a/*"},
	}
	for _, s := range seeds {
		f.Add([]byte(s.file), s.path)
	}
	f.Fuzz(func(t *testing.T, file []byte, path string) {
		patterns, err := ReadPatterns(bytes.NewReader(file))
		if err != nil {
			return
		}
		ex, err := NewExcluder(patterns)
		if err != nil {
			return
		}
		_ = ex.Excluded(path)
		for _, p := range ex.patterns {
			if strings.ContainsAny(p, "*?[\\/") {
				continue
			}
			if name := "/srv/" + p; !ex.Excluded(name) {
				t.Fatalf("pattern %q does not exclude %q", p, name)
			}
		}
	})
}
