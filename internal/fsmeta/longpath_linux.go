//go:build linux

package fsmeta

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pathLimit is the length from which a path is not handed to the kernel
// as is: PATH_MAX counts the terminating NUL.
const pathLimit = unix.PathMax - 1

// WithPath calls fn with a path that names the same entry as path and
// that path-based system calls accept whatever the length of path. A path
// shorter than PATH_MAX is passed unchanged. For a longer one, WithPath
// opens the longest leading part that is short enough, descends the rest
// one directory at a time relative to the previous descriptor (O_PATH,
// not following symlinks), and passes "/proc/self/fd/N/<last element>";
// that path is valid only until fn returns. It returns fn's error, with
// the short path in an *fs.PathError replaced by path; an error opening
// the directories on the way is returned without calling fn.
//
// Long paths need /proc to be mounted. WithPath is safe for concurrent
// use: every call opens its own descriptors and closes them before it
// returns.
func WithPath(path string, fn func(p string) error) error {
	if len(path) < pathLimit {
		return fn(path)
	}
	dir, base := path[:strings.LastIndexByte(path, '/')], path[strings.LastIndexByte(path, '/')+1:]
	fd, err := openDirRelative(dir)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	short := "/proc/self/fd/" + strconv.Itoa(fd) + "/" + base
	err = fn(short)
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == short {
		pe.Path = path
	}
	return err
}

// openDirRelative opens the directory dir, of any length, for use as the
// base of *at system calls, and returns its descriptor.
func openDirRelative(dir string) (int, error) {
	start, rest := ".", dir
	if cut := strings.LastIndexByte(dir[:min(len(dir), pathLimit)], '/'); cut == 0 {
		start, rest = "/", dir[1:]
	} else if cut > 0 {
		start, rest = dir[:cut], dir[cut+1:]
	}
	fd, err := unix.Open(start, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	for _, name := range strings.Split(rest, "/") {
		if name == "" {
			continue
		}
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// OpenFile is os.OpenFile for paths of any length (see WithPath).
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	var f *os.File
	err := WithPath(path, func(p string) error {
		var err error
		f, err = os.OpenFile(p, flag, perm)
		return err
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}
