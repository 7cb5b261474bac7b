package walker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/tree"
)

// memTrees is an in-memory TreeLoader that counts loads per tree.
type memTrees struct {
	trees map[blob.ID]*tree.Tree
	loads map[blob.ID]int
}

func newMemTrees() *memTrees {
	return &memTrees{trees: map[blob.ID]*tree.Tree{}, loads: map[blob.ID]int{}}
}

func (m *memTrees) LoadTree(_ context.Context, id blob.ID) (*tree.Tree, error) {
	m.loads[id]++
	t, ok := m.trees[id]
	if !ok {
		return nil, fmt.Errorf("tree %s not found", id.Short())
	}
	return t, nil
}

func (m *memTrees) totalLoads() int {
	n := 0
	for _, c := range m.loads {
		n += c
	}
	return n
}

// dir stores a tree of the nodes and returns a directory node for it.
func (m *memTrees) dir(t testing.TB, name string, nodes ...*tree.Node) *tree.Node {
	t.Helper()
	id := m.save(t, nodes...)
	return &tree.Node{Name: tree.RawString(name), Type: tree.Dir, Mode: 0o755, MTime: epoch, Subtree: &id}
}

// save stores a tree of the nodes and returns its id.
func (m *memTrees) save(t testing.TB, nodes ...*tree.Node) blob.ID {
	t.Helper()
	tr := &tree.Tree{}
	for _, n := range nodes {
		if err := tr.Insert(n); err != nil {
			t.Fatal(err)
		}
	}
	data, err := tree.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	id := blob.Hash(data)
	m.trees[id] = tr
	return id
}

// root returns the synthetic root node repo.FindNode gives for "/".
func root(id blob.ID) *tree.Node {
	return &tree.Node{Name: "/", Type: tree.Dir, Subtree: &id}
}

var epoch = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// file returns a regular file whose content is one blob per part.
func file(name string, parts ...string) *tree.Node {
	n := &tree.Node{Name: tree.RawString(name), Type: tree.File, Mode: 0o644, MTime: epoch, Links: 1}
	for _, p := range parts {
		n.Content = append(n.Content, blob.Hash([]byte(p)))
		n.Size += uint64(len(p))
	}
	return n
}

func symlink(name, target string) *tree.Node {
	return &tree.Node{Name: tree.RawString(name), Type: tree.Symlink, Mode: 0o777, MTime: epoch, LinkTarget: tree.RawString(target)}
}

// with returns a copy of n changed by fn.
func with(n *tree.Node, fn func(*tree.Node)) *tree.Node {
	c := *n
	fn(&c)
	return &c
}

// locator is a Locator over blobs whose ids are blob.Hash of their
// content, each in a frame of its own that compresses to half its size.
type locator map[blob.ID]index.Location

func newLocator(parts ...string) locator {
	l := locator{}
	for _, p := range parts {
		n := uint32(len(p))
		loc := index.Location{Type: blob.DataBlob, Length: n}
		loc.Frame.Length, loc.Frame.RawLength = n/2, n
		l[blob.Hash([]byte(p))] = loc
	}
	return l
}

func (l locator) Lookup(id blob.ID) (index.Location, bool) {
	loc, ok := l[id]
	return loc, ok
}
