package copier

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/godwit-backup/godwit/repo/blob"
)

// Pair maps a source blob id to the id of the same plaintext in the
// destination.
type Pair struct {
	Source, Dest blob.ID
}

// idMapMagic starts every id map file; the two repository ids follow on
// the same line.
const idMapMagic = "godwit-idmap-v1"

// IDMap remembers which destination blob holds each source blob already
// copied, so that a later copy can skip reading blobs (and whole trees)
// the destination has. It is kept in a local file: a header line
// "godwit-idmap-v1 SRCID DSTID\n" followed by 64-byte records (source id,
// destination id), appended as copies complete. A file for another pair of
// repositories is started afresh; a truncated last record is ignored.
//
// An entry only says that a copy once stored that blob: the copier checks
// that the destination still has a blob of the same size before it uses
// one. The file holds ids only, no plaintext and no keys, and is written
// with mode 0600 because it links the keyed ids of the two repositories.
//
// IDMap is safe for concurrent use. Two processes appending to the same
// file interleave whole records, which is harmless.
type IDMap struct {
	path   string
	header string

	mu  sync.Mutex
	m   map[blob.ID]blob.ID
	err error // sticky: the first write failure; later Adds return it
}

// OpenIDMap loads the id map at path for copies from the repository with
// id srcRepo to the one with id dstRepo. A missing file, or one made for
// other repositories, gives an empty map that Add starts anew. The file
// is not held open.
func OpenIDMap(path, srcRepo, dstRepo string) (*IDMap, error) {
	m := &IDMap{path: path, header: idMapMagic + " " + srcRepo + " " + dstRepo + "\n", m: make(map[blob.ID]blob.ID)}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open id map: %w", err)
	}
	defer f.Close()
	rd := bufio.NewReaderSize(f, 1<<16)
	head, err := rd.ReadString('\n')
	if err != nil || head != m.header {
		return m, nil // another pair of repositories, or a damaged file: start anew
	}
	var rec [64]byte
	for {
		if _, err := io.ReadFull(rd, rec[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return m, nil
			}
			return nil, fmt.Errorf("read id map %s: %w", path, err)
		}
		var src, dst blob.ID
		copy(src[:], rec[:32])
		copy(dst[:], rec[32:])
		m.m[src] = dst
	}
}

// Len returns the number of entries.
func (m *IDMap) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}

// Lookup returns the destination id recorded for a source id.
func (m *IDMap) Lookup(src blob.ID) (blob.ID, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.m[src]
	return d, ok
}

// Add records pairs in memory and appends them to the file, writing the
// header first if the file is new, empty or made for other repositories.
// The caller must only add pairs whose destination blobs are durable. After
// a write failure the map keeps working in memory and every later Add
// returns that failure.
func (m *IDMap) Add(pairs []Pair) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var buf bytes.Buffer
	for _, p := range pairs {
		if d, ok := m.m[p.Source]; ok && d == p.Dest {
			continue
		}
		m.m[p.Source] = p.Dest
		buf.Write(p.Source[:])
		buf.Write(p.Dest[:])
	}
	if m.err != nil || buf.Len() == 0 {
		return m.err
	}
	if err := m.append(buf.Bytes()); err != nil {
		m.err = fmt.Errorf("write id map: %w", err)
	}
	return m.err
}

func (m *IDMap) append(records []byte) error {
	if err := os.MkdirAll(filepath.Dir(m.path), 0o700); err != nil {
		return err
	}
	if err := m.repair(); err != nil {
		return err
	}
	f, err := os.OpenFile(m.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(records); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// repair makes the file end after a whole record of this map's header:
// it rewrites a file of other repositories as an empty map and cuts off a
// partly written last record.
func (m *IDMap) repair() error {
	f, err := os.OpenFile(m.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, len(m.header))
	n, _ := io.ReadFull(f, head)
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if n < len(head) || string(head) != m.header {
		if err := f.Truncate(0); err != nil {
			return err
		}
		_, err := f.WriteAt([]byte(m.header), 0)
		return err
	}
	body := fi.Size() - int64(len(m.header))
	if extra := body % 64; extra != 0 {
		return f.Truncate(fi.Size() - extra)
	}
	return nil
}
