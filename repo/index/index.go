// Package index maps blob ids to where they are stored: which pack, which
// frame of that pack, and where inside the frame. It holds the in-memory
// index of a repository and encodes and decodes index objects. It knows
// nothing of encryption or backends.
package index

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/pack"
)

// Pack describes one stored pack.
type Pack struct {
	ID   blob.ID
	Type blob.Type
	// Size is the size of the encrypted pack object in bytes: age's
	// random access needs the exact ciphertext size.
	Size   int64
	Frames []pack.Frame
}

// Location says where one blob is stored.
type Location struct {
	Pack   *Pack
	Type   blob.Type
	Frame  pack.Frame
	Offset uint32 // inside the decompressed frame
	Length uint32
}

// entry is the in-memory record of one blob's location.
type entry struct {
	pack   uint32 // index into Index.packs
	frame  uint32
	offset uint32
	length uint32
}

// sortedEntry is one blob in the sorted part of the index: 44 bytes,
// byte-aligned. loc packs the frame number (10 bits), the offset inside
// the frame (27 bits) and the length (27 bits), which covers every blob of
// up to pack.MaxBlobSize in a pack of up to 1024 frames; a blob whose
// location does not fit stays in the wide map instead.
type sortedEntry struct {
	id   blob.ID
	pack [4]byte
	loc  [8]byte
}

const (
	frameBits  = 10
	offsetBits = 27
	lengthBits = 27
)

// compact packs e into a sortedEntry; ok is false when it does not fit.
func compact(id blob.ID, e entry) (se sortedEntry, ok bool) {
	if e.frame >= 1<<frameBits || e.offset >= 1<<offsetBits || e.length >= 1<<lengthBits {
		return sortedEntry{}, false
	}
	se.id = id
	binary.LittleEndian.PutUint32(se.pack[:], e.pack)
	v := uint64(e.frame)<<(offsetBits+lengthBits) | uint64(e.offset)<<lengthBits | uint64(e.length)
	binary.LittleEndian.PutUint64(se.loc[:], v)
	return se, true
}

// entry unpacks se.
func (se *sortedEntry) entry() entry {
	v := binary.LittleEndian.Uint64(se.loc[:])
	return entry{
		pack:   binary.LittleEndian.Uint32(se.pack[:]),
		frame:  uint32(v >> (offsetBits + lengthBits)),
		offset: uint32(v>>lengthBits) & (1<<offsetBits - 1),
		length: uint32(v) & (1<<lengthBits - 1),
	}
}

// recentMin is the least number of recently added blobs kept in a map
// before they are merged into the sorted blocks.
const recentMin = 4096

// blockLen is the number of entries in a full block of the sorted part
// (704 KiB).
const blockLen = 1 << 14

// Index is the in-memory index. It is safe for concurrent use.
//
// Blobs live in sorted blocks of up to blockLen entries, 44 bytes each,
// found by a binary search over the blocks' first ids and then inside one
// block; blobs added since the last merge wait in a small map, which is
// merged into the blocks when it grows past an eighth of them. A merge
// writes new blocks while it lets go of the old ones, so it never holds two
// copies of the index. The rare blob whose location does not fit a
// sortedEntry lives in the wide map.
type Index struct {
	mu     sync.RWMutex
	packs  []*Pack
	byID   map[blob.ID]uint32 // pack id → index into packs
	blocks [][]sortedEntry    // each sorted and non-empty; ids ascend across blocks
	sorted int                // entries in blocks
	recent map[blob.ID]entry
	wide   map[blob.ID]entry
}

// New returns an empty index.
func New() *Index {
	return &Index{byID: make(map[blob.ID]uint32), recent: make(map[blob.ID]entry), wide: make(map[blob.ID]entry)}
}

// find returns the entry of id; the caller holds mu.
func (idx *Index) find(id blob.ID) (entry, bool) {
	if e, ok := idx.recent[id]; ok {
		return e, true
	}
	// The last block whose first id is not above id.
	b := sort.Search(len(idx.blocks), func(i int) bool { return idLess(&id, &idx.blocks[i][0].id) }) - 1
	if b >= 0 {
		blk := idx.blocks[b]
		i := sort.Search(len(blk), func(i int) bool { return !idLess(&blk[i].id, &id) })
		if i < len(blk) && blk[i].id == id {
			return blk[i].entry(), true
		}
	}
	e, ok := idx.wide[id]
	return e, ok
}

// idLess orders ids as byte strings, comparing the first eight bytes as
// one number first.
func idLess(a, b *blob.ID) bool {
	x, y := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if x != y {
		return x < y
	}
	return bytes.Compare(a[8:], b[8:]) < 0
}

// merge moves the recent blobs into the sorted blocks; the caller holds mu
// for writing.
func (idx *Index) merge() {
	add := make([]sortedEntry, 0, len(idx.recent))
	for id, e := range idx.recent {
		if se, ok := compact(id, e); ok {
			add = append(add, se)
		} else {
			idx.wide[id] = e
		}
	}
	sort.Slice(add, func(i, j int) bool { return idLess(&add[i].id, &add[j].id) })
	old := idx.blocks
	out := make([][]sortedEntry, 0, (idx.sorted+len(add))/blockLen+1)
	cur := make([]sortedEntry, 0, blockLen)
	emit := func(se sortedEntry) {
		if len(cur) == blockLen {
			out = append(out, cur)
			cur = make([]sortedEntry, 0, blockLen)
		}
		cur = append(cur, se)
	}
	b, i, j := 0, 0, 0
	for b < len(old) {
		if j < len(add) && idLess(&add[j].id, &old[b][i].id) {
			emit(add[j])
			j++
			continue
		}
		emit(old[b][i])
		if i++; i == len(old[b]) {
			old[b] = nil // written out: the garbage collector may take it
			b, i = b+1, 0
		}
	}
	for ; j < len(add); j++ {
		emit(add[j])
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	idx.blocks = out
	idx.sorted += len(add)
	idx.recent = make(map[blob.ID]entry)
}

// AddPack records a pack and all its blobs. A blob already indexed in
// another pack keeps its first location (duplicates are harmless; prune
// removes them). Adding a pack twice is a no-op.
func (idx *Index) AddPack(p *Pack, entries []pack.Entry) error {
	for _, e := range entries {
		if int(e.Frame) >= len(p.Frames) {
			return fmt.Errorf("pack %s: blob %s in frame %d of %d", p.ID.Short(), e.ID.Short(), e.Frame, len(p.Frames))
		}
		f := p.Frames[e.Frame]
		if uint64(e.Offset)+uint64(e.Length) > uint64(f.RawLength) {
			return fmt.Errorf("pack %s: blob %s extends past its frame", p.ID.Short(), e.ID.Short())
		}
		if e.Type != p.Type {
			return fmt.Errorf("pack %s: %s blob in a %s pack", p.ID.Short(), e.Type, p.Type)
		}
	}
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if _, ok := idx.byID[p.ID]; ok {
		return nil
	}
	n := uint32(len(idx.packs))
	idx.packs = append(idx.packs, p)
	idx.byID[p.ID] = n
	for _, e := range entries {
		if _, ok := idx.find(e.ID); ok {
			continue
		}
		idx.recent[e.ID] = entry{pack: n, frame: e.Frame, offset: e.Offset, length: e.Length}
	}
	if len(idx.recent) > max(recentMin, idx.sorted/8) {
		idx.merge()
	}
	return nil
}

// Has reports whether the blob is indexed.
func (idx *Index) Has(id blob.ID) bool {
	idx.mu.RLock()
	_, ok := idx.find(id)
	idx.mu.RUnlock()
	return ok
}

// Lookup returns where the blob is stored.
func (idx *Index) Lookup(id blob.ID) (Location, bool) {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	e, ok := idx.find(id)
	if !ok {
		return Location{}, false
	}
	return idx.location(e), true
}

// location expands an entry; the caller holds mu.
func (idx *Index) location(e entry) Location {
	p := idx.packs[e.pack]
	return Location{Pack: p, Type: p.Type, Frame: p.Frames[e.frame], Offset: e.offset, Length: e.length}
}

// Pack returns the pack with the given id.
func (idx *Index) Pack(id blob.ID) (*Pack, bool) {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	n, ok := idx.byID[id]
	if !ok {
		return nil, false
	}
	return idx.packs[n], true
}

// Packs returns every indexed pack.
func (idx *Index) Packs() []*Pack {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	return append([]*Pack(nil), idx.packs...)
}

// Len returns the number of indexed blobs.
func (idx *Index) Len() int {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	return idx.sorted + len(idx.recent) + len(idx.wide)
}

// Each calls fn for every blob; fn must not call back into idx.
func (idx *Index) Each(fn func(id blob.ID, loc Location)) {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	for _, blk := range idx.blocks {
		for i := range blk {
			fn(blk[i].id, idx.location(blk[i].entry()))
		}
	}
	for _, m := range []map[blob.ID]entry{idx.recent, idx.wide} {
		for id, e := range m {
			fn(id, idx.location(e))
		}
	}
}

// File is the plaintext of one index object.
type File struct {
	Version int        `json:"version"`
	Packs   []FilePack `json:"packs"`
}

// FilePack is one pack in an index object.
type FilePack struct {
	ID     blob.ID     `json:"id"`
	Type   blob.Type   `json:"type"`
	Size   int64       `json:"size"`
	Frames []FileFrame `json:"frames"`
	Blobs  []FileBlob  `json:"blobs"`
}

// FileFrame is one frame of a pack in an index object.
type FileFrame struct {
	Offset    uint64 `json:"offset"`
	Length    uint32 `json:"length"`
	RawLength uint32 `json:"raw_length"`
	Zstd      bool   `json:"zstd,omitempty"`
}

// FileBlob is one blob of a pack in an index object.
type FileBlob struct {
	ID     blob.ID `json:"id"`
	Frame  uint32  `json:"frame"`
	Offset uint32  `json:"offset"`
	Length uint32  `json:"length"`
}

// Version is the index object version this package writes and reads.
const Version = 1

// NewFilePack converts a pack and its header entries to their index
// object form.
func NewFilePack(p *Pack, entries []pack.Entry) FilePack {
	fp := FilePack{ID: p.ID, Type: p.Type, Size: p.Size}
	for _, f := range p.Frames {
		fp.Frames = append(fp.Frames, FileFrame{Offset: f.Offset, Length: f.Length, RawLength: f.RawLength, Zstd: f.Compressed})
	}
	for _, e := range entries {
		fp.Blobs = append(fp.Blobs, FileBlob{ID: e.ID, Frame: e.Frame, Offset: e.Offset, Length: e.Length})
	}
	return fp
}

// Marshal encodes f with its packs sorted by id, so the same content gives
// the same bytes.
func (f *File) Marshal() ([]byte, error) {
	c := *f
	c.Version = Version
	c.Packs = append([]FilePack(nil), f.Packs...)
	sort.Slice(c.Packs, func(i, j int) bool { return bytes.Compare(c.Packs[i].ID[:], c.Packs[j].ID[:]) < 0 })
	return json.Marshal(&c)
}

// Unmarshal decodes an index object.
func Unmarshal(data []byte) (*File, error) {
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("decode index: %w", err)
	}
	if f.Version != Version {
		return nil, fmt.Errorf("decode index: unsupported version %d", f.Version)
	}
	for i, fp := range f.Packs {
		switch {
		case fp.ID.IsNull():
			return nil, fmt.Errorf("decode index: pack %d has no id", i)
		case fp.Type != blob.DataBlob && fp.Type != blob.TreeBlob:
			return nil, fmt.Errorf("decode index: pack %s has no valid type", fp.ID.Short())
		case fp.Size <= 0:
			return nil, fmt.Errorf("decode index: pack %s has invalid size %d", fp.ID.Short(), fp.Size)
		}
	}
	return &f, nil
}

// AddFile adds every pack of an index object to idx.
func (idx *Index) AddFile(f *File) error {
	for _, fp := range f.Packs {
		p, entries := fp.Pack()
		if err := idx.AddPack(p, entries); err != nil {
			return err
		}
	}
	return nil
}

// Pack converts fp back to a Pack and its entries.
func (fp FilePack) Pack() (*Pack, []pack.Entry) {
	p := &Pack{ID: fp.ID, Type: fp.Type, Size: fp.Size}
	for _, f := range fp.Frames {
		p.Frames = append(p.Frames, pack.Frame{Offset: f.Offset, Length: f.Length, RawLength: f.RawLength, Compressed: f.Zstd})
	}
	entries := make([]pack.Entry, 0, len(fp.Blobs))
	for _, b := range fp.Blobs {
		entries = append(entries, pack.Entry{Type: fp.Type, ID: b.ID, Frame: b.Frame, Offset: b.Offset, Length: b.Length})
	}
	return p, entries
}
