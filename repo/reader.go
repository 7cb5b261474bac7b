package repo

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/pack"
)

// BlobError says which blob, in which pack, could not be read.
type BlobError struct {
	Blob blob.ID
	Pack blob.ID // null when the blob is not in the index
	Err  error
}

func (e *BlobError) Error() string {
	if e.Pack.IsNull() {
		return fmt.Sprintf("blob %s: %v", e.Blob, e.Err)
	}
	return fmt.Sprintf("blob %s in pack %s: %v", e.Blob, e.Pack, e.Err)
}

func (e *BlobError) Unwrap() error { return e.Err }

// frameCacheSize is how many decompressed frames the reader keeps: small
// files restored one after another come from the same frame.
const frameCacheSize = 16

type frameKey struct {
	pack   blob.ID
	offset uint64
}

// blobReader reads blobs out of packs with random access, keeping the
// most recently used frames.
type blobReader struct {
	r *Repository

	mu     sync.Mutex
	lru    *list.List // of *frameItem, most recent first
	frames map[frameKey]*list.Element
}

type frameItem struct {
	key  frameKey
	data []byte
}

func newBlobReader(r *Repository) *blobReader {
	return &blobReader{r: r, lru: list.New(), frames: make(map[frameKey]*list.Element)}
}

// LoadBlob returns the plaintext of a blob after checking it against its
// keyed id. Errors are *BlobError and name the pack; a blob whose content
// does not match wraps ErrCorrupt. Needs owner keys.
func (r *Repository) LoadBlob(ctx context.Context, t blob.Type, id blob.ID) ([]byte, error) {
	if !r.keys.CanReadData() {
		return nil, crypto.ErrWriteOnly
	}
	loc, ok := r.idx.Lookup(id)
	if !ok {
		if ierr := r.IndexError(); ierr != nil {
			return nil, &BlobError{Blob: id, Err: fmt.Errorf("not in the part of the index that could be read: %w", ierr)}
		}
		return nil, &BlobError{Blob: id, Err: fmt.Errorf("not in the index (the repository is missing data; run godwit check)")}
	}
	if loc.Type != t {
		return nil, &BlobError{Blob: id, Pack: loc.Pack.ID, Err: fmt.Errorf("is a %s blob, want %s: %w", loc.Type, t, ErrCorrupt)}
	}
	frame, err := r.reader.frame(ctx, loc)
	if err != nil {
		return nil, &BlobError{Blob: id, Pack: loc.Pack.ID, Err: err}
	}
	end := uint64(loc.Offset) + uint64(loc.Length)
	if end > uint64(len(frame)) {
		return nil, &BlobError{Blob: id, Pack: loc.Pack.ID, Err: fmt.Errorf("extends past its frame: %w", ErrCorrupt)}
	}
	data := make([]byte, loc.Length)
	copy(data, frame[loc.Offset:end])
	if r.BlobID(data) != id {
		return nil, &BlobError{Blob: id, Pack: loc.Pack.ID, Err: fmt.Errorf("content does not match its id: %w", ErrCorrupt)}
	}
	return data, nil
}

func (br *blobReader) frame(ctx context.Context, loc index.Location) ([]byte, error) {
	key := frameKey{pack: loc.Pack.ID, offset: loc.Frame.Offset}
	br.mu.Lock()
	if el, ok := br.frames[key]; ok {
		br.lru.MoveToFront(el)
		data := el.Value.(*frameItem).data
		br.mu.Unlock()
		return data, nil
	}
	br.mu.Unlock()

	h := backends.Handle{Type: backends.PackFile, Name: loc.Pack.ID.String()}
	src := &backendReaderAt{ctx: ctx, be: br.r.be, h: h}
	plain, size, err := br.r.keys.DecryptDataAt(src, loc.Pack.Size)
	if err != nil {
		if src.err != nil {
			return nil, src.err
		}
		return nil, fmt.Errorf("decrypt: %v: %w", err, ErrCorrupt)
	}
	if loc.Frame.Offset+uint64(loc.Frame.Length) > uint64(size) {
		return nil, fmt.Errorf("frame at %d extends past the pack: %w", loc.Frame.Offset, ErrCorrupt)
	}
	data, err := br.r.codec.ReadFrame(plain, loc.Frame)
	if err != nil {
		if src.err != nil {
			return nil, src.err
		}
		return nil, fmt.Errorf("frame at %d: %v: %w", loc.Frame.Offset, err, ErrCorrupt)
	}

	// Only frames that group several blobs are worth keeping: a frame
	// that is one large blob is read once, and caching it would cost up
	// to the chunker's maximum size per entry.
	if loc.Length == loc.Frame.RawLength {
		return data, nil
	}
	br.mu.Lock()
	defer br.mu.Unlock()
	if _, ok := br.frames[key]; !ok {
		br.frames[key] = br.lru.PushFront(&frameItem{key: key, data: data})
		for br.lru.Len() > frameCacheSize {
			old := br.lru.Remove(br.lru.Back()).(*frameItem)
			delete(br.frames, old.key)
		}
	}
	return data, nil
}

// backendReaderAt gives random access to one object. It remembers the
// first backend error so it can be told apart from an authentication
// failure.
type backendReaderAt struct {
	ctx context.Context
	be  backends.Backend
	h   backends.Handle
	err error
}

func (b *backendReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	err := b.be.Load(b.ctx, b.h, len(p), off, func(rd io.Reader) error {
		var err error
		n, err = io.ReadFull(rd, p)
		return err
	})
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("read %s at %d: %w", b.h, off, err)
	}
	return n, err
}

// PackHeader reads and decodes the header of a pack. Needs owner keys.
func (r *Repository) PackHeader(ctx context.Context, id blob.ID) (*pack.Header, int64, error) {
	if !r.keys.CanReadData() {
		return nil, 0, crypto.ErrWriteOnly
	}
	h := backends.Handle{Type: backends.PackFile, Name: id.String()}
	fi, err := r.be.Stat(ctx, h)
	if err != nil {
		return nil, 0, fmt.Errorf("stat %s: %w", h, err)
	}
	src := &backendReaderAt{ctx: ctx, be: r.be, h: h}
	plain, size, err := r.keys.DecryptDataAt(src, fi.Size)
	if err != nil {
		if src.err != nil {
			return nil, 0, src.err
		}
		return nil, 0, fmt.Errorf("decrypt %s: %v: %w", h, err, ErrCorrupt)
	}
	hdr, err := pack.ReadHeader(plain, size)
	if err != nil {
		if src.err != nil {
			return nil, 0, src.err
		}
		return nil, 0, fmt.Errorf("%s: %v: %w", h, err, ErrCorrupt)
	}
	return hdr, fi.Size, nil
}
