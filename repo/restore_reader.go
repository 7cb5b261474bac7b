package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/pack"
)

// The age payload is a 16-byte nonce followed by chunks of 64 KiB of
// plaintext, each sealed with a 16-byte tag. The header before it has no
// fixed length; maxAgeHeader bounds header plus nonce for the range
// computation, and a larger header makes FetchPack fall back to the whole
// pack.
const (
	ageChunk         = 64 << 10
	ageSealedChunk   = ageChunk + 16
	maxAgeHeader     = 16 << 10
	rangeRequestCost = 1 << 20 // bytes a backend request is worth: shorter gaps are read through
)

// FetchPack downloads what is needed of pack p to read the given frames
// and returns the pack's plaintext as an io.ReaderAt. It downloads the
// whole pack when the frames cover most of it; otherwise it downloads
// coalesced byte ranges of the ciphertext that cover the age header, the
// final age chunk and the chunks holding the frames. Reading plaintext
// outside the requested frames may fail.
//
// The ciphertext stays in memory, at most p.Size bytes, until the returned
// reader is no longer referenced. ReadAt may be called concurrently; it
// decrypts and authenticates the chunks it reads, and an authentication
// failure wraps ErrCorrupt, so one damaged chunk fails only the frames it
// covers. A pack that cannot be downloaded or whose header cannot be
// decrypted is an error (wrapping ErrCorrupt for the latter). Needs owner
// keys.
func (r *Repository) FetchPack(ctx context.Context, p *index.Pack, frames []pack.Frame) (io.ReaderAt, error) {
	if !r.keys.CanReadData() {
		return nil, crypto.ErrWriteOnly
	}
	h := backends.Handle{Type: backends.PackFile, Name: p.ID.String()}
	spans := packSpans(p.Size, frames)
	if spans != nil {
		src, err := loadSpans(ctx, r.be, h, spans)
		if err != nil {
			return nil, err
		}
		plain, _, err := r.keys.DecryptDataAt(src, p.Size)
		if err == nil {
			return &corruptReaderAt{plain}, nil
		}
		if !src.missed.Load() {
			return nil, fmt.Errorf("%s: %v: %w", h, err, ErrCorrupt)
		}
		// The header is larger than the ranges allowed for: read it all.
	}
	data, err := loadExactly(ctx, r.be, h, p.Size)
	if err != nil {
		return nil, err
	}
	plain, _, err := r.keys.DecryptDataAt(bytesReaderAt(data), p.Size)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", h, err, ErrCorrupt)
	}
	return &corruptReaderAt{plain}, nil
}

// span is a byte range [off, end) of a pack's ciphertext.
type span struct{ off, end int64 }

// packSpans returns the coalesced ciphertext ranges that hold the age
// header, the final chunk and every chunk of frames, or nil when reading
// the whole pack is cheaper, counting rangeRequestCost per request.
func packSpans(size int64, frames []pack.Frame) []span {
	if size <= 0 {
		return nil
	}
	spans := []span{
		{0, min(size, maxAgeHeader)},
		{max(0, size-ageSealedChunk), size},
	}
	for _, f := range frames {
		if f.Length == 0 {
			continue
		}
		first := int64(f.Offset / ageChunk)
		last := int64((f.Offset + uint64(f.Length) - 1) / ageChunk)
		// Chunk k starts at headerLen + k*ageSealedChunk, with headerLen
		// (header and nonce) in [0, maxAgeHeader].
		spans = append(spans, span{min(size, first*ageSealedChunk), min(size, maxAgeHeader+(last+1)*ageSealedChunk)})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].off < spans[j].off })
	out := spans[:1]
	for _, s := range spans[1:] {
		cur := &out[len(out)-1]
		if s.off <= cur.end+rangeRequestCost {
			cur.end = max(cur.end, s.end)
			continue
		}
		out = append(out, s)
	}
	var cost int64
	for _, s := range out {
		cost += s.end - s.off + rangeRequestCost
	}
	if cost >= size {
		return nil
	}
	return slices.Clip(out)
}

// spanReaderAt serves reads from downloaded ranges of an object. A read
// outside them fails and is remembered.
type spanReaderAt struct {
	spans  []span
	data   [][]byte
	missed atomic.Bool
}

var errNotFetched = errors.New("range was not downloaded")

func (s *spanReaderAt) ReadAt(p []byte, off int64) (int, error) {
	i := sort.Search(len(s.spans), func(i int) bool { return s.spans[i].end > off }) // first span ending after off
	if i == len(s.spans) || off < s.spans[i].off {
		s.missed.Store(true)
		return 0, fmt.Errorf("read at %d: %w", off, errNotFetched)
	}
	n := copy(p, s.data[i][off-s.spans[i].off:])
	if n < len(p) {
		s.missed.Store(true)
		return n, fmt.Errorf("read at %d: %w", off+int64(n), errNotFetched)
	}
	return n, nil
}

func loadSpans(ctx context.Context, be backends.Backend, h backends.Handle, spans []span) (*spanReaderAt, error) {
	src := &spanReaderAt{spans: spans, data: make([][]byte, len(spans))}
	for i, s := range spans {
		buf := make([]byte, s.end-s.off)
		err := be.Load(ctx, h, len(buf), s.off, func(rd io.Reader) error {
			_, err := io.ReadFull(rd, buf)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("load %s at %d: %w", h, s.off, err)
		}
		src.data[i] = buf
	}
	return src, nil
}

// loadExactly reads object h, which the index says has size bytes, into a
// buffer of exactly that size (io.ReadAll would grow one to a quarter more
// and copy on the way). An object of another size wraps ErrCorrupt.
func loadExactly(ctx context.Context, be backends.Backend, h backends.Handle, size int64) ([]byte, error) {
	if size <= 0 || size > backends.MaxObjectSize(h.Type) {
		return nil, fmt.Errorf("%s: the index says %d bytes: %w", h, size, ErrCorrupt)
	}
	buf := make([]byte, size)
	var n int64
	var longer bool
	err := be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		m, err := io.ReadFull(rd, buf)
		n, longer = int64(m), false
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil // shorter than the index says: reported below
		}
		if err != nil {
			return err
		}
		var one [1]byte
		if k, _ := io.ReadFull(rd, one[:]); k > 0 {
			longer = true
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("load %s: %w", h, err)
	case longer:
		return nil, fmt.Errorf("%s has more than the %d bytes the index says: %w", h, size, ErrCorrupt)
	case n != size:
		return nil, fmt.Errorf("%s has %d bytes, the index says %d: %w", h, n, size, ErrCorrupt)
	}
	return buf, nil
}

// corruptReaderAt marks decryption failures as corruption.
type corruptReaderAt struct{ r io.ReaderAt }

func (c *corruptReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	if err != nil && err != io.EOF && !errors.Is(err, errNotFetched) {
		err = fmt.Errorf("%v: %w", err, ErrCorrupt)
	}
	return n, err
}
