package pack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/godwit-backup/godwit/repo/blob"
)

// Writer assembles one pack in memory: add blobs with Add, watch Size to
// decide when the pack is full, then call Finish. A Writer is not safe for
// concurrent use; several Writers may share one Codec.
//
// Frames are compressed in the background as they are closed, at most
// GOMAXPROCS at a time per Writer, so that the caller goes on reading and
// chunking while earlier frames compress; Finish waits for them.
//
// An error from Add rejects that blob only; the Writer stays usable. After
// Finish, every method that changes the Writer returns an error.
type Writer struct {
	codec  *Codec
	frames []*pendingFrame // closed frames, in order
	h      Header
	slots  chan struct{} // bounds concurrent compressions

	open        []byte // contents of the frame being filled
	openEntries []int  // indices in h.Blobs of the blobs in open

	ids      map[blob.ID]struct{}
	rawBytes int64
	finished bool
}

var errFinished = errors.New("pack: writer already finished")

// pendingFrame is a closed frame being compressed.
type pendingFrame struct {
	rawLen     int
	done       chan struct{} // closed when stored and compressed are set
	stored     []byte
	compressed bool
}

// NewWriter returns an empty Writer compressing with c.
func NewWriter(c *Codec) *Writer {
	return &Writer{codec: c, ids: make(map[blob.ID]struct{}), slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

// Add copies data into the pack as the blob of type t with id id. It does
// not check that id matches data. A blob of LargeBlobSize bytes or more is
// compressed into a frame of its own at once; smaller blobs are gathered
// into the open frame, which is compressed when the next blob would take it
// past FrameSize or at Finish.
//
// Add rejects an invalid type, an empty blob, a blob larger than
// MaxBlobSize and an id already in the pack.
func (w *Writer) Add(t blob.Type, id blob.ID, data []byte) error {
	switch {
	case w.finished:
		return errFinished
	case t != blob.DataBlob && t != blob.TreeBlob:
		return fmt.Errorf("pack: add blob %s: invalid type %d", id.Short(), uint8(t))
	case len(data) == 0:
		return fmt.Errorf("pack: add blob %s: empty blob", id.Short())
	case len(data) > MaxBlobSize:
		return fmt.Errorf("pack: add blob %s: %d bytes exceed %d", id.Short(), len(data), MaxBlobSize)
	}
	if _, dup := w.ids[id]; dup {
		return fmt.Errorf("pack: add blob %s: already in the pack", id.Short())
	}
	w.ids[id] = struct{}{}
	w.rawBytes += int64(len(data))

	e := Entry{Type: t, ID: id, Length: uint32(len(data))}
	if len(data) >= LargeBlobSize {
		e.Frame = uint32(len(w.frames))
		w.h.Blobs = append(w.h.Blobs, e)
		w.appendFrame(append([]byte(nil), data...))
		return nil
	}
	if len(w.open)+len(data) > FrameSize {
		w.closeOpen()
	}
	e.Offset = uint32(len(w.open))
	w.openEntries = append(w.openEntries, len(w.h.Blobs))
	w.h.Blobs = append(w.h.Blobs, e)
	w.open = append(w.open, data...)
	return nil
}

// appendFrame starts compressing a frame with contents raw, which the
// Writer owns from now on.
func (w *Writer) appendFrame(raw []byte) {
	f := &pendingFrame{rawLen: len(raw), done: make(chan struct{})}
	w.frames = append(w.frames, f)
	slots := w.slots
	slots <- struct{}{}
	go func() {
		defer func() { <-slots }()
		f.stored, f.compressed = w.codec.compress(nil, raw)
		close(f.done)
	}()
}

// closeOpen stores the open frame, if it holds anything, and starts a new one.
func (w *Writer) closeOpen() {
	if len(w.open) == 0 {
		return
	}
	index := uint32(len(w.frames))
	for _, i := range w.openEntries {
		w.h.Blobs[i].Frame = index
	}
	w.appendFrame(w.open)
	w.open = make([]byte, 0, FrameSize)
	w.openEntries = w.openEntries[:0]
}

// Size returns an upper bound on the plaintext length Finish would return
// now: exact for frames already compressed, counting frames still being
// compressed and the open frame uncompressed, and the header at its
// largest encoding.
func (w *Writer) Size() int {
	frames := len(w.frames)
	if len(w.open) > 0 {
		frames++
	}
	header := len(magic) + 1 + 2*binary.MaxVarintLen32 +
		frames*(1+2*binary.MaxVarintLen32) +
		len(w.h.Blobs)*(1+len(blob.ID{})+3*binary.MaxVarintLen32)
	body := 0
	for _, f := range w.frames {
		select {
		case <-f.done:
			body += len(f.stored)
		default:
			body += f.rawLen
		}
	}
	return body + len(w.open) + header + trailerSize
}

// Count returns the number of blobs added.
func (w *Writer) Count() int { return len(w.h.Blobs) }

// RawBytes returns the sum of the lengths of the blobs added.
func (w *Writer) RawBytes() int64 { return w.rawBytes }

// Finish closes the open frame, appends the header and its length, and
// returns the pack's plaintext and its header. The Writer keeps no reference
// to either. Finish fails on a Writer with no blobs or whose header would
// exceed MaxHeaderSize. After any call to Finish, successful or not, the
// Writer is unusable.
func (w *Writer) Finish() ([]byte, *Header, error) {
	var buf bytes.Buffer
	buf.Grow(w.Size())
	h, err := w.FinishTo(&buf)
	if err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), h, nil
}

// FinishTo is like Finish, but writes the pack's plaintext to dst, frame by
// frame, letting go of each frame once it is written: a pack is never held
// twice in memory. A write error is returned as is; what reached dst is
// then incomplete. After any call, the Writer is unusable.
func (w *Writer) FinishTo(dst io.Writer) (*Header, error) {
	if w.finished {
		return nil, errFinished
	}
	w.finished = true
	if len(w.h.Blobs) == 0 {
		return nil, errors.New("pack: finish: no blobs")
	}
	w.closeOpen()
	var offset uint64
	for _, f := range w.frames {
		<-f.done
		w.h.Frames = append(w.h.Frames, Frame{
			Offset:     offset,
			Length:     uint32(len(f.stored)),
			RawLength:  uint32(f.rawLen),
			Compressed: f.compressed,
		})
		offset += uint64(len(f.stored))
	}
	hb := w.h.Marshal()
	if len(hb) > MaxHeaderSize {
		return nil, fmt.Errorf("pack: finish: header of %d bytes exceeds %d", len(hb), MaxHeaderSize)
	}
	frames := w.frames
	h := &Header{Frames: w.h.Frames, Blobs: w.h.Blobs}
	*w = Writer{finished: true}
	for i, f := range frames {
		if _, err := dst.Write(f.stored); err != nil {
			return nil, err
		}
		frames[i] = nil
	}
	hb = binary.LittleEndian.AppendUint32(hb, uint32(len(hb))) // the trailer: the header's length
	if _, err := dst.Write(hb); err != nil {
		return nil, err
	}
	return h, nil
}
