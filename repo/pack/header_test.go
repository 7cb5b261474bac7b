package pack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/godwit-backup/godwit/repo/blob"
)

var update = flag.Bool("update", false, "rewrite testdata/headers from goldenHeaders")

func testID(b byte) blob.ID {
	var id blob.ID
	for i := range id {
		id[i] = b + byte(i)
	}
	return id
}

// goldenHeaders are frozen in testdata/headers/<name>.bin, which also seed
// FuzzParseHeader. A change in their encoding is a format change.
var goldenHeaders = map[string]*Header{
	"empty": {Frames: []Frame{}, Blobs: []Entry{}},
	"one-raw-frame": {
		Frames: []Frame{{Offset: 0, Length: 5, RawLength: 5}},
		Blobs:  []Entry{{Type: blob.DataBlob, ID: testID(1), Frame: 0, Offset: 0, Length: 5}},
	},
	"mixed": {
		Frames: []Frame{
			{Offset: 0, Length: 300000, RawLength: 1 << 20, Compressed: true},
			{Offset: 300000, Length: 262144, RawLength: 262144},
			{Offset: 562144, Length: 127, RawLength: 8 << 20, Compressed: true},
			{Offset: 562271, Length: 1, RawLength: 1},
		},
		Blobs: []Entry{
			{Type: blob.TreeBlob, ID: testID(0x10), Frame: 0, Offset: 0, Length: 1000},
			{Type: blob.DataBlob, ID: testID(0x20), Frame: 0, Offset: 1000, Length: 1<<20 - 1000},
			{Type: blob.DataBlob, ID: testID(0x30), Frame: 2, Offset: 0, Length: 8 << 20},
			{Type: blob.DataBlob, ID: testID(0x40), Frame: 1, Offset: 0, Length: 262144},
			{Type: blob.TreeBlob, ID: testID(0x50), Frame: 3, Offset: 0, Length: 1},
			{Type: blob.DataBlob, ID: testID(0x60), Frame: 0, Offset: 128, Length: 128},
		},
	},
}

func TestHeaderEncodingIsFrozen(t *testing.T) {
	for name, h := range goldenHeaders {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "headers", name+".bin")
			got := h.Marshal()
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Marshal = %x\nfrozen    %x", got, want)
			}
			parsed, err := ParseHeader(want)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(parsed, h) {
				t.Fatalf("ParseHeader = %+v, want %+v", parsed, h)
			}
		})
	}
}

func TestHeaderEncodingByteByByte(t *testing.T) {
	h := &Header{
		Frames: []Frame{{Length: 200, RawLength: 300, Compressed: true}},
		Blobs:  []Entry{{Type: blob.TreeBlob, ID: testID(7), Frame: 0, Offset: 130, Length: 170}},
	}
	want := []byte{'G', 'W', 'P', 'K', 1, 1, 0x01, 0xc8, 0x01, 0xac, 0x02, 1, 0x02}
	id := testID(7)
	want = append(want, id[:]...)
	want = append(want, 0x00, 0x82, 0x01, 0xaa, 0x01)
	if got := h.Marshal(); !bytes.Equal(got, want) {
		t.Fatalf("Marshal = %x, want %x", got, want)
	}
}

// packWithHeader returns a pack plaintext: body zero bytes of frames, then
// the header bytes and their length.
func packWithHeader(bodySize uint64, hb []byte) []byte {
	p := make([]byte, bodySize, bodySize+uint64(len(hb))+4)
	p = append(p, hb...)
	return binary.LittleEndian.AppendUint32(p, uint32(len(hb)))
}

func validHeader() *Header {
	return &Header{
		Frames: []Frame{
			{Offset: 0, Length: 40, RawLength: 100, Compressed: true},
			{Offset: 40, Length: 20, RawLength: 20},
		},
		Blobs: []Entry{
			{Type: blob.DataBlob, ID: testID(1), Frame: 0, Offset: 0, Length: 60},
			{Type: blob.TreeBlob, ID: testID(2), Frame: 0, Offset: 60, Length: 40},
			{Type: blob.DataBlob, ID: testID(3), Frame: 1, Offset: 0, Length: 20},
		},
	}
}

func TestReadHeaderOfValidPack(t *testing.T) {
	h := validHeader()
	p := packWithHeader(60, h.Marshal())
	got, err := ReadHeader(bytes.NewReader(p), int64(len(p)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Fatalf("ReadHeader = %+v, want %+v", got, h)
	}
}

func TestReadHeaderLargerThanFirstRead(t *testing.T) {
	h := &Header{Frames: []Frame{{Length: 1 << 20, RawLength: 1 << 20}}}
	for i := range 2000 { // about 80 KiB of header
		h.Blobs = append(h.Blobs, Entry{Type: blob.DataBlob, ID: blob.Hash([]byte{byte(i), byte(i >> 8)}), Offset: uint32(i), Length: 1})
	}
	hb := h.Marshal()
	if len(hb) <= tailRead {
		t.Fatalf("header of %d bytes fits in the first read", len(hb))
	}
	p := packWithHeader(1<<20, hb)
	got, err := ReadHeader(bytes.NewReader(p), int64(len(p)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Fatal("ReadHeader returned a different header")
	}
}

func TestCorruptHeaderIsRejected(t *testing.T) {
	h := validHeader
	marshal := func(edit func(h *Header)) []byte {
		hd := h()
		edit(hd)
		return hd.Marshal()
	}
	good := h().Marshal()
	splice := func(at int, remove int, insert ...byte) []byte {
		b := append([]byte(nil), good[:at]...)
		b = append(b, insert...)
		return append(b, good[at+remove:]...)
	}
	for _, tc := range []struct {
		name string
		hb   []byte
	}{
		{"bad magic", splice(0, 1, 'X')},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"non-canonical frame count", splice(5, 1, 0x82, 0x00)},
		{"frame count beyond the header", splice(5, 1, 0xff, 0xff, 0x03)},
		{"varint overflow", splice(5, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"unknown frame flags", splice(6, 1, 0x02)},
		{"raw frame with compressed length", marshal(func(h *Header) { h.Frames[1].RawLength = 21 })},
		{"zero frame length", marshal(func(h *Header) { h.Frames[0].Length = 0 })},
		{"zero raw length", marshal(func(h *Header) { h.Frames[0].RawLength = 0 })},
		{"raw length above limit", marshal(func(h *Header) { h.Frames[0].RawLength = MaxFrameSize + 1 })},
		{"invalid blob type", marshal(func(h *Header) { h.Blobs[1].Type = blob.InvalidType })},
		{"unknown blob type", marshal(func(h *Header) { h.Blobs[1].Type = 3 })},
		{"duplicate id", marshal(func(h *Header) { h.Blobs[2].ID = h.Blobs[0].ID })},
		{"frame index out of range", marshal(func(h *Header) { h.Blobs[2].Frame = 2 })},
		{"blob beyond its frame", marshal(func(h *Header) { h.Blobs[1].Length = 41 })},
		{"blob offset at frame end", marshal(func(h *Header) { h.Blobs[2].Offset = 20 })},
		{"empty blob", marshal(func(h *Header) { h.Blobs[2].Length = 0 })},
		{"blobs without frames", marshal(func(h *Header) { h.Frames = nil })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseHeader(tc.hb); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ParseHeader error = %v, want ErrCorrupt", err)
			}
			p := packWithHeader(60, tc.hb)
			if _, err := ReadHeader(bytes.NewReader(p), int64(len(p))); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ReadHeader error = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestCorruptPackLayoutIsRejected(t *testing.T) {
	hb := validHeader().Marshal()
	good := packWithHeader(60, hb)
	withLength := func(n uint32) []byte {
		p := bytes.Clone(good)
		binary.LittleEndian.PutUint32(p[len(p)-4:], n)
		return p
	}
	for _, tc := range []struct {
		name string
		pack []byte
	}{
		{"empty", nil},
		{"shorter than the trailer", []byte{1, 2, 3}},
		{"header length beyond the pack", withLength(uint32(len(good)))},
		{"header length at its limit", withLength(MaxHeaderSize + 1)},
		{"header length too short", withLength(uint32(len(hb) - 1))},
		{"frames end before the header", packWithHeader(61, hb)},
		{"frames end after the header", packWithHeader(59, hb)},
		{"no frames", hb},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadHeader(bytes.NewReader(tc.pack), int64(len(tc.pack))); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ReadHeader error = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestUnknownHeaderVersionIsNamed(t *testing.T) {
	hb := validHeader().Marshal()
	hb[4] = 2
	_, err := ParseHeader(hb)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("version 2")) {
		t.Fatalf("ParseHeader error = %v, want one naming version 2", err)
	}
}

// TestEveryTruncationAndBitFlipIsHandled runs ParseHeader on every prefix
// and every single-bit corruption of a real header: prefixes must fail, and
// no input may panic or parse into a header that encodes differently.
func TestEveryTruncationAndBitFlipIsHandled(t *testing.T) {
	good := goldenHeaders["mixed"].Marshal()
	for n := range len(good) {
		if _, err := ParseHeader(good[:n]); err == nil {
			t.Fatalf("prefix of %d bytes parsed", n)
		}
	}
	for i := range len(good) * 8 {
		b := bytes.Clone(good)
		b[i/8] ^= 1 << (i % 8)
		checkParseMarshal(t, b)
	}
}

// checkParseMarshal fails if b parses into a header that does not marshal
// back to b.
func checkParseMarshal(t *testing.T, b []byte) {
	t.Helper()
	h, err := ParseHeader(b)
	if err != nil {
		return
	}
	m := h.Marshal()
	if !bytes.Equal(m, b) {
		t.Fatalf("ParseHeader(%x) marshals to %x", b, m)
	}
	h2, err := ParseHeader(m)
	if err != nil {
		t.Fatalf("reparse: %v", err)
	}
	if !reflect.DeepEqual(h, h2) {
		t.Fatalf("reparse gives %+v, want %+v", h2, h)
	}
}

func FuzzParseHeader(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "headers", "*.bin"))
	if err != nil {
		f.Fatal(err)
	}
	if len(seeds) == 0 {
		f.Fatal("no seed headers in testdata/headers")
	}
	for _, path := range seeds {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := ParseHeader(b); err != nil {
			f.Fatalf("seed %s: %v", path, err)
		}
		f.Add(b)
	}
	// A header as the Writer produces it, compressed frames included.
	c := newCodec(f)
	w := NewWriter(c)
	for i, b := range makeBlobs([]blobSpec{{100, true}, {LargeBlobSize, false}, {5000, true}, {LargeBlobSize + 1, true}, {7, false}}) {
		if err := w.Add(b.t, b.id, b.data); err != nil {
			f.Fatalf("blob %d: %v", i, err)
		}
	}
	pack, _, err := w.Finish()
	if err != nil {
		f.Fatal(err)
	}
	hl := binary.LittleEndian.Uint32(pack[len(pack)-4:])
	f.Add(pack[len(pack)-4-int(hl) : len(pack)-4])

	f.Fuzz(checkParseMarshal)
}
