package index

import (
	"testing"

	"github.com/godwit-backup/godwit/internal/testutil"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/pack"
)

// FuzzIndexUnmarshal checks that no index object makes Unmarshal or AddFile
// panic, that a pack AddFile accepts has every blob reachable within its
// frames, and that Marshal of a decoded index object decodes and encodes to
// the same bytes.
func FuzzIndexUnmarshal(f *testing.F) {
	seeds := []*File{
		testFile(),
		{},
	}
	// A tree pack with a compressed frame and a blob spanning the whole
	// second frame, as the pack writer produces them.
	tp := &Pack{ID: testID(0x44), Type: blob.TreeBlob, Size: 4096, Frames: []pack.Frame{
		{Offset: 0, Length: 700, RawLength: 3000, Compressed: true},
		{Offset: 700, Length: 3000, RawLength: 3000},
	}}
	seeds = append(seeds, &File{Packs: []FilePack{NewFilePack(tp, []pack.Entry{
		{Type: blob.TreeBlob, ID: testID(0x45), Frame: 0, Offset: 0, Length: 1000},
		{Type: blob.TreeBlob, ID: testID(0x46), Frame: 0, Offset: 1000, Length: 2000},
		{Type: blob.TreeBlob, ID: testID(0x47), Frame: 1, Offset: 0, Length: 3000},
	})}})
	for _, s := range seeds {
		data, err := s.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Unmarshal(data)
		if err != nil {
			return
		}
		idx := New()
		if err := idx.AddFile(file); err == nil {
			checkIndexed(t, idx, file)
		}

		out, err := file.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a decoded index: %v", err)
		}
		testutil.CheckStableEncoding(t, out, func(b []byte) ([]byte, error) {
			again, err := Unmarshal(b)
			if err != nil {
				return nil, err
			}
			return again.Marshal()
		})
	})
}

// checkIndexed checks that every blob of the first pack with each id in
// file is found, inside its frame. (A later pack with an id already
// indexed is ignored, as AddPack documents.)
func checkIndexed(t *testing.T, idx *Index, file *File) {
	t.Helper()
	seen := make(map[blob.ID]bool)
	for _, fp := range file.Packs {
		if seen[fp.ID] {
			continue
		}
		seen[fp.ID] = true
		for _, b := range fp.Blobs {
			loc, ok := idx.Lookup(b.ID)
			if !ok {
				t.Fatalf("blob %s of an accepted pack is not indexed", b.ID.Short())
			}
			if uint64(loc.Offset)+uint64(loc.Length) > uint64(loc.Frame.RawLength) {
				t.Fatalf("blob %s extends past its frame: %+v", b.ID.Short(), loc)
			}
		}
	}
	idx.Each(func(blob.ID, Location) {})
}
