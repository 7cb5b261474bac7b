// Package check verifies a repository: that every snapshot's trees and
// blobs are indexed, that every indexed pack exists with the size the
// index records, that no pack is unindexed, and optionally that every
// pack's content is intact. Each problem names the object and, where it
// can, the snapshots and files it affects. With a write key it checks
// what it can see: pack presence, sizes and ciphertext hashes.
package check

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/snapshot"
	"github.com/godwit-backup/godwit/repo/tree"
)

// Subset selects the packs whose content is read.
type Subset struct {
	// Part and Of select the packs whose id, taken as a number, is
	// Part-1 modulo Of: 1/30 ... 30/30 cover every pack once.
	Part, Of int
	// Percent selects about this share of packs, chosen by id and Seed.
	Percent float64
	Seed    uint64
}

// ParseSubset parses "N/M" or "P%".
func ParseSubset(s string) (Subset, error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v <= 0 || v > 100 {
			return Subset{}, fmt.Errorf("subset %q: want a percentage in (0, 100]", s)
		}
		return Subset{Percent: v}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	n, err1 := strconv.Atoi(a)
	m, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || m < 1 || n < 1 || n > m {
		return Subset{}, fmt.Errorf("subset %q: want N/M with 1 <= N <= M, or P%%", s)
	}
	return Subset{Part: n, Of: m}, nil
}

// Contains reports whether the pack is in the subset.
func (s Subset) Contains(id blob.ID) bool {
	v := uint64(id[0])<<56 | uint64(id[1])<<48 | uint64(id[2])<<40 | uint64(id[3])<<32 |
		uint64(id[4])<<24 | uint64(id[5])<<16 | uint64(id[6])<<8 | uint64(id[7])
	switch {
	case s.Of > 0:
		return int(v%uint64(s.Of)) == s.Part-1
	case s.Percent > 0:
		x := (v ^ s.Seed) * 0x9e3779b97f4a7c15
		return float64(x>>11)/float64(1<<53)*100 < s.Percent
	}
	return true
}

// Options selects what is checked.
type Options struct {
	// ReadData downloads packs and verifies them: the ciphertext hash
	// always, and with owner keys every blob against its id and the pack
	// header against the index.
	ReadData bool
	// Subset limits ReadData to some packs; nil reads all.
	Subset *Subset
	// Progress, when set, is told about the packs read with ReadData.
	Progress Progress
}

// Progress is told what check has read, in packs and their bytes. Its
// methods are called from the goroutine running Check and must not block.
type Progress interface {
	// SetTotal gives the packs ReadData will read and their size.
	SetTotal(packs, bytes uint64)
	// AddFiles counts packs read.
	AddFiles(n uint64)
	// AddBytes counts the size of those packs.
	AddBytes(n uint64)
	// Current names the pack being read ("data/<id>").
	Current(name string)
}

// Problem is one thing found wrong.
type Problem struct {
	// Object names what is wrong: "data/<id>", "index/<id>",
	// "snapshots/<id>", or "blob <id>".
	Object string `json:"object"`
	What   string `json:"what"`
	// Affected lists "snapshot <short id>: <path>" entries, when known.
	Affected []string `json:"affected,omitempty"`
	// Severe problems lose data; the others (an unindexed pack left by an
	// interrupted backup) only waste space.
	Severe bool `json:"severe"`
}

// Summary counts what was checked.
type Summary struct {
	Snapshots int `json:"snapshots"`
	Packs     int `json:"packs"`
	Blobs     int `json:"blobs"`
	PacksRead int `json:"packs_read"`
	Problems  int `json:"problems"`
	Severe    int `json:"severe"`
}

// Check verifies the repository, calling report for every problem, and
// returns counts. The error is non-nil only when the check could not run.
func Check(ctx context.Context, r *repo.Repository, opts Options, report func(Problem)) (Summary, error) {
	var sum Summary
	add := func(p Problem) {
		sum.Problems++
		if p.Severe {
			sum.Severe++
		}
		report(p)
	}

	// Key objects: only the one that unlocked can be opened, but every
	// age header must parse, or that credential has lost its access.
	keys, err := r.ListKeys(ctx)
	if err != nil {
		return sum, err
	}
	for _, k := range keys {
		damaged := false
		for _, t := range k.Types {
			if strings.HasPrefix(t, "unreadable: ") {
				damaged = true
				add(Problem{Object: "keys/" + k.Name, What: "damaged: " + strings.TrimPrefix(t, "unreadable: ") + " (its credential can no longer unlock the repository; add a new key with godwit key add, then remove this one)", Severe: true})
			}
		}
		if !damaged && !k.Intact {
			add(Problem{Object: "keys/" + k.Name, What: "content does not match its name (damaged, truncated or replaced; its credential may no longer unlock the repository: add a new key with godwit key add, then remove this one)", Severe: true})
		}
	}

	// Index objects, read one by one so that each bad one is named.
	files, err := r.IndexFiles(ctx)
	if err != nil {
		return sum, err
	}
	idx := r.Index()
	indexed := map[blob.ID]index.FilePack{}
	for _, f := range files {
		if f.Err != nil && !f.Damaged() {
			// Without this index object every pack it lists would look
			// unindexed and every blob only it holds lost.
			return sum, fmt.Errorf("%w; the check cannot continue without it", f.Err)
		}
		if f.Err != nil {
			add(Problem{Object: "index/" + f.Name, What: f.Err.Error(), Severe: true})
			continue
		}
		if err := idx.AddFile(f.File); err != nil {
			add(Problem{Object: "index/" + f.Name, What: err.Error(), Severe: true})
			continue
		}
		for _, fp := range f.File.Packs {
			indexed[fp.ID] = fp
		}
	}
	sum.Blobs = idx.Len()

	stored, err := r.StoredPacks(ctx)
	if err != nil {
		if stored == nil {
			return sum, err
		}
		add(Problem{Object: "data/", What: err.Error()})
	}
	sum.Packs = len(stored)
	// Packs that are missing or have the wrong size are reported once the
	// snapshots are read, with the files their blobs belong to.
	var lostPacks []Problem
	lostBlobs := map[blob.ID]string{}
	for _, id := range sortedIDs(indexed) {
		p := indexed[id]
		size, ok := stored[id]
		var what string
		switch {
		case !ok:
			what = "indexed pack is missing"
		case size != p.Size:
			what = fmt.Sprintf("size %d, the index says %d (truncated or replaced)", size, p.Size)
		default:
			continue
		}
		lostPacks = append(lostPacks, Problem{Object: "data/" + id.String(), What: what, Severe: true})
		for _, b := range p.Blobs {
			lostBlobs[b.ID] = "data/" + id.String()
		}
	}
	for _, id := range sortedIDs(stored) {
		if _, ok := indexed[id]; !ok {
			add(Problem{Object: "data/" + id.String(), What: "pack is not in any index (left by an interrupted backup or prune; prune removes it, repair index adds it)"})
		}
	}

	// Snapshots and their trees: owners only.
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		add(Problem{Object: "snapshots/", What: err.Error(), Severe: true})
	}
	sum.Snapshots = len(snaps)
	bad := map[blob.ID]string{} // blob → what is wrong with it
	if r.CanReadData() {
		for _, sn := range snaps {
			checkSnapshot(ctx, r, idx, sn.ID, sn.Tree, add, bad)
		}
	}

	if len(lostPacks) > 0 {
		var affected map[blob.ID][]string
		if r.CanReadData() {
			affected = affectedFiles(ctx, r, snaps, lostBlobs)
		}
		for _, p := range lostPacks {
			seen := map[string]bool{}
			for b, obj := range lostBlobs {
				if obj != p.Object {
					continue
				}
				for _, a := range affected[b] {
					if !seen[a] {
						seen[a] = true
						p.Affected = append(p.Affected, a)
					}
				}
			}
			sort.Strings(p.Affected)
			add(p)
		}
	}

	if opts.ReadData {
		var toRead []blob.ID
		var toReadBytes int64
		for _, id := range sortedIDs(stored) {
			if opts.Subset == nil || opts.Subset.Contains(id) {
				toRead = append(toRead, id)
				toReadBytes += stored[id]
			}
		}
		if opts.Progress != nil {
			opts.Progress.SetTotal(uint64(len(toRead)), uint64(toReadBytes))
		}
		for _, id := range toRead {
			if err := ctx.Err(); err != nil {
				return sum, err
			}
			sum.PacksRead++
			fp, ok := indexed[id]
			if opts.Progress != nil {
				opts.Progress.Current("data/" + id.String())
			}
			readPack(ctx, r, id, fp, ok, add, bad)
			if opts.Progress != nil {
				opts.Progress.AddFiles(1)
				opts.Progress.AddBytes(uint64(stored[id]))
			}
		}
		if len(bad) > 0 && r.CanReadData() {
			affected := affectedFiles(ctx, r, snaps, bad)
			for id, what := range bad {
				if strings.HasPrefix(what, "missing:") {
					continue // reported with its files already
				}
				add(Problem{Object: "blob " + id.String(), What: what, Affected: affected[id], Severe: true})
			}
		}
	}
	return sum, nil
}

func sortedIDs[V any](m map[blob.ID]V) []blob.ID {
	ids := make([]blob.ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	return ids
}

// checkSnapshot walks one snapshot's trees and reports blobs that are not
// in the index, with the files that need them.
func checkSnapshot(ctx context.Context, r *repo.Repository, idx *index.Index, snID, root blob.ID, add func(Problem), bad map[blob.ID]string) {
	name := "snapshots/" + snID.String()
	if !idx.Has(root) {
		add(Problem{Object: name, What: fmt.Sprintf("root tree %s is not in the index", root.Short()), Severe: true})
		return
	}
	missing := map[blob.ID][]string{}
	_ = r.WalkTree(ctx, root, "/", nil, func(path string, n *tree.Node) error {
		if n.Type == tree.Dir && n.Subtree != nil && !idx.Has(*n.Subtree) {
			missing[*n.Subtree] = append(missing[*n.Subtree], "snapshot "+snID.Short()+": "+path)
		}
		for _, c := range n.Content {
			if !idx.Has(c) {
				missing[c] = append(missing[c], "snapshot "+snID.Short()+": "+path)
			}
		}
		return nil
	}, func(path string, err error) error {
		add(Problem{Object: name, What: fmt.Sprintf("directory %s cannot be read: %v", path, err), Severe: true})
		return nil
	})
	for _, id := range sortedIDs(missing) {
		bad[id] = "missing: not in the index"
		add(Problem{Object: "blob " + id.String(), What: "needed by a snapshot but not in the index", Affected: missing[id], Severe: true})
	}
}

// readPack downloads one pack and verifies its hash and, with owner keys,
// every blob and that its header agrees with the index.
func readPack(ctx context.Context, r *repo.Repository, id blob.ID, fp index.FilePack, indexed bool, add func(Problem), bad map[blob.ID]string) {
	obj := "data/" + id.String()
	sealed, err := r.LoadPack(ctx, id)
	if err != nil {
		add(Problem{Object: obj, What: err.Error(), Severe: indexed})
		if sealed == nil {
			return
		}
	}
	if !r.CanReadData() {
		return
	}
	hdr, err := r.ReadPackBlobs(id, sealed, func(b repo.PackBlob) {
		if b.Err != nil {
			bad[b.Entry.ID] = b.Err.Error()
		}
	})
	if err != nil {
		add(Problem{Object: obj, What: err.Error(), Severe: indexed})
		for _, b := range fp.Blobs {
			bad[b.ID] = "in unreadable pack " + id.Short()
		}
		return
	}
	if !indexed {
		return
	}
	inHeader := make(map[blob.ID]bool, len(hdr.Blobs))
	for _, e := range hdr.Blobs {
		inHeader[e.ID] = true
	}
	for _, b := range fp.Blobs {
		if !inHeader[b.ID] {
			bad[b.ID] = "indexed in pack " + id.Short() + " but not in its header"
		}
	}
	if len(hdr.Frames) != len(fp.Frames) {
		add(Problem{Object: obj, What: fmt.Sprintf("header has %d frames, the index %d", len(hdr.Frames), len(fp.Frames)), Severe: true})
	}
}

// affectedFiles maps each bad blob to the files and directories that use
// it, in every snapshot.
func affectedFiles(ctx context.Context, r *repo.Repository, snaps []*snapshot.Snapshot, bad map[blob.ID]string) map[blob.ID][]string {
	out := map[blob.ID][]string{}
	for _, sn := range snaps {
		note := func(id blob.ID, path string) {
			if _, ok := bad[id]; ok {
				out[id] = append(out[id], "snapshot "+sn.ID.Short()+": "+path)
			}
		}
		note(sn.Tree, "/")
		_ = r.WalkTree(ctx, sn.Tree, "/", nil, func(path string, n *tree.Node) error {
			if n.Subtree != nil {
				note(*n.Subtree, path)
			}
			for _, c := range n.Content {
				note(c, path)
			}
			return nil
		}, func(string, error) error { return nil })
	}
	return out
}
