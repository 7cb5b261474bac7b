// Package repair rebuilds what a damaged repository lost: the index,
// from the headers of the packs that are there, and snapshots, by
// dropping the files whose data is gone so that the rest stays
// restorable. Both need owner keys and the caller must hold the exclusive
// lock.
package repair

import (
	"context"
	"fmt"
	"sort"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/tree"
)

// IndexResult says what RebuildIndex did.
type IndexResult struct {
	Packs        int      `json:"packs"`
	Blobs        int      `json:"blobs"`
	Unreadable   []string `json:"unreadable_packs,omitempty"`
	IndexWritten int      `json:"index_objects_written"`
	IndexRemoved int      `json:"index_objects_removed"`
}

// RebuildIndex reads the header of every pack and writes a new index from
// them, then removes the old index objects. Packs whose header cannot be
// read are left alone and listed: their blobs are lost, and check then
// names the files affected.
func RebuildIndex(ctx context.Context, r *repo.Repository, logf func(string, ...any)) (IndexResult, error) {
	var res IndexResult
	if !r.CanReadData() {
		return res, fmt.Errorf("repair index reads pack headers and needs an owner credential: %w", crypto.ErrWriteOnly)
	}
	old, err := r.IndexFiles(ctx)
	if err != nil {
		return res, err
	}
	stored, err := r.StoredPacks(ctx)
	if err != nil && stored == nil {
		return res, err
	}
	ids := make([]blob.ID, 0, len(stored))
	for id := range stored {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	var packs []index.FilePack
	for _, id := range ids {
		hdr, size, err := r.PackHeader(ctx, id)
		if err != nil || len(hdr.Blobs) == 0 {
			if err == nil {
				err = fmt.Errorf("empty pack")
			}
			logf("data/%s: %v\n", id, err)
			res.Unreadable = append(res.Unreadable, id.String())
			continue
		}
		p := &index.Pack{ID: id, Type: hdr.Blobs[0].Type, Size: size, Frames: hdr.Frames}
		mixed := false
		for _, e := range hdr.Blobs {
			if e.Type != p.Type {
				mixed = true
			}
		}
		if mixed {
			logf("data/%s: holds both data and tree blobs\n", id)
			res.Unreadable = append(res.Unreadable, id.String())
			continue
		}
		packs = append(packs, index.NewFilePack(p, hdr.Blobs))
		res.Packs++
		res.Blobs += len(hdr.Blobs)
	}
	written, err := r.WriteIndex(ctx, packs)
	if err != nil {
		return res, fmt.Errorf("write the new index: %w (the old index is unchanged)", err)
	}
	res.IndexWritten = len(written)
	keep := map[string]bool{}
	for _, n := range written {
		keep[n] = true
	}
	for _, f := range old {
		if keep[f.Name] {
			continue
		}
		if err := r.Remove(ctx, backends.Handle{Type: backends.IndexFile, Name: f.Name}); err != nil {
			return res, err
		}
		res.IndexRemoved++
	}
	return res, nil
}

// SnapshotResult says what RepairSnapshots did.
type SnapshotResult struct {
	Checked  int `json:"snapshots_checked"`
	Repaired int `json:"snapshots_repaired"`
	// Dropped lists "snapshot <id>: <path>" for every file or directory
	// removed because its data is gone.
	Dropped []string `json:"dropped"`
}

// RepairSnapshots rewrites every snapshot that refers to blobs the index
// does not have: files with missing content are dropped, directories whose
// listing is missing become empty. A repaired snapshot keeps its time,
// host and paths, gains the tag "repaired", and replaces the original,
// which is removed after the new one is written. With dryRun nothing is
// written. Load the index before calling it.
func RepairSnapshots(ctx context.Context, r *repo.Repository, dryRun bool, logf func(string, ...any)) (SnapshotResult, error) {
	var res SnapshotResult
	if !r.CanReadData() {
		return res, fmt.Errorf("repair snapshots reads trees and needs an owner credential: %w", crypto.ErrWriteOnly)
	}
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		return res, fmt.Errorf("%w (repair cannot rewrite snapshots it cannot read; forget them by id)", err)
	}
	idx := r.Index()
	for _, sn := range snaps {
		res.Checked++
		var dropped []string
		fix := &fixer{r: r, idx: idx, dryRun: dryRun, drop: func(path, why string) {
			dropped = append(dropped, "snapshot "+sn.ID.Short()+": "+path+" ("+why+")")
		}}
		root, changed, err := fix.tree(ctx, sn.Tree, "/")
		if err != nil {
			return res, err
		}
		if !changed {
			continue
		}
		res.Repaired++
		res.Dropped = append(res.Dropped, dropped...)
		for _, d := range dropped {
			logf("%s\n", d)
		}
		if dryRun {
			continue
		}
		if err := r.Flush(ctx); err != nil {
			return res, err
		}
		repaired := *sn
		repaired.Tree = root
		repaired.Tags = append(append([]string(nil), sn.Tags...), "repaired")
		if _, err := r.SaveSnapshot(ctx, &repaired); err != nil {
			return res, err
		}
		if err := r.Remove(ctx, backends.Handle{Type: backends.SnapshotFile, Name: sn.ID.String()}); err != nil {
			return res, err
		}
	}
	return res, nil
}

type fixer struct {
	r      *repo.Repository
	idx    *index.Index
	dryRun bool
	drop   func(path, why string)
}

// tree returns the id of the repaired tree and whether anything changed.
func (f *fixer) tree(ctx context.Context, id blob.ID, dir string) (blob.ID, bool, error) {
	t, err := f.r.LoadTree(ctx, id)
	if err != nil {
		f.drop(dir, "directory listing lost: "+err.Error())
		return f.save(ctx, &tree.Tree{})
	}
	out := &tree.Tree{Nodes: make([]*tree.Node, 0, len(t.Nodes))}
	changed := false
	for _, n := range t.Nodes {
		path := dir + "/" + string(n.Name)
		if dir == "/" {
			path = "/" + string(n.Name)
		}
		switch {
		case n.Type == tree.Dir && n.Subtree != nil:
			sub, subChanged, err := f.tree(ctx, *n.Subtree, path)
			if err != nil {
				return blob.ID{}, false, err
			}
			if subChanged {
				c := *n
				c.Subtree = &sub
				n = &c
				changed = true
			}
		case n.Type == tree.File:
			missing := 0
			for _, b := range n.Content {
				if !f.idx.Has(b) {
					missing++
				}
			}
			if missing > 0 {
				f.drop(path, fmt.Sprintf("%d of %d blobs lost", missing, len(n.Content)))
				changed = true
				continue
			}
		}
		out.Nodes = append(out.Nodes, n)
	}
	if !changed {
		return id, false, nil
	}
	return f.save(ctx, out)
}

func (f *fixer) save(ctx context.Context, t *tree.Tree) (blob.ID, bool, error) {
	if f.dryRun {
		data, err := tree.Marshal(t)
		if err != nil {
			return blob.ID{}, false, err
		}
		return f.r.BlobID(data), true, nil
	}
	id, _, err := f.r.SaveTree(ctx, t)
	return id, true, err
}
