package copier

import (
	"context"
	"fmt"
	"slices"

	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/snapshot"
	"github.com/godwit-backup/godwit/repo/tree"
)

// Source is the repository snapshots are copied from. LoadBlob must
// verify each blob against its id (repo.Repository does), and so needs
// an owner credential.
type Source interface {
	LoadBlob(ctx context.Context, t blob.Type, id blob.ID) ([]byte, error)
	// BlobSize returns the plaintext length of an indexed blob.
	BlobSize(id blob.ID) (uint32, bool)
}

// Destination is the repository snapshots are copied into; a write key
// is enough. Its index must be loaded, so that SaveBlob deduplicates
// against everything it stores.
type Destination interface {
	SaveBlob(ctx context.Context, t blob.Type, data []byte) (blob.ID, bool, error)
	BlobSize(id blob.ID) (uint32, bool)
	Flush(ctx context.Context) error
	SaveSnapshot(ctx context.Context, sn *snapshot.Snapshot) (blob.ID, error)
	SaveStats() repo.SaveStats
}

// Options configures a Copier. The zero value copies without a
// persistent id map.
type Options struct {
	// Map, when set, supplies source→destination ids learned by earlier
	// runs and records the ones this run learns. Without it the copier
	// remembers ids for one run only.
	Map *IDMap
	// CheckLock, when set, is called before each snapshot object is
	// written; an error (a lock was lost) stops the copy before it.
	CheckLock func() error
	// Report, when set, is called from the goroutine running Run after
	// each snapshot has been copied or skipped.
	Report func(Event)
	// Warn, when set, receives problems that do not stop the copy, such
	// as a failure to write the id map.
	Warn func(error)
}

// Event describes one source snapshot that Run handled.
type Event struct {
	Source *snapshot.Snapshot
	// Copy is the new destination snapshot; nil when the snapshot was
	// skipped.
	Copy *snapshot.Snapshot
	// Existing is the destination snapshot that made Run skip Source.
	Existing *snapshot.Snapshot
	// Stats counts the work done for this snapshot alone.
	Stats Stats
}

// Stats counts what a copy read and stored.
type Stats struct {
	Copied      int    `json:"copied"`       // snapshots written to the destination
	Skipped     int    `json:"skipped"`      // snapshots already in the destination
	BlobsRead   uint64 `json:"blobs_read"`   // blobs loaded from the source
	BytesRead   uint64 `json:"bytes_read"`   // their plaintext size
	BlobsAdded  uint64 `json:"blobs_added"`  // blobs new to the destination
	BytesAdded  uint64 `json:"bytes_added"`  // their plaintext size
	StoredAdded uint64 `json:"stored_added"` // encrypted pack bytes uploaded to the destination
	MapHits     uint64 `json:"map_hits"`     // blobs and trees whose destination id came from the id map
}

func (s *Stats) add(o Stats) {
	s.Copied += o.Copied
	s.Skipped += o.Skipped
	s.BlobsRead += o.BlobsRead
	s.BytesRead += o.BytesRead
	s.BlobsAdded += o.BlobsAdded
	s.BytesAdded += o.BytesAdded
	s.StoredAdded += o.StoredAdded
	s.MapHits += o.MapHits
}

// Copier copies snapshots between two repositories. It is not safe for
// concurrent use.
type Copier struct {
	src  Source
	dst  Destination
	opts Options

	ids   map[blob.ID]blob.ID // learned this run; trusted without checks
	fresh []Pair              // learned since the last flush, not yet in opts.Map
	stats Stats               // of the snapshot being copied
}

// New returns a Copier from src to dst.
func New(src Source, dst Destination, opts Options) *Copier {
	return &Copier{src: src, dst: dst, opts: opts, ids: make(map[blob.ID]blob.ID)}
}

// Run copies every snapshot of snaps that has no copy among existing (the
// destination's snapshots; see CopyOf), oldest first. Each snapshot is
// written after the packs and index objects it needs, so an error or a
// cancelled ctx leaves the snapshots copied so far complete and the
// others absent; the caller should then call the destination's Abort to
// wait for uploads in progress. The returned Stats cover every snapshot
// handled, including on error.
func (c *Copier) Run(ctx context.Context, snaps, existing []*snapshot.Snapshot) (Stats, error) {
	var total Stats
	snaps = slices.Clone(snaps)
	snapshot.SortByTime(snaps)
	existing = slices.Clone(existing)
	for _, sn := range snaps {
		ev := Event{Source: sn}
		if ex := CopyOf(sn, existing); ex != nil {
			ev.Existing = ex
			ev.Stats.Skipped = 1
		} else {
			cp, st, err := c.Copy(ctx, sn)
			if err != nil {
				total.add(st)
				return total, fmt.Errorf("copy snapshot %s: %w", sn.ID.Short(), err)
			}
			ev.Copy, ev.Stats = cp, st
			existing = append(existing, cp)
		}
		total.add(ev.Stats)
		if c.opts.Report != nil {
			c.opts.Report(ev)
		}
	}
	return total, nil
}

// Copy copies one snapshot, whether or not the destination has a copy
// already, and returns the new destination snapshot. Its Original names
// the snapshot it was first copied from (sn's own Original, or sn).
func (c *Copier) Copy(ctx context.Context, sn *snapshot.Snapshot) (*snapshot.Snapshot, Stats, error) {
	c.stats = Stats{}
	before := c.dst.SaveStats()
	stats := func() Stats {
		after := c.dst.SaveStats()
		s := c.stats
		s.BlobsAdded = after.Blobs - before.Blobs
		s.BytesAdded = after.Bytes - before.Bytes
		s.StoredAdded = after.StoredBytes - before.StoredBytes
		return s
	}

	root, err := c.tree(ctx, sn.Tree)
	if err != nil {
		return nil, stats(), err
	}
	var manifest *blob.ID
	if sn.Manifest != nil {
		id, err := c.data(ctx, *sn.Manifest)
		if err != nil {
			return nil, stats(), fmt.Errorf("manifest: %w", err)
		}
		manifest = &id
	}
	if err := c.dst.Flush(ctx); err != nil {
		return nil, stats(), fmt.Errorf("flush: %w", err)
	}
	c.commitMap()
	if c.opts.CheckLock != nil {
		if err := c.opts.CheckLock(); err != nil {
			return nil, stats(), err
		}
	}
	cp := *sn
	cp.ID = blob.ID{}
	cp.Tree = root
	cp.Manifest = manifest
	orig := OriginalID(sn)
	cp.Original = &orig
	cp.Paths = slices.Clone(sn.Paths)
	cp.Tags = slices.Clone(sn.Tags)
	if _, err := c.dst.SaveSnapshot(ctx, &cp); err != nil {
		return nil, stats(), fmt.Errorf("save snapshot: %w", err)
	}
	s := stats()
	s.Copied = 1
	return &cp, s, nil
}

// commitMap hands the ids learned since the last flush to the id map:
// only now are their destination blobs (and for trees, everything below
// them) durable and indexed.
func (c *Copier) commitMap() {
	fresh := c.fresh
	c.fresh = nil
	if c.opts.Map == nil || len(fresh) == 0 {
		return
	}
	if err := c.opts.Map.Add(fresh); err != nil && c.opts.Warn != nil {
		c.opts.Warn(err)
	}
}

// known returns the destination id of a source blob if this run or, after
// checking the destination still stores it with the same size, an
// earlier run translated it.
func (c *Copier) known(id blob.ID) (blob.ID, bool) {
	if d, ok := c.ids[id]; ok {
		return d, true
	}
	if c.opts.Map == nil {
		return blob.ID{}, false
	}
	d, ok := c.opts.Map.Lookup(id)
	if !ok {
		return blob.ID{}, false
	}
	dsize, dok := c.dst.BlobSize(d)
	ssize, sok := c.src.BlobSize(id)
	if !dok || !sok || dsize != ssize {
		return blob.ID{}, false
	}
	c.ids[id] = d
	c.stats.MapHits++
	return d, true
}

func (c *Copier) learn(src, dst blob.ID) {
	c.ids[src] = dst
	c.fresh = append(c.fresh, Pair{Source: src, Dest: dst})
}

// data copies one data blob.
func (c *Copier) data(ctx context.Context, id blob.ID) (blob.ID, error) {
	if d, ok := c.known(id); ok {
		return d, nil
	}
	buf, err := c.src.LoadBlob(ctx, blob.DataBlob, id)
	if err != nil {
		return blob.ID{}, fmt.Errorf("load: %w", err)
	}
	c.stats.BlobsRead++
	c.stats.BytesRead += uint64(len(buf))
	d, _, err := c.dst.SaveBlob(ctx, blob.DataBlob, buf)
	if err != nil {
		return blob.ID{}, fmt.Errorf("save data blob %s: %w", id.Short(), err)
	}
	c.learn(id, d)
	return d, nil
}

// tree translates a source tree and everything below it, children
// first, and returns the id of the destination tree.
func (c *Copier) tree(ctx context.Context, id blob.ID) (blob.ID, error) {
	if err := ctx.Err(); err != nil {
		return blob.ID{}, err
	}
	if d, ok := c.known(id); ok {
		return d, nil
	}
	buf, err := c.src.LoadBlob(ctx, blob.TreeBlob, id)
	if err != nil {
		return blob.ID{}, fmt.Errorf("load tree: %w", err)
	}
	c.stats.BlobsRead++
	c.stats.BytesRead += uint64(len(buf))
	t, err := tree.Unmarshal(buf)
	if err != nil {
		return blob.ID{}, fmt.Errorf("tree %s: %v: %w", id.Short(), err, repo.ErrCorrupt)
	}
	for _, n := range t.Nodes {
		if n.Subtree != nil {
			d, err := c.tree(ctx, *n.Subtree)
			if err != nil {
				return blob.ID{}, err
			}
			n.Subtree = &d
		}
		for i, cid := range n.Content {
			d, err := c.data(ctx, cid)
			if err != nil {
				return blob.ID{}, fmt.Errorf("%s: %w", n.Name, err)
			}
			n.Content[i] = d
		}
	}
	out, err := tree.Marshal(t)
	if err != nil {
		return blob.ID{}, fmt.Errorf("encode tree %s: %w", id.Short(), err)
	}
	d, _, err := c.dst.SaveBlob(ctx, blob.TreeBlob, out)
	if err != nil {
		return blob.ID{}, fmt.Errorf("save tree %s: %w", id.Short(), err)
	}
	c.learn(id, d)
	return d, nil
}

// OriginalID returns the id of the snapshot sn was first copied from, or
// sn's own id when it is not a copy.
func OriginalID(sn *snapshot.Snapshot) blob.ID {
	if sn.Original != nil {
		return *sn.Original
	}
	return sn.ID
}

// CopyOf returns the snapshot of existing that already holds sn: one
// copied from the same original, or one with the same time, host, paths
// and tags. It returns nil when there is none.
func CopyOf(sn *snapshot.Snapshot, existing []*snapshot.Snapshot) *snapshot.Snapshot {
	orig := OriginalID(sn)
	for _, ex := range existing {
		if ex.Original != nil && *ex.Original == orig {
			return ex
		}
	}
	for _, ex := range existing {
		if ex.Time.Equal(sn.Time) && ex.Host == sn.Host && sameSet(ex.Paths, sn.Paths) && sameSet(ex.Tags, sn.Tags) {
			return ex
		}
	}
	return nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
