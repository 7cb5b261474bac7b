package index

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/pack"
)

func testID(b byte) blob.ID {
	var id blob.ID
	for i := range id {
		id[i] = b
	}
	return id
}

// testPack returns a data pack with two frames of 100 raw bytes and the
// given blobs, each 10 bytes long, placed one after another in frame 0.
func testPack(id byte, blobs ...byte) (*Pack, []pack.Entry) {
	p := &Pack{
		ID:   testID(id),
		Type: blob.DataBlob,
		Size: 1234,
		Frames: []pack.Frame{
			{Offset: 0, Length: 60, RawLength: 100, Compressed: true},
			{Offset: 60, Length: 100, RawLength: 100},
		},
	}
	var entries []pack.Entry
	for i, b := range blobs {
		entries = append(entries, pack.Entry{Type: blob.DataBlob, ID: testID(b), Frame: 0, Offset: uint32(10 * i), Length: 10})
	}
	return p, entries
}

func TestAddPackThenLookupFindsEveryBlob(t *testing.T) {
	idx := New()
	p, entries := testPack(0xa0, 1, 2, 3)
	if err := idx.AddPack(p, entries); err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		loc, ok := idx.Lookup(e.ID)
		if !ok {
			t.Fatalf("blob %d not found", i)
		}
		want := Location{Pack: p, Type: blob.DataBlob, Frame: p.Frames[0], Offset: uint32(10 * i), Length: 10}
		if !reflect.DeepEqual(loc, want) {
			t.Errorf("Lookup(blob %d) = %+v, want %+v", i, loc, want)
		}
		if !idx.Has(e.ID) {
			t.Errorf("Has(blob %d) = false", i)
		}
	}
	if idx.Has(testID(9)) {
		t.Error("Has reports a blob that was never added")
	}
	if _, ok := idx.Lookup(testID(9)); ok {
		t.Error("Lookup finds a blob that was never added")
	}
	if idx.Len() != 3 {
		t.Errorf("Len = %d, want 3", idx.Len())
	}
	if got, ok := idx.Pack(p.ID); !ok || got != p {
		t.Errorf("Pack(%s) = %v, %v", p.ID.Short(), got, ok)
	}
}

func TestAddPackKeepsFirstLocationOfDuplicateBlob(t *testing.T) {
	idx := New()
	first, e1 := testPack(0xa0, 1, 2)
	second, e2 := testPack(0xb0, 7, 2) // blob 2 again, at offset 10 of another pack
	e2[1].Frame = 1
	if err := idx.AddPack(first, e1); err != nil {
		t.Fatal(err)
	}
	if err := idx.AddPack(second, e2); err != nil {
		t.Fatal(err)
	}
	loc, ok := idx.Lookup(testID(2))
	if !ok {
		t.Fatal("duplicate blob not found")
	}
	if loc.Pack.ID != first.ID || loc.Frame != first.Frames[0] || loc.Offset != 10 {
		t.Errorf("duplicate blob is at pack %s frame %+v offset %d, want its first location", loc.Pack.ID.Short(), loc.Frame, loc.Offset)
	}
	if idx.Len() != 3 {
		t.Errorf("Len = %d, want 3 distinct blobs", idx.Len())
	}
	if n := len(idx.Packs()); n != 2 {
		t.Errorf("%d packs, want 2", n)
	}
}

func TestAddPackTwiceIsNoOp(t *testing.T) {
	idx := New()
	p, entries := testPack(0xa0, 1)
	for range 2 {
		if err := idx.AddPack(p, entries); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(idx.Packs()); n != 1 {
		t.Errorf("%d packs after adding one twice, want 1", n)
	}
}

func TestAddPackRejectsInconsistentEntries(t *testing.T) {
	cases := []struct {
		name   string
		modify func(*pack.Entry)
		want   string
	}{
		{"frame out of range", func(e *pack.Entry) { e.Frame = 2 }, "in frame 2 of 2"},
		{"past the end of its frame", func(e *pack.Entry) { e.Offset = 95 }, "extends past its frame"},
		{"length overflowing uint32 sum", func(e *pack.Entry) { e.Offset, e.Length = 1<<32-1, 2 }, "extends past its frame"},
		{"tree blob in data pack", func(e *pack.Entry) { e.Type = blob.TreeBlob }, "tree blob in a data pack"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idx := New()
			p, entries := testPack(0xa0, 1, 2)
			tc.modify(&entries[1])
			err := idx.AddPack(p, entries)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("AddPack = %v, want an error containing %q", err, tc.want)
			}
			if idx.Has(testID(1)) || len(idx.Packs()) != 0 {
				t.Error("a rejected pack left entries in the index")
			}
		})
	}
}

func TestEachVisitsEveryBlob(t *testing.T) {
	idx := New()
	p, entries := testPack(0xa0, 1, 2, 3)
	if err := idx.AddPack(p, entries); err != nil {
		t.Fatal(err)
	}
	seen := map[blob.ID]uint32{}
	idx.Each(func(id blob.ID, loc Location) { seen[id] = loc.Offset })
	want := map[blob.ID]uint32{testID(1): 0, testID(2): 10, testID(3): 20}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("Each saw %v, want %v", seen, want)
	}
}

func TestIndexIsSafeForConcurrentUse(t *testing.T) {
	idx := New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, entries := testPack(byte(0x80+i), byte(i))
			if err := idx.AddPack(p, entries); err != nil {
				t.Error(err)
			}
			idx.Has(testID(byte(i)))
			idx.Lookup(testID(byte(i)))
			idx.Packs()
		}()
	}
	wg.Wait()
	if idx.Len() != 8 {
		t.Errorf("Len = %d, want 8", idx.Len())
	}
}

func testFile() *File {
	var f File
	for _, id := range []byte{0xc0, 0x10, 0x80} {
		p, entries := testPack(id, id+1, id+2)
		f.Packs = append(f.Packs, NewFilePack(p, entries))
	}
	return &f
}

func TestFileMarshalSortsPacksAndIsDeterministic(t *testing.T) {
	f := testFile()
	a, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rev := &File{}
	for i := len(f.Packs) - 1; i >= 0; i-- {
		rev.Packs = append(rev.Packs, f.Packs[i])
	}
	b, err := rev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("pack order changes the encoding:\n%s\n%s", a, b)
	}
	if f.Packs[0].ID != testID(0xc0) {
		t.Error("Marshal reordered the caller's packs")
	}
	got, err := Unmarshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []byte{0x10, 0x80, 0xc0} {
		if got.Packs[i].ID != testID(want) {
			t.Errorf("pack %d is %s, want packs sorted by id", i, got.Packs[i].ID.Short())
		}
	}
}

func TestFileUnmarshalOfMarshalRoundTrips(t *testing.T) {
	f := testFile()
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	idxWant, idxGot := New(), New()
	if err := idxWant.AddFile(f); err != nil {
		t.Fatal(err)
	}
	if err := idxGot.AddFile(got); err != nil {
		t.Fatal(err)
	}
	idxWant.Each(func(id blob.ID, want Location) {
		loc, ok := idxGot.Lookup(id)
		if !ok {
			t.Errorf("blob %s lost in the round trip", id.Short())
			return
		}
		if !reflect.DeepEqual(*loc.Pack, *want.Pack) || loc.Frame != want.Frame || loc.Offset != want.Offset || loc.Length != want.Length {
			t.Errorf("blob %s: got %+v in %+v, want %+v in %+v", id.Short(), loc, *loc.Pack, want, *want.Pack)
		}
	})
	if idxGot.Len() != 6 {
		t.Errorf("Len = %d after round trip, want 6", idxGot.Len())
	}
	again, err := got.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Errorf("Marshal(Unmarshal(x)) != x:\n%s\n%s", again, data)
	}
}

func TestFileUnmarshalRejectsBadInput(t *testing.T) {
	cases := []struct {
		name, data, want string
	}{
		{"version 0", `{"version":0,"packs":[]}`, "unsupported version 0"},
		{"version 2", `{"version":2,"packs":[]}`, "unsupported version 2"},
		{"missing version", `{"packs":[]}`, "unsupported version 0"},
		{"not json", `index`, "decode index"},
		{"bad blob type", `{"version":1,"packs":[{"id":"` + strings.Repeat("ab", 32) + `","type":"other"}]}`, "invalid blob type"},
		{"bad id", `{"version":1,"packs":[{"id":"abc","type":"data"}]}`, "invalid id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unmarshal([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Unmarshal = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestAddFileRejectsEntriesOutsideFrames(t *testing.T) {
	cases := []struct {
		name   string
		modify func(*FilePack)
	}{
		{"frame index past the frames", func(fp *FilePack) { fp.Blobs[0].Frame = 5 }},
		{"blob past the raw frame length", func(fp *FilePack) { fp.Blobs[0].Offset = 99 }},
		{"no frames at all", func(fp *FilePack) { fp.Frames = nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := testFile()
			tc.modify(&f.Packs[0])
			data, err := f.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			decoded, err := Unmarshal(data)
			if err != nil {
				t.Fatal(err)
			}
			if err := New().AddFile(decoded); err == nil {
				t.Error("AddFile accepted a blob outside its pack's frames")
			}
		})
	}
}

// TestLocationsTooWideForTheSortedSliceSurviveAMerge adds blobs whose frame
// number, offset or length do not fit a sortedEntry, then enough others to
// force a merge, and checks every location comes back exactly.
func TestLocationsTooWideForTheSortedSliceSurviveAMerge(t *testing.T) {
	frames := make([]pack.Frame, 1100)
	for i := range frames {
		frames[i] = pack.Frame{Offset: uint64(i), Length: 1, RawLength: pack.MaxFrameSize}
	}
	p := &Pack{ID: testID(0xee), Type: blob.DataBlob, Size: 1 << 30, Frames: frames}
	want := map[blob.ID]pack.Entry{}
	add := func(n int, frame, offset, length uint32) {
		var id blob.ID
		id[0], id[1], id[2] = byte(n>>16), byte(n>>8), byte(n)
		id[31] = 1
		want[id] = pack.Entry{Type: blob.DataBlob, ID: id, Frame: frame, Offset: offset, Length: length}
	}
	add(1, 1050, 7, 10)             // frame number too wide
	add(2, 3, 1<<27-10, 10)         // fits: the largest offset
	add(3, 4, 0, pack.MaxFrameSize) // length too wide
	add(4, 1023, 1<<27-2, 1)        // fits: the largest frame and offset
	add(5, 5, 0, 1<<27-1)           // fits: the largest length
	for n := 6; n < recentMin+100; n++ {
		add(n, uint32(n%1024), uint32(n), 1)
	}
	entries := make([]pack.Entry, 0, len(want))
	for _, e := range want {
		entries = append(entries, e)
	}
	idx := New()
	if err := idx.AddPack(p, entries); err != nil {
		t.Fatal(err)
	}
	if len(idx.recent) != 0 || len(idx.wide) != 2 {
		t.Fatalf("after the merge: %d recent, %d wide blobs, want 0 and 2", len(idx.recent), len(idx.wide))
	}
	if idx.Len() != len(want) {
		t.Fatalf("Len() = %d, want %d", idx.Len(), len(want))
	}
	seen := 0
	idx.Each(func(id blob.ID, loc Location) {
		seen++
		e := want[id]
		if loc.Frame != frames[e.Frame] || loc.Offset != e.Offset || loc.Length != e.Length {
			t.Errorf("Each: blob %x at frame %v offset %d length %d, want frame %d offset %d length %d", id[:3], loc.Frame, loc.Offset, loc.Length, e.Frame, e.Offset, e.Length)
		}
	})
	if seen != len(want) {
		t.Errorf("Each visited %d blobs, want %d", seen, len(want))
	}
	for id, e := range want {
		loc, ok := idx.Lookup(id)
		if !ok || loc.Frame != frames[e.Frame] || loc.Offset != e.Offset || loc.Length != e.Length {
			t.Fatalf("Lookup(%x) = %+v, %v; want frame %d offset %d length %d", id[:3], loc, ok, e.Frame, e.Offset, e.Length)
		}
	}
}

// TestManyMergesKeepEveryBlobFindable adds blobs with random ids in many
// packs, so that they are merged into several blocks many times, and then
// finds every one of them, and no other.
func TestManyMergesKeepEveryBlobFindable(t *testing.T) {
	const packs, perPack = 120, 1000
	rng := rand.New(rand.NewPCG(1, 2))
	idx := New()
	var all []blob.ID
	for p := range packs {
		frames := []pack.Frame{{Offset: 0, Length: 100, RawLength: perPack}}
		pk := &Pack{ID: testID(byte(p)), Type: blob.DataBlob, Size: 1000, Frames: frames}
		pk.ID[1] = byte(p >> 8)
		var entries []pack.Entry
		for i := range perPack {
			var id blob.ID
			for k := 0; k < len(id); k += 8 {
				binary.LittleEndian.PutUint64(id[k:], rng.Uint64())
			}
			all = append(all, id)
			entries = append(entries, pack.Entry{Type: blob.DataBlob, ID: id, Frame: 0, Offset: uint32(i), Length: 1})
		}
		if err := idx.AddPack(pk, entries); err != nil {
			t.Fatal(err)
		}
	}
	if len(idx.blocks) < 2 {
		t.Fatalf("%d blocks after %d blobs; the test needs several", len(idx.blocks), len(all))
	}
	var prev *blob.ID
	for b, blk := range idx.blocks {
		if len(blk) == 0 || len(blk) > blockLen {
			t.Fatalf("block %d holds %d entries", b, len(blk))
		}
		for i := range blk {
			if prev != nil && !idLess(prev, &blk[i].id) {
				t.Fatalf("block %d entry %d is out of order", b, i)
			}
			prev = &blk[i].id
		}
	}
	if idx.Len() != len(all) {
		t.Fatalf("Len() = %d, want %d", idx.Len(), len(all))
	}
	for n, id := range all {
		loc, ok := idx.Lookup(id)
		if !ok || loc.Offset != uint32(n%perPack) {
			t.Fatalf("blob %d: Lookup = %+v, %v", n, loc, ok)
		}
	}
	for range 1000 {
		var id blob.ID
		binary.LittleEndian.PutUint64(id[:], rng.Uint64())
		if idx.Has(id) {
			t.Fatalf("Has(%x) of a blob never added", id[:8])
		}
	}
}
