package pack

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/godwit-backup/godwit/repo/blob"
)

func newCodec(t testing.TB) *Codec {
	t.Helper()
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// randomBytes returns n incompressible bytes determined by seed.
func randomBytes(seed uint64, n int) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

// base64Text returns n bytes of base64 of random bytes, like a mail
// attachment: no repeats for a match finder, but only 64 symbols.
func base64Text(seed uint64, n int) []byte {
	return []byte(base64.StdEncoding.EncodeToString(randomBytes(seed, n))[:n])
}

type testBlob struct {
	t    blob.Type
	id   blob.ID
	data []byte
}

// blobSpec describes test blobs: size and whether they are text.
type blobSpec struct {
	size int
	text bool
}

func makeBlobs(specs []blobSpec) []testBlob {
	blobs := make([]testBlob, len(specs))
	for i, s := range specs {
		var data []byte
		if s.text {
			data = base64Text(uint64(i)+1000, s.size)
		} else {
			data = randomBytes(uint64(i), s.size)
		}
		t := blob.DataBlob
		if i%5 == 4 {
			t = blob.TreeBlob
		}
		blobs[i] = testBlob{t: t, id: blob.Hash(append([]byte{byte(i), byte(i >> 8)}, data...)), data: data}
	}
	return blobs
}

func repeat(s blobSpec, n int) []blobSpec {
	specs := make([]blobSpec, n)
	for i := range specs {
		specs[i] = s
	}
	return specs
}

// writePack adds blobs to a new Writer and finishes it, checking the
// Writer's counters on the way.
func writePack(t *testing.T, c *Codec, blobs []testBlob) ([]byte, *Header) {
	t.Helper()
	w := NewWriter(c)
	var raw int64
	for _, b := range blobs {
		if err := w.Add(b.t, b.id, b.data); err != nil {
			t.Fatalf("Add: %v", err)
		}
		raw += int64(len(b.data))
	}
	if w.Count() != len(blobs) || w.RawBytes() != raw {
		t.Fatalf("Count, RawBytes = %d, %d; want %d, %d", w.Count(), w.RawBytes(), len(blobs), raw)
	}
	size := w.Size()
	pack, h, err := w.Finish()
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if len(pack) > size {
		t.Errorf("pack has %d bytes, more than Size reported before Finish (%d)", len(pack), size)
	}
	return pack, h
}

// checkPack reads every blob back through ReadHeader, ReadFrame and
// ExtractBlob and compares with what was written.
func checkPack(t *testing.T, c *Codec, pack []byte, written *Header, blobs []testBlob) {
	t.Helper()
	r := bytes.NewReader(pack)
	h, err := ReadHeader(r, int64(len(pack)))
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	if !reflect.DeepEqual(h, written) {
		t.Fatalf("ReadHeader = %+v, Finish returned %+v", h, written)
	}
	if len(h.Blobs) != len(blobs) {
		t.Fatalf("header lists %d blobs, want %d", len(h.Blobs), len(blobs))
	}
	frames := make(map[uint32][]byte)
	for i, e := range h.Blobs {
		if e.Type != blobs[i].t || e.ID != blobs[i].id {
			t.Fatalf("entry %d is %v %s, want %v %s", i, e.Type, e.ID.Short(), blobs[i].t, blobs[i].id.Short())
		}
		frame, ok := frames[e.Frame]
		if !ok {
			frame, err = c.ReadFrame(r, h.Frames[e.Frame])
			if err != nil {
				t.Fatalf("ReadFrame %d: %v", e.Frame, err)
			}
			frames[e.Frame] = frame
		}
		data, err := ExtractBlob(frame, e)
		if err != nil {
			t.Fatalf("ExtractBlob %d: %v", i, err)
		}
		if !bytes.Equal(data, blobs[i].data) {
			t.Fatalf("blob %d (%d bytes) read back differently", i, len(blobs[i].data))
		}
	}
	if len(frames) != len(h.Frames) {
		t.Errorf("%d frames hold no blob", len(h.Frames)-len(frames))
	}
}

func TestPackRoundTrip(t *testing.T) {
	c := newCodec(t)
	for _, tc := range []struct {
		name  string
		specs []blobSpec
	}{
		{"one byte", []blobSpec{{1, false}}},
		{"one small text blob", []blobSpec{{5000, true}}},
		{"just below the large blob size", []blobSpec{{LargeBlobSize - 1, false}, {LargeBlobSize - 1, true}}},
		{"at the large blob size", []blobSpec{{LargeBlobSize, false}, {LargeBlobSize, true}}},
		{"just above the large blob size", []blobSpec{{LargeBlobSize + 1, true}, {LargeBlobSize + 1, false}}},
		{"around the frame size", []blobSpec{{FrameSize - 1, true}, {FrameSize, false}, {FrameSize + 1, true}}},
		{"small blobs crossing several frames", repeat(blobSpec{30000, true}, 100)},
		{"tiny blobs", repeat(blobSpec{3, false}, 500)},
		{"mixed", []blobSpec{
			{10, true}, {LargeBlobSize, false}, {200000, true}, {1, false}, {3 << 20, true},
			{LargeBlobSize - 1, false}, {70000, false}, {FrameSize, true}, {500, true}, {8 << 20, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blobs := makeBlobs(tc.specs)
			pack, h := writePack(t, c, blobs)
			checkPack(t, c, pack, h, blobs)
		})
	}
}

// TestFrameGrouping checks which blobs share a frame: small blobs are
// grouped up to FrameSize, a blob of LargeBlobSize or more is alone.
func TestFrameGrouping(t *testing.T) {
	c := newCodec(t)
	small := blobSpec{LargeBlobSize - 1, false}
	for _, tc := range []struct {
		name   string
		specs  []blobSpec
		frames [][]int // blob indices of each frame, in pack order
	}{
		{"large blob between small ones", []blobSpec{{100, false}, {LargeBlobSize, false}, {200, false}},
			[][]int{{1}, {0, 2}}},
		{"small blobs filling a frame exactly", append(repeat(small, 4), blobSpec{4, false}),
			[][]int{{0, 1, 2, 3, 4}}},
		{"one byte past a full frame", append(repeat(small, 4), blobSpec{5, false}),
			[][]int{{0, 1, 2, 3}, {4}}},
		{"large blobs", []blobSpec{{FrameSize + 1, false}, {LargeBlobSize, true}},
			[][]int{{0}, {1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blobs := makeBlobs(tc.specs)
			pack, h := writePack(t, c, blobs)
			got := make([][]int, len(h.Frames))
			for i, e := range h.Blobs {
				got[e.Frame] = append(got[e.Frame], i)
			}
			if !reflect.DeepEqual(got, tc.frames) {
				t.Fatalf("frames hold blobs %v, want %v", got, tc.frames)
			}
			for i, f := range h.Frames {
				if f.RawLength > FrameSize && len(got[i]) > 1 {
					t.Errorf("frame %d groups %d blobs in %d bytes", i, len(got[i]), f.RawLength)
				}
			}
			checkPack(t, c, pack, h, blobs)
		})
	}
}

func TestFrameStorage(t *testing.T) {
	c := newCodec(t)
	for _, tc := range []struct {
		name           string
		data           []byte
		wantCompressed bool
		maxRatio       float64 // largest stored/raw length for compressed frames
	}{
		// Literal entropy coding is what makes base64 compress at all.
		{"base64 attachment", base64Text(1, 512<<10), true, 0.8},
		{"small base64 blob", base64Text(2, 20000), true, 0.8},
		{"zeroes", make([]byte, 1<<20), true, 0.01},
		{"random", randomBytes(3, 512<<10), false, 0},
		{"small random blob", randomBytes(4, 20000), false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blobs := []testBlob{{blob.DataBlob, blob.Hash(tc.data), tc.data}}
			pack, h := writePack(t, c, blobs)
			f := h.Frames[0]
			if f.Compressed != tc.wantCompressed {
				t.Fatalf("frame compressed = %v, want %v (%d of %d bytes)", f.Compressed, tc.wantCompressed, f.Length, f.RawLength)
			}
			if f.Compressed && float64(f.Length) > tc.maxRatio*float64(f.RawLength) {
				t.Errorf("frame compressed to %d of %d bytes, want at most %.0f%%", f.Length, f.RawLength, 100*tc.maxRatio)
			}
			if !f.Compressed && f.Length != f.RawLength {
				t.Errorf("raw frame has length %d, raw length %d", f.Length, f.RawLength)
			}
			checkPack(t, c, pack, h, blobs)
		})
	}
}

func TestWriterRejectsInvalidBlobs(t *testing.T) {
	c := newCodec(t)
	w := NewWriter(c)
	first := []byte("first")
	if err := w.Add(blob.DataBlob, blob.Hash(first), first); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		t    blob.Type
		id   blob.ID
		data []byte
	}{
		{"duplicate id", blob.TreeBlob, blob.Hash(first), []byte("other")},
		{"empty blob", blob.DataBlob, blob.Hash(nil), nil},
		{"invalid type", blob.InvalidType, blob.Hash([]byte("x")), []byte("x")},
		{"unknown type", blob.Type(3), blob.Hash([]byte("y")), []byte("y")},
		{"oversized blob", blob.DataBlob, blob.Hash([]byte("z")), make([]byte, MaxBlobSize+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := w.Add(tc.t, tc.id, tc.data); err == nil {
				t.Fatal("Add succeeded")
			}
		})
	}
	// The rejected blobs left no trace and the Writer still works.
	second := []byte("second")
	if err := w.Add(blob.DataBlob, blob.Hash(second), second); err != nil {
		t.Fatalf("Add after rejected blobs: %v", err)
	}
	if w.Count() != 2 || w.RawBytes() != int64(len(first)+len(second)) {
		t.Fatalf("Count, RawBytes = %d, %d after rejected blobs", w.Count(), w.RawBytes())
	}
	pack, h, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	checkPack(t, c, pack, h, []testBlob{
		{blob.DataBlob, blob.Hash(first), first},
		{blob.DataBlob, blob.Hash(second), second},
	})
}

func TestWriterIsUnusableAfterFinish(t *testing.T) {
	w := NewWriter(newCodec(t))
	data := []byte("data")
	if err := w.Add(blob.DataBlob, blob.Hash(data), data); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(blob.DataBlob, blob.Hash([]byte("more")), []byte("more")); err == nil {
		t.Error("Add after Finish succeeded")
	}
	if _, _, err := w.Finish(); err == nil {
		t.Error("second Finish succeeded")
	}
}

func TestFinishRejectsEmptyPack(t *testing.T) {
	if _, _, err := NewWriter(newCodec(t)).Finish(); err == nil {
		t.Fatal("Finish of a pack without blobs succeeded")
	}
}

// failAfter accepts n bytes, then fails every write.
type failAfter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errDiskFull
	}
	f.n -= len(p)
	return len(p), nil
}

func TestFinishToReturnsTheWriteErrorAndLeavesTheWriterUnusable(t *testing.T) {
	for _, after := range []int{0, LargeBlobSize / 2, LargeBlobSize + 10} {
		w := NewWriter(newCodec(t))
		large := randomBytes(2, LargeBlobSize)
		if err := w.Add(blob.DataBlob, blob.Hash(large), large); err != nil {
			t.Fatal(err)
		}
		if _, err := w.FinishTo(&failAfter{n: after}); !errors.Is(err, errDiskFull) {
			t.Errorf("FinishTo failing after %d bytes = %v, want the write error", after, err)
		}
		if _, err := w.FinishTo(io.Discard); err == nil {
			t.Errorf("FinishTo after a failed FinishTo succeeded")
		}
	}
}

func TestAddCopiesData(t *testing.T) {
	c := newCodec(t)
	w := NewWriter(c)
	small, large := []byte("small blob"), randomBytes(1, LargeBlobSize)
	blobs := []testBlob{
		{blob.DataBlob, blob.Hash(small), bytes.Clone(small)},
		{blob.DataBlob, blob.Hash(large), bytes.Clone(large)},
	}
	for _, b := range []testBlob{{blob.DataBlob, blob.Hash(small), small}, {blob.DataBlob, blob.Hash(large), large}} {
		if err := w.Add(b.t, b.id, b.data); err != nil {
			t.Fatal(err)
		}
	}
	clear(small)
	clear(large)
	pack, h, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	checkPack(t, c, pack, h, blobs)
}

func TestSizeGrowsWithBlobs(t *testing.T) {
	w := NewWriter(newCodec(t))
	prev := w.Size()
	for i, b := range makeBlobs([]blobSpec{{100, true}, {LargeBlobSize, false}, {FrameSize - 50, true}, {10, false}}) {
		if err := w.Add(b.t, b.id, b.data); err != nil {
			t.Fatal(err)
		}
		if s := w.Size(); s <= prev {
			t.Fatalf("Size after blob %d is %d, was %d", i, s, prev)
		}
		prev = w.Size()
	}
}

func TestCodecIsSafeForConcurrentUse(t *testing.T) {
	c := newCodec(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			specs := []blobSpec{{1000 * (g + 1), true}, {LargeBlobSize + g, true}, {300, false}}
			blobs := makeBlobs(specs)
			w := NewWriter(c)
			for _, b := range blobs {
				if err := w.Add(b.t, b.id, b.data); err != nil {
					t.Error(err)
					return
				}
			}
			pack, _, err := w.Finish()
			if err != nil {
				t.Error(err)
				return
			}
			r := bytes.NewReader(pack)
			h, err := ReadHeader(r, r.Size())
			if err != nil {
				t.Error(err)
				return
			}
			for _, e := range h.Blobs {
				frame, err := c.ReadFrame(r, h.Frames[e.Frame])
				if err != nil {
					t.Error(err)
					return
				}
				data, err := ExtractBlob(frame, e)
				if err != nil || !bytes.Equal(data, blobs[indexOf(blobs, e.ID)].data) {
					t.Errorf("goroutine %d: blob %s read back wrong (%v)", g, e.ID.Short(), err)
				}
			}
		})
	}
	wg.Wait()
}

func indexOf(blobs []testBlob, id blob.ID) int {
	for i, b := range blobs {
		if b.id == id {
			return i
		}
	}
	panic(fmt.Sprintf("blob %s not written", id.Short()))
}

// errReaderAt fails every read.
type errReaderAt struct{ err error }

func (r errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, r.err }

func TestReadErrorsAreWrapped(t *testing.T) {
	boom := errors.New("connection reset")
	r := errReaderAt{boom}
	if _, err := ReadHeader(r, 1000); !errors.Is(err, boom) {
		t.Errorf("ReadHeader error = %v, want %v", err, boom)
	}
	if _, err := newCodec(t).ReadFrame(r, Frame{Length: 10, RawLength: 10}); !errors.Is(err, boom) {
		t.Errorf("ReadFrame error = %v, want %v", err, boom)
	}
}

func TestReadFrameRejectsBadFrames(t *testing.T) {
	c := newCodec(t)
	text := base64Text(9, 100000)
	pack, h := writePack(t, c, []testBlob{{blob.DataBlob, blob.Hash(text), text}})
	good := h.Frames[0]
	if !good.Compressed {
		t.Fatal("test frame is not compressed")
	}
	flipped := bytes.Clone(pack)
	flipped[good.Length/2] ^= 0x10

	for _, tc := range []struct {
		name string
		pack []byte
		f    Frame
		want error
	}{
		{"flipped byte", flipped, good, ErrCorrupt},
		{"raw length too small", pack, Frame{Length: good.Length, RawLength: good.RawLength - 1, Compressed: true}, ErrCorrupt},
		{"raw length too large", pack, Frame{Length: good.Length, RawLength: good.RawLength + 1, Compressed: true}, ErrCorrupt},
		{"truncated frame", pack, Frame{Length: good.Length - 1, RawLength: good.RawLength, Compressed: true}, ErrCorrupt},
		{"zero length", pack, Frame{Length: 0, RawLength: 0}, ErrCorrupt},
		{"raw length above limit", pack, Frame{Length: 10, RawLength: MaxFrameSize + 1, Compressed: true}, ErrCorrupt},
		{"raw frame with different raw length", pack, Frame{Length: 10, RawLength: 11}, ErrCorrupt},
		{"beyond the end of the pack", pack, Frame{Offset: uint64(len(pack)) - 5, Length: 10, RawLength: 10}, io.ErrUnexpectedEOF},
		{"offset overflowing int64", pack, Frame{Offset: 1 << 63, Length: 10, RawLength: 10}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ReadFrame(bytes.NewReader(tc.pack), tc.f)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("ReadFrame error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestExtractBlobChecksBounds(t *testing.T) {
	frame := []byte("0123456789")
	for _, tc := range []struct {
		name   string
		e      Entry
		want   string
		wantOK bool
	}{
		{"whole frame", Entry{Offset: 0, Length: 10}, "0123456789", true},
		{"middle", Entry{Offset: 3, Length: 4}, "3456", true},
		{"end", Entry{Offset: 9, Length: 1}, "9", true},
		{"one past the end", Entry{Offset: 5, Length: 6}, "", false},
		{"offset past the end", Entry{Offset: 11, Length: 0}, "", false},
		{"overflowing uint32", Entry{Offset: 5, Length: 1<<32 - 1}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ExtractBlob(frame, tc.e)
			if tc.wantOK != (err == nil) || string(got) != tc.want {
				t.Fatalf("ExtractBlob = %q, %v; want %q, ok=%v", got, err, tc.want, tc.wantOK)
			}
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", err)
			}
			if len(got) > 0 && &got[0] == &frame[tc.e.Offset] {
				t.Error("ExtractBlob returned a slice of the frame, not a copy")
			}
		})
	}
}
