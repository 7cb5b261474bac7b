package archiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/godwit-backup/godwit/chunk"
	"github.com/godwit-backup/godwit/internal/fsmeta"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/snapshot"
	"github.com/godwit-backup/godwit/repo/tree"
)

// Repository is what the archiver needs of a repository.
type Repository interface {
	SaveBlob(ctx context.Context, t blob.Type, data []byte) (blob.ID, bool, error)
	HasBlob(id blob.ID) bool
	Flush(ctx context.Context) error
	SaveSnapshot(ctx context.Context, sn *snapshot.Snapshot) (blob.ID, error)
	Polynomial() uint64
	// StoredBytes returns the encrypted bytes uploaded so far.
	StoredBytes() uint64
}

// Options configures a backup.
type Options struct {
	Excluder      *Excluder
	ExcludeCaches bool
	OneFileSystem bool
	Host          string
	Username      string
	Tags          []string
	// Now gives the snapshot time and the summary's times.
	Now func() time.Time
	// Retries is how often a file that changes while it is read is read
	// again before it is recorded as inconsistent; 0 means 3, and a
	// negative number no retries.
	Retries int
	// FilesCache, when set, lets unchanged files skip reading.
	FilesCache *FilesCache
	// Warn is called for every file that could not be backed up
	// completely. It must not be nil.
	Warn func(path string, err error)
	// Program is recorded in the snapshot (name and version).
	Program string
	// Root, when set, is the directory that is the system root: paths are
	// recorded as they appear under it ("/mnt/etc" is recorded as "/etc"
	// when Root is "/mnt"), and paths given to Run are taken inside it.
	Root string
	// Manifest, when set, is called after the walk with the uids and gids
	// that own backed-up entries; the bytes it returns are stored as a
	// data blob and named in the snapshot (the system manifest).
	Manifest func(uids, gids []uint32) ([]byte, error)
	// LockMbox, when set, is called before an mbox spool (a file directly
	// in /var/mail or /var/spool/mail) is read, with its path on disk; the
	// function it returns is called after the read. An error is reported
	// and the spool read without the lock.
	LockMbox func(path string) (func() error, error)
	// CheckLock, when set, is called before the snapshot is written; an
	// error (the repository lock was lost) stops the backup without a
	// snapshot.
	CheckLock func() error
	// Names gives the user and group names recorded with each uid and
	// gid; nil means the system's user database.
	Names *fsmeta.Names
	// Progress, when set, is told what the backup has done, and a scan
	// of the paths runs alongside the backup to give it the totals.
	Progress Progress
}

// Archiver runs one backup. It is not safe for concurrent use.
type Archiver struct {
	repo     Repository
	opts     Options
	names    *fsmeta.Names
	progress Progress // Options.Progress or a no-op

	chunker *chunk.MailChunker
	head    []byte
	buf     []byte
	links   map[[2]uint64]linkEntry
	sum     snapshot.Summary
	root    string // Options.Root without a trailing slash; "" for /
	uids    map[uint32]bool
	gids    map[uint32]bool
}

// disk returns where the snapshot path p is on the file system.
func (a *Archiver) disk(p string) string {
	if a.root == "" {
		return p
	}
	if p == "/" {
		return a.root
	}
	return a.root + p
}

type linkEntry struct {
	content []blob.ID
	size    uint64
	mtime   time.Time
}

// New returns an archiver that saves into repo.
func New(repo Repository, opts Options) *Archiver {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	switch {
	case opts.Retries == 0:
		opts.Retries = 3
	case opts.Retries < 0:
		opts.Retries = 0
	}
	names := opts.Names
	if names == nil {
		names = fsmeta.NewNames()
	}
	var progress Progress = noProgress{}
	if opts.Progress != nil {
		progress = opts.Progress
	}
	return &Archiver{
		repo:     repo,
		opts:     opts,
		names:    names,
		progress: progress,
		chunker:  chunk.NewMail(repo.Polynomial(), chunk.Options{}),
		head:     make([]byte, 4096),
		buf:      make([]byte, chunk.DefaultMaxSize),
		links:    make(map[[2]uint64]linkEntry),
		root:     strings.TrimSuffix(filepath.Clean("/"+opts.Root), "/"),
		uids:     make(map[uint32]bool),
		gids:     make(map[uint32]bool),
	}
}

// ErrNothingToBackUp is returned when none of the paths could be read.
var ErrNothingToBackUp = errors.New("none of the given paths could be backed up")

// virtual is a directory on the way from / to the backed-up paths.
type virtual struct {
	children map[string]*virtual
	target   bool // back up everything below
}

// Run backs up paths (made absolute) and writes the snapshot. The returned
// snapshot's Incomplete flag and Summary.Errors say whether every file was
// read; the error is non-nil only when no snapshot was written.
func (a *Archiver) Run(ctx context.Context, paths []string) (*snapshot.Snapshot, error) {
	a.sum = snapshot.Summary{Start: a.opts.Now()}
	storedBefore := a.repo.StoredBytes()
	defer a.opts.FilesCache.Discard() // after Save, a no-op; after a failure, the new cache goes
	if len(paths) == 0 {
		return nil, errors.New("no paths to back up")
	}
	root := &virtual{children: map[string]*virtual{}}
	var abs []string
	for _, p := range paths {
		ap, err := filepath.Abs(p)
		if a.root != "" {
			// Inside a root, paths name places in that system.
			ap, err = filepath.Clean("/"+p), nil
		}
		if err != nil {
			return nil, err
		}
		abs = append(abs, ap)
		v := root
		for _, part := range strings.Split(strings.Trim(ap, "/"), "/") {
			if part == "" {
				continue
			}
			if v.target {
				break
			}
			next := v.children[part]
			if next == nil {
				next = &virtual{children: map[string]*virtual{}}
				v.children[part] = next
			}
			v = next
		}
		v.target = true
		v.children = map[string]*virtual{}
	}
	sort.Strings(abs)
	if a.opts.Progress != nil {
		stopScan := a.startScan(ctx, abs)
		defer stopScan()
	}

	var rootTree *tree.Tree
	var err error
	if root.target {
		rootTree, err = a.walkDir(ctx, "/", 0)
	} else {
		rootTree, err = a.virtualDir(ctx, "/", root)
	}
	if err != nil {
		return nil, err
	}
	if len(rootTree.Nodes) == 0 {
		return nil, ErrNothingToBackUp
	}
	rootID, _, err := a.saveTree(ctx, rootTree)
	if err != nil {
		return nil, err
	}
	var manifest *blob.ID
	if a.opts.Manifest != nil {
		data, err := a.opts.Manifest(sortedIDs(a.uids), sortedIDs(a.gids))
		if err != nil {
			return nil, fmt.Errorf("system manifest: %w", err)
		}
		id, added, err := a.repo.SaveBlob(ctx, blob.DataBlob, data)
		if err != nil {
			return nil, err
		}
		if added {
			a.sum.BlobsAdded++
			a.sum.BytesAdded += uint64(len(data))
		}
		manifest = &id
	}
	if err := a.repo.Flush(ctx); err != nil {
		return nil, fmt.Errorf("flush: %w", err)
	}
	if a.opts.CheckLock != nil {
		if err := a.opts.CheckLock(); err != nil {
			return nil, err
		}
	}
	a.sum.End = a.opts.Now()
	a.sum.StoredAdded = a.repo.StoredBytes() - storedBefore
	sn := &snapshot.Snapshot{
		Time:       a.sum.Start,
		Host:       a.opts.Host,
		Username:   a.opts.Username,
		Paths:      abs,
		Tags:       a.opts.Tags,
		Tree:       rootID,
		Manifest:   manifest,
		Summary:    a.sum,
		Program:    a.opts.Program,
		Incomplete: a.sum.Errors > 0,
	}
	if _, err := a.repo.SaveSnapshot(ctx, sn); err != nil {
		return nil, fmt.Errorf("save snapshot: %w", err)
	}
	if err := a.opts.FilesCache.Save(); err != nil {
		a.opts.Warn("files cache", err)
	}
	return sn, nil
}

func (a *Archiver) warn(path string, err error) {
	a.sum.Errors++
	a.opts.Warn(path, err)
}

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// virtualDir builds the tree of a directory on the way to the targets:
// only the children that lead to a target, with their own metadata.
func (a *Archiver) virtualDir(ctx context.Context, dir string, v *virtual) (*tree.Tree, error) {
	t := &tree.Tree{}
	names := make([]string, 0, len(v.children))
	for name := range v.children {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		child := v.children[name]
		path := joinPath(dir, name)
		if child.target {
			node, err := a.saveEntry(ctx, path, name, 0)
			if err != nil {
				return nil, err
			}
			if node != nil {
				if err := t.Insert(node); err != nil {
					return nil, err
				}
			}
			continue
		}
		node, _, err := fsmeta.Lstat(a.disk(path), name, a.names)
		if err != nil {
			a.warn(path, err)
			if node == nil {
				continue
			}
		}
		if node.Type != tree.Dir {
			a.warn(path, fmt.Errorf("not a directory, cannot back up paths below it"))
			continue
		}
		sub, err := a.virtualDir(ctx, path, child)
		if err != nil {
			return nil, err
		}
		if len(sub.Nodes) == 0 {
			continue
		}
		id, _, err := a.saveTree(ctx, sub)
		if err != nil {
			return nil, err
		}
		node.Subtree = &id
		if err := t.Insert(node); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// saveEntry backs up one path of any type. rootDev is the device of the
// backup root for --one-file-system (0: this entry is the root). It
// returns nil, nil when the entry was skipped with a warning.
func (a *Archiver) saveEntry(ctx context.Context, path, name string, rootDev uint64) (*tree.Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	node, st, err := fsmeta.Lstat(a.disk(path), name, a.names)
	if err != nil {
		if node == nil && errors.Is(err, fs.ErrNotExist) && inMaildir(path) {
			return nil, errVanished
		}
		a.warn(path, err)
		if node == nil {
			return nil, nil
		}
		// Only the xattrs were unreadable: keep the rest.
	}
	a.uids[node.UID] = true
	a.gids[node.GID] = true
	switch node.Type {
	case tree.Dir:
		a.sum.Dirs++
		dev := uint64(st.Dev)
		if rootDev == 0 {
			rootDev = dev
		}
		sub := &tree.Tree{}
		switch {
		case a.opts.OneFileSystem && dev != rootDev:
			// A mount point: keep the directory, not what is mounted on it.
		case a.opts.ExcludeCaches && isCacheDir(a.disk(path)):
			if tag, err := a.saveEntry(ctx, joinPath(path, "CACHEDIR.TAG"), "CACHEDIR.TAG", rootDev); err != nil {
				return nil, err
			} else if tag != nil {
				_ = sub.Insert(tag)
			}
		default:
			sub, err = a.walkDir(ctx, path, rootDev)
			if err != nil {
				return nil, err
			}
		}
		id, _, err := a.saveTree(ctx, sub)
		if err != nil {
			return nil, err
		}
		node.Subtree = &id
	case tree.File:
		a.progress.Current(path)
		defer a.progress.AddFiles(1)
		if err := a.saveFile(ctx, path, node, st); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var fatal *fatalError
			if errors.As(err, &fatal) {
				return nil, fatal.err
			}
			a.warn(path, err)
			return nil, nil
		}
	default:
		a.sum.Others++
		a.progress.AddFiles(1)
	}
	return node, nil
}

// walkDir reads a directory and backs up every entry not excluded.
func (a *Archiver) walkDir(ctx context.Context, dir string, rootDev uint64) (*tree.Tree, error) {
	names, err := a.listDir(dir)
	if err != nil {
		a.warn(dir, err)
		if names == nil {
			return &tree.Tree{}, nil
		}
	}
	maildirOrder(names)
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		seen[n] = true
	}
	t := &tree.Tree{Nodes: make([]*tree.Node, 0, len(names))}
	for i := 0; i < len(names); i++ {
		name := names[i]
		path := joinPath(dir, name)
		if a.opts.Excluder.Excluded(path) {
			continue
		}
		node, err := a.saveEntry(ctx, path, name, rootDev)
		if errors.Is(err, errVanished) {
			// A Maildir message moved while the walk ran. From new/ it
			// went to cur/, which is walked after new/; in cur/ its
			// flags changed: back it up under its new name.
			if filepath.Base(dir) == "cur" {
				names = append(names, a.renamedMessages(dir, name, seen)...)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if node != nil {
			t.Nodes = append(t.Nodes, node) // tree.Marshal sorts them
		}
	}
	return t, nil
}

func (a *Archiver) saveTree(ctx context.Context, t *tree.Tree) (blob.ID, bool, error) {
	data, err := tree.Marshal(t)
	if err != nil {
		return blob.ID{}, false, err
	}
	id, added, err := a.repo.SaveBlob(ctx, blob.TreeBlob, data)
	if err != nil {
		return id, added, &fatalError{err}
	}
	if added {
		a.sum.BlobsAdded++
		a.sum.BytesAdded += uint64(len(data))
	}
	return id, added, nil
}

// fatalError wraps repository errors, which end the backup, as opposed
// to errors reading one file, which do not.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// saveFile fills node.Content, using the hardlink map or the files cache
// when the file is known, and reading it otherwise.
func (a *Archiver) saveFile(ctx context.Context, path string, node *tree.Node, st *unix.Stat_t) error {
	key := [2]uint64{uint64(st.Dev), st.Ino}
	if node.Links > 1 {
		if le, ok := a.links[key]; ok && le.size == node.Size && le.mtime.Equal(node.MTime) {
			node.Content = le.content
			a.sum.FilesUnchanged++
			a.sum.TotalSize += node.Size
			a.progress.AddBytes(node.Size)
			return nil
		}
	}
	entry := CacheEntry{Device: uint64(st.Dev), Inode: st.Ino, Size: node.Size, MTime: node.MTime.UnixNano(), CTime: node.CTime.UnixNano()}
	old, known := a.opts.FilesCache.Lookup(a.disk(path))
	if known && old.Device == entry.Device && old.Inode == entry.Inode && old.Size == entry.Size &&
		old.MTime == entry.MTime && old.CTime == entry.CTime && a.allStored(old.Content) {
		node.Content = old.Content
		a.opts.FilesCache.Record(a.disk(path), old)
		a.sum.FilesUnchanged++
		a.sum.TotalSize += node.Size
		a.progress.AddBytes(node.Size)
		a.rememberLink(key, node)
		return nil
	}
	if err := a.readFile(ctx, path, node, st); err != nil {
		return err
	}
	if known {
		a.sum.FilesChanged++
	} else {
		a.sum.FilesNew++
	}
	a.sum.TotalSize += node.Size
	if node.Error == "" {
		entry.Size, entry.MTime, entry.CTime = node.Size, node.MTime.UnixNano(), node.CTime.UnixNano()
		entry.Content = node.Content
		a.opts.FilesCache.Record(a.disk(path), entry)
	}
	a.rememberLink(key, node)
	return nil
}

func (a *Archiver) rememberLink(key [2]uint64, node *tree.Node) {
	if node.Links > 1 {
		a.links[key] = linkEntry{content: node.Content, size: node.Size, mtime: node.MTime}
	}
}

func (a *Archiver) allStored(ids []blob.ID) bool {
	for _, id := range ids {
		if !a.repo.HasBlob(id) {
			return false
		}
	}
	return true
}

// readFile reads and chunks the file, re-reading it when its size, mtime
// or ctime changed during the read. After Options.Retries attempts the
// last read is kept, node.Error says why, and a warning is reported.
func (a *Archiver) readFile(ctx context.Context, path string, node *tree.Node, st *unix.Stat_t) error {
	if a.opts.LockMbox != nil && isSpool(path) {
		unlock, err := a.opts.LockMbox(a.disk(path))
		if err != nil {
			a.warn(path, fmt.Errorf("read without the mbox lock: %w", err))
		} else {
			defer func() {
				if err := unlock(); err != nil {
					a.opts.Warn(path, fmt.Errorf("release the mbox lock: %w", err))
				}
			}()
		}
	}
	for attempt := 0; ; attempt++ {
		f, err := openNoFollow(a.disk(path))
		if err != nil {
			return err
		}
		var before unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &before); err != nil {
			f.Close()
			return fmt.Errorf("stat: %w", err)
		}
		if before.Ino != st.Ino || before.Dev != st.Dev || before.Mode&unix.S_IFMT != unix.S_IFREG {
			f.Close()
			return fmt.Errorf("replaced by another file while the backup ran")
		}
		content, size, err := a.chunkFile(ctx, f)
		if err != nil {
			f.Close()
			return err
		}
		var after unix.Stat_t
		err = unix.Fstat(int(f.Fd()), &after)
		f.Close()
		if err != nil {
			return fmt.Errorf("stat: %w", err)
		}
		node.Content = content
		node.Size = size
		a.sum.BytesRead += size
		changed := after.Size != before.Size || after.Mtim != before.Mtim || after.Ctim != before.Ctim || uint64(after.Size) != size
		// Record the metadata that belongs to the content just read.
		node.MTime = time.Unix(after.Mtim.Unix())
		node.CTime = time.Unix(after.Ctim.Unix())
		node.Mode = uint32(after.Mode) & 0o7777
		if !changed {
			return nil
		}
		if attempt >= a.opts.Retries {
			node.Error = fmt.Sprintf("changed while read %d times", attempt+1)
			a.warn(path, fmt.Errorf("file changed while it was read (%d attempts); the snapshot holds the last read, which may be inconsistent", attempt+1))
			return nil
		}
	}
}

// errVanished is returned by saveEntry for a Maildir entry that no longer
// exists: messages move between new/ and cur/ and change their flags
// while the walk runs, which is not an error.
var errVanished = errors.New("vanished")

// inMaildir reports whether path is an entry of a Maildir's cur/, new/
// or tmp/ directory.
func inMaildir(path string) bool {
	switch filepath.Base(filepath.Dir(path)) {
	case "cur", "new", "tmp":
		return true
	}
	return false
}

// maildirOrder moves cur/ to the end of a Maildir's sorted listing (and
// leaves other listings alone), so that new/ is walked before it and a
// message moved from new/ to cur/ during the walk is found in cur/.
func maildirOrder(names []string) {
	cur := -1
	has := 0
	for i, n := range names {
		switch n {
		case "cur":
			cur = i
			has++
		case "new", "tmp":
			has++
		}
	}
	if has != 3 {
		return
	}
	copy(names[cur:], names[cur+1:])
	names[len(names)-1] = "cur"
}

// isSpool reports whether the snapshot path is an mbox spool.
func isSpool(path string) bool {
	dir := filepath.Dir(path)
	return dir == "/var/mail" || dir == "/var/spool/mail"
}

// renamedMessages lists the entries of a Maildir cur/ directory that have
// the same unique part (the name before ":2,") as the vanished one and
// were not in the listing yet.
func (a *Archiver) renamedMessages(dir, gone string, seen map[string]bool) []string {
	unique, _, _ := strings.Cut(gone, ":")
	names, _ := a.listDir(dir)
	var out []string
	for _, n := range names {
		u, _, _ := strings.Cut(n, ":")
		if u == unique && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// listDir returns the sorted names in the directory at snapshot path dir.
func (a *Archiver) listDir(dir string) ([]string, error) {
	f, err := openDir(a.disk(dir))
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	sort.Strings(names)
	if err != nil {
		return names, fmt.Errorf("list directory: %w", err)
	}
	return names, nil
}

func sortedIDs(m map[uint32]bool) []uint32 {
	out := make([]uint32, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// openDir opens a directory for listing without touching its atime, so
// that a backup does not change what the next backup records.
func openDir(path string) (*os.File, error) {
	return openNoATime(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
}

// openNoFollow opens a file for reading without following a final
// symlink, without blocking on a FIFO and without touching its atime.
func openNoFollow(path string) (*os.File, error) {
	return openNoATime(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC)
}

// openNoATime opens path, of any length, with flags and O_NOATIME where
// the process may use it (it owns the file, or has CAP_FOWNER).
func openNoATime(path string, flags int) (*os.File, error) {
	fd := -1
	err := fsmeta.WithPath(path, func(p string) error {
		var err error
		fd, err = unix.Open(p, flags|unix.O_NOATIME, 0)
		if err == unix.EPERM {
			fd, err = unix.Open(p, flags, 0)
		}
		if err != nil {
			return &os.PathError{Op: "open", Path: p, Err: err}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// chunkFile splits the open file into content-defined chunks and saves
// each one. Mail (an mbox spool, a message) is cut at message and MIME
// part boundaries too, which chunk.Detect recognises from the first bytes.
func (a *Archiver) chunkFile(ctx context.Context, f *os.File) ([]blob.ID, uint64, error) {
	n, err := f.ReadAt(a.head, 0)
	if err != nil && err != io.EOF {
		return nil, 0, fmt.Errorf("read: %w", err)
	}
	a.chunker.Reset(newHoleReader(f), chunk.Detect(a.head[:n]))
	var (
		ids  []blob.ID
		size uint64
	)
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		data, err := a.chunker.Next(a.buf)
		if err == io.EOF {
			return ids, size, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read: %w", err)
		}
		id, added, err := a.repo.SaveBlob(ctx, blob.DataBlob, data)
		if err != nil {
			return nil, 0, &fatalError{err}
		}
		if added {
			a.sum.BlobsAdded++
			a.sum.BytesAdded += uint64(len(data))
		}
		ids = append(ids, id)
		size += uint64(len(data))
		a.progress.AddBytes(uint64(len(data)))
	}
}
