package restorer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/godwit-backup/godwit/internal/fsmeta"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/pack"
	"github.com/godwit-backup/godwit/repo/tree"
)

// Repository is what a restore needs of a repository. *repo.Repository
// implements it.
type Repository interface {
	LoadTree(ctx context.Context, id blob.ID) (*tree.Tree, error)
	// Index locates the content blobs.
	Index() *index.Index
	// IndexError returns what could not be read of the index, nil when
	// all of it was: a blob missing from the index is then reported with
	// that cause instead of as lost data.
	IndexError() error
	// BlobID returns the keyed id of data: every blob read is checked
	// against it.
	BlobID(data []byte) blob.ID
	// FetchPack downloads what is needed of pack p to read frames and
	// returns the pack's plaintext. It is called concurrently.
	FetchPack(ctx context.Context, p *index.Pack, frames []pack.Frame) (io.ReaderAt, error)
}

// Options configures a restore.
type Options struct {
	// Target is the directory the snapshot's tree is rebuilt under.
	Target string
	// Include and Exclude are glob patterns on paths inside the snapshot
	// (see Matcher).
	Include, Exclude []string
	Owner            fsmeta.OwnerMode
	// Sparse leaves holes where the content has runs of zero blocks.
	Sparse bool
	// Names maps user and group names to ids on this machine for
	// fsmeta.OwnerName; nil means the system's user database.
	Names *fsmeta.Names
	// SourceNames gives the names ids had on the backed-up machine (from
	// the snapshot's manifest), so that OwnerName also maps the users and
	// groups named in POSIX ACLs; nil maps only each file's own owner.
	SourceNames *fsmeta.Names
	// Warn is called for every entry that could not be restored
	// completely. It must not be nil. Calls come from several goroutines
	// but never at the same time, and all of them before Restore returns.
	Warn func(path string, err error)
	// Workers is how many packs are downloaded and written at once, and
	// so the most packs held in memory (each at most the pack size plus
	// its largest frame). 0 means DefaultWorkers.
	Workers int
	// Progress, when set, is told what the restore has done.
	Progress Progress
}

// DefaultWorkers is the number of packs restored at once when
// Options.Workers is 0.
const DefaultWorkers = 2

// Summary counts what a restore did.
type Summary struct {
	Files        uint64 `json:"files"`
	Dirs         uint64 `json:"dirs"`
	Links        uint64 `json:"hardlinks"`
	Others       uint64 `json:"others"`
	Bytes        uint64 `json:"bytes"`
	Skipped      uint64 `json:"skipped_complete"`
	ChownSkipped uint64 `json:"chown_skipped"`
	Errors       uint64 `json:"errors"`
	// Packs counts the packs read for file contents; each needed pack is
	// read once.
	Packs uint64 `json:"packs"`
	// PeakPacksHeld is the most packs that were held in memory at once; it
	// never exceeds Options.Workers.
	PeakPacksHeld int `json:"peak_packs_held"`
}

// ErrDiskFull is wrapped by the error a restore stops with when the target
// runs out of space.
var ErrDiskFull = errors.New("no space left on the target")

type restorer struct {
	repo  Repository
	opts  Options
	match *Matcher
	apply fsmeta.ApplyOptions
	codec *pack.Codec
	links map[[2]uint64]string // (device, inode) → first restored path
	root  string               // the snapshot path the restore starts at
	dirs  []entry              // directories in creation order, for their metadata
	plan  plan                 // the contents still to write, by pack

	progress   Progress // Options.Progress or a no-op
	totalBytes uint64   // of the regular files found by the walk

	mu   sync.Mutex // guards sum and serializes opts.Warn
	sum  Summary
	held atomic.Int64 // packs in memory now
}

// entry is one restored node.
type entry struct {
	src, target string
	node        *tree.Node
}

// Restore rebuilds node (a directory or any other node found at srcPath
// in a snapshot) under opts.Target. A directory's children are restored
// into the target directory itself; any other node becomes
// Target/<name>. It returns an error when it had to stop (the target is
// full, the context was cancelled); problems with single entries go to
// opts.Warn and are counted in Summary.Errors.
func Restore(ctx context.Context, repo Repository, node *tree.Node, srcPath string, opts Options) (Summary, error) {
	m, err := NewMatcher(opts.Include, opts.Exclude)
	if err != nil {
		return Summary{}, err
	}
	names := opts.Names
	if names == nil {
		names = fsmeta.NewNames()
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	codec, err := pack.NewCodec()
	if err != nil {
		return Summary{}, err
	}
	defer codec.Close()
	r := &restorer{
		repo:  repo,
		opts:  opts,
		match: m,
		apply: fsmeta.ApplyOptions{Owner: opts.Owner, Names: names, SourceNames: opts.SourceNames, CanChown: fsmeta.CanChown() && opts.Owner != fsmeta.OwnerNone},
		codec: codec,
		links: make(map[[2]uint64]string),
		plan:  newPlan(),

		progress: opts.Progress,
	}
	if r.progress == nil {
		r.progress = noProgress{}
	}
	if err := os.MkdirAll(opts.Target, 0o700); err != nil {
		return r.sum, fmt.Errorf("create target: %w", err)
	}
	srcPath = "/" + strings.Trim(srcPath, "/")
	r.root = srcPath
	if node.Type == tree.Dir {
		if node.Subtree == nil {
			return r.sum, fmt.Errorf("%s: directory without a tree", srcPath)
		}
		err = r.restoreDir(ctx, *node.Subtree, srcPath, opts.Target)
	} else {
		err = r.restoreNode(ctx, node, srcPath, filepath.Join(opts.Target, string(node.Name)))
	}
	if err == nil {
		r.progress.SetTotal(r.sum.Files, r.totalBytes)
		err = r.restoreContents(ctx)
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return r.summary(), err
	}
	// Bottom-up: every directory after everything below it.
	for i := len(r.dirs) - 1; i >= 0; i-- {
		d := r.dirs[i]
		r.applyMeta(d.src, d.target, d.node)
	}
	return r.summary(), nil
}

func (r *restorer) summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sum
}

// warn reports one entry that could not be restored completely. It may be
// called from any goroutine.
func (r *restorer) warn(path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.Errors++
	r.opts.Warn(path, err)
}

func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// restoreDir restores the entries of one tree into the existing directory
// target.
func (r *restorer) restoreDir(ctx context.Context, id blob.ID, src, target string) error {
	t, err := r.repo.LoadTree(ctx, id)
	if err != nil {
		r.warn(src, fmt.Errorf("cannot read the directory listing, its contents are not restored: %w", err))
		return nil
	}
	for _, n := range t.Nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		childSrc := join(src, string(n.Name))
		if !r.match.Selected(childSrc, r.root, n.Type == tree.Dir) {
			continue
		}
		if err := r.restoreNode(ctx, n, childSrc, filepath.Join(target, string(n.Name))); err != nil {
			return err
		}
	}
	return nil
}

// restoreNode restores one node at target, leaving the contents of
// regular files to restoreContents and the metadata of directories to the
// end; only errors that must stop the whole restore are returned.
func (r *restorer) restoreNode(ctx context.Context, n *tree.Node, src, target string) error {
	switch n.Type {
	case tree.Dir:
		r.sum.Dirs++
		if err := ensureDir(target); err != nil {
			r.warn(src, err)
			return nil
		}
		r.dirs = append(r.dirs, entry{src: src, target: target, node: n})
		if n.Subtree != nil {
			if err := r.restoreDir(ctx, *n.Subtree, src, target); err != nil {
				return err
			}
		}
		return nil
	case tree.File:
		if n.Links > 1 {
			key := [2]uint64{n.DeviceID, n.Inode}
			if first, ok := r.links[key]; ok {
				r.sum.Links++
				if err := replaceWithLink(first, target); err != nil {
					r.warn(src, fmt.Errorf("hardlink to %s: %w", first, err))
				}
				return nil
			}
			r.links[key] = target
		}
		return r.restoreFile(ctx, n, src, target)
	default:
		r.sum.Others++
		if err := removeExisting(target); err != nil {
			r.warn(src, err)
			return nil
		}
		if err := fsmeta.Create(target, n); err != nil {
			r.warn(src, err)
			return nil
		}
		r.applyMeta(src, target, n)
		return nil
	}
}

// applyMeta sets ownership, mode, xattrs and times; it may be called from
// any goroutine.
func (r *restorer) applyMeta(src, target string, n *tree.Node) {
	if !r.apply.CanChown {
		r.mu.Lock()
		r.sum.ChownSkipped++
		r.mu.Unlock()
	}
	if err := fsmeta.Apply(target, n, r.apply); err != nil {
		r.warn(src, fmt.Errorf("metadata: %w", err))
	}
}

// ensureDir makes target a directory, replacing a non-directory there.
func ensureDir(target string) error {
	return fsmeta.WithPath(target, ensureDirShort)
}

func ensureDirShort(target string) error {
	fi, err := os.Lstat(target)
	if err == nil && fi.IsDir() {
		return nil
	}
	if err == nil {
		if err := os.Remove(target); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Mkdir(target, 0o700)
}

func removeExisting(target string) error {
	return fsmeta.WithPath(target, removeExistingShort)
}

func removeExistingShort(target string) error {
	fi, err := os.Lstat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s exists and is a directory", target)
	}
	return os.Remove(target)
}

func replaceWithLink(first, target string) error {
	if err := removeExisting(target); err != nil {
		return err
	}
	return fsmeta.WithPath(first, func(first string) error {
		return fsmeta.WithPath(target, func(target string) error { return os.Link(first, target) })
	})
}

// complete reports whether target already holds the restored file: same
// size and the snapshot's mtime, which is set only after the content was
// written completely.
func complete(target string, n *tree.Node) bool {
	var st unix.Stat_t
	if err := fsmeta.WithPath(target, func(p string) error { return unix.Lstat(p, &st) }); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFREG && uint64(st.Size) == n.Size &&
		st.Mtim.Sec == n.MTime.Unix() && st.Mtim.Nsec == int64(n.MTime.Nanosecond())
}

const blockSize = 4096

// restoreFile creates the file at its full size and plans its contents;
// a file without contents is finished at once.
func (r *restorer) restoreFile(ctx context.Context, n *tree.Node, src, target string) error {
	r.sum.Files++
	r.totalBytes += n.Size
	planned := false
	defer func() {
		if !planned { // skipped or failed: done now
			r.progress.AddFiles(1)
		}
	}()
	if complete(target, n) {
		r.sum.Skipped++
		r.progress.AddBytes(n.Size)
		return nil
	}
	if err := removeExisting(target); err != nil {
		r.warn(src, err)
		return nil
	}
	fd, err := fsmeta.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return diskFull("create", target)
		}
		r.warn(src, err)
		return nil
	}
	var st unix.Stat_t
	err = unix.Fstat(int(fd.Fd()), &st)
	if err == nil {
		// Holes until the contents are written; a file whose blobs
		// cannot be read keeps its size.
		err = fd.Truncate(int64(n.Size))
	}
	if err != nil {
		fd.Close()
		r.warn(src, err)
		return nil
	}
	if err := fd.Close(); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return diskFull("close", target)
		}
		r.warn(src, err)
		return nil
	}
	f := &file{entry: entry{src: src, target: target, node: n}, dev: st.Dev, ino: st.Ino}
	planned = true // finish counts it
	r.plan.add(r.repo, f)
	if f.pending.Load() == 0 {
		r.finish(f)
	}
	return nil
}

func diskFull(op, target string) error {
	return fmt.Errorf("%s %s: %w (free space on the target and run the same restore again: completed files are skipped)", op, target, ErrDiskFull)
}

// finish sets the metadata of a file whose contents are all written or
// failed; the mtime it sets last marks the file complete, so an
// incomplete file gets the current time instead.
func (r *restorer) finish(f *file) {
	defer r.progress.AddFiles(1)
	f.mu.Lock()
	writeErr, failed, nfailed := f.writeErr, f.failed, f.nfailed
	f.mu.Unlock()
	if writeErr != nil {
		r.warn(f.src, fmt.Errorf("write: %w", writeErr))
		return
	}
	r.applyMeta(f.src, f.target, f.node)
	if nfailed > 0 {
		// Leave an mtime that marks the file incomplete, so that a
		// later restore tries it again.
		_ = fsmeta.WithPath(f.target, func(p string) error {
			return unix.UtimesNanoAt(unix.AT_FDCWD, p, nil, unix.AT_SYMLINK_NOFOLLOW)
		})
		r.warn(f.src, fmt.Errorf("content incomplete (%d of %d blobs unreadable, left as holes): %w", nfailed, len(f.node.Content), errors.Join(failed...)))
	}
}

// writeAt writes data at off, skipping whole zero blocks when sparse.
func writeAt(f *os.File, data []byte, off int64, sparse bool) error {
	if !sparse {
		_, err := f.WriteAt(data, off)
		return err
	}
	for start := 0; start < len(data); {
		end := min(start+blockSize, len(data))
		if isZero(data[start:end]) {
			start = end
			continue
		}
		// Extend over following non-zero blocks to write in one call.
		for end < len(data) {
			next := min(end+blockSize, len(data))
			if isZero(data[end:next]) {
				break
			}
			end = next
		}
		if _, err := f.WriteAt(data[start:end], off+int64(start)); err != nil {
			return err
		}
		start = end
	}
	return nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
