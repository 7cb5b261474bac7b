//go:build linux

package fsmeta

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/godwit-backup/godwit/repo/tree"
)

// Ids that have no account on the test machine.
const (
	testUID = 4242
	testGID = 4343
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// requireXattrs skips the test when dir's file system has no user xattrs.
func requireXattrs(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, ".xattr-probe")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	if err := unix.Setxattr(p, "user.probe", []byte("x"), 0); errors.Is(err, unix.ENOTSUP) {
		t.Skip("file system does not support extended attributes")
	} else if err != nil {
		t.Fatal(err)
	}
}

func setXattr(t *testing.T, path, name string, value []byte) {
	t.Helper()
	if err := unix.Lsetxattr(path, name, value, 0); err != nil {
		t.Fatalf("lsetxattr %s %s: %v", path, name, err)
	}
}

func touch(t *testing.T, path string, atime, mtime time.Time) {
	t.Helper()
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
}

func lstat(t *testing.T, path string, names *Names) *tree.Node {
	t.Helper()
	n, st, err := Lstat(path, filepath.Base(path), names)
	if err != nil {
		t.Fatal(err)
	}
	if st == nil {
		t.Fatal("Lstat returned no stat result")
	}
	return n
}

func xattrValue(n *tree.Node, name string) ([]byte, bool) {
	for _, x := range n.Xattrs {
		if string(x.Name) == name {
			return x.Value, true
		}
	}
	return nil, false
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := unix.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// aclFor returns the ACL whose owner, mask and other entries match mode,
// with named entries for uid 4244 and gid 4345, so that writing it
// leaves mode unchanged.
func aclFor(mode uint32) ACL {
	return ACL{
		{ACLUserObj, uint16(mode >> 6 & 7), ACLUndefinedID},
		{ACLUser, ACLRead, 4244},
		{ACLGroupObj, ACLRead, ACLUndefinedID},
		{ACLGroup, ACLRead | ACLExecute, 4345},
		{ACLMask, uint16(mode >> 3 & 7), ACLUndefinedID},
		{ACLOther, uint16(mode & 7), ACLUndefinedID},
	}
}

func TestLstatDescribesEachFileType(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		root   bool
		make   func(t *testing.T, path string)
		want   tree.NodeType
		size   uint64
		target tree.RawString
		rdev   uint64
	}{
		{
			name: "regular file",
			make: func(t *testing.T, p string) {
				if err := os.WriteFile(p, []byte("hello, world\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: tree.File,
			size: 13,
		},
		{
			name: "directory",
			make: func(t *testing.T, p string) {
				if err := os.Mkdir(p, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			want: tree.Dir,
		},
		{
			name: "symlink with a non-UTF-8 target",
			make: func(t *testing.T, p string) {
				if err := os.Symlink("../tar\xffget", p); err != nil {
					t.Fatal(err)
				}
			},
			want:   tree.Symlink,
			target: "../tar\xffget",
		},
		{
			name:   "symlink with a long target",
			make:   func(t *testing.T, p string) { os.Symlink(string(bytes.Repeat([]byte("a/"), 1000)), p) },
			want:   tree.Symlink,
			target: tree.RawString(bytes.Repeat([]byte("a/"), 1000)),
		},
		{name: "fifo", make: mkfifo, want: tree.FIFO},
		{
			name: "socket",
			make: func(t *testing.T, p string) {
				l, err := net.Listen("unix", p)
				if err != nil {
					t.Fatal(err)
				}
				l.(*net.UnixListener).SetUnlinkOnClose(false)
				t.Cleanup(func() { l.Close() })
			},
			want: tree.Socket,
		},
		{
			name: "character device",
			root: true,
			make: func(t *testing.T, p string) {
				if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
					t.Fatal(err)
				}
			},
			want: tree.CharDev,
			rdev: unix.Mkdev(1, 3),
		},
		{
			name: "block device",
			root: true,
			make: func(t *testing.T, p string) {
				if err := unix.Mknod(p, unix.S_IFBLK|0o660, int(unix.Mkdev(7, 200))); err != nil {
					t.Fatal(err)
				}
			},
			want: tree.BlockDev,
			rdev: unix.Mkdev(7, 200),
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root {
				requireRoot(t)
			}
			p := filepath.Join(dir, "n"+string(rune('a'+i)))
			tt.make(t, p)
			n, st, err := Lstat(p, "name\xfe", nil)
			if err != nil {
				t.Fatal(err)
			}
			if n.Name != "name\xfe" {
				t.Errorf("Name = %q, want the name argument", n.Name)
			}
			if n.Type != tt.want {
				t.Errorf("Type = %q, want %q", n.Type, tt.want)
			}
			if n.Size != tt.size {
				t.Errorf("Size = %d, want %d", n.Size, tt.size)
			}
			if n.LinkTarget != tt.target {
				t.Errorf("LinkTarget = %q, want %q", n.LinkTarget, tt.target)
			}
			if n.Rdev != tt.rdev {
				t.Errorf("Rdev = %#x, want %#x", n.Rdev, tt.rdev)
			}
			if n.Inode != st.Ino || n.DeviceID != st.Dev || n.Links != uint64(st.Nlink) {
				t.Errorf("Inode, DeviceID, Links = %d, %d, %d; stat says %d, %d, %d", n.Inode, n.DeviceID, n.Links, st.Ino, st.Dev, st.Nlink)
			}
			if n.UID != uint32(os.Geteuid()) || n.GID != uint32(os.Getegid()) {
				t.Errorf("UID, GID = %d, %d; want the process's", n.UID, n.GID)
			}
			if n.Content != nil || n.Subtree != nil {
				t.Error("Lstat filled Content or Subtree")
			}
		})
	}
}

func TestLstatRecordsHardlinks(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(a, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(a, b); err != nil {
		t.Fatal(err)
	}
	na, nb := lstat(t, a, nil), lstat(t, b, nil)
	if na.Links != 2 || nb.Links != 2 {
		t.Errorf("Links = %d, %d; want 2, 2", na.Links, nb.Links)
	}
	if na.Inode == 0 || na.Inode != nb.Inode || na.DeviceID != nb.DeviceID {
		t.Errorf("inode/device %d/%d and %d/%d, want equal", na.Inode, na.DeviceID, nb.Inode, nb.DeviceID)
	}
}

func TestLstatKeepsSpecialModeBits(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		dir  bool
		mode uint32
	}{
		{"setuid file", false, 0o4755},
		{"setgid file", false, 0o2750},
		{"setuid and setgid file", false, 0o6711},
		{"setgid directory", true, 0o2775},
		{"sticky directory", true, 0o1777},
		{"no permissions", false, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "m"+string(rune('a'+i)))
			var err error
			if tt.dir {
				err = os.Mkdir(p, 0o700)
			} else {
				err = os.WriteFile(p, nil, 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Chmod(p, tt.mode); err != nil {
				t.Fatal(err)
			}
			if got := lstat(t, p, nil).Mode; got != tt.mode {
				t.Errorf("Mode = %#o, want %#o", got, tt.mode)
			}
		})
	}
}

func TestLstatKeepsNanosecondTimes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)
	atime := time.Date(2022, 1, 2, 3, 4, 5, 987654321, time.UTC)
	touch(t, p, atime, mtime)
	n := lstat(t, p, nil)
	if !n.MTime.Equal(mtime) || !n.ATime.Equal(atime) {
		t.Errorf("MTime, ATime = %v, %v; want %v, %v", n.MTime, n.ATime, mtime, atime)
	}
	if n.CTime.Before(time.Now().Add(-time.Minute)) {
		t.Errorf("CTime = %v, want about now", n.CTime)
	}
}

func TestLstatReadsXattrsSortedByName(t *testing.T) {
	dir := t.TempDir()
	requireXattrs(t, dir)
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	want := []tree.Xattr{
		{Name: "user.a", Value: []byte{0, 1, 2, 0xff}},
		{Name: "user.b", Value: []byte{}},
		{Name: "user.z", Value: bytes.Repeat([]byte("v"), 3000)},
	}
	if os.Geteuid() == 0 {
		want = append(want, tree.Xattr{Name: "trusted.m", Value: []byte("root only")})
	}
	for i := len(want) - 1; i >= 0; i-- {
		setXattr(t, p, string(want[i].Name), want[i].Value)
	}
	n := lstat(t, p, nil)
	// Keep only the attributes this test wrote: a security module may
	// label files on its own.
	var got []tree.Xattr
	for _, x := range n.Xattrs {
		if strings.HasPrefix(string(x.Name), "user.") || strings.HasPrefix(string(x.Name), "trusted.") {
			got = append(got, x)
		}
	}
	sort.Slice(want, func(i, j int) bool { return want[i].Name < want[j].Name })
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Xattrs = %q, want %q", got, want)
	}
}

func TestACLRoundTripsThroughTheKernel(t *testing.T) {
	dir := t.TempDir()
	requireXattrs(t, dir)
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	raw := mustHex(t, kernelACL)
	if err := unix.Lsetxattr(p, XattrACLAccess, raw, 0); errors.Is(err, unix.ENOTSUP) {
		t.Skip("file system does not support POSIX ACLs")
	} else if err != nil {
		t.Fatal(err)
	}
	n := lstat(t, p, nil)
	got, ok := xattrValue(n, XattrACLAccess)
	if !ok {
		t.Fatalf("no %s in %q", XattrACLAccess, n.Xattrs)
	}
	if !bytes.Equal(got, raw) {
		t.Errorf("ACL read back as %x, want %x", got, raw)
	}
	// The kernel derives the mode from the ACL: owner rw-, mask rwx as
	// the group bits, other ---.
	if n.Mode != 0o670 {
		t.Errorf("Mode = %#o, want 0670", n.Mode)
	}
}

func TestLstatFillsOwnerNames(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	tests := []struct {
		name        string
		names       *Names
		user, group string
	}{
		{"from the lookup", NewNames(WithLookup(&mapLookup{users: map[uint32]string{uid: "alice"}, groups: map[uint32]string{gid: "staff"}})), "alice", "staff"},
		{"empty for ids without a name", NewNames(WithLookup(&mapLookup{})), "", ""},
		{"empty without Names", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := lstat(t, p, tt.names)
			if string(n.User) != tt.user || string(n.Group) != tt.group {
				t.Errorf("User, Group = %q, %q; want %q, %q", n.User, n.Group, tt.user, tt.group)
			}
		})
	}
}

// comparable returns the metadata of n that a restore must reproduce:
// everything but the name and the identity of the inode.
func comparable(n *tree.Node) tree.Node {
	c := *n
	c.Name, c.Inode, c.DeviceID, c.Links, c.CTime = "", 0, 0, 0, time.Time{}
	return c
}

func TestApplyRoundTripsMetadata(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	requireXattrs(t, base)
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	for _, d := range []string{src, dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile := func(t *testing.T, p string) {
		if err := os.WriteFile(p, []byte("content"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mkdir := func(t *testing.T, p string) {
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	mknod := func(kind uint32, dev uint64) func(*testing.T, string) {
		return func(t *testing.T, p string) {
			if err := unix.Mknod(p, kind|0o600, int(dev)); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name       string
		make       func(*testing.T, string)
		restore    func(*testing.T, string) // nil: Create
		mode       uint32
		xattrs     []string
		acl        bool
		defaultACL bool
	}{
		{"setuid file with ACL", writeFile, writeFile, 0o4755, []string{"user.mime", "trusted.note"}, true, false},
		{"setgid directory with default ACL", mkdir, mkdir, 0o2775, []string{"user.a"}, true, true},
		{"sticky directory", mkdir, mkdir, 0o1777, nil, false, false},
		{"symlink", func(t *testing.T, p string) { os.Symlink("tar\xffget/../x", p) }, nil, 0, []string{"trusted.link"}, false, false},
		{"fifo with ACL", mkfifo, nil, 0o640, []string{"trusted.f"}, true, false},
		{"character device", mknod(unix.S_IFCHR, unix.Mkdev(1, 3)), nil, 0o666, nil, false, false},
		{"block device", mknod(unix.S_IFBLK, unix.Mkdev(7, 201)), nil, 0o660, []string{"trusted.b"}, false, false},
	}
	names := NewNames()
	mtime := time.Date(2020, 2, 29, 23, 59, 59, 999999999, time.UTC)
	atime := time.Date(2019, 7, 1, 0, 0, 1, 1, time.UTC)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "n" + string(rune('a'+i))
			sp, dp := filepath.Join(src, name), filepath.Join(dst, name)
			tt.make(t, sp)
			if err := unix.Lchown(sp, testUID, testGID); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(sp)
			if err != nil {
				t.Fatal(err)
			}
			symlink := fi.Mode()&os.ModeSymlink != 0
			if !symlink {
				if err := unix.Chmod(sp, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			for _, x := range tt.xattrs {
				setXattr(t, sp, x, []byte("value of "+x))
			}
			if tt.acl {
				setXattr(t, sp, XattrACLAccess, aclFor(tt.mode&0o777).Marshal())
			}
			if tt.defaultACL {
				setXattr(t, sp, XattrACLDefault, aclFor(0o750).Marshal())
			}
			touch(t, sp, atime, mtime)

			want := lstat(t, sp, names)
			if want.UID != testUID || want.GID != testGID || (!symlink && want.Mode != tt.mode) {
				t.Fatalf("source has %d:%d mode %#o, want %d:%d mode %#o", want.UID, want.GID, want.Mode, testUID, testGID, tt.mode)
			}
			if !want.MTime.Equal(mtime) || !want.ATime.Equal(atime) {
				t.Fatalf("source times %v, %v; want %v, %v", want.ATime, want.MTime, atime, mtime)
			}
			for _, x := range tt.xattrs {
				if _, ok := xattrValue(want, x); !ok {
					t.Fatalf("source misses xattr %s: %q", x, want.Xattrs)
				}
			}
			if tt.acl {
				v, _ := xattrValue(want, XattrACLAccess)
				acl, err := ParseACL(v)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(acl, aclFor(tt.mode&0o777)) {
					t.Fatalf("source ACL = %v, want %v", acl, aclFor(tt.mode&0o777))
				}
			}

			if tt.restore != nil {
				tt.restore(t, dp)
			} else if err := Create(dp, want); err != nil {
				t.Fatal(err)
			}
			if err := Apply(dp, want, ApplyOptions{Owner: OwnerNumeric, Names: names, CanChown: true}); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			got := lstat(t, dp, names)
			if !reflect.DeepEqual(comparable(got), comparable(want)) {
				t.Errorf("restored metadata differs\n got %+v\nwant %+v", comparable(got), comparable(want))
			}
		})
	}
}

func TestApplyDoesNotFollowSymlinks(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target"), filepath.Join(dir, "link")
	if err := os.WriteFile(target, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	targetBefore := lstat(t, target, nil)
	if err := os.Symlink("target", link); err != nil {
		t.Fatal(err)
	}
	n := lstat(t, link, nil)
	n.UID, n.GID = testUID, testGID
	n.Mode = 0o4777
	n.MTime = time.Date(2001, 1, 1, 0, 0, 0, 5, time.UTC)
	n.ATime = time.Date(2002, 1, 1, 0, 0, 0, 6, time.UTC)
	if err := Apply(link, n, ApplyOptions{CanChown: true}); err != nil {
		t.Fatal(err)
	}
	got := lstat(t, link, nil)
	if got.UID != testUID || got.GID != testGID || !got.MTime.Equal(n.MTime) || !got.ATime.Equal(n.ATime) {
		t.Errorf("link has %d:%d times %v, %v; want %d:%d times %v, %v", got.UID, got.GID, got.ATime, got.MTime, testUID, testGID, n.ATime, n.MTime)
	}
	if targetAfter := lstat(t, target, nil); !reflect.DeepEqual(targetAfter, targetBefore) {
		t.Errorf("Apply on the link changed its target:\n got %+v\nwant %+v", targetAfter, targetBefore)
	}
}

func TestApplyRefusesToChmodThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target"), filepath.Join(dir, "link")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target", link); err != nil {
		t.Fatal(err)
	}
	n := &tree.Node{Name: "link", Type: tree.File, Mode: 0o777}
	if err := Apply(link, n, ApplyOptions{Owner: OwnerNone}); err == nil {
		t.Fatal("Apply of a file node on a symlink succeeded")
	}
	if mode := lstat(t, target, nil).Mode; mode != 0o600 {
		t.Errorf("symlink target mode = %#o, want 0600", mode)
	}
}

func TestApplyMapsOwnerAndACLByName(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	requireXattrs(t, dir)
	// On the backed-up machine: alice 4242, bob 4244, staff 4343, ops
	// 4345; uid 4250 had no name. On this machine: alice 5001, bob 5003,
	// staff 5002; no ops.
	source := NewNames(WithLookup(&mapLookup{
		users:  map[uint32]string{4242: "alice", 4244: "bob"},
		groups: map[uint32]string{4343: "staff", 4345: "ops"},
	}))
	here := NewNames(WithLookup(&mapLookup{
		users:  map[uint32]string{5001: "alice", 5003: "bob"},
		groups: map[uint32]string{5002: "staff"},
	}))
	acl := ACL{
		{ACLUserObj, 6, ACLUndefinedID},
		{ACLUser, 6, 4242},
		{ACLUser, 4, 4244},
		{ACLUser, 4, 4250},
		{ACLGroupObj, 4, ACLUndefinedID},
		{ACLGroup, 4, 4343},
		{ACLGroup, 5, 4345},
		{ACLMask, 6, ACLUndefinedID},
		{ACLOther, 0, ACLUndefinedID},
	}
	sp := filepath.Join(dir, "src")
	if err := os.WriteFile(sp, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lchown(sp, 4242, 4343); err != nil {
		t.Fatal(err)
	}
	setXattr(t, sp, XattrACLAccess, acl.Marshal())
	n := lstat(t, sp, source)
	if n.User != "alice" || n.Group != "staff" {
		t.Fatalf("source names %q:%q, want alice:staff", n.User, n.Group)
	}

	tests := []struct {
		name        string
		sourceNames *Names
		user, group string
		uid, gid    uint32
		acl         ACL
	}{
		{
			name: "names known here", sourceNames: source, user: "alice", group: "staff", uid: 5001, gid: 5002,
			acl: ACL{
				{ACLUserObj, 6, ACLUndefinedID},
				{ACLUser, 4, 4250},
				{ACLUser, 6, 5001},
				{ACLUser, 4, 5003},
				{ACLGroupObj, 4, ACLUndefinedID},
				{ACLGroup, 5, 4345},
				{ACLGroup, 4, 5002},
				{ACLMask, 6, ACLUndefinedID},
				{ACLOther, 0, ACLUndefinedID},
			},
		},
		{
			name: "without source names only the owner's ids map", user: "alice", group: "staff", uid: 5001, gid: 5002,
			acl: ACL{
				{ACLUserObj, 6, ACLUndefinedID},
				{ACLUser, 4, 4244},
				{ACLUser, 4, 4250},
				{ACLUser, 6, 5001},
				{ACLGroupObj, 4, ACLUndefinedID},
				{ACLGroup, 5, 4345},
				{ACLGroup, 4, 5002},
				{ACLMask, 6, ACLUndefinedID},
				{ACLOther, 0, ACLUndefinedID},
			},
		},
		{
			name: "names unknown here fall back to numeric ids", sourceNames: source, user: "carol", group: "ops", uid: 4242, gid: 4343,
			acl: ACL{
				{ACLUserObj, 6, ACLUndefinedID},
				{ACLUser, 6, 4242},
				{ACLUser, 4, 4250},
				{ACLUser, 4, 5003},
				{ACLGroupObj, 4, ACLUndefinedID},
				{ACLGroup, 4, 4343},
				{ACLGroup, 5, 4345},
				{ACLMask, 6, ACLUndefinedID},
				{ACLOther, 0, ACLUndefinedID},
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := *n
			node.User, node.Group = tree.RawString(tt.user), tree.RawString(tt.group)
			node.Xattrs = []tree.Xattr{{Name: XattrACLAccess, Value: acl.Marshal()}}
			dp := filepath.Join(dir, "dst"+string(rune('a'+i)))
			if err := os.WriteFile(dp, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			err := Apply(dp, &node, ApplyOptions{Owner: OwnerName, Names: here, SourceNames: tt.sourceNames, CanChown: true})
			if err != nil {
				t.Fatal(err)
			}
			got := lstat(t, dp, nil)
			if got.UID != tt.uid || got.GID != tt.gid {
				t.Errorf("owner %d:%d, want %d:%d", got.UID, got.GID, tt.uid, tt.gid)
			}
			v, _ := xattrValue(got, XattrACLAccess)
			gotACL, err := ParseACL(v)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotACL, tt.acl) {
				t.Errorf("ACL = %v\nwant %v", gotACL, tt.acl)
			}
		})
	}
}

func TestApplyLeavesOwnershipAlone(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		opts ApplyOptions
	}{
		{"owner none", ApplyOptions{Owner: OwnerNone, CanChown: true}},
		{"owner numeric without chown", ApplyOptions{Owner: OwnerNumeric, CanChown: false}},
		{"owner name without chown", ApplyOptions{Owner: OwnerName, Names: NewNames(), CanChown: false}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "f"+string(rune('a'+i)))
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			before := lstat(t, p, nil)
			n := *before
			n.UID, n.GID, n.User, n.Group = testUID, testGID, "root", "root"
			n.Mode = 0o4751
			n.MTime = time.Date(2010, 1, 1, 0, 0, 0, 42, time.UTC)
			if err := Apply(p, &n, tt.opts); err != nil {
				t.Fatal(err)
			}
			got := lstat(t, p, nil)
			if got.UID != before.UID || got.GID != before.GID {
				t.Errorf("owner %d:%d, want unchanged %d:%d", got.UID, got.GID, before.UID, before.GID)
			}
			if got.Mode != 0o4751 || !got.MTime.Equal(n.MTime) {
				t.Errorf("mode %#o mtime %v, want %#o %v", got.Mode, got.MTime, 0o4751, n.MTime)
			}
		})
	}
}

func TestApplyRemovesInheritedACL(t *testing.T) {
	dir := t.TempDir()
	requireXattrs(t, dir)
	parent := filepath.Join(dir, "parent")
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(parent, XattrACLDefault, aclFor(0o770).Marshal(), 0); errors.Is(err, unix.ENOTSUP) {
		t.Skip("file system does not support POSIX ACLs")
	} else if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(parent, "f")
	if err := os.WriteFile(p, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, ok := xattrValue(lstat(t, p, nil), XattrACLAccess); !ok {
		t.Fatal("new file did not inherit the default ACL")
	}
	n := &tree.Node{Type: tree.File, Mode: 0o640}
	if err := Apply(p, n, ApplyOptions{Owner: OwnerNone}); err != nil {
		t.Fatal(err)
	}
	got := lstat(t, p, nil)
	if _, ok := xattrValue(got, XattrACLAccess); ok {
		t.Error("inherited ACL survived Apply of a node without one")
	}
	if got.Mode != 0o640 {
		t.Errorf("Mode = %#o, want 0640", got.Mode)
	}
}

func TestApplyReportsRefusedXattrsAndAppliesTheRest(t *testing.T) {
	dir := t.TempDir()
	requireXattrs(t, dir)
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	n := &tree.Node{
		Type: tree.File, Mode: 0o604,
		MTime: time.Date(2015, 5, 5, 5, 5, 5, 5, time.UTC),
		Xattrs: []tree.Xattr{
			{Name: "bogus.namespace", Value: []byte("x")},
			{Name: "user.kept", Value: []byte("y")},
		},
	}
	err := Apply(p, n, ApplyOptions{Owner: OwnerNone})
	if err == nil {
		t.Fatal("Apply accepted an xattr in an unknown namespace")
	}
	if !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("error %v does not wrap EOPNOTSUPP", err)
	}
	got := lstat(t, p, nil)
	if v, _ := xattrValue(got, "user.kept"); string(v) != "y" {
		t.Errorf("user.kept = %q, want y", v)
	}
	if got.Mode != 0o604 || !got.MTime.Equal(n.MTime) {
		t.Errorf("mode %#o mtime %v, want 0604 %v", got.Mode, got.MTime, n.MTime)
	}
}

func TestCreateSkipsSockets(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sock")
	err := Create(p, &tree.Node{Type: tree.Socket})
	if !errors.Is(err, ErrSocketNotRestored) {
		t.Fatalf("Create = %v, want ErrSocketNotRestored", err)
	}
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Create left something at %s: %v", p, err)
	}
}

func TestCreateRejectsNodesItDoesNotCreate(t *testing.T) {
	dir := t.TempDir()
	for _, typ := range []tree.NodeType{tree.File, tree.Dir, tree.Irregular, ""} {
		p := filepath.Join(dir, "x"+string(typ))
		if err := Create(p, &tree.Node{Type: typ}); err == nil {
			t.Errorf("Create of a %q node succeeded", typ)
		}
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Create of a %q node left something behind: %v", typ, err)
		}
	}
}

func TestCreateRefusesExistingPath(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Create(p, &tree.Node{Type: tree.Symlink, LinkTarget: "x"}); !errors.Is(err, os.ErrExist) {
		t.Errorf("Create over an existing file = %v, want ErrExist", err)
	}
}

func TestCanChownTellsWhetherChownWorks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := unix.Lchown(p, testUID, testGID)
	if got, want := CanChown(), err == nil; got != want {
		t.Errorf("CanChown = %v, but chown to %d:%d gave %v", got, testUID, testGID, err)
	}
}
