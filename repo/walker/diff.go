package walker

import (
	"bytes"
	"context"
	"slices"
	"strings"

	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/tree"
)

// ChangeKind classifies one difference between two trees. The values are
// the markers the diff command prints.
type ChangeKind string

const (
	// Added: the path exists only in the new tree.
	Added ChangeKind = "+"
	// Removed: the path exists only in the old tree.
	Removed ChangeKind = "-"
	// Modified: a regular file whose list of content blobs differs
	// (metadata may have changed too; see Change.Fields).
	Modified ChangeKind = "M"
	// MetadataOnly: same type and content, but some metadata differs.
	MetadataOnly ChangeKind = "U"
	// TypeChanged: the path is of another type (a file became a
	// symlink, a directory became a file, ...).
	TypeChanged ChangeKind = "T"
)

// Metadata field names reported in Change.Fields, in this order.
const (
	FieldMode       = "mode"
	FieldUID        = "uid"
	FieldGID        = "gid"
	FieldUser       = "user"
	FieldGroup      = "group"
	FieldMTime      = "mtime"
	FieldRdev       = "rdev"
	FieldLinkTarget = "link_target"
	FieldXattrs     = "xattrs"
)

// Change is one difference between two trees.
type Change struct {
	// Path is the path in the new tree (in the old one for Removed),
	// slash-separated from the diff's root path.
	Path string
	Kind ChangeKind
	// Old and New are the nodes on each side; Old is nil for Added and
	// New is nil for Removed.
	Old, New *tree.Node
	// Fields names the metadata that differs, for Modified and
	// MetadataOnly. atime, ctime, inode, device and link count are not
	// compared: they change without the file changing (reading it, or
	// backing up from another file system or a restored copy).
	Fields []string
}

// DiffStats counts the changes of a diff and the data they add and
// remove.
type DiffStats struct {
	Added        int `json:"added"`
	Removed      int `json:"removed"`
	Modified     int `json:"modified"`
	MetadataOnly int `json:"metadata_only"`
	TypeChanged  int `json:"type_changed"`
	// AddedBlobs and AddedBytes count the data blobs that changed files
	// of the new tree reference and the changed files of the old tree do
	// not, with their uncompressed sizes; RemovedBlobs and RemovedBytes
	// the other way round. Subtrees equal on both sides are not read, so
	// a blob moved from an unchanged directory into a changed file counts
	// as added. Blobs the Locator does not know count with size 0.
	AddedBlobs   int    `json:"added_blobs"`
	AddedBytes   uint64 `json:"added_bytes"`
	RemovedBlobs int    `json:"removed_blobs"`
	RemovedBytes uint64 `json:"removed_bytes"`
}

// Diff compares the node old with the node new, both found at path (use
// the synthetic root node of repo.FindNode for whole snapshots), and
// calls fn for every change in the order of the paths: a directory's
// entries are merged by name, equal subtrees are skipped without being
// loaded, and the entries below an added or removed directory are
// reported one by one. Only trees are read, never file contents: content
// is compared by the list of blob ids. locate may be nil; then the byte
// figures of the stats stay 0.
//
// Diff stops at the first error from fn or from loading a tree and
// returns it with the stats counted so far.
func Diff(ctx context.Context, trees TreeLoader, locate Locator, old, new *tree.Node, path string, fn func(Change) error) (DiffStats, error) {
	d := &differ{trees: trees, locate: locate, fn: fn, oldBlobs: map[blob.ID]struct{}{}, newBlobs: map[blob.ID]struct{}{}}
	err := d.compare(ctx, path, old, new)
	d.blobStats()
	return d.stats, err
}

type differ struct {
	trees              TreeLoader
	locate             Locator
	fn                 func(Change) error
	stats              DiffStats
	oldBlobs, newBlobs map[blob.ID]struct{}
}

func (d *differ) emit(c Change) error {
	switch c.Kind {
	case Added:
		d.stats.Added++
	case Removed:
		d.stats.Removed++
	case Modified:
		d.stats.Modified++
	case MetadataOnly:
		d.stats.MetadataOnly++
	case TypeChanged:
		d.stats.TypeChanged++
	}
	return d.fn(c)
}

func (d *differ) compare(ctx context.Context, path string, a, b *tree.Node) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil:
		return d.all(ctx, path, b, Added)
	case b == nil:
		return d.all(ctx, path, a, Removed)
	case a.Type != b.Type:
		addBlobs(d.oldBlobs, a)
		addBlobs(d.newBlobs, b)
		if err := d.emit(Change{Path: path, Kind: TypeChanged, Old: a, New: b}); err != nil {
			return err
		}
		if err := d.below(ctx, path, a, Removed); err != nil {
			return err
		}
		return d.below(ctx, path, b, Added)
	}
	fields := MetadataChanges(a, b)
	if a.Type == tree.File && !slices.Equal(a.Content, b.Content) {
		addBlobs(d.oldBlobs, a)
		addBlobs(d.newBlobs, b)
		return d.emit(Change{Path: path, Kind: Modified, Old: a, New: b, Fields: fields})
	}
	if len(fields) > 0 {
		if err := d.emit(Change{Path: path, Kind: MetadataOnly, Old: a, New: b, Fields: fields}); err != nil {
			return err
		}
	}
	if a.Type != tree.Dir || subtreeEqual(a.Subtree, b.Subtree) {
		return nil
	}
	return d.mergeDirs(ctx, path, a.Subtree, b.Subtree)
}

func subtreeEqual(a, b *blob.ID) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// mergeDirs walks the entries of two directories in name order.
func (d *differ) mergeDirs(ctx context.Context, path string, a, b *blob.ID) error {
	an, err := d.nodes(ctx, path, a)
	if err != nil {
		return err
	}
	bn, err := d.nodes(ctx, path, b)
	if err != nil {
		return err
	}
	i, j := 0, 0
	for i < len(an) || j < len(bn) {
		var x, y *tree.Node
		switch {
		case j == len(bn) || i < len(an) && an[i].Name < bn[j].Name:
			x = an[i]
			i++
		case i == len(an) || bn[j].Name < an[i].Name:
			y = bn[j]
			j++
		default:
			x, y = an[i], bn[j]
			i, j = i+1, j+1
		}
		name := tree.RawString("")
		if x != nil {
			name = x.Name
		} else {
			name = y.Name
		}
		if err := d.compare(ctx, joinPath(path, name), x, y); err != nil {
			return err
		}
	}
	return nil
}

func (d *differ) nodes(ctx context.Context, path string, id *blob.ID) ([]*tree.Node, error) {
	if id == nil {
		return nil, nil
	}
	t, err := d.trees.LoadTree(ctx, *id)
	if err != nil {
		return nil, treeError(path, err)
	}
	return t.Nodes, nil
}

// all reports n as added or removed, then everything below it.
func (d *differ) all(ctx context.Context, path string, n *tree.Node, kind ChangeKind) error {
	c := Change{Path: path, Kind: kind}
	if kind == Added {
		c.New = n
		addBlobs(d.newBlobs, n)
	} else {
		c.Old = n
		addBlobs(d.oldBlobs, n)
	}
	if err := d.emit(c); err != nil {
		return err
	}
	return d.below(ctx, path, n, kind)
}

// below reports everything under the directory n as added or removed.
func (d *differ) below(ctx context.Context, path string, n *tree.Node, kind ChangeKind) error {
	if n.Type != tree.Dir || n.Subtree == nil {
		return nil
	}
	return walk(ctx, d.trees, *n.Subtree, path, func(p string, c *tree.Node) error {
		ch := Change{Path: p, Kind: kind}
		if kind == Added {
			ch.New = c
			addBlobs(d.newBlobs, c)
		} else {
			ch.Old = c
			addBlobs(d.oldBlobs, c)
		}
		return d.emit(ch)
	})
}

func addBlobs(set map[blob.ID]struct{}, n *tree.Node) {
	for _, id := range n.Content {
		set[id] = struct{}{}
	}
}

func (d *differ) blobStats() {
	size := func(id blob.ID) uint64 {
		if d.locate == nil {
			return 0
		}
		loc, ok := d.locate.Lookup(id)
		if !ok {
			return 0
		}
		return uint64(loc.Length)
	}
	for id := range d.newBlobs {
		if _, ok := d.oldBlobs[id]; !ok {
			d.stats.AddedBlobs++
			d.stats.AddedBytes += size(id)
		}
	}
	for id := range d.oldBlobs {
		if _, ok := d.newBlobs[id]; !ok {
			d.stats.RemovedBlobs++
			d.stats.RemovedBytes += size(id)
		}
	}
}

// MetadataChanges returns the names of the metadata fields that differ
// between a and b (see the Field constants), or nil. Extended attributes
// (POSIX ACLs among them) compare as a set of names with their values.
func MetadataChanges(a, b *tree.Node) []string {
	var f []string
	add := func(differs bool, name string) {
		if differs {
			f = append(f, name)
		}
	}
	add(a.Mode != b.Mode, FieldMode)
	add(a.UID != b.UID, FieldUID)
	add(a.GID != b.GID, FieldGID)
	add(a.User != b.User, FieldUser)
	add(a.Group != b.Group, FieldGroup)
	add(!a.MTime.Equal(b.MTime), FieldMTime)
	add(a.Rdev != b.Rdev, FieldRdev)
	add(a.LinkTarget != b.LinkTarget, FieldLinkTarget)
	add(!xattrsEqual(a.Xattrs, b.Xattrs), FieldXattrs)
	return f
}

func xattrsEqual(a, b []tree.Xattr) bool {
	if len(a) != len(b) {
		return false
	}
	sorted := func(x []tree.Xattr) []tree.Xattr {
		c := slices.Clone(x)
		slices.SortFunc(c, func(p, q tree.Xattr) int { return strings.Compare(string(p.Name), string(q.Name)) })
		return c
	}
	sa, sb := sorted(a), sorted(b)
	for i := range sa {
		if sa[i].Name != sb[i].Name || !bytes.Equal(sa[i].Value, sb[i].Value) {
			return false
		}
	}
	return true
}
