package restorer

import (
	"strings"
	"testing"
)

// FuzzMatcher checks that no patterns or paths make NewMatcher or Selected
// panic, and that an exclude pattern matching a path always deselects it.
// Patterns are given one per line.
func FuzzMatcher(f *testing.F) {
	seeds := []struct {
		include, exclude, path, root string
		isDir                        bool
	}{
		{"", "", "/etc/passwd", "/", false},
		{"", "*.lock", "/var/mail/alice.lock", "/", false},
		{"", "/var/cache/", "/var/cache", "/", true},
		{"/home/alice/Maildir", "", "/home/alice", "/", true},
		{"/home/alice/Maildir", "", "/home/alice/Maildir/cur/1", "/", false},
		{"/etc/postfix/*.cf\nMaildir", "*.bak", "/etc/postfix/main.cf", "/etc", false},
		{"/home/*/Maildir/[nc]*", "dovecot.index*", "/home/bob/Maildir/new", "/home/bob", true},
		{"[", "", "/x", "/", false},
		{"/", "\\*", "/a/*", "/a", false},
	}
	for _, s := range seeds {
		f.Add(s.include, s.exclude, s.path, s.root, s.isDir)
	}
	f.Fuzz(func(t *testing.T, include, exclude, path, root string, isDir bool) {
		m, err := NewMatcher(strings.Split(include, "\n"), strings.Split(exclude, "\n"))
		if err != nil {
			return
		}
		got := m.Selected(path, root, isDir)
		if got {
			for _, p := range m.exclude {
				if matchOne(p, path) {
					t.Fatalf("path %q selected although exclude pattern %q matches it", path, p)
				}
			}
		}
		if len(m.include) == 0 && len(m.exclude) == 0 && !got {
			t.Fatalf("a matcher without patterns deselected %q", path)
		}
	})
}
