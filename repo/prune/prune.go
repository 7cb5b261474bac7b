// Package prune frees the space of blobs no snapshot uses: it deletes
// packs that hold nothing used, repacks partly used packs when the unused
// space is above a threshold, and rewrites the index. It needs owner keys
// (it reads every tree) and the caller must hold the exclusive lock.
//
// Order of writes, so that a crash at any point loses nothing: new packs
// first, then the new index, then the old index objects are deleted, then
// the old packs.
package prune

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/tree"
)

// Options tune what prune does.
type Options struct {
	// MaxUnused is the share of the repository size that may stay unused
	// in partly used packs (default 0.05). 0 repacks every partly used
	// pack.
	MaxUnused float64
	// MaxRepackBytes limits how many bytes of packs are repacked in one
	// run; 0 means no limit.
	MaxRepackBytes int64
	// DryRun computes the plan without changing anything.
	DryRun bool
	// Log receives progress messages; may be nil.
	Log func(format string, args ...any)
	// Progress, when set, is told about the packs repacked and deleted.
	Progress Progress
}

// Progress is told what prune has done, in packs and their bytes. Its
// methods are called from the goroutine running Run and must not block.
type Progress interface {
	// SetTotal gives the packs to repack or delete and their size, once
	// the plan is made.
	SetTotal(packs, bytes uint64)
	// AddFiles counts packs repacked or deleted.
	AddFiles(n uint64)
	// AddBytes counts the size of those packs.
	AddBytes(n uint64)
	// Current names the pack being repacked or deleted ("data/<id>").
	Current(name string)
}

type noProgress struct{}

func (noProgress) SetTotal(uint64, uint64) {}
func (noProgress) AddFiles(uint64)         {}
func (noProgress) AddBytes(uint64)         {}
func (noProgress) Current(string)          {}

// Plan says what prune did, or would do with DryRun.
type Plan struct {
	Snapshots      int   `json:"snapshots"`
	Packs          int   `json:"packs"`
	TotalBytes     int64 `json:"total_bytes"`
	UsedBlobs      int   `json:"used_blobs"`
	UnusedBlobs    int   `json:"unused_blobs"`
	DeletePacks    int   `json:"delete_packs"`
	DeleteBytes    int64 `json:"delete_bytes"`
	RepackPacks    int   `json:"repack_packs"`
	RepackBytes    int64 `json:"repack_bytes"`
	RepackedBlobs  int   `json:"repacked_blobs"`
	UnindexedPacks int   `json:"unindexed_packs"`
	UnindexedBytes int64 `json:"unindexed_bytes"`
	// UnusedAfter estimates the unused bytes left in kept packs.
	UnusedAfter int64 `json:"unused_after"`
	// Freed is the estimated space freed: deleted and repacked packs less
	// the size of the new packs.
	Freed        int64 `json:"freed"`
	IndexObjects int   `json:"index_objects_rewritten"`
	// Retained counts objects the store refused to delete because they
	// are under retention (S3 Object Lock); a later prune removes them.
	Retained      int   `json:"retained_objects"`
	NewPackBytes  int64 `json:"new_pack_bytes"`
	DroppedMissed int   `json:"missing_unused_packs_dropped"`
}

// ErrUnsafe is wrapped by errors that stop prune before it changes
// anything because it cannot know which blobs are used.
var ErrUnsafe = errors.New("prune cannot continue safely")

type packInfo struct {
	fp         index.FilePack
	size       int64
	usedBlobs  int
	usedRaw    int64
	totalRaw   int64
	stored     bool
	deleteIt   bool
	repackIt   bool
	unusedSize int64 // estimated share of size that is unused
}

// Run prunes the repository.
func Run(ctx context.Context, r *repo.Repository, opts Options) (Plan, error) {
	var plan Plan
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if !r.CanReadData() {
		return plan, fmt.Errorf("prune reads every tree and needs an owner credential: %w", crypto.ErrWriteOnly)
	}
	files, err := r.IndexFiles(ctx)
	if err != nil {
		return plan, err
	}
	idx := r.Index()
	packs := map[blob.ID]*packInfo{}
	var oldIndex []string
	packsOf := map[string][]blob.ID{} // index object → the packs it lists
	for _, f := range files {
		if f.Err != nil {
			return plan, fmt.Errorf("%w: %v (run godwit repair index)", ErrUnsafe, f.Err)
		}
		oldIndex = append(oldIndex, f.Name)
		if err := idx.AddFile(f.File); err != nil {
			return plan, fmt.Errorf("%w: index/%s: %v", ErrUnsafe, f.Name, err)
		}
		for _, fp := range f.File.Packs {
			packsOf[f.Name] = append(packsOf[f.Name], fp.ID)
			if _, ok := packs[fp.ID]; !ok {
				packs[fp.ID] = &packInfo{fp: fp, size: fp.Size}
			}
		}
	}

	snaps, err := r.Snapshots(ctx)
	if err != nil {
		return plan, fmt.Errorf("%w: %v", ErrUnsafe, err)
	}
	plan.Snapshots = len(snaps)
	logf("finding the blobs %d snapshots use\n", len(snaps))
	used := map[blob.ID]bool{}
	seen := map[blob.ID]bool{}
	for _, sn := range snaps {
		used[sn.Tree] = true
		if sn.Manifest != nil {
			used[*sn.Manifest] = true
		}
		err := r.WalkTree(ctx, sn.Tree, "/", seen, func(path string, n *tree.Node) error {
			if n.Subtree != nil {
				used[*n.Subtree] = true
			}
			for _, c := range n.Content {
				used[c] = true
			}
			return nil
		}, func(path string, err error) error {
			return fmt.Errorf("%w: snapshot %s, directory %s: %v (run godwit check)", ErrUnsafe, sn.ID.Short(), path, err)
		})
		if err != nil {
			return plan, err
		}
	}
	for id := range used {
		if !idx.Has(id) {
			return plan, fmt.Errorf("%w: blob %s is used by a snapshot but not in the index (run godwit check)", ErrUnsafe, id)
		}
	}

	stored, err := r.StoredPacks(ctx)
	if err != nil && stored == nil {
		return plan, err
	}
	var unindexed []blob.ID
	for id, size := range stored {
		if p, ok := packs[id]; ok {
			p.stored = true
			p.size = size
		} else {
			unindexed = append(unindexed, id)
			plan.UnindexedPacks++
			plan.UnindexedBytes += size
		}
	}

	// Count used and unused blobs per pack. A blob indexed in several
	// packs is used only where the index looks it up.
	var candidates []*packInfo
	for id, p := range packs {
		for _, b := range p.fp.Blobs {
			p.totalRaw += int64(b.Length)
			loc, _ := idx.Lookup(b.ID)
			if used[b.ID] && loc.Pack != nil && loc.Pack.ID == id {
				p.usedBlobs++
				p.usedRaw += int64(b.Length)
			}
		}
		plan.Packs++
		plan.TotalBytes += p.size
		plan.UsedBlobs += p.usedBlobs
		plan.UnusedBlobs += len(p.fp.Blobs) - p.usedBlobs
		switch {
		case !p.stored && p.usedBlobs > 0:
			return plan, fmt.Errorf("%w: pack %s is missing but holds blobs snapshots use (run godwit check)", ErrUnsafe, id)
		case !p.stored:
			p.deleteIt = true
			plan.DroppedMissed++
		case p.usedBlobs == 0:
			p.deleteIt = true
			plan.DeletePacks++
			plan.DeleteBytes += p.size
		case p.usedRaw < p.totalRaw:
			p.unusedSize = p.size * (p.totalRaw - p.usedRaw) / max(p.totalRaw, 1)
			candidates = append(candidates, p)
		}
	}

	// Repack the emptiest packs first until the unused space left is
	// within the limit.
	maxUnused := opts.MaxUnused
	if maxUnused < 0 {
		maxUnused = 0
	}
	var unused int64
	for _, p := range candidates {
		unused += p.unusedSize
	}
	limit := int64(maxUnused * float64(plan.TotalBytes-plan.DeleteBytes))
	sort.Slice(candidates, func(i, j int) bool {
		fi := float64(candidates[i].unusedSize) / float64(max(candidates[i].size, 1))
		fj := float64(candidates[j].unusedSize) / float64(max(candidates[j].size, 1))
		if fi != fj {
			return fi > fj
		}
		return candidates[i].fp.ID.String() < candidates[j].fp.ID.String()
	})
	for _, p := range candidates {
		if unused <= limit {
			break
		}
		if opts.MaxRepackBytes > 0 && plan.RepackBytes+p.size > opts.MaxRepackBytes {
			continue
		}
		p.repackIt = true
		plan.RepackPacks++
		plan.RepackBytes += p.size
		unused -= p.unusedSize
	}
	plan.UnusedAfter = unused
	plan.Freed = plan.DeleteBytes + plan.UnindexedBytes + plan.RepackBytes
	if opts.DryRun {
		// Repacked packs are rewritten with their used part.
		for _, p := range packs {
			if p.repackIt {
				plan.Freed -= p.size - p.unusedSize
			}
		}
		return plan, nil
	}

	progress := opts.Progress
	if progress == nil {
		progress = noProgress{}
	}
	progress.SetTotal(uint64(plan.RepackPacks+plan.DeletePacks+plan.UnindexedPacks),
		uint64(plan.RepackBytes+plan.DeleteBytes+plan.UnindexedBytes))
	packDone := func(size int64) {
		progress.AddFiles(1)
		progress.AddBytes(uint64(size))
	}

	// Repack: copy the used blobs of the chosen packs into new packs.
	r.BeginRepack()
	for _, id := range sortedPackIDs(packs) {
		p := packs[id]
		if !p.repackIt {
			continue
		}
		logf("repacking pack %s\n", id.Short())
		progress.Current("data/" + id.String())
		sealed, err := r.LoadPack(ctx, id)
		if err != nil {
			return plan, fmt.Errorf("repack: %w (nothing was deleted)", err)
		}
		var blobErr error
		_, err = r.ReadPackBlobs(id, sealed, func(b repo.PackBlob) {
			loc, _ := idx.Lookup(b.Entry.ID)
			if !used[b.Entry.ID] || loc.Pack == nil || loc.Pack.ID != id || blobErr != nil {
				return
			}
			if b.Err != nil {
				blobErr = b.Err
				return
			}
			if err := r.RepackBlob(ctx, b.Entry.Type, b.Entry.ID, b.Data); err != nil {
				blobErr = err
				return
			}
			plan.RepackedBlobs++
		})
		if err == nil {
			err = blobErr
		}
		if err != nil {
			return plan, fmt.Errorf("repack pack %s: %w (nothing was deleted; run godwit check --read-data)", id.Short(), err)
		}
		packDone(p.size)
	}
	newPacks, err := r.FlushPacks(ctx)
	if err != nil {
		return plan, fmt.Errorf("repack: %w (nothing was deleted)", err)
	}
	for _, fp := range newPacks {
		plan.NewPackBytes += fp.Size
	}
	plan.Freed -= plan.NewPackBytes

	if plan.DeletePacks == 0 && plan.RepackPacks == 0 && plan.DroppedMissed == 0 {
		// The index stays as it is: only unindexed packs go.
		oldIndex = nil
	}
	// The new index: every kept pack, and the new ones.
	var keep []index.FilePack
	for _, id := range sortedPackIDs(packs) {
		p := packs[id]
		if !p.deleteIt && !p.repackIt {
			keep = append(keep, p.fp)
		}
	}
	keep = append(keep, newPacks...)
	var written []string
	if oldIndex != nil {
		written, err = r.WriteIndex(ctx, keep)
		if err != nil {
			return plan, fmt.Errorf("write the new index: %w (nothing was deleted)", err)
		}
		plan.IndexObjects = len(written)
	}
	isNew := map[string]bool{}
	for _, n := range written {
		isNew[n] = true
	}
	// A pack listed by an index object the store keeps must stay too, or
	// that index would name a missing pack.
	pinned := map[blob.ID]bool{}
	for _, name := range oldIndex {
		if isNew[name] {
			continue
		}
		if err := r.Remove(ctx, backends.Handle{Type: backends.IndexFile, Name: name}); err != nil {
			if errors.Is(err, backends.ErrRetained) {
				plan.Retained++
				logf("keeping %v\n", err)
				for _, id := range packsOf[name] {
					pinned[id] = true
				}
				continue
			}
			return plan, err
		}
	}
	var remove []blob.ID
	for _, id := range sortedPackIDs(packs) {
		p := packs[id]
		if p.stored && (p.deleteIt || p.repackIt) {
			remove = append(remove, id)
		}
	}
	remove = append(remove, unindexed...)
	logf("deleting %d packs\n", len(remove))
	for _, id := range remove {
		if p := packs[id]; p == nil {
			progress.Current("data/" + id.String())
			packDone(stored[id])
		} else if !p.repackIt { // repacked packs were counted already
			progress.Current("data/" + id.String())
			packDone(p.size)
		}
		if pinned[id] {
			plan.Retained++
			continue
		}
		if err := r.Remove(ctx, backends.Handle{Type: backends.PackFile, Name: id.String()}); err != nil {
			if errors.Is(err, backends.ErrRetained) {
				plan.Retained++
				logf("keeping %v\n", err)
				continue
			}
			return plan, err
		}
	}
	return plan, nil
}

func sortedPackIDs(m map[blob.ID]*packInfo) []blob.ID {
	ids := make([]blob.ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	return ids
}
