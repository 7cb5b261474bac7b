package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/pack"
)

// indexEvery and indexEveryBlobs are how many uploaded packs, or blobs in
// them, trigger an intermediate index object, so that a backup that dies
// half-way leaves most of its packs indexed and the next backup
// deduplicates against them. The blob bound keeps index objects, and the
// memory that waits for them, small when packs hold many small files.
const (
	indexEvery      = 32
	indexEveryBlobs = 50000
)

// DefaultUploads bounds the packs being encrypted and uploaded at once,
// and so the memory a backup holds (each pack is buffered whole, about
// twice its size while it is encrypted).
const DefaultUploads = 2

// SetUploads sets how many packs may be encrypted and uploaded at once
// (for remote backends, their connection count). Call it before the first
// SaveBlob.
func (r *Repository) SetUploads(n int) {
	if n < 1 {
		n = 1
	}
	r.saver.slots = make(chan struct{}, n)
}

// saver groups new blobs into packs and uploads them. Blobs it has
// accepted but not yet uploaded are in-flight: SaveBlob reports them as
// known, so each blob is stored once.
type saver struct {
	r *Repository

	mu           sync.Mutex
	packers      map[blob.Type]*pack.Writer
	inflight     map[blob.ID]struct{}
	pending      []index.FilePack // uploaded, not yet in an index object
	pendingBlobs int              // blobs in pending
	err          error            // sticky: the first upload failure
	noIndex      bool             // FlushPacks is collecting: write no index objects

	slots chan struct{}
	wg    sync.WaitGroup
	stats SaveStats
}

// SaveStats counts what a saver stored.
type SaveStats struct {
	Blobs       uint64 // new blobs
	Bytes       uint64 // their plaintext size
	Packs       uint64
	StoredBytes uint64 // ciphertext bytes of the packs uploaded
}

func newSaver(r *Repository) *saver {
	return &saver{
		r:        r,
		packers:  make(map[blob.Type]*pack.Writer),
		inflight: make(map[blob.ID]struct{}),
		slots:    make(chan struct{}, DefaultUploads),
	}
}

// SaveBlob stores data as a blob of type t unless a blob with the same id
// is already stored or in flight. It returns the id and whether the blob
// was new. It may block while earlier packs upload. After an upload has
// failed, every call returns that error.
func (r *Repository) SaveBlob(ctx context.Context, t blob.Type, data []byte) (blob.ID, bool, error) {
	id := r.BlobID(data)
	return id, r.saver.add(ctx, t, id, data), r.saver.sticky()
}

// HasBlob reports whether a blob is stored or about to be.
func (r *Repository) HasBlob(id blob.ID) bool {
	if r.idx.Has(id) {
		return true
	}
	r.saver.mu.Lock()
	_, ok := r.saver.inflight[id]
	r.saver.mu.Unlock()
	return ok
}

// SaveStats returns what has been stored since the repository was opened.
func (r *Repository) SaveStats() SaveStats {
	r.saver.mu.Lock()
	defer r.saver.mu.Unlock()
	return r.saver.stats
}

func (s *saver) sticky() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *saver) add(ctx context.Context, t blob.Type, id blob.ID, data []byte) bool {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return false
	}
	if _, ok := s.inflight[id]; ok || s.r.idx.Has(id) {
		s.mu.Unlock()
		return false
	}
	w := s.packers[t]
	if w == nil {
		w = pack.NewWriter(s.r.codec)
		s.packers[t] = w
	}
	if err := w.Add(t, id, data); err != nil {
		s.err = fmt.Errorf("add blob %s to pack: %w", id.Short(), err)
		s.mu.Unlock()
		return false
	}
	s.inflight[id] = struct{}{}
	s.stats.Blobs++
	s.stats.Bytes += uint64(len(data))
	full := w.Size() >= s.r.cfg.PackSize
	if full {
		delete(s.packers, t)
	}
	s.mu.Unlock()
	if full {
		s.upload(ctx, t, w)
	}
	return true
}

// addForce adds a blob even if the index has it (for repacking).
func (s *saver) addForce(ctx context.Context, t blob.Type, id blob.ID, data []byte) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	if _, ok := s.inflight[id]; ok {
		s.mu.Unlock()
		return
	}
	w := s.packers[t]
	if w == nil {
		w = pack.NewWriter(s.r.codec)
		s.packers[t] = w
	}
	if err := w.Add(t, id, data); err != nil {
		s.err = fmt.Errorf("add blob %s to pack: %w", id.Short(), err)
		s.mu.Unlock()
		return
	}
	s.inflight[id] = struct{}{}
	full := w.Size() >= s.r.cfg.PackSize
	if full {
		delete(s.packers, t)
	}
	s.mu.Unlock()
	if full {
		s.upload(ctx, t, w)
	}
}

// upload finishes w and uploads it in the background, waiting for a free
// slot first.
func (s *saver) upload(ctx context.Context, t blob.Type, w *pack.Writer) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		s.fail(ctx.Err())
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.slots }()
		if err := s.uploadPack(ctx, t, w); err != nil {
			s.fail(err)
		}
	}()
}

func (s *saver) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

func (s *saver) uploadPack(ctx context.Context, t blob.Type, w *pack.Writer) error {
	// The frames are encrypted as they are written, so the pack's
	// plaintext is never assembled next to its ciphertext.
	var buf bytes.Buffer
	buf.Grow(crypto.SealedSizeHint(w.Size()))
	enc, err := s.r.keys.EncryptData(&buf)
	if err != nil {
		return fmt.Errorf("encrypt pack: %w", err)
	}
	hdr, err := w.FinishTo(enc)
	if err != nil {
		return fmt.Errorf("finish pack: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encrypt pack: %w", err)
	}
	sealed := buf.Bytes()
	id := blob.Hash(sealed)
	h := backends.Handle{Type: backends.PackFile, Name: id.String()}
	if err := s.r.be.Save(ctx, h, sealed); err != nil {
		return fmt.Errorf("save %s: %w", h, err)
	}
	p := &index.Pack{ID: id, Type: t, Size: int64(len(sealed)), Frames: hdr.Frames}
	if err := s.r.idx.AddPack(p, hdr.Blobs); err != nil {
		return err
	}
	s.mu.Lock()
	for _, e := range hdr.Blobs {
		delete(s.inflight, e.ID)
	}
	s.pending = append(s.pending, index.NewFilePack(p, hdr.Blobs))
	s.stats.Packs++
	s.stats.StoredBytes += uint64(len(sealed))
	s.pendingBlobs += len(hdr.Blobs)
	var batch []index.FilePack
	if (len(s.pending) >= indexEvery || s.pendingBlobs >= indexEveryBlobs) && !s.noIndex {
		batch, s.pending, s.pendingBlobs = s.pending, nil, 0
	}
	s.mu.Unlock()
	if batch != nil {
		return s.r.saveIndex(ctx, batch)
	}
	return nil
}

// Flush uploads every partly filled pack, waits for all uploads and then
// writes an index object for the packs not yet indexed. Blobs saved
// before Flush returns nil are durable and indexed.
func (r *Repository) Flush(ctx context.Context) error {
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
	if err := s.sticky(); err != nil {
		return err
	}
	s.mu.Lock()
	batch := s.pending
	s.pending, s.pendingBlobs = nil, 0
	s.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	return r.saveIndex(ctx, batch)
}

// Abort waits for uploads in progress to end without writing an index;
// call it when a backup is abandoned. Packs already uploaded stay
// unindexed until the next check or index repair finds them.
func (r *Repository) Abort() {
	r.saver.wg.Wait()
}

func (r *Repository) saveIndex(ctx context.Context, packs []index.FilePack) error {
	f := index.File{Packs: packs}
	plain, err := f.Marshal()
	if err != nil {
		return fmt.Errorf("encode index: %w", err)
	}
	if _, err := r.saveMeta(ctx, backends.IndexFile, plain); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// StoredBytes returns the encrypted pack bytes uploaded since the
// repository was opened.
func (r *Repository) StoredBytes() uint64 { return r.SaveStats().StoredBytes }
