package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"

	"github.com/godwit-backup/godwit/backends"
)

// Backend stores objects in a map. It is safe for concurrent use by
// multiple goroutines. The zero value is not usable; call New.
type Backend struct {
	mu      sync.RWMutex
	objects map[backends.Handle][]byte // values are never modified once stored
}

var _ backends.Backend = (*Backend)(nil)

// New returns an empty in-memory backend.
func New() *Backend {
	return &Backend{objects: make(map[backends.Handle][]byte)}
}

// Location returns "mem".
func (b *Backend) Location() string { return "mem" }

// Save stores a copy of data under h; see backends.Backend.
func (b *Backend) Save(ctx context.Context, h backends.Handle, data []byte) error {
	if err := h.Valid(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save %s: %w", h, err)
	}
	stored := bytes.Clone(data)
	if stored == nil {
		stored = []byte{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.objects[h]; ok && h.Type != backends.ConfigFile {
		return fmt.Errorf("save %s: %w", h, fs.ErrExist)
	}
	b.objects[h] = stored
	return nil
}

// Load calls fn with a reader over length bytes of h from offset (length 0:
// to the end); see backends.Backend. Load returns fn's error unchanged.
func (b *Backend) Load(ctx context.Context, h backends.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	if err := h.Valid(); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("load %s: %w", h, err)
	}
	if length < 0 || offset < 0 {
		return fmt.Errorf("load %s: invalid range: offset %d, length %d", h, offset, length)
	}
	b.mu.RLock()
	data, ok := b.objects[h]
	b.mu.RUnlock()
	if !ok {
		return fmt.Errorf("load %s: %w", h, fs.ErrNotExist)
	}
	return fn(rangeReader(data, offset, length))
}

// rangeReader returns a reader over length bytes of data from offset
// (length 0: to the end). Where the range extends past the end, the reader
// returns the bytes that exist and then io.ErrUnexpectedEOF.
func rangeReader(data []byte, offset int64, length int) io.Reader {
	if offset > int64(len(data)) {
		return errReader{io.ErrUnexpectedEOF}
	}
	rest := data[offset:]
	if length == 0 {
		return bytes.NewReader(rest)
	}
	if length > len(rest) {
		return io.MultiReader(bytes.NewReader(rest), errReader{io.ErrUnexpectedEOF})
	}
	return bytes.NewReader(rest[:length])
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// Stat returns the size of h; a missing object wraps fs.ErrNotExist.
func (b *Backend) Stat(ctx context.Context, h backends.Handle) (backends.FileInfo, error) {
	if err := h.Valid(); err != nil {
		return backends.FileInfo{}, fmt.Errorf("stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return backends.FileInfo{}, fmt.Errorf("stat %s: %w", h, err)
	}
	b.mu.RLock()
	data, ok := b.objects[h]
	b.mu.RUnlock()
	if !ok {
		return backends.FileInfo{}, fmt.Errorf("stat %s: %w", h, fs.ErrNotExist)
	}
	return backends.FileInfo{Name: h.Name, Size: int64(len(data))}, nil
}

// List calls fn for every object of type t; for ConfigFile it reports the
// config, with an empty Name, if there is one. fn is called without the
// backend's lock held, so it may call other methods; objects saved or
// removed while List runs may or may not be reported. An error from fn
// stops the listing and is returned unchanged.
func (b *Backend) List(ctx context.Context, t backends.FileType, fn func(backends.FileInfo) error) error {
	if !slices.Contains(backends.AllTypes, t) {
		return fmt.Errorf("list: invalid file type %q", t)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", t, err)
	}
	var infos []backends.FileInfo
	b.mu.RLock()
	for h, data := range b.objects {
		if h.Type == t {
			infos = append(infos, backends.FileInfo{Name: h.Name, Size: int64(len(data))})
		}
	}
	b.mu.RUnlock()
	for _, fi := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", t, err)
		}
		if err := fn(fi); err != nil {
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
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remove %s: %w", h, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.objects[h]; !ok {
		return fmt.Errorf("remove %s: %w", h, fs.ErrNotExist)
	}
	delete(b.objects, h)
	return nil
}

// Close returns nil. The objects stay in memory, and the backend stays
// usable, until it is no longer referenced.
func (b *Backend) Close() error { return nil }
