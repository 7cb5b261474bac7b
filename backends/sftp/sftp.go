package sftp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
	"syscall"

	"github.com/pkg/sftp"

	"github.com/godwit-backup/godwit/backends"
)

const (
	dirMode   = 0o700
	fileMode  = 0o600
	tmpPrefix = ".tmp-" // '.' is never valid in a handle name
	// writeChunk is how much Save writes between checks of its context.
	writeChunk = 1 << 20
	// readBuffer bounds the read-ahead of Load.
	readBuffer = 1 << 20
)

// Backend is a repository directory on an SFTP server. It is safe for
// concurrent use by multiple goroutines; at most Config.Connections
// operations run at a time, the others wait (or return when their context
// ends). It holds one ssh child process, started by Create or Open and
// restarted when it dies; Close ends it.
type Backend struct {
	cfg Config
	loc string
	sem chan struct{} // one token per running operation

	dialing chan struct{} // held while a connection is being made

	mu     sync.Mutex // guards c and closed
	c      *conn
	closed bool
}

var _ backends.Backend = (*Backend)(nil)

func newBackend(ctx context.Context, cfg Config) (*Backend, error) {
	if err := cfg.check(); err != nil && len(cfg.Command) == 0 {
		return nil, fmt.Errorf("sftp location %s: %w", cfg.Location(), err)
	}
	if !path.IsAbs(cfg.Path) {
		return nil, fmt.Errorf("sftp location %s: path %q is not absolute", cfg.Location(), cfg.Path)
	}
	cfg.Path = path.Clean(cfg.Path)
	n := cfg.Connections
	if n <= 0 {
		n = DefaultConnections
	}
	b := &Backend{cfg: cfg, loc: cfg.Location(), sem: make(chan struct{}, n), dialing: make(chan struct{}, 1)}
	if _, err := b.conn(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Create connects to the server and makes a new, empty repository layout
// at cfg.Path, creating it and its parents if needed: keys/, data/00 to
// data/ff, index/, snapshots/ and locks/, new directories 0700. An existing
// directory is used as it is unless it already holds a config, which is an
// error wrapping fs.ErrExist. Create does not write the config. The caller
// must Close the returned Backend; on error nothing is left running.
func Create(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := newBackend(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := b.create(ctx); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Backend) create(ctx context.Context) error {
	config := path.Join(b.cfg.Path, string(backends.ConfigFile))
	err := b.do(ctx, func(cl *sftp.Client, _ bool) error {
		_, err := cl.Stat(config)
		return err
	})
	switch {
	case err == nil:
		return &backends.RepositoryError{Msg: fmt.Sprintf("repository %s already exists", b.loc), Err: fs.ErrExist}
	case !errors.Is(err, fs.ErrNotExist):
		return b.explain("create repository "+b.loc, err)
	}

	var dirs []string
	for _, t := range backends.AllTypes {
		if t != backends.ConfigFile {
			dirs = append(dirs, path.Join(b.cfg.Path, string(t)))
		}
	}
	for i := range 256 {
		dirs = append(dirs, path.Join(b.cfg.Path, string(backends.PackFile), fmt.Sprintf("%02x", i)))
	}
	// One round trip per directory: run them side by side.
	errs := make([]error, len(dirs))
	var wg sync.WaitGroup
	limit := make(chan struct{}, 16)
	for i, dir := range dirs {
		wg.Go(func() {
			select {
			case limit <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-limit }()
			errs[i] = b.do(ctx, func(cl *sftp.Client, _ bool) error { return mkdirAll(cl, dir) })
		})
	}
	wg.Wait()
	// The directories usually fail for one reason; report the first.
	for _, err := range errs {
		if err != nil {
			return b.explain("create repository "+b.loc, err)
		}
	}
	return nil
}

// Open connects to the server and opens the existing repository at
// cfg.Path. If the config object does not exist, the error says
// "repository <location> does not exist" and wraps fs.ErrNotExist.
// Missing object directories are not an error: Save creates them. The
// caller must Close the returned Backend; on error nothing is left
// running.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	b, err := newBackend(ctx, cfg)
	if err != nil {
		return nil, err
	}
	config := path.Join(b.cfg.Path, string(backends.ConfigFile))
	err = b.do(ctx, func(cl *sftp.Client, _ bool) error {
		fi, err := cl.Stat(config)
		if err == nil && !fi.Mode().IsRegular() {
			return fmt.Errorf("config is not a regular file")
		}
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = &backends.RepositoryError{Msg: fmt.Sprintf("repository %s does not exist", b.loc), Err: fs.ErrNotExist}
	} else if err != nil {
		err = b.explain("open repository "+b.loc, err)
	}
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

// Location returns sftp://[user@]host[:port]/path; it holds no credentials.
func (b *Backend) Location() string { return b.loc }

// conn returns the current connection, starting a new one if there is
// none or the last one died. One caller dials at a time; the others wait
// for it, or return when their ctx ends.
func (b *Backend) conn(ctx context.Context) (*conn, error) {
	if c, err := b.current(); c != nil || err != nil {
		return c, err
	}
	select {
	case b.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-b.dialing }()
	// Someone else may have connected while this caller waited.
	if c, err := b.current(); c != nil || err != nil {
		return c, err
	}
	c, err := dial(ctx, b.cfg)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		c.close()
		return nil, b.closedError()
	}
	b.c = c
	return c, nil
}

// current returns the live connection, or nil if there is none (ending a
// dead one), or an error if the backend is closed.
func (b *Backend) current() (*conn, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, b.closedError()
	}
	if b.c != nil && b.c.dead() {
		b.c.close()
		b.c = nil
	}
	return b.c, nil
}

func (b *Backend) closedError() error {
	return fmt.Errorf("backend %s is closed: %w", b.loc, os.ErrClosed)
}

// drop ends c if it is still the current connection.
func (b *Backend) drop(c *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c == c {
		b.c = nil
	}
	c.close()
}

// do runs fn on a connection. If fn fails because the connection was lost,
// do runs it once more on a new connection, with retry set, unless ctx has
// ended.
func (b *Backend) do(ctx context.Context, fn func(cl *sftp.Client, retry bool) error) error {
	for attempt := 0; ; attempt++ {
		c, err := b.conn(ctx)
		if err != nil {
			return err
		}
		err = fn(c.client, attempt > 0)
		if err == nil || attempt > 0 || ctx.Err() != nil || !c.lost(err) {
			return err
		}
		b.drop(c)
	}
}

// acquire waits for an operation slot; release gives it back.
func (b *Backend) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case b.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Backend) release() { <-b.sem }

func (b *Backend) filename(rel string) string { return path.Join(b.cfg.Path, rel) }

// Save stores data under h atomically; see backends.Backend. Saving over
// an existing object other than config fails with an error wrapping
// fs.ErrExist and leaves the object as it was. A missing object directory
// is created. On error Save removes its temporary file if the connection
// still works. If the connection drops after the object was linked into
// place but before the server confirmed it, the retry finds the object
// present with the same contents and reports success.
func (b *Backend) Save(ctx context.Context, h backends.Handle, data []byte) error {
	if err := h.Valid(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	rel := backends.Path(h)
	if err := b.acquire(ctx); err != nil {
		return fmt.Errorf("save %s: %w", rel, err)
	}
	defer b.release()
	err := b.do(ctx, func(cl *sftp.Client, retry bool) error {
		return b.save(ctx, cl, h, b.filename(rel), data, retry)
	})
	if err != nil {
		return b.explain("save "+rel, err)
	}
	return nil
}

func (b *Backend) save(ctx context.Context, cl *sftp.Client, h backends.Handle, name string, data []byte, retry bool) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := path.Dir(name)
	var suffix [12]byte
	_, _ = rand.Read(suffix[:])
	tmp := path.Join(dir, tmpPrefix+hex.EncodeToString(suffix[:]))

	f, err := cl.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if errors.Is(err, fs.ErrNotExist) && h.Type != backends.ConfigFile {
		if err := mkdirAll(cl, dir); err != nil {
			return err
		}
		f, err = cl.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	}
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = f.Close()
			}
			// Ask for the free space while the partial file still uses it.
			if isFailure(err) {
				err = diskFull(cl, dir, len(data), err)
			}
			_ = cl.Remove(tmp)
		}
	}()

	if err := f.Chmod(fileMode); err != nil {
		return err
	}
	for rest := data; len(rest) > 0; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(rest), writeChunk)
		if _, err := f.Write(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	if _, ok := cl.HasExtension("fsync@openssh.com"); ok {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	closed = true
	if err := f.Close(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	if h.Type == backends.ConfigFile {
		if _, ok := cl.HasExtension("posix-rename@openssh.com"); ok {
			return cl.PosixRename(tmp, name)
		}
		// Without the extension the SFTP rename refuses to replace; this
		// leaves a moment without a config, which only a concurrent Save
		// of the config can observe.
		if err := cl.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return cl.Rename(tmp, name)
	}

	if _, ok := cl.HasExtension("hardlink@openssh.com"); ok {
		err = cl.Link(tmp, name)
		if err == nil {
			// The object is in place; a temporary name that cannot be
			// removed is harmless, as List never reports it.
			_ = cl.Remove(tmp)
		}
	} else {
		err = cl.Rename(tmp, name)
	}
	if err != nil {
		if _, serr := cl.Stat(name); serr == nil {
			if retry && sameContents(cl, name, data) {
				return nil
			}
			return fmt.Errorf("%w: %w", fs.ErrExist, err)
		}
	}
	return err
}

// sameContents reports whether the file name holds exactly data.
func sameContents(cl *sftp.Client, name string, data []byte) bool {
	f, err := cl.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	got, err := io.ReadAll(io.LimitReader(f, int64(len(data))+1))
	return err == nil && bytes.Equal(got, data)
}

// mkdirAll creates dir and its missing parents, new ones with mode 0700.
// A directory created concurrently by someone else is not an error.
func mkdirAll(cl *sftp.Client, dir string) error {
	fi, err := cl.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s: %w", dir, syscall.ENOTDIR)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if parent := path.Dir(dir); parent != dir {
		if err := mkdirAll(cl, parent); err != nil {
			return err
		}
	}
	if err := cl.Mkdir(dir); err != nil {
		if fi, serr := cl.Stat(dir); serr == nil && fi.IsDir() {
			return nil
		}
		return err
	}
	return cl.Chmod(dir, dirMode)
}

// Load calls fn with a reader over length bytes of h from offset (length 0:
// to the end); see backends.Backend. Where the range extends past the end
// of the object, the reader returns the bytes that exist and then
// io.ErrUnexpectedEOF. The reader returns ctx's error once ctx ends. If
// the connection drops while fn reads, fn is called again on a new
// connection. Load returns fn's error unchanged.
func (b *Backend) Load(ctx context.Context, h backends.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	if err := h.Valid(); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	rel := backends.Path(h)
	if length < 0 || offset < 0 {
		return fmt.Errorf("load %s: invalid range: offset %d, length %d", rel, offset, length)
	}
	if err := b.acquire(ctx); err != nil {
		return fmt.Errorf("load %s: %w", rel, err)
	}
	defer b.release()
	var fnErr error
	err := b.do(ctx, func(cl *sftp.Client, _ bool) error {
		fnErr = nil
		f, err := cl.Open(b.filename(rel))
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rd := rangeReader(f, fi.Size(), offset, length)
		fnErr = fn(&ctxReader{ctx: ctx, r: rd})
		return fnErr
	})
	if err != nil && err == fnErr {
		return err
	}
	if err != nil {
		return b.explain("load "+rel, err)
	}
	return nil
}

// rangeReader returns a buffered reader over length bytes of r from offset
// (length 0: to size). Where the range extends past size, the reader
// returns the bytes that exist and then io.ErrUnexpectedEOF.
func rangeReader(r io.ReaderAt, size, offset int64, length int) io.Reader {
	if offset > size {
		return errReader{io.ErrUnexpectedEOF}
	}
	avail := size - offset
	n := avail
	if length > 0 {
		n = min(int64(length), avail)
	}
	// Large reads let the client keep several requests in flight.
	var rd io.Reader = bufio.NewReaderSize(io.NewSectionReader(r, offset, n), int(max(min(n, readBuffer), 16)))
	if length > 0 && int64(length) > avail {
		rd = io.MultiReader(rd, errReader{io.ErrUnexpectedEOF})
	}
	return rd
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// ctxReader fails with ctx's error once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// Stat returns the size of h; a missing object wraps fs.ErrNotExist.
func (b *Backend) Stat(ctx context.Context, h backends.Handle) (backends.FileInfo, error) {
	if err := h.Valid(); err != nil {
		return backends.FileInfo{}, fmt.Errorf("stat: %w", err)
	}
	rel := backends.Path(h)
	fi, err := b.stat(ctx, rel)
	if err != nil {
		return backends.FileInfo{}, b.explain("stat "+rel, err)
	}
	return backends.FileInfo{Name: h.Name, Size: fi.Size()}, nil
}

// stat returns what the server says about the file rel.
func (b *Backend) stat(ctx context.Context, rel string) (os.FileInfo, error) {
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	defer b.release()
	var fi os.FileInfo
	err := b.do(ctx, func(cl *sftp.Client, _ bool) error {
		var err error
		fi, err = cl.Stat(b.filename(rel))
		if err != nil {
			return err
		}
		return ctx.Err()
	})
	return fi, err
}

// List calls fn for every object of type t; for ConfigFile it reports the
// config, with an empty Name, if there is one. Temporary files, entries
// that are not regular files, names that are not valid handle names and
// pack files outside the data subdirectory their name belongs in are
// skipped. Each directory is read whole before fn sees its entries, so an
// object removed while List runs may still be reported; a directory read
// cut short by a lost connection is read again, and fn never sees an
// object twice. fn runs without holding one of the backend's connection
// slots, so it may call the backend. An error from fn stops the listing
// and is returned unchanged.
func (b *Backend) List(ctx context.Context, t backends.FileType, fn func(backends.FileInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", t, err)
	}
	switch t {
	case backends.ConfigFile:
		fi, err := b.stat(ctx, string(t))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return b.explain("list "+string(t), err)
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		return fn(backends.FileInfo{Size: fi.Size()})
	case backends.PackFile:
		entries, err := b.readDir(ctx, string(t))
		if err != nil {
			return b.explain("list "+string(t), err)
		}
		for _, e := range entries {
			prefix := e.Name()
			if len(prefix) != 2 || !e.IsDir() || (backends.Handle{Type: t, Name: prefix}).Valid() != nil {
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

// readDir reads the directory rel; a missing directory is empty.
func (b *Backend) readDir(ctx context.Context, rel string) ([]os.FileInfo, error) {
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	defer b.release()
	var entries []os.FileInfo
	err := b.do(ctx, func(cl *sftp.Client, _ bool) error {
		var err error
		entries, err = cl.ReadDirContext(ctx, b.filename(rel))
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		return err
	})
	return entries, err
}

// listDir reports the objects of type t in the directory rel whose names
// start with prefix.
func (b *Backend) listDir(ctx context.Context, t backends.FileType, rel, prefix string, fn func(backends.FileInfo) error) error {
	entries, err := b.readDir(ctx, rel)
	if err != nil {
		return b.explain("list "+rel, err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", t, err)
		}
		name := e.Name()
		if !e.Mode().IsRegular() || len(name) < len(prefix) || name[:len(prefix)] != prefix ||
			(backends.Handle{Type: t, Name: name}).Valid() != nil {
			continue
		}
		if err := fn(backends.FileInfo{Name: name, Size: e.Size()}); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes h; a missing object wraps fs.ErrNotExist. If the
// connection drops before the server confirms the removal, Remove tries
// again, and then an object that is already gone counts as removed.
func (b *Backend) Remove(ctx context.Context, h backends.Handle) error {
	if err := h.Valid(); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	rel := backends.Path(h)
	if err := b.acquire(ctx); err != nil {
		return fmt.Errorf("remove %s: %w", rel, err)
	}
	defer b.release()
	err := b.do(ctx, func(cl *sftp.Client, retry bool) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := cl.Remove(b.filename(rel))
		if retry && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
	if err != nil {
		return b.explain("remove "+rel, err)
	}
	return nil
}

// Close kills the ssh process and waits for it to exit. Operations still
// running fail; a connection being made when Close is called is ended as
// soon as it is made. The backend is unusable afterwards; Close may be called
// more than once and always returns nil.
func (b *Backend) Close() error {
	b.mu.Lock()
	c := b.c
	b.c = nil
	b.closed = true
	b.mu.Unlock()
	if c != nil {
		c.close()
	}
	return nil
}

// explain wraps err, from an operation named op, in one layer of context.
// It strips the server-side path from file errors (the caller names the
// object relative to the repository), and says what to do about a denied
// permission or a full disk. Connection failures already say so.
func (b *Backend) explain(op string, err error) error {
	var ce *connectError
	if errors.As(err, &ce) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var full *diskFullError
	if errors.As(err, &full) {
		return fmt.Errorf("%s: %w; free space on the server or move the repository %s elsewhere", op, full, b.loc)
	}
	if errors.Is(err, fs.ErrPermission) {
		user := b.cfg.User
		if user == "" {
			user = "the login user"
		}
		return fmt.Errorf("%s: permission denied on the server for %s; %s needs read and write access to the repository directory and everything in it: %w",
			op, b.loc, user, &permanentError{cause(err)})
	}
	return fmt.Errorf("%s: %w", op, cause(err))
}

// permanentError marks err as one no retry can fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() []error { return []error{e.err, backends.ErrPermanent} }

// diskFullError is a write the server refused because its file system is
// full. It wraps syscall.ENOSPC and backends.ErrPermanent.
type diskFullError struct {
	free, need int64
	err        error
}

func (e *diskFullError) Error() string {
	return fmt.Sprintf("no space left on the server (%d bytes free, %d bytes to write): %v", e.free, e.need, e.err)
}

func (e *diskFullError) Unwrap() []error {
	return []error{e.err, syscall.ENOSPC, backends.ErrPermanent}
}

// isFailure reports whether err is the generic SFTP failure status, which
// OpenSSH's server sends for, among others, a full disk.
func isFailure(err error) bool {
	var se *sftp.StatusError
	return errors.As(err, &se) && se.FxCode() == sftp.ErrSSHFxFailure
}

// diskFull turns err into a diskFullError if the file system of dir
// (asked with statvfs@openssh.com, where the server has it) has less room
// than need bytes. Otherwise it returns err.
func diskFull(cl *sftp.Client, dir string, need int, err error) error {
	if _, ok := cl.HasExtension("statvfs@openssh.com"); !ok {
		return err
	}
	st, serr := cl.StatVFS(dir)
	if serr != nil {
		return err
	}
	free := int64(st.Bavail * st.Frsize)
	if free >= int64(need) && st.Favail > 0 {
		return err
	}
	return &diskFullError{free: free, need: int64(need), err: err}
}

// cause strips the path from file errors.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
