// Package backends defines the storage interface godwit repositories are
// kept on. It knows nothing of the repository format: objects are opaque,
// immutable, content-named byte strings.
package backends

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// FileType is the kind of object, and the directory it lives in.
type FileType string

const (
	ConfigFile   FileType = "config"
	KeyFile      FileType = "keys"
	PackFile     FileType = "data"
	IndexFile    FileType = "index"
	SnapshotFile FileType = "snapshots"
	LockFile     FileType = "locks"
)

// AllTypes lists every FileType, config first.
var AllTypes = []FileType{ConfigFile, KeyFile, PackFile, IndexFile, SnapshotFile, LockFile}

// Handle names one object. Name is empty for the config.
type Handle struct {
	Type FileType
	Name string
}

func (h Handle) String() string {
	if h.Type == ConfigFile {
		return "config"
	}
	return string(h.Type) + "/" + h.Name
}

// Valid reports whether the handle can name an object.
func (h Handle) Valid() error {
	switch h.Type {
	case ConfigFile:
		if h.Name != "" {
			return fmt.Errorf("config handle with name %q", h.Name)
		}
		return nil
	case KeyFile, PackFile, IndexFile, SnapshotFile, LockFile:
	default:
		return fmt.Errorf("invalid file type %q", h.Type)
	}
	if h.Name == "" || len(h.Name) > 128 {
		return fmt.Errorf("invalid object name %q", h.Name)
	}
	for _, c := range h.Name {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return fmt.Errorf("invalid object name %q", h.Name)
		}
	}
	if h.Type == PackFile && len(h.Name) < 2 {
		return fmt.Errorf("pack name %q too short", h.Name)
	}
	return nil
}

// FileInfo describes a stored object.
type FileInfo struct {
	Name string
	Size int64
}

// Backend stores immutable objects. Implementations must be safe for
// concurrent use by multiple goroutines.
type Backend interface {
	// Location returns a description of where the repository is, without
	// credentials, for messages.
	Location() string

	// Save stores data under h atomically: a concurrent or later reader
	// sees either nothing or all of data, never a prefix. Saving over an
	// existing object is an error wrapping fs.ErrExist for every type but
	// ConfigFile, which may be replaced. Save does not retain data.
	Save(ctx context.Context, h Handle, data []byte) error

	// Load calls fn with a reader over length bytes of h starting at
	// offset; length 0 means to the end of the object. fn may be called
	// more than once (a retrying wrapper calls it again after a transient
	// failure) and must be idempotent; the reader is valid only during the
	// call. A missing object wraps fs.ErrNotExist. Reading past the end
	// of the object returns io.ErrUnexpectedEOF from the reader.
	Load(ctx context.Context, h Handle, length int, offset int64, fn func(rd io.Reader) error) error

	// Stat returns the size of h; a missing object wraps fs.ErrNotExist.
	Stat(ctx context.Context, h Handle) (FileInfo, error)

	// List calls fn for every object of type t, in no particular order.
	// An error from fn stops the listing and is returned.
	List(ctx context.Context, t FileType, fn func(FileInfo) error) error

	// Remove deletes h; a missing object wraps fs.ErrNotExist.
	Remove(ctx context.Context, h Handle) error

	// Close releases connections. The backend is unusable afterwards.
	Close() error
}

// ErrPermanent marks errors that no retry can fix (authentication,
// permission, a missing bucket). Wrap it with fmt.Errorf("...: %w").
var ErrPermanent = errors.New("permanent error")

// ErrRetained is wrapped by the error of a Remove that the store refused
// because the object is under retention (S3 Object Lock). Such objects
// disappear only when their retention ends.
var ErrRetained = errors.New("object under retention")

// IsNotExist reports whether err says the object does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// MaxObjectSize returns the largest object LoadAll reads of type t: a
// larger object is refused instead of read, so a storage that serves
// garbage cannot make a client use unbounded memory. Packs are bounded by
// the largest pack size a config may set plus room for its header.
func MaxObjectSize(t FileType) int64 {
	switch t {
	case SnapshotFile:
		return 64 << 20
	case IndexFile:
		return 512 << 20
	case PackFile:
		return 1<<30 + 256<<20
	}
	return 1 << 20 // config, keys, locks
}

// ErrTooLarge is wrapped by LoadAll's error for an object larger than
// MaxObjectSize allows.
var ErrTooLarge = errors.New("object too large")

// LoadAll reads a whole object into memory, refusing objects larger than
// MaxObjectSize allows for their type.
func LoadAll(ctx context.Context, be Backend, h Handle) ([]byte, error) {
	limit := MaxObjectSize(h.Type)
	var data []byte
	err := be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		var err error
		data, err = io.ReadAll(io.LimitReader(rd, limit+1))
		if err == nil && int64(len(data)) > limit {
			data = nil
			return fmt.Errorf("%s: more than %d bytes: %w", h, limit, ErrTooLarge)
		}
		return err
	})
	return data, err
}

// Path returns the slash-separated path of the object inside the
// repository, the same on every backend: "config", "keys/<name>",
// "data/<first two characters>/<name>", "index/<name>", ... h must be
// valid.
func Path(h Handle) string {
	switch h.Type {
	case ConfigFile:
		return string(ConfigFile)
	case PackFile:
		return string(h.Type) + "/" + h.Name[:2] + "/" + h.Name
	default:
		return string(h.Type) + "/" + h.Name
	}
}

// CheckLoad validates Load's arguments the way every backend must: a
// valid handle, a live context and a non-negative range. It returns the
// object's path for error messages.
func CheckLoad(ctx context.Context, h Handle, length int, offset int64) (string, error) {
	if err := h.Valid(); err != nil {
		return "", fmt.Errorf("load: %w", err)
	}
	rel := Path(h)
	if err := ctx.Err(); err != nil {
		return rel, fmt.Errorf("load %s: %w", rel, err)
	}
	if length < 0 || offset < 0 {
		return rel, fmt.Errorf("load %s: invalid range: offset %d, length %d", rel, offset, length)
	}
	return rel, nil
}

// RepositoryError is the error for a repository that is missing or
// already present: it reads as one sentence and still matches err
// (fs.ErrNotExist or fs.ErrExist).
type RepositoryError struct {
	Msg string
	Err error
}

func (e *RepositoryError) Error() string { return e.Msg }
func (e *RepositoryError) Unwrap() error { return e.Err }
