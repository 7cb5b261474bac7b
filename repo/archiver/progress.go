package archiver

import (
	"context"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/godwit-backup/godwit/internal/fsmeta"
)

// Progress is told what a backup has done. Its methods must be cheap and
// must not block. AddFiles, AddBytes and Current are called from the
// goroutine running Run; SetTotal from the scan that runs alongside it.
type Progress interface {
	// SetTotal gives the entries (everything but directories) and bytes
	// of regular files the backup will go through, once the scan is done.
	SetTotal(files, bytes uint64)
	// AddFiles counts entries done, whether read, unchanged or failed.
	AddFiles(n uint64)
	// AddBytes counts bytes of file content done: read, or known
	// unchanged from the files cache.
	AddBytes(n uint64)
	// Current names the file being read.
	Current(path string)
}

type noProgress struct{}

func (noProgress) SetTotal(uint64, uint64) {}
func (noProgress) AddFiles(uint64)         {}
func (noProgress) AddBytes(uint64)         {}
func (noProgress) Current(string)          {}

// startScan counts the entries and bytes below the snapshot paths, with
// the backup's excludes, in a goroutine, and reports them with SetTotal
// when it is done. The returned function stops the scan and waits for it.
func (a *Archiver) startScan(ctx context.Context, paths []string) (wait func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var files, bytes uint64
		for _, p := range topmost(paths) {
			a.scan(ctx, p, 0, &files, &bytes)
		}
		if ctx.Err() == nil {
			a.opts.Progress.SetTotal(files, bytes)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// topmost drops paths below another path of the list.
func topmost(paths []string) []string {
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	var out []string
	for _, p := range sorted {
		if n := len(out); n > 0 && (out[n-1] == p || out[n-1] == "/" || strings.HasPrefix(p, out[n-1]+"/")) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// scan counts what saveEntry would go through at path; errors are left
// for the backup to report.
func (a *Archiver) scan(ctx context.Context, path string, rootDev uint64, files, bytes *uint64) {
	if ctx.Err() != nil {
		return
	}
	var st unix.Stat_t
	err := fsmeta.WithPath(a.disk(path), func(p string) error { return unix.Lstat(p, &st) })
	if err != nil {
		return
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		*files++
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			*bytes += uint64(st.Size)
		}
		return
	}
	dev := uint64(st.Dev)
	if rootDev == 0 {
		rootDev = dev
	}
	switch {
	case a.opts.OneFileSystem && dev != rootDev:
		return
	case a.opts.ExcludeCaches && isCacheDir(a.disk(path)):
		a.scan(ctx, joinPath(path, "CACHEDIR.TAG"), rootDev, files, bytes)
		return
	}
	names, _ := a.listDir(path)
	for _, name := range names {
		child := joinPath(path, name)
		if !a.opts.Excluder.Excluded(child) {
			a.scan(ctx, child, rootDev, files, bytes)
		}
	}
}
