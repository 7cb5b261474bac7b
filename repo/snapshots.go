package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/snapshot"
	"github.com/godwit-backup/godwit/repo/tree"
)

// SaveSnapshot writes a snapshot object. Call Flush first: the snapshot
// must only be written after the packs and index it needs.
func (r *Repository) SaveSnapshot(ctx context.Context, sn *snapshot.Snapshot) (blob.ID, error) {
	plain, err := sn.Marshal()
	if err != nil {
		return blob.ID{}, err
	}
	id, err := r.saveMeta(ctx, backends.SnapshotFile, plain)
	if err != nil {
		return id, err
	}
	sn.ID = id
	return id, nil
}

// LoadSnapshot reads one snapshot object by its full name.
func (r *Repository) LoadSnapshot(ctx context.Context, name string) (*snapshot.Snapshot, error) {
	plain, err := r.loadMeta(ctx, backends.SnapshotFile, name)
	if err != nil {
		return nil, err
	}
	sn, err := snapshot.Unmarshal(plain)
	if err != nil {
		return nil, fmt.Errorf("snapshots/%s: %w", name, err)
	}
	sn.ID, _ = blob.ParseID(name)
	return sn, nil
}

// Snapshots returns every readable snapshot, oldest first. Snapshots that
// cannot be read are reported in the error, after the others.
func (r *Repository) Snapshots(ctx context.Context) ([]*snapshot.Snapshot, error) {
	names, err := r.listNames(ctx, backends.SnapshotFile)
	if err != nil {
		return nil, err
	}
	var (
		list []*snapshot.Snapshot
		errs []error
	)
	for _, name := range names {
		sn, err := r.LoadSnapshot(ctx, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		list = append(list, sn)
	}
	snapshot.SortByTime(list)
	return list, errors.Join(errs...)
}

// ErrSnapshotNotFound is returned when no snapshot matches a reference.
var ErrSnapshotNotFound = errors.New("no matching snapshot")

// FindSnapshot resolves a reference: "latest" (the newest snapshot that
// passes the filter) or a unique prefix of a snapshot id.
func (r *Repository) FindSnapshot(ctx context.Context, ref string, f snapshot.Filter) (*snapshot.Snapshot, error) {
	if ref == "latest" {
		list, err := r.Snapshots(ctx)
		if err != nil && len(list) == 0 {
			return nil, err
		}
		for i := len(list) - 1; i >= 0; i-- {
			if f.Match(list[i]) {
				return list[i], nil
			}
		}
		return nil, fmt.Errorf("latest: %w", ErrSnapshotNotFound)
	}
	names, err := r.listNames(ctx, backends.SnapshotFile)
	if err != nil {
		return nil, err
	}
	name, err := uniquePrefix("snapshot", strings.ToLower(ref), names)
	if errors.Is(err, errNotFound) {
		return nil, fmt.Errorf("snapshot %q: %w", ref, ErrSnapshotNotFound)
	}
	if err != nil {
		return nil, err
	}
	return r.LoadSnapshot(ctx, name)
}

// SaveTree encodes and stores a tree blob.
func (r *Repository) SaveTree(ctx context.Context, t *tree.Tree) (blob.ID, bool, error) {
	data, err := tree.Marshal(t)
	if err != nil {
		return blob.ID{}, false, err
	}
	return r.SaveBlob(ctx, blob.TreeBlob, data)
}

// LoadTree loads and decodes a tree blob. Needs owner keys.
func (r *Repository) LoadTree(ctx context.Context, id blob.ID) (*tree.Tree, error) {
	data, err := r.LoadBlob(ctx, blob.TreeBlob, id)
	if err != nil {
		return nil, err
	}
	t, err := tree.Unmarshal(data)
	if err != nil {
		return nil, &BlobError{Blob: id, Err: err}
	}
	return t, nil
}

// FindNode walks from the root tree along the slash-separated path and
// returns the node there; the path "/" returns a synthetic directory node
// for the root tree.
func (r *Repository) FindNode(ctx context.Context, root blob.ID, path string) (*tree.Node, error) {
	node := &tree.Node{Name: "/", Type: tree.Dir, Subtree: &root}
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		if part == "" || part == "." {
			continue
		}
		if node.Type != tree.Dir || node.Subtree == nil {
			return nil, fmt.Errorf("%s: not a directory", path)
		}
		t, err := r.LoadTree(ctx, *node.Subtree)
		if err != nil {
			return nil, err
		}
		next := t.Find(part)
		if next == nil {
			return nil, fmt.Errorf("%s: no such file or directory in the snapshot", path)
		}
		node = next
	}
	return node, nil
}

// LoadMetaObject decrypts and authenticates the metadata object of type t
// (index, snapshots or locks) whose name starts with prefix.
func (r *Repository) LoadMetaObject(ctx context.Context, t backends.FileType, prefix string) (string, []byte, error) {
	names, err := r.listNames(ctx, t)
	if err != nil {
		return "", nil, err
	}
	name, err := uniquePrefix(string(t), prefix, names)
	if err != nil {
		return "", nil, err
	}
	plain, err := r.loadMeta(ctx, t, name)
	return name, plain, err
}

// ResolvePack expands a unique prefix of a pack id.
func (r *Repository) ResolvePack(ctx context.Context, prefix string) (blob.ID, error) {
	if id, err := blob.ParseID(prefix); err == nil {
		return id, nil
	}
	names, err := r.listNames(ctx, backends.PackFile)
	if err != nil {
		return blob.ID{}, err
	}
	name, err := uniquePrefix("pack", prefix, names)
	if err != nil {
		return blob.ID{}, err
	}
	return blob.ParseID(name)
}
