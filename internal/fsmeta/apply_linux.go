//go:build linux

package fsmeta

import (
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/godwit-backup/godwit/repo/tree"
)

// OwnerMode is the ownership policy of a restore.
type OwnerMode int

const (
	// OwnerNumeric restores the recorded uid and gid as they are.
	OwnerNumeric OwnerMode = iota
	// OwnerName restores the ids that the recorded user and group names
	// have on this machine, falling back to the recorded ids for names
	// this machine does not know. ACL entries are mapped the same way.
	OwnerName
	// OwnerNone leaves ownership as it is.
	OwnerNone
)

func (m OwnerMode) String() string {
	switch m {
	case OwnerNumeric:
		return "numeric"
	case OwnerName:
		return "name"
	case OwnerNone:
		return "none"
	}
	return fmt.Sprintf("OwnerMode(%d)", int(m))
}

// ApplyOptions configures Apply.
type ApplyOptions struct {
	Owner OwnerMode
	// Names looks up names on this machine for OwnerName; nil means a
	// fresh NewNames() for each call, so callers restoring many files
	// should share one.
	Names *Names
	// SourceNames, if set, gives the names that ids had on the machine
	// that was backed up (for example from a snapshot's system manifest).
	// OwnerName uses it to map the ids of named ACL entries other than the
	// file's own owner and group, whose names the node records itself.
	SourceNames *Names
	// CanChown is false when the process may not change ownership (see
	// CanChown): Apply then leaves ownership alone without reporting it,
	// and the caller reports it once for the whole restore.
	CanChown bool
}

// ErrSocketNotRestored is returned (wrapped) by Create for socket nodes.
// A socket file is only useful while a process listens on it, and daemons
// create their sockets when they start, so a restore skips them.
var ErrSocketNotRestored = errors.New("sockets are not restored")

// Create makes the file system object for a symlink (with the raw target),
// FIFO, character device or block device node at path, which must not
// exist. FIFOs and devices start with mode 0600 and the process's
// ownership; Apply sets the recorded ones. Regular files and directories
// are the restorer's to create; for them and for irregular files Create
// returns an error. For sockets it returns an error wrapping
// ErrSocketNotRestored and creates nothing. Paths longer than PATH_MAX
// are reached as WithPath describes.
func Create(path string, n *tree.Node) error {
	return WithPath(path, func(p string) error { return create(p, n) })
}

func create(path string, n *tree.Node) error {
	var err error
	switch n.Type {
	case tree.Symlink:
		err = unix.Symlink(string(n.LinkTarget), path)
	case tree.FIFO:
		err = unix.Mkfifo(path, 0o600)
	case tree.CharDev, tree.BlockDev:
		if n.Rdev > math.MaxUint32 {
			return fmt.Errorf("create %s: device number %#x does not fit a Linux dev_t", path, n.Rdev)
		}
		kind := uint32(unix.S_IFCHR)
		if n.Type == tree.BlockDev {
			kind = unix.S_IFBLK
		}
		err = unix.Mknod(path, kind|0o600, int(n.Rdev))
	case tree.Socket:
		return fmt.Errorf("create %s: %w", path, ErrSocketNotRestored)
	default:
		return fmt.Errorf("create %s: cannot create a node of type %q", path, n.Type)
	}
	if err != nil {
		return &os.PathError{Op: "create " + string(n.Type), Path: path, Err: err}
	}
	return nil
}

// Apply sets the metadata of n on the existing path, without following a
// final symlink, in this order: ownership (lchown, per opts.Owner and only
// when opts.CanChown), mode (not for symlinks; after chown, which clears
// setuid and setgid), extended attributes including ACLs (after chown,
// which clears security.capability), then access and modification times
// (n.ATime, n.MTime; a zero time is left unchanged). A directory's times
// change whenever an entry is added to it, so callers apply directories
// after their contents.
//
// Every step is attempted even when an earlier one failed; Apply returns
// all failures joined, or nil. When chown fails, the setuid and setgid
// bits are not set, so that a file never becomes setuid to the wrong
// owner. Extended attributes on path that n does not list are left alone,
// except the two ACL attributes, which are removed so that the
// permissions are exactly those recorded (a new file may have inherited a
// default ACL). With OwnerName, the ids of named user and group entries
// in ACLs are mapped by name: through n's own User and Group for its
// owner's ids, through opts.SourceNames for others, keeping the recorded
// id when no name is known. Paths longer than PATH_MAX are reached as
// WithPath describes.
func Apply(path string, n *tree.Node, opts ApplyOptions) error {
	return WithPath(path, func(p string) error { return apply(p, n, opts) })
}

func apply(path string, n *tree.Node, opts ApplyOptions) error {
	names := opts.Names
	if opts.Owner == OwnerName && names == nil {
		names = NewNames()
	}
	var errs []error
	mode := n.Mode & 0o7777

	if opts.CanChown && opts.Owner != OwnerNone {
		uid, gid := n.UID, n.GID
		if opts.Owner == OwnerName {
			uid, gid = mapUser(n, names, nil, n.UID), mapGroup(n, names, nil, n.GID)
		}
		if err := unix.Lchown(path, int(uid), int(gid)); err != nil {
			errs = append(errs, &os.PathError{Op: "lchown", Path: path, Err: err})
			if mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
				mode &^= unix.S_ISUID | unix.S_ISGID
				errs = append(errs, fmt.Errorf("chmod %s: setuid and setgid bits not restored because ownership could not be set", path))
			}
		}
	}

	if n.Type != tree.Symlink {
		if err := chmodNoFollow(path, mode); err != nil {
			errs = append(errs, err)
		}
	}

	errs = append(errs, applyXattrs(path, n, opts, names)...)

	if err := setTimes(path, n.ATime, n.MTime); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// chmodNoFollow changes the mode of path, refusing when path is a
// symlink: chmod would change the link's target instead.
func chmodNoFollow(path string, mode uint32) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return fmt.Errorf("chmod %s: is a symlink, but the node is not", path)
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, path, mode, 0); err != nil {
		return &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	return nil
}

func applyXattrs(path string, n *tree.Node, opts ApplyOptions, names *Names) []error {
	var errs []error
	hasACL := map[string]bool{}
	for _, x := range n.Xattrs {
		value := x.Value
		if x.Name == XattrACLAccess || x.Name == XattrACLDefault {
			hasACL[string(x.Name)] = true
			if opts.Owner == OwnerName {
				mapped, err := mapACL(value, n, names, opts.SourceNames)
				if err != nil {
					errs = append(errs, fmt.Errorf("map %s of %s by name, restoring numeric ids: %w", x.Name, path, err))
				} else {
					value = mapped
				}
			}
		}
		if err := unix.Lsetxattr(path, string(x.Name), value, 0); err != nil {
			errs = append(errs, fmt.Errorf("lsetxattr %s %s: %w", path, x.Name, err))
		}
	}
	if n.Type == tree.Symlink {
		return errs
	}
	for _, name := range []string{XattrACLAccess, XattrACLDefault} {
		if hasACL[name] {
			continue
		}
		err := unix.Lremovexattr(path, name)
		if err != nil && !errors.Is(err, unix.ENODATA) && !errors.Is(err, unix.ENOTSUP) {
			errs = append(errs, fmt.Errorf("lremovexattr %s %s: %w", path, name, err))
		}
	}
	return errs
}

func mapACL(value []byte, n *tree.Node, names, source *Names) ([]byte, error) {
	acl, err := ParseACL(value)
	if err != nil {
		return nil, err
	}
	mapped, err := acl.mapIDs(
		func(uid uint32) uint32 { return mapUser(n, names, source, uid) },
		func(gid uint32) uint32 { return mapGroup(n, names, source, gid) },
	)
	if err != nil {
		return nil, err
	}
	return mapped.Marshal(), nil
}

// mapUser returns the id on this machine of the user that had uid where n
// was recorded, or uid when that user's name is unknown here or there.
func mapUser(n *tree.Node, names, source *Names, uid uint32) uint32 {
	name := ""
	if uid == n.UID && n.User != "" {
		name = string(n.User)
	} else if source != nil {
		name = source.User(uid)
	}
	if id, ok := names.LookupUser(name); ok {
		return id
	}
	return uid
}

// mapGroup is mapUser for groups.
func mapGroup(n *tree.Node, names, source *Names, gid uint32) uint32 {
	name := ""
	if gid == n.GID && n.Group != "" {
		name = string(n.Group)
	} else if source != nil {
		name = source.Group(gid)
	}
	if id, ok := names.LookupGroup(name); ok {
		return id
	}
	return gid
}

func setTimes(path string, atime, mtime time.Time) error {
	var ts [2]unix.Timespec
	for i, t := range []time.Time{atime, mtime} {
		if t.IsZero() {
			ts[i] = unix.Timespec{Nsec: unix.UTIME_OMIT}
			continue
		}
		var err error
		if ts[i], err = unix.TimeToTimespec(t); err != nil {
			return fmt.Errorf("set times of %s: %w", path, err)
		}
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: path, Err: err}
	}
	return nil
}

// CanChown reports whether the process may give files to other users:
// whether it has CAP_CHOWN in its effective set (root usually has). When
// the capabilities cannot be read it reports whether the effective uid
// is 0.
func CanChown() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return unix.Geteuid() == 0
	}
	return data[unix.CAP_CHOWN/32].Effective&(1<<(unix.CAP_CHOWN%32)) != 0
}
