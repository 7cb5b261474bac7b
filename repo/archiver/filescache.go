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

// cacheRecord is one entry of a loaded cache: 64 bytes. Its blob ids stay
// in the cache file, at pos, and are read when the entry is looked up.
type cacheRecord struct {
	key          pathKey
	dev, ino     uint64
	size         uint64
	mtime, ctime int64
	pos, n       uint32 // n blob ids at byte pos of the file
}

// FilesCache maps paths to the content of the file the last backup found
// there, so an unchanged file costs one lstat. It holds hashes of paths
// and keyed blob ids, nothing that decrypts anything.
//
// Memory stays proportional to the previous backup's file count, at 64
// bytes per file: the previous backup's entries are a sorted slice whose
// blob ids stay in the cache file (read when an entry is looked up, one
// pread from the page cache), and the entries of this backup go straight
// to a temporary file next to the cache, which Save renames into place.
// Call Discard when the backup fails, to remove that file; Save and
// Discard also close the previous cache file. Entries past the first
// 4 GiB of a cache file (some 40 million files) are not loaded: those
// files are read again. A FilesCache is not safe for concurrent use; a nil
// *FilesCache is an empty cache that records nothing.
type FilesCache struct {
	path string
	old  []cacheRecord // sorted by key
	src  *os.File      // the previous cache file, holding the blob ids

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
	// Two passes: the first counts the entries, so that the second fills
	// a slice of exactly that size (a slice grown by append would hold up
	// to twice as much on the way).
	nrecs, err := readFilesCache(&countingReader{r: bufio.NewReaderSize(f, 1<<16)}, nil)
	if err == nil && nrecs > 0 {
		if _, err = f.Seek(0, io.SeekStart); err == nil {
			c.old = make([]cacheRecord, 0, nrecs)
			_, err = readFilesCache(&countingReader{r: bufio.NewReaderSize(f, 1<<16)}, c)
		}
	}
	if err != nil || len(c.old) == 0 {
		f.Close()
		c.old = nil
		if err != nil {
			return c, fmt.Errorf("files cache %s unreadable, files will be re-read: %w", path, err)
		}
		return c, nil
	}
	c.src = f
	slices.SortFunc(c.old, func(a, b cacheRecord) int { return bytes.Compare(a.key[:], b.key[:]) })
	return c, nil
}

// countingReader counts the bytes read through it, for the position of
// each entry's blob ids in the file.
type countingReader struct {
	r   *bufio.Reader
	pos int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.pos += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.pos++
	}
	return b, err
}

func (c *countingReader) Discard(n int) error {
	m, err := c.r.Discard(n)
	c.pos += int64(m)
	return err
}

// readFilesCache decodes a cache file and returns its number of entries.
// With into set, it appends the entries to into.old (unsorted), except
// those whose blob ids lie past the first 4 GiB; without, it only counts.
// A file of another version has no entries and is no error.
func readFilesCache(r *countingReader, into *FilesCache) (nrecs int, err error) {
	head := make([]byte, len(filesCacheMagic))
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, filesCacheMagic) {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || err == nil {
			return 0, nil // empty, older or foreign: start afresh
		}
		return 0, err
	}
	for {
		kind, err := r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("cut short after %d entries", nrecs)
		}
		switch kind {
		case recEnd:
			n, err := binary.ReadUvarint(r)
			if err != nil || n != uint64(nrecs) {
				return 0, fmt.Errorf("end record says %d entries, read %d", n, nrecs)
			}
			return nrecs, nil
		case recEntry:
		default:
			return 0, fmt.Errorf("unknown record kind %d after %d entries", kind, nrecs)
		}
		var rec cacheRecord
		if _, err := io.ReadFull(r, rec.key[:]); err != nil {
			return 0, fmt.Errorf("entry %d: %w", nrecs, err)
		}
		var v [6]uint64
		for i := range v {
			if v[i], err = binary.ReadUvarint(r); err != nil {
				return 0, fmt.Errorf("entry %d: %w", nrecs, err)
			}
		}
		if v[5] > maxCachedBlobs {
			return 0, fmt.Errorf("entry %d: %d blobs", nrecs, v[5])
		}
		pos := r.pos
		if err := r.Discard(int(v[5]) * len(blob.ID{})); err != nil {
			return 0, fmt.Errorf("entry %d: %w", nrecs, err)
		}
		nrecs++
		if into == nil || pos > 1<<32-1 {
			continue
		}
		rec.dev, rec.ino, rec.size = v[0], v[1], v[2]
		rec.mtime, rec.ctime = int64(v[3]), int64(v[4])
		rec.pos, rec.n = uint32(pos), uint32(v[5])
		into.old = append(into.old, rec)
	}
}

// Lookup returns the entry the previous backup recorded for path.
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
	e := CacheEntry{Device: r.dev, Inode: r.ino, Size: r.size, MTime: r.mtime, CTime: r.ctime}
	if r.n > 0 {
		b := make([]byte, int(r.n)*len(blob.ID{}))
		if _, err := c.src.ReadAt(b, int64(r.pos)); err != nil {
			return CacheEntry{}, false // the file is read again
		}
		e.Content = make([]blob.ID, r.n)
		for k := range e.Content {
			copy(e.Content[k][:], b[k*len(blob.ID{}):])
		}
	}
	return e, true
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
	c.closeSource()
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
	if c == nil {
		return
	}
	c.closeSource()
	if c.tmp == nil {
		return
	}
	c.tmp.Close()
	os.Remove(c.tmp.Name())
	c.tmp, c.w = nil, nil
}

// closeSource closes the previous cache file; Lookup finds nothing after.
func (c *FilesCache) closeSource() {
	if c.src != nil {
		c.src.Close()
		c.src, c.old = nil, nil
	}
}
