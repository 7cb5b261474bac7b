//go:build linux

package testutil

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// CompareOptions select what CompareTrees checks beyond its defaults. The
// zero value compares everything a restore as root with --owner numeric must
// preserve, except access times and sparseness.
type CompareOptions struct {
	// IgnoreOwner skips uid and gid, for --owner none and non-root restores.
	IgnoreOwner bool
	// CompareATime also compares access times. It is off by default because
	// reading an entry (a file by the backup or by cp, a directory listing,
	// a symlink target) moves its atime under relatime. CompareTrees records
	// each atime before it reads the entry and reads files with O_NOATIME
	// where permitted, but a tree that anything read since it was restored,
	// or a tree compared with itself, will show atime differences.
	CompareATime bool
	// CheckSparse also requires every regular file that has holes in want
	// (st_blocks*512 < st_size) to have holes in got.
	CheckSparse bool
	// CompareRoot also compares the mode, owner and times of want and got
	// themselves; by default only what is inside them is compared.
	CompareRoot bool
	// OwnerMap gives the owner expected in got for an owner found in want,
	// for --owner name restores. Nil means the same numeric ids.
	OwnerMap func(uid, gid uint32) (uint32, uint32)
}

// CompareTrees walks the directories want and got without following symlinks
// and returns one human-readable line for every difference, in path order
// with hardlink differences last; an empty result means the trees are equal.
// Paths in the lines are relative and quoted as Go strings, so bytes that are
// not UTF-8 and control characters stay visible.
//
// It compares the set of entries (a missing or extra directory is reported
// once, not with each entry below it), type, permission bits including
// setuid, setgid and sticky, uid and gid, mtime to the nanosecond on every
// kind of entry, size and content of regular files (the first differing
// offset is named), symlink targets byte for byte, rdev of device nodes, all
// extended attributes by name and value (POSIX ACLs are shown in text form),
// and hardlink groups: names that share one inode in want must share one
// inode in got, and no other names may. Options add atimes, sparseness and
// the roots themselves, or relax ownership.
//
// The error is non-nil only when a tree cannot be read; differences never
// cause one. Neither tree is modified, and both must not change during the
// call.
func CompareTrees(want, got string, opts CompareOptions) ([]string, error) {
	w, err := scanTree(want)
	if err != nil {
		return nil, fmt.Errorf("compare trees: %w", err)
	}
	g, err := scanTree(got)
	if err != nil {
		return nil, fmt.Errorf("compare trees: %w", err)
	}
	c := &comparer{opts: opts, wantRoot: want, gotRoot: got}

	rels := make([]string, 0, len(w))
	for rel := range w {
		rels = append(rels, rel)
	}
	for rel := range g {
		if _, ok := w[rel]; !ok {
			rels = append(rels, rel)
		}
	}
	slices.Sort(rels)

	gone := map[string]bool{} // directories whose contents are not compared
	for _, rel := range rels {
		if underAny(rel, gone) {
			continue
		}
		we, ge := w[rel], g[rel]
		switch {
		case ge == nil:
			c.add(rel, "missing in got (want %s)", kindName(we.st.Mode))
			gone[rel] = we.isDir()
		case we == nil:
			c.add(rel, "extra in got (%s)", kindName(ge.st.Mode))
			gone[rel] = ge.isDir()
		case rel == ".":
			if opts.CompareRoot {
				c.compareInode(rel, we, ge)
			}
		default:
			if err := c.compareEntry(rel, we, ge); err != nil {
				return nil, fmt.Errorf("compare trees: %w", err)
			}
			if kindOf(we.st.Mode) != kindOf(ge.st.Mode) {
				gone[rel] = we.isDir() || ge.isDir()
			}
		}
	}
	c.compareHardlinks(w, g)
	return c.diffs, nil
}

// HashFile returns the hex SHA-256 of the file's contents. It opens the file
// with O_NOATIME where the caller may, so hashing a tree does not move its
// access times.
func HashFile(path string) (string, error) {
	f, err := openNoATime(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// entry is what scanTree records of one name, before any file is read.
type entry struct {
	st     unix.Stat_t
	target string            // symlinks only
	xattrs map[string][]byte // nil when there are none
}

func (e *entry) isDir() bool { return kindOf(e.st.Mode) == unix.S_IFDIR }

// scanTree records every entry below root, keyed by slash-separated path
// relative to root; root itself is ".".
func scanTree(root string) (map[string]*entry, error) {
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: root, Err: err}
	}
	if kindOf(st.Mode) != unix.S_IFDIR {
		return nil, fmt.Errorf("%s is not a directory", root)
	}
	entries := map[string]*entry{}
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		e := &entry{}
		if err := unix.Lstat(p, &e.st); err != nil {
			return &fs.PathError{Op: "lstat", Path: p, Err: err}
		}
		if kindOf(e.st.Mode) == unix.S_IFLNK {
			if e.target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		if e.xattrs, err = readXattrs(p); err != nil {
			return err
		}
		entries[filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// readXattrs returns every extended attribute of p (not following symlinks).
func readXattrs(p string) (map[string][]byte, error) {
	list, err := xattrCall(func(buf []byte) (int, error) { return unix.Llistxattr(p, buf) })
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, &fs.PathError{Op: "llistxattr", Path: p, Err: err}
	}
	var xs map[string][]byte
	for name := range strings.SplitSeq(strings.TrimSuffix(string(list), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		v, err := xattrCall(func(buf []byte) (int, error) { return unix.Lgetxattr(p, name, buf) })
		if errors.Is(err, unix.ENODATA) {
			continue // removed since listed
		}
		if err != nil {
			return nil, &fs.PathError{Op: "lgetxattr " + name, Path: p, Err: err}
		}
		if xs == nil {
			xs = map[string][]byte{}
		}
		xs[name] = v
	}
	return xs, nil
}

// xattrCall runs a list or get call that takes a buffer: first to learn the
// size, then to fill it, again if the value grew in between.
func xattrCall(call func([]byte) (int, error)) ([]byte, error) {
	for {
		n, err := call(nil)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return []byte{}, nil
		}
		buf := make([]byte, n)
		n, err = call(buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

type comparer struct {
	opts              CompareOptions
	wantRoot, gotRoot string
	diffs             []string
}

func (c *comparer) add(rel, format string, args ...any) {
	c.diffs = append(c.diffs, quote(rel)+": "+fmt.Sprintf(format, args...))
}

// compareInode compares what the root directories are checked for: mode,
// owner and times.
func (c *comparer) compareInode(rel string, we, ge *entry) {
	if wm, gm := we.st.Mode&0o7777, ge.st.Mode&0o7777; wm != gm && kindOf(we.st.Mode) != unix.S_IFLNK {
		c.add(rel, "mode: want %04o, got %04o", wm, gm)
	}
	if !c.opts.IgnoreOwner {
		uid, gid := we.st.Uid, we.st.Gid
		if c.opts.OwnerMap != nil {
			uid, gid = c.opts.OwnerMap(uid, gid)
		}
		if uid != ge.st.Uid || gid != ge.st.Gid {
			c.add(rel, "owner: want %d:%d, got %d:%d", uid, gid, ge.st.Uid, ge.st.Gid)
		}
	}
	if we.st.Mtim != ge.st.Mtim {
		c.add(rel, "mtime: want %s, got %s", formatTime(we.st.Mtim), formatTime(ge.st.Mtim))
	}
	if c.opts.CompareATime && we.st.Atim != ge.st.Atim {
		c.add(rel, "atime: want %s, got %s", formatTime(we.st.Atim), formatTime(ge.st.Atim))
	}
}

func (c *comparer) compareEntry(rel string, we, ge *entry) error {
	wk, gk := kindOf(we.st.Mode), kindOf(ge.st.Mode)
	if wk != gk {
		c.add(rel, "type: want %s, got %s", kindName(we.st.Mode), kindName(ge.st.Mode))
		return nil
	}
	c.compareInode(rel, we, ge)
	switch wk {
	case unix.S_IFREG:
		if err := c.compareFile(rel, we, ge); err != nil {
			return err
		}
	case unix.S_IFLNK:
		if we.target != ge.target {
			c.add(rel, "symlink target: want %q, got %q", we.target, ge.target)
		}
	case unix.S_IFCHR, unix.S_IFBLK:
		if we.st.Rdev != ge.st.Rdev {
			c.add(rel, "rdev: want %d:%d, got %d:%d",
				unix.Major(we.st.Rdev), unix.Minor(we.st.Rdev), unix.Major(ge.st.Rdev), unix.Minor(ge.st.Rdev))
		}
	}
	c.compareXattrs(rel, we.xattrs, ge.xattrs)
	return nil
}

func (c *comparer) compareFile(rel string, we, ge *entry) error {
	if we.st.Size != ge.st.Size {
		c.add(rel, "size: want %d, got %d", we.st.Size, ge.st.Size)
	} else {
		off, same, err := firstDifference(filepath.Join(c.wantRoot, rel), filepath.Join(c.gotRoot, rel), we.st.Size)
		if err != nil {
			return err
		}
		if !same {
			c.add(rel, "content: first difference at byte %d", off)
		}
	}
	if c.opts.CheckSparse && hasHoles(&we.st) && !hasHoles(&ge.st) {
		c.add(rel, "sparseness: want holes (%d of %d bytes allocated), got %d bytes allocated",
			we.st.Blocks*512, we.st.Size, ge.st.Blocks*512)
	}
	return nil
}

func hasHoles(st *unix.Stat_t) bool { return st.Blocks*512 < st.Size }

func (c *comparer) compareXattrs(rel string, want, got map[string][]byte) {
	names := make([]string, 0, len(want)+len(got))
	for name := range want {
		names = append(names, name)
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		wv, inWant := want[name]
		gv, inGot := got[name]
		switch {
		case !inGot:
			c.add(rel, "xattr %s: missing in got (want %s)", name, formatXattr(name, wv))
		case !inWant:
			c.add(rel, "xattr %s: extra in got (%s)", name, formatXattr(name, gv))
		case !bytes.Equal(wv, gv):
			c.add(rel, "xattr %s: want %s, got %s", name, formatXattr(name, wv), formatXattr(name, gv))
		}
	}
}

func formatXattr(name string, v []byte) string {
	if name == xattrACLAccess || name == xattrACLDefault {
		return formatACL(v)
	}
	return strconv.Quote(string(v))
}

type inodeKey struct{ dev, ino uint64 }

// compareHardlinks checks that names sharing an inode in one tree share one
// inode in the other. Directories are left out: their link counts come from
// subdirectories, not from hardlinks.
func (c *comparer) compareHardlinks(want, got map[string]*entry) {
	c.compareGroups("one inode in want", want, got)
	c.compareGroups("one inode in got", got, want)
}

func (c *comparer) compareGroups(what string, in, other map[string]*entry) {
	groups := map[inodeKey][]string{}
	for rel, e := range in {
		if !e.isDir() {
			k := inodeKey{e.st.Dev, e.st.Ino}
			groups[k] = append(groups[k], rel)
		}
	}
	var lines []string
	for _, names := range groups {
		if len(names) < 2 {
			continue
		}
		slices.Sort(names)
		var parts [][]string
		index := map[inodeKey]int{}
		for _, rel := range names {
			e, ok := other[rel]
			if !ok {
				continue // reported as missing or extra
			}
			k := inodeKey{e.st.Dev, e.st.Ino}
			i, seen := index[k]
			if !seen {
				i = len(parts)
				index[k] = i
				parts = append(parts, nil)
			}
			parts[i] = append(parts[i], rel)
		}
		if len(parts) > 1 {
			var split []string
			for _, p := range parts {
				split = append(split, quoteList(p))
			}
			lines = append(lines, fmt.Sprintf("hardlinks: %s are %s, but separate inodes %s in the other tree",
				quoteList(names), what, strings.Join(split, " ")))
		}
	}
	slices.Sort(lines)
	c.diffs = append(c.diffs, lines...)
}

// firstDifference compares two files of equal size byte by byte. Ranges
// that are holes in both files are equal without being read, which keeps
// comparing large sparse files cheap.
func firstDifference(a, b string, size int64) (offset int64, same bool, err error) {
	fa, err := openNoATime(a)
	if err != nil {
		return 0, false, err
	}
	defer fa.Close()
	fb, err := openNoATime(b)
	if err != nil {
		return 0, false, err
	}
	defer fb.Close()
	ea, err := dataExtents(fa, size)
	if err != nil {
		return 0, false, err
	}
	eb, err := dataExtents(fb, size)
	if err != nil {
		return 0, false, err
	}
	const bufSize = 1 << 20
	ba, bb := make([]byte, bufSize), make([]byte, bufSize)
	for _, e := range unionExtents(append(ea, eb...)) {
		for off := e[0]; off < e[1]; {
			n := int(min(bufSize, e[1]-off))
			if _, err := fa.ReadAt(ba[:n], off); err != nil {
				return 0, false, fmt.Errorf("read %s: %w", a, err)
			}
			if _, err := fb.ReadAt(bb[:n], off); err != nil {
				return 0, false, fmt.Errorf("read %s: %w", b, err)
			}
			if !bytes.Equal(ba[:n], bb[:n]) {
				for i := range n {
					if ba[i] != bb[i] {
						return off + int64(i), false, nil
					}
				}
			}
			off += int64(n)
		}
	}
	return 0, true, nil
}

// dataExtents returns the [start, end) ranges of f below size that may hold
// data, using SEEK_DATA and SEEK_HOLE; where the file system cannot tell, the
// whole file is one extent.
func dataExtents(f *os.File, size int64) ([][2]int64, error) {
	fd := int(f.Fd())
	var extents [][2]int64
	for off := int64(0); off < size; {
		start, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole remains
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
			return [][2]int64{{0, size}}, nil
		}
		if err != nil {
			return nil, &fs.PathError{Op: "seek data", Path: f.Name(), Err: err}
		}
		end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
		if err != nil {
			return nil, &fs.PathError{Op: "seek hole", Path: f.Name(), Err: err}
		}
		end = min(end, size)
		if start >= end {
			break
		}
		extents = append(extents, [2]int64{start, end})
		off = end
	}
	return extents, nil
}

// unionExtents sorts extents and merges those that overlap or touch.
func unionExtents(extents [][2]int64) [][2]int64 {
	slices.SortFunc(extents, func(x, y [2]int64) int { return cmp.Compare(x[0], y[0]) })
	var out [][2]int64
	for _, e := range extents {
		if n := len(out); n > 0 && e[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], e[1])
			continue
		}
		out = append(out, e)
	}
	return out
}

// openNoATime opens a regular file for reading without updating its atime
// when the caller owns it or is privileged, and normally otherwise.
func openNoATime(p string) (*os.File, error) {
	const flags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW
	fd, err := unix.Open(p, flags|unix.O_NOATIME, 0)
	if errors.Is(err, unix.EPERM) {
		fd, err = unix.Open(p, flags, 0)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

func kindOf(mode uint32) uint32 { return mode & unix.S_IFMT }

func kindName(mode uint32) string {
	switch kindOf(mode) {
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFSOCK:
		return "socket"
	}
	return fmt.Sprintf("type %#o", kindOf(mode))
}

func formatTime(ts unix.Timespec) string {
	return time.Unix(ts.Sec, ts.Nsec).UTC().Format(time.RFC3339Nano)
}

func quote(rel string) string { return strconv.Quote(rel) }

func quoteList(rels []string) string {
	q := make([]string, len(rels))
	for i, rel := range rels {
		q[i] = quote(rel)
	}
	return "[" + strings.Join(q, " ") + "]"
}

// underAny reports whether rel lies below a directory marked in gone.
func underAny(rel string, gone map[string]bool) bool {
	for p := path.Dir(rel); p != "." && p != "/"; p = path.Dir(p) {
		if gone[p] {
			return true
		}
	}
	return false
}
