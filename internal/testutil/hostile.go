//go:build linux

package testutil

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// MakeDeepTree creates under root (which must exist) a chain of depth
// directories, each called name, and in the deepest one a regular file
// called leaf holding data. Every directory is created relative to the
// descriptor of its parent, so the chain may be far longer than PATH_MAX
// (4096 bytes), which path-based calls cannot reach. It returns the
// file's path relative to root. Any failure ends the test with t.Fatal.
func MakeDeepTree(t testing.TB, root string, depth int, name, leaf string, data []byte) string {
	t.Helper()
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", root, err)
	}
	for i := 0; i < depth; i++ {
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			unix.Close(fd)
			t.Fatalf("mkdir at depth %d: %v", i+1, err)
		}
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatalf("open at depth %d: %v", i+1, err)
		}
		fd = next
	}
	defer unix.Close(fd)
	ffd, err := unix.Openat(fd, leaf, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatalf("create %s at depth %d: %v", leaf, depth, err)
	}
	f := os.NewFile(uintptr(ffd), leaf)
	if _, err := f.Write(data); err != nil {
		f.Close()
		t.Fatalf("write %s: %v", leaf, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", leaf, err)
	}
	return strings.Repeat(name+"/", depth) + leaf
}

// ReadDeep returns the content and the lstat result of the regular file
// at rel below root, walking rel one directory at a time relative to
// descriptors (without following symlinks), so that paths longer than
// PATH_MAX can be read.
func ReadDeep(root, rel string) ([]byte, *unix.Stat_t, error) {
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	for i, name := range parts[:len(parts)-1] {
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return nil, nil, &os.PathError{Op: "open", Path: strings.Join(parts[:i+1], "/"), Err: err}
		}
		fd = next
	}
	defer unix.Close(fd)
	leaf := parts[len(parts)-1]
	var st unix.Stat_t
	if err := unix.Fstatat(fd, leaf, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, nil, &os.PathError{Op: "lstat", Path: rel, Err: err}
	}
	ffd, err := unix.Openat(fd, leaf, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: rel, Err: err}
	}
	f := os.NewFile(uintptr(ffd), leaf)
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, err
	}
	return data, &st, nil
}

// MountTmpfs mounts a tmpfs of size bytes (a mount option such as "2m")
// on the existing directory dir and unmounts it when the test ends. It
// needs root: call RequireRoot first. A failure ends the test.
func MountTmpfs(t testing.TB, dir, size string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs on %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "--lazy", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// FillFileSystem writes the file path until its file system has no space
// left, so that the next write there fails with ENOSPC. A failure other
// than ENOSPC ends the test.
func FillFileSystem(t testing.TB, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("fill %s: %v", path, err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = byte(i) | 1 // not zeros, which some file systems compress
	}
	for {
		_, err := f.Write(buf)
		if errors.Is(err, unix.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatalf("fill %s: %v", path, err)
		}
	}
	// Smaller writes take the last partial block.
	for _, err := f.Write(buf[:1]); !errors.Is(err, unix.ENOSPC); _, err = f.Write(buf[:1]) {
		if err != nil {
			t.Fatalf("fill %s: %v", path, err)
		}
	}
}
