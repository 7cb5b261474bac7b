package walker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/godwit-backup/godwit/repo/tree"
)

type change struct {
	kind   ChangeKind
	path   string
	fields string
}

func diffAll(t *testing.T, m *memTrees, loc Locator, a, b *tree.Node) ([]change, DiffStats) {
	t.Helper()
	var got []change
	st, err := Diff(context.Background(), m, loc, a, b, "/", func(c Change) error {
		got = append(got, change{c.Kind, c.Path, strings.Join(c.Fields, ",")})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, st
}

func TestDiffReportsEveryKindOfChangeInPathOrder(t *testing.T) {
	m := newMemTrees()
	old := m.save(t,
		file("unchanged", "x"),
		file("content", "v1"),
		file("meta", "same"),
		file("both", "b1"),
		symlink("link", "/a"),
		file("gone", "bye"),
		file("kind", "k"),
		m.dir(t, "olddir", file("inner", "in")),
	)
	newer := m.save(t,
		file("unchanged", "x"),
		file("content", "v2", "v3"),
		with(file("meta", "same"), func(n *tree.Node) { n.Mode, n.UID = 0o600, 1000 }),
		with(file("both", "b2"), func(n *tree.Node) { n.MTime = epoch.Add(time.Hour) }),
		symlink("link", "/b"),
		symlink("kind", "elsewhere"),
		m.dir(t, "newdir", file("x", "new")),
		file("new", "fresh"),
	)
	loc := newLocator("x", "v1", "v2", "v3", "same", "b1", "b2", "bye", "k", "in", "new", "fresh")
	got, st := diffAll(t, m, loc, root(old), root(newer))
	want := []change{
		{Modified, "/both", "mtime"},
		{Modified, "/content", ""},
		{Removed, "/gone", ""},
		{TypeChanged, "/kind", ""},
		{MetadataOnly, "/link", "link_target"},
		{MetadataOnly, "/meta", "mode,uid"},
		{Added, "/new", ""},
		{Added, "/newdir", ""},
		{Added, "/newdir/x", ""},
		{Removed, "/olddir", ""},
		{Removed, "/olddir/inner", ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("changes:\n got %v\nwant %v", got, want)
	}
	wantStats := DiffStats{Added: 3, Removed: 3, Modified: 2, MetadataOnly: 2, TypeChanged: 1,
		// added: b2 v2 v3 new fresh; removed: b1 v1 bye k in
		AddedBlobs: 5, AddedBytes: 2 + 2 + 2 + 3 + 5, RemovedBlobs: 5, RemovedBytes: 2 + 2 + 3 + 1 + 2}
	if st != wantStats {
		t.Errorf("stats %+v, want %+v", st, wantStats)
	}
}

func TestDiffDoesNotLoadEqualSubtrees(t *testing.T) {
	m := newMemTrees()
	shared := m.dir(t, "big", file("a", "a"), m.dir(t, "deeper", file("b", "b")))
	old := m.save(t, shared, file("f", "1"))
	newer := m.save(t, shared, file("f", "2"))
	got, _ := diffAll(t, m, nil, root(old), root(newer))
	if len(got) != 1 || got[0] != (change{Modified, "/f", ""}) {
		t.Errorf("changes %v, want only /f modified", got)
	}
	if n := m.loads[*shared.Subtree]; n != 0 {
		t.Errorf("the equal subtree was loaded %d times", n)
	}
}

func TestDiffOfEqualTreesLoadsNothingAndReportsNothing(t *testing.T) {
	m := newMemTrees()
	id := m.save(t, file("f", "1"))
	got, st := diffAll(t, m, nil, root(id), root(id))
	if len(got) != 0 || st != (DiffStats{}) || m.totalLoads() != 0 {
		t.Errorf("changes %v, stats %+v, %d loads; want nothing", got, st, m.totalLoads())
	}
}

func TestDiffOfDirectoryReplacedByFileListsTheOldContents(t *testing.T) {
	m := newMemTrees()
	old := m.save(t, m.dir(t, "x", file("a", "a"), file("b", "b")))
	newer := m.save(t, file("x", "now a file"))
	got, st := diffAll(t, m, nil, root(old), root(newer))
	want := []change{{TypeChanged, "/x", ""}, {Removed, "/x/a", ""}, {Removed, "/x/b", ""}}
	if !slices.Equal(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	if st.TypeChanged != 1 || st.Removed != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestDiffOfSinglePathsComparesTheNodes(t *testing.T) {
	m := newMemTrees()
	a, b := file("f", "1"), file("f", "2")
	var got []change
	_, err := Diff(context.Background(), m, nil, a, b, "/etc/f", func(c Change) error {
		got = append(got, change{c.Kind, c.Path, ""})
		return nil
	})
	if err != nil || len(got) != 1 || got[0] != (change{Modified, "/etc/f", ""}) {
		t.Errorf("changes %v, err %v; want /etc/f modified", got, err)
	}
}

func TestDiffStopsAtTheCallbacksError(t *testing.T) {
	m := newMemTrees()
	old := m.save(t)
	newer := m.save(t, file("a", "a"), file("b", "b"))
	stop := errors.New("stop")
	calls := 0
	_, err := Diff(context.Background(), m, nil, root(old), root(newer), "/", func(Change) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("err %v after %d calls, want stop after 1", err, calls)
	}
}

func TestDiffNamesTheDirectoryWhoseTreeIsMissing(t *testing.T) {
	m := newMemTrees()
	d := m.dir(t, "lost", file("a", "a"))
	delete(m.trees, *d.Subtree)
	old := m.save(t)
	newer := m.save(t, d)
	_, err := Diff(context.Background(), m, nil, root(old), root(newer), "/", func(Change) error { return nil })
	var te *TreeError
	if !errors.As(err, &te) || te.Path != "/lost" {
		t.Errorf("err %v, want a TreeError for /lost", err)
	}
}

func TestMetadataChangesNamesEachDifferingField(t *testing.T) {
	base := &tree.Node{Name: "f", Type: tree.File, Mode: 0o644, UID: 1, GID: 2, User: "u", Group: "g", MTime: epoch,
		Xattrs: []tree.Xattr{{Name: "user.a", Value: []byte{1}}, {Name: "system.posix_acl_access", Value: []byte{2}}}}
	cases := []struct {
		name   string
		change func(*tree.Node)
		want   []string
	}{
		{"nothing", func(*tree.Node) {}, nil},
		{"mode", func(n *tree.Node) { n.Mode = 0o4755 }, []string{FieldMode}},
		{"owner", func(n *tree.Node) { n.UID, n.User = 5, "v" }, []string{FieldUID, FieldUser}},
		{"group", func(n *tree.Node) { n.GID, n.Group = 5, "h" }, []string{FieldGID, FieldGroup}},
		{"mtime", func(n *tree.Node) { n.MTime = epoch.Add(time.Nanosecond) }, []string{FieldMTime}},
		{"same mtime in another zone", func(n *tree.Node) { n.MTime = epoch.In(time.FixedZone("X", 3600)) }, nil},
		{"atime and ctime are ignored", func(n *tree.Node) { n.ATime, n.CTime = epoch, epoch }, nil},
		{"inode and links are ignored", func(n *tree.Node) { n.Inode, n.Links, n.DeviceID = 9, 3, 7 }, nil},
		{"rdev", func(n *tree.Node) { n.Rdev = 259 }, []string{FieldRdev}},
		{"link target", func(n *tree.Node) { n.LinkTarget = "x" }, []string{FieldLinkTarget}},
		{"acl value", func(n *tree.Node) {
			n.Xattrs = []tree.Xattr{{Name: "user.a", Value: []byte{1}}, {Name: "system.posix_acl_access", Value: []byte{3}}}
		}, []string{FieldXattrs}},
		{"xattr removed", func(n *tree.Node) { n.Xattrs = n.Xattrs[:1] }, []string{FieldXattrs}},
		{"xattrs in another order", func(n *tree.Node) { n.Xattrs = []tree.Xattr{n.Xattrs[1], n.Xattrs[0]} }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			other := with(base, tc.change)
			if got := MetadataChanges(base, other); !slices.Equal(got, tc.want) {
				t.Errorf("MetadataChanges = %v, want %v", got, tc.want)
			}
		})
	}
}
