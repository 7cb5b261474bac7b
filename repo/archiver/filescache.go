package archiver

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/zeebo/blake3"

	"github.com/godwit-backup/godwit/repo/blob"
)

// filesCacheMagic starts a files cache file and names its encoding; a file
// with another start is ignored (it costs one re-read of every file, never
// wrong data). Version 1 was a gob-encoded map.
var filesCacheMagic = []byte("godwit files cache 2\n")

// Record kinds in a files cache file.
const (
	recEntry = 1
	recEnd   = 2 // followed by the number of entries; a file without it is cut short
)

// maxCachedBlobs bounds the blob count of one entry read from a cache
// file, so a damaged file cannot make Load allocate without limit.
const maxCachedBlobs = 1 << 20

// CacheEntry is what the files cache remembers about one file.
type CacheEntry struct {
	Device  uint64
	Inode   uint64
	Size    uint64
	MTime   int64 // nanoseconds
	CTime   int64
	Content []blob.ID
}

// pathKey identifies a path in the cache: the first 16 bytes of its BLAKE3
// hash. The cache holds no file names, and an entry costs the same
// whatever the length of its path.
type pathKey [16]byte

func keyOf(path string) pathKey {
	sum := blake3.Sum256([]byte(path))
	return pathKey(sum[:16])
}

// cacheRecord is one entry of a loaded cache: 64 bytes, with its blob ids
// in the cache's shared arena.
type cacheRecord struct {
	key          pathKey
	dev, ino     uint64
	size         uint64
	mtime, ctime int64
	off, n       uint32 // Content is ids[off : off+n]
}

// FilesCache maps paths to the content of the file the last backup found
// there, so an unchanged file costs one lstat. It holds hashes of paths
// and keyed blob ids, nothing that decrypts anything.
//
// Memory stays proportional to the previous backup's file count, at about
// 64 bytes plus 32 per blob per file: the previous backup's entries are a
// sorted slice, and the entries of this backup go straight to a temporary
// file next to the cache, which Save renames into place. Call Discard when
// the backup fails, to remove that file. A FilesCache is not safe for
// concurrent use; a nil *FilesCache is an empty cache that records nothing.
type FilesCache struct {
	path string
	old  []cacheRecord // sorted by key
	ids  []blob.ID

	tmp     *os.File
	w       *bufio.Writer
	count   uint64
	err     error // the first error writing the new cache; Save returns it
	scratch []byte
}

// NewFilesCache returns an empty cache that Save writes to path.
func NewFilesCache(path string) *FilesCache {
	return &FilesCache{path: path}
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
	// Two passes: the first counts entries and blob ids, so that the
	// second fills arrays of exactly that size (arrays grown by append
	// would hold up to twice as much on the way).
	nrecs, nids, err := readFilesCache(bufio.NewReaderSize(f, 1<<16), nil)
	if err == nil && nrecs > 0 {
		if _, err = f.Seek(0, io.SeekStart); err == nil {
			c.old, c.ids = make([]cacheRecord, 0, nrecs), make([]blob.ID, 0, nids)
			_, _, err = readFilesCache(bufio.NewReaderSize(f, 1<<16), c)
		}
	}
	if err != nil {
		c.old, c.ids = nil, nil
		return c, fmt.Errorf("files cache %s unreadable, files will be re-read: %w", path, err)
	}
	slices.SortFunc(c.old, func(a, b cacheRecord) int { return bytes.Compare(a.key[:], b.key[:]) })
	return c, nil
}

// readFilesCache decodes a cache file and returns the number of entries
// and blob ids in it. With into set, it appends them to into.old (unsorted)
// and into.ids; without, it only counts. A file of another version has no
// entries and is no error.
func readFilesCache(r *bufio.Reader, into *FilesCache) (nrecs, nids int, err error) {
	head := make([]byte, len(filesCacheMagic))
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, filesCacheMagic) {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || err == nil {
			return 0, 0, nil // empty, older or foreign: start afresh
		}
		return 0, 0, err
	}
	for {
		kind, err := r.ReadByte()
		if err != nil {
			return 0, 0, fmt.Errorf("cut short after %d entries", nrecs)
		}
		switch kind {
		case recEnd:
			n, err := binary.ReadUvarint(r)
			if err != nil || n != uint64(nrecs) {
				return 0, 0, fmt.Errorf("end record says %d entries, read %d", n, nrecs)
			}
			return nrecs, nids, nil
		case recEntry:
		default:
			return 0, 0, fmt.Errorf("unknown record kind %d after %d entries", kind, nrecs)
		}
		var rec cacheRecord
		if _, err := io.ReadFull(r, rec.key[:]); err != nil {
			return 0, 0, fmt.Errorf("entry %d: %w", nrecs, err)
		}
		var v [6]uint64
		for i := range v {
			if v[i], err = binary.ReadUvarint(r); err != nil {
				return 0, 0, fmt.Errorf("entry %d: %w", nrecs, err)
			}
		}
		if v[5] > maxCachedBlobs || uint64(nids)+v[5] > 1<<32-1 {
			return 0, 0, fmt.Errorf("entry %d: %d blobs", nrecs, v[5])
		}
		nrecs, nids = nrecs+1, nids+int(v[5])
		if into == nil {
			if _, err := r.Discard(int(v[5]) * len(blob.ID{})); err != nil {
				return 0, 0, fmt.Errorf("entry %d: %w", nrecs-1, err)
			}
			continue
		}
		rec.dev, rec.ino, rec.size = v[0], v[1], v[2]
		rec.mtime, rec.ctime = int64(v[3]), int64(v[4])
		rec.off, rec.n = uint32(len(into.ids)), uint32(v[5])
		for range v[5] {
			var id blob.ID
			if _, err := io.ReadFull(r, id[:]); err != nil {
				return 0, 0, fmt.Errorf("entry %d: %w", nrecs-1, err)
			}
			into.ids = append(into.ids, id)
		}
		into.old = append(into.old, rec)
	}
}

// Lookup returns the entry the previous backup recorded for path. The
// entry's Content must not be modified.
func (c *FilesCache) Lookup(path string) (CacheEntry, bool) {
	if c == nil || len(c.old) == 0 {
		return CacheEntry{}, false
	}
	k := keyOf(path)
	i, ok := slices.BinarySearchFunc(c.old, k, func(r cacheRecord, k pathKey) int { return bytes.Compare(r.key[:], k[:]) })
	if !ok {
		return CacheEntry{}, false
	}
	r := &c.old[i]
	return CacheEntry{
		Device: r.dev, Inode: r.ino, Size: r.size, MTime: r.mtime, CTime: r.ctime,
		Content: c.ids[r.off : r.off+r.n : r.off+r.n],
	}, true
}

// Record remembers the entry for this backup, appending it to the new
// cache file. A write error is kept for Save to return; it never stops
// the backup.
func (c *FilesCache) Record(path string, e CacheEntry) {
	if c == nil || c.err != nil {
		return
	}
	if c.w == nil {
		if c.err = c.create(); c.err != nil {
			return
		}
	}
	k := keyOf(path)
	b := append(c.scratch[:0], recEntry)
	b = append(b, k[:]...)
	for _, v := range []uint64{e.Device, e.Inode, e.Size, uint64(e.MTime), uint64(e.CTime), uint64(len(e.Content))} {
		b = binary.AppendUvarint(b, v)
	}
	for _, id := range e.Content {
		b = append(b, id[:]...)
	}
	c.scratch = b
	if _, err := c.w.Write(b); err != nil {
		c.err = fmt.Errorf("files cache: %w", err)
		return
	}
	c.count++
}

// create opens the temporary file the new cache is written to.
func (c *FilesCache) create() error {
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("files cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".files-*")
	if err != nil {
		return fmt.Errorf("files cache: %w", err)
	}
	c.tmp, c.w = tmp, bufio.NewWriterSize(tmp, 1<<16)
	if _, err := c.w.Write(filesCacheMagic); err != nil {
		c.Discard()
		return fmt.Errorf("files cache: %w", err)
	}
	return nil
}

// Save finishes the entries recorded in this backup and replaces the old
// cache with them atomically; files the backup did not see are dropped.
// After Save the cache records nothing more.
func (c *FilesCache) Save() error {
	if c == nil {
		return nil
	}
	if c.err == nil && c.w == nil {
		c.err = c.create()
	}
	if c.err != nil {
		c.Discard()
		return c.err
	}
	b := binary.AppendUvarint([]byte{recEnd}, c.count)
	_, err := c.w.Write(b)
	if err == nil {
		err = c.w.Flush()
	}
	if err == nil {
		err = c.tmp.Close()
	}
	name := c.tmp.Name()
	c.tmp, c.w = nil, nil
	if err == nil {
		err = os.Rename(name, c.path)
	}
	if err != nil {
		os.Remove(name)
		c.err = fmt.Errorf("files cache: %w", err)
		return c.err
	}
	c.err = errors.New("files cache: already saved")
	return nil
}

// Discard removes the new cache file, keeping the old cache as it is. It
// is safe to call after Save, and more than once.
func (c *FilesCache) Discard() {
	if c == nil || c.tmp == nil {
		return
	}
	c.tmp.Close()
	os.Remove(c.tmp.Name())
	c.tmp, c.w = nil, nil
}
