package walker

import (
	"context"

	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/tree"
)

// Stats are the figures of one or more snapshots.
type Stats struct {
	Snapshots int
	// Files counts regular files, a hardlinked file once per snapshot;
	// Dirs counts directories and Others everything else (symlinks,
	// devices, FIFOs, sockets).
	Files, Dirs, Others uint64
	// RestoreSize is the sum of the sizes of the regular files, a
	// hardlinked file once per snapshot: what a restore of every
	// snapshot would write. Several snapshots add up.
	RestoreSize uint64

	// The figures below count each blob once, however many files and
	// snapshots use it; they are only filled in when the Counter was
	// made with a Locator.

	// DataBlobs and TreeBlobs count the distinct blobs the snapshots
	// reference; DataBytes and TreeBytes are their uncompressed sizes.
	DataBlobs, TreeBlobs int
	DataBytes, TreeBytes uint64
	// StoredBytes is the space those blobs take in their packs after
	// compression: each blob's share of its frame's stored length, in
	// proportion to its uncompressed length. Pack headers and the
	// encryption overhead are not included.
	StoredBytes uint64
	// MissingBlobs counts referenced blobs the Locator does not know.
	MissingBlobs int
}

// Counter adds up the Stats of snapshots. It walks each snapshot's trees
// once; a subtree seen before (in the same or another snapshot) is not
// loaded again when it holds no hardlinked file, since its totals are
// remembered. A Counter is not safe for concurrent use.
type Counter struct {
	trees  TreeLoader
	locate Locator
	stats  Stats
	blobs  map[blob.ID]struct{}
	// memo holds the totals of subtrees without hardlinks; a subtree
	// with hardlinks maps to nil and is walked again each time, because
	// whether its links count depends on the rest of the snapshot.
	memo map[blob.ID]*subtotal
	// inodes are the hardlinked files seen in the current snapshot.
	inodes map[[2]uint64]struct{}
}

type subtotal struct {
	files, dirs, others, size uint64
}

// NewCounter returns a Counter that reads trees with trees. With a nil
// locate it counts only files and the restore size.
func NewCounter(trees TreeLoader, locate Locator) *Counter {
	return &Counter{trees: trees, locate: locate, blobs: map[blob.ID]struct{}{}, memo: map[blob.ID]*subtotal{}}
}

// AddSnapshot adds the snapshot whose root tree is root. After an error
// the Counter's figures are incomplete and it should not be used further.
func (c *Counter) AddSnapshot(ctx context.Context, root blob.ID) error {
	c.inodes = map[[2]uint64]struct{}{}
	c.addBlob(blob.TreeBlob, root)
	st, _, err := c.dir(ctx, root, "/")
	if err != nil {
		return err
	}
	c.stats.Snapshots++
	c.stats.Files += st.files
	c.stats.Dirs += st.dirs
	c.stats.Others += st.others
	c.stats.RestoreSize += st.size
	return nil
}

// Stats returns the figures of the snapshots added so far.
func (c *Counter) Stats() Stats { return c.stats }

// dir returns the totals below the tree id and whether they may be
// remembered (no hardlinked file below).
func (c *Counter) dir(ctx context.Context, id blob.ID, path string) (subtotal, bool, error) {
	if st, ok := c.memo[id]; ok && st != nil {
		return *st, true, nil
	}
	if err := ctx.Err(); err != nil {
		return subtotal{}, false, err
	}
	t, err := c.trees.LoadTree(ctx, id)
	if err != nil {
		return subtotal{}, false, treeError(path, err)
	}
	var st subtotal
	pure := true
	for _, n := range t.Nodes {
		switch n.Type {
		case tree.File:
			for _, b := range n.Content {
				c.addBlob(blob.DataBlob, b)
			}
			if n.Links > 1 {
				pure = false
				k := [2]uint64{n.DeviceID, n.Inode}
				if _, seen := c.inodes[k]; seen {
					continue
				}
				c.inodes[k] = struct{}{}
			}
			st.files++
			st.size += n.Size
		case tree.Dir:
			st.dirs++
			if n.Subtree == nil {
				continue
			}
			c.addBlob(blob.TreeBlob, *n.Subtree)
			sub, ok, err := c.dir(ctx, *n.Subtree, joinPath(path, n.Name))
			if err != nil {
				return subtotal{}, false, err
			}
			pure = pure && ok
			st.files += sub.files
			st.dirs += sub.dirs
			st.others += sub.others
			st.size += sub.size
		default:
			st.others++
		}
	}
	if pure {
		c.memo[id] = &st
	} else {
		c.memo[id] = nil
	}
	return st, pure, nil
}

func (c *Counter) addBlob(t blob.Type, id blob.ID) {
	if c.locate == nil {
		return
	}
	if _, ok := c.blobs[id]; ok {
		return
	}
	c.blobs[id] = struct{}{}
	loc, ok := c.locate.Lookup(id)
	if !ok {
		c.stats.MissingBlobs++
		return
	}
	if t == blob.TreeBlob {
		c.stats.TreeBlobs++
		c.stats.TreeBytes += uint64(loc.Length)
	} else {
		c.stats.DataBlobs++
		c.stats.DataBytes += uint64(loc.Length)
	}
	c.stats.StoredBytes += storedShare(loc)
}

// storedShare is a blob's share of its frame's stored length.
func storedShare(loc index.Location) uint64 {
	if loc.Frame.RawLength == 0 {
		return 0
	}
	return uint64(loc.Frame.Length) * uint64(loc.Length) / uint64(loc.Frame.RawLength)
}

// IndexStats are the figures of a repository's index: every stored blob,
// used by a snapshot or not.
type IndexStats struct {
	DataBlobs, TreeBlobs int
	// UncompressedBytes is the sum of the blobs' lengths; StoredBytes
	// their shares of the frames' stored lengths, as in Stats.
	UncompressedBytes, StoredBytes uint64
	// Packs and PackBytes count the indexed packs and their encrypted
	// sizes: the space the repository's data takes on the backend.
	Packs     int
	PackBytes uint64
}

// IndexReader is the part of *index.Index that CountIndex reads.
type IndexReader interface {
	Each(fn func(id blob.ID, loc index.Location))
	Packs() []*index.Pack
}

// CountIndex adds up the figures of an index. It reads no trees, so it
// works with a write key.
func CountIndex(idx IndexReader) IndexStats {
	var s IndexStats
	idx.Each(func(_ blob.ID, loc index.Location) {
		if loc.Type == blob.TreeBlob {
			s.TreeBlobs++
		} else {
			s.DataBlobs++
		}
		s.UncompressedBytes += uint64(loc.Length)
		s.StoredBytes += storedShare(loc)
	})
	for _, p := range idx.Packs() {
		s.Packs++
		s.PackBytes += uint64(p.Size)
	}
	return s
}
