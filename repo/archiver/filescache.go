package archiver

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/godwit-backup/godwit/repo/blob"
)

// filesCacheVersion changes when the encoding changes; an old cache is
// then ignored (it costs one re-read of every file, never wrong data).
const filesCacheVersion = 1

// CacheEntry is what the files cache remembers about one file.
type CacheEntry struct {
	Device  uint64
	Inode   uint64
	Size    uint64
	MTime   int64 // nanoseconds
	CTime   int64
	Content []blob.ID
}

// FilesCache maps absolute paths to the content of the file the last
// backup found there, so an unchanged file costs one lstat. It holds
// paths and keyed blob ids, nothing that decrypts anything. It is not
// safe for concurrent use.
type FilesCache struct {
	path string
	old  map[string]CacheEntry
	new  map[string]CacheEntry
}

type filesCacheFile struct {
	Version int
	Entries map[string]CacheEntry
}

// NewFilesCache returns an empty cache that Save writes to path.
func NewFilesCache(path string) *FilesCache {
	return &FilesCache{path: path, old: map[string]CacheEntry{}, new: map[string]CacheEntry{}}
}

// LoadFilesCache reads the cache at path. A missing, unreadable or
// outdated cache gives an empty one (and, if unreadable, an error the
// caller may print as a warning).
func LoadFilesCache(path string) (*FilesCache, error) {
	c := NewFilesCache(path)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("files cache: %w", err)
	}
	defer f.Close()
	var file filesCacheFile
	if err := gob.NewDecoder(bufio.NewReader(f)).Decode(&file); err != nil {
		return c, fmt.Errorf("files cache %s unreadable, files will be re-read: %w", path, err)
	}
	if file.Version == filesCacheVersion && file.Entries != nil {
		c.old = file.Entries
	}
	return c, nil
}

// Lookup returns the entry the previous backup recorded for path.
func (c *FilesCache) Lookup(path string) (CacheEntry, bool) {
	if c == nil {
		return CacheEntry{}, false
	}
	e, ok := c.old[path]
	return e, ok
}

// Record remembers the entry for this backup.
func (c *FilesCache) Record(path string, e CacheEntry) {
	if c == nil {
		return
	}
	c.new[path] = e
}

// Save writes the entries recorded in this backup, replacing the old
// cache atomically. Files the backup did not see are dropped.
func (c *FilesCache) Save() error {
	if c == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("files cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".files-*")
	if err != nil {
		return fmt.Errorf("files cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	if err := gob.NewEncoder(w).Encode(filesCacheFile{Version: filesCacheVersion, Entries: c.new}); err != nil {
		tmp.Close()
		return fmt.Errorf("files cache: %w", err)
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("files cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("files cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("files cache: %w", err)
	}
	return nil
}
