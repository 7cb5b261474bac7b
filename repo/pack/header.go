package pack

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/godwit-backup/godwit/repo/blob"
)

// Format limits. They bound every allocation made on behalf of a header.
const (
	// FrameSize is the most uncompressed bytes the Writer groups into one
	// frame of small blobs.
	FrameSize = 1 << 20
	// LargeBlobSize is the size from which a blob gets a frame of its own.
	LargeBlobSize = 256 << 10
	// MaxBlobSize is the largest blob a pack holds.
	MaxBlobSize = 128 << 20
	// MaxFrameSize bounds a frame's stored and decompressed lengths.
	MaxFrameSize = MaxBlobSize
	// MaxHeaderSize bounds the encoded header.
	MaxHeaderSize = 64 << 20
)

// ErrCorrupt is wrapped by every error reporting a pack whose header or
// frames are malformed, inconsistent or fail to decompress.
var ErrCorrupt = errors.New("corrupt pack")

const (
	headerVersion = 1
	trailerSize   = 4

	flagCompressed = 0x01

	// Smallest encodings, used to bound counts by the bytes left.
	minFrameSize = 1 + 1 + 1
	minEntrySize = 1 + len(blob.ID{}) + 1 + 1 + 1
)

var magic = [4]byte{'G', 'W', 'P', 'K'}

// Frame describes one frame of a pack.
type Frame struct {
	Offset     uint64 // offset in the pack plaintext
	Length     uint32 // stored length
	RawLength  uint32 // length after decompression
	Compressed bool   // zstd, or stored raw
}

// Entry describes one blob of a pack.
type Entry struct {
	Type   blob.Type
	ID     blob.ID
	Frame  uint32 // index into Header.Frames
	Offset uint32 // offset of the blob inside the decompressed frame
	Length uint32 // blob length
}

// Header lists a pack's frames, in plaintext order, and its blobs.
type Header struct {
	Frames []Frame
	Blobs  []Entry
}

// Marshal returns the encoding of h described in the package documentation.
// Frame offsets are not encoded: the format implies them from the frame
// lengths. Marshal does not validate h; ParseHeader of its output does.
func (h *Header) Marshal() []byte {
	b := make([]byte, 0, len(magic)+1+2*binary.MaxVarintLen64+len(h.Frames)*11+len(h.Blobs)*48)
	b = append(b, magic[:]...)
	b = append(b, headerVersion)
	b = binary.AppendUvarint(b, uint64(len(h.Frames)))
	for _, f := range h.Frames {
		var flags byte
		if f.Compressed {
			flags = flagCompressed
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(f.Length))
		b = binary.AppendUvarint(b, uint64(f.RawLength))
	}
	b = binary.AppendUvarint(b, uint64(len(h.Blobs)))
	for _, e := range h.Blobs {
		b = append(b, byte(e.Type))
		b = append(b, e.ID[:]...)
		b = binary.AppendUvarint(b, uint64(e.Frame))
		b = binary.AppendUvarint(b, uint64(e.Offset))
		b = binary.AppendUvarint(b, uint64(e.Length))
	}
	return b
}

// bodySize returns the number of plaintext bytes the frames of h occupy.
func (h *Header) bodySize() uint64 {
	if len(h.Frames) == 0 {
		return 0
	}
	last := h.Frames[len(h.Frames)-1]
	return last.Offset + uint64(last.Length)
}

// ParseHeader decodes and validates a header: b is the header without the
// 4-byte length that follows it in a pack. It checks everything the header
// says about itself; ReadHeader also checks that the frames fill the pack up
// to the header. Malformed input yields an error wrapping ErrCorrupt.
func ParseHeader(b []byte) (*Header, error) {
	if len(b) > MaxHeaderSize {
		return nil, corruptf("header of %d bytes exceeds %d", len(b), MaxHeaderSize)
	}
	if len(b) < len(magic)+1 || [4]byte(b[:4]) != magic {
		return nil, corruptf("header lacks magic")
	}
	if b[4] != headerVersion {
		return nil, fmt.Errorf("pack: unsupported header version %d", b[4])
	}
	d := decoder{b: b, pos: len(magic) + 1}

	nFrames, err := d.count("frame", minFrameSize)
	if err != nil {
		return nil, err
	}
	h := &Header{Frames: make([]Frame, nFrames)}
	var offset uint64
	for i := range h.Frames {
		flags, err := d.byte()
		if err != nil {
			return nil, err
		}
		if flags&^flagCompressed != 0 {
			return nil, corruptf("frame %d has flags %#x", i, flags)
		}
		length, err := d.uvarint(1, MaxFrameSize)
		if err != nil {
			return nil, err
		}
		rawLength, err := d.uvarint(1, MaxFrameSize)
		if err != nil {
			return nil, err
		}
		f := Frame{Offset: offset, Length: uint32(length), RawLength: uint32(rawLength), Compressed: flags == flagCompressed}
		if !f.Compressed && f.Length != f.RawLength {
			return nil, corruptf("raw frame %d has length %d but raw length %d", i, f.Length, f.RawLength)
		}
		h.Frames[i] = f
		offset += length
	}

	nBlobs, err := d.count("blob", minEntrySize)
	if err != nil {
		return nil, err
	}
	h.Blobs = make([]Entry, nBlobs)
	seen := make(map[blob.ID]struct{}, nBlobs)
	for i := range h.Blobs {
		t, err := d.byte()
		if err != nil {
			return nil, err
		}
		e := Entry{Type: blob.Type(t)}
		if e.Type != blob.DataBlob && e.Type != blob.TreeBlob {
			return nil, corruptf("blob %d has type %d", i, t)
		}
		if err := d.read(e.ID[:]); err != nil {
			return nil, err
		}
		if _, dup := seen[e.ID]; dup {
			return nil, corruptf("blob %s listed twice", e.ID.Short())
		}
		seen[e.ID] = struct{}{}
		if nFrames == 0 {
			return nil, corruptf("blob %d refers to a frame but there are none", i)
		}
		frame, err := d.uvarint(0, uint64(nFrames-1))
		if err != nil {
			return nil, err
		}
		e.Frame = uint32(frame)
		raw := uint64(h.Frames[e.Frame].RawLength)
		off, err := d.uvarint(0, raw-1)
		if err != nil {
			return nil, err
		}
		length, err := d.uvarint(1, raw-off)
		if err != nil {
			return nil, err
		}
		e.Offset, e.Length = uint32(off), uint32(length)
		h.Blobs[i] = e
	}
	if d.pos != len(b) {
		return nil, corruptf("%d bytes after the header", len(b)-d.pos)
	}
	return h, nil
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// decoder reads a header, reporting every problem as corruption.
type decoder struct {
	b   []byte
	pos int
}

func (d *decoder) byte() (byte, error) {
	if d.pos >= len(d.b) {
		return 0, corruptf("header truncated at byte %d", d.pos)
	}
	d.pos++
	return d.b[d.pos-1], nil
}

func (d *decoder) read(p []byte) error {
	if len(d.b)-d.pos < len(p) {
		return corruptf("header truncated at byte %d", d.pos)
	}
	d.pos += copy(p, d.b[d.pos:])
	return nil
}

// uvarint reads a canonical uvarint and checks that it lies in [lo, hi].
func (d *decoder) uvarint(lo, hi uint64) (uint64, error) {
	start := d.pos
	v, n := binary.Uvarint(d.b[d.pos:])
	switch {
	case n == 0:
		return 0, corruptf("header truncated at byte %d", start)
	case n < 0:
		return 0, corruptf("varint overflows at byte %d", start)
	case n > 1 && d.b[start+n-1] == 0:
		return 0, corruptf("varint at byte %d is not in shortest form", start)
	}
	d.pos += n
	if v < lo || v > hi {
		return 0, corruptf("value %d at byte %d outside %d..%d", v, start, lo, hi)
	}
	return v, nil
}

// count reads the number of following items, each at least minSize bytes,
// and checks that they can fit in what is left of the header.
func (d *decoder) count(what string, minSize int) (int, error) {
	start := d.pos
	n, err := d.uvarint(0, MaxHeaderSize)
	if err != nil {
		return 0, err
	}
	if left := uint64(len(d.b) - d.pos); n > left/uint64(minSize) {
		return 0, corruptf("%d %ss at byte %d cannot fit in %d bytes", n, what, start, left)
	}
	return int(n), nil
}
