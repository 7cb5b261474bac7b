// Package pack reads and writes the plaintext of pack files, the objects
// that hold a repository's blobs.
//
// A pack groups blobs of one kind (data or tree; the caller keeps kinds
// apart) into compressed frames and describes them in a header at its end.
// The package sees only plaintext: the repository layer encrypts a finished
// pack to the data key and decrypts it again for reading, and checks every
// blob it extracts against its keyed id. This package knows nothing of keys,
// backends, indexes or snapshots, and never verifies blob ids.
//
// # Plaintext layout
//
// A pack's plaintext is
//
//	frame 0 | frame 1 | ... | frame F-1 | header | header length
//
// Frames lie back to back from offset 0, with no gaps or padding; the header
// follows the last frame, and the last 4 bytes hold the header's length in
// bytes (not counting those 4 bytes) as a little-endian uint32. A frame is
// either one zstd frame (RFC 8878, with content checksum) or raw bytes. Its
// decompressed contents are blobs back to back; the header says where each
// blob lies.
//
// The writer in this package fills frames like this: a blob of at least
// LargeBlobSize (256 KiB) bytes is a frame of its own; smaller blobs are
// grouped, in the order they were added, into a frame of at most FrameSize
// (1 MiB) uncompressed bytes. Frames are compressed with zstd at its default
// level with literal entropy coding enabled; a frame whose compressed form
// would not be at least 3% smaller is stored raw. Readers must not rely on
// these choices: any layout the header can describe is valid.
//
// # Header, version 1
//
// Integers marked uvarint are unsigned LEB128 varints as written by Go's
// encoding/binary.AppendUvarint (at most 10 bytes, 7 bits per byte, least
// significant group first). Every uvarint must be in its shortest form: a
// multi-byte uvarint whose last byte is 0x00 is invalid.
//
//	size      field
//	4         magic "GWPK" (0x47 0x57 0x50 0x4b)
//	1         version, 0x01
//	uvarint   F, the number of frames
//	F times, in plaintext order:
//	  1         flags: 0x00 raw, 0x01 zstd; other values are invalid
//	  uvarint   stored length in bytes, 1 to MaxFrameSize
//	  uvarint   decompressed length in bytes, 1 to MaxFrameSize;
//	            equal to the stored length for a raw frame
//	uvarint   B, the number of blobs
//	B times:
//	  1         blob type: 0x01 data, 0x02 tree; other values are invalid
//	  32        blob id
//	  uvarint   frame index, less than F
//	  uvarint   offset of the blob in the decompressed frame
//	  uvarint   blob length in bytes, at least 1; offset + length must not
//	            exceed the frame's decompressed length
//
// The header ends right after the last blob; trailing bytes are invalid.
// Frame offsets are not stored: frame i starts at the sum of the stored
// lengths of frames 0 to i-1, and the stored lengths of all frames must add
// up to the header's own offset in the plaintext. Blob ids are unique
// within a pack. A header of more than MaxHeaderSize bytes is invalid.
//
// Since every field is canonical, a header has exactly one encoding:
// ParseHeader followed by Marshal returns the input unchanged.
//
// # Reading
//
// ReadHeader reads a header through an io.ReaderAt, typically the one
// age.DecryptReaderAt returns, with one read of the pack's tail in the common
// case. Codec.ReadFrame reads and decompresses one frame, and ExtractBlob
// cuts a blob out of it. Every length read from a header or a frame is
// checked against the limits above before it is used, so a corrupt or forged
// pack yields an error wrapping ErrCorrupt, never a panic or an allocation
// larger than those limits.
package pack
