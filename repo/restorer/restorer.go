package restorer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/godwit-backup/godwit/internal/fsmeta"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/tree"
)

// Repository is what a restore needs of a repository.
type Repository interface {
	LoadTree(ctx context.Context, id blob.ID) (*tree.Tree, error)
	LoadBlob(ctx context.Context, t blob.Type, id blob.ID) ([]byte, error)
	BlobSize(id blob.ID) (uint32, bool)
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
	// Warn is called for every entry that could not be restored
	// completely. It must not be nil.
	Warn func(path string, err error)
}

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
}

// ErrDiskFull is wrapped by the error a restore stops with when the target
// runs out of space.
var ErrDiskFull = errors.New("no space left on the target")

type restorer struct {
	repo  Repository
	opts  Options
	match *Matcher
	apply fsmeta.ApplyOptions
	links map[[2]uint64]string // (device, inode) → first restored path
	root  string               // the snapshot path the restore starts at
	sum   Summary
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
	r := &restorer{
		repo:  repo,
		opts:  opts,
		match: m,
		apply: fsmeta.ApplyOptions{Owner: opts.Owner, Names: names, CanChown: fsmeta.CanChown() && opts.Owner != fsmeta.OwnerNone},
		links: make(map[[2]uint64]string),
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
	return r.sum, err
}

func (r *restorer) warn(path string, err error) {
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

// restoreNode restores one node at target; only errors that must stop the
// whole restore are returned.
func (r *restorer) restoreNode(ctx context.Context, n *tree.Node, src, target string) error {
	switch n.Type {
	case tree.Dir:
		r.sum.Dirs++
		if err := ensureDir(target); err != nil {
			r.warn(src, err)
			return nil
		}
		if n.Subtree != nil {
			if err := r.restoreDir(ctx, *n.Subtree, src, target); err != nil {
				return err
			}
		}
		r.applyMeta(src, target, n)
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

func (r *restorer) applyMeta(src, target string, n *tree.Node) {
	if !r.apply.CanChown {
		r.sum.ChownSkipped++
	}
	if err := fsmeta.Apply(target, n, r.apply); err != nil {
		r.warn(src, fmt.Errorf("metadata: %w", err))
	}
}

// ensureDir makes target a directory, replacing a non-directory there.
func ensureDir(target string) error {
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
	return os.Link(first, target)
}

// complete reports whether target already holds the restored file: same
// size and the snapshot's mtime, which is set only after the content was
// written completely.
func complete(target string, n *tree.Node) bool {
	var st unix.Stat_t
	if err := unix.Lstat(target, &st); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFREG && uint64(st.Size) == n.Size &&
		st.Mtim.Sec == n.MTime.Unix() && st.Mtim.Nsec == int64(n.MTime.Nanosecond())
}

const blockSize = 4096

func (r *restorer) restoreFile(ctx context.Context, n *tree.Node, src, target string) error {
	r.sum.Files++
	if complete(target, n) {
		r.sum.Skipped++
		return nil
	}
	if err := removeExisting(target); err != nil {
		r.warn(src, err)
		return nil
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("create %s: %w (free space on the target and run the same restore again: completed files are skipped)", target, ErrDiskFull)
		}
		r.warn(src, err)
		return nil
	}
	var (
		off    int64
		failed []error
	)
	for _, id := range n.Content {
		if err := ctx.Err(); err != nil {
			f.Close()
			return err
		}
		data, err := r.repo.LoadBlob(ctx, blob.DataBlob, id)
		if err != nil {
			failed = append(failed, err)
			size, ok := r.repo.BlobSize(id)
			if !ok {
				break // offsets of what follows are unknown
			}
			off += int64(size)
			continue
		}
		if err := r.writeAt(f, data, off); err != nil {
			f.Close()
			if errors.Is(err, syscall.ENOSPC) {
				return fmt.Errorf("write %s: %w (free space on the target and run the same restore again: completed files are skipped)", target, ErrDiskFull)
			}
			r.warn(src, fmt.Errorf("write: %w", err))
			return nil
		}
		off += int64(len(data))
		r.sum.Bytes += uint64(len(data))
	}
	if err := f.Truncate(int64(n.Size)); err != nil {
		f.Close()
		r.warn(src, fmt.Errorf("truncate: %w", err))
		return nil
	}
	if err := f.Close(); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("close %s: %w", target, ErrDiskFull)
		}
		r.warn(src, err)
		return nil
	}
	r.applyMeta(src, target, n)
	if len(failed) > 0 {
		// Leave an mtime that marks the file incomplete, so that a
		// later restore tries it again.
		_ = unix.UtimesNanoAt(unix.AT_FDCWD, target, nil, unix.AT_SYMLINK_NOFOLLOW)
		r.warn(src, fmt.Errorf("content incomplete (%d of %d blobs unreadable, left as holes): %w", len(failed), len(n.Content), errors.Join(failed...)))
	}
	return nil
}

// writeAt writes data at off, skipping whole zero blocks when sparse.
func (r *restorer) writeAt(f *os.File, data []byte, off int64) error {
	if !r.opts.Sparse {
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
