package walker

import (
	"context"
	"testing"

	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/pack"
	"github.com/godwit-backup/godwit/repo/tree"
)

func hardlink(name string, inode uint64, parts ...string) *tree.Node {
	return with(file(name, parts...), func(n *tree.Node) { n.Inode, n.DeviceID, n.Links = inode, 1, 2 })
}

func count(t *testing.T, m *memTrees, loc Locator, roots ...blob.ID) Stats {
	t.Helper()
	c := NewCounter(m, loc)
	for _, r := range roots {
		if err := c.AddSnapshot(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	return c.Stats()
}

func TestCounterCountsHardlinkedFilesOncePerSnapshot(t *testing.T) {
	m := newMemTrees()
	snap := m.save(t,
		m.dir(t, "a", hardlink("x", 7, "0123456789")),
		m.dir(t, "b", hardlink("y", 7, "0123456789"), symlink("l", "x")),
		file("z", "abc"),
	)
	got := count(t, m, nil, snap)
	want := Stats{Snapshots: 1, Files: 2, Dirs: 2, Others: 1, RestoreSize: 13}
	if got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	// The same snapshot twice: the link is counted once in each.
	got = count(t, m, nil, snap, snap)
	if got.Files != 4 || got.RestoreSize != 26 {
		t.Errorf("two snapshots: %d files, %d bytes; want 4, 26", got.Files, got.RestoreSize)
	}
}

func TestCounterCountsSharedBlobsOnceAndRemembersSubtrees(t *testing.T) {
	m := newMemTrees()
	shared := m.dir(t, "etc", file("a", "aaaa"), file("b", "bbbbbbbb"))
	s1 := m.save(t, shared, file("one", "aaaa"))
	s2 := m.save(t, shared, file("two", "cccccc"))
	loc := newLocator("aaaa", "bbbbbbbb", "cccccc")
	for id, tr := range m.trees {
		data, err := tree.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		loc[id] = index.Location{Type: blob.TreeBlob, Length: uint32(len(data)), Frame: pack.Frame{Length: 10, RawLength: uint32(len(data))}}
	}
	got := count(t, m, loc, s1, s2)
	if got.Snapshots != 2 || got.Files != 6 || got.RestoreSize != 4+8+4+4+8+6 {
		t.Errorf("logical figures %+v", got)
	}
	if got.DataBlobs != 3 || got.DataBytes != 4+8+6 || got.TreeBlobs != 3 || got.MissingBlobs != 0 {
		t.Errorf("blob figures %+v, want 3 data blobs of 18 bytes and 3 trees", got)
	}
	if want := uint64(2+4+3) + 3*10; got.StoredBytes != want {
		t.Errorf("stored %d, want %d", got.StoredBytes, want)
	}
	if n := m.loads[*shared.Subtree]; n != 1 {
		t.Errorf("shared subtree loaded %d times, want once", n)
	}
}

func TestCounterWalksSubtreesWithHardlinksAgain(t *testing.T) {
	m := newMemTrees()
	linked := m.dir(t, "d", hardlink("x", 7, "12345"))
	s1 := m.save(t, linked)
	s2 := m.save(t, linked, m.dir(t, "e", hardlink("y", 7, "12345")))
	got := count(t, m, nil, s1, s2)
	if got.Files != 2 || got.RestoreSize != 10 {
		t.Errorf("%d files, %d bytes; want 2 and 10 (the link once per snapshot)", got.Files, got.RestoreSize)
	}
	if n := m.loads[*linked.Subtree]; n != 2 {
		t.Errorf("subtree with a hardlink loaded %d times, want 2", n)
	}
}

func TestCounterCountsBlobsTheIndexLacks(t *testing.T) {
	m := newMemTrees()
	snap := m.save(t, file("a", "known"), file("b", "unknown"))
	got := count(t, m, newLocator("known"), snap)
	// The root tree and "unknown" are not in the locator.
	if got.MissingBlobs != 2 || got.DataBlobs != 1 {
		t.Errorf("%+v, want 2 missing and 1 data blob", got)
	}
}

func TestCountIndexAddsUpBlobsAndPacks(t *testing.T) {
	idx := index.New()
	data := &index.Pack{ID: blob.ID{1}, Type: blob.DataBlob, Size: 1000,
		Frames: []pack.Frame{{Length: 50, RawLength: 200, Compressed: true}, {Offset: 50, Length: 300, RawLength: 300}}}
	trees := &index.Pack{ID: blob.ID{2}, Type: blob.TreeBlob, Size: 400, Frames: []pack.Frame{{Length: 30, RawLength: 90, Compressed: true}}}
	if err := idx.AddPack(data, []pack.Entry{
		{Type: blob.DataBlob, ID: blob.ID{10}, Frame: 0, Offset: 0, Length: 100},
		{Type: blob.DataBlob, ID: blob.ID{11}, Frame: 0, Offset: 100, Length: 100},
		{Type: blob.DataBlob, ID: blob.ID{12}, Frame: 1, Offset: 0, Length: 300},
	}); err != nil {
		t.Fatal(err)
	}
	if err := idx.AddPack(trees, []pack.Entry{{Type: blob.TreeBlob, ID: blob.ID{20}, Length: 90}}); err != nil {
		t.Fatal(err)
	}
	got := CountIndex(idx)
	want := IndexStats{DataBlobs: 3, TreeBlobs: 1, UncompressedBytes: 590, StoredBytes: 25 + 25 + 300 + 30, Packs: 2, PackBytes: 1400}
	if got != want {
		t.Errorf("CountIndex = %+v, want %+v", got, want)
	}
}
