//go:build linux

package fsmeta

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/godwit-backup/godwit/repo/tree"
)

// Lstat describes path, without following a final symlink, as a node
// called name (the base name as raw bytes; it need not be path's last
// element). It fills Type, Mode (st_mode & 07777), UID, GID, User and
// Group (through names; left empty when names is nil or the id has no
// name), Size (regular files), MTime, ATime and CTime with nanoseconds,
// Inode, DeviceID, Links, Rdev (device nodes), LinkTarget (symlinks) and
// Xattrs. It leaves Content, Subtree and Error empty and returns the raw
// stat result as well, for callers that need st_blocks and the like.
//
// Xattrs holds every extended attribute the process may read, sorted by
// name, values as the kernel returns them: user.*, trusted.* (root
// only), security.*, and system.* names such as the POSIX ACL attributes
// (XattrACLAccess, XattrACLDefault, in the binary format ParseACL reads).
// A file system without extended attributes yields none, without error.
//
// When the file cannot be stat'ed or a symlink cannot be read, Lstat
// returns nil values and the error. When only the extended attributes
// cannot be read, it returns the node without Xattrs, the stat result
// and the error, so that a backup can keep the rest of the metadata.
//
// Paths longer than PATH_MAX are reached as WithPath describes.
func Lstat(path string, name string, names *Names) (*tree.Node, *unix.Stat_t, error) {
	if len(path) < pathLimit {
		return lstatShort(path, name, names)
	}
	var (
		n  *tree.Node
		st *unix.Stat_t
	)
	err := WithPath(path, func(p string) error {
		var err error
		n, st, err = lstatShort(p, name, names)
		return err
	})
	return n, st, err
}

func lstatShort(path string, name string, names *Names) (*tree.Node, *unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return nil, nil, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	n := &tree.Node{
		Name:     tree.RawString(name),
		Type:     nodeType(st.Mode),
		Mode:     st.Mode & 07777,
		UID:      st.Uid,
		GID:      st.Gid,
		MTime:    timespecTime(st.Mtim),
		ATime:    timespecTime(st.Atim),
		CTime:    timespecTime(st.Ctim),
		Inode:    st.Ino,
		DeviceID: uint64(st.Dev),
		Links:    uint64(st.Nlink),
	}
	if names != nil {
		n.User = tree.RawString(names.User(st.Uid))
		n.Group = tree.RawString(names.Group(st.Gid))
	}
	switch n.Type {
	case tree.File:
		n.Size = uint64(st.Size)
	case tree.CharDev, tree.BlockDev:
		n.Rdev = uint64(st.Rdev)
	case tree.Symlink:
		target, err := readlink(path)
		if err != nil {
			return nil, nil, err
		}
		n.LinkTarget = tree.RawString(target)
	}
	xattrs, err := readXattrs(path)
	if err != nil {
		return n, &st, err
	}
	n.Xattrs = xattrs
	return n, &st, nil
}

func nodeType(mode uint32) tree.NodeType {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return tree.File
	case unix.S_IFDIR:
		return tree.Dir
	case unix.S_IFLNK:
		return tree.Symlink
	case unix.S_IFCHR:
		return tree.CharDev
	case unix.S_IFBLK:
		return tree.BlockDev
	case unix.S_IFIFO:
		return tree.FIFO
	case unix.S_IFSOCK:
		return tree.Socket
	}
	return tree.Irregular
}

func timespecTime(ts unix.Timespec) time.Time {
	sec, nsec := ts.Unix()
	return time.Unix(sec, nsec).UTC()
}

// readlink returns the raw target of the symlink at path, growing its
// buffer until the target fits.
func readlink(path string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlink(path, buf)
		if err != nil {
			return "", &os.PathError{Op: "readlink", Path: path, Err: err}
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// readXattrs lists and reads the extended attributes of path itself (not
// of a symlink's target). An attribute removed between listing and
// reading is left out.
func readXattrs(path string) ([]tree.Xattr, error) {
	list, err := sizedRead(func(buf []byte) (int, error) { return unix.Llistxattr(path, buf) })
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, &os.PathError{Op: "llistxattr", Path: path, Err: err}
	}
	var xattrs []tree.Xattr
	for _, name := range bytes.Split(list, []byte{0}) {
		if len(name) == 0 {
			continue
		}
		attr := string(name)
		value, err := sizedRead(func(buf []byte) (int, error) { return unix.Lgetxattr(path, attr, buf) })
		if errors.Is(err, unix.ENODATA) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lgetxattr %s %s: %w", path, attr, err)
		}
		xattrs = append(xattrs, tree.Xattr{Name: tree.RawString(attr), Value: value})
	}
	sort.Slice(xattrs, func(i, j int) bool { return xattrs[i].Name < xattrs[j].Name })
	return xattrs, nil
}

// sizedRead calls read with a nil buffer to learn the size, then with a
// buffer of that size, and starts over when the value grew in between
// (ERANGE).
func sizedRead(read func([]byte) (int, error)) ([]byte, error) {
	for {
		size, err := read(nil)
		if err != nil {
			return nil, err
		}
		if size == 0 {
			return []byte{}, nil
		}
		buf := make([]byte, size)
		n, err := read(buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}
