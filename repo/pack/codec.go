package pack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Codec holds the zstd encoder and decoder shared by every pack written or
// read in a process. Create one with NewCodec and pass it to NewWriter and
// use its ReadFrame; it is safe for concurrent use by any number of
// goroutines. Call Close once, when nothing uses the Codec any more.
type Codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

// NewCodec returns a Codec compressing at zstd's default level with literal
// entropy coding enabled, so text with a skewed alphabet and few repeats
// (base64 attachments) still compresses.
func NewCodec() (*Codec, error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithAllLitEntropyCompression(true),
		zstd.WithEncoderCRC(true),
		// Frames of grouped blobs are at most 1 MiB; a larger window
		// would only help inside single large blobs, and would cost
		// memory per concurrent encoder.
		zstd.WithWindowSize(FrameSize),
		zstd.WithLowerEncoderMem(true),
	)
	if err != nil {
		return nil, fmt.Errorf("pack: create zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(MaxFrameSize),
		zstd.WithDecodeAllCapLimit(true),
	)
	if err != nil {
		enc.Close()
		return nil, fmt.Errorf("pack: create zstd decoder: %w", err)
	}
	return &Codec{enc: enc, dec: dec}, nil
}

// Close releases the encoder's and decoder's resources. The Codec, and
// Writers using it, must not be used afterwards.
func (c *Codec) Close() {
	c.enc.Close()
	c.dec.Close()
}

// compress returns the stored form of a frame with contents raw, appended
// to dst, and whether it is compressed: zstd if that saves at least 3%,
// raw otherwise.
func (c *Codec) compress(dst, raw []byte) ([]byte, bool) {
	n := len(dst)
	dst = c.enc.EncodeAll(raw, dst)
	if uint64(len(dst)-n)*100 <= uint64(len(raw))*97 {
		return dst, true
	}
	return append(dst[:n], raw...), false
}

// ReadFrame reads frame f from r, the plaintext of a pack, and returns its
// decompressed contents in a new slice. It checks the frame's lengths against
// the format's limits before allocating, and that the contents have exactly
// f.RawLength bytes; a mismatch or a zstd error wraps ErrCorrupt. Read errors
// from r are wrapped as they are.
func (c *Codec) ReadFrame(r io.ReaderAt, f Frame) ([]byte, error) {
	if f.Length == 0 || f.Length > MaxFrameSize || f.RawLength == 0 || f.RawLength > MaxFrameSize {
		return nil, corruptf("frame at offset %d has length %d, raw length %d", f.Offset, f.Length, f.RawLength)
	}
	if !f.Compressed && f.Length != f.RawLength {
		return nil, corruptf("raw frame at offset %d has length %d but raw length %d", f.Offset, f.Length, f.RawLength)
	}
	buf := make([]byte, f.Length)
	if err := readFullAt(r, buf, f.Offset); err != nil {
		return nil, fmt.Errorf("pack: read frame at offset %d: %w", f.Offset, err)
	}
	if !f.Compressed {
		return buf, nil
	}
	out, err := c.dec.DecodeAll(buf, make([]byte, 0, f.RawLength))
	if err != nil {
		return nil, fmt.Errorf("%w: frame at offset %d: %w", ErrCorrupt, f.Offset, err)
	}
	if len(out) != int(f.RawLength) {
		return nil, corruptf("frame at offset %d decompressed to %d bytes, want %d", f.Offset, len(out), f.RawLength)
	}
	return out, nil
}

// ExtractBlob returns a copy of the bytes of blob e inside frame, the
// decompressed contents of the frame e refers to. An entry reaching beyond
// the frame yields an error wrapping ErrCorrupt.
func ExtractBlob(frame []byte, e Entry) ([]byte, error) {
	end := uint64(e.Offset) + uint64(e.Length)
	if end > uint64(len(frame)) {
		return nil, corruptf("blob %s at %d+%d exceeds its frame of %d bytes", e.ID.Short(), e.Offset, e.Length, len(frame))
	}
	return append([]byte(nil), frame[e.Offset:end]...), nil
}

// ReadHeader reads and validates the header of a pack whose plaintext has
// plaintextSize bytes and is readable through r (for example the
// io.ReaderAt age.DecryptReaderAt returns). It reads the pack's last 16 KiB
// first and reads again only for a larger header. Besides what ParseHeader
// checks, the frames must fill the pack exactly up to the header. Malformed
// packs yield an error wrapping ErrCorrupt; read errors from r are wrapped
// as they are.
func ReadHeader(r io.ReaderAt, plaintextSize int64) (*Header, error) {
	if plaintextSize < trailerSize {
		return nil, corruptf("pack of %d bytes is too short", plaintextSize)
	}
	tail := make([]byte, min(plaintextSize, tailRead))
	if err := readFullAt(r, tail, uint64(plaintextSize-int64(len(tail)))); err != nil {
		return nil, fmt.Errorf("pack: read header: %w", err)
	}
	hl := int64(binary.LittleEndian.Uint32(tail[len(tail)-trailerSize:]))
	if hl > plaintextSize-trailerSize || hl > MaxHeaderSize {
		return nil, corruptf("header length %d exceeds pack of %d bytes", hl, plaintextSize)
	}
	headerStart := plaintextSize - trailerSize - hl
	var hb []byte
	if hl+trailerSize <= int64(len(tail)) {
		hb = tail[int64(len(tail))-trailerSize-hl : len(tail)-trailerSize]
	} else {
		hb = make([]byte, hl)
		if err := readFullAt(r, hb, uint64(headerStart)); err != nil {
			return nil, fmt.Errorf("pack: read header: %w", err)
		}
	}
	h, err := ParseHeader(hb)
	if err != nil {
		return nil, err
	}
	if body := h.bodySize(); body != uint64(headerStart) {
		return nil, corruptf("frames end at %d but the header starts at %d", body, headerStart)
	}
	return h, nil
}

// tailRead is how much of a pack's end ReadHeader reads at first: enough
// for the header of a pack of a few hundred blobs.
const tailRead = 16 << 10

// readFullAt fills p from r at off. Unlike a bare ReadAt it accepts io.EOF
// alongside a full read and reports a short one as io.ErrUnexpectedEOF.
func readFullAt(r io.ReaderAt, p []byte, off uint64) error {
	if off > 1<<62 {
		return fmt.Errorf("offset %d out of range", off)
	}
	n, err := r.ReadAt(p, int64(off))
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
