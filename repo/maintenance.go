package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/pack"
	"github.com/godwit-backup/godwit/repo/tree"
)

// StoredPacks lists the packs on the backend with their sizes. Names that
// are not pack ids are reported in the error, after the listing.
func (r *Repository) StoredPacks(ctx context.Context) (map[blob.ID]int64, error) {
	out := make(map[blob.ID]int64)
	var bad []error
	err := r.be.List(ctx, backends.PackFile, func(fi backends.FileInfo) error {
		id, err := blob.ParseID(fi.Name)
		if err != nil {
			bad = append(bad, fmt.Errorf("data/%s: not a pack name", fi.Name))
			return nil
		}
		out[id] = fi.Size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	return out, errors.Join(bad...)
}

// IndexFile is one index object as stored.
type IndexFile struct {
	Name string
	File *index.File
	Err  error // set when it could not be read or decoded; see Damaged
}

// Damaged reports whether the object was read but is damaged: it fails
// authentication, does not decode, or is too large to be an index. An Err
// for which Damaged is false is a failure to read it (the storage failed,
// or the object vanished after it was listed), which says nothing about
// the object.
func (f IndexFile) Damaged() bool {
	return errors.Is(f.Err, ErrCorrupt) || errors.Is(f.Err, backends.ErrTooLarge)
}

// IndexFiles reads every index object without adding it to the in-memory
// index.
func (r *Repository) IndexFiles(ctx context.Context) ([]IndexFile, error) {
	names, err := r.listNames(ctx, backends.IndexFile)
	if err != nil {
		return nil, err
	}
	out := make([]IndexFile, 0, len(names))
	for _, name := range names {
		plain, err := r.loadMeta(ctx, backends.IndexFile, name)
		if err != nil {
			out = append(out, IndexFile{Name: name, Err: err})
			continue
		}
		f, err := index.Unmarshal(plain)
		if err != nil {
			err = fmt.Errorf("index/%s: %w (%w)", name, err, ErrCorrupt)
		}
		out = append(out, IndexFile{Name: name, File: f, Err: err})
	}
	return out, nil
}

// maxBlobsPerIndex bounds the size of one index object written by
// WriteIndex.
const maxBlobsPerIndex = 200000

// WriteIndex writes index objects holding exactly the given packs, split
// so that no object grows too large, and returns their names.
func (r *Repository) WriteIndex(ctx context.Context, packs []index.FilePack) ([]string, error) {
	var (
		names []string
		batch []index.FilePack
		n     int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		f := index.File{Packs: batch}
		plain, err := f.Marshal()
		if err != nil {
			return err
		}
		id, err := r.saveMeta(ctx, backends.IndexFile, plain)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		names = append(names, id.String())
		batch, n = nil, 0
		return nil
	}
	for _, p := range packs {
		batch = append(batch, p)
		n += len(p.Blobs)
		if n >= maxBlobsPerIndex {
			if err := flush(); err != nil {
				return names, err
			}
		}
	}
	return names, flush()
}

// Remove deletes one object; a missing object is not an error.
func (r *Repository) Remove(ctx context.Context, h backends.Handle) error {
	err := r.be.Remove(ctx, h)
	if err != nil && !backends.IsNotExist(err) {
		return fmt.Errorf("remove %s: %w", h, err)
	}
	return nil
}

// LoadPack downloads a whole pack and checks that its ciphertext hashes to
// its name. This needs no key.
func (r *Repository) LoadPack(ctx context.Context, id blob.ID) ([]byte, error) {
	h := backends.Handle{Type: backends.PackFile, Name: id.String()}
	data, err := backends.LoadAll(ctx, r.be, h)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", h, err)
	}
	if blob.Hash(data) != id {
		return data, fmt.Errorf("%s: content does not match its name: %w", h, ErrCorrupt)
	}
	return data, nil
}

// PackBlob is one blob read from a pack, or the error reading it.
type PackBlob struct {
	Entry pack.Entry
	Data  []byte
	Err   error
}

// ReadPackBlobs decrypts a downloaded pack, parses its header and calls fn
// for every blob, checked against its keyed id. It returns the header, or
// an error if the pack as a whole cannot be read. Needs owner keys.
func (r *Repository) ReadPackBlobs(id blob.ID, sealed []byte, fn func(PackBlob)) (*pack.Header, error) {
	if !r.keys.CanReadData() {
		return nil, crypto.ErrWriteOnly
	}
	plain, err := r.keys.OpenData(sealed)
	if err != nil {
		// One bad age chunk fails the whole buffer: fall back to random
		// access, which isolates the damage to the frames it covers.
		return r.readPackBlobsAt(id, sealed, fn)
	}
	hdr, err := pack.ReadHeader(bytesReaderAt(plain), int64(len(plain)))
	if err != nil {
		return nil, fmt.Errorf("pack %s: %v: %w", id, err, ErrCorrupt)
	}
	r.extractAll(id, bytesReaderAt(plain), hdr, fn)
	return hdr, nil
}

func (r *Repository) readPackBlobsAt(id blob.ID, sealed []byte, fn func(PackBlob)) (*pack.Header, error) {
	plain, size, err := r.keys.DecryptDataAt(bytesReaderAt(sealed), int64(len(sealed)))
	if err != nil {
		return nil, fmt.Errorf("pack %s: decrypt: %v: %w", id, err, ErrCorrupt)
	}
	hdr, err := pack.ReadHeader(plain, size)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %v: %w", id, err, ErrCorrupt)
	}
	r.extractAll(id, plain, hdr, fn)
	return hdr, nil
}

func (r *Repository) extractAll(id blob.ID, plain interface {
	ReadAt([]byte, int64) (int, error)
}, hdr *pack.Header, fn func(PackBlob)) {
	frames := make(map[uint32][]byte)
	frameErr := make(map[uint32]error)
	for _, e := range hdr.Blobs {
		data, ok := frames[e.Frame]
		if !ok && frameErr[e.Frame] == nil {
			var err error
			data, err = r.codec.ReadFrame(plain, hdr.Frames[e.Frame])
			if err != nil {
				frameErr[e.Frame] = fmt.Errorf("frame %d: %v: %w", e.Frame, err, ErrCorrupt)
			} else {
				frames[e.Frame] = data
			}
		}
		if err := frameErr[e.Frame]; err != nil {
			fn(PackBlob{Entry: e, Err: &BlobError{Blob: e.ID, Pack: id, Err: err}})
			continue
		}
		b, err := pack.ExtractBlob(data, e)
		if err == nil && r.BlobID(b) != e.ID {
			err = fmt.Errorf("content does not match its id: %w", ErrCorrupt)
		}
		if err != nil {
			fn(PackBlob{Entry: e, Err: &BlobError{Blob: e.ID, Pack: id, Err: err}})
			continue
		}
		fn(PackBlob{Entry: e, Data: b})
	}
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, fmt.Errorf("read at %d: out of range", off)
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, fmt.Errorf("read at %d: short", off)
	}
	return n, nil
}

// BeginRepack stops the repository from writing index objects for the
// packs it uploads, until FlushPacks returns them to the caller. A crash
// in between leaves those packs unindexed, and so unused, while the old
// index and packs stay intact.
func (r *Repository) BeginRepack() {
	r.saver.mu.Lock()
	r.saver.noIndex = true
	r.saver.mu.Unlock()
}

// RepackBlob stores a blob into a new pack even though the index already
// has it (in a pack that prune is about to delete). Blobs repacked twice
// in one run are stored once.
func (r *Repository) RepackBlob(ctx context.Context, t blob.Type, id blob.ID, data []byte) error {
	if r.BlobID(data) != id {
		return &BlobError{Blob: id, Err: fmt.Errorf("content does not match its id: %w", ErrCorrupt)}
	}
	r.saver.addForce(ctx, t, id, data)
	return r.saver.sticky()
}

// FlushPacks uploads every partly filled pack, waits for all uploads and
// returns the index entries of the packs uploaded since the last Flush,
// without writing index objects for them: the caller (prune) writes them
// into its own consolidated index.
func (r *Repository) FlushPacks(ctx context.Context) ([]index.FilePack, error) {
	s := r.saver
	s.mu.Lock()
	packers := s.packers
	s.packers = make(map[blob.Type]*pack.Writer)
	s.mu.Unlock()
	for _, t := range []blob.Type{blob.DataBlob, blob.TreeBlob} {
		if w := packers[t]; w != nil && w.Count() > 0 {
			s.upload(ctx, t, w)
		}
	}
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noIndex = false
	if s.err != nil {
		return nil, s.err
	}
	out := s.pending
	s.pending, s.pendingBlobs = nil, 0
	return out, nil
}

// WalkTree calls fn for every node below the tree id, depth first, with
// its path. seen, when not nil, records the subtrees visited: a subtree
// already in it is not walked again (fn still sees its directory node).
// An error loading a subtree is passed to onErr with the directory's path;
// the walk continues with the rest unless onErr returns an error.
func (r *Repository) WalkTree(ctx context.Context, id blob.ID, dir string, seen map[blob.ID]bool,
	fn func(path string, n *tree.Node) error, onErr func(path string, err error) error) error {
	if seen != nil {
		if seen[id] {
			return nil
		}
		seen[id] = true
	}
	t, err := r.LoadTree(ctx, id)
	if err != nil {
		return onErr(dir, err)
	}
	for _, n := range t.Nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := dir + "/" + string(n.Name)
		if dir == "/" {
			p = "/" + string(n.Name)
		}
		if err := fn(p, n); err != nil {
			return err
		}
		if n.Type == tree.Dir && n.Subtree != nil {
			if err := r.WalkTree(ctx, *n.Subtree, p, seen, fn, onErr); err != nil {
				return err
			}
		}
	}
	return nil
}
