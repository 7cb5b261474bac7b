//go:build linux

package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestEncodeACLIsAcceptedByTheKernel(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	value := encodeACL([]aclEntry{
		{aclUserObj, 6, aclUndefID}, {aclUser, 4, 4242},
		{aclGroupObj, 0, aclUndefID}, {aclGroup, 5, 4343},
		{aclMask, 5, aclUndefID}, {aclOther, 1, aclUndefID},
	})
	if err := unix.Setxattr(p, xattrACLAccess, value, 0); err != nil {
		t.Fatalf("kernel rejected the encoded acl: %v", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	// With a mask entry, the group bits of the mode show the mask.
	if got := st.Mode & 0o777; got != 0o651 {
		t.Errorf("mode after setting acl = %04o, want 0651", got)
	}
	stored, err := xattrCall(func(buf []byte) (int, error) { return unix.Getxattr(p, xattrACLAccess, buf) })
	if err != nil {
		t.Fatal(err)
	}
	const text = "user::rw-,user:4242:r--,group::---,group:4343:r-x,mask::r-x,other::--x"
	if got := formatACL(stored); got != text {
		t.Errorf("acl read back = %s, want %s", got, text)
	}
}

func TestFormatACLDescribesMalformedValues(t *testing.T) {
	for _, value := range [][]byte{nil, {2, 0, 0}, {2, 0, 0, 0, 1}, {1, 0, 0, 0}} {
		if got := formatACL(value); !strings.Contains(got, "acl") || strings.Contains(got, "user::") {
			t.Errorf("formatACL(%x) = %q, want a description of the malformed value", value, got)
		}
	}
}

func TestRootVerdict(t *testing.T) {
	tests := []struct {
		euid int
		ci   string
		want verdict
	}{
		{0, "", verdictRun},
		{0, "true", verdictRun},
		{1000, "", verdictSkip},
		{1000, "false", verdictSkip},
		{1000, "1", verdictSkip},
		{1000, "true", verdictFail},
	}
	for _, tt := range tests {
		if got := rootVerdict(tt.euid, tt.ci); got != tt.want {
			t.Errorf("rootVerdict(%d, %q) = %d, want %d", tt.euid, tt.ci, got, tt.want)
		}
	}
}

func TestHashFileReturnsHexSHA256(t *testing.T) {
	p := filepath.Join(t.TempDir(), "abc")
	if err := os.WriteFile(p, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := HashFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("HashFile = %s, want %s", got, want)
	}
	if _, err := HashFile(p + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("HashFile of a missing file: err = %v, want os.ErrNotExist", err)
	}
}

func TestCompareTreesFailsOnUnreadableRoots(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, want, got string }{
		{"missing want", filepath.Join(dir, "nope"), dir},
		{"missing got", dir, filepath.Join(dir, "nope")},
		{"file as root", file, dir},
	} {
		if diffs, err := CompareTrees(tt.want, tt.got, CompareOptions{}); err == nil {
			t.Errorf("%s: CompareTrees = %q, nil; want an error", tt.name, diffs)
		}
	}
}

// sharedTree is built once: building and copying it dominate the test time.
var sharedTree struct {
	root string
	tree *ServerTree
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedTree.root != "" {
		os.RemoveAll(sharedTree.root)
	}
	os.Exit(code)
}

func serverTree(t *testing.T) *ServerTree {
	t.Helper()
	if sharedTree.tree == nil {
		dir, err := os.MkdirTemp("", "godwit-servertree-")
		if err != nil {
			t.Fatal(err)
		}
		sharedTree.root = dir
		sharedTree.tree = BuildServerTree(t, dir)
	}
	return sharedTree.tree
}

// copyTree copies s with cp, keeping everything cp can keep, and returns the copy.
func copyTree(t *testing.T, s *ServerTree) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	run(t, "cp", "-a", "--preserve=all", "--sparse=always", s.Root, dst)
	return dst
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
}

func TestBuildServerTreeMakesWhatItDescribes(t *testing.T) {
	s := serverTree(t)
	lstat := func(rel string) *unix.Stat_t {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Lstat(s.Path(rel), &st); err != nil {
			t.Fatal(err)
		}
		return &st
	}
	if len(s.SizedFiles) != len(boundarySizes) {
		t.Errorf("%d sized files, want %d", len(s.SizedFiles), len(boundarySizes))
	}
	for size, rel := range s.SizedFiles {
		if st := lstat(rel); st.Size != size || kindOf(st.Mode) != unix.S_IFREG {
			t.Errorf("%q: size %d mode %o, want regular file of %d bytes", rel, st.Size, st.Mode, size)
		}
	}
	if st := lstat(s.Sparse); st.Size != s.SparseSize || s.SparseSize <= 100<<20 || st.Blocks*512 >= 1<<20 {
		t.Errorf("sparse %q: size %d, %d bytes allocated; want over 100 MiB with under 1 MiB allocated", s.Sparse, st.Size, st.Blocks*512)
	}
	if len(s.MaildirMessages) < 24 || s.MboxMessages < 3 {
		t.Errorf("%d maildir and %d mbox messages, want a few dozen and several", len(s.MaildirMessages), s.MboxMessages)
	}
	for rel, mtime := range s.MTimes {
		st := lstat(rel)
		if got := time.Unix(st.Mtim.Unix()); !got.Equal(mtime) || mtime.Nanosecond() == 0 {
			t.Errorf("%q: mtime %s, want %s with non-zero nanoseconds", rel, got, mtime)
		}
	}
	for rel, mode := range s.Modes {
		if got := lstat(rel).Mode & 0o7777; got != mode {
			t.Errorf("%q: mode %04o, want %04o", rel, got, mode)
		}
	}
	for rel, o := range s.Owners {
		if st := lstat(rel); st.Uid != o.UID || st.Gid != o.GID {
			t.Errorf("%q: owner %d:%d, want %d:%d", rel, st.Uid, st.Gid, o.UID, o.GID)
		}
	}
	for rel, target := range s.Symlinks {
		if got, err := os.Readlink(s.Path(rel)); err != nil || got != target {
			t.Errorf("%q: readlink = %q, %v; want %q", rel, got, err, target)
		}
	}
	for _, group := range s.Hardlinks {
		first := lstat(group[0])
		for _, rel := range group[1:] {
			if st := lstat(rel); st.Ino != first.Ino || st.Dev != first.Dev {
				t.Errorf("%q and %q are not one inode", group[0], rel)
			}
		}
	}
	for rel, names := range s.Xattrs {
		xs, err := readXattrs(s.Path(rel))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if _, ok := xs[name]; !ok {
				t.Errorf("%q: no xattr %s", rel, name)
			}
		}
	}
	for _, rel := range s.EmptyDirs {
		if entries, err := os.ReadDir(s.Path(rel)); err != nil || len(entries) != 0 {
			t.Errorf("%q: %d entries, %v; want an empty directory", rel, len(entries), err)
		}
	}
	for _, rel := range slices.Concat(s.OddNames, s.FIFOs, s.Devices, []string{s.Deep}) {
		lstat(rel)
	}
	if len(s.ACLs) == 0 || len(s.DefaultACLs) == 0 || len(s.FIFOs) == 0 || strings.Count(s.Deep, "/") < 30 {
		t.Errorf("missing a category: acls %q, default acls %q, fifos %q, deep %q", s.ACLs, s.DefaultACLs, s.FIFOs, s.Deep)
	}
	if s.Privileged {
		if len(s.Devices) != 2 || len(s.Skipped) != 0 || len(s.Owners) == 0 {
			t.Errorf("built as root: devices %q, skipped %q, %d owners; want 2 devices, nothing skipped", s.Devices, s.Skipped, len(s.Owners))
		}
	} else if len(s.Devices) != 0 || len(s.Skipped) == 0 {
		t.Errorf("built unprivileged: devices %q, skipped %q; want no devices and a list of what was skipped", s.Devices, s.Skipped)
	}
}

func TestBuildServerTreeIsDeterministic(t *testing.T) {
	s := serverTree(t)
	other := BuildServerTree(t, t.TempDir())
	// The roots themselves are the callers' and keep the mode they were made with.
	diffs, err := CompareTrees(s.Root, other.Root, CompareOptions{CheckSparse: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 0 {
		t.Errorf("two builds differ:\n%s", strings.Join(diffs, "\n"))
	}
}

func TestBuildServerTreeRefusesNonEmptyRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() { // Fatalf ends the goroutine, as it would end a test.
		defer close(done)
		BuildServerTree(ft, root)
	}()
	<-done
	if !strings.Contains(ft.msg, "not empty") {
		t.Errorf("BuildServerTree on a non-empty root: fatal %q, want it to say the root is not empty", ft.msg)
	}
}

type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestCompareTreesFindsNoDifferenceBetweenATreeAndItself(t *testing.T) {
	s := serverTree(t)
	diffs, err := CompareTrees(s.Root, s.Root, CompareOptions{CheckSparse: true, CompareRoot: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 0 {
		t.Errorf("tree differs from itself:\n%s", strings.Join(diffs, "\n"))
	}
}

// GNU cp -a --preserve=all keeps everything CompareTrees checks: modes,
// numeric owners, nanosecond times of files, directories and symlinks,
// xattrs including ACLs, trusted.* and security.capability, hardlinks,
// device nodes and FIFOs, and (with --sparse=always) holes.
func TestCompareTreesFindsNoDifferenceAfterCpArchive(t *testing.T) {
	s := serverTree(t)
	diffs, err := CompareTrees(s.Root, copyTree(t, s), CompareOptions{CheckSparse: true, CompareRoot: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 0 {
		t.Errorf("cp -a copy differs:\n%s", strings.Join(diffs, "\n"))
	}
}

// keepTimes returns a function that puts back the current atime and mtime
// of the named entries, so a mutation changes only what it means to.
func keepTimes(t *testing.T, paths ...string) func() {
	t.Helper()
	saved := make([][]unix.Timespec, len(paths))
	for i, p := range paths {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		saved[i] = []unix.Timespec{st.Atim, st.Mtim}
	}
	return func() {
		t.Helper()
		for i, p := range paths {
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, saved[i], unix.AT_SYMLINK_NOFOLLOW); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, p string, off int64) {
	t.Helper()
	defer keepTimes(t, p)()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, off)
	must(t, err)
	b[0] ^= 0x20
	_, err = f.WriteAt(b, off)
	must(t, err)
}

func shiftMtime(t *testing.T, p string, d time.Duration) {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Lstat(p, &st))
	mtime := unix.NsecToTimespec(st.Mtim.Nano() + int64(d))
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{st.Atim, mtime}, unix.AT_SYMLINK_NOFOLLOW))
}

// replaceSymlink points p at target, keeping its owner and times and its
// directory's times.
func replaceSymlink(t *testing.T, p, target string) {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Lstat(p, &st))
	defer keepTimes(t, filepath.Dir(p))()
	restore := keepTimes(t, p)
	must(t, os.Remove(p))
	must(t, os.Symlink(target, p))
	must(t, os.Lchown(p, int(st.Uid), int(st.Gid)))
	restore()
}

// aclValue returns an access ACL like that of config.php with the given
// permissions for user 4242 and for others.
func aclValue(user uint16, other uint16) []byte {
	return encodeACL([]aclEntry{
		{aclUserObj, 6, aclUndefID}, {aclUser, user, ownerWWW.UID},
		{aclGroupObj, 4, aclUndefID}, {aclGroup, 4, ownerWWW.GID},
		{aclMask, 4, aclUndefID}, {aclOther, other, aclUndefID},
	})
}

func TestCompareTreesReportsEachKindOfChange(t *testing.T) {
	s := serverTree(t)
	q := quote
	mtime := func(rel string) string { return s.MTimes[rel].UTC().Format(time.RFC3339Nano) }
	plus1ns := func(rel string) string { return s.MTimes[rel].Add(1).UTC().Format(time.RFC3339Nano) }
	var st unix.Stat_t
	must(t, unix.Lstat(s.Path(s.Mbox), &st))
	mboxSize := st.Size
	must(t, unix.Lstat(s.Root, &st))
	rootMode := st.Mode & 0o7777

	big := s.SizedFiles[1<<20]
	suexec := "usr/lib/cgi-bin/suexec"
	mainCF := "etc/postfix/main.cf"
	newDir := "home/alice/Maildir/new"
	index := "var/www/html/index.html"
	config := "var/www/html/config.php"
	uploads := "var/www/html/uploads"
	latest := "home/alice/Documents/latest"
	fifo := s.FIFOs[0]
	group := s.Hardlinks[1]
	empty := s.SizedFiles[0]
	bobMbox := "var/mail/bob"
	msg := s.MaildirMessages[5]
	bobNew := "home/bob/Maildir/new"

	tests := []struct {
		name     string
		needRoot bool // foreign owners, device nodes, trusted.* and security.* xattrs
		opts     CompareOptions
		mutate   func(t *testing.T, got string)
		want     []string // each diff line must start with the matching prefix
	}{{
		name:   "one byte of content",
		mutate: func(t *testing.T, got string) { flipByte(t, filepath.Join(got, big), 777_777) },
		want:   []string{q(big) + ": content: first difference at byte 777777"},
	}, {
		name: "size",
		mutate: func(t *testing.T, got string) {
			p := filepath.Join(got, s.Mbox)
			defer keepTimes(t, p)()
			must(t, os.Truncate(p, mboxSize+1))
		},
		want: []string{fmt.Sprintf("%s: size: want %d, got %d", q(s.Mbox), mboxSize, mboxSize+1)},
	}, {
		name:   "setuid bit",
		mutate: func(t *testing.T, got string) { must(t, unix.Chmod(filepath.Join(got, suexec), 0o755)) },
		want:   []string{q(suexec) + ": mode: want 4755, got 0755"},
	}, {
		name:   "sticky bit on a directory",
		mutate: func(t *testing.T, got string) { must(t, unix.Chmod(filepath.Join(got, "tmp"), 0o777)) },
		want:   []string{`"tmp": mode: want 1777, got 0777`},
	}, {
		name:     "group of a file",
		needRoot: true,
		mutate:   func(t *testing.T, got string) { must(t, os.Lchown(filepath.Join(got, s.Mbox), 5001, 4343)) },
		want:     []string{q(s.Mbox) + ": owner: want 5001:5002, got 5001:4343"},
	}, {
		name:     "owner of a symlink",
		needRoot: true,
		mutate:   func(t *testing.T, got string) { must(t, os.Lchown(filepath.Join(got, latest), 0, 0)) },
		want:     []string{q(latest) + ": owner: want 5001:5002, got 0:0"},
	}, {
		name:     "owner ignored when asked",
		needRoot: true,
		opts:     CompareOptions{IgnoreOwner: true},
		mutate:   func(t *testing.T, got string) { must(t, os.Lchown(filepath.Join(got, s.Mbox), 0, 0)) },
	}, {
		name:   "file mtime by one nanosecond",
		mutate: func(t *testing.T, got string) { shiftMtime(t, filepath.Join(got, mainCF), 1) },
		want:   []string{fmt.Sprintf("%s: mtime: want %s, got %s", q(mainCF), mtime(mainCF), plus1ns(mainCF))},
	}, {
		name:   "directory mtime by one nanosecond",
		mutate: func(t *testing.T, got string) { shiftMtime(t, filepath.Join(got, newDir), 1) },
		want:   []string{fmt.Sprintf("%s: mtime: want %s, got %s", q(newDir), mtime(newDir), plus1ns(newDir))},
	}, {
		name:   "symlink mtime by one nanosecond",
		mutate: func(t *testing.T, got string) { shiftMtime(t, filepath.Join(got, "etc/mailname"), 1) },
		want: []string{fmt.Sprintf(`"etc/mailname": mtime: want %s, got %s`,
			mtime("etc/mailname"), plus1ns("etc/mailname"))},
	}, {
		name: "user xattr value",
		mutate: func(t *testing.T, got string) {
			must(t, unix.Lsetxattr(filepath.Join(got, index), "user.mime_type", []byte("text/plain"), 0))
		},
		want: []string{q(index) + `: xattr user.mime_type: want "text/html; charset=utf-8", got "text/plain"`},
	}, {
		name:   "empty user xattr removed",
		mutate: func(t *testing.T, got string) { must(t, unix.Lremovexattr(filepath.Join(got, index), "user.empty")) },
		want:   []string{q(index) + `: xattr user.empty: missing in got (want "")`},
	}, {
		name: "user xattr added to a directory",
		mutate: func(t *testing.T, got string) {
			must(t, unix.Lsetxattr(filepath.Join(got, newDir), "user.note", []byte("x"), 0))
		},
		want: []string{q(newDir) + `: xattr user.note: extra in got ("x")`},
	}, {
		name:     "trusted xattr value",
		needRoot: true,
		mutate: func(t *testing.T, got string) {
			must(t, unix.Lsetxattr(filepath.Join(got, s.Mbox), "trusted.godwit.spool", []byte("other"), 0))
		},
		want: []string{q(s.Mbox) + `: xattr trusted.godwit.spool: want "primary", got "other"`},
	}, {
		// chown drops file capabilities; a restore that sets xattrs before
		// ownership loses them this way.
		name:     "file capability lost to chown",
		needRoot: true,
		mutate: func(t *testing.T, got string) {
			must(t, os.Lchown(filepath.Join(got, "usr/lib/cgi-bin/mailprobe"), 0, 0))
		},
		want: []string{`"usr/lib/cgi-bin/mailprobe": xattr security.capability: missing in got`},
	}, {
		name: "named user entry of an access ACL",
		mutate: func(t *testing.T, got string) {
			must(t, unix.Lsetxattr(filepath.Join(got, config), xattrACLAccess, aclValue(6, 0), 0))
		},
		want: []string{q(config) + ": xattr system.posix_acl_access: " +
			"want user::rw-,user:4242:r--,group::r--,group:4343:r--,mask::r--,other::---, " +
			"got user::rw-,user:4242:rw-,group::r--,group:4343:r--,mask::r--,other::---"},
	}, {
		name: "default ACL of a directory",
		mutate: func(t *testing.T, got string) {
			must(t, unix.Lsetxattr(filepath.Join(got, uploads), xattrACLDefault, aclValue(4, 0), 0))
		},
		want: []string{q(uploads) + ": xattr system.posix_acl_default: " +
			"want user::rwx,user:4242:rwx,group::r-x,group:4343:rwx,mask::rwx,other::r-x, " +
			"got user::rw-,user:4242:r--,group::r--,group:4343:r--,mask::r--,other::---"},
	}, {
		name: "symlink target",
		mutate: func(t *testing.T, got string) {
			replaceSymlink(t, filepath.Join(got, "etc/mailname"), "/etc/hostname.old")
		},
		want: []string{`"etc/mailname": symlink target: want "/etc/hostname", got "/etc/hostname.old"`},
	}, {
		name:   "symlink target that is not UTF-8",
		mutate: func(t *testing.T, got string) { replaceSymlink(t, filepath.Join(got, latest), "café.txt") },
		want:   []string{q(latest) + `: symlink target: want "caf\xe9.txt", got "café.txt"`},
	}, {
		name: "hardlink broken by a copy",
		mutate: func(t *testing.T, got string) {
			p := filepath.Join(got, group[2])
			defer keepTimes(t, filepath.Dir(p))()
			run(t, "cp", "-a", "--preserve=all", p, p+".tmp")
			must(t, os.Rename(p+".tmp", p))
		},
		want: []string{fmt.Sprintf("hardlinks: %s are one inode in want, but separate inodes %s %s in the other tree",
			quoteList(group), quoteList(group[:2]), quoteList(group[2:]))},
	}, {
		name: "separate files joined by a hardlink",
		mutate: func(t *testing.T, got string) {
			p := filepath.Join(got, bobMbox)
			defer keepTimes(t, filepath.Dir(p))()
			must(t, os.Remove(p))
			must(t, os.Link(filepath.Join(got, empty), p))
		},
		want: slices.Concat(
			[]string{q(bobMbox) + ": mode: want 0660, got 0644"},
			func() []string {
				if s.Privileged {
					return []string{q(bobMbox) + ": owner: want 70000:70001, got 4242:4343"}
				}
				return nil
			}(),
			[]string{
				fmt.Sprintf("%s: mtime: want %s, got %s", q(bobMbox), mtime(bobMbox), mtime(empty)),
				fmt.Sprintf("hardlinks: %s are one inode in got, but separate inodes %s %s in the other tree",
					quoteList([]string{bobMbox, empty}), quoteList([]string{bobMbox}), quoteList([]string{empty})),
			}),
	}, {
		name: "missing file",
		mutate: func(t *testing.T, got string) {
			p := filepath.Join(got, msg)
			defer keepTimes(t, filepath.Dir(p))()
			must(t, os.Remove(p))
		},
		want: []string{q(msg) + ": missing in got (want regular file)"},
	}, {
		name: "missing directory reported once",
		mutate: func(t *testing.T, got string) {
			p := filepath.Join(got, bobNew)
			defer keepTimes(t, filepath.Dir(p))()
			must(t, os.RemoveAll(p))
		},
		want: []string{q(bobNew) + ": missing in got (want directory)"},
	}, {
		name: "extra file",
		mutate: func(t *testing.T, got string) {
			p := filepath.Join(got, "tmp", "sess_new")
			defer keepTimes(t, filepath.Dir(p))()
			must(t, os.WriteFile(p, nil, 0o600))
		},
		want: []string{`"tmp/sess_new": extra in got (regular file)`},
	}, {
		name: "fifo replaced by a regular file",
		mutate: func(t *testing.T, got string) {
			p := filepath.Join(got, fifo)
			defer keepTimes(t, filepath.Dir(p))()
			must(t, os.Remove(p))
			must(t, os.WriteFile(p, nil, 0o622))
		},
		want: []string{q(fifo) + ": type: want fifo, got regular file"},
	}, {
		name:     "device numbers",
		needRoot: true,
		mutate: func(t *testing.T, got string) {
			p := filepath.Join(got, "dev/null")
			defer keepTimes(t, filepath.Dir(p))()
			restore := keepTimes(t, p)
			must(t, os.Remove(p))
			must(t, unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))))
			must(t, unix.Chmod(p, 0o666))
			restore()
		},
		want: []string{`"dev/null": rdev: want 1:3, got 1:5`},
	}, {
		name: "sparse file filled in, when holes are checked",
		opts: CompareOptions{CheckSparse: true},
		mutate: func(t *testing.T, got string) {
			p := filepath.Join(got, s.Sparse)
			defer keepTimes(t, filepath.Dir(p))()
			run(t, "cp", "-a", "--preserve=all", "--sparse=never", p, p+".tmp")
			must(t, os.Rename(p+".tmp", p))
		},
		want: []string{q(s.Sparse) + ": sparseness: want holes ("},
	}, {
		name: "sparse file filled in, when holes are not checked",
		mutate: func(t *testing.T, got string) {
			p := filepath.Join(got, s.Sparse)
			defer keepTimes(t, filepath.Dir(p))()
			run(t, "cp", "-a", "--preserve=all", "--sparse=never", p, p+".tmp")
			must(t, os.Rename(p+".tmp", p))
		},
	}, {
		name:   "root directory mode, when roots are compared",
		opts:   CompareOptions{CompareRoot: true},
		mutate: func(t *testing.T, got string) { must(t, unix.Chmod(got, rootMode^0o055)) },
		want:   []string{fmt.Sprintf(`".": mode: want %04o, got %04o`, rootMode, rootMode^0o055)},
	}, {
		name:   "root directory mode, when roots are not compared",
		mutate: func(t *testing.T, got string) { must(t, unix.Chmod(got, rootMode^0o055)) },
	}}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needRoot && !s.Privileged {
				t.Skip("needs a tree built as root")
			}
			t.Parallel()
			got := copyTree(t, s)
			tt.mutate(t, got)
			diffs, err := CompareTrees(s.Root, got, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			ok := len(diffs) == len(tt.want)
			for i := 0; ok && i < len(diffs); i++ {
				ok = strings.HasPrefix(diffs[i], tt.want[i])
			}
			if !ok {
				t.Errorf("differences:\n%s\nwant lines starting with:\n%s", strings.Join(diffs, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestCompareTreesMapsOwnersWhenAsked(t *testing.T) {
	s := serverTree(t)
	if !s.Privileged {
		t.Skip("needs a tree built as root")
	}
	got := copyTree(t, s)
	// Restore by name onto a machine where www is 6242:6343: chown every
	// entry of www, then put back the setuid/setgid bits chown cleared.
	mapped := func(uid, gid uint32) (uint32, uint32) {
		if uid == ownerWWW.UID {
			uid = 6242
		}
		if gid == ownerWWW.GID {
			gid = 6343
		}
		return uid, gid
	}
	err := filepath.WalkDir(got, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		uid, gid := mapped(st.Uid, st.Gid)
		if uid == st.Uid && gid == st.Gid {
			return nil
		}
		if err := os.Lchown(p, int(uid), int(gid)); err != nil {
			return err
		}
		if kindOf(st.Mode) == unix.S_IFLNK {
			return nil
		}
		return unix.Chmod(p, st.Mode&0o7777)
	})
	must(t, err)

	diffs, err := CompareTrees(s.Root, got, CompareOptions{OwnerMap: mapped})
	must(t, err)
	if len(diffs) != 0 {
		t.Errorf("with the owner map:\n%s", strings.Join(diffs, "\n"))
	}
	diffs, err = CompareTrees(s.Root, got, CompareOptions{})
	must(t, err)
	want := fmt.Sprintf("%s: owner: want 4242:4343, got 6242:6343", quote("var/www/html/index.html"))
	if !slices.Contains(diffs, want) {
		t.Errorf("without the owner map, differences do not include %s:\n%s", want, strings.Join(diffs, "\n"))
	}
}

func TestCompareTreesComparesATimeOnlyWhenAsked(t *testing.T) {
	want, got := t.TempDir(), t.TempDir()
	mtime := unix.NsecToTimespec(time.Date(2024, 3, 1, 9, 0, 0, 123456789, time.UTC).UnixNano())
	for i, dir := range []string{want, got} {
		p := filepath.Join(dir, "spool")
		must(t, os.WriteFile(p, []byte("mail\n"), 0o600))
		atime := unix.NsecToTimespec(time.Date(2024, 3, 2, 9, 0, 0, 1+i, time.UTC).UnixNano())
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{atime, mtime}, 0))
	}
	for _, tt := range []struct {
		opts CompareOptions
		want []string
	}{
		{CompareOptions{}, nil},
		{CompareOptions{CompareATime: true}, []string{`"spool": atime: want 2024-03-02T09:00:00.000000001Z, got 2024-03-02T09:00:00.000000002Z`}},
	} {
		diffs, err := CompareTrees(want, got, tt.opts)
		must(t, err)
		if !slices.Equal(diffs, tt.want) {
			t.Errorf("CompareATime=%v: differences %q, want %q", tt.opts.CompareATime, diffs, tt.want)
		}
	}
}

func TestCompareTreesTreatsHolesAndZerosAsEqualContent(t *testing.T) {
	want, got := t.TempDir(), t.TempDir()
	holes, zeros := filepath.Join(want, "f"), filepath.Join(got, "f")
	f, err := os.Create(holes)
	must(t, err)
	must(t, f.Truncate(3<<20))
	_, err = f.WriteAt([]byte("end"), 3<<20-3)
	must(t, err)
	must(t, f.Close())
	data := make([]byte, 3<<20)
	copy(data[len(data)-3:], "end")
	must(t, os.WriteFile(zeros, data, 0o644))
	must(t, unix.Chmod(holes, 0o644))
	var st unix.Stat_t
	must(t, unix.Lstat(holes, &st))
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, zeros, []unix.Timespec{st.Atim, st.Mtim}, 0))

	diffs, err := CompareTrees(want, got, CompareOptions{})
	must(t, err)
	if len(diffs) != 0 {
		t.Errorf("holes against written zeros: %q, want no differences", diffs)
	}
	diffs, err = CompareTrees(want, got, CompareOptions{CheckSparse: true})
	must(t, err)
	if len(diffs) != 1 || !strings.Contains(diffs[0], "sparseness") {
		t.Errorf("with CheckSparse: %q, want one sparseness difference", diffs)
	}
	// A byte inside a hole of want is found even though want has no data there.
	flipByte(t, zeros, 1<<20+5)
	diffs, err = CompareTrees(want, got, CompareOptions{})
	must(t, err)
	if want := []string{`"f": content: first difference at byte 1048581`}; !slices.Equal(diffs, want) {
		t.Errorf("byte set inside a hole: %q, want %q", diffs, want)
	}
}

// unprivilegedTests are rerun as the user nobody when the tests run as root,
// so that the unprivileged build is covered too.
const unprivilegedTests = "^(TestBuildServerTreeMakesWhatItDescribes|TestCompareTreesFindsNoDifferenceBetweenATreeAndItself|TestCompareTreesFindsNoDifferenceAfterCpArchive)$"

func TestBuildServerTreeWorksForAnUnprivilegedUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("already unprivileged: the other tests cover this build")
	}
	const nobody = 65534
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		must(t, os.Chmod(d, 0o755))
	}
	self, err := os.Executable()
	must(t, err)
	data, err := os.ReadFile(self)
	must(t, err)
	bin := filepath.Join(dir, "testutil.test")
	must(t, os.WriteFile(bin, data, 0o755))
	tmp := filepath.Join(dir, "tmp")
	must(t, os.Mkdir(tmp, 0o700))
	must(t, os.Chown(tmp, nobody, nobody))

	cmd := exec.Command(bin, "-test.v", "-test.count=1", "-test.run", unprivilegedTests)
	cmd.Dir = tmp
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + tmp, "HOME=" + tmp}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tests as uid %d: %v\n%s", nobody, err, out)
	}
	for _, name := range strings.Split(strings.Trim(unprivilegedTests, "^()$"), "|") {
		if !bytes.Contains(out, []byte("--- PASS: "+name+" ")) {
			t.Errorf("%s did not pass as uid %d:\n%s", name, nobody, out)
		}
	}
}
