package walker

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/tree"
)

// Matcher matches paths against shell glob patterns (path.Match syntax).
// A pattern without a slash matches the base name of an entry at any
// depth; a pattern with a slash matches the whole path from the snapshot
// root, e.g. "/etc/postfix/*.cf". A path matches when any pattern does.
// A Matcher is safe for concurrent use.
type Matcher struct {
	patterns []string
	fold     bool
	fullPath bool // some pattern contains a slash
}

// NewMatcher checks the patterns; ignoreCase makes them match without
// regard to case (Unicode simple folding, after lower-casing both sides).
func NewMatcher(patterns []string, ignoreCase bool) (*Matcher, error) {
	if len(patterns) == 0 {
		return nil, fmt.Errorf("no pattern given")
	}
	m := &Matcher{fold: ignoreCase}
	for _, p := range patterns {
		if p == "" {
			return nil, fmt.Errorf("empty pattern")
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p, err)
		}
		if strings.Contains(p, "/") {
			m.fullPath = true
			if p != "/" {
				p = strings.TrimSuffix(p, "/")
			}
		}
		if ignoreCase {
			p = strings.ToLower(p)
		}
		m.patterns = append(m.patterns, p)
	}
	return m, nil
}

// Match reports whether the entry at the slash-separated path p matches.
func (m *Matcher) Match(p string) bool {
	if m.fold {
		p = strings.ToLower(p)
	}
	base := path.Base(p)
	for _, pat := range m.patterns {
		target := base
		if strings.Contains(pat, "/") {
			target = p
		}
		if ok, _ := path.Match(pat, target); ok {
			return true
		}
	}
	return false
}

// Match is one entry found by a Finder.
type Match struct {
	Path string
	Node *tree.Node
}

// Finder searches snapshots for entries whose path matches. It remembers,
// for every subtree it has searched, the matches below it, so a subtree
// that another snapshot shares (same tree id) is not loaded again; each
// snapshot still reports all of its own matches. The memory kept is one
// small entry per directory searched plus the matching nodes and the
// directories above them.
//
// A Finder is not safe for concurrent use.
type Finder struct {
	trees TreeLoader
	match *Matcher
	keep  func(*tree.Node) bool
	// memo maps a subtree (and, with full-path patterns, the directory
	// it was found at) to its matches; nil means none.
	memo map[memoKey]*found
}

type memoKey struct {
	id  blob.ID
	dir string
}

// found is the part of a subtree that holds matches, in name order.
type found struct {
	hits []hit
}

type hit struct {
	node *tree.Node
	self bool   // node itself matches
	sub  *found // matches below node, when it is a directory
}

// NewFinder returns a Finder that reports the entries m matches and keep
// accepts (keep may be nil to accept all, e.g. to filter by mtime).
func NewFinder(trees TreeLoader, m *Matcher, keep func(*tree.Node) bool) *Finder {
	return &Finder{trees: trees, match: m, keep: keep, memo: map[memoKey]*found{}}
}

// Find calls fn for every matching entry below the root tree, depth first
// in name order, with paths starting at "/". It stops at the first error
// from fn or from loading a tree and returns it.
func (f *Finder) Find(ctx context.Context, root blob.ID, fn func(Match) error) error {
	res, err := f.search(ctx, root, "/")
	if err != nil {
		return err
	}
	return emitFound(res, "/", fn)
}

func (f *Finder) search(ctx context.Context, id blob.ID, dir string) (*found, error) {
	key := memoKey{id: id}
	if f.match.fullPath {
		key.dir = dir
	}
	if res, ok := f.memo[key]; ok {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := f.trees.LoadTree(ctx, id)
	if err != nil {
		return nil, treeError(dir, err)
	}
	var hits []hit
	for _, n := range t.Nodes {
		p := joinPath(dir, n.Name)
		h := hit{node: n, self: f.match.Match(p) && (f.keep == nil || f.keep(n))}
		if n.Type == tree.Dir && n.Subtree != nil {
			if h.sub, err = f.search(ctx, *n.Subtree, p); err != nil {
				return nil, err
			}
		}
		if h.self || h.sub != nil {
			hits = append(hits, h)
		}
	}
	var res *found
	if len(hits) > 0 {
		res = &found{hits: hits}
	}
	f.memo[key] = res
	return res, nil
}

func emitFound(res *found, dir string, fn func(Match) error) error {
	if res == nil {
		return nil
	}
	for _, h := range res.hits {
		p := joinPath(dir, h.node.Name)
		if h.self {
			if err := fn(Match{Path: p, Node: h.node}); err != nil {
				return err
			}
		}
		if err := emitFound(h.sub, p, fn); err != nil {
			return err
		}
	}
	return nil
}
