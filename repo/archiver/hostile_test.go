package archiver_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/godwit-backup/godwit/internal/testutil"
	"github.com/godwit-backup/godwit/repo"
	"github.com/godwit-backup/godwit/repo/archiver"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/snapshot"
	"github.com/godwit-backup/godwit/repo/tree"
)

// runWithin runs a backup that must end within limit: a walk that hangs
// (on a FIFO, in a symlink loop) fails the test instead of blocking it.
func runWithin(t *testing.T, r *repo.Repository, limit time.Duration, opts archiver.Options, paths ...string) (*snapshot.Snapshot, *warnings) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	w := &warnings{}
	opts.Warn = w.warn
	sn, err := archiver.New(r, opts).Run(ctx, paths)
	if ctx.Err() != nil {
		t.Fatalf("backup did not finish within %v", limit)
	}
	if err != nil {
		t.Fatal(err)
	}
	return sn, w
}

func TestRunRecordsHostileNamesByteForByte(t *testing.T) {
	names := []string{
		"new\nline", "carriage\rreturn", "tab\there", "\x1b[31mred\x1b[0m", "bell\a", "del\x7f",
		"\x01\x02\x03", "latin1-caf\xe9", "\xff\xfe", "truncated-utf8-\xc3", "-rf", " leading space",
		"trailing space ", "back\\slash", "*?[glob]", "...", strings.Repeat("n", 255),
	}
	src := t.TempDir()
	for _, name := range names {
		writeFile(t, filepath.Join(src, name), []byte("content of "+name))
	}
	r := newRepo(t)
	sn, w := runWithin(t, r, time.Minute, archiver.Options{}, src)
	if len(w.paths) != 0 || sn.Incomplete {
		t.Fatalf("warnings %q", w.paths)
	}
	top, err := r.LoadTree(context.Background(), *findNode(t, r, sn, src).Subtree)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*tree.Node{}
	for _, n := range top.Nodes {
		got[string(n.Name)] = n
	}
	if len(got) != len(names) {
		t.Errorf("tree holds %d entries, want %d", len(got), len(names))
	}
	for _, name := range names {
		n := got[name]
		if n == nil {
			t.Errorf("%q missing from the tree", name)
			continue
		}
		if c := readContent(t, r, n); string(c) != "content of "+name {
			t.Errorf("%q holds %q", name, c)
		}
	}
}

// TestRunReachesPathsLongerThanPathMax backs up a chain of 1,000
// directories whose path (about 11,000 bytes) is far beyond PATH_MAX, so
// that only relative walks reach the bottom.
func TestRunReachesPathsLongerThanPathMax(t *testing.T) {
	const depth = 1000
	src := t.TempDir()
	data := []byte("at the bottom\n")
	rel := testutil.MakeDeepTree(t, src, depth, "directory", "leaf.txt", data)
	if len(src)+len(rel) <= unix.PathMax {
		t.Fatalf("test tree is only %d bytes deep", len(src)+len(rel))
	}
	r := newRepo(t)
	start := time.Now()
	sn, w := runWithin(t, r, 2*time.Minute, archiver.Options{}, src)
	t.Logf("backed up %d directories, %d bytes of path, in %v", depth, len(src)+len(rel), time.Since(start))
	if len(w.paths) != 0 || sn.Incomplete {
		t.Fatalf("warnings %q", w.paths)
	}
	if sn.Summary.Dirs != depth+1 || sn.Summary.FilesNew != 1 {
		t.Errorf("summary counts %d directories and %d files, want %d and 1", sn.Summary.Dirs, sn.Summary.FilesNew, depth+1)
	}
	leaf := findNode(t, r, sn, src+"/"+rel)
	if got := readContent(t, r, leaf); !bytes.Equal(got, data) || leaf.Type != tree.File {
		t.Errorf("leaf is a %s holding %q", leaf.Type, got)
	}
}

func TestRunWalksOneHundredThousandEntriesInOneDirectory(t *testing.T) {
	const entries = 100_000
	src := t.TempDir()
	dir := filepath.Join(src, "spool")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range entries {
		fd, err := unix.Openat(dfd, "msg."+strconv.Itoa(i), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
	}
	unix.Close(dfd)

	r := newRepo(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	sn, w := runWithin(t, r, 3*time.Minute, archiver.Options{}, src)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	t.Logf("%d entries in %v; heap %d MiB after the run, %d MiB allocated", entries, elapsed, after.HeapAlloc>>20, (after.TotalAlloc-before.TotalAlloc)>>20)
	if len(w.paths) != 0 || sn.Summary.FilesNew != entries {
		t.Fatalf("%d files new, warnings %q", sn.Summary.FilesNew, w.paths)
	}
	spool, err := r.LoadTree(context.Background(), *findNode(t, r, sn, dir).Subtree)
	if err != nil {
		t.Fatal(err)
	}
	if len(spool.Nodes) != entries {
		t.Errorf("directory tree holds %d entries, want %d", len(spool.Nodes), entries)
	}
}

// writeExtents creates a sparse file of size bytes holding data at each
// offset, and zeros (holes) everywhere else.
func writeExtents(t *testing.T, path string, size int64, data map[int64][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for off, b := range data {
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRunSkipsReadingHolesButRecordsTheSameContent backs up the same bytes
// once as a sparse file and once fully written: holes must give exactly
// the chunks that reading zeros gives.
func TestRunSkipsReadingHolesButRecordsTheSameContent(t *testing.T) {
	data := map[int64][]byte{
		0:               randomBytes(t, 100),           // data at the start
		3<<20 + 17:      randomBytes(t, 5000),          // inside a block, across blocks
		9 << 20:         randomBytes(t, 2<<20),         // a long run of data
		20<<20 - 4096:   randomBytes(t, 8192),          // across the chunker's cut points
		30<<20 + 1:      randomBytes(t, 1),             // one byte
		40<<20 - 3:      []byte("end"),                 // the last bytes
		int64(25 << 20): bytes.Repeat([]byte{0}, 4096), // written zeros are data
	}
	for _, tc := range []struct {
		name string
		size int64
	}{
		{"data at both ends", 40 << 20},
		{"trailing hole", 48 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			writeExtents(t, filepath.Join(src, "sparse"), tc.size, data)
			full := make([]byte, tc.size)
			for off, b := range data {
				copy(full[off:], b)
			}
			writeFile(t, filepath.Join(src, "dense"), full)
			var st unix.Stat_t
			if err := unix.Stat(filepath.Join(src, "sparse"), &st); err != nil || st.Blocks*512 >= st.Size {
				t.Skipf("the file system does not keep holes (%v)", err)
			}
			r := newRepo(t)
			sn, w := runWithin(t, r, time.Minute, archiver.Options{}, src)
			if len(w.paths) != 0 {
				t.Fatalf("warnings %q", w.paths)
			}
			sparse, dense := findNode(t, r, sn, src+"/sparse"), findNode(t, r, sn, src+"/dense")
			if sparse.Size != uint64(tc.size) || len(sparse.Content) != len(dense.Content) {
				t.Fatalf("sparse file: size %d in %d chunks; dense: %d chunks", sparse.Size, len(sparse.Content), len(dense.Content))
			}
			for i := range sparse.Content {
				if sparse.Content[i] != dense.Content[i] {
					t.Fatalf("chunk %d differs between the sparse and the dense copy", i)
				}
			}
		})
	}
}

// TestRunBacksUpFiveGiBSparseFileQuickly backs up a 5 GiB file that holds
// a few blocks of data, two of them beyond 4 GiB: the holes are not read,
// the zero chunks deduplicate, and the data lands at its offsets.
func TestRunBacksUpFiveGiBSparseFileQuickly(t *testing.T) {
	const size = 5 << 30
	marks := map[int64][]byte{1 << 20: []byte("first"), 1<<32 + 12345: []byte("past 4 GiB"), size - 6: []byte("last!\n")}
	src := t.TempDir()
	writeExtents(t, filepath.Join(src, "disk.img"), size, marks)
	r := newRepo(t)
	start := time.Now()
	sn, w := runWithin(t, r, 2*time.Minute, archiver.Options{}, src)
	t.Logf("5 GiB sparse file backed up in %v, %d blobs added", time.Since(start), sn.Summary.BlobsAdded)
	if len(w.paths) != 0 {
		t.Fatalf("warnings %q", w.paths)
	}
	n := findNode(t, r, sn, src+"/disk.img")
	if n.Size != size {
		t.Fatalf("recorded size %d, want %d", n.Size, size)
	}
	distinct := map[blob.ID]bool{}
	for _, id := range n.Content {
		distinct[id] = true
	}
	if len(distinct) > 2*len(marks)+2 {
		t.Errorf("%d distinct chunks for 3 marks in zeros: zero chunks did not deduplicate", len(distinct))
	}
	// Find each mark in the chunk that covers its offset.
	var off int64
	loaded := map[blob.ID][]byte{}
	for _, id := range n.Content {
		b, ok := loaded[id]
		if !ok {
			var err error
			if b, err = r.LoadBlob(context.Background(), blob.DataBlob, id); err != nil {
				t.Fatal(err)
			}
			loaded[id] = b
		}
		for at, mark := range marks {
			if at >= off && at+int64(len(mark)) <= off+int64(len(b)) && !bytes.Equal(b[at-off:at-off+int64(len(mark))], mark) {
				t.Errorf("offset %d holds %q, want %q", at, b[at-off:at-off+int64(len(mark))], mark)
			}
		}
		off += int64(len(b))
	}
	if off != size {
		t.Errorf("chunks add up to %d bytes, want %d", off, size)
	}
}

// TestRunRecordsAFileChangingWhileReadAsInconsistent changes a file in
// every read of it: the snapshot must not hold a mixed file recorded as
// complete. It holds either one whole version, or the file marked with an
// error and a warning that names it.
func TestRunRecordsAFileChangingWhileReadAsInconsistent(t *testing.T) {
	const size = 24 << 20
	for _, tc := range []struct {
		name string
		// change alters path once; the replacement versions hold
		// one repeated byte each. mustWarn: no read can be consistent.
		change   func(t *testing.T, path string, i int) error
		mustWarn bool
	}{
		{
			name: "grows",
			change: func(t *testing.T, path string, i int) error {
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					return err
				}
				_, err = f.Write(bytes.Repeat([]byte{byte(i)}, 4096))
				f.Close()
				return err
			},
			mustWarn: true,
		},
		{
			name: "shrinks",
			change: func(t *testing.T, path string, i int) error {
				return os.Truncate(path, int64(size-(i+1)*4096))
			},
			mustWarn: true,
		},
		{
			name: "is replaced",
			change: func(t *testing.T, path string, i int) error {
				tmp := path + ".new"
				if err := os.WriteFile(tmp, bytes.Repeat([]byte{byte(i)}, size), 0o644); err != nil {
					return err
				}
				return os.Rename(tmp, path)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			path := filepath.Join(src, "mailbox")
			orig := randomBytes(t, size)
			writeFile(t, path, orig)
			r := newRepo(t)

			stop, started := make(chan struct{}), make(chan struct{})
			var wg sync.WaitGroup
			var changeErr error
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					if i == 1 {
						close(started)
					}
					select {
					case <-stop:
						return
					default:
					}
					if err := tc.change(t, path, i%250); err != nil {
						changeErr = err
						if i == 0 {
							close(started)
						}
						return
					}
					time.Sleep(200 * time.Microsecond)
				}
			}()
			<-started
			sn, w := runWithin(t, r, 2*time.Minute, archiver.Options{Retries: 2}, src)
			close(stop)
			wg.Wait()
			if changeErr != nil {
				t.Fatal(changeErr)
			}

			warned := false
			for _, p := range w.paths {
				if strings.HasPrefix(p, path+":") {
					warned = true
				}
			}
			if warned != sn.Incomplete {
				t.Errorf("warned %v but snapshot incomplete %v: %q", warned, sn.Incomplete, w.paths)
			}
			n, err := r.FindNode(context.Background(), sn.Tree, path)
			if err != nil {
				// Replaced between the listing and the read: skipped
				// with a warning.
				if !warned {
					t.Fatalf("file left out without a warning: %v", err)
				}
				return
			}
			if n.Error != "" {
				if !warned {
					t.Errorf("node error %q without a warning", n.Error)
				}
				return
			}
			if tc.mustWarn {
				t.Fatalf("a file that changed during every read was recorded as complete; warnings %q", w.paths)
			}
			// Recorded as complete: it must be one whole version.
			got := readContent(t, r, n)
			if uint64(len(got)) != n.Size {
				t.Fatalf("recorded size %d, content %d bytes", n.Size, len(got))
			}
			if !bytes.Equal(got, orig) && !bytes.Equal(got, bytes.Repeat(got[:1], len(got))) {
				t.Errorf("recorded as complete but mixes versions")
			}
		})
	}
}

func TestRunRecordsSymlinkLoopsWithoutFollowingThem(t *testing.T) {
	src := t.TempDir()
	links := map[string]string{
		"a":              "b",
		"b":              "a",
		"self":           "self",
		"sub/up":         "..",
		"sub/deeper/top": "../../..",
		"sub/abs":        src,
	}
	for p, target := range links {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(src, p)); err != nil {
			t.Fatal(err)
		}
	}
	r := newRepo(t)
	sn, w := runWithin(t, r, time.Minute, archiver.Options{}, src)
	if len(w.paths) != 0 {
		t.Errorf("warnings %q", w.paths)
	}
	for p, target := range links {
		n := findNode(t, r, sn, src+"/"+p)
		if n.Type != tree.Symlink || string(n.LinkTarget) != target {
			t.Errorf("%s: %s to %q, want a symlink to %q", p, n.Type, n.LinkTarget, target)
		}
	}
	if sn.Summary.Dirs != 3 || sn.Summary.Others != uint64(len(links)) {
		t.Errorf("summary: %d directories, %d others; want 3 and %d", sn.Summary.Dirs, sn.Summary.Others, len(links))
	}
}

// TestRunRecordsSpecialFilesWithoutOpeningThem backs up a FIFO nobody
// writes to (opening it for reading would block), a listening socket and,
// as root, device nodes.
func TestRunRecordsSpecialFilesWithoutOpeningThem(t *testing.T) {
	src := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(src, "fifo"), 0o620); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(src, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := map[string]tree.NodeType{"fifo": tree.FIFO, "sock": tree.Socket}
	rdev := map[string]uint64{}
	if os.Geteuid() == 0 {
		for _, d := range []struct {
			name         string
			kind         uint32
			major, minor uint32
			typ          tree.NodeType
		}{
			{"null", unix.S_IFCHR, 1, 3, tree.CharDev},
			{"loop", unix.S_IFBLK, 7, 200, tree.BlockDev},
		} {
			dev := unix.Mkdev(d.major, d.minor)
			if err := unix.Mknod(filepath.Join(src, d.name), d.kind|0o600, int(dev)); err != nil {
				t.Fatal(err)
			}
			want[d.name] = d.typ
			rdev[d.name] = dev
		}
	}
	r := newRepo(t)
	sn, w := runWithin(t, r, time.Minute, archiver.Options{}, src)
	if len(w.paths) != 0 {
		t.Errorf("warnings %q", w.paths)
	}
	for name, typ := range want {
		n := findNode(t, r, sn, src+"/"+name)
		if n.Type != typ || n.Rdev != rdev[name] || len(n.Content) != 0 {
			t.Errorf("%s: %s rdev %#x with %d chunks, want %s rdev %#x", name, n.Type, n.Rdev, len(n.Content), typ, rdev[name])
		}
	}
	if sn.Summary.BytesRead != 0 {
		t.Errorf("%d bytes read from special files", sn.Summary.BytesRead)
	}
}
