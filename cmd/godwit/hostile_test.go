package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/godwit-backup/godwit/internal/testutil"
)

// TestBackupAndRestoreRecreatePathsLongerThanPathMax backs up 1,000
// nested directories (about 10,000 bytes of path) and restores them.
func TestBackupAndRestoreRecreatePathsLongerThanPathMax(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	data := []byte("at the bottom\n")
	rel := testutil.MakeDeepTree(t, src, 1000, "directory", "leaf.txt", data)
	c.init()
	c.owner("backup", src).must(t, 0)
	if ls := c.owner("ls", "latest").must(t, 0).stdout; !strings.Contains(ls, rel+"\n") {
		t.Errorf("ls does not list the leaf %d bytes down", len(rel))
	}
	target := filepath.Join(c.dir, "restore")
	c.owner("restore", "latest:"+src, "--target", target).must(t, 0)
	got, st, err := testutil.ReadDeep(target, rel)
	if err != nil {
		t.Fatalf("restored leaf: %v", err)
	}
	_, want, err := testutil.ReadDeep(src, rel)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) || st.Mtim != want.Mtim || st.Mode != want.Mode {
		t.Errorf("restored leaf holds %q, mode %o mtime %v; want %q, %o, %v", got, st.Mode, st.Mtim, data, want.Mode, want.Mtim)
	}
}

// TestBackupAndRestoreOfSpecialFilesAndSymlinkLoops backs up a FIFO that
// nobody writes to, a listening socket and symlink loops: the backup must
// not block or follow them, and the restore recreates all but the socket.
func TestBackupAndRestoreOfSpecialFilesAndSymlinkLoops(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	writeFile(t, filepath.Join(src, "sub/file"), []byte("x"))
	for name, target := range map[string]string{"a": "b", "b": "a", "self": "self", "sub/up": "..", "sub/root": src} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mkfifo(filepath.Join(src, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(c.dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c.init()
	c.owner("backup", src).must(t, 0)
	c.owner("backup", src, sock).must(t, 0)
	ls := c.owner("ls", "--long", "latest").must(t, 0).stdout
	if !strings.Contains(ls, "sock") {
		t.Errorf("ls does not list the socket:\n%s", ls)
	}
	target := filepath.Join(c.dir, "restore")
	c.owner("restore", "latest:"+src, "--target", target).must(t, 0)
	requireSame(t, src, target, compareOpts())
}

// TestBackupOfAChangingFileExitsIncomplete appends to a file during the
// whole backup: the backup writes its snapshot, names the file in a
// warning and exits 3.
func TestBackupOfAChangingFileExitsIncomplete(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	log := filepath.Join(src, "var/log/mail.log")
	randomFile(t, log, 16<<20)
	writeFile(t, filepath.Join(src, "etc/hostname"), []byte("mx1\n"))
	c.init()
	stop, started := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			close(started)
			t.Error(err)
			return
		}
		defer f.Close()
		for i := 0; ; i++ {
			if _, err := f.WriteString("postfix/smtpd: connect from localhost\n"); err != nil {
				t.Error(err)
			}
			if i == 0 {
				close(started)
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	<-started
	out := c.owner("backup", "--retries", "1", src)
	close(stop)
	wg.Wait()
	out.must(t, exitIncomplete)
	if !strings.Contains(out.stderr, log+": file changed while it was read") {
		t.Errorf("no warning names the changing file:\n%s", out.stderr)
	}
	if ls := c.owner("ls", "latest").must(t, 0).stdout; !strings.Contains(ls, "mail.log") || !strings.Contains(ls, "hostname") {
		t.Errorf("snapshot lacks files:\n%s", ls)
	}
}

// TestBackupAndSparseRestoreOfFiveGiBFileWithHoles backs up a 5 GiB file
// holding three small extents, two of them beyond 4 GiB, and restores it
// with --sparse: the content is the same and the holes stay holes.
func TestBackupAndSparseRestoreOfFiveGiBFileWithHoles(t *testing.T) {
	const size = 5 << 30
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(src, "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	for off, s := range map[int64]string{4096: "start", 1<<32 + 5: "past 4 GiB", size - 4: "end\n"} {
		if _, err := f.WriteAt([]byte(s), off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	c.init()
	start := time.Now()
	c.owner("backup", src).must(t, 0)
	t.Logf("backup of a 5 GiB sparse file: %v", time.Since(start))
	target := filepath.Join(c.dir, "restore")
	start = time.Now()
	c.owner("restore", "latest:"+src, "--target", target, "--sparse").must(t, 0)
	t.Logf("sparse restore: %v", time.Since(start))
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(target, "disk.img"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != size || st.Blocks*512 > 1<<20 {
		t.Errorf("restored file: %d bytes, %d allocated; want %d bytes, mostly holes", st.Size, st.Blocks*512, int64(size))
	}
	requireSame(t, src, target, testutil.CompareOptions{CheckSparse: true, IgnoreOwner: os.Geteuid() != 0})
}

// TestBackupFromAFullDiskSucceeds backs up a source on a file system
// that is full: a backup only reads it.
func TestBackupFromAFullDiskSucceeds(t *testing.T) {
	testutil.RequireRoot(t)
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.MountTmpfs(t, src, "2m")
	writeFile(t, filepath.Join(src, "etc/hostname"), []byte("mx1\n"))
	writeFile(t, filepath.Join(src, "var/log/full"), nil)
	testutil.FillFileSystem(t, filepath.Join(src, "var/log/full"))
	c.init()
	c.owner("backup", src).must(t, 0)
	target := filepath.Join(c.dir, "restore")
	c.owner("restore", "latest:"+src, "--target", target).must(t, 0)
	requireSame(t, src, target, compareOpts())
}

// TestBackupWithCacheOnAFullDiskSucceedsWithAWarning puts --cache-dir on
// a full file system: the files cache cannot be saved, which costs the
// next backup time but loses nothing, so the backup succeeds and says so.
func TestBackupWithCacheOnAFullDiskSucceedsWithAWarning(t *testing.T) {
	testutil.RequireRoot(t)
	c := newCLI(t)
	src := filepath.Join(c.dir, "src")
	smallTree(t, src)
	c.init()
	cache := filepath.Join(c.dir, "fullcache")
	if err := os.Mkdir(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.MountTmpfs(t, cache, "256k")
	testutil.FillFileSystem(t, filepath.Join(cache, "filler"))
	out := c.owner("--cache-dir", cache, "backup", src).must(t, 0)
	if !strings.Contains(out.stderr, "no space left on device") {
		t.Errorf("backup does not warn about the full cache:\n%s", out.stderr)
	}
	target := filepath.Join(c.dir, "restore")
	c.owner("restore", "latest:"+src, "--target", target).must(t, 0)
	requireSame(t, src, target, compareOpts())
}
