package archiver

import (
	"io"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// holeReader reads a file from offset 0 to its end and returns the zeros
// of its holes without reading them: it asks the file system where data
// starts and ends (SEEK_DATA, SEEK_HOLE) and clears the caller's buffer
// for the holes in between. The bytes it returns are those a plain read
// returns, so chunk boundaries and blob ids do not depend on it; a file
// mostly made of holes (a 5 GiB sparse disk image) is backed up without
// the kernel copying gigabytes of zeros. On a file system that cannot
// report holes it reads everything. It reads with ReadAt and never moves
// the file offset used by Read.
type holeReader struct {
	f       *os.File
	off     int64
	holeEnd int64 // [off, holeEnd) is known to be a hole
	dataEnd int64 // [off, dataEnd) is read from the file
	noSeek  bool  // the file system does not report holes
}

func newHoleReader(f *os.File) *holeReader { return &holeReader{f: f} }

func (r *holeReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !r.noSeek && r.off >= r.holeEnd && r.off >= r.dataEnd {
		r.locate()
	}
	if r.off < r.holeEnd {
		n := min(int64(len(p)), r.holeEnd-r.off)
		clear(p[:n])
		r.off += n
		return int(n), nil
	}
	if !r.noSeek {
		p = p[:min(int64(len(p)), r.dataEnd-r.off)]
	}
	n, err := r.f.ReadAt(p, r.off)
	r.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// locate finds out whether the file has data or a hole at r.off, and up
// to where.
func (r *holeReader) locate() {
	fd := int(r.f.Fd())
	data, err := unix.Seek(fd, r.off, unix.SEEK_DATA)
	switch {
	case err == unix.ENXIO:
		// No data from r.off on: a hole up to the end, or the end itself.
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err == nil && st.Size > r.off {
			r.holeEnd = st.Size
			return
		}
		// At the end: read on, in case the file grew.
		r.dataEnd = math.MaxInt64
	case err != nil:
		r.noSeek = true
	case data > r.off:
		r.holeEnd = data
	default:
		hole, err := unix.Seek(fd, r.off, unix.SEEK_HOLE)
		if err != nil || hole <= r.off {
			r.noSeek = true
			return
		}
		r.dataEnd = hole
	}
}
