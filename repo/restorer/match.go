package restorer

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Matcher selects the paths of a snapshot to restore. Patterns are shell
// globs (filepath.Match). A pattern without a slash matches a base name at
// any depth; a pattern with a slash matches the whole path from the
// snapshot root, e.g. "/home/alice/Maildir" or "/etc/postfix/*.cf".
// A path is restored when it, or a directory above it, matches an include
// pattern (or there are none), and neither it nor a directory above it
// matches an exclude pattern. Directories on the way to an included path
// are restored too.
type Matcher struct {
	include, exclude []string
}

// NewMatcher checks the patterns.
func NewMatcher(include, exclude []string) (*Matcher, error) {
	check := func(ps []string) ([]string, error) {
		var out []string
		for _, p := range ps {
			if p == "" {
				continue
			}
			if _, err := filepath.Match(p, ""); err != nil {
				return nil, fmt.Errorf("pattern %q: %w", p, err)
			}
			if p != "/" {
				p = strings.TrimSuffix(p, "/")
			}
			out = append(out, p)
		}
		return out, nil
	}
	in, err := check(include)
	if err != nil {
		return nil, err
	}
	ex, err := check(exclude)
	if err != nil {
		return nil, err
	}
	return &Matcher{include: in, exclude: ex}, nil
}

func matchOne(p, path string) bool {
	target := path
	if !strings.Contains(p, "/") {
		target = filepath.Base(path)
	}
	ok, _ := filepath.Match(p, target)
	return ok
}

// matchSelfOrParent reports whether path or one of its parents up to and
// including root matches p.
func matchSelfOrParent(p, path, root string) bool {
	for q := path; q != "/" && q != "."; q = filepath.Dir(q) {
		if matchOne(p, q) {
			return true
		}
		if q == root {
			break
		}
	}
	return false
}

// leadsTo reports whether dir is a directory above something p can match.
func leadsTo(p, dir string) bool {
	if !strings.Contains(p, "/") {
		return true // a base-name pattern can match at any depth
	}
	pc := strings.Split(strings.Trim(p, "/"), "/")
	dc := strings.Split(strings.Trim(dir, "/"), "/")
	if len(dc) >= len(pc) {
		return false
	}
	for i, c := range dc {
		if ok, _ := filepath.Match(pc[i], c); !ok {
			return false
		}
	}
	return true
}

// Selected reports whether the entry at path is restored (or, for a
// directory, may hold entries that are). root is the path the restore
// started from: directories above it do not count as parents. Callers walk
// from the root down and do not ask about entries below an unselected
// directory.
func (m *Matcher) Selected(path, root string, isDir bool) bool {
	for _, p := range m.exclude {
		if matchOne(p, path) {
			return false
		}
	}
	if len(m.include) == 0 {
		return true
	}
	for _, p := range m.include {
		if matchSelfOrParent(p, path, root) || (isDir && leadsTo(p, path)) {
			return true
		}
	}
	return false
}
