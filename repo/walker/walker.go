package walker

import (
	"context"
	"errors"

	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/tree"
)

// TreeLoader loads and decodes one tree blob. *repo.Repository implements
// it. The walker calls it from one goroutine at a time and does not
// modify the trees it returns.
type TreeLoader interface {
	LoadTree(ctx context.Context, id blob.ID) (*tree.Tree, error)
}

// Locator says where a blob is stored. *index.Index implements it.
type Locator interface {
	Lookup(id blob.ID) (index.Location, bool)
}

// joinPath appends a name to a slash-separated directory path.
func joinPath(dir string, name tree.RawString) string {
	if dir == "/" || dir == "" {
		return "/" + string(name)
	}
	return dir + "/" + string(name)
}

// walk calls fn for every node below the tree id, depth first in name
// order, and stops at the first error.
func walk(ctx context.Context, trees TreeLoader, id blob.ID, dir string, fn func(path string, n *tree.Node) error) error {
	t, err := trees.LoadTree(ctx, id)
	if err != nil {
		return treeError(dir, err)
	}
	for _, n := range t.Nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := joinPath(dir, n.Name)
		if err := fn(p, n); err != nil {
			return err
		}
		if n.Type == tree.Dir && n.Subtree != nil {
			if err := walk(ctx, trees, *n.Subtree, p, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// treeError names the directory whose tree could not be loaded, unless
// the error already names one from further down.
func treeError(dir string, err error) error {
	var te *TreeError
	if errors.As(err, &te) {
		return err
	}
	return &TreeError{Path: dir, Err: err}
}

// TreeError reports a directory whose tree could not be loaded.
type TreeError struct {
	Path string
	Err  error
}

func (e *TreeError) Error() string { return "load tree of " + e.Path + ": " + e.Err.Error() }

func (e *TreeError) Unwrap() error { return e.Err }
