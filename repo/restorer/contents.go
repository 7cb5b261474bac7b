package restorer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/godwit-backup/godwit/internal/fsmeta"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/pack"
)

// file is a regular file being restored: created at its full size, its
// contents written by whichever workers hold its packs.
type file struct {
	entry
	dev, ino uint64 // of the file created, checked before every write

	// pending counts the writes (blob, offset) not yet done or failed;
	// the goroutine that brings it to zero finishes the file.
	pending atomic.Int64

	mu       sync.Mutex
	writeErr error   // the first write error; nothing more is written
	failed   []error // blobs that could not be read
	nfailed  int
}

func (f *file) fail(n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nfailed += n
	f.failed = append(f.failed, err)
}

func (f *file) setWriteErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writeErr == nil {
		f.writeErr = err
	}
}

func (f *file) broken() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writeErr != nil
}

// target is one place a blob goes to.
type target struct {
	f   *file
	off int64
}

// plan is every content blob still to write, grouped by pack and frame,
// packs in the order the walk first needed them.
type plan struct {
	packs  []*packJob
	byPack map[blob.ID]*packJob
}

type packJob struct {
	pack    *index.Pack
	frames  []*frameJob
	byFrame map[uint64]*frameJob // by the frame's offset
	perFile map[*file]int        // writes to each file
}

type frameJob struct {
	frame  pack.Frame
	blobs  []*blobJob
	byBlob map[blob.ID]*blobJob
}

type blobJob struct {
	id             blob.ID
	offset, length uint32 // inside the decompressed frame
	targets        []target
}

func newPlan() plan { return plan{byPack: make(map[blob.ID]*packJob)} }

// add records where every content blob of f goes and sets f.pending. A
// blob missing from the index fails at once, and so do the blobs after it,
// whose offsets are then unknown.
func (p *plan) add(repo Repository, f *file) {
	var off int64
	content := f.node.Content
	for i, id := range content {
		loc, ok := repo.Index().Lookup(id)
		if !ok {
			err := fmt.Errorf("blob %s: not in the index (the repository is missing data; run godwit check)", id)
			if ierr := repo.IndexError(); ierr != nil {
				err = fmt.Errorf("blob %s: not in the part of the index that could be read: %w", id, ierr)
			}
			if rest := len(content) - i - 1; rest > 0 {
				err = fmt.Errorf("%w; the %d blobs after it cannot be placed", err, rest)
			}
			f.fail(len(content)-i, err)
			return
		}
		if loc.Type != blob.DataBlob {
			f.fail(1, fmt.Errorf("blob %s in pack %s: is a %s blob, want %s: corrupted or tampered with", id, loc.Pack.ID, loc.Type, blob.DataBlob))
			off += int64(loc.Length)
			continue
		}
		pj := p.byPack[loc.Pack.ID]
		if pj == nil {
			pj = &packJob{pack: loc.Pack, byFrame: make(map[uint64]*frameJob), perFile: make(map[*file]int)}
			p.byPack[loc.Pack.ID] = pj
			p.packs = append(p.packs, pj)
		}
		fj := pj.byFrame[loc.Frame.Offset]
		if fj == nil {
			fj = &frameJob{frame: loc.Frame, byBlob: make(map[blob.ID]*blobJob)}
			pj.byFrame[loc.Frame.Offset] = fj
			pj.frames = append(pj.frames, fj)
		}
		bj := fj.byBlob[id]
		if bj == nil {
			bj = &blobJob{id: id, offset: loc.Offset, length: loc.Length}
			fj.byBlob[id] = bj
			fj.blobs = append(fj.blobs, bj)
		}
		bj.targets = append(bj.targets, target{f: f, off: off})
		pj.perFile[f]++
		f.pending.Add(1)
		off += int64(loc.Length)
	}
}

// restoreContents writes every planned blob, Options.Workers packs at a
// time. It returns only errors that stop the restore: a full disk or the
// context's. All its goroutines have ended when it returns.
func (r *restorer) restoreContents(ctx context.Context) error {
	r.plan.byPack = nil // planning is over
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Workers)
	for i, pj := range r.plan.packs {
		if gctx.Err() != nil {
			break
		}
		r.plan.packs[i] = nil // let a restored pack's plan be collected
		g.Go(func() error { return r.restorePack(gctx, pj) })
	}
	return g.Wait()
}

// restorePack downloads one pack and writes its blobs to all their
// targets. A pack or frame that cannot be read fails the blobs in it.
func (r *restorer) restorePack(ctx context.Context, pj *packJob) error {
	held := r.held.Add(1)
	defer r.held.Add(-1)
	r.mu.Lock()
	r.sum.Packs++
	r.sum.PeakPacksHeld = max(r.sum.PeakPacksHeld, int(held))
	r.mu.Unlock()

	w := &packWriter{r: r, writes: pj.perFile, remaining: make(map[*file]int, len(pj.perFile)), open: make(map[*file]*os.File)}
	for f, n := range pj.perFile {
		w.remaining[f] = n
	}
	defer func() {
		_ = w.closeAll() // after an error that stops the restore
		w.r.mu.Lock()
		w.r.sum.Bytes += w.bytes
		w.r.mu.Unlock()
	}()

	frames := make([]pack.Frame, len(pj.frames))
	for i, fj := range pj.frames {
		frames[i] = fj.frame
	}
	plain, err := r.repo.FetchPack(ctx, pj.pack, frames)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	for _, fj := range pj.frames {
		if err := ctx.Err(); err != nil {
			return err
		}
		frameErr := err
		var data []byte
		if frameErr == nil {
			data, frameErr = r.codec.ReadFrame(plain, fj.frame)
		}
		for _, bj := range fj.blobs {
			b, blobErr := data, frameErr
			if blobErr == nil {
				b, blobErr = r.checkBlob(data, bj)
			}
			if blobErr != nil {
				blobErr = fmt.Errorf("blob %s in pack %s: %w", bj.id, pj.pack.ID, blobErr)
			}
			for _, t := range bj.targets {
				if err := w.write(t, b, blobErr); err != nil {
					return err
				}
			}
		}
	}
	return w.closeAll()
}

// checkBlob returns the blob's bytes inside its decompressed frame after
// checking them against the blob's keyed id.
func (r *restorer) checkBlob(frame []byte, bj *blobJob) ([]byte, error) {
	end := uint64(bj.offset) + uint64(bj.length)
	if end > uint64(len(frame)) {
		return nil, fmt.Errorf("extends past its frame: %w", pack.ErrCorrupt)
	}
	b := frame[bj.offset:end]
	if r.repo.BlobID(b) != bj.id {
		return nil, errors.New("content does not match its id: corrupted or tampered with")
	}
	return b, nil
}

// maxOpenPerPack bounds the files one pack keeps open for writing.
const maxOpenPerPack = 64

// packWriter writes the blobs of one pack. It keeps the files it writes
// open until it has written the last of their blobs in this pack, or until
// too many are open.
type packWriter struct {
	r         *restorer
	writes    map[*file]int // writes to each file in this pack
	remaining map[*file]int // of those, the ones not yet done
	open      map[*file]*os.File
	bytes     uint64
}

// write writes b, or records readErr, at t and finishes the file when this
// was its last write. It returns only errors that stop the restore.
func (w *packWriter) write(t target, b []byte, readErr error) error {
	f := t.f
	w.r.progress.Current(f.src)
	switch {
	case readErr != nil:
		f.fail(1, readErr)
	case f.broken():
	default:
		fd, err := w.handle(f)
		if err == nil {
			if end := int64(f.node.Size); t.off+int64(len(b)) > end {
				b = b[:max(0, end-t.off)] // contents longer than the recorded size
			}
			if err = writeAt(fd, b, t.off, w.r.opts.Sparse); err == nil {
				w.bytes += uint64(len(b))
				w.r.progress.AddBytes(uint64(len(b)))
			}
		}
		if errors.Is(err, syscall.ENOSPC) {
			return diskFull("write", f.target)
		}
		if err != nil {
			f.setWriteErr(err)
		}
	}
	w.remaining[f]--
	if w.remaining[f] > 0 {
		return nil
	}
	delete(w.remaining, f)
	return w.done(f)
}

// done closes f and finishes it when no other pack still has to write to
// it.
func (w *packWriter) done(f *file) error {
	if err := w.close(f); err != nil {
		return err
	}
	if f.pending.Add(-int64(w.writes[f])) == 0 {
		w.r.finish(f)
	}
	return nil
}

// handle returns f opened for writing, checking that it is still the file
// this restore created.
func (w *packWriter) handle(f *file) (*os.File, error) {
	if fd := w.open[f]; fd != nil {
		return fd, nil
	}
	if len(w.open) >= maxOpenPerPack {
		for other := range w.open {
			if err := w.close(other); err != nil {
				return nil, err
			}
			break
		}
	}
	fd, err := fsmeta.OpenFile(f.target, os.O_WRONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(fd.Fd()), &st); err != nil {
		fd.Close()
		return nil, err
	}
	if st.Dev != f.dev || st.Ino != f.ino {
		fd.Close()
		return nil, errors.New("the file was replaced during the restore")
	}
	w.open[f] = fd
	return fd, nil
}

// close closes f if it is open. A full disk stops the restore; any other
// error fails the file.
func (w *packWriter) close(f *file) error {
	fd := w.open[f]
	if fd == nil {
		return nil
	}
	delete(w.open, f)
	err := fd.Close()
	if errors.Is(err, syscall.ENOSPC) {
		return diskFull("close", f.target)
	}
	if err != nil {
		f.setWriteErr(err)
	}
	return nil
}

// closeAll closes every open file and returns the first error that stops
// the restore.
func (w *packWriter) closeAll() error {
	var first error
	for f := range w.open {
		if err := w.close(f); err != nil && first == nil {
			first = err
		}
	}
	return first
}
