package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/godwit-backup/godwit/backends"
)

const (
	dirMode  = 0o700
	tmpMatch = ".tmp-*" // pattern for os.CreateTemp; '.' is never valid in a handle name
)

// Backend is a repository directory. It holds no open files between calls
// and is safe for concurrent use by multiple goroutines, and by several
// processes sharing the directory.
type Backend struct {
	path string // absolute
}

var _ backends.Backend = (*Backend)(nil)

// Create makes a new, empty repository directory layout at path, creating
// path and its parents if needed: keys/, data/00 to data/ff, index/,
// snapshots/ and locks/, all 0700. An existing directory is used as it is
// (its mode is not changed) unless it already holds a config, which is an
// error wrapping fs.ErrExist. Create does not write the config.
func Create(ctx context.Context, path string) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create repository %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("create repository %s: %w", path, err)
	}
	_, err = os.Lstat(filepath.Join(abs, string(backends.ConfigFile)))
	switch {
	case err == nil:
		return nil, &backends.RepositoryError{Msg: fmt.Sprintf("repository %s already exists", path), Err: fs.ErrExist}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("create repository %s: %w", path, err)
	}

	dirs := []string{abs}
	for _, t := range backends.AllTypes {
		if t != backends.ConfigFile {
			dirs = append(dirs, filepath.Join(abs, string(t)))
		}
	}
	for i := range 256 {
		dirs = append(dirs, filepath.Join(abs, string(backends.PackFile), fmt.Sprintf("%02x", i)))
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return nil, fmt.Errorf("create repository %s: %w", path, err)
		}
	}
	for _, dir := range []string{filepath.Join(abs, string(backends.PackFile)), abs, filepath.Dir(abs)} {
		if err := syncDir(dir); err != nil {
			return nil, fmt.Errorf("create repository %s: %w", path, err)
		}
	}
	return &Backend{path: abs}, nil
}

// Open opens the existing repository directory at path. If path or
// path/config does not exist, the error says "repository <path> does not
// exist" and wraps fs.ErrNotExist. Missing object directories are not an
// error: Save recreates them.
func Open(ctx context.Context, path string) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	fi, err := os.Stat(filepath.Join(abs, string(backends.ConfigFile)))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, &backends.RepositoryError{Msg: fmt.Sprintf("repository %s does not exist", path), Err: fs.ErrNotExist}
	}
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, cause(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open repository %s: config is not a regular file", path)
	}
	return &Backend{path: abs}, nil
}

// Location returns the absolute path of the repository directory.
func (b *Backend) Location() string { return b.path }

func (b *Backend) filename(rel string) string {
	return filepath.Join(b.path, filepath.FromSlash(rel))
}

// Save stores data under h atomically; see backends.Backend. Saving over
// an existing object other than config fails with an error wrapping
// fs.ErrExist and leaves the object as it was. A missing object directory
// (for example data/zz for a name starting with "zz") is created. On error
// no temporary file is left behind; the object is stored only if Save
// returns nil, except when the final directory sync fails, in which case
// the object is in place but may not survive a crash.
func (b *Backend) Save(ctx context.Context, h backends.Handle, data []byte) error {
	if err := h.Valid(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	rel := backends.Path(h)
	if err := b.save(ctx, h, b.filename(rel), data); err != nil {
		return fmt.Errorf("save %s: %w", rel, cause(err))
	}
	return nil
}

func (b *Backend) save(ctx context.Context, h backends.Handle, name string, data []byte) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, tmpMatch)
	if errors.Is(err, fs.ErrNotExist) && h.Type != backends.ConfigFile {
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return err
		}
		f, err = os.CreateTemp(dir, tmpMatch)
	}
	if err != nil {
		return err
	}
	tmp := f.Name()
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = f.Close()
			}
			_ = os.Remove(tmp)
		}
	}()

	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	closed = true
	if err := f.Close(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	if h.Type == backends.ConfigFile {
		if err := os.Rename(tmp, name); err != nil {
			return err
		}
	} else {
		if err := os.Link(tmp, name); err != nil {
			return err
		}
		// The object is in place; a temporary name that cannot be
		// removed is harmless, as List never reports it.
		_ = os.Remove(tmp)
	}
	return syncDir(dir)
}

// Load calls fn with a reader over length bytes of h from offset (length 0:
// to the end); see backends.Backend. The reader reads the open file
// directly; where the range extends past the end of the object it returns
// the bytes that exist and then io.ErrUnexpectedEOF. The file is closed
// when fn returns. Load returns fn's error unchanged.
func (b *Backend) Load(ctx context.Context, h backends.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	rel, err := backends.CheckLoad(ctx, h, length, offset)
	if err != nil {
		return err
	}
	f, err := os.Open(b.filename(rel))
	if err != nil {
		return fmt.Errorf("load %s: %w", rel, cause(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("load %s: %w", rel, cause(err))
	}
	return fn(rangeReader(f, fi.Size(), offset, length))
}

// rangeReader returns a reader over length bytes of r from offset (length
// 0: to size). Where the range extends past size, the reader returns the
// bytes that exist and then io.ErrUnexpectedEOF.
func rangeReader(r io.ReaderAt, size, offset int64, length int) io.Reader {
	if offset > size {
		return errReader{io.ErrUnexpectedEOF}
	}
	avail := size - offset
	if length == 0 {
		return io.NewSectionReader(r, offset, avail)
	}
	if int64(length) > avail {
		return io.MultiReader(io.NewSectionReader(r, offset, avail), errReader{io.ErrUnexpectedEOF})
	}
	return io.NewSectionReader(r, offset, int64(length))
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// Stat returns the size of h; a missing object wraps fs.ErrNotExist.
func (b *Backend) Stat(ctx context.Context, h backends.Handle) (backends.FileInfo, error) {
	if err := h.Valid(); err != nil {
		return backends.FileInfo{}, fmt.Errorf("stat: %w", err)
	}
	rel := backends.Path(h)
	if err := ctx.Err(); err != nil {
		return backends.FileInfo{}, fmt.Errorf("stat %s: %w", rel, err)
	}
	fi, err := os.Stat(b.filename(rel))
	if err != nil {
		return backends.FileInfo{}, fmt.Errorf("stat %s: %w", rel, cause(err))
	}
	return backends.FileInfo{Name: h.Name, Size: fi.Size()}, nil
}

// List calls fn for every object of type t; for ConfigFile it reports the
// config, with an empty Name, if there is one. Temporary files, entries
// that are not regular files, names that are not valid handle names and
// pack files outside the data subdirectory their name belongs in are
// skipped. An object removed while List runs may or may not be reported.
// An error from fn stops the listing and is returned unchanged.
func (b *Backend) List(ctx context.Context, t backends.FileType, fn func(backends.FileInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", t, err)
	}
	switch t {
	case backends.ConfigFile:
		fi, err := os.Stat(b.filename(string(t)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", t, cause(err))
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		return fn(backends.FileInfo{Size: fi.Size()})
	case backends.PackFile:
		entries, err := os.ReadDir(b.filename(string(t)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("list %s: %w", t, cause(err))
		}
		for _, e := range entries {
			prefix := e.Name()
			if len(prefix) != 2 || (backends.Handle{Type: t, Name: prefix}).Valid() != nil {
				continue
			}
			if err := b.listDir(ctx, t, string(t)+"/"+prefix, prefix, fn); err != nil {
				return err
			}
		}
		return nil
	case backends.KeyFile, backends.IndexFile, backends.SnapshotFile, backends.LockFile:
		return b.listDir(ctx, t, string(t), "", fn)
	default:
		return fmt.Errorf("list: invalid file type %q", t)
	}
}

// listDir reports the objects of type t in the directory rel whose names
// start with prefix. A missing directory holds no objects.
func (b *Backend) listDir(ctx context.Context, t backends.FileType, rel, prefix string, fn func(backends.FileInfo) error) error {
	entries, err := os.ReadDir(b.filename(rel))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", rel, cause(err))
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", t, err)
		}
		name := e.Name()
		if !e.Type().IsRegular() || len(name) < len(prefix) || name[:len(prefix)] != prefix ||
			(backends.Handle{Type: t, Name: name}).Valid() != nil {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since ReadDir
		}
		if err != nil {
			return fmt.Errorf("list %s/%s: %w", rel, name, cause(err))
		}
		if err := fn(backends.FileInfo{Name: name, Size: fi.Size()}); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes h; a missing object wraps fs.ErrNotExist.
func (b *Backend) Remove(ctx context.Context, h backends.Handle) error {
	if err := h.Valid(); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	rel := backends.Path(h)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remove %s: %w", rel, err)
	}
	if err := os.Remove(b.filename(rel)); err != nil {
		return fmt.Errorf("remove %s: %w", rel, cause(err))
	}
	return nil
}

// Close does nothing and returns nil: the backend holds no resources
// between calls.
func (b *Backend) Close() error { return nil }

// syncDir makes the entries of dir durable. File systems that cannot sync a
// directory (EINVAL, ENOTSUP) are accepted as they are.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		err = nil
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// cause strips the path from os errors: the caller names the object
// instead, relative to the repository.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
